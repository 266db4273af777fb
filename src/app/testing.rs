//! A test kit: drive a [`SocketIo`] server with in-memory clients on a
//! virtual clock, with no sockets and no runtime.
//!
//! Applications built on the Socket.IO API (the bridge profiles among them)
//! test their routing with it: a [`TestClient`] is an Engine.IO connection
//! that records what the server sends and decodes it back into Socket.IO
//! packets, and a [`ManualClock`] is time that moves only when told.
//!
//! ```
//! use serde_json::json;
//! use siobridge::socketio::testing::{ManualClock, TestClient};
//! use siobridge::socketio::{Config, SocketIo};
//!
//! let clock = ManualClock::new();
//! let io = SocketIo::new(Config::default(), clock.clock());
//! io.namespace("/").on("ping", |socket, args, _| socket.emit("pong", args));
//!
//! let client = TestClient::open(&io);
//! client.connect("/", None).unwrap();
//! client.emit("/", "ping", json!([1]));
//! assert_eq!(client.events("/"), vec![("pong".to_owned(), vec![json!(1)])]);
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Clock, Conn, SocketIo};
use crate::engineio::{CloseReason, Data, SendError, Sid, SidGenerator};
use crate::socketio::v4::Revision;
use crate::socketio::{Decoder, Packet, PacketType};

/// Time that moves only when [`advance`](ManualClock::advance) is called.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A clock standing at an arbitrary instant.
    pub fn new() -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// The [`Clock`] to give [`SocketIo::new`].
    pub fn clock(&self) -> Clock {
        let now = self.now.clone();
        Arc::new(move || *lock(&now))
    }

    /// Moves time forward by `by`, then runs the server's timers that are due
    /// (as the server's timer task would).
    pub fn advance(&self, io: &SocketIo, by: Duration) {
        *lock(&self.now) += by;
        io.handle_timeout();
    }
}

/// An in-memory client: one Engine.IO connection to the server.
///
/// Its outgoing queue is unbounded unless made with
/// [`open_with_capacity`](TestClient::open_with_capacity).
pub struct TestClient {
    io: SocketIo,
    conn: Arc<MemoryConn>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("sid", &self.conn.sid)
            .finish_non_exhaustive()
    }
}

/// An in-memory Engine.IO connection: what the server queues on it is kept
/// in order, up to `capacity` messages (then [`SendError::Full`], as a real
/// session whose buffer is full), until taken. The one fake connection of
/// the project: [`TestClient`], the unit tests and the fuzz targets all
/// drive the server through it.
#[derive(Debug)]
pub struct MemoryConn {
    sid: Sid,
    capacity: usize,
    sent: Mutex<Vec<Data>>,
    closed: AtomicBool,
    /// [`end`](Self::end) was called: the server was told the connection
    /// ended, and must not touch it again.
    ended: AtomicBool,
    misuses: AtomicU64,
    /// Whether [`Conn::wake`] is taken (see [`waking`](Self::waking)), and
    /// how many times it was called.
    wakes: Option<AtomicU64>,
    revision: Revision,
}

impl MemoryConn {
    /// A connection with session id `sid` holding at most `capacity`
    /// messages.
    pub fn new(sid: Sid, capacity: usize) -> MemoryConn {
        MemoryConn {
            sid,
            capacity,
            sent: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            misuses: AtomicU64::new(0),
            wakes: None,
            revision: Revision::V5,
        }
    }

    /// A connection of a client speaking socket.io-protocol `revision`
    /// (v4: a socket.io 2.x client over Engine.IO v3).
    pub fn with_revision(mut self, revision: Revision) -> MemoryConn {
        self.revision = revision;
        self
    }

    /// A connection that takes [`Conn::wake`], as a real session does: the
    /// server then holds broadcasts for it until [`SocketIo::flush`] is
    /// called for it (the test plays the driver).
    pub fn waking(mut self) -> MemoryConn {
        self.wakes = Some(AtomicU64::new(0));
        self
    }

    /// How many times the server asked this connection to wake.
    pub fn wakes(&self) -> u64 {
        self.wakes.as_ref().map_or(0, |w| w.load(Ordering::SeqCst))
    }

    /// Marks the connection ended, as the transport does before it calls
    /// [`SocketIo::handle_close`]: from now on every send or close is a
    /// misuse, counted by [`misuses`](Self::misuses).
    pub fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Sends and closes the server attempted after [`end`](Self::end).
    pub fn misuses(&self) -> u64 {
        self.misuses.load(Ordering::SeqCst)
    }

    /// Takes every message queued so far, in order.
    pub fn take(&self) -> Vec<Data> {
        std::mem::take(&mut *lock(&self.sent))
    }

    /// Takes every message queued so far, text as is and binary as
    /// `<N bytes>`.
    pub fn take_text(&self) -> Vec<String> {
        self.take()
            .into_iter()
            .map(|d| match d {
                Data::Text(t) => t.to_string(),
                Data::Binary(b) => format!("<{} bytes>", b.len()),
            })
            .collect()
    }

    /// Messages queued and not taken.
    pub fn queued(&self) -> usize {
        lock(&self.sent).len()
    }

