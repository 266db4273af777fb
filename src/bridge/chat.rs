//! Profile `chat`: the Flask-SocketIO tutorial's chat rooms (spec §4).
//!
//! | event in | what happens | spec |
//! |---|---|---|
//! | `message` | echoed as `message` to the sender only | D-e1 (`send(message)`) |
//! | `my event` | `my response` to every socket of the namespace, sender included | D-e2 (`broadcast=True`) |
//! | `join {username, room}` | joins; `message "<username> has entered the room."` to the room, joiner included | D-e3 |
//! | `leave {username, room}` | leaves; `message "<username> has left the room."` to the remaining members | D-e4 |
//! | `send_message {room, content}` | appends to the room's history; `newMessage/<room> {all_messages}` to the members | D-e5 |
//!
//! Each mount has its own rooms and histories (§4.3: namespaces are
//! isolated). A disconnect leaves the rooms silently.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value, json};

use super::{ack, first_object, non_empty_str};
use crate::socketio::{Args, Socket, SocketIo};

/// Settings of the chat profile.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChatConfig {
    /// The most messages kept in one room's history; older ones are
    /// forgotten first. Default 1,000. The tutorial keeps everything; a
    /// bound stops one room from growing memory without end.
    pub max_history: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig { max_history: 1_000 }
    }
}

/// The Socket.IO room of chat room `room`. The prefix keeps chat rooms apart
/// from the rooms named by socket ids.
fn chat_room(room: &str) -> String {
    format!("chat:{room}")
}

struct Chat {
    io: SocketIo,
    namespace: String,
    config: ChatConfig,
    /// room → its messages, oldest first.
    histories: Mutex<HashMap<String, VecDeque<Value>>>,
}

/// Serves the profile on `namespace` of `io`.
pub fn mount(io: &SocketIo, namespace: &str, config: ChatConfig) {
    let chat = Arc::new(Chat {
        io: io.clone(),
        namespace: namespace.to_owned(),
        config,
        histories: Mutex::new(HashMap::new()),
    });
    let ns = io.namespace(namespace);
    let on = |event: &str, f: fn(&Chat, &Socket, &Args)| {
        let chat = chat.clone();
        ns.on(event, move |socket, args, reply| {
            f(&chat, socket, &args);
            ack(reply);
        });
    };
    on("message", Chat::message);
    on("my event", Chat::my_event);
    on("join", Chat::join);
    on("leave", Chat::leave);
    on("send_message", Chat::send_message);
    // A member that may recover keeps its rooms: their history stays.
    let forget = chat.clone();
    ns.on_disconnect(move |socket, reason| {
        if !socket.may_recover(reason) {
            forget.forget_empty_rooms();
        }
    });
    ns.on_session_end(move |_| chat.forget_empty_rooms());
}

/// The first argument, or `null` when the event had none (Flask hands the
/// handler `None`).
fn first(args: &Args) -> Value {
    args.first().cloned().unwrap_or(Value::Null)
}

/// `{username, room}` with a non-empty `room`; a missing username is "".
fn room_and_user(args: &Args) -> Option<(&str, &str)> {
    let payload: &Map<String, Value> = first_object(args)?;
    let room = non_empty_str(payload.get("room"))?;
    let user = payload
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or("");
    Some((room, user))
}

