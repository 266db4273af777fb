//! The server that the public protocol test suites expect.
//!
//! `cargo run --release --example conformance` listens on 127.0.0.1 port
//! `$CONFORMANCE_PORT` (default 3000; `0` picks a free port) and prints
//! `listening on 127.0.0.1:PORT`. At `/engine.io/` it serves a bare Engine.IO
//! server that echoes every message back unchanged (text as text, binary as
//! binary), with pingInterval 300 ms, pingTimeout 200 ms and maxPayload
//! 1,000,000 bytes: the settings of the test suite in
//! socketio/engine.io-protocol (`test-suite/`).

use std::time::Duration;

use siobridge::engineio::{self, Data};
use siobridge::server::{Cors, EngineSocket, Handler, Server, ServerConfig, shutdown_signal};

/// Echoes every message to its sender.
struct Echo;

impl Handler for Echo {
    fn on_message(&self, socket: &EngineSocket, data: Data) {
        // A client that does not read fast enough loses its echo rather than
        // growing the server's memory; the suites never get there.
        let _ = socket.send(data);
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::var("CONFORMANCE_PORT") {
        Ok(value) => value.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("CONFORMANCE_PORT must be a port number, got {value:?}"),
            )
        })?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);

    let engine = engineio::Config::default()
        .with_heartbeat(Duration::from_millis(300), Duration::from_millis(200))
        .with_max_payload(1_000_000);
    let config = ServerConfig::default()
        .with_engine(engine)
        .with_path("/engine.io/")
        .with_cors(Cors::AnyOrigin);
    Server::new(config, Echo)
        .serve(listener, shutdown_signal())
        .await
}
