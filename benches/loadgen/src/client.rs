//! A raw Socket.IO v5 client over an Engine.IO v4 WebSocket: just enough of
//! the protocol to drive the bench contract, with no parsing beyond the
//! packet prefixes, so the generator spends its core on the wire.

use std::io;
use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// One client connection.
pub type Ws = WebSocketStream<TcpStream>;

/// Where the server under test listens.
#[derive(Clone, Debug)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// `ws://ADDR/socket.io/?EIO=4&transport=websocket`: a WebSocket from the
    /// start, no polling handshake (Engine.IO v4, "transports").
    pub url: String,
}

impl Target {
    /// The target at `addr`, Socket.IO mounted at `path` (e.g. `/socket.io/`).
    pub fn new(addr: SocketAddr, path: &str) -> Target {
        let url = format!("ws://{addr}{path}?EIO=4&transport=websocket");
        Target { addr, url }
    }
}

/// Engine.IO PING (type 2) is answered with PONG (type 3).
pub const PING: &str = "2";
/// Engine.IO PONG.
pub const PONG: &str = "3";

/// Opens a WebSocket to the server, with Nagle off so that frames leave at
/// once, and a zero linger so that closing resets the connection instead of
/// leaving it in TIME_WAIT: the connect scenario opens tens of thousands.
pub async fn open(target: &Target) -> io::Result<Ws> {
    let tcp = TcpStream::connect(target.addr).await?;
    tcp.set_nodelay(true)?;
    tcp.set_zero_linger()?;
    // A small read buffer: tungstenite's 128 KiB default would cost the
    // idle scenario 1.3 GB on the generator's side.
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (ws, _) = tokio_tungstenite::client_async_with_config(&target.url, tcp, Some(config))
        .await
        .map_err(io::Error::other)?;
    Ok(ws)
}

/// Opens a WebSocket and connects to the main namespace: Engine.IO OPEN
/// (`0{...}`) in, Socket.IO CONNECT (`40`) out, CONNECT reply (`40{"sid":..}`)
/// in (Socket.IO v5, "Connection to a namespace").
pub async fn connect(target: &Target) -> io::Result<Ws> {
    let mut ws = open(target).await?;
    expect(&mut ws, "0").await?;
    ws.send(Message::text("40"))
        .await
        .map_err(io::Error::other)?;
    expect(&mut ws, "40").await?;
    Ok(ws)
}

/// Reads the next text frame, failing unless it starts with `prefix`. A
/// PING on the way is answered (socketioxide sends one right after OPEN).
async fn expect(ws: &mut Ws, prefix: &str) -> io::Result<()> {
    let mut text = next_text(ws).await?;
    while text.as_str() == PING {
        ws.send(Message::text(PONG))
            .await
            .map_err(io::Error::other)?;
        text = next_text(ws).await?;
    }
    if text.starts_with(prefix) {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "expected a packet starting with {prefix:?}, got {:?}",
            text.as_str()
        )))
    }
}

/// The next text frame; WebSocket pings are answered by tungstenite itself.
pub async fn next_text(ws: &mut Ws) -> io::Result<Utf8Bytes> {
    loop {
        if let Some(text) = text_of(frame(ws.next().await)?)? {
            return Ok(text);
        }
    }
}

/// The text of a frame; `None` for control frames, an error for a close or
/// a binary frame (the bench contract has none).
pub fn text_of(message: Message) -> io::Result<Option<Utf8Bytes>> {
    match message {
        Message::Text(text) => Ok(Some(text)),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
        Message::Close(_) => Err(io::ErrorKind::ConnectionAborted.into()),
        Message::Binary(_) => Err(io::Error::other("unexpected binary frame")),
    }
}

/// A stream item as a result: the end of the stream is an error here.
pub fn frame(
    item: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> io::Result<Message> {
    match item {
        Some(Ok(message)) => Ok(message),
        Some(Err(e)) => Err(io::Error::other(e)),
        None => Err(io::ErrorKind::UnexpectedEof.into()),
    }
}
