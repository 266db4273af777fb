//! The application layer over the machine, on a virtual clock, through
//! the test kit's [`MemoryConn`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::testing::MemoryConn;
use super::*;
use crate::engineio::{CloseReason, Data, SidGenerator};
use crate::socketio::{
    Args, Config, ConnectError, DisconnectReason, Packet, PacketType, Parser, msgpack,
};

/// A server on a virtual clock with fake connections.
struct Sim {
    io: SocketIo,
    now: Arc<Mutex<Instant>>,
    sids: SidGenerator,
}

impl Sim {
    fn new() -> Sim {
        Sim::with_config(Config::default())
    }

    fn with_config(config: Config) -> Sim {
        let now = Arc::new(Mutex::new(Instant::now()));
        let clock_now = now.clone();
        let clock: Clock = Arc::new(move || *lock(&clock_now));
        let io = SocketIo::new(config.with_rng_seed([3; 32]), clock);
        Sim {
            io,
            now,
            sids: SidGenerator::new(Some([4; 32])),
        }
    }

    fn client(&mut self, capacity: usize) -> Arc<MemoryConn> {
        let conn = Arc::new(MemoryConn::new(self.sids.next_sid(), capacity));
        self.io.handle_open(conn.clone());
        conn
    }

    fn recv(&self, conn: &MemoryConn, text: &str) {
        self.io.handle_message(conn.sid(), Data::from(text));
    }

    fn advance(&self, by: Duration) {
        *lock(&self.now) += by;
        while let Some(at) = self.io.poll_timeout() {
            if at > *lock(&self.now) {
                break;
            }
            self.io.handle_timeout();
        }
    }

    /// Connects `conn` to `/` and returns the socket id.
    fn connect(&self, conn: &MemoryConn) -> String {
        self.recv(conn, "0");
        let sent = conn.take_text();
        let json: Value = serde_json::from_str(&sent[0][1..]).unwrap();
        json["sid"].as_str().unwrap().to_owned()
    }
}

#[test]
fn connect_answers_with_the_socket_id_then_runs_on_connect() {
    let mut sim = Sim::new();
    sim.io
        .namespace("/")
        .on_connect(|s| s.emit("hi", s.handshake().auth.clone()));
    let conn = sim.client(100);
    sim.recv(&conn, "0{\"token\":\"t\"}");
    let sent = conn.take_text();
    assert!(sent[0].starts_with("0{\"sid\":\""), "{sent:?}");
    assert_eq!(sent[1], "2[\"hi\",{\"token\":\"t\"}]");
}

#[test]
fn unknown_namespace_gets_connect_error_and_the_connection_stays() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let conn = sim.client(100);
    sim.recv(&conn, "0/nope,");
    assert_eq!(
        conn.take_text(),
        vec!["4/nope,{\"message\":\"Invalid namespace\"}"]
    );
    assert!(!conn.is_closed());
}

#[test]
fn middleware_refusal_carries_message_and_data() {
    let mut sim = Sim::new();
    sim.io
        .namespace("/admin")
        .use_middleware(|_| Err(ConnectError::new("unauthorized").with_data(json!({"code": 401}))));
    let conn = sim.client(100);
    sim.recv(&conn, "0/admin,");
    let sent = conn.take_text();
    let json: Value = serde_json::from_str(sent[0].trim_start_matches("4/admin,")).unwrap();
    assert_eq!(
        json,
        json!({"message": "unauthorized", "data": {"code": 401}})
    );
}

#[test]
fn connect_timeout_closes_a_client_that_joins_no_namespace() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let idle = sim.client(100);
    let active = sim.client(100);
    sim.connect(&active);
    sim.advance(Duration::from_millis(44_999));
    assert!(!idle.is_closed());
    sim.advance(Duration::from_millis(1));
    assert!(idle.is_closed());
    assert!(!active.is_closed());
}

#[test]
fn ack_from_client_or_timeout() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let conn = sim.client(100);
    let id = sim.connect(&conn);
    let socket = sim.io.socket("/", &id).expect("connected");
    let results = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        let results = results.clone();
        socket.emit_with_ack("q", json!(1), Duration::from_millis(500), move |r| {
            lock(&results).push(r)
        });
    }
    assert_eq!(conn.take_text(), vec!["20[\"q\",1]", "21[\"q\",1]"]);
    sim.recv(&conn, "30[\"yes\"]");
    sim.advance(Duration::from_millis(499));
    assert_eq!(lock(&results).len(), 1);
    sim.advance(Duration::from_millis(1));
    let results = lock(&results);
    assert_eq!(results[0], Ok(Args::from(json!("yes"))));
    assert_eq!(results[1], Err(AckError::Timeout));
}

#[test]
fn broadcast_ack_collects_answers_and_times_out_with_those_that_came() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let a = sim.client(100);
    let b = sim.client(100);
    sim.connect(&a);
    sim.connect(&b);
    let result = Arc::new(Mutex::new(None));
    let slot = result.clone();
    sim.io
        .of("/")
        .emit_with_ack("q", (), Duration::from_millis(300), move |r| {
            *lock(&slot) = Some(r)
        });
    let id_a = a.take_text()[0][1..].split('[').next().unwrap().to_owned();
    sim.recv(&a, &format!("3{id_a}[\"from a\"]"));
    assert!(lock(&result).is_none());
    sim.advance(Duration::from_millis(300));
    assert_eq!(
        *lock(&result),
        Some(Err((AckError::Timeout, vec![Args::from(json!("from a"))])))
    );
}

#[test]
fn rooms_decide_who_receives_a_broadcast() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let conns: Vec<_> = (0..3).map(|_| sim.client(100)).collect();
    let s: Vec<Socket> = conns
        .iter()
        .map(|c| sim.io.socket("/", &sim.connect(c)).expect("connected"))
        .collect();
    s[0].join("r");
    s[1].join("r");
    let received = |ops: Operators| {
        ops.emit("e", ());
        conns
            .iter()
            .map(|c| c.take_text().len())
            .collect::<Vec<_>>()
    };
    assert_eq!(received(sim.io.of("/").to("r")), vec![1, 1, 0]);
    assert_eq!(received(s[0].to("r")), vec![0, 1, 0]);
    assert_eq!(received(s[0].broadcast()), vec![0, 1, 1]);
    assert_eq!(received(sim.io.of("/").except("r")), vec![0, 0, 1]);
    assert_eq!(received(sim.io.of("/")), vec![1, 1, 1]);
    s[1].leave("r");
    assert_eq!(received(sim.io.of("/").to("r")), vec![1, 0, 0]);
    assert_eq!(s[0].rooms(), {
        let mut r = vec!["r".to_owned(), s[0].id().to_owned()];
        r.sort();
        r
    });
}

