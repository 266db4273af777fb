//! A floor for the idle scenario: a bare tokio-tungstenite WebSocket server
//! with the same 4 KiB read buffer as siobridge, speaking only what the load
//! generator's connect needs (Engine.IO OPEN, the Socket.IO CONNECT reply)
//! and answering heartbeats. No sessions, no namespaces, no queues: what
//! any Socket.IO server over tokio-tungstenite needs at least per idle
//! connection.
//!
//! `PORT=0 bare-ws` prints `listening on 127.0.0.1:PORT`.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const OPEN: &str = r#"0{"sid":"bare","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream));
    }
}

/// One connection: OPEN, then `40` answered with a CONNECT reply and `2`
/// with `3`; everything else is read and dropped.
async fn serve(stream: TcpStream) {
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    if ws.send(Message::text(OPEN)).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = ws.next().await {
        let reply = match message.to_text() {
            Ok("40") => r#"40{"sid":"bare"}"#,
            Ok("2") => "3",
            _ => continue,
        };
        if ws.send(Message::text(reply)).await.is_err() {
            return;
        }
    }
}
