//! The bridge profiles with connection state recovery on (spec terms:
//! bridge-profiles.md §1 digital-auto, §2 hubtel, §4 chat): a socket that
//! loses its connection and recovers keeps its profile state and gets
//! what it missed; one whose session ends is forgotten then.

use std::cell::RefCell;
use std::time::Duration;

use serde_json::{Value, json};

use crate::socketio::testing::{ManualClock, TestClient};
use crate::socketio::{Config, RecoveryConfig, SocketIo};

const WINDOW: Duration = Duration::from_secs(10);

fn server(mount: fn(&SocketIo, &str)) -> (SocketIo, ManualClock) {
    let clock = ManualClock::new();
    let io = SocketIo::new(
        Config::default()
            .with_rng_seed([5; 32])
            .with_state_recovery(RecoveryConfig::with_window(WINDOW)),
        clock.clock(),
    );
    mount(&io, "/");
    (io, clock)
}

/// A connected socket: its client, id and private session id.
struct Member {
    client: TestClient,
    id: String,
    pid: String,
    /// The last offset received, as socket.io-client keeps it.
    offset: RefCell<Option<String>>,
}

fn join(io: &SocketIo) -> Member {
    let client = TestClient::open(io);
    let answer = client.connect_answer("/", None).expect("connects");
    Member {
        id: answer["sid"].as_str().unwrap().to_owned(),
        pid: answer["pid"].as_str().unwrap().to_owned(),
        client,
        offset: RefCell::new(None),
    }
}

impl Member {
    fn emit(&self, event: &str, payload: Value) {
        self.client.emit("/", event, json!([payload]));
    }

    /// The events received, each with its payload; the offset after it is
    /// kept.
    fn received(&self) -> Vec<(String, Value)> {
        let events = self.client.events("/");
        if let Some(offset) = events.last().and_then(|(_, args)| args.last()) {
            *self.offset.borrow_mut() = offset.as_str().map(str::to_owned);
        }
        events
            .into_iter()
            .map(|(name, args)| (name, args.into_iter().next().unwrap_or(Value::Null)))
            .collect()
    }

    /// Loses the connection, then comes back with its session.
    fn blip(self, io: &SocketIo) -> Member {
        self.client.close();
        self.back(io)
    }

    /// Comes back with its session, as socket.io-client does: `pid`, and
    /// the last offset received when it received an event.
    fn back(&self, io: &SocketIo) -> Member {
        let client = TestClient::open(io);
        let auth = match &*self.offset.borrow() {
            Some(offset) => json!({ "pid": self.pid, "offset": offset }),
            None => json!({ "pid": self.pid }),
        };
        let answer = client.connect_answer("/", Some(auth)).expect("connects");
        assert_eq!(answer["sid"], json!(self.id), "recovered");
        Member {
            id: self.id.clone(),
            pid: answer["pid"].as_str().unwrap().to_owned(),
            client,
            offset: RefCell::new(self.offset.borrow().clone()),
        }
    }
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn digital_auto_a_client_that_blips_misses_no_provider_broadcast() {
    let (io, _clock) = server(crate::bridge::digital_auto::mount);
    let provider = join(&io);
    provider.emit("register_provider", json!({ "provider_id": "p1" }));
    let client = join(&io);
    client.emit("register_client", json!({ "master_provider_id": "p1" }));
    client.client.close();
    provider.emit(
        "send_to_all_clients",
        json!({ "provider_id": "p1", "n": 1 }),
    );
    let client = client.back(&io);
    provider.emit(
        "send_to_all_clients",
        json!({ "provider_id": "p1", "n": 2 }),
    );
    let got = client.received();
    assert_eq!(
        names(&got),
        ["message_from_provider", "message_from_provider"]
    );
    assert_eq!(
        (got[0].1["n"].clone(), got[1].1["n"].clone()),
        (json!(1), json!(2))
    );
}

#[test]
fn digital_auto_a_provider_that_blips_keeps_its_id_and_gets_the_requests_sent_meanwhile() {
    let (io, _clock) = server(crate::bridge::digital_auto::mount);
    let provider = join(&io);
    provider.emit("register_provider", json!({ "provider_id": "p1" }));
    let client = join(&io);
    client.emit("register_client", json!({ "master_provider_id": "p1" }));
    provider.client.close();
    client.emit(
        "request_provider",
        json!({ "to_provider_id": "p1", "cmd": "go" }),
    );
    let provider = provider.back(&io);
    let got = provider.received();
    assert_eq!(names(&got), ["new_request"]);
    assert_eq!(got[0].1["request_from"], json!(client.id));
    provider.emit(
        "provider_reply",
        json!({ "request_from": client.id, "ok": true }),
    );
    // Still the holder of p1: its broadcasts reach p1's subscribers.
    provider.emit("send_to_all_clients", json!({ "n": 3 }));
    assert_eq!(
        names(&client.received()),
        ["provider_reply", "message_from_provider"]
    );
}

#[test]
fn hubtel_a_member_that_blips_never_left_and_one_whose_session_ends_leaves_then() {
    let (io, clock) = server(crate::bridge::hubtel::mount);
    let a = join(&io);
    let b = join(&io);
    let envelope = |id: &str| json!({ "data": { "roomChannel": "ch1" }, "clientId": id });
    a.emit("join-channel", envelope(&a.id));
    b.emit("join-channel", envelope(&b.id));
    let _ = (a.received(), b.received());
    let a = a.blip(&io);
    assert!(b.received().is_empty(), "no leave notice for a blip");
    // a is still a member: it hears b leave, and still counts itself.
    b.emit("leave-channel", envelope(&b.id));
    let got = a.received();
    assert_eq!(names(&got), ["leave-channel", "online-users"]);
    assert_eq!(got[1].1["count"], json!(1));
    // a loses its connection for good: it leaves when its window ends.
    b.emit("join-channel", envelope(&b.id));
    let _ = b.received();
    a.client.close();
    clock.advance(&io, WINDOW);
    assert!(b.received().is_empty());
    clock.advance(&io, Duration::from_millis(1));
    let left = b.received();
    assert_eq!(names(&left), ["leave-channel", "online-users"]);
    assert_eq!(left[1].1["count"], json!(1));
}

#[test]
fn chat_a_member_that_blips_keeps_its_room_and_gets_the_messages_sent_meanwhile() {
    let (io, _clock) = server(|io, ns| crate::bridge::chat::mount(io, ns, Default::default()));
    let a = join(&io);
    let b = join(&io);
    a.emit("join", json!({ "room": "lobby" }));
    b.emit("join", json!({ "room": "lobby" }));
    let _ = (a.received(), b.received());
    a.client.close();
    b.emit(
        "send_message",
        json!({ "room": "lobby", "content": "while you were away" }),
    );
    let a = a.back(&io);
    let got = a.received();
    assert!(
        got.iter()
            .any(|(_, payload)| payload.to_string().contains("while you were away")),
        "{got:?}"
    );
    b.emit(
        "send_message",
        json!({ "room": "lobby", "content": "and now" }),
    );
    assert!(
        a.received()
            .iter()
            .any(|(_, p)| p.to_string().contains("and now"))
    );
}