impl Chat {
    fn histories(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Value>>> {
        self.histories.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// D-e1.
    fn message(&self, socket: &Socket, args: &Args) {
        socket.emit("message", first(args));
    }

    /// D-e2.
    fn my_event(&self, _: &Socket, args: &Args) {
        self.io.of(&self.namespace).emit("my response", first(args));
    }

    /// D-e3: announced even when already a member (the tutorial always
    /// sends).
    fn join(&self, socket: &Socket, args: &Args) {
        let Some((room, user)) = room_and_user(args) else {
            return;
        };
        socket.join(&chat_room(room));
        self.io.of(&self.namespace).to(&chat_room(room)).emit(
            "message",
            Value::from(format!("{user} has entered the room.")),
        );
    }

    /// D-e4: announced to the remaining members even when the sender was not
    /// one.
    fn leave(&self, socket: &Socket, args: &Args) {
        let Some((room, user)) = room_and_user(args) else {
            return;
        };
        socket.leave(&chat_room(room));
        self.io
            .of(&self.namespace)
            .to(&chat_room(room))
            .emit("message", Value::from(format!("{user} has left the room.")));
        self.forget_empty_rooms();
    }

    /// D-e5: the whole history to the members (the sender only if it is
    /// one). A room with no members keeps no history [CHOICE: memory stays
    /// bounded by the rooms in use].
    fn send_message(&self, _: &Socket, args: &Args) {
        let Some(payload) = first_object(args) else {
            return;
        };
        let Some(room) = non_empty_str(payload.get("room")) else {
            return;
        };
        let content = payload.get("content").cloned().unwrap_or(Value::Null);
        let members = self.io.of(&self.namespace).to(&chat_room(room));
        let mut histories = self.histories();
        if members.socket_ids().is_empty() {
            histories.remove(room);
            return;
        }
        let history = histories.entry(room.to_owned()).or_default();
        history.push_back(content);
        while history.len() > self.config.max_history {
            history.pop_front();
        }
        let all: Vec<&Value> = history.iter().collect();
        members.emit(&format!("newMessage/{room}"), json!({"all_messages": all}));
    }

    /// Drops the histories of rooms nobody is in any more.
    fn forget_empty_rooms(&self) {
        let mut histories = self.histories();
        histories.retain(|room, _| {
            !self
                .io
                .of(&self.namespace)
                .to(&chat_room(room))
                .socket_ids()
                .is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    //! The spec's §4.4 scenarios on the in-memory test kit.

    use super::*;
    use crate::socketio::Config;
    use crate::socketio::testing::{ManualClock, TestClient};

    fn server() -> SocketIo {
        let io = SocketIo::new(Config::default(), ManualClock::new().clock());
        mount(&io, "/", ChatConfig::default());
        mount(&io, "/chat", ChatConfig { max_history: 2 });
        io
    }

    fn on(io: &SocketIo, ns: &str) -> TestClient {
        let client = TestClient::open(io);
        client.connect(ns, None).expect("connects");
        client
    }

    fn ev(name: &str, payload: Value) -> (String, Value) {
        (name.to_owned(), payload)
    }

    #[test]
    fn echo_and_broadcast() {
        let io = server();
        let (a, b, z) = (on(&io, "/"), on(&io, "/"), on(&io, "/chat"));
        a.emit("/", "message", json!(["hi"]));
        assert_eq!(a.messages("/"), [ev("message", json!("hi"))]);
        assert!(b.messages("/").is_empty());
        a.emit("/", "my event", json!([{"n": 1}]));
        assert_eq!(a.messages("/"), [ev("my response", json!({"n": 1}))]);
        assert_eq!(b.messages("/"), [ev("my response", json!({"n": 1}))]);
        assert!(z.messages("/chat").is_empty());
    }

    #[test]
    fn rooms_join_leave_and_history() {
        let io = server();
        let (a, b, c) = (on(&io, "/"), on(&io, "/"), on(&io, "/"));
        a.emit("/", "join", json!([{"username": "ann", "room": "r"}]));
        assert_eq!(
            a.messages("/"),
            [ev("message", json!("ann has entered the room."))]
        );
        b.emit("/", "join", json!([{"username": "bob", "room": "r"}]));
        let entered = [ev("message", json!("bob has entered the room."))];
        assert_eq!(a.messages("/"), entered);
        assert_eq!(b.messages("/"), entered);
        b.emit("/", "leave", json!([{"username": "bob", "room": "r"}]));
        assert_eq!(
            a.messages("/"),
            [ev("message", json!("bob has left the room."))]
        );
        assert!(b.messages("/").is_empty());

        a.emit("/", "send_message", json!([{"room": "r", "content": "m1"}]));
        a.emit("/", "send_message", json!([{"room": "r", "content": "m2"}]));
        assert_eq!(
            a.messages("/"),
            [
                ev("newMessage/r", json!({"all_messages": ["m1"]})),
                ev("newMessage/r", json!({"all_messages": ["m1", "m2"]}))
            ]
        );
        assert!(c.messages("/").is_empty());
        c.emit("/", "join", json!([{"username": "x"}]));
        c.emit("/", "send_message", json!([{"content": "x"}]));
        assert!(c.messages("/").is_empty() && a.messages("/").is_empty());
    }

    #[test]
    fn namespaces_are_isolated_and_history_is_bounded() {
        let io = server();
        let (a, z) = (on(&io, "/"), on(&io, "/chat"));
        a.emit("/", "join", json!([{"username": "ann", "room": "r"}]));
        z.emit("/chat", "join", json!([{"username": "zed", "room": "r"}]));
        a.messages("/");
        z.messages("/chat");
        for m in ["z1", "z2", "z3"] {
            z.emit(
                "/chat",
                "send_message",
                json!([{"room": "r", "content": m}]),
            );
        }
        let last = z.messages("/chat").pop().unwrap();
        assert_eq!(
            last,
            ev("newMessage/r", json!({"all_messages": ["z2", "z3"]}))
        );
        assert!(a.messages("/").is_empty());
    }

    #[test]
    fn a_disconnect_is_silent_and_an_empty_room_forgets() {
        let io = server();
        let (a, b) = (on(&io, "/"), on(&io, "/"));
        a.emit("/", "join", json!([{"username": "ann", "room": "r"}]));
        a.emit("/", "send_message", json!([{"room": "r", "content": "m1"}]));
        b.emit("/", "join", json!([{"username": "bob", "room": "r"}]));
        a.messages("/");
        b.close();
        assert!(a.messages("/").is_empty());
        a.close();
        let c = on(&io, "/");
        c.emit("/", "join", json!([{"username": "cy", "room": "r"}]));
        c.emit(
            "/",
            "send_message",
            json!([{"room": "r", "content": "new"}]),
        );
        assert_eq!(
            c.messages("/").pop().unwrap(),
            ev("newMessage/r", json!({"all_messages": ["new"]}))
        );
    }
}
