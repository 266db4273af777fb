//! Connection state recovery through the application layer, on a virtual
//! clock with the test kit's in-memory clients.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::super::RecoveryKept;
use crate::socketio::recovery::RecoveryConfig;
use crate::socketio::testing::{ManualClock, TestClient};
use crate::socketio::{Config, ConnectError, DisconnectReason, Socket, SocketIo};

/// What the server's handlers saw.
#[derive(Default)]
struct Seen {
    connects: Vec<(String, bool)>,
    disconnects: Vec<(String, String)>,
    sockets: Vec<Socket>,
}

/// A server with recovery on (`config`), whose `/` lets a socket join a
/// room, store a number, and read both back; `/private` refuses sockets
/// without `{"token": "ok"}`.
fn server(config: RecoveryConfig) -> (SocketIo, ManualClock, Arc<Mutex<Seen>>) {
    let clock = ManualClock::new();
    let io = SocketIo::new(
        Config::default()
            .with_state_recovery(config)
            .with_rng_seed([9; 32]),
        clock.clock(),
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    for name in ["/", "/private"] {
        let ns = io.namespace(name);
        let s = seen.clone();
        ns.on_connect(move |socket| {
            let mut seen = s.lock().unwrap();
            seen.connects
                .push((socket.id().to_owned(), socket.recovered()));
            seen.sockets.push(socket.clone());
        });
        let s = seen.clone();
        ns.on_disconnect(move |socket, reason: &DisconnectReason| {
            let mut seen = s.lock().unwrap();
            seen.disconnects
                .push((socket.id().to_owned(), reason.as_str().to_owned()));
        });
        ns.on("join", |socket, args, _| {
            socket.join(args.first().and_then(Value::as_str).unwrap_or_default());
        });
        ns.on("keep", |socket, args, _| {
            socket.set_data(args.first().and_then(Value::as_u64).unwrap_or_default());
        });
        ns.on("state", |socket, _, ack| {
            let data = socket.data::<u64>().map(|n| *n);
            if let Some(ack) = ack {
                ack.send(json!([socket.rooms(), data]));
            }
        });
    }
    io.namespace("/private")
        .use_middleware(|handshake| match handshake.auth.get("token") {
            Some(token) if token == "ok" => Ok(()),
            _ => Err(ConnectError::new("no token")),
        });
    (io, clock, seen)
}

fn connect(client: &TestClient, namespace: &str, auth: Value) -> (String, String) {
    let answer = client.connect_answer(namespace, Some(auth)).unwrap();
    let sid = answer["sid"].as_str().unwrap().to_owned();
    let pid = answer["pid"].as_str().unwrap_or_default().to_owned();
    (sid, pid)
}

/// The events a client got on `/`, by name, each with its last argument
/// (the offset) taken off and checked to be a string.
fn events(client: &TestClient, namespace: &str) -> Vec<(String, Vec<Value>)> {
    client
        .events(namespace)
        .into_iter()
        .map(|(name, mut args)| {
            let offset = args.pop();
            assert!(
                offset.as_ref().is_some_and(Value::is_string),
                "{name}: no offset"
            );
            (name, args)
        })
        .collect()
}

fn last_offset(client: &TestClient, namespace: &str) -> String {
    let events = client.events(namespace);
    let (_, args) = events.last().expect("an event");
    args.last().and_then(Value::as_str).unwrap().to_owned()
}

fn state(client: &TestClient) -> Value {
    client.send_raw(r#"21["state"]"#);
    let packets = client.take_packets();
    let ack = packets.iter().find(|p| p.ack_id == Some(1)).expect("ack");
    ack.data.as_ref().unwrap()[0].clone()
}

#[test]
fn a_socket_that_lost_its_connection_comes_back_with_its_id_rooms_data_and_missed_events() {
    let (io, _clock, seen) = server(RecoveryConfig::default());
    let a = TestClient::open(&io);
    let (sid, pid) = connect(&a, "/", json!({}));
    assert!(!pid.is_empty() && pid != sid);
    a.emit("/", "join", json!(["r"]));
    a.emit("/", "keep", json!([42]));
    io.of("/").emit("hello", json!(1));
    let offset = last_offset(&a, "/");
    let handle = seen.lock().unwrap().sockets[0].clone();
    a.close();

    io.of("/").emit("all", json!(2));
    io.of("/").to("r").emit("room", json!(3));
    io.of("/").to("elsewhere").emit("not-mine", json!(0));
    io.of("/").except("r").emit("not-for-r", json!(0));
    io.of("/").volatile().emit("volatile", json!(0));
    handle.emit("direct", json!(4));
    handle.emit_with_ack("asked", json!(0), Duration::from_secs(1), |_| {});

    let b = TestClient::open(&io);
    let (again, same_pid) = connect(&b, "/", json!({ "pid": pid, "offset": offset }));
    assert_eq!(
        (again.as_str(), same_pid.as_str()),
        (sid.as_str(), pid.as_str())
    );
    assert_eq!(
        events(&b, "/"),
        [
            ("all".to_owned(), vec![json!(2)]),
            ("room".to_owned(), vec![json!(3)]),
            ("direct".to_owned(), vec![json!(4)]),
        ]
    );
    let mut rooms = vec![sid.clone(), "r".to_owned()];
    rooms.sort();
    assert_eq!(state(&b), json!([rooms, 42]));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.connects, [(sid.clone(), false), (sid.clone(), true)]);
    assert_eq!(seen.disconnects, [(sid, "transport close".to_owned())]);
}

#[test]
fn every_blip_recovers_and_a_client_without_an_offset_gets_everything_since_it_connected() {
    let (io, _clock, _seen) = server(RecoveryConfig::default());
    let a = TestClient::open(&io);
    let (sid, pid) = connect(&a, "/", json!({}));
    a.close();
    io.of("/").emit("one", json!(1));
    // socket.io-client sends no offset when it received no event.
    let b = TestClient::open(&io);
    assert_eq!(connect(&b, "/", json!({ "pid": pid })).0, sid);
    assert_eq!(events(&b, "/"), [("one".to_owned(), vec![json!(1)])]);
    b.close();
    io.of("/").emit("two", json!(2));
    let c = TestClient::open(&io);
    assert_eq!(connect(&c, "/", json!({ "pid": pid })).0, sid);
    assert_eq!(events(&c, "/"), [("two".to_owned(), vec![json!(2)])]);
}

#[test]
fn leaving_the_namespace_on_purpose_keeps_no_session_and_unknown_sessions_connect_anew() {
    let (io, _clock, _seen) = server(RecoveryConfig::default());
    let a = TestClient::open(&io);
    let (sid, pid) = connect(&a, "/", json!({}));
    a.disconnect("/");
    let b = TestClient::open(&io);
    let (other, new_pid) = connect(&b, "/", json!({ "pid": pid, "offset": "x" }));
    assert_ne!(other, sid);
    assert_ne!(new_pid, pid);
    for auth in [json!({ "pid": 1 }), json!({ "pid": "nope", "offset": 3 })] {
        let c = TestClient::open(&io);
        assert!(c.connect("/", Some(auth)).is_ok());
    }
}

#[test]
fn after_the_window_a_session_is_gone_and_the_sweep_reclaims_it() {
    let window = Duration::from_secs(10);
    let (io, clock, _seen) = server(RecoveryConfig::with_window(window));
    let a = TestClient::open(&io);
    let (sid, pid) = connect(&a, "/", json!({}));
    io.of("/").emit("e", json!(1));
    let offset = last_offset(&a, "/");
    a.close();
    let bytes = format!(r#"2["e",1,"{offset}"]"#).len();
    assert_eq!(
        io.recovery_kept(),
        RecoveryKept {
            sessions: 1,
            packets: 1,
            bytes
        }
    );
    clock.advance(&io, window);
    assert_eq!(io.recovery_kept().sessions, 1, "the window is inclusive");
    clock.advance(&io, Duration::from_millis(1));
    assert_eq!(io.recovery_kept(), RecoveryKept::default());
    let b = TestClient::open(&io);
    let (other, _) = connect(&b, "/", json!({ "pid": pid, "offset": offset }));
    assert_ne!(other, sid);
}

#[test]
fn a_session_never_has_two_live_sockets() {
    let (io, _clock, seen) = server(RecoveryConfig::default());
    let a = TestClient::open(&io);
    let (sid, pid) = connect(&a, "/", json!({}));
    io.of("/").emit("e", json!(1));
    let offset = last_offset(&a, "/");
    // The client lost its connection; the server has not noticed yet.
    let b = TestClient::open(&io);
    assert_eq!(
        connect(&b, "/", json!({ "pid": pid, "offset": offset })).0,
        sid
    );
    assert!(a.is_closed());
    assert_eq!(io.socket_count(), 1);
    assert_eq!(io.of("/").emit("once", json!(1)), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.disconnects, [(sid, "forced close".to_owned())]);
}

#[test]
fn middleware_is_skipped_on_recovery_unless_configured_otherwise() {
    for skip in [true, false] {
        let config = RecoveryConfig {
            skip_middlewares: skip,
            ..RecoveryConfig::default()
        };
        let (io, _clock, _seen) = server(config);
        let a = TestClient::open(&io);
        let (sid, pid) = connect(&a, "/private", json!({ "token": "ok" }));
        a.close();
        let b = TestClient::open(&io);
        let answer = b.connect("/private", Some(json!({ "pid": pid })));
        if skip {
            assert_eq!(answer, Ok(sid));
        } else {
            assert_eq!(answer, Err(json!({ "message": "no token" })));
        }
    }
}

#[test]
fn without_recovery_there_is_no_pid_and_no_offset() {
    let clock = ManualClock::new();
    let io = SocketIo::new(Config::default(), clock.clock());
    io.namespace("/");
    let a = TestClient::open(&io);
    let answer = a.connect_answer("/", None).unwrap();
    assert!(answer.get("pid").is_none());
    io.of("/").emit("e", json!(1));
    assert_eq!(a.events("/"), [("e".to_owned(), vec![json!(1)])]);
}
