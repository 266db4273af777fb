//! The bench contract on socketioxide, for `benches/run`.
//!
//! `PORT=0 cargo run --release` listens on 127.0.0.1 and prints
//! `listening on 127.0.0.1:PORT`; every setting is socketioxide's default
//! (`/socket.io` path, its buffer sizes). The contract, shared with
//! siobridge's `examples/bench.rs` and `benches/node/server.mjs`:
//!
//! - `echo`: acknowledged with the same argument;
//! - `broadcast`: re-emitted as `msg`, with the same argument, to every socket
//!   on `/`, the sender included;
//! - `join`: the socket joins the room its argument names, then acks;
//! - `to-room`: re-emitted as `msg` to the room its argument's `room` names.
//!
//! The load generator sends one argument per event, so `Data<Value>` carries
//! all of it.

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);

    let (svc, io) = SocketIo::new_svc();
    io.ns("/", on_connect);

    loop {
        let (stream, _) = listener.accept().await?;
        let svc = svc.clone();
        tokio::spawn(async move {
            // Errors are the client going away mid-request; nothing to report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

async fn on_connect(socket: SocketRef) {
    socket.on("echo", async |Data::<Value>(data), ack: AckSender| {
        ack.send(&data).ok();
    });
    socket.on("broadcast", async |io: SocketIo, Data::<Value>(data)| {
        io.emit("msg", &data).await.ok();
    });
    socket.on(
        "join",
        async |socket: SocketRef, Data::<Value>(room), ack: AckSender| {
            if let Some(room) = room.as_str() {
                socket.join(room.to_owned());
            }
            ack.send(&()).ok();
        },
    );
    socket.on("to-room", async |io: SocketIo, Data::<Value>(data)| {
        if let Some(room) = data["room"].as_str() {
            io.to(room.to_owned()).emit("msg", &data).await.ok();
        }
    });
}