#[test]
fn malformed_packet_and_event_on_unjoined_namespace_close_the_connection() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let conn = sim.client(100);
    sim.recv(&conn, "2[\"e\"]"); // EVENT before CONNECT
    assert!(conn.is_closed());
    let conn = sim.client(100);
    sim.connect(&conn);
    sim.recv(&conn, "2\"not an array\"");
    assert!(conn.is_closed());
}

/// A session the Engine.IO layer closed as stalled (a backlog nobody
/// took): its sockets leave as slow consumers, and are counted so.
#[test]
fn a_stalled_connection_leaves_as_a_slow_consumer() {
    let mut sim = Sim::new();
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let keep = reasons.clone();
    sim.io
        .namespace("/")
        .on_disconnect(move |_, r| lock(&keep).push(r.clone()));
    let stalled = sim.client(100);
    sim.connect(&stalled);
    let other = sim.client(100);
    sim.connect(&other);
    sim.io
        .handle_close(stalled.sid(), CloseReason::SlowConsumer);
    sim.io.handle_close(other.sid(), CloseReason::PingTimeout);
    assert_eq!(
        *lock(&reasons),
        vec![
            DisconnectReason::SlowConsumer,
            DisconnectReason::Transport(CloseReason::PingTimeout)
        ]
    );
    assert_eq!(sim.io.slow_consumers_dropped(), 1);
}

#[test]
fn slow_consumer_is_disconnected_but_volatile_is_dropped() {
    let mut sim = Sim::new();
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let keep = reasons.clone();
    sim.io
        .namespace("/")
        .on_disconnect(move |_, r| lock(&keep).push(r.clone()));
    let conn = sim.client(2);
    sim.connect(&conn);
    sim.io.of("/").emit("a", ());
    sim.io.of("/").emit("b", ());
    sim.io.of("/").volatile().emit("dropped", ());
    assert!(!conn.is_closed());
    let woken = Arc::new(AtomicU64::new(0));
    let count = woken.clone();
    sim.io.set_timer_waker(move || {
        count.fetch_add(1, Ordering::Relaxed);
    });
    sim.io.of("/").emit("c", ());
    // An emit never calls back into the application: the disconnect
    // waits for the timer task, which the emit woke.
    assert!(lock(&reasons).is_empty());
    assert_eq!(woken.load(Ordering::Relaxed), 1);
    sim.io.handle_timeout();
    assert!(conn.is_closed());
    assert_eq!(*lock(&reasons), vec![DisconnectReason::SlowConsumer]);
    assert_eq!(
        sim.io.disconnects_by_reason(),
        vec![("slow consumer".to_owned(), 1)]
    );
    assert_eq!(sim.io.slow_consumers_dropped(), 1);
}

