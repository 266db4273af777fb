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

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value, json};

use super::store::{self, BridgeStore, InMemoryStore};
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
    /// Where the histories are (room → its messages, oldest first).
    store: Arc<dyn BridgeStore>,
    /// The rooms with a history in the store, as far as this node knows.
    rooms: Mutex<HashSet<String>>,
}

/// Serves the profile on `namespace` of `io`, its histories in memory.
pub fn mount(io: &SocketIo, namespace: &str, config: ChatConfig) {
    mount_with_store(io, namespace, config, Arc::new(InMemoryStore::new()));
}

/// Serves the profile on `namespace` of `io`, its histories in `store`
/// (shared by every node of a cluster when the store is).
pub fn mount_with_store(
    io: &SocketIo,
    namespace: &str,
    config: ChatConfig,
    store: Arc<dyn BridgeStore>,
) {
    let chat = Arc::new(Chat {
        io: io.clone(),
        namespace: namespace.to_owned(),
        config,
        store,
        rooms: Mutex::new(HashSet::new()),
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
    if chat.store.is_local() {
        on("send_message", Chat::send_message);
    } else {
        let chat = chat.clone();
        ns.on_async("send_message", move |_socket, args, reply| {
            let chat = chat.clone();
            async move {
                chat.send_message_shared(&args).await;
                ack(reply);
            }
        });
    }
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
    fn rooms(&self) -> MutexGuard<'_, HashSet<String>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store's key of `room`'s history: namespace and room.
    fn key(&self, room: &str) -> String {
        format!("{}#{room}", self.namespace)
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
        let key = self.key(room);
        if members.socket_ids().is_empty() {
            self.rooms().remove(room);
            let _ = store::now(self.store.history_forget(&key));
            return;
        }
        self.rooms().insert(room.to_owned());
        let Some(Ok(all)) = store::now(self.store.history_push(
            &key,
            content,
            self.config.max_history,
        )) else {
            return;
        };
        members.emit(&format!("newMessage/{room}"), json!({"all_messages": all}));
    }

    /// D-e5 with a store shared by the nodes of a cluster: the room's members
    /// may all be on other nodes, so the history is kept whoever sends
    /// [CHOICE: bounded by `max_history` and the store's expiry instead of
    /// being forgotten with the last local member]. When the store fails
    /// (Redis down), the event is dropped and the store has logged why.
    async fn send_message_shared(&self, args: &Args) {
        let Some(payload) = first_object(args) else {
            return;
        };
        let Some(room) = non_empty_str(payload.get("room")) else {
            return;
        };
        let content = payload.get("content").cloned().unwrap_or(Value::Null);
        let key = self.key(room);
        let Ok(all) = self
            .store
            .history_push(&key, content, self.config.max_history)
            .await
        else {
            return;
        };
        self.io
            .of(&self.namespace)
            .to(&chat_room(room))
            .emit(&format!("newMessage/{room}"), json!({"all_messages": all}));
    }

    /// Drops the histories of rooms nobody is in any more.
    fn forget_empty_rooms(&self) {
        if self.store.shared() {
            return;
        }
        let mut rooms = self.rooms();
        rooms.retain(|room| {
            let empty = self
                .io
                .of(&self.namespace)
                .to(&chat_room(room))
                .socket_ids()
                .is_empty();
            if empty {
                let _ = store::now(self.store.history_forget(&self.key(room)));
            }
            !empty
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
