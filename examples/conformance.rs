//! The server that the public protocol test suites expect.
//!
//! `cargo run --release --example conformance` listens on 127.0.0.1 port
//! `$CONFORMANCE_PORT` (default 3000; `0` picks a free port) and prints
//! `listening on 127.0.0.1:PORT`. At `/engine.io/` it serves a bare Engine.IO
//! server that echoes every message back unchanged (text as text, binary as
//! binary), with pingInterval 300 ms, pingTimeout 200 ms and maxPayload
//! 1,000,000 bytes: the settings of the test suite in
//! socketio/engine.io-protocol (`test-suite/`).
//!
//! At `/socket.io/` (same settings, connectTimeout 1000 ms) it serves what the
//! test suite of socketio/socket.io-protocol expects: namespaces `/` and
//! `/custom`; straight after each connect the server emits `auth` with the
//! CONNECT payload (`{}` without one); on `/`, `message` is answered with
//! `message-back` carrying the same arguments, and `message-with-ack` is
//! acknowledged with the same arguments, binary included. A namespace
//! `/refused` refuses every connection with `Error("refused")` and `data`
//! `{"code": 403}` (for `siobridge conform --msgpack`).
//!
//! Caps and timeouts can be set from the environment (`common/limits.rs`);
//! `SIOBRIDGE_ALLOW_EIO3=1` serves Engine.IO v3 clients too;
//! `SIOBRIDGE_PARSER=msgpack` serves the msgpack parser.

use std::time::Duration;

use siobridge::engineio::{self, Data};
use siobridge::server::{
    Cors, EngineSocket, Handler, Server, ServerConfig, SocketIoHandler, shutdown_signal, socket_io,
};
use siobridge::socketio::{self, SocketIo};

#[path = "common/limits.rs"]
mod limits;

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
    // Before the announcement: a SIGTERM right after it is a clean stop.
    let shutdown = shutdown_signal();
    println!("listening on {}", listener.local_addr()?);

    let engine = engineio::Config::default()
        .with_heartbeat(Duration::from_millis(300), Duration::from_millis(200))
        .with_max_payload(1_000_000)
        .with_allow_eio3(limits::allow_eio3()?);
    let config = limits::server_limits(
        ServerConfig::default()
            .with_engine(engine)
            .with_cors(Cors::AnyOrigin),
    )?;
    let engine_echo = Server::new(config.clone().with_path("/engine.io/"), Echo);
    let io = socket_io(limits::socketio_limits(
        socketio::Config::default().with_connect_timeout(Duration::from_millis(1000)),
    )?);
    register(&io);
    Server::new(config.with_path("/socket.io/"), SocketIoHandler::new(io))
        .and(engine_echo)
        .serve(listener, shutdown)
        .await
}

/// The Socket.IO behaviour the socket.io-protocol test suite expects.
fn register(io: &SocketIo) {
    for name in ["/", "/custom"] {
        io.namespace(name)
            .on_connect(|socket| socket.emit("auth", socket.handshake().auth.clone()));
    }
    io.namespace("/refused").use_middleware(|_handshake| {
        Err(socketio::ConnectError::new("refused").with_data(serde_json::json!({ "code": 403 })))
    });
    let main = io.namespace("/");
    main.on("message", |socket, args, _ack| {
        socket.emit("message-back", args)
    });
    main.on("message-with-ack", |_socket, args, ack| {
        if let Some(ack) = ack {
            ack.send(args);
        }
    });
}
