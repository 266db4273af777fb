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
//! - rooms: `42<id>["join","ROOM"]` subscribes the connection to that
//!   room's channel and is answered `43<id>[]`; `42["to-room",ARGS...]`
//!   (whose `"room":"ROOM"` comes first in its object) is re-sent as
//!   `42["msg",ARGS...]` on that room's channel;
//! - idle: what any Socket.IO server over tokio-tungstenite needs at least
//!   per idle connection.
//!
//! Frames already read are answered together and flushed once, as siobridge
//! writes what one read produced. `PORT=0 bare-ws` prints
//! `listening on 127.0.0.1:PORT`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    let rooms = Rooms::default();
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, all.clone(), rooms.clone()));
    }
}

/// Each room's channel, made by its first `join`.
type Rooms = Arc<Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>>;

/// The answer to one frame: a reply to this connection, a frame for every
/// connection or for a room's, a room to join, or nothing.
enum Answer {
    Reply(String),
    Everyone(Utf8Bytes),
    Room(String, Utf8Bytes),
    Join(String, String),
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
    if let Some(args) = text.strip_prefix(r#"42["to-room""#) {
        let room = args
            .strip_prefix(r#",{"room":""#)
            .and_then(|rest| rest.split('"').next());
        return match room {
            Some(room) => Answer::Room(room.to_owned(), format!(r#"42["msg"{args}"#).into()),
            None => Answer::Nothing,
        };
    }
    let Some(rest) = text.strip_prefix("42") else {
        return Answer::Nothing;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Answer::Nothing;
    }
    let (id, call) = rest.split_at(digits);
    if let Some(args) = call.strip_prefix(r#"["echo","#) {
        return Answer::Reply(format!("43{id}[{args}"));
    }
    match call
        .strip_prefix(r#"["join",""#)
        .and_then(|rest| rest.strip_suffix(r#""]"#))
    {
        Some(room) => Answer::Join(room.to_owned(), format!("43{id}[]")),
        None => Answer::Nothing,
    }
}

/// One connection, until it closes.
async fn serve(stream: TcpStream, all: broadcast::Sender<Utf8Bytes>, rooms: Rooms) {
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    if ws.send(Message::text(OPEN)).await.is_err() {
        return;
    }
    let mut from_others = all.subscribe();
    let mut from_room: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        let room_frame = async {
            match from_room.as_mut() {
                Some(room) => room.recv().await,
                None => std::future::pending().await,
            }
        };
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
                            Answer::Room(room, frame) => {
                                if let Some(channel) = rooms.lock().unwrap().get(&room) {
                                    let _ = channel.send(frame);
                                }
                            }
                            Answer::Join(room, reply) => {
                                let channel = rooms
                                    .lock()
                                    .unwrap()
                                    .entry(room)
                                    .or_insert_with(|| broadcast::channel(BACKLOG).0)
                                    .subscribe();
                                from_room = Some(channel);
                                if ws.feed(Message::text(reply)).await.is_err() {
                                    return;
                                }
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
            frame = room_frame => {
                let room = from_room.as_mut().expect("a room's frame");
                if !write_all(&mut ws, frame, room).await {
                    return;
                }
            }
            frame = from_others.recv() => {
                if !write_all(&mut ws, frame, &mut from_others).await {
                    return;
                }
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}

/// Feeds `frame` and every frame already waiting on `channel`; false when
/// the connection or the channel is gone.
async fn write_all(
    ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
    mut frame: Result<Utf8Bytes, broadcast::error::RecvError>,
    channel: &mut broadcast::Receiver<Utf8Bytes>,
) -> bool {
    loop {
        match frame {
            Ok(text) => {
                if ws.feed(Message::Text(text)).await.is_err() {
                    return false;
                }
            }
            // A connection this far behind has lost messages; the scenario
            // counts them as lost.
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return false,
        }
        match channel.try_recv() {
            Ok(text) => frame = Ok(text),
            Err(_) => return true,
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
        assert!(matches!(
            answer(r#"423["join","r7"]"#),
            Answer::Join(room, reply) if room == "r7" && reply == "433[]"
        ));
        assert!(matches!(
            answer(r#"42["to-room",{"room":"r7","seq":1}]"#),
            Answer::Room(room, text) if room == "r7" && text.as_str() == r#"42["msg",{"room":"r7","seq":1}]"#
        ));
    }
}
