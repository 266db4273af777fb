//! The Socket.IO server (socket.io-protocol v5, "Exchange protocol"): one
//! `SocketIo` on a virtual clock, with namespaces `/`, `/admin` (connect
//! middleware) and the dynamic family `/dyn-*`, whose handlers emit, ack,
//! ask for acks, join and leave rooms, broadcast, send volatile messages,
//! disconnect and close; driven by a script of Engine.IO connections
//! opening, sending text and binary messages, closing and reading, of
//! server-side emits, and of time steps (see `src/sio_script.rs`).
//! Consecutive messages from one client go in as one batch
//! (`SocketIo::handle_messages`), as from one read of its connection.
//! A connection opened with the top bit of its capacity byte takes wakes
//! (`MemoryConn::waking`): broadcasts wait for it in the server until the
//! client's next read flushes them, as the server's own driver does.
//! Scripts of an odd number of steps run with connection state recovery
//! on (every emit logged with its offset, sessions kept for the window,
//! the sweep), so the existing seeds cover both.
//!
//! Checks:
//! - no panic, no deadlock (a hang is reported by libFuzzer's `-timeout`);
//! - every message the server sends decodes as a Socket.IO packet, in an
//!   order a client accepts (CONNECT before anything else on a namespace,
//!   nothing after DISCONNECT, no CONNECT twice);
//! - a closed connection stays closed: after `handle_close` the server
//!   never sends on it nor closes it again;
//! - the connections are the test kit's `MemoryConn`, bounded: a full queue
//!   is refused, and the client is dropped as a slow consumer;
//! - the server's socket count always equals connects minus disconnects
//!   seen by the handlers; no handler runs for a socket that left;
//! - every ack callback runs exactly once: once every connection ends and
//!   time passes every timeout, none is pending, no socket is left and no
//!   timer is armed.
#![no_main]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use siobridge::engineio::{CloseReason, Data, Sid};
use siobridge::socketio::testing::MemoryConn;
use siobridge::socketio::{
    Args, Clock, Config, Conn, ConnectError, Decoder, Limits, Namespace, PacketType,
    RecoveryConfig, Socket, SocketIo, decode_text,
};
use siobridge_fuzz::sio_script::{SLOTS, Script, Step};

/// How long the server-side acks wait.
const ACK_TIMEOUT: Duration = Duration::from_millis(1000);

fuzz_target!(|script: Script| {
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{script:#?}");
    }
    let mut h = Harness::new(script.steps.len() % 2 == 1);
    let mut steps = script.steps.iter().peekable();
    while let Some(step) = steps.next() {
        // Messages in a row from one client arrive as one batch, as from
        // one read of its connection (the server's write combining).
        match message_slot(step) {
            Some(slot) => {
                let mut batch = vec![step];
                while let Some(next) = steps
                    .next_if(|s| message_slot(s).is_some_and(|other| other % SLOTS == slot % SLOTS))
                {
                    batch.push(next);
                }
                h.messages(slot, &batch);
            }
            None => h.step(step),
        }
        h.settle();
        h.check();
    }
    h.finish();
});