    /// Whether the server closed the connection (or [`Conn::close`] was
    /// called).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

impl Conn for MemoryConn {
    fn sid(&self) -> Sid {
        self.sid
    }

    fn send(&self, data: Data) -> Result<(), SendError> {
        if self.ended.load(Ordering::SeqCst) {
            self.misuses.fetch_add(1, Ordering::SeqCst);
        }
        if self.closed.load(Ordering::Relaxed) {
            return Err(SendError::Closed);
        }
        let mut sent = lock(&self.sent);
        if sent.len() >= self.capacity {
            return Err(SendError::Full);
        }
        sent.push(data);
        Ok(())
    }

    fn close(&self) {
        if self.ended.load(Ordering::SeqCst) {
            self.misuses.fetch_add(1, Ordering::SeqCst);
        }
        self.closed.store(true, Ordering::Relaxed);
    }

    fn revision(&self) -> Revision {
        self.revision
    }

    fn wake(&self) -> bool {
        match &self.wakes {
            Some(wakes) => {
                wakes.fetch_add(1, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

/// Engine.IO session ids for test clients: distinct across every server of
/// the process.
fn next_sid() -> Sid {
    static SEED: AtomicU64 = AtomicU64::new(1);
    let n = SEED.fetch_add(1, Ordering::Relaxed);
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    SidGenerator::new(Some(seed)).next_sid()
}

impl TestClient {
    /// Opens an Engine.IO connection to `io` (not yet in any namespace).
    pub fn open(io: &SocketIo) -> TestClient {
        TestClient::open_with_capacity(io, usize::MAX)
    }

    /// Opens a connection whose outgoing queue holds at most `capacity`
    /// messages, to test slow consumers.
    pub fn open_with_capacity(io: &SocketIo, capacity: usize) -> TestClient {
        let conn = Arc::new(MemoryConn::new(next_sid(), capacity));
        io.handle_open(conn.clone());
        TestClient {
            io: io.clone(),
            conn,
        }
    }

    /// Sends one raw Socket.IO packet, as text.
    pub fn send_raw(&self, text: &str) {
        self.io.handle_message(self.conn.sid, Data::from(text));
    }

    /// Sends `packet` (with its attachments).
    pub fn send(&self, packet: &Packet) {
        self.io
            .handle_message(self.conn.sid, Data::from(packet.encode()));
        for attachment in &packet.attachments {
            self.io
                .handle_message(self.conn.sid, Data::Binary(attachment.clone()));
        }
    }

    /// Joins `namespace` with `auth` (socket.io-client's `auth` option): the
    /// socket id, or the CONNECT_ERROR payload (`{"message", "data"?}`).
    /// Other packets the server sent meanwhile stay queued.
    pub fn connect(&self, namespace: &str, auth: Option<Value>) -> Result<String, Value> {
        self.connect_answer(namespace, auth).map(|answer| {
            answer
                .get("sid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
    }

    /// [`connect`](Self::connect), giving the whole CONNECT answer's
    /// payload: `{"sid"}`, and `"pid"` with connection state recovery on.
    pub fn connect_answer(&self, namespace: &str, auth: Option<Value>) -> Result<Value, Value> {
        self.send(&Packet::connect(namespace, auth));
        let mut answer = None;
        self.retain_packets(|packet| {
            let mine = packet.namespace == namespace
                && matches!(packet.kind, PacketType::Connect | PacketType::ConnectError);
            if mine && answer.is_none() {
                answer = Some(packet.clone());
                return false;
            }
            true
        });
        match answer {
            Some(p) if p.kind == PacketType::Connect => Ok(p.data.unwrap_or(Value::Null)),
            Some(p) => Err(p.data.unwrap_or(Value::Null)),
            None => Err(Value::Null),
        }
    }

    /// Emits `event` on `namespace` with `args` (a JSON array: the event's
    /// arguments; any other value is sent as the one argument).
    pub fn emit(&self, namespace: &str, event: &str, args: Value) {
        let mut values = vec![Value::from(event)];
        match args {
            Value::Array(args) => values.extend(args),
            other => values.push(other),
        }
        self.send(&Packet::event(namespace, values, None));
    }

    /// Leaves `namespace` (a DISCONNECT packet).
    pub fn disconnect(&self, namespace: &str) {
        self.send(&Packet::disconnect(namespace));
    }

    /// Ends the Engine.IO connection, as a closed transport does.
    pub fn close(&self) {
        self.conn.close();
        self.io
            .handle_close(self.conn.sid, CloseReason::TransportClose);
    }

    /// Whether the server closed (or this client ended) the connection.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// Takes every packet the server sent so far, decoded.
    pub fn take_packets(&self) -> Vec<Packet> {
        let sent = self.conn.take();
        let mut decoder = Decoder::default();
        sent.into_iter()
            .filter_map(|data| match data {
                Data::Text(text) => decoder.decode_text(&text).ok().flatten(),
                Data::Binary(bytes) => decoder.decode_binary(bytes).ok().flatten(),
            })
            .collect()
    }

    /// Takes the events the server sent on `namespace` so far, as
    /// `(name, arguments)`, in order. Packets of other namespaces are kept.
    pub fn events(&self, namespace: &str) -> Vec<(String, Vec<Value>)> {
        let mut events = Vec::new();
        self.retain_packets(|packet| {
            let is_event = packet.namespace == namespace
                && matches!(packet.kind, PacketType::Event | PacketType::BinaryEvent);
            if !is_event {
                return true;
            }
            if let Some(Value::Array(values)) = &packet.data
                && let Some((name, args)) = values.split_first()
            {
                let name = name.as_str().unwrap_or_default().to_owned();
                events.push((name, args.to_vec()));
            }
            false
        });
        events
    }

    /// Takes the events sent on `namespace` so far, each with its one
    /// argument (`null` for an event sent with none): the shape of
    /// applications whose events carry a single payload.
    pub fn messages(&self, namespace: &str) -> Vec<(String, Value)> {
        self.events(namespace)
            .into_iter()
            .map(|(name, args)| (name, args.into_iter().next().unwrap_or(Value::Null)))
            .collect()
    }

    /// Decodes what was sent, hands each packet to `keep`, and puts back the
    /// ones it keeps.
    fn retain_packets(&self, mut keep: impl FnMut(&Packet) -> bool) {
        let packets = self.take_packets();
        let mut sent = lock(&self.conn.sent);
        let kept: Vec<Data> = packets
            .into_iter()
            .filter(|p| keep(p))
            .flat_map(|p| {
                let mut data = vec![Data::from(p.encode())];
                data.extend(p.attachments.iter().cloned().map(Data::Binary));
                data
            })
            .collect();
        // What arrived while decoding stays after what was kept.
        let later = std::mem::replace(&mut *sent, kept);
        sent.extend(later);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::socketio::Config;

    #[test]
    fn per_socket_data_lives_as_long_as_the_socket() {
        #[derive(Debug, PartialEq)]
        struct User(&'static str);
        let io = SocketIo::new(Config::default(), ManualClock::new().clock());
        io.namespace("/")
            .on_connect(|socket| socket.set_data(User("ann")))
            .on("whoami", |socket, _, _| {
                let user = socket.data::<User>().map(|u| u.0).unwrap_or("nobody");
                socket.emit("you", Value::from(user));
            });
        let client = TestClient::open(&io);
        let id = client.connect("/", None).unwrap();
        client.emit("/", "whoami", json!([]));
        assert_eq!(client.events("/"), [("you".to_owned(), vec![json!("ann")])]);
        let socket = io.socket("/", &id).expect("connected");
        assert_eq!(socket.data::<User>().as_deref(), Some(&User("ann")));
        assert!(socket.data::<String>().is_none(), "typed: no String stored");
        client.close();
        assert!(socket.data::<User>().is_none());
        assert!(io.socket("/", &id).is_none());
    }

    #[test]
    fn socket_lookup_is_by_id_within_the_namespace() {
        let io = SocketIo::new(Config::default(), ManualClock::new().clock());
        io.namespace("/");
        io.namespace("/other");
        let client = TestClient::open(&io);
        let id = client.connect("/", None).unwrap();
        assert!(io.socket("/", &id).is_some());
        assert!(io.socket("/other", &id).is_none());
        assert!(io.socket("/", "not-an-id").is_none());
    }

    #[test]
    fn ack_futures_resolve_with_the_answer_or_the_timeout() {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};

        use crate::socketio::{AckError, Args, Packet};

        fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
            std::pin::Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
        }
        let clock = ManualClock::new();
        let io = SocketIo::new(Config::default(), clock.clock());
        io.namespace("/");
        let client = TestClient::open(&io);
        let id = client.connect("/", None).unwrap();
        let socket = io.socket("/", &id).unwrap();

        let mut answered = socket.ack("q", json!(1), Duration::from_secs(5));
        assert!(poll(&mut answered).is_pending());
        let asked = client.take_packets().pop().unwrap();
        client.send(&Packet::ack("/", vec![json!("yes")], asked.ack_id.unwrap()));
        match poll(&mut answered) {
            Poll::Ready(Ok(args)) => assert_eq!(args.first(), Some(&json!("yes"))),
            other => panic!("{:?}", other.map(|r| r.map(|a: Args| a.len()))),
        }

        let mut late = socket.ack("q", json!(2), Duration::from_secs(5));
        clock.advance(&io, Duration::from_secs(4));
        assert!(poll(&mut late).is_pending());
        clock.advance(&io, Duration::from_secs(1));
        assert!(matches!(
            poll(&mut late),
            Poll::Ready(Err(AckError::Timeout))
        ));
    }

    #[test]
    fn a_refusal_on_a_full_queue_drops_the_client() {
        let io = SocketIo::new(Config::default(), ManualClock::new().clock());
        io.namespace("/");
        let client = TestClient::open_with_capacity(&io, 0);
        assert!(client.connect("/nope", None).is_err());
        assert!(client.is_closed(), "the CONNECT_ERROR could not be queued");
        assert_eq!(io.slow_consumers_dropped(), 1);
    }
}