/// A batch (one read of a connection): its emits are queued when it
/// ends, receiver by receiver, and each receiver still gets its packets
/// in the order they were emitted, whatever mix of targets, joins and
/// disconnects the batch made.
#[test]
fn a_batch_keeps_the_order_of_its_emits_per_receiver() {
    let mut sim = Sim::new();
    let ns = sim.io.namespace("/");
    let all = sim.io.of("/");
    ns.on("all", move |_, args, _| {
        all.emit("m", args);
    });
    ns.on("me", |socket, args, ack| {
        socket.emit("own", args);
        if let Some(ack) = ack {
            ack.send("done");
        }
    });
    ns.on("join", |socket, _, _| socket.join("r"));
    let io = sim.io.clone();
    ns.on("room", move |_, args, _| {
        io.of("/").to("r").emit("rm", args);
    });
    let io = sim.io.clone();
    ns.on("kick", move |_, args, _| {
        let id = args.first().and_then(|v| v.as_str().map(str::to_owned));
        if let Some(socket) = id.and_then(|id| io.socket("/", &id)) {
            socket.disconnect();
        }
    });
    // Peeks at a receiver's queue from inside the batch.
    let (a, b, sender) = (sim.client(100), sim.client(100), sim.client(100));
    let seen_by_peek = Arc::new(Mutex::new(None));
    let (peek_conn, peek_seen) = (a.clone(), seen_by_peek.clone());
    ns.on("peek", move |_, _, _| {
        *lock(&peek_seen) = Some(peek_conn.queued());
    });
    sim.connect(&a);
    let b_id = sim.connect(&b);
    sim.connect(&sender);
    sim.recv(&a, r#"2["join"]"#);
    let batch = [
        r#"2["all",1]"#.to_owned(),
        r#"2["peek"]"#.to_owned(),
        r#"25["me",2]"#.to_owned(),
        r#"2["room",3]"#.to_owned(),
        format!(r#"2["kick","{b_id}"]"#),
        r#"2["all",4]"#.to_owned(),
    ];
    sim.io
        .handle_messages(sender.sid(), batch.iter().map(|t| Data::from(t.as_str())));
    // Each emit is queued on its receiver at once (the session under it
    // writes them together): the first broadcast is there already.
    assert_eq!(*lock(&seen_by_peek), Some(1), "queued in emit order");
    assert_eq!(
        a.take_text(),
        [r#"2["m",1]"#, r#"2["rm",3]"#, r#"2["m",4]"#]
    );
    assert_eq!(b.take_text(), [r#"2["m",1]"#, "1"]);
    assert_eq!(
        sender.take_text(),
        [
            r#"2["m",1]"#,
            r#"2["own",2]"#,
            r#"35["done"]"#,
            r#"2["m",4]"#
        ]
    );
    // Outside a batch too.
    sim.io.of("/").emit("now", ());
    assert_eq!(a.take_text(), [r#"2["now"]"#]);
}

/// A receiver whose queue fills while a batch is flushed is a slow
/// consumer, as it would be with each emit queued at once; the others
/// get everything.
#[test]
fn a_batch_finds_slow_consumers_when_it_is_flushed() {
    let mut sim = Sim::new();
    let ns = sim.io.namespace("/");
    let all = sim.io.of("/");
    ns.on("all", move |_, args, _| {
        all.emit("m", args);
    });
    let (slow, fast, sender) = (sim.client(3), sim.client(100), sim.client(100));
    for conn in [&slow, &fast, &sender] {
        sim.connect(conn);
    }
    let batch = (0..5).map(|n| Data::from(format!(r#"2["all",{n}]"#)));
    sim.io.handle_messages(sender.sid(), batch);
    assert!(slow.is_closed());
    assert_eq!(fast.take_text().len(), 5);
    assert_eq!(sender.take_text().len(), 5);
    assert_eq!(
        sim.io.disconnects_by_reason(),
        vec![("slow consumer".to_owned(), 1)]
    );
}

/// Regression (fuzz/sio_server): a volatile binary message whose text
/// fitted in the queue but whose attachments did not was cut short, so
/// the client's decoder refused the next packet. It is either dropped
/// whole or ends the client as a slow consumer.
#[test]
fn volatile_binary_is_never_cut_short() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let conn = sim.client(2);
    sim.connect(&conn);
    sim.io.of("/").emit("a", ());
    let args = Args::new().bytes(vec![1]).bytes(vec![2]);
    sim.io.of("/").volatile().emit("b", args);
    sim.io.handle_timeout();
    assert!(conn.is_closed(), "a cut packet on a live connection");
    assert_eq!(sim.io.slow_consumers_dropped(), 1);
}

/// Regression (fuzz/sio_server): the CONNECT answer was dropped
/// silently on a full queue while the socket was created, so the client
/// later got events on a namespace it never saw accepted. The client is
/// now a slow consumer, and no socket is created.
#[test]
fn connect_answer_on_a_full_queue_drops_the_client() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    sim.io.namespace("/admin");
    let conn = sim.client(1);
    sim.connect(&conn);
    sim.io.of("/").emit("fills", ());
    sim.recv(&conn, "0/admin,");
    assert!(conn.is_closed());
    assert_eq!(sim.io.socket_count(), 0);
    assert_eq!(sim.io.slow_consumers_dropped(), 1);
}

#[test]
fn binary_event_reaches_the_handler_with_its_attachments() {
    let mut sim = Sim::new();
    let got = Arc::new(Mutex::new(None));
    let slot = got.clone();
    sim.io
        .namespace("/")
        .on("file", move |_, args, _| *lock(&slot) = Some(args));
    let conn = sim.client(100);
    sim.connect(&conn);
    sim.recv(&conn, "51-[\"file\",{\"_placeholder\":true,\"num\":0}]");
    assert!(lock(&got).is_none());
    sim.io
        .handle_message(conn.sid(), Data::Binary(bytes::Bytes::from_static(&[1, 2])));
    let args = lock(&got).take().unwrap();
    assert_eq!(args.binary, vec![bytes::Bytes::from_static(&[1, 2])]);
    assert_eq!(args.values(), vec![placeholder_value(0)]);
}

fn placeholder_value(n: usize) -> Value {
    crate::socketio::placeholder(n)
}

/// With the msgpack parser every packet is one binary message both ways,
/// and binary reaches handlers as with the JSON parser: placeholders
/// into `Args::binary`.
#[test]
fn msgpack_parser_carries_binary_as_the_json_parser_does() {
    let mut sim = Sim::with_config(Config::default().with_parser(Parser::Msgpack));
    let got = Arc::new(Mutex::new(None));
    let slot = got.clone();
    sim.io.namespace("/").on("file", move |socket, args, ack| {
        *lock(&slot) = Some(args.clone());
        socket.emit("back", args.clone());
        if let Some(ack) = ack {
            ack.send(args);
        }
    });
    let conn = sim.client(100);
    let send = |packet: &Packet| {
        let bytes = bytes::Bytes::from(msgpack::encode(packet));
        sim.io.handle_message(conn.sid(), Data::Binary(bytes));
    };
    let take = || -> Vec<Packet> {
        conn.take()
            .into_iter()
            .map(|d| match d {
                Data::Binary(b) => {
                    msgpack::decode(&b, &crate::socketio::Limits::default()).unwrap()
                }
                Data::Text(t) => panic!("text message {t:?} with the msgpack parser"),
            })
            .collect()
    };
    send(&Packet::connect("/", Some(json!({"token": "t"}))));
    let answer = take();
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].kind, PacketType::Connect);
    assert!(answer[0].data.as_ref().unwrap()["sid"].is_string());

    let file = bytes::Bytes::from_static(&[0, 1, 2]);
    send(&Packet::event_with_binary(
        "/",
        vec![
            json!("file"),
            json!({"name": "a", "body": placeholder_value(0)}),
        ],
        Some(4),
        vec![file.clone()],
    ));
    let args = lock(&got).take().unwrap();
    assert_eq!(
        args.values(),
        [json!({"name": "a", "body": placeholder_value(0)})]
    );
    assert_eq!(args.binary, std::slice::from_ref(&file));
    let sent = take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].kind, PacketType::BinaryEvent);
    assert_eq!(sent[0].event_name(), Some("back"));
    assert_eq!(sent[0].attachments, std::slice::from_ref(&file));
    assert_eq!(
        (sent[1].kind, sent[1].ack_id),
        (PacketType::BinaryAck, Some(4))
    );
    assert_eq!(sent[1].attachments, [file]);

    // The msgpack parser takes no text message: the connection closes.
    sim.recv(&conn, "2[\"file\"]");
    assert!(conn.is_closed());
}

/// Regression (fuzz/sio_server, which builds a server per input): a
/// server with a namespace held a handle to itself through it, so it was
/// never freed once its last handle was dropped.
#[test]
fn a_dropped_server_is_freed() {
    let clock: Clock = Arc::new(Instant::now);
    let io = SocketIo::new(Config::default(), clock);
    io.namespace("/").on("x", |_, _, _| {});
    io.dynamic_namespace(|n| n.starts_with("/dyn-"));
    let inner = Arc::downgrade(&io.inner);
    drop(io);
    assert!(inner.upgrade().is_none(), "the server outlived its handles");
}

#[test]
fn event_rate_limit_disconnects_the_socket_on_the_virtual_clock() {
    // 10 events a second, 3 at once.
    let mut sim = Sim::with_config(Config::default().with_event_rate_limit(10, 3));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let (keep_seen, keep_reasons) = (seen.clone(), reasons.clone());
    sim.io
        .namespace("/")
        .on("e", move |_, args, _| {
            lock(&keep_seen).push(args.into_values())
        })
        .on_disconnect(move |_, r| lock(&keep_reasons).push(r.clone()));
    let conn = sim.client(100);
    sim.connect(&conn);
    for i in 0..3 {
        sim.recv(&conn, &format!("2[\"e\",{i}]"));
    }
    // A token comes back every 100 ms: one more event passes.
    sim.advance(Duration::from_millis(100));
    sim.recv(&conn, "2[\"e\",3]");
    assert_eq!(lock(&seen).len(), 4);
    assert!(lock(&reasons).is_empty());
    // The bucket is empty: the next event is not delivered, the socket
    // leaves its namespace, the connection stays.
    sim.recv(&conn, "2[\"e\",4]");
    assert_eq!(lock(&seen).len(), 4);
    assert_eq!(*lock(&reasons), vec![DisconnectReason::RateLimited]);
    assert_eq!(conn.take_text(), vec!["1"]);
    assert!(!conn.is_closed());
    assert_eq!((sim.io.rate_limited(), sim.io.socket_count()), (1, 0));
    // It may connect again, with a fresh bucket.
    sim.connect(&conn);
    sim.recv(&conn, "2[\"e\",5]");
    assert_eq!(lock(&seen).len(), 5);
}

#[test]
fn a_rate_limit_disconnect_that_cannot_be_queued_drops_the_client() {
    let mut sim = Sim::with_config(Config::default().with_event_rate_limit(10, 1));
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let keep = reasons.clone();
    sim.io
        .namespace("/")
        .on_disconnect(move |_, r| lock(&keep).push(r.clone()));
    let conn = sim.client(1);
    sim.connect(&conn);
    sim.io.of("/").emit("fills-the-queue", ());
    sim.recv(&conn, "2[\"e\"]");
    sim.recv(&conn, "2[\"e\"]");
    assert!(conn.is_closed());
    assert_eq!(*lock(&reasons), vec![DisconnectReason::RateLimited]);
    assert_eq!(
        (sim.io.rate_limited(), sim.io.slow_consumers_dropped()),
        (1, 1)
    );
}

#[test]
fn without_a_rate_limit_a_burst_is_delivered_whole() {
    let mut sim = Sim::new();
    let count = Arc::new(AtomicU64::new(0));
    let keep = count.clone();
    sim.io.namespace("/").on("e", move |_, _, _| {
        keep.fetch_add(1, Ordering::Relaxed);
    });
    let conn = sim.client(100);
    sim.connect(&conn);
    for _ in 0..10_000 {
        sim.recv(&conn, "2[\"e\"]");
    }
    assert_eq!(count.load(Ordering::Relaxed), 10_000);
    assert_eq!(sim.io.rate_limited(), 0);
}

#[test]
fn namespaces_per_client_are_capped() {
    let mut sim = Sim::with_config(Config::default().with_max_namespaces_per_client(2));
    sim.io.dynamic_namespace(|n| n.starts_with("/dyn-"));
    let conn = sim.client(100);
    sim.recv(&conn, "0/dyn-1,");
    sim.recv(&conn, "0/dyn-2,");
    sim.recv(&conn, "0/dyn-3,");
    let sent = conn.take_text();
    assert!(sent[1].starts_with("0/dyn-2,{\"sid\""), "{sent:?}");
    assert_eq!(sent[2], "4/dyn-3,{\"message\":\"Too many namespaces\"}");
    assert_eq!(sim.io.socket_count(), 2);
    assert!(!conn.is_closed());
    // Leaving one makes room.
    sim.recv(&conn, "1/dyn-1,");
    sim.recv(&conn, "0/dyn-3,");
    assert!(conn.take_text()[0].starts_with("0/dyn-3,{\"sid\""));
}

#[test]
fn dynamic_namespaces_match_by_predicate() {
    let mut sim = Sim::new();
    sim.io
        .dynamic_namespace(|n| n.starts_with("/dyn-"))
        .on_connect(|s| s.emit("ns", json!(s.namespace())));
    let conn = sim.client(100);
    sim.recv(&conn, "0/dyn-7,");
    let sent = conn.take_text();
    assert!(sent[0].starts_with("0/dyn-7,{\"sid\""));
    assert_eq!(sent[1], "2/dyn-7,[\"ns\",\"/dyn-7\"]");
}

/// What the observer was told, as short strings.
fn observe(io: &SocketIo) -> Arc<Mutex<Vec<String>>> {
    let told = Arc::new(Mutex::new(Vec::new()));
    let sink = told.clone();
    io.set_observer(move |io, event| {
        // The observer may call back into the server: no lock is held.
        let count = io.socket_count();
        let line = match event {
            SocketEvent::Connected(info) => {
                format!(
                    "connected {} {} rooms={:?} n={count}",
                    info.namespace, info.id, info.rooms
                )
            }
            SocketEvent::Disconnected {
                namespace,
                id,
                reason,
            } => {
                format!("disconnected {namespace} {id} {reason}")
            }
            SocketEvent::Joined {
                namespace,
                id,
                room,
            } => format!("joined {namespace} {id} {room}"),
            SocketEvent::Left {
                namespace,
                id,
                room,
            } => format!("left {namespace} {id} {room}"),
            SocketEvent::Upgraded { namespace, id, .. } => format!("upgraded {namespace} {id}"),
            SocketEvent::EventReceived {
                namespace,
                id,
                args,
            } => {
                format!("received {namespace} {id} {}", Value::Array(args))
            }
            SocketEvent::EventSent {
                namespace,
                id,
                args,
            } => {
                format!("sent {namespace} {id} {}", Value::Array(args))
            }
        };
        lock(&sink).push(line);
    });
    told
}

#[test]
fn observer_is_told_connects_joins_leaves_and_disconnects_in_order() {
    let mut sim = Sim::new();
    let told = observe(&sim.io);
    sim.io.namespace("/").on("room", |socket, args, _| {
        let room = args
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        socket.join(&room);
        socket.join(&room); // already in: not told again
        // The observer can be re-entered from here without a deadlock.
        socket.leave("never-joined"); // not in it: not told
    });
    let conn = sim.client(100);
    let id = sim.connect(&conn);
    sim.recv(&conn, "2[\"room\",\"r1\"]");
    sim.io.of("/").to("r1").leave("r1");
    sim.recv(&conn, "1");
    assert_eq!(
        *lock(&told),
        [
            format!("joined / {id} {id}"),
            format!("connected / {id} rooms=[\"{id}\"] n=1"),
            format!("joined / {id} r1"),
            format!("left / {id} r1"),
            format!("disconnected / {id} client namespace disconnect"),
            format!("left / {id} {id}"),
        ]
    );
}

#[test]
fn socket_infos_and_disconnect_sockets_by_room() {
    let mut sim = Sim::new();
    let told = observe(&sim.io);
    sim.io.namespace("/");
    let (a, b) = (sim.client(100), sim.client(100));
    let (ida, idb) = (sim.connect(&a), sim.connect(&b));
    sim.io.of("/").to(&ida).join("vip");
    let infos = sim.io.socket_infos();
    assert_eq!(infos.len(), 2);
    let info_a = infos.iter().find(|i| *i.id == *ida).unwrap();
    assert_eq!(info_a.client, a.sid());
    assert_eq!(info_a.rooms, {
        let mut rooms = vec![ida.clone(), "vip".to_owned()];
        rooms.sort();
        rooms
    });
    // The fake connection knows no request nor transport.
    assert!(info_a.request.is_none() && info_a.transport.is_none());

    assert_eq!(sim.io.of("/").to("vip").disconnect_sockets(false), 1);
    assert_eq!(a.take_text(), ["1"]);
    assert!(b.take_text().is_empty());
    assert!(!a.is_closed());
    assert!(lock(&told).contains(&format!("disconnected / {ida} server namespace disconnect")));
    assert_eq!(sim.io.of("/").to(&idb).disconnect_sockets(true), 1);
    assert!(b.is_closed());
    // The transport then reports the close, and the socket leaves.
    sim.io.handle_close(b.sid(), CloseReason::ForcedClose);
    assert_eq!(sim.io.socket_count(), 0);
    assert!(lock(&told).contains(&format!("disconnected / {idb} forced close")));
}

#[test]
fn events_are_observed_only_when_asked_and_broadcasts_are_not() {
    let mut sim = Sim::new();
    let told = observe(&sim.io);
    sim.io.namespace("/").on("ping", |socket, args, _| {
        socket.emit("pong", args.values().to_vec());
        socket.broadcast().emit("news", ());
    });
    let conn = sim.client(100);
    let id = sim.connect(&conn);
    lock(&told).clear();
    sim.recv(&conn, "2[\"ping\",1]");
    assert!(lock(&told).is_empty(), "{:?}", lock(&told));
    sim.io.set_observe_events(true);
    sim.recv(&conn, "2[\"ping\",2]");
    assert_eq!(
        *lock(&told),
        [
            format!("received / {id} [\"ping\",2]"),
            format!("sent / {id} [\"pong\",2]"),
        ]
    );
    sim.io.set_observe_events(false);
    sim.recv(&conn, "2[\"ping\",3]");
    assert_eq!(lock(&told).len(), 2);
}
/// The server-wide observers see every socket of every namespace come
/// and go, with the Socket.IO reason, beside the namespace's handlers.
#[test]
fn every_connect_and_disconnect_is_observed_with_its_reason() {
    let mut sim = Sim::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    sim.io.namespace("/").on_disconnect(|_, _| {});
    let keep = seen.clone();
    sim.io.on_every_connect(move |s| {
        lock(&keep).push(format!(
            "connect {} {:?}",
            s.namespace(),
            s.handshake().address
        ))
    });
    let keep = seen.clone();
    sim.io.on_every_disconnect(move |s, r| {
        lock(&keep).push(format!("disconnect {} {r}", s.namespace()))
    });
    let conn = sim.client(2);
    sim.connect(&conn);
    for event in ["a", "b", "c"] {
        sim.io.of("/").emit(event, ());
    }
    sim.io.handle_timeout();
    assert!(conn.is_closed());
    assert_eq!(
        *lock(&seen),
        ["connect / None", "disconnect / slow consumer"]
    );
}

/// A future that completes once its gate is opened.
struct Gate(Arc<Mutex<bool>>);

impl std::future::Future for Gate {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if *lock(&self.0) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }
}

#[test]
fn an_async_handler_awaits_without_holding_up_its_client() {
    let mut sim = Sim::new();
    let tasks: Arc<Mutex<Vec<HandlerFuture>>> = Arc::default();
    let spawned = tasks.clone();
    sim.io
        .set_spawner(move |future| lock(&spawned).push(future));
    let gate = Arc::new(Mutex::new(false));
    let open = gate.clone();
    let ns = sim.io.namespace("/");
    ns.on_async("slow", move |_socket, args, ack| {
        let gate = Gate(open.clone());
        async move {
            gate.await;
            if let Some(ack) = ack {
                ack.send(args);
            }
        }
    });
    ns.on("fast", |_, args, ack| {
        if let Some(ack) = ack {
            ack.send(args);
        }
    });
    let conn = sim.client(100);
    sim.connect(&conn);
    sim.recv(&conn, r#"21["slow","s"]"#);
    sim.recv(&conn, r#"22["fast","f"]"#);
    assert_eq!(
        conn.take_text(),
        [r#"32["f"]"#],
        "fast is not held up by slow"
    );
    let mut task = lock(&tasks).pop().expect("slow was spawned");
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(task.as_mut().poll(&mut cx).is_pending());
    *lock(&gate) = true;
    assert!(task.as_mut().poll(&mut cx).is_ready());
    assert_eq!(conn.take_text(), [r#"31["s"]"#]);
}

#[test]
fn async_middleware_answers_the_connect_when_it_decides() {
    let mut sim = Sim::new();
    let tasks: Arc<Mutex<Vec<HandlerFuture>>> = Arc::default();
    let spawned = tasks.clone();
    sim.io
        .set_spawner(move |future| lock(&spawned).push(future));
    let gate = Arc::new(Mutex::new(false));
    let open = gate.clone();
    let connected = Arc::new(Mutex::new(0));
    let seen = connected.clone();
    let ns = sim.io.namespace("/");
    ns.use_middleware(|h| match h.auth["user"].as_str() {
        Some("") => Err(ConnectError::new("empty")),
        _ => Ok(()),
    });
    ns.use_async_middleware(move |h| {
        let gate = Gate(open.clone());
        let user = h.auth["user"].as_str().map(str::to_owned);
        Box::pin(async move {
            gate.await;
            match user.as_deref() {
                Some("ann") => Ok(()),
                _ => Err(ConnectError::new("unauthorized")),
            }
        })
    });
    ns.on_connect(move |_| *lock(&seen) += 1);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let (ann, bob, gone, empty) = (
        sim.client(100),
        sim.client(100),
        sim.client(100),
        sim.client(100),
    );
    sim.recv(&ann, r#"0{"user":"ann"}"#);
    sim.recv(&bob, r#"0{"user":"bob"}"#);
    sim.recv(&gone, r#"0{"user":"ann"}"#);
    sim.recv(&empty, r#"0{"user":""}"#);
    // The sync step before it refuses inline; the chain is not spawned.
    assert_eq!(empty.take_text(), [r#"4{"message":"empty"}"#]);
    let mut pending: Vec<HandlerFuture> = lock(&tasks).drain(..).collect();
    assert_eq!(pending.len(), 3, "one chain per CONNECT");
    for task in &mut pending {
        assert!(task.as_mut().poll(&mut cx).is_pending());
    }
    assert!(
        ann.take_text().is_empty(),
        "no answer before the chain decides"
    );
    sim.io.handle_close(gone.sid(), CloseReason::TransportClose);
    *lock(&gate) = true;
    for task in &mut pending {
        assert!(task.as_mut().poll(&mut cx).is_ready());
    }
    let answer = ann.take_text();
    assert_eq!(answer.len(), 1);
    assert!(answer[0].starts_with(r#"0{"sid":""#), "{answer:?}");
    assert_eq!(bob.take_text(), [r#"4{"message":"unauthorized"}"#]);
    assert!(
        gone.take_text().is_empty(),
        "a client that left is not admitted"
    );
    assert_eq!(*lock(&connected), 1);
}

#[test]
fn without_a_spawner_an_async_handler_runs_to_completion_in_place() {
    let mut sim = Sim::new();
    sim.io
        .namespace("/")
        .on_async("q", |socket, _, _| async move {
            socket.emit("done", ());
        });
    let conn = sim.client(100);
    sim.connect(&conn);
    sim.recv(&conn, r#"2["q"]"#);
    assert_eq!(conn.take_text(), [r#"2["done"]"#]);
}

#[test]
fn typed_arguments_reach_the_handler_or_answer_the_ack_with_the_error() {
    #[derive(serde::Deserialize)]
    struct Move {
        x: i32,
        y: i32,
    }
    let mut sim = Sim::new();
    sim.io
        .namespace("/")
        .on_typed("move", |socket, (m, label): (Move, String), _| {
            socket.emit("moved", json!([m.x + m.y, label]));
        });
    let conn = sim.client(100);
    sim.connect(&conn);
    sim.recv(&conn, r#"2["move",{"x":1,"y":2},"a"]"#);
    assert_eq!(conn.take_text(), [r#"2["moved",[3,"a"]]"#]);
    sim.recv(&conn, r#"27["move",{"x":"one","y":2},"a"]"#);
    let sent = conn.take_text();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .starts_with(r#"37[{"error":"arguments: invalid type: string \"one\", expected i32"#),
        "{sent:?}"
    );
    // Without an ack, the event is dropped; the socket stays.
    sim.recv(&conn, r#"2["move"]"#);
    assert!(conn.take_text().is_empty());
    assert!(!conn.is_closed());
}

/// An adapter that keeps rooms in memory and records what it is asked to
/// publish, as a shared adapter would send it to other processes.
struct Publishing {
    rooms: crate::socketio::InMemoryAdapter,
    published: Arc<Mutex<Vec<(String, crate::socketio::BroadcastOptions)>>>,
}

impl crate::socketio::Adapter for Publishing {
    fn add_socket(&mut self, id: &Arc<str>) {
        self.rooms.add_socket(id);
    }
    fn remove_socket(&mut self, id: &str) {
        self.rooms.remove_socket(id);
    }
    fn join(&mut self, id: &Arc<str>, room: &str) {
        self.rooms.join(id, room);
    }
    fn leave(&mut self, id: &str, room: &str) {
        self.rooms.leave(id, room);
    }
    fn rooms_of(&self, id: &str) -> Vec<String> {
        self.rooms.rooms_of(id)
    }
    fn targets(&self, options: &crate::socketio::BroadcastOptions) -> Vec<Arc<str>> {
        self.rooms.targets(options)
    }
    fn publish(&self, packet: &Packet, options: &crate::socketio::BroadcastOptions) {
        let name = packet.event_name().unwrap_or_default().to_owned();
        lock(&self.published).push((name, options.clone()));
    }
}

#[test]
fn broadcasts_are_published_to_the_adapter_after_local_delivery() {
    let published: Arc<Mutex<Vec<(String, crate::socketio::BroadcastOptions)>>> = Arc::default();
    let record = published.clone();
    let clock = testing::ManualClock::new();
    let io = SocketIo::with_adapter(Config::default(), clock.clock(), move |_| {
        Box::new(Publishing {
            rooms: crate::socketio::InMemoryAdapter::new(),
            published: record.clone(),
        })
    });
    io.namespace("/").on("shout", |socket, _, _| {
        socket.to("r").emit("to-room", ());
        socket.emit("to-me", ());
        socket.server().of("/").local().emit("local", ());
    });
    let a = testing::TestClient::open(&io);
    let id = a.connect("/", None).unwrap();
    io.of("/").except("x").emit("all", ());
    a.emit("/", "shout", json!([]));
    let published = lock(&published).clone();
    assert_eq!(published.len(), 2, "{published:?}");
    assert_eq!(published[0].0, "all");
    assert_eq!(published[0].1.except, vec!["x".to_owned()]);
    // socket.to(room): the sender's own room is left out on other nodes too.
    assert_eq!(published[1].0, "to-room");
    assert_eq!(published[1].1.rooms, vec!["r".to_owned()]);
    assert_eq!(published[1].1.except, vec![id]);
}

#[test]
fn a_waking_connection_gets_its_broadcasts_in_one_flush_and_in_order() {
    let mut sim = Sim::new();
    let ns = sim.io.namespace("/");
    let all = sim.io.of("/");
    ns.on("all", move |_, args, _| {
        all.emit("m", args);
    });
    ns.on("dm", |socket, args, _| {
        let id = args
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(to) = socket.server().socket("/", &id) {
            to.emit("dm", ());
        }
    });
    let receiver = Arc::new(MemoryConn::new(sim.sids.next_sid(), 100).waking());
    sim.io.handle_open(receiver.clone());
    let receiver_id = sim.connect(&receiver);
    let sender = sim.client(100);
    sim.connect(&sender);
    let batch = [
        r#"2["all",1]"#.to_owned(),
        format!(r#"2["dm","{receiver_id}"]"#),
        r#"2["all",2]"#.to_owned(),
    ];
    sim.io
        .handle_messages(sender.sid(), batch.iter().map(|t| Data::from(t.as_str())));
    assert!(receiver.take_text().is_empty(), "held for its driver");
    assert_eq!(receiver.wakes(), 1, "woken once for the whole batch");
    sim.io.flush(receiver.sid());
    assert_eq!(
        receiver.take_text(),
        [r#"2["m",1]"#, r#"2["dm"]"#, r#"2["m",2]"#]
    );
    // A connection that cannot wake gets each packet at once.
    assert_eq!(sender.take_text(), [r#"2["m",1]"#, r#"2["m",2]"#]);
}

/// A broadcast held for a receiver's driver still reaches it before the
/// DISCONNECT of a socket that leaves before the flush, and before a
/// direct emit and the ack of a later message: held packets enter the
/// machine before anything else does.
#[test]
fn a_held_broadcast_keeps_its_place_before_what_follows() {
    let mut sim = Sim::new();
    sim.io.namespace("/").on("ask", |_socket, _args, ack| {
        if let Some(ack) = ack {
            ack.send(json!("ok"));
        }
    });
    let receiver = Arc::new(MemoryConn::new(sim.sids.next_sid(), 100).waking());
    sim.io.handle_open(receiver.clone());
    let id = sim.connect(&receiver);
    sim.io.of("/").emit("m", json!(1));
    sim.recv(&receiver, r#"21["ask"]"#);
    sim.io.of("/").emit("m", json!(2));
    assert_eq!(sim.io.of("/").to(&id).disconnect_sockets(false), 1);
    sim.io.flush(receiver.sid());
    assert_eq!(
        receiver.take_text(),
        [r#"2["m",1]"#, r#"31["ok"]"#, r#"2["m",2]"#, "1"]
    );
}

#[test]
fn a_held_broadcast_that_does_not_fit_drops_the_receiver_at_its_flush() {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let receiver = Arc::new(MemoryConn::new(sim.sids.next_sid(), 2).waking());
    sim.io.handle_open(receiver.clone());
    sim.connect(&receiver);
    for n in 0..3 {
        sim.io.of("/").emit("m", json!(n));
    }
    assert!(!receiver.is_closed());
    sim.io.flush(receiver.sid());
    assert!(receiver.is_closed());
    assert_eq!(sim.io.slow_consumers_dropped(), 1);
    assert_eq!(sim.io.socket_count(), 0);
}

/// The v4 hooks, end to end: a socket.io 2.x client (an Engine.IO v3
/// session) is in `/` at once, gets v4 answers and v4 socket ids.
#[test]
fn a_v4_connection_is_served_in_v4() {
    let mut sim = Sim::new();
    for name in ["/", "/custom"] {
        sim.io.namespace(name).on_connect(|socket| {
            let auth = socket.handshake().auth.clone();
            socket.emit("hello", vec![json!(socket.id()), auth]);
        });
    }
    sim.io
        .namespace("/private")
        .use_middleware(|_| Err(ConnectError::new("unauthorized").with_data(json!({"code": 401}))));
    let sid = sim.sids.next_sid();
    let conn = Arc::new(MemoryConn::new(sid, 100).with_revision(crate::socketio::v4::Revision::V4));
    sim.io.handle_open(conn.clone());
    // In `/` at once, with an empty CONNECT and the Engine.IO id.
    assert_eq!(
        conn.take_text(),
        ["0", &format!("2[\"hello\",\"{sid}\",{{}}]")]
    );
    sim.recv(&conn, "0/custom?token=a%20b,");
    assert_eq!(
        conn.take_text(),
        [
            "0/custom,",
            &format!("2/custom,[\"hello\",\"/custom#{sid}\",{{\"token\":\"a b\"}}]")
        ]
    );
    sim.recv(&conn, "0/private,");
    assert_eq!(conn.take_text(), ["4/private,{\"code\":401}"]);
    sim.recv(&conn, "0/nope,");
    assert_eq!(
        conn.take_text(),
        ["4/nope,{\"message\":\"Invalid namespace\"}"]
    );
    assert_eq!(sim.io.socket_count(), 2);
}

/// A cluster played by the test: what the operators ask of it, written
/// down; what the other nodes answer, given beforehand.
#[derive(Default)]
struct FakeCluster {
    asked: Mutex<Vec<String>>,
    fetched: Mutex<Option<Result<Vec<RemoteSocket>, ClusterTimeout<RemoteSocket>>>>,
    acks: Mutex<Option<BroadcastAcks>>,
}

impl FakeCluster {
    fn note(&self, what: String) {
        lock(&self.asked).push(what);
    }

    fn asked(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.asked))
    }
}

fn target(t: &crate::socketio::BroadcastOptions) -> String {
    format!("{:?}-{:?}", t.rooms, t.except)
}

impl Cluster for FakeCluster {
    fn join_or_leave(
        &self,
        namespace: &str,
        t: &crate::socketio::BroadcastOptions,
        rooms: &[String],
        leave: bool,
    ) {
        let what = if leave { "leave" } else { "join" };
        self.note(format!("{what} {namespace} {} {rooms:?}", target(t)));
    }

    fn disconnect_sockets(
        &self,
        namespace: &str,
        t: &crate::socketio::BroadcastOptions,
        close: bool,
    ) {
        self.note(format!("disconnect {namespace} {} {close}", target(t)));
    }

    fn fetch_sockets(
        &self,
        namespace: &str,
        t: &crate::socketio::BroadcastOptions,
    ) -> ClusterFuture<Result<Vec<RemoteSocket>, ClusterTimeout<RemoteSocket>>> {
        self.note(format!("fetch {namespace} {}", target(t)));
        let answer = lock(&self.fetched).take().unwrap_or(Ok(Vec::new()));
        Box::pin(std::future::ready(answer))
    }

    fn broadcast_with_ack(
        &self,
        namespace: &str,
        t: &crate::socketio::BroadcastOptions,
        event: &str,
        args: Args,
        timeout: Duration,
    ) -> ClusterFuture<BroadcastAcks> {
        self.note(format!(
            "ack {namespace} {} {event} {:?} {timeout:?}",
            target(t),
            args.values()
        ));
        let answer = lock(&self.acks).take().unwrap_or(Ok(Vec::new()));
        Box::pin(std::future::ready(answer))
    }

    fn server_side_emit(&self, namespace: &str, event: &str, args: Args) {
        self.note(format!(
            "server-side {namespace} {event} {:?}",
            args.values()
        ));
    }

    fn server_side_emit_with_ack(
        &self,
        namespace: &str,
        event: &str,
        args: Args,
    ) -> ClusterFuture<Result<Vec<Value>, ClusterTimeout<Value>>> {
        self.note(format!(
            "server-side-ack {namespace} {event} {:?}",
            args.values()
        ));
        Box::pin(std::future::ready(Ok(vec![json!("pong")])))
    }
}

/// Runs a future that needs no waking to finish (the fake cluster's are
/// ready at once).
fn now_or_never<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("the future waits"),
    }
}

/// Connected clients: each connection and its socket id.
type Clients = Vec<(Arc<MemoryConn>, String)>;

fn cluster_sim() -> (Sim, Arc<FakeCluster>, Clients) {
    let mut sim = Sim::new();
    sim.io.namespace("/");
    let cluster = Arc::new(FakeCluster::default());
    sim.io.set_cluster(cluster.clone());
    let clients = (0..2)
        .map(|_| {
            let conn = sim.client(100);
            let id = sim.connect(&conn);
            (conn, id)
        })
        .collect();
    (sim, cluster, clients)
}

#[test]
fn join_leave_and_disconnect_are_asked_of_the_cluster_unless_local() {
    let (sim, cluster, clients) = cluster_sim();
    let (a, b) = (&clients[0].1, &clients[1].1);
    sim.io.of("/").to(a).join("x");
    assert_eq!(cluster.asked(), [format!("join / [\"{a}\"]-[] [\"x\"]")]);
    assert!(
        sim.io
            .socket("/", a)
            .unwrap()
            .rooms()
            .contains(&"x".to_owned())
    );
    // socket.broadcast: every socket but the sender, by its room.
    let socket_a = sim.io.socket("/", a).unwrap();
    socket_a.broadcast().except("x").leave("y");
    assert_eq!(
        cluster.asked(),
        [format!("leave / []-[\"x\", \"{a}\"] [\"y\"]")]
    );
    // Local operators, a socket's own join and its one-socket operators stay here.
    sim.io.of("/").local().join("z");
    socket_a.join("w");
    socket_a.volatile().emit("e", ());
    assert!(cluster.asked().is_empty());
    assert!(
        sim.io
            .socket("/", b)
            .unwrap()
            .rooms()
            .contains(&"z".to_owned())
    );
    // The count is this node's; the request goes out even with no socket here.
    assert_eq!(sim.io.of("/").to("nobody").disconnect_sockets(true), 0);
    assert_eq!(sim.io.of("/").to("x").disconnect_sockets(false), 1);
    assert_eq!(
        cluster.asked(),
        [
            "disconnect / [\"nobody\"]-[] true",
            "disconnect / [\"x\"]-[] false"
        ]
    );
    assert_eq!(sim.io.of("/").local().disconnect_sockets(false), 1);
    assert!(cluster.asked().is_empty());
    assert_eq!(sim.io.socket_count(), 0);
}

#[test]
fn fetch_sockets_are_this_nodes_then_the_others_even_on_a_timeout() {
    let (sim, cluster, clients) = cluster_sim();
    let (a, b) = (&clients[0].1, &clients[1].1);
    sim.io.of("/").to(a).local().join("r");
    let far = RemoteSocket {
        id: "far".into(),
        handshake: json!({"auth": {}}),
        rooms: vec!["far".into(), "r".into()],
        data: json!({}),
    };
    *lock(&cluster.fetched) = Some(Ok(vec![far.clone()]));
    let sockets = now_or_never(sim.io.of("/").to("r").fetch_sockets());
    let ids: Vec<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [a.as_str(), "far"]);
    assert_eq!(sockets[0].rooms, {
        let mut rooms = vec![a.clone(), "r".to_owned()];
        rooms.sort();
        rooms
    });
    assert_eq!(sockets[0].handshake["auth"], json!({}));
    assert_eq!(sockets[0].data, json!({}));
    assert_eq!(cluster.asked(), ["fetch / [\"r\"]-[]"]);
    // Its JSON data, when it has some (`socket.data`).
    sim.io.socket("/", a).unwrap().set_data(json!({"user": 7}));
    let here = sim.io.of("/").to("r").fetch_sockets_here();
    assert_eq!((here.len(), &here[0].data), (1, &json!({"user": 7})));
    assert!(cluster.asked().is_empty(), "nothing asked of the others");
    // A node did not answer: what came, or the error holding it.
    let timeout = ClusterTimeout {
        message: "timeout reached while waiting for fetchSockets response".to_owned(),
        partial: vec![far.clone()],
    };
    *lock(&cluster.fetched) = Some(Err(timeout.clone()));
    let error = now_or_never(sim.io.of("/").except("r").try_fetch_sockets()).unwrap_err();
    let ids: Vec<&str> = error.partial.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        (error.message, ids),
        (timeout.message, vec![b.as_str(), "far"])
    );
    // Local: this node's only, nothing asked.
    assert_eq!(
        now_or_never(sim.io.of("/").local().fetch_sockets()).len(),
        2
    );
    assert_eq!(cluster.asked(), ["fetch / []-[\"r\"]"]);
    // A remote socket as written in a REMOTE_FETCH answer, and back.
    assert_eq!(RemoteSocket::from_json(far.to_json()), Some(far));
    assert_eq!(RemoteSocket::from_json(json!({"rooms": []})), None);
}

#[test]
fn broadcast_acks_join_this_nodes_and_the_others_under_one_timeout() {
    let (sim, cluster, clients) = cluster_sim();
    let result = Arc::new(Mutex::new(None));
    let ask = |remote: BroadcastAcks| {
        *lock(&cluster.acks) = Some(remote);
        let slot = result.clone();
        sim.io
            .of("/")
            .emit_with_ack("q", json!(1), Duration::from_millis(300), move |r| {
                *lock(&slot) = Some(r)
            });
    };
    let answer = |conn: &MemoryConn, reply: &str| {
        let asked = conn.take_text();
        let id = asked[0][1..].split('[').next().unwrap().to_owned();
        sim.recv(conn, &format!("3{id}[{reply}]"));
    };
    let far = Args::from(json!("far"));
    ask(Ok(vec![far.clone()]));
    assert_eq!(
        cluster.asked(),
        ["ack / []-[] q [Number(1)] 300ms".to_owned()]
    );
    answer(&clients[0].0, "\"a\",\"more\"");
    assert!(lock(&result).is_none(), "b has not answered");
    answer(&clients[1].0, "\"b\"");
    // Each ack cut to its first argument, as the other nodes' come.
    assert_eq!(
        lock(&result).take(),
        Some(Ok(vec![json!("a").into(), json!("b").into(), far.clone()]))
    );
    // The other nodes timed out: so does the whole, with every ack that came.
    ask(Err((AckError::Timeout, vec![far.clone()])));
    answer(&clients[0].0, "\"a\"");
    answer(&clients[1].0, "\"b\"");
    assert_eq!(
        lock(&result).take(),
        Some(Err((
            AckError::Timeout,
            vec![json!("a").into(), json!("b").into(), far.clone()]
        )))
    );
    // This node's part times out (one client is mute): the same.
    ask(Ok(vec![far.clone()]));
    answer(&clients[0].0, "\"a\"");
    sim.advance(Duration::from_millis(300));
    assert_eq!(
        lock(&result).take(),
        Some(Err((AckError::Timeout, vec![json!("a").into(), far])))
    );
    let _ = clients[1].0.take_text();
    assert_eq!(cluster.asked().len(), 2);
    // Local: no request, the acks as they came.
    let local = sim
        .io
        .of("/")
        .local()
        .ack("q", (), Duration::from_millis(300));
    answer(&clients[0].0, "\"a\",2");
    answer(&clients[1].0, "\"b\"");
    assert_eq!(
        now_or_never(local),
        Ok(vec![
            Args::from(vec![json!("a"), json!(2)]),
            json!("b").into()
        ])
    );
    assert!(cluster.asked().is_empty());
}

#[test]
fn server_side_emits_go_to_the_cluster_and_without_one_reach_nobody() {
    let (sim, cluster, _clients) = cluster_sim();
    assert!(sim.io.server_side_emit("chat", "hello", json!(1)));
    let replies = now_or_never(sim.io.server_side_emit_with_ack("/", "ping", ()));
    assert_eq!(replies, Ok(vec![json!("pong")]));
    assert_eq!(
        cluster.asked(),
        [
            "server-side /chat hello [Number(1)]",
            "server-side-ack / ping []"
        ]
    );
    // Another node's server-side events, to this namespace's listeners.
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    sim.io.namespace("/").on_server_side("ping", move |args| {
        lock(&log).push(args.values().to_vec());
        Some(json!({"pong": args.first()}).into())
    });
    assert!(sim.io.listens_server_side("", "ping"));
    assert!(!sim.io.listens_server_side("/", "other") && !sim.io.listens_server_side("/x", "ping"));
    assert_eq!(
        sim.io.handle_server_side_emit("/", "ping", json!(5).into()),
        Some(json!({"pong": 5}).into())
    );
    assert_eq!(
        sim.io.handle_server_side_emit("/", "other", ().into()),
        None
    );
    assert_eq!(*lock(&heard), [vec![json!(5)]]);
    let alone = Sim::new();
    assert!(!alone.io.server_side_emit("/", "hello", ()));
    assert_eq!(
        now_or_never(alone.io.server_side_emit_with_ack("/", "ping", ())),
        Ok(Vec::new())
    );
}