/// The slot of a client message step.
fn message_slot(step: &Step) -> Option<u8> {
    match step {
        Step::Text { slot, .. } | Step::Binary { slot, .. } => Some(*slot),
        _ => None,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the handlers saw.
#[derive(Default)]
struct Model {
    connected: HashSet<String>,
    left: HashSet<String>,
    pending_acks: usize,
}

/// The client end of one connection: decodes what the server sent.
struct Client {
    conn: Arc<MemoryConn>,
    decoder: Decoder,
    namespaces: HashSet<String>,
}

impl Client {
    /// The client sends `text`: when it leaves a namespace, what the server
    /// sent before is still valid, anything later on it is not.
    fn sends(&mut self, text: &str) {
        if let Ok(header) = decode_text(text, &Limits::default())
            && header.kind == PacketType::Disconnect
        {
            self.read();
            self.namespaces.remove(&header.namespace);
        }
    }

    fn read(&mut self) {
        let messages: Vec<Data> = self.conn.take();
        for message in messages {
            let decoded = match message {
                Data::Text(t) => self.decoder.decode_text(&t),
                Data::Binary(b) => self.decoder.decode_binary(b),
            };
            let packet = match decoded {
                Ok(Some(packet)) => packet,
                Ok(None) => continue,
                Err(e) => panic!("the server sent a malformed packet: {e}"),
            };
            let ns = packet.namespace.clone();
            match packet.kind {
                PacketType::Connect => {
                    assert!(self.namespaces.insert(ns), "CONNECT twice");
                }
                PacketType::Disconnect => {
                    assert!(
                        self.namespaces.remove(&ns),
                        "DISCONNECT while not connected"
                    );
                }
                PacketType::ConnectError => {
                    assert!(
                        !self.namespaces.contains(&ns),
                        "CONNECT_ERROR while connected"
                    );
                }
                kind => assert!(
                    self.namespaces.contains(&ns),
                    "{kind} on {ns} before CONNECT"
                ),
            }
        }
    }
}

struct Harness {
    io: SocketIo,
    now: Arc<Mutex<Instant>>,
    woken: Arc<AtomicBool>,
    model: Arc<Mutex<Model>>,
    slots: Vec<Option<Client>>,
    opened: u32,
}

/// The client's view of server output: generous limits, since the server
/// echoes what clients sent within theirs.
fn client_limits() -> Limits {
    Limits::default()
        .with_max_attachments(1_000)
        .with_max_json_depth(127)
        .with_max_event_name_len(1 << 20)
        .with_max_namespace_len(1 << 20)
}

impl Harness {
    fn new(recovery: bool) -> Harness {
        let now = Arc::new(Mutex::new(Instant::now()));
        let clock: Clock = {
            let now = now.clone();
            Arc::new(move || *lock(&now))
        };
        let mut config = Config::default()
            .with_connect_timeout(Duration::from_millis(2000))
            .with_rng_seed([5; 32]);
        if recovery {
            config =
                config.with_state_recovery(RecoveryConfig::with_window(Duration::from_secs(5)));
        }
        let io = SocketIo::new(config, clock);
        let woken = Arc::new(AtomicBool::new(false));
        {
            let woken = woken.clone();
            io.set_timer_waker(move || woken.store(true, Ordering::SeqCst));
        }
        let model = Arc::new(Mutex::new(Model::default()));
        register(&io.namespace("/"), &model);
        let admin = io.namespace("/admin");
        admin.use_middleware(|handshake| match handshake.auth.get("token") {
            Some(Value::String(t)) if t == "deny" => {
                Err(ConnectError::new("denied")
                    .with_data(json!({ "auth": handshake.auth.clone() })))
            }
            _ => Ok(()),
        });
        register(&admin, &model);
        register(&io.dynamic_namespace(|n| n.starts_with("/dyn-")), &model);
        Harness {
            io,
            now,
            woken,
            model,
            slots: (0..SLOTS).map(|_| None).collect(),
            opened: 0,
        }
    }

    fn slot(&self, slot: u8) -> usize {
        usize::from(slot % SLOTS)
    }

    /// The sid of the connection in `slot`, or one never opened.
    fn sid(&self, slot: u8) -> Sid {
        match &self.slots[self.slot(slot)] {
            Some(client) => client.conn.sid(),
            None => sid_for(u32::MAX),
        }
    }

    /// Text and binary messages from the client in `slot`, handed over as
    /// one batch. The model reads what the server sent before each
    /// DISCONNECT the client sends (see [`Client::sends`]), so the batch is
    /// cut in front of each DISCONNECT: what came before it is handled
    /// first, as the client saw it.
    fn messages(&mut self, slot: u8, batch: &[&Step]) {
        let sid = self.sid(slot);
        let mut messages = Vec::with_capacity(batch.len());
        for step in batch {
            match step {
                Step::Text { text, .. } => {
                    let leaves = decode_text(text, &Limits::default())
                        .is_ok_and(|h| h.kind == PacketType::Disconnect);
                    if leaves {
                        self.io.handle_messages(sid, messages.drain(..));
                        self.flush(slot);
                    }
                    if let Some(client) = &mut self.slots[usize::from(slot % SLOTS)] {
                        client.sends(text);
                    }
                    messages.push(Data::from(text.as_str()));
                }
                Step::Binary { bytes, .. } => messages.push(Data::from(bytes.clone())),
                _ => {}
            }
        }
        self.io.handle_messages(sid, messages);
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Open { slot, capacity } => {
                let i = self.slot(*slot);
                if let Some(old) = self.slots[i].take() {
                    self.end(old);
                }
                self.opened += 1;
                let conn = MemoryConn::new(sid_for(self.opened), 1 + usize::from(capacity % 16));
                // The top bit: a connection that takes wakes, as the
                // server's sessions do (broadcasts wait in the machine until
                // the driver flushes, on the client's next read here).
                let conn = Arc::new(if capacity & 0x80 != 0 {
                    conn.waking()
                } else {
                    conn
                });
                self.io.handle_open(conn.clone());
                self.slots[i] = Some(Client {
                    conn,
                    decoder: Decoder::new(client_limits()),
                    namespaces: HashSet::new(),
                });
            }
            Step::Text { slot, text } => {
                self.flush(*slot);
                if let Some(client) = &mut self.slots[usize::from(slot % SLOTS)] {
                    client.sends(text);
                }
                self.io
                    .handle_message(self.sid(*slot), Data::from(text.as_str()));
            }
            Step::Binary { slot, bytes } => {
                self.io
                    .handle_message(self.sid(*slot), Data::from(bytes.clone()));
            }
            Step::EngineClosed { slot } => {
                let i = self.slot(*slot);
                if let Some(client) = self.slots[i].take() {
                    self.end(client);
                }
            }
            Step::Read { slot } => {
                self.flush(*slot);
                if let Some(client) = &mut self.slots[usize::from(slot % SLOTS)] {
                    client.read();
                }
            }
            Step::Advance(ms) => {
                *lock(&self.now) += Duration::from_millis(u64::from(*ms));
                self.io.handle_timeout();
            }
            Step::Deadline => {
                if let Some(at) = self.io.poll_timeout() {
                    let mut now = lock(&self.now);
                    *now = (*now).max(at);
                    drop(now);
                    self.io.handle_timeout();
                }
            }
            Step::ServerEmit(what) => self.server_emit(*what),
        }
    }

    /// The driver of a connection that was woken flushes what the server
    /// holds for it. Done before the client reads, and before it sends
    /// DISCONNECT: what the server had queued by then is in flight, as
    /// what a connection that takes no wakes already holds.
    fn flush(&self, slot: u8) {
        if let Some(client) = &self.slots[self.slot(slot)]
            && client.conn.wakes() > 0
        {
            self.io.flush(client.conn.sid());
        }
    }

    /// The Engine.IO connection ends: the driver reports it once.
    fn end(&mut self, mut client: Client) {
        client.read();
        client.conn.end();
        self.io
            .handle_close(client.conn.sid(), CloseReason::TransportClose);
        assert_eq!(
            client.conn.misuses(),
            0,
            "the server used an ended connection"
        );
    }

    fn server_emit(&mut self, what: u8) {
        let ns = ["/", "/admin", "/dyn-1"][usize::from(what % 3)];
        let ops = self.io.of(ns);
        match (what / 3) % 6 {
            0 => {
                ops.emit("news", json!({ "n": what }));
            }
            1 => {
                ops.to("r")
                    .except("quiet")
                    .emit("room", Args::new().arg(1).bytes(vec![what]));
            }
            2 => {
                ops.volatile()
                    .emit("tick", Args::new().bytes(vec![1, 2]).bytes(vec![3]));
            }
            3 => {
                lock(&self.model).pending_acks += 1;
                let model = self.model.clone();
                ops.emit_with_ack("poll", json!([what]), ACK_TIMEOUT, move |_| {
                    lock(&model).pending_acks -= 1;
                });
            }
            4 => ops.to("r").join("quiet"),
            _ => ops.leave("r"),
        }
    }

    /// Runs what the server deferred to its timer task, as the driver does
    /// when woken.
    fn settle(&mut self) {
        while self.woken.swap(false, Ordering::SeqCst) {
            self.io.handle_timeout();
        }
    }

    fn check(&self) {
        let model = lock(&self.model);
        assert_eq!(
            self.io.socket_count(),
            model.connected.len(),
            "socket count and handler calls disagree"
        );
    }

    /// Every connection ends and time passes every timeout: nothing may be
    /// left behind.
    fn finish(&mut self) {
        for i in 0..self.slots.len() {
            if let Some(client) = self.slots[i].take() {
                self.end(client);
            }
        }
        *lock(&self.now) += ACK_TIMEOUT + Duration::from_secs(3600);
        self.io.handle_timeout();
        self.settle();
        self.check();
        let model = lock(&self.model);
        assert_eq!(self.io.socket_count(), 0, "sockets left");
        assert_eq!(model.pending_acks, 0, "ack callbacks never called");
        assert_eq!(self.io.poll_timeout(), None, "timers left");
        assert_eq!(
            self.io.recovery_kept(),
            Default::default(),
            "recovery kept something past its window"
        );
    }
}

fn sid_for(n: u32) -> Sid {
    Sid::parse(&format!("fuzzconn{n:012}")).expect("20 alphanumerics")
}

/// Handlers that exercise every path of the API a handler can take.
fn register(ns: &Namespace, model: &Arc<Mutex<Model>>) {
    let m = model.clone();
    ns.on_connect(move |socket| {
        assert!(
            lock(&m).connected.insert(socket.id().to_owned()),
            "connected twice"
        );
        socket.join("r");
        // Not on `/admin`: there, nothing but the CONNECT answer follows a
        // connection, as in an application without a welcome message.
        if socket.namespace() != "/admin" {
            socket.emit("welcome", Args::new().arg(socket.id()));
        }
    });
    let m = model.clone();
    ns.on_disconnect(move |socket, _reason| {
        let mut model = lock(&m);
        assert!(
            model.connected.remove(socket.id()),
            "left without connecting"
        );
        model.left.insert(socket.id().to_owned());
    });
    let on = |name: &str, f: fn(&Socket, Args, &Arc<Mutex<Model>>)| {
        let m = model.clone();
        ns.on(name, move |socket, args, ack| {
            assert!(
                !lock(&m).left.contains(socket.id()),
                "event for a socket that left"
            );
            f(socket, args.clone(), &m);
            if let Some(ack) = ack {
                ack.send(args);
            }
        });
    };
    on("echo", |s, args, _| s.emit("echo", args));
    on("join", |s, args, _| {
        s.join(first_str(&args).unwrap_or("r2"))
    });
    on("leave", |s, args, _| {
        s.leave(first_str(&args).unwrap_or("r"))
    });
    on("room", |s, args, _| {
        s.to("r").emit("room", args);
    });
    on("others", |s, args, _| {
        s.broadcast().emit("others", args);
    });
    on("volatile", |s, args, _| {
        s.volatile().emit("volatile", args);
    });
    on("ask", |s, args, m| {
        lock(m).pending_acks += 1;
        let m = m.clone();
        s.emit_with_ack("ask", args, ACK_TIMEOUT, move |_| {
            lock(&m).pending_acks -= 1
        });
    });
    on("askall", |s, args, m| {
        lock(m).pending_acks += 1;
        let m = m.clone();
        s.broadcast()
            .emit_with_ack("askall", args, ACK_TIMEOUT, move |_| {
                lock(&m).pending_acks -= 1
            });
    });
    on("bye", |s, _, _| s.disconnect());
    on("close", |s, _, _| s.close_connection());
    on("binary", |s, args, _| {
        s.emit(
            "binary",
            Args::new().bytes(Bytes::from(format!("{:?}", args.values()))),
        );
    });
    let m = model.clone();
    ns.on_any(move |socket, _name, args, ack| {
        assert!(
            !lock(&m).left.contains(socket.id()),
            "event for a socket that left"
        );
        if let Some(ack) = ack {
            ack.send(args);
        }
    });
}

fn first_str(args: &Args) -> Option<&str> {
    args.first().and_then(Value::as_str)
}
