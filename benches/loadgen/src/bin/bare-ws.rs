//! The ceiling for the WebSocket scenarios: a bare tokio-tungstenite server
//! with the same 4 KiB read buffer as siobridge, doing each scenario's work
//! with no Socket.IO in between: no sessions, namespaces, rooms, parsing or
//! queues, only string surgery on the frames the load generator sends.
//!
//! - connect: Engine.IO OPEN, then `40` answered with a CONNECT reply;
//! - heartbeats: `2` answered with `3`;
//! - echo: `42<id>["echo",ARGS...]` answered with `43<id>[ARGS...]`;
//! - fanout: `42["broadcast",ARGS...]` re-sent as `42["msg",ARGS...]` to
//!   every connection (one shared `Utf8Bytes`, through a tokio broadcast
//!   channel), the sender included;
//! - idle: what any Socket.IO server over tokio-tungstenite needs at least
//!   per idle connection.
//!
//! Frames already read are answered together and flushed once, as siobridge
//! writes what one read produced. `PORT=0 bare-ws` prints
//! `listening on 127.0.0.1:PORT`.

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

const OPEN: &str = r#"0{"sid":"bare","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

/// Broadcasts not yet written by the slowest connection; the fanout
/// scenario keeps 64 unfinished.
const BACKLOG: usize = 4096;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let (all, _) = broadcast::channel::<Utf8Bytes>(BACKLOG);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, all.clone()));
    }
}

/// The answer to one frame: a reply to this connection, a frame for every
/// connection, or nothing.
enum Answer {
    Reply(String),
    Everyone(Utf8Bytes),
    Nothing,
}

fn answer(text: &str) -> Answer {
    match text {
        "40" => return Answer::Reply(r#"40{"sid":"bare"}"#.to_owned()),
        "2" => return Answer::Reply("3".to_owned()),
        _ => {}
    }
    if let Some(args) = text.strip_prefix(r#"42["broadcast""#) {
        return Answer::Everyone(format!(r#"42["msg"{args}"#).into());
    }
    let Some(rest) = text.strip_prefix("42") else {
        return Answer::Nothing;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    match rest[digits..].strip_prefix(r#"["echo","#) {
        Some(args) if digits > 0 => Answer::Reply(format!("43{}[{args}", &rest[..digits])),
        _ => Answer::Nothing,
    }
}

/// One connection, until it closes.
async fn serve(stream: TcpStream, all: broadcast::Sender<Utf8Bytes>) {
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    if ws.send(Message::text(OPEN)).await.is_err() {
        return;
    }
    let mut from_others = all.subscribe();
    loop {
        tokio::select! {
            message = ws.next() => {
                let mut message = message;
                loop {
                    let Some(Ok(frame)) = message else { return };
                    if let Ok(text) = frame.to_text() {
                        match answer(text) {
                            Answer::Reply(reply) => {
                                if ws.feed(Message::text(reply)).await.is_err() {
                                    return;
                                }
                            }
                            Answer::Everyone(frame) => {
                                let _ = all.send(frame);
                            }
                            Answer::Nothing => {}
                        }
                    }
                    match ws.next().now_or_never() {
                        Some(next) => message = next,
                        None => break,
                    }
                }
            }
            frame = from_others.recv() => {
                let mut frame = frame;
                loop {
                    match frame {
                        Ok(text) => {
                            if ws.feed(Message::Text(text)).await.is_err() {
                                return;
                            }
                        }
                        // A connection this far behind has lost messages;
                        // the scenario counts them as lost.
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                    match from_others.try_recv() {
                        Ok(text) => frame = Ok(text),
                        Err(_) => break,
                    }
                }
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Option<String> {
        match answer(text) {
            Answer::Reply(reply) => Some(reply),
            _ => None,
        }
    }

    #[test]
    fn answers() {
        assert_eq!(reply("2").as_deref(), Some("3"));
        assert_eq!(
            reply(r#"4217["echo",{"seq":17}]"#).as_deref(),
            Some(r#"4317[{"seq":17}]"#)
        );
        assert_eq!(reply(r#"42["echo",1]"#), None);
        assert!(matches!(
            answer(r#"42["broadcast",{"a":1}]"#),
            Answer::Everyone(text) if text.as_str() == r#"42["msg",{"a":1}]"#
        ));
        assert!(matches!(answer("41"), Answer::Nothing));
    }
}
