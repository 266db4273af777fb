//! The server the load generator in `benches/loadgen/` measures.
//!
//! `PORT=0 cargo run --release --example bench` listens on 127.0.0.1
//! (printing `listening on 127.0.0.1:PORT`) and serves Socket.IO at
//! `/socket.io/` with every setting at the reference default. The contract,
//! shared with `benches/node/server.mjs` (Node socket.io) and
//! `benches/socketioxide-server/` (socketioxide), is two events on `/`:
//!
//! - `echo`: acknowledged with the same arguments;
//! - `broadcast`: re-emitted as `msg`, with the same arguments, to every
//!   socket on `/`, the sender included;
//! - `join`: the socket joins the room its argument names, then acks;
//! - `to-room`: its argument's `room` names a room; re-emitted as `msg`,
//!   with the same arguments, to that room's sockets.
//!
//! For experiments only (`benches/run` never sets it):
//! `BENCH_WS_READ_BUFFER=BYTES` overrides
//! [`ServerConfig::ws_read_buffer_size`].
//!
//! `BENCH_REDIS=redis://HOST:PORT` makes the server one node of a cluster
//! on that Redis ([`RedisCluster`], as `siobridge --redis`): `benches/run`'s
//! `cluster-fanout` scenario starts two such nodes.

use siobridge::server::redis::{RedisCluster, RedisConfig};
use siobridge::server::{Server, ServerConfig, SocketIoHandler, shutdown_signal, socket_io};
use siobridge::socketio::{self, SocketIo};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);

    let io = match std::env::var("BENCH_REDIS") {
        Ok(url) if !url.is_empty() => RedisCluster::start(RedisConfig::new(url))
            .map_err(std::io::Error::other)?
            .socket_io(socketio::Config::default()),
        _ => socket_io(socketio::Config::default()),
    };
    register(&io);
    let mut config = ServerConfig::default().with_path("/socket.io/");
    if let Some(size) = std::env::var("BENCH_WS_READ_BUFFER")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        config.ws_read_buffer_size = size;
    }
    Server::new(config, SocketIoHandler::new(io))
        .serve(listener, shutdown_signal())
        .await
}

fn register(io: &SocketIo) {
    let main = io.namespace("/");
    main.on("echo", |_socket, args, ack| {
        if let Some(ack) = ack {
            ack.send(args);
        }
    });
    let all = io.of("/");
    main.on("broadcast", move |_socket, args, _ack| {
        all.emit("msg", args);
    });
    main.on("join", |socket, args, ack| {
        if let Some(room) = args.first().and_then(|room| room.as_str()) {
            socket.join(room);
        }
        if let Some(ack) = ack {
            ack.send(socketio::Args::new());
        }
    });
    let io = io.clone();
    main.on("to-room", move |_socket, args, _ack| {
        let room = args
            .first()
            .and_then(|arg| arg["room"].as_str())
            .map(str::to_owned);
        if let Some(room) = room {
            io.of("/").to(room.as_str()).emit("msg", args);
        }
    });
}
