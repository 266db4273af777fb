//! The Socket.IO server: namespaces, sockets, rooms, events and acks, over
//! Engine.IO connections, with no I/O of its own.
//!
//! socket.io-protocol v5, "Exchange protocol": a client connects to
//! namespaces with CONNECT (answered CONNECT with the socket id, or
//! CONNECT_ERROR), then exchanges EVENT / ACK (and their BINARY_ forms) and
//! leaves with DISCONNECT.
//!
//! The server is driven from outside: an Engine.IO connection is handed in as
//! a [`Conn`] ([`SocketIo::handle_open`]), its messages with
//! [`SocketIo::handle_message`], its end with [`SocketIo::handle_close`], and
//! time with [`SocketIo::handle_timeout`] at [`SocketIo::poll_timeout`]. Time
//! comes from an injected [`Clock`], so tests run on a virtual clock.
//!
//! Application code (connect middleware, event handlers, ack callbacks) is
//! never called while the server's state is locked, so it may call back into
//! the API freely. Calls for one client happen in the order its packets came.

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::ack_future::{AckFuture, ack_future};
use super::adapter::{Adapter, InMemoryAdapter};
use super::args::Args;
use super::binary::Decoder;
use super::msgpack;
use super::outbox::{Outbox, Queued, Receiver, Target};
use super::packet::{Packet, PacketType};
use super::parse::{DecodeError, Limits};
use super::rate::{RateLimit, TokenBucket};
use super::v4::{self, Revision};
use crate::engineio::{CloseReason, Data, SendError, Sid, SidGenerator, Text};
use crate::id_hash::IdMap;

/// The Engine.IO connection under one client, as the Socket.IO layer sees it.
pub trait Conn: Send + Sync + 'static {
    /// The Engine.IO session id.
    fn sid(&self) -> Sid;
    /// Queues one Engine.IO message.
    fn send(&self, data: Data) -> Result<(), SendError>;
    /// Queues one Engine.IO message of a volatile packet: only if the client
    /// can take it now, [`SendError::NotWritable`] otherwise
    /// ([`Session::send_volatile`](crate::engineio::Session::send_volatile)).
    /// By default, as [`send`](Conn::send).
    fn send_volatile(&self, data: Data) -> Result<(), SendError> {
        self.send(data)
    }
    /// Closes the Engine.IO connection.
    fn close(&self);
    /// The HTTP request that opened the connection, when the transport
    /// knows it (for [`SocketIo::socket_infos`]). By default, unknown.
    fn info(&self) -> Option<Arc<ConnInfo>> {
        None
    }
    /// The transport in use now, as the reference names it (`"polling"`,
    /// `"websocket"`), when the transport knows it. By default, unknown.
    fn transport(&self) -> Option<&'static str> {
        None
    }
    /// The client's IP address, when the transport knows it (it becomes
    /// [`Handshake::address`]). Default `None`.
    fn address(&self) -> Option<IpAddr> {
        None
    }
    /// The client's Socket.IO protocol revision ([`v4`]). Default v5.
    fn revision(&self) -> Revision {
        Revision::V5
    }
}

/// The HTTP request that opened an Engine.IO connection: the part of the
/// reference server's `socket.handshake` that is not the CONNECT payload
/// (`headers`, `address`, `url`, `secure`, `issued`). Made by the transport
/// (the `server` module), read by tools such as the admin UI's `/admin`
/// namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnInfo {
    /// The request headers, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The client's address (its IP, without the port).
    pub address: String,
    /// The request target: path and query (`/socket.io/?EIO=4&...`).
    pub url: String,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// When the connection opened, in milliseconds since the Unix epoch.
    pub issued_ms: u64,
}

/// A copy of one socket's state, for tools that list sockets
/// ([`SocketIo::socket_infos`]) or watch them ([`SocketIo::set_observer`]).
#[derive(Debug, Clone)]
pub struct SocketInfo {
    /// The socket id.
    pub id: Arc<str>,
    /// Its namespace.
    pub namespace: Arc<str>,
    /// The Engine.IO session id of its client.
    pub client: Sid,
    /// The transport in use, when known ([`Conn::transport`]).
    pub transport: Option<&'static str>,
    /// What the socket connected with (the CONNECT payload).
    pub handshake: Arc<Handshake>,
    /// The HTTP request that opened its connection, when known.
    pub request: Option<Arc<ConnInfo>>,
    /// The rooms it is in, its own id room included, sorted.
    pub rooms: Vec<String>,
}

/// A change of who is connected or in which room, told to the observer set
/// with [`SocketIo::set_observer`]: the reference's namespace `connection`
/// and socket `disconnect` events and its adapter's `join-room` and
/// `leave-room` events.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SocketEvent {
    /// A socket connected (in its own id room only, so far).
    Connected(SocketInfo),
    /// A socket left its namespace, with the reason.
    Disconnected {
        /// Its namespace.
        namespace: Arc<str>,
        /// The socket id.
        id: Arc<str>,
        /// Why.
        reason: DisconnectReason,
    },
    /// A socket joined a room it was not in.
    Joined {
        /// Its namespace.
        namespace: Arc<str>,
        /// The socket id.
        id: Arc<str>,
        /// The room.
        room: String,
    },
    /// A socket left a room it was in (on disconnect too: every room it was
    /// in, after its [`Disconnected`](SocketEvent::Disconnected)).
    Left {
        /// Its namespace.
        namespace: Arc<str>,
        /// The socket id.
        id: Arc<str>,
        /// The room.
        room: String,
    },
    /// A socket sent an event (told only with
    /// [`SocketIo::set_observe_events`]), before its handler runs.
    EventReceived {
        /// Its namespace.
        namespace: Arc<str>,
        /// The socket id.
        id: Arc<str>,
        /// The event name, then its arguments (binary ones as their
        /// placeholders), as the reference's `onAny` gets them.
        args: Vec<Value>,
    },
    /// An event was emitted to one socket with [`Socket::emit`] or
    /// [`Socket::emit_with_ack`] (told only with
    /// [`SocketIo::set_observe_events`]; broadcasts are not, as the
    /// reference's `onAnyOutgoing`).
    EventSent {
        /// Its namespace.
        namespace: Arc<str>,
        /// The socket id.
        id: Arc<str>,
        /// The event name, then its arguments.
        args: Vec<Value>,
    },
    /// The connection under a socket changed transport
    /// ([`SocketIo::handle_upgrade`]); told for each socket of the client.
    Upgraded {
        /// Its namespace.
        namespace: Arc<str>,
        /// The socket id.
        id: Arc<str>,
        /// The transport now (`"websocket"`), when known.
        transport: Option<&'static str>,
    },
}

type Observer = Arc<dyn Fn(&SocketIo, SocketEvent) + Send + Sync>;

/// Where the server reads the time. The `server` module passes
/// `Instant::now`; tests pass a virtual clock.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Settings of the Socket.IO layer.
///
/// # Defaults
/// `connectTimeout` 45 s, as the reference server; the decoder limits of
/// [`Limits::default`]; at most 100 namespaces per client; no event rate
/// limit. `docs/limits.md` lists every limit with the attack it stops.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// How long a client may stay connected at the Engine.IO level without
    /// joining any namespace before it is closed. Default 45 s. Bounds
    /// connections that hold a session and never speak Socket.IO.
    pub connect_timeout: Duration,
    /// Limits of the packet decoder (attachments, nesting, name lengths).
    pub limits: Limits,
    /// Most namespaces one client (one Engine.IO session) may be connected
    /// to at once. Default 100 (reference: unbounded). Stops a client from
    /// creating sockets without bound through dynamic namespaces (each
    /// CONNECT to `/dyn-1`, `/dyn-2`, ... is a new socket with its own state).
    /// A CONNECT over the cap is answered CONNECT_ERROR
    /// `{"message":"Too many namespaces"}`; the client stays connected.
    pub max_namespaces_per_client: usize,
    /// Most events (EVENT and BINARY_EVENT packets) one socket may send:
    /// a token bucket of `burst` events refilled at `per_second`. Default
    /// `None`, no limit (the reference has none). Stops one client from
    /// flooding the application's handlers. A socket over the limit is
    /// disconnected from its namespace: it gets DISCONNECT (socket.io-client
    /// reports "io server disconnect" and does not reconnect by itself), the
    /// event is not delivered, the socket ends with
    /// [`DisconnectReason::RateLimited`], and [`SocketIo::rate_limited`]
    /// counts it.
    pub event_rate_limit: Option<RateLimit>,
    /// Seed of the socket-id generator; `None` seeds from the OS.
    pub rng_seed: Option<[u8; 32]>,
    /// How packets are written in Engine.IO messages, for every client of
    /// the server (the reference server's `parser` option). Default
    /// [`Parser::Json`].
    pub parser: Parser,
}

/// The Socket.IO parser of a server (socket.io-protocol v5, "Packet
/// encoding"; the reference server's `parser` option): every client must
/// use the same one, as with the reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Parser {
    /// The default parser (`socket.io-parser`): text packets, binary parts
    /// as attachments in the binary messages that follow.
    #[default]
    Json,
    /// `socket.io-msgpack-parser` (and python-socketio's `msgpack`
    /// serializer): each packet one binary message in MessagePack (see
    /// [`msgpack`]), binary values inline.
    Msgpack,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout: Duration::from_secs(45),
            limits: Limits::default(),
            max_namespaces_per_client: 100,
            event_rate_limit: None,
            rng_seed: None,
            parser: Parser::Json,
        }
    }
}

impl Config {
    /// Sets `connect_timeout`.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets `parser`.
    pub fn with_parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// Sets `event_rate_limit`: `per_second` events a second, `burst` at once.
    pub fn with_event_rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.event_rate_limit = Some(RateLimit::new(per_second, burst));
        self
    }

    /// Sets `max_namespaces_per_client`.
    pub fn with_max_namespaces_per_client(mut self, max: usize) -> Self {
        self.max_namespaces_per_client = max;
        self
    }

    /// Sets the socket-id seed.
    pub fn with_rng_seed(mut self, seed: [u8; 32]) -> Self {
        self.rng_seed = Some(seed);
        self
    }
}

/// A refusal from connect middleware: the client gets CONNECT_ERROR with
/// `{"message": message, "data": data}` (socket.io-client's `err.message` and
/// `err.data`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// Shown to the client as `err.message`.
    pub message: String,
    /// Shown to the client as `err.data`, when set.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message and no data.
    pub fn new(message: impl Into<String>) -> ConnectError {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds `data`.
    pub fn with_data(mut self, data: Value) -> ConnectError {
        self.data = Some(data);
        self
    }
}

/// Why an ack did not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// No answer within the timeout ("operation has timed out").
    Timeout,
    /// The socket disconnected before answering.
    Disconnected,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AckError::Timeout => "operation has timed out",
            AckError::Disconnected => "socket has been disconnected",
        })
    }
}

/// The answers to a broadcast with acks: every answer, or the error (a
/// timeout) with the answers that came.
pub type BroadcastAcks = Result<Vec<Args>, (AckError, Vec<Args>)>;

/// Why a socket left its namespace: the reference server's reason strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client sent DISCONNECT ("client namespace disconnect").
    ClientNamespaceDisconnect,
    /// The server called [`Socket::disconnect`] ("server namespace disconnect").
    ServerNamespaceDisconnect,
    /// The client sent an invalid packet ("parse error").
    ParseError,
    /// The client did not read fast enough and its queue filled up
    /// ("slow consumer"; not a reference reason: the Node server has no bound).
    SlowConsumer,
    /// The socket sent events faster than [`Config::event_rate_limit`]
    /// allows ("rate limited"; not a reference reason).
    RateLimited,
    /// The Engine.IO connection ended, with its reason ("transport close",
    /// "ping timeout", "transport error", "forced close", ...; never
    /// [`CloseReason::SlowConsumer`], which is [`DisconnectReason::SlowConsumer`]).
    Transport(CloseReason),
}

impl DisconnectReason {
    /// The reason as the reference server names it.
    pub fn as_str(&self) -> &str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::SlowConsumer => "slow consumer",
            DisconnectReason::RateLimited => "rate limited",
            DisconnectReason::Transport(reason) => reason.as_str(),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a socket connected with.
#[derive(Clone, PartialEq)]
pub struct Handshake {
    /// The namespace.
    pub namespace: String,
    /// The CONNECT payload (`auth` in socket.io-client); `{}` when absent.
    /// Not printed by `Debug`: it often holds credentials.
    pub auth: Value,
    /// The client's IP address (the reference's `socket.handshake.address`),
    /// when the connection knows it ([`Conn::address`]): behind a trusted
    /// proxy, the forwarded client's.
    pub address: Option<IpAddr>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("namespace", &self.namespace)
            .field("auth", &"<redacted>")
            .field("address", &self.address)
            .finish()
    }
}

type Middleware = Box<dyn Fn(&Handshake) -> Result<(), ConnectError> + Send + Sync>;
type ConnectHandler = Box<dyn Fn(&Socket) + Send + Sync>;
type EventHandler = Arc<dyn Fn(&Socket, Args, Option<AckSender>) + Send + Sync>;
type AnyHandler = Box<dyn Fn(&Socket, &str, Args, Option<AckSender>) + Send + Sync>;
type DisconnectHandler = Box<dyn Fn(&Socket, &DisconnectReason) + Send + Sync>;
type AckCallback = Box<dyn FnOnce(Result<Args, AckError>) + Send>;
type BroadcastAckCallback = Box<dyn FnOnce(Result<Vec<Args>, (AckError, Vec<Args>)>) + Send>;

/// The handlers of a namespace (or of a family of dynamic namespaces).
#[derive(Default)]
struct Handlers {
    middlewares: Vec<Middleware>,
    on_connect: Option<ConnectHandler>,
    events: IdMap<String, EventHandler>,
    any: Option<AnyHandler>,
    on_disconnect: Option<DisconnectHandler>,
}

/// A namespace's definition: what runs when sockets connect and send events.
/// Register handlers before clients connect (registration while serving is
/// allowed and takes effect for later packets).
#[derive(Clone)]
pub struct Namespace {
    io: SocketIo,
    handlers: Arc<RwLock<Handlers>>,
    /// The namespace name; for a dynamic family, `None` (use
    /// [`SocketIo::of`] to reach its concrete namespaces).
    name: Option<Arc<str>>,
}

impl Namespace {
    /// Adds connect middleware, run in order on every CONNECT; the first
    /// `Err` refuses the connection with CONNECT_ERROR.
    pub fn use_middleware(
        &self,
        f: impl Fn(&Handshake) -> Result<(), ConnectError> + Send + Sync + 'static,
    ) -> &Self {
        write(&self.handlers).middlewares.push(Box::new(f));
        self
    }

    /// Runs `f` for each socket that connects, after its CONNECT was answered.
    pub fn on_connect(&self, f: impl Fn(&Socket) + Send + Sync + 'static) -> &Self {
        write(&self.handlers).on_connect = Some(Box::new(f));
        self
    }

    /// Handles event `name`. The handler gets the arguments and, when the
    /// client asked for an ack, an [`AckSender`].
    pub fn on(
        &self,
        name: &str,
        f: impl Fn(&Socket, Args, Option<AckSender>) + Send + Sync + 'static,
    ) -> &Self {
        write(&self.handlers)
            .events
            .insert(name.to_owned(), Arc::new(f));
        self
    }

    /// Handles every event that has no handler of its own (a catch-all).
    pub fn on_any(
        &self,
        f: impl Fn(&Socket, &str, Args, Option<AckSender>) + Send + Sync + 'static,
    ) -> &Self {
        write(&self.handlers).any = Some(Box::new(f));
        self
    }

    /// Runs `f` when a socket has left, with the reason. It has left its
    /// rooms by then; its data ([`Socket::data`]) is gone too, so keep what
    /// `f` needs elsewhere.
    pub fn on_disconnect(
        &self,
        f: impl Fn(&Socket, &DisconnectReason) + Send + Sync + 'static,
    ) -> &Self {
        write(&self.handlers).on_disconnect = Some(Box::new(f));
        self
    }

    /// Emit operators over this namespace (every socket in it). For a
    /// dynamic family this reaches nothing: use [`SocketIo::of`].
    pub fn ops(&self) -> Operators {
        Operators::new(
            self.io.clone(),
            self.name.clone().unwrap_or_else(|| "".into()),
        )
    }
}

/// An ack owed to the client: call [`AckSender::send`] once.
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    /// Answers the client's ack with these arguments.
    pub fn send(self, args: impl Into<Args>) {
        let args = args.into();
        let packet =
            Packet::ack_with_binary(&*self.socket.namespace, args.values, self.id, args.binary);
        self.socket
            .io
            .transmit(self.socket.target(), &packet, false);
    }
}

/// One client connected to one namespace. Cheap to clone.
#[derive(Clone)]
pub struct Socket {
    io: SocketIo,
    id: Arc<str>,
    namespace: Arc<str>,
    handshake: Arc<Handshake>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Socket {
    /// The socket id (`socket.id` on the client).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The namespace name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// What the socket connected with (its `auth` payload).
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// The server this socket is connected to (the reference's
    /// `socket.nsp.server`), for handlers that act on other sockets without
    /// holding a [`SocketIo`] themselves: a handler that owned one would
    /// keep the server from ever being freed.
    pub fn server(&self) -> SocketIo {
        self.io.clone()
    }

    /// Whether the socket is still connected.
    pub fn connected(&self) -> bool {
        self.io.state().sockets.contains_key(&self.id)
    }

    /// Sends event `event` to this socket.
    pub fn emit(&self, event: &str, args: impl Into<Args>) {
        let args = args.into();
        let observed = self.observe_sent(event, &args);
        let packet = event_packet(&self.namespace, event, args, None);
        self.io.transmit(self.target(), &packet, false);
        if observed {
            self.io.tell();
        }
    }

    /// Records an event emitted to this socket for the observer, when
    /// events are observed.
    fn observe_sent(&self, event: &str, args: &Args) -> bool {
        self.io.observe_event(|| {
            let mut values = Vec::with_capacity(args.values.len() + 1);
            values.push(Value::from(event));
            values.extend(args.values.iter().cloned());
            SocketEvent::EventSent {
                namespace: self.namespace.clone(),
                id: self.id.clone(),
                args: values,
            }
        })
    }

    /// This socket alone, as an emit target.
    fn target(&self) -> Target {
        Target::socket(self.namespace.clone(), self.id.clone())
    }

    /// Sends event `event` to this socket, asking for an ack; `callback`
    /// gets the client's answer, or an [`AckError`] after `timeout`.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
        timeout: Duration,
        callback: impl FnOnce(Result<Args, AckError>) + Send + 'static,
    ) {
        let io = &self.io;
        let deadline = (io.inner.clock)() + timeout;
        let id = {
            let mut state = io.state();
            let Some(socket) = state.sockets.get_mut(&self.id) else {
                drop(state);
                callback(Err(AckError::Disconnected));
                return;
            };
            let id = socket.next_ack_id;
            socket.next_ack_id += 1;
            socket
                .pending_acks
                .insert(id, PendingAck::One(Box::new(callback)));
            state
                .timers
                .insert((deadline, Timer::Ack(self.id.clone(), id)));
            id
        };
        io.wake_timer();
        let args = args.into();
        let observed = self.observe_sent(event, &args);
        let packet = event_packet(&self.namespace, event, args, Some(id));
        io.transmit(self.target(), &packet, false);
        if observed {
            io.tell();
        }
    }

    /// Sends event `event` to this socket asking for an ack, and returns the
    /// answer as a future: [`emit_with_ack`](Self::emit_with_ack) for async
    /// code.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # async fn f(socket: siobridge::socketio::Socket) {
    /// match socket.ack("are-you-there", (), Duration::from_secs(5)).await {
    ///     Ok(answer) => println!("the client said {:?}", answer.first()),
    ///     Err(e) => println!("no answer: {e}"),
    /// }
    /// # }
    /// ```
    pub fn ack(
        &self,
        event: &str,
        args: impl Into<Args>,
        timeout: Duration,
    ) -> AckFuture<Result<Args, AckError>> {
        let (future, complete) = ack_future();
        self.emit_with_ack(event, args, timeout, complete);
        future
    }

    /// Joins `room`.
    pub fn join(&self, room: &str) {
        self.io.state().join(&self.namespace, &self.id, room);
        self.io.tell();
    }

    /// Stores `value` as this socket's data of type `T`, replacing any
    /// earlier value of that type (the reference server's `socket.data`,
    /// typed). It lives as long as the socket.
    pub fn set_data<T: Any + Send + Sync>(&self, value: T) {
        let mut state = self.io.state();
        if let Some(socket) = state.sockets.get_mut(&self.id) {
            socket.data.insert(TypeId::of::<T>(), Arc::new(value));
        }
    }

    /// This socket's data of type `T`, if [`set_data`](Self::set_data) stored
    /// one and the socket is still connected.
    pub fn data<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let state = self.io.state();
        let value = state.sockets.get(&self.id)?.data.get(&TypeId::of::<T>())?;
        value.clone().downcast::<T>().ok()
    }

    /// Leaves `room`.
    pub fn leave(&self, room: &str) {
        self.io.state().leave(&self.namespace, &self.id, room);
        self.io.tell();
    }

    /// The rooms this socket is in (its own id room included), sorted.
    pub fn rooms(&self) -> Vec<String> {
        let state = self.io.state();
        let mut rooms = state
            .adapters
            .get(&self.namespace)
            .map(|adapter| adapter.rooms_of(&self.id))
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    /// Operators that reach `room`, except this socket (`socket.to(room)`).
    pub fn to(&self, room: &str) -> Operators {
        self.broadcast().to(room)
    }

    /// Operators that reach every socket of the namespace but this one
    /// (`socket.broadcast`).
    pub fn broadcast(&self) -> Operators {
        let mut ops = Operators::new(self.io.clone(), self.namespace.clone());
        ops.target.except_socket = Some(self.id.clone());
        ops
    }

    /// Operators for this socket alone, marked volatile: the message is
    /// dropped rather than queued when the client is behind.
    pub fn volatile(&self) -> Operators {
        Operators {
            io: self.io.clone(),
            target: self.target(),
            volatile: true,
        }
    }

    /// Makes the socket leave its namespace: the client gets DISCONNECT
    /// ("io server disconnect") and the socket "server namespace disconnect".
    pub fn disconnect(&self) {
        let packet = Packet::disconnect(&*self.namespace);
        self.io.transmit(self.target(), &packet, false);
        self.io
            .remove_socket(&self.id, DisconnectReason::ServerNamespaceDisconnect);
        self.io.tell();
    }

    /// Closes the whole Engine.IO connection under this socket (every
    /// namespace of the client).
    pub fn close_connection(&self) {
        let conn = {
            let state = self.io.state();
            state
                .sockets
                .get(&self.id)
                .and_then(|s| state.clients.get(&s.client))
                .map(|c| c.conn.clone())
        };
        if let Some(conn) = conn {
            self.io.close_conn(&conn);
        }
    }
}

/// A broadcast: which sockets of a namespace an emit reaches.
///
/// Rooms are unions (`to(a).to(b)` reaches sockets in a or b); `except`
/// removes sockets in those rooms. The namespace's [`Adapter`] resolves them.
#[derive(Clone)]
pub struct Operators {
    io: SocketIo,
    target: Target,
    volatile: bool,
}

impl Operators {
    fn new(io: SocketIo, namespace: Arc<str>) -> Operators {
        Operators {
            io,
            target: Target::namespace(namespace),
            volatile: false,
        }
    }

    /// Also reaches sockets in `room` (no room at all means every socket).
    pub fn to(mut self, room: &str) -> Operators {
        self.target.options.rooms.push(room.to_owned());
        self
    }

    /// Leaves out sockets in `room`.
    pub fn except(mut self, room: &str) -> Operators {
        self.target.options.except.push(room.to_owned());
        self
    }

    /// Drops the message for clients that are behind instead of queueing it.
    pub fn volatile(mut self) -> Operators {
        self.volatile = true;
        self
    }

    /// The ids of the sockets this broadcast reaches, sorted.
    pub fn socket_ids(&self) -> Vec<String> {
        let state = self.io.state();
        let mut ids: Vec<String> = state
            .targets(&self.target)
            .iter()
            .map(|id| id.to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Sends the event to every socket reached, and says how many that was.
    /// The packet is encoded once and its bytes shared by all receivers.
    /// Made by a handler, the emit is queued when the batch of messages in
    /// hand has been handled (see [`SocketIo::handle_messages`]).
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> usize {
        let packet = event_packet(&self.target.namespace, event, args.into(), None);
        self.io
            .transmit(self.target.clone(), &packet, self.volatile)
    }

    /// Sends the event to every socket reached, each with its own ack id;
    /// `callback` gets every answer, or the timeout with the answers that
    /// came.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
        timeout: Duration,
        callback: impl FnOnce(Result<Vec<Args>, (AckError, Vec<Args>)>) + Send + 'static,
    ) {
        let args = args.into();
        let io = &self.io;
        let deadline = (io.inner.clock)() + timeout;
        let mut sends = Vec::new();
        {
            let mut state = io.state();
            let targets = state.targets(&self.target);
            if targets.is_empty() {
                drop(state);
                callback(Ok(Vec::new()));
                return;
            }
            let group = state.next_group;
            state.next_group += 1;
            for id in &targets {
                if let Some(socket) = state.sockets.get_mut(id) {
                    let ack = socket.next_ack_id;
                    socket.next_ack_id += 1;
                    socket.pending_acks.insert(ack, PendingAck::Group(group));
                    sends.push((id.clone(), ack));
                }
            }
            state.groups.insert(
                group,
                AckGroup {
                    waiting: sends.len(),
                    replies: Vec::new(),
                    callback: Box::new(callback),
                },
            );
            state.timers.insert((deadline, Timer::Group(group)));
        }
        io.wake_timer();
        for (id, ack) in sends {
            let packet = event_packet(&self.target.namespace, event, args.clone(), Some(ack));
            let target = Target::socket(self.target.namespace.clone(), id);
            io.transmit(target, &packet, self.volatile);
        }
    }

    /// Sends the event to every socket reached asking each for an ack, and
    /// returns the answers as a future: [`emit_with_ack`](Self::emit_with_ack)
    /// for async code.
    pub fn ack(
        &self,
        event: &str,
        args: impl Into<Args>,
        timeout: Duration,
    ) -> AckFuture<BroadcastAcks> {
        let (future, complete) = ack_future();
        self.emit_with_ack(event, args, timeout, complete);
        future
    }

    /// Makes every socket reached leave `room`.
    pub fn leave(&self, room: &str) {
        {
            let mut state = self.io.state();
            for id in state.targets(&self.target) {
                state.leave(&self.target.namespace, &id, room);
            }
        }
        self.io.tell();
    }

    /// Makes every socket reached join `room`.
    pub fn join(&self, room: &str) {
        {
            let mut state = self.io.state();
            for id in state.targets(&self.target) {
                state.join(&self.target.namespace, &id, room);
            }
        }
        self.io.tell();
    }

    /// Makes every socket reached leave its namespace, as
    /// [`Socket::disconnect`] does (the reference's `disconnectSockets()`);
    /// with `close`, closes their whole Engine.IO connections instead
    /// (`disconnectSockets(true)`). Says how many sockets that was.
    pub fn disconnect_sockets(&self, close: bool) -> usize {
        let sockets: Vec<Socket> = {
            let state = self.io.state();
            state
                .targets(&self.target)
                .into_iter()
                .filter_map(|id| {
                    let socket = state.sockets.get(&id)?;
                    Some(Socket {
                        io: self.io.clone(),
                        id: id.clone(),
                        namespace: socket.namespace.clone(),
                        handshake: socket.handshake.clone(),
                    })
                })
                .collect()
        };
        for socket in &sockets {
            if close {
                socket.close_connection();
            } else {
                socket.disconnect();
            }
        }
        sockets.len()
    }
}

fn event_packet(namespace: &str, event: &str, args: Args, ack_id: Option<u64>) -> Packet {
    let mut values = Vec::with_capacity(args.values.len() + 1);
    values.push(Value::from(event));
    values.extend(args.values);
    Packet::event_with_binary(namespace, values, ack_id, args.binary)
}

/// The Engine.IO messages of one packet: its text, then each attachment;
/// with the msgpack parser, one binary message.
fn encode_messages(parser: Parser, packet: &Packet) -> Vec<Data> {
    if parser == Parser::Msgpack {
        return vec![encode_text_message(parser, packet)];
    }
    let mut messages = Vec::with_capacity(1 + packet.attachments.len());
    messages.push(encode_text_message(parser, packet));
    messages.extend(packet.attachments.iter().cloned().map(Data::Binary));
    messages
}

/// The text of `packet` as an Engine.IO text message, written behind the
/// MESSAGE type `4` in one buffer, which then serves as is as the WebSocket
/// frame of every receiver (see [`engineio::Text`](crate::engineio::Text)).
/// With the msgpack parser, the packet's one binary message instead.
fn encode_text_message(parser: Parser, packet: &Packet) -> Data {
    if parser == Parser::Msgpack {
        return Data::Binary(msgpack::encode(packet).into());
    }
    let mut text = String::with_capacity(128);
    text.push('4');
    packet.encode_into(&mut text);
    match Text::from_packet(text) {
        Some(text) => Data::Text(text),
        None => Data::from(packet.encode()),
    }
}

enum PendingAck {
    One(AckCallback),
    Group(u64),
}

struct AckGroup {
    waiting: usize,
    replies: Vec<Args>,
    callback: BroadcastAckCallback,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Connect(Sid),
    Ack(Arc<str>, u64),
    Group(u64),
}

struct ClientState {
    conn: Arc<dyn Conn>,
    decoder: Decoder,
    /// namespace → socket id
    sockets: IdMap<Arc<str>, Arc<str>>,
    connect_deadline: Option<Instant>,
}

struct SocketState {
    client: Sid,
    /// The client's connection, kept here so that queueing for a socket
    /// (once per receiver of a broadcast) needs no second lookup.
    conn: Arc<dyn Conn>,
    namespace: Arc<str>,
    handshake: Arc<Handshake>,
    next_ack_id: u64,
    pending_acks: IdMap<u64, PendingAck>,
    handlers: Arc<RwLock<Handlers>>,
    /// The socket's event budget, when `event_rate_limit` is set.
    event_budget: Option<TokenBucket>,
    /// [`Socket::set_data`]: one value per type.
    data: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

/// Makes the adapter of a namespace, given its name.
type AdapterFactory = Box<dyn Fn(&str) -> Box<dyn Adapter> + Send + Sync>;

#[derive(Default)]
struct State {
    clients: IdMap<Sid, ClientState>,
    sockets: IdMap<Arc<str>, SocketState>,
    /// namespace → its adapter (room memberships), made on first connect.
    adapters: HashMap<Arc<str>, Box<dyn Adapter>>,
    timers: BTreeSet<(Instant, Timer)>,
    groups: HashMap<u64, AckGroup>,
    next_group: u64,
    /// reason → sockets that left for it, since the server started.
    disconnects: HashMap<String, u64>,
    /// Counts every change of who is in which room or namespace: emits to
    /// the same target share resolved receivers only while it stands still.
    membership: u64,
    /// The emits of the batch in progress ([`SocketIo::handle_messages`]).
    outbox: Outbox,
    /// Whether an observer is set: only then are `observed` recorded.
    observing: bool,
    /// Changes for the observer, told once the lock is released.
    observed: Vec<SocketEvent>,
    /// An observer call is in progress (the one telling drains the rest).
    telling: bool,
}

impl State {
    fn join(&mut self, namespace: &str, id: &str, room: &str) {
        let Some((id, socket)) = self.sockets.get_key_value(id) else {
            return;
        };
        if let Some(adapter) = self.adapters.get_mut(namespace) {
            let new = self.observing && !adapter.rooms_of(id).iter().any(|r| r == room);
            adapter.join(id, room);
            self.membership += 1;
            if new {
                let event = SocketEvent::Joined {
                    namespace: socket.namespace.clone(),
                    id: id.clone(),
                    room: room.to_owned(),
                };
                self.observed.push(event);
            }
        }
    }

    fn leave(&mut self, namespace: &str, id: &str, room: &str) {
        if let Some(adapter) = self.adapters.get_mut(namespace) {
            let was_in = self.observing && adapter.rooms_of(id).iter().any(|r| r == room);
            adapter.leave(id, room);
            self.membership += 1;
            if was_in && let Some((id, socket)) = self.sockets.get_key_value(id) {
                let event = SocketEvent::Left {
                    namespace: socket.namespace.clone(),
                    id: id.clone(),
                    room: room.to_owned(),
                };
                self.observed.push(event);
            }
        }
    }

    /// A copy of socket `id`'s state.
    fn info(&self, id: &Arc<str>, socket: &SocketState) -> SocketInfo {
        let mut rooms = self
            .adapters
            .get(&socket.namespace)
            .map(|adapter| adapter.rooms_of(id))
            .unwrap_or_default();
        rooms.sort();
        SocketInfo {
            id: id.clone(),
            namespace: socket.namespace.clone(),
            client: socket.client,
            transport: socket.conn.transport(),
            handshake: socket.handshake.clone(),
            request: socket.conn.info(),
            rooms,
        }
    }

    /// The sockets an emit to `target` reaches.
    fn targets(&self, ops: &Target) -> Vec<Arc<str>> {
        if let Some(only) = &ops.only_socket {
            return self
                .sockets
                .get_key_value(only)
                .map(|(k, _)| vec![k.clone()])
                .unwrap_or_default();
        }
        let Some(adapter) = self.adapters.get(&*ops.namespace) else {
            return Vec::new();
        };
        let mut targets = adapter.targets(&ops.options);
        if let Some(except) = &ops.except_socket {
            targets.retain(|id| id != except);
        }
        targets
    }

    /// The client and connection of every socket an emit to `target`
    /// reaches.
    fn receivers(&self, target: &Target) -> Vec<Receiver> {
        if let Some(only) = &target.only_socket {
            // An ack or a `socket.emit`: no list of ids to build first.
            return self
                .sockets
                .get(only)
                .map(|socket| vec![(socket.client, socket.conn.clone())])
                .unwrap_or_default();
        }
        self.targets(target)
            .iter()
            .filter_map(|id| self.sockets.get(id))
            .map(|socket| (socket.client, socket.conn.clone()))
            .collect()
    }
}

struct Inner {
    config: Config,
    clock: Clock,
    // Handlers only, never a `Namespace`: it holds a `SocketIo`, and a
    // server that owned handles to itself would never be freed.
    namespaces: RwLock<HashMap<Arc<str>, Arc<RwLock<Handlers>>>>,
    dynamic: RwLock<Vec<(DynamicMatcher, Arc<RwLock<Handlers>>)>>,
    state: Mutex<State>,
    ids: Mutex<SidGenerator>,
    timer_waker: RwLock<Option<Box<dyn Fn() + Send + Sync>>>,
    slow_consumers: AtomicU64,
    rate_limited: AtomicU64,
    adapter_factory: AdapterFactory,
    /// [`SocketIo::on_every_connect`] and [`SocketIo::on_every_disconnect`].
    observers: RwLock<Observers>,
    /// Work found while queueing an emit (a slow consumer to disconnect)
    /// that runs application code, so it waits until the emit returned:
    /// an emit never calls back into the application.
    deferred: Mutex<Vec<Action>>,
    /// [`SocketIo::set_observer`].
    observer: RwLock<Option<Observer>>,
    /// [`SocketIo::set_observe_events`].
    observe_events: AtomicBool,
}

type DynamicMatcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Server-wide watchers of sockets coming and going (logs, dashboards).
#[derive(Default)]
struct Observers {
    connect: Vec<ConnectHandler>,
    disconnect: Vec<DisconnectHandler>,
}

/// The Socket.IO server. Cheap to clone; every clone is the same server.
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<Inner>,
}

impl fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIo").finish_non_exhaustive()
    }
}

/// What to do after the state lock is released.
enum Action {
    Connect {
        conn: Arc<dyn Conn>,
        namespace: Namespace,
        handshake: Handshake,
    },
    Event {
        socket: Socket,
        handlers: Arc<RwLock<Handlers>>,
        name: String,
        args: Args,
        ack: Option<u64>,
    },
    Ack(AckCallback, Result<Args, AckError>),
    GroupDone(
        BroadcastAckCallback,
        Result<Vec<Args>, (AckError, Vec<Args>)>,
    ),
    /// A socket left: fail its pending acks, then call `on_disconnect`.
    Disconnected(
        Socket,
        Arc<RwLock<Handlers>>,
        DisconnectReason,
        Vec<AckCallback>,
    ),
    Close(Arc<dyn Conn>),
}

impl SocketIo {
    /// A server with these settings, reading time from `clock`, keeping
    /// rooms in memory ([`InMemoryAdapter`]).
    pub fn new(config: Config, clock: Clock) -> SocketIo {
        SocketIo::with_adapter(config, clock, |_| Box::new(InMemoryAdapter::new()))
    }

    /// A server whose namespaces keep their rooms in the adapters `adapter`
    /// makes (called once per namespace, with its name, on first connect).
    pub fn with_adapter(
        config: Config,
        clock: Clock,
        adapter: impl Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static,
    ) -> SocketIo {
        let ids = SidGenerator::new(config.rng_seed);
        SocketIo {
            inner: Arc::new(Inner {
                config,
                clock,
                namespaces: RwLock::new(HashMap::new()),
                dynamic: RwLock::new(Vec::new()),
                state: Mutex::new(State::default()),
                ids: Mutex::new(ids),
                timer_waker: RwLock::new(None),
                slow_consumers: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
                adapter_factory: Box::new(adapter),
                observers: RwLock::default(),
                deferred: Mutex::new(Vec::new()),
                observer: RwLock::new(None),
                observe_events: AtomicBool::new(false),
            }),
        }
    }

    /// Runs `f` for every socket that connects, in any namespace, after the
    /// namespace's own `on_connect`. For watching (logs, metrics); several
    /// may be added.
    pub fn on_every_connect(&self, f: impl Fn(&Socket) + Send + Sync + 'static) -> &Self {
        write(&self.inner.observers).connect.push(Box::new(f));
        self
    }

    /// Runs `f` for every socket that leaves, in any namespace, with its
    /// reason (the reference's `disconnect` reasons, plus `slow consumer`
    /// and `rate limited`), after the namespace's own `on_disconnect`.
    pub fn on_every_disconnect(
        &self,
        f: impl Fn(&Socket, &DisconnectReason) + Send + Sync + 'static,
    ) -> &Self {
        write(&self.inner.observers).disconnect.push(Box::new(f));
        self
    }

    /// The namespace `name` (created on first use), to register handlers on.
    pub fn namespace(&self, name: &str) -> Namespace {
        let name: Arc<str> = Arc::from(normalize_namespace(name).as_str());
        let handlers = write(&self.inner.namespaces)
            .entry(name.clone())
            .or_default()
            .clone();
        Namespace {
            io: self.clone(),
            handlers,
            name: Some(name),
        }
    }

    /// A family of dynamic namespaces: any namespace whose name `matches`
    /// is served with the returned handlers (the reference server's "parent
    /// namespace", matched by a predicate or a pattern).
    pub fn dynamic_namespace(
        &self,
        matches: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Namespace {
        let ns = Namespace {
            io: self.clone(),
            handlers: Arc::default(),
            name: None,
        };
        write(&self.inner.dynamic).push((Box::new(matches), ns.handlers.clone()));
        ns
    }

    /// Emit operators over namespace `name`.
    pub fn of(&self, name: &str) -> Operators {
        Operators::new(self.clone(), Arc::from(normalize_namespace(name).as_str()))
    }

    /// Number of clients dropped because their queue was full.
    pub fn slow_consumers_dropped(&self) -> u64 {
        self.inner.slow_consumers.load(Ordering::Relaxed)
    }

    /// Number of sockets disconnected for going over
    /// [`Config::event_rate_limit`].
    pub fn rate_limited(&self) -> u64 {
        self.inner.rate_limited.load(Ordering::Relaxed)
    }

    /// Number of connected sockets, over every namespace.
    pub fn socket_count(&self) -> usize {
        self.state().sockets.len()
    }

    /// Number of connected sockets per namespace, sorted by name.
    pub fn sockets_by_namespace(&self) -> Vec<(String, usize)> {
        let state = self.state();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for socket in state.sockets.values() {
            *counts.entry(&socket.namespace).or_default() += 1;
        }
        let mut counts: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(ns, n)| (ns.to_owned(), n))
            .collect();
        counts.sort();
        counts
    }

    /// How many sockets left for each [`DisconnectReason`] (by its
    /// [`as_str`](DisconnectReason::as_str) name) since the server started,
    /// sorted by reason.
    pub fn disconnects_by_reason(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self
            .state()
            .disconnects
            .iter()
            .map(|(reason, n)| (reason.clone(), *n))
            .collect();
        counts.sort();
        counts
    }

    /// The socket `id` of namespace `namespace`, while it is connected.
    ///
    /// Only socket ids match, never room names: this is how an application
    /// answers one socket it knows by id (`io.of(ns).sockets.get(id)` in the
    /// reference server).
    pub fn socket(&self, namespace: &str, id: &str) -> Option<Socket> {
        let namespace = normalize_namespace(namespace);
        let state = self.state();
        let (id, socket) = state.sockets.get_key_value(id)?;
        (*socket.namespace == *namespace).then(|| Socket {
            io: self.clone(),
            id: id.clone(),
            namespace: socket.namespace.clone(),
            handshake: socket.handshake.clone(),
        })
    }

    /// A copy of every connected socket's state, sorted by namespace and id
    /// (`fetchSockets()` over every namespace in the reference server).
    pub fn socket_infos(&self) -> Vec<SocketInfo> {
        let state = self.state();
        let mut infos: Vec<SocketInfo> = state
            .sockets
            .iter()
            .map(|(id, socket)| state.info(id, socket))
            .collect();
        infos.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
        infos
    }

    /// Sets the observer: `f` is told of every socket that connects or
    /// leaves and of every room joined or left, in the order they happened,
    /// on every namespace. It replaces any earlier observer.
    ///
    /// `f` is never called with the server's lock held (the changes are
    /// recorded under it and told once it is released, after the call that
    /// made them returns or at the end of the batch of messages in hand), so
    /// it may call back into the server: emit, join, disconnect. The changes
    /// it makes itself are told after it returns.
    pub fn set_observer(&self, f: impl Fn(&SocketIo, SocketEvent) + Send + Sync + 'static) {
        *write(&self.inner.observer) = Some(Arc::new(f));
        self.state().observing = true;
    }

    /// Whether the observer is also told of every event a socket sends and
    /// of every event emitted to one socket ([`SocketEvent::EventReceived`],
    /// [`SocketEvent::EventSent`]). Off by default: when on, each such event
    /// costs a copy of its arguments.
    pub fn set_observe_events(&self, on: bool) {
        self.inner.observe_events.store(on, Ordering::Relaxed);
    }

    /// Records an event for the observer, when events are observed; it is
    /// told by the next [`tell`](Self::tell).
    fn observe_event(&self, make: impl FnOnce() -> SocketEvent) -> bool {
        if !self.inner.observe_events.load(Ordering::Relaxed) {
            return false;
        }
        let mut state = self.state();
        if state.observing {
            state.observed.push(make());
        }
        true
    }

    /// Tells the observer the changes recorded so far. One thread tells at a
    /// time, in order; a change recorded while another thread tells is told
    /// by that thread.
    fn tell(&self) {
        let Some(observer) = read(&self.inner.observer).clone() else {
            return;
        };
        loop {
            let events = {
                let mut state = self.state();
                if state.telling || state.observed.is_empty() {
                    return;
                }
                state.telling = true;
                std::mem::take(&mut state.observed)
            };
            // Cleared even if the observer panics.
            let _telling = Telling(self);
            for event in events {
                observer(self, event);
            }
        }
    }

    /// Sets what to call when a new deadline may be earlier than the one the
    /// driver sleeps on.
    pub fn set_timer_waker(&self, waker: impl Fn() + Send + Sync + 'static) {
        *write(&self.inner.timer_waker) = Some(Box::new(waker));
    }

    fn wake_timer(&self) {
        if let Some(waker) = &*read(&self.inner.timer_waker) {
            waker();
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ----- engine side --------------------------------------------------------

    /// An Engine.IO connection opened: it has `connect_timeout` to join a
    /// namespace.
    pub fn handle_open(&self, conn: Arc<dyn Conn>) {
        let deadline = (self.inner.clock)() + self.inner.config.connect_timeout;
        let sid = conn.sid();
        let revision = conn.revision();
        {
            let mut state = self.state();
            state.clients.insert(
                sid,
                ClientState {
                    conn,
                    decoder: Decoder::new(self.inner.config.limits.clone()),
                    sockets: IdMap::default(),
                    connect_deadline: Some(deadline),
                },
            );
            state.timers.insert((deadline, Timer::Connect(sid)));
        }
        self.wake_timer();
        // Socket.IO v4: the client is in `/` as soon as it is connected.
        if let Some(connect) = v4::implicit_connect(revision) {
            let actions = self.on_packet(&mut self.state(), sid, connect);
            self.run(actions);
            self.run_deferred();
        }
    }

    /// An Engine.IO message from client `sid`.
    pub fn handle_message(&self, sid: Sid, data: Data) {
        self.handle_messages(sid, [data]);
    }

    /// Engine.IO messages from client `sid` that arrived together (one read
    /// of its WebSocket, one polling POST), in order: each is handled as by
    /// [`handle_message`](Self::handle_message), but the emits their
    /// handlers make on this thread are queued when the last one is done,
    /// receiver by receiver (see the `outbox` module). Packets reach each
    /// receiver in the order they were emitted either way.
    pub fn handle_messages(&self, sid: Sid, messages: impl IntoIterator<Item = Data>) {
        let batch = Batch::open(self);
        for data in messages {
            let actions = {
                let mut state = self.state();
                let Some(client) = state.clients.get_mut(&sid) else {
                    break;
                };
                let decoded = match (self.inner.config.parser, data) {
                    (Parser::Json, Data::Text(text)) => client.decoder.decode_text(&text),
                    (Parser::Json, Data::Binary(bytes)) => client.decoder.decode_binary(bytes),
                    (Parser::Msgpack, Data::Binary(bytes)) => {
                        msgpack::decode(&bytes, client.decoder.limits()).map(Some)
                    }
                    // The msgpack decoder takes binary messages only.
                    (Parser::Msgpack, Data::Text(_)) => Err(DecodeError::UnexpectedText),
                };
                match decoded {
                    Ok(None) => continue,
                    Ok(Some(packet)) => {
                        let packet = v4::inbound(client.conn.revision(), packet);
                        self.on_packet(&mut state, sid, packet)
                    }
                    // socket.io-protocol v5: a malformed packet closes the
                    // connection (the reference: "parse error").
                    Err(_) => self.drop_client(&mut state, sid, DisconnectReason::ParseError),
                }
            };
            self.run(actions);
        }
        drop(batch);
        self.run_deferred();
    }

    /// The Engine.IO connection of client `sid` moved to another transport
    /// (Engine.IO's upgrade): the observer is told, socket by socket.
    pub fn handle_upgrade(&self, sid: Sid) {
        {
            let mut state = self.state();
            if !state.observing {
                return;
            }
            let Some(client) = state.clients.get(&sid) else {
                return;
            };
            let transport = client.conn.transport();
            let mut events: Vec<SocketEvent> = client
                .sockets
                .iter()
                .map(|(namespace, id)| SocketEvent::Upgraded {
                    namespace: namespace.clone(),
                    id: id.clone(),
                    transport,
                })
                .collect();
            state.observed.append(&mut events);
        }
        self.tell();
    }

    /// The Engine.IO connection of client `sid` ended with `reason`. Its
    /// sockets leave with [`DisconnectReason::Transport`], except after
    /// [`CloseReason::SlowConsumer`] (the session stalled with a backlog),
    /// where they leave with [`DisconnectReason::SlowConsumer`].
    pub fn handle_close(&self, sid: Sid, reason: CloseReason) {
        let reason = match reason {
            CloseReason::SlowConsumer => {
                self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
                DisconnectReason::SlowConsumer
            }
            other => DisconnectReason::Transport(other),
        };
        self.close_client(sid, reason);
    }

    fn close_client(&self, sid: Sid, reason: DisconnectReason) {
        let actions = {
            let mut state = self.state();
            let mut actions = self.drop_client(&mut state, sid, reason);
            // The connection is already gone: do not close it again.
            actions.retain(|a| !matches!(a, Action::Close(_)));
            actions
        };
        self.run(actions);
        self.run_deferred();
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.state().timers.first().map(|(at, _)| *at)
    }

    /// Runs the timers due now (connect timeouts and ack timeouts), and the
    /// work that emits left for later (see [`Operators::emit`]).
    pub fn handle_timeout(&self) {
        let now = (self.inner.clock)();
        let mut actions = Vec::new();
        {
            let mut state = self.state();
            while let Some((at, _)) = state.timers.first() {
                if *at > now {
                    break;
                }
                let Some((_, timer)) = state.timers.pop_first() else {
                    break;
                };
                match timer {
                    Timer::Connect(sid) => {
                        if let Some(client) = state.clients.get(&sid)
                            && client.sockets.is_empty()
                        {
                            actions.push(Action::Close(client.conn.clone()));
                        }
                    }
                    Timer::Ack(id, ack) => {
                        if let Some(socket) = state.sockets.get_mut(&id)
                            && let Some(PendingAck::One(cb)) = socket.pending_acks.remove(&ack)
                        {
                            actions.push(Action::Ack(cb, Err(AckError::Timeout)));
                        }
                    }
                    Timer::Group(group) => {
                        if let Some(g) = state.groups.remove(&group) {
                            actions.push(Action::GroupDone(
                                g.callback,
                                Err((AckError::Timeout, g.replies)),
                            ));
                        }
                    }
                }
            }
        }
        self.run(actions);
        self.run_deferred();
    }

    fn on_packet(&self, state: &mut State, sid: Sid, packet: Packet) -> Vec<Action> {
        let Some(client) = state.clients.get(&sid) else {
            return Vec::new();
        };
        let socket_id = client.sockets.get(packet.namespace.as_str()).cloned();
        match (packet.kind, socket_id) {
            (PacketType::Connect, None) => {
                let conn = client.conn.clone();
                let name = packet.namespace.clone();
                if client.sockets.len() >= self.inner.config.max_namespaces_per_client {
                    let error = Packet::connect_error(&name, "Too many namespaces", None);
                    return self.answer_refusal(state, sid, &conn, &error);
                }
                let Some(namespace) = self.find_namespace(&name) else {
                    let error = Packet::connect_error(&name, "Invalid namespace", None);
                    return self.answer_refusal(state, sid, &conn, &error);
                };
                let auth = match packet.data {
                    Some(Value::Object(map)) => Value::Object(map),
                    _ => json!({}),
                };
                let address = conn.address();
                vec![Action::Connect {
                    conn,
                    namespace,
                    handshake: Handshake {
                        namespace: name,
                        auth,
                        address,
                    },
                }]
            }
            (PacketType::Disconnect, Some(id)) => self
                .remove_socket_locked(state, &id, DisconnectReason::ClientNamespaceDisconnect)
                .into_iter()
                .collect(),
            (PacketType::Event | PacketType::BinaryEvent, Some(id)) => {
                let Some(socket) = state.sockets.get_mut(&id) else {
                    return Vec::new();
                };
                if let Some(budget) = &mut socket.event_budget
                    && !budget.take((self.inner.clock)())
                {
                    return self.rate_limit(state, &id);
                }
                let mut values = match packet.data {
                    Some(Value::Array(values)) => values,
                    _ => Vec::new(),
                };
                // The decoder checked the array is non-empty and starts with
                // a name (a string, or a number as the reference allows).
                let name = match values.first() {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => return Vec::new(),
                };
                values.remove(0);
                vec![Action::Event {
                    socket: Socket {
                        io: self.clone(),
                        id: id.clone(),
                        namespace: socket.namespace.clone(),
                        handshake: socket.handshake.clone(),
                    },
                    handlers: socket.handlers.clone(),
                    name,
                    args: Args {
                        values,
                        binary: packet.attachments,
                    },
                    ack: packet.ack_id,
                }]
            }
            (PacketType::Ack | PacketType::BinaryAck, Some(id)) => {
                let args = Args {
                    values: match packet.data {
                        Some(Value::Array(values)) => values,
                        _ => Vec::new(),
                    },
                    binary: packet.attachments,
                };
                let Some(ack_id) = packet.ack_id else {
                    return Vec::new();
                };
                let pending = state
                    .sockets
                    .get_mut(&id)
                    .and_then(|s| s.pending_acks.remove(&ack_id));
                match pending {
                    Some(PendingAck::One(cb)) => vec![Action::Ack(cb, Ok(args))],
                    Some(PendingAck::Group(group)) => {
                        let done = match state.groups.get_mut(&group) {
                            Some(g) => {
                                g.replies.push(args);
                                g.waiting -= 1;
                                g.waiting == 0
                            }
                            None => false,
                        };
                        if done && let Some(g) = state.groups.remove(&group) {
                            vec![Action::GroupDone(g.callback, Ok(g.replies))]
                        } else {
                            Vec::new()
                        }
                    }
                    // An unknown or late ack is ignored, as the reference does.
                    None => Vec::new(),
                }
            }
            // CONNECT on a connected namespace, anything but CONNECT on one
            // that is not, and CONNECT_ERROR from a client: the reference
            // closes the connection ("invalid state").
            _ => self.drop_client(state, sid, DisconnectReason::ParseError),
        }
    }

    /// Disconnects a socket over its event rate: it gets DISCONNECT, as from
    /// [`Socket::disconnect`], and ends with [`DisconnectReason::RateLimited`].
    /// A DISCONNECT that cannot be queued is not lost silently: the client
    /// is then dropped as a slow consumer.
    fn rate_limit(&self, state: &mut State, id: &str) -> Vec<Action> {
        self.inner.rate_limited.fetch_add(1, Ordering::Relaxed);
        // The DISCONNECT below is sent directly: what was emitted before it
        // goes first.
        self.defer(self.flush_locked(state));
        let target = state.sockets.get(id).and_then(|s| {
            let conn = state.clients.get(&s.client)?.conn.clone();
            Some((s.client, conn, s.namespace.clone()))
        });
        let mut actions: Vec<Action> = self
            .remove_socket_locked(state, id, DisconnectReason::RateLimited)
            .into_iter()
            .collect();
        if let Some((sid, conn, namespace)) = target {
            let disconnect = Packet::disconnect(&*namespace);
            if conn.send(encode_text_message(self.inner.config.parser, &disconnect))
                == Err(SendError::Full)
            {
                self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
                actions.extend(self.drop_client(state, sid, DisconnectReason::SlowConsumer));
            }
        }
        actions
    }

    /// Sends a CONNECT_ERROR. It is never lost silently: on a full queue the
    /// client is dropped as a slow consumer (the returned actions).
    fn answer_refusal(
        &self,
        state: &mut State,
        sid: Sid,
        conn: &Arc<dyn Conn>,
        error: &Packet,
    ) -> Vec<Action> {
        self.defer(self.flush_locked(state));
        match conn.send(encode_text_message(self.inner.config.parser, error)) {
            Err(SendError::Full) => {
                self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
                self.drop_client(state, sid, DisconnectReason::SlowConsumer)
            }
            Ok(()) | Err(SendError::Closed | SendError::Unencodable | SendError::NotWritable) => {
                Vec::new()
            }
        }
    }

    fn find_namespace(&self, name: &str) -> Option<Namespace> {
        let handlers = read(&self.inner.namespaces).get(name).cloned();
        let handlers = handlers.or_else(|| {
            read(&self.inner.dynamic)
                .iter()
                .find(|(matches, _)| matches(name))
                .map(|(_, handlers)| handlers.clone())
        })?;
        Some(Namespace {
            io: self.clone(),
            handlers,
            name: Some(Arc::from(name)),
        })
    }

    /// Removes every socket of client `sid` and the client; the connection is
    /// closed by the returned actions.
    fn drop_client(&self, state: &mut State, sid: Sid, reason: DisconnectReason) -> Vec<Action> {
        let Some(client) = state.clients.remove(&sid) else {
            return Vec::new();
        };
        let mut actions: Vec<Action> = client
            .sockets
            .values()
            .filter_map(|id| self.remove_socket_locked(state, id, reason.clone()))
            .collect();
        actions.push(Action::Close(client.conn));
        actions
    }

    fn remove_socket(&self, id: &str, reason: DisconnectReason) {
        let action = {
            let mut state = self.state();
            self.remove_socket_locked(&mut state, id, reason)
        };
        self.run(action.into_iter().collect());
    }

    fn remove_socket_locked(
        &self,
        state: &mut State,
        id: &str,
        reason: DisconnectReason,
    ) -> Option<Action> {
        let (id, socket) = state.sockets.remove_entry(id)?;
        if let Some(client) = state.clients.get_mut(&socket.client) {
            client.sockets.remove(&socket.namespace);
        }
        if let Some(adapter) = state.adapters.get_mut(&socket.namespace) {
            let mut rooms = if state.observing {
                adapter.rooms_of(&id)
            } else {
                Vec::new()
            };
            adapter.remove_socket(&id);
            if state.observing {
                rooms.sort();
                // As the reference tells them: the disconnect, then the
                // rooms left.
                state.observed.push(SocketEvent::Disconnected {
                    namespace: socket.namespace.clone(),
                    id: id.clone(),
                    reason: reason.clone(),
                });
                state
                    .observed
                    .extend(rooms.into_iter().map(|room| SocketEvent::Left {
                        namespace: socket.namespace.clone(),
                        id: id.clone(),
                        room,
                    }));
            }
        }
        state.membership += 1;
        *state
            .disconnects
            .entry(reason.as_str().to_owned())
            .or_default() += 1;
        let handle = Socket {
            io: self.clone(),
            id,
            namespace: socket.namespace.clone(),
            handshake: socket.handshake.clone(),
        };
        // Pending acks fail with "disconnected" (a broadcast group simply
        // misses this answer; its timer ends it).
        let failed = socket
            .pending_acks
            .into_values()
            .filter_map(|pending| match pending {
                PendingAck::One(cb) => Some(cb),
                PendingAck::Group(_) => None,
            })
            .collect();
        Some(Action::Disconnected(
            handle,
            socket.handlers,
            reason,
            failed,
        ))
    }

    fn run(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Connect {
                    conn,
                    namespace,
                    handshake,
                } => self.connect(conn, namespace, handshake),
                Action::Event {
                    socket,
                    handlers,
                    name,
                    args,
                    ack,
                } => {
                    self.observe_event(|| {
                        let mut values = Vec::with_capacity(args.values.len() + 1);
                        values.push(Value::from(name.as_str()));
                        values.extend(args.values.iter().cloned());
                        SocketEvent::EventReceived {
                            namespace: socket.namespace.clone(),
                            id: socket.id.clone(),
                            args: values,
                        }
                    });
                    let ack = ack.map(|id| AckSender {
                        socket: socket.clone(),
                        id,
                    });
                    let handler = read(&handlers).events.get(&name).cloned();
                    match handler {
                        Some(handler) => handler(&socket, args, ack),
                        None => {
                            if let Some(any) = &read(&handlers).any {
                                any(&socket, &name, args, ack);
                            }
                        }
                    }
                }
                Action::Ack(cb, result) => cb(result),
                Action::GroupDone(cb, result) => cb(result),
                Action::Disconnected(socket, handlers, reason, failed) => {
                    for cb in failed {
                        cb(Err(AckError::Disconnected));
                    }
                    if let Some(f) = &read(&handlers).on_disconnect {
                        f(&socket, &reason);
                    }
                    for f in &read(&self.inner.observers).disconnect {
                        f(&socket, &reason);
                    }
                }
                Action::Close(conn) => self.close_conn(&conn),
            }
        }
    }

    fn connect(&self, conn: Arc<dyn Conn>, namespace: Namespace, handshake: Handshake) {
        let refused = read(&namespace.handlers)
            .middlewares
            .iter()
            .find_map(|m| m(&handshake).err());
        let name = handshake.namespace.clone();
        if let Some(error) = refused {
            let packet = v4::refusal(conn.revision(), &name, &error.message, error.data);
            let actions = self.answer_refusal(&mut self.state(), conn.sid(), &conn, &packet);
            self.defer(actions);
            return;
        }
        let id: Arc<str> = match v4::socket_id(conn.revision(), &name, conn.sid()) {
            Some(id) => Arc::from(id),
            None => Arc::from(lock(&self.inner.ids).next_sid().as_str()),
        };
        let ns_name: Arc<str> = Arc::from(name.as_str());
        let handshake = Arc::new(handshake);
        {
            let mut state = self.state();
            let sid = conn.sid();
            let Some(client) = state.clients.get_mut(&sid) else {
                return; // the connection closed meanwhile
            };
            if client.sockets.contains_key(&ns_name) {
                return;
            }
            // The answer below is sent directly: what was emitted before it
            // goes first.
            let flushed = self.flush_locked(&mut state);
            self.defer(flushed);
            // The answer goes first: a socket whose CONNECT was lost would
            // get events its client never asked for.
            let ok = v4::connect_answer(conn.revision(), &name, &id);
            match conn.send(encode_text_message(self.inner.config.parser, &ok)) {
                Ok(()) => {}
                Err(SendError::Full) => {
                    self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
                    let actions = self.drop_client(&mut state, sid, DisconnectReason::SlowConsumer);
                    self.defer(actions);
                    return;
                }
                Err(SendError::Closed | SendError::Unencodable | SendError::NotWritable) => return,
            }
            let Some(client) = state.clients.get_mut(&sid) else {
                return;
            };
            client.sockets.insert(ns_name.clone(), id.clone());
            client.connect_deadline = None;
            state.sockets.insert(
                id.clone(),
                SocketState {
                    client: sid,
                    conn: conn.clone(),
                    namespace: ns_name.clone(),
                    handshake: handshake.clone(),
                    next_ack_id: 0,
                    pending_acks: IdMap::default(),
                    handlers: namespace.handlers.clone(),
                    event_budget: self
                        .inner
                        .config
                        .event_rate_limit
                        .map(|limit| TokenBucket::new(limit, (self.inner.clock)())),
                    data: HashMap::new(),
                },
            );
            let factory = &self.inner.adapter_factory;
            let adapter = state
                .adapters
                .entry(ns_name.clone())
                .or_insert_with(|| factory(&ns_name));
            adapter.add_socket(&id);
            // Every socket is in the room named by its own id.
            adapter.join(&id, &id);
            state.membership += 1;
            if state.observing {
                // As the reference: its own room is joined, then it is
                // connected.
                if let Some(socket) = state.sockets.get(&id) {
                    let info = state.info(&id, socket);
                    let joined = SocketEvent::Joined {
                        namespace: ns_name.clone(),
                        id: id.clone(),
                        room: id.to_string(),
                    };
                    state
                        .observed
                        .extend([joined, SocketEvent::Connected(info)]);
                }
            }
        }
        let socket = Socket {
            io: self.clone(),
            id,
            namespace: ns_name,
            handshake,
        };
        if let Some(f) = &read(&namespace.handlers).on_connect {
            f(&socket);
        }
        for f in &read(&self.inner.observers).connect {
            f(&socket);
        }
    }

    /// Sends `packet` to the sockets `target` reaches, and says how many
    /// that was. Within a batch on this thread the packet waits in the
    /// outbox; otherwise it is queued on each receiver's connection now.
    fn transmit(&self, target: Target, packet: &Packet, volatile: bool) -> usize {
        let packet = Queued {
            messages: encode_messages(self.inner.config.parser, packet),
            volatile,
        };
        let mut state = self.state();
        if state.outbox.is_open_here() {
            let membership = state.membership;
            let packet = match state.outbox.append(&target, membership, packet) {
                Ok(reached) => return reached,
                Err(packet) => packet,
            };
            let receivers = state.receivers(&target);
            let reached = receivers.len();
            if state.outbox.is_full_for(reached) {
                let actions = self.flush_locked(&mut state);
                self.defer(actions);
            }
            state.outbox.push(target, membership, receivers, packet);
            return reached;
        }
        let receivers = state.receivers(&target);
        let mut actions = Vec::new();
        for (sid, conn) in &receivers {
            if let Err(drop) = self.queue(&mut state, *sid, conn, std::slice::from_ref(&packet)) {
                actions.extend(drop);
            }
        }
        drop(state);
        self.defer(actions);
        receivers.len()
    }

    /// Queues `packets` on one receiver's connection. A volatile packet is
    /// dropped when the client cannot take it now or its queue is full; for
    /// any other, or a volatile one that no longer fits after its first
    /// message, a full queue makes the client a slow consumer: it is dropped
    /// (never a silent loss), and the error holds the actions that end it.
    fn queue(
        &self,
        state: &mut State,
        sid: Sid,
        conn: &Arc<dyn Conn>,
        packets: &[Queued],
    ) -> Result<(), Vec<Action>> {
        for packet in packets {
            for (i, message) in packet.messages.iter().enumerate() {
                // Only a whole packet may be dropped: once its text is
                // queued, missing attachments would corrupt the stream.
                let sent = if packet.volatile && i == 0 {
                    conn.send_volatile(message.clone())
                } else {
                    conn.send(message.clone())
                };
                match sent {
                    Ok(()) => {}
                    Err(SendError::NotWritable) => break,
                    Err(SendError::Full) if packet.volatile && i == 0 => break,
                    Err(SendError::Full) => {
                        self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
                        return Err(self.drop_client(state, sid, DisconnectReason::SlowConsumer));
                    }
                    Err(SendError::Closed) => return Ok(()),
                    Err(SendError::Unencodable) => break,
                }
            }
        }
        Ok(())
    }

    /// Queues what waits in the outbox, group by group and, in each group,
    /// receiver by receiver. Returns the actions that end slow consumers.
    fn flush_locked(&self, state: &mut State) -> Vec<Action> {
        if state.outbox.is_empty() {
            return Vec::new();
        }
        let mut actions = Vec::new();
        let mut dropped = Vec::new();
        let mut groups = state.outbox.take();
        for group in groups.drain(..) {
            for (sid, conn) in &group.receivers {
                if dropped.contains(sid) {
                    continue;
                }
                if let Err(drop) = self.queue(state, *sid, conn, &group.packets) {
                    dropped.push(*sid);
                    actions.extend(drop);
                }
            }
        }
        state.outbox.recycle(groups);
        actions
    }

    /// Closes a connection, after queueing what was emitted before.
    fn close_conn(&self, conn: &Arc<dyn Conn>) {
        let actions = self.flush_locked(&mut self.state());
        self.defer(actions);
        conn.close();
    }

    /// Runs `actions` once the current emit returned: at the end of the
    /// `handle_*` call in progress, or from the timer task, which is woken.
    fn defer(&self, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        lock(&self.inner.deferred).extend(actions);
        self.wake_timer();
    }

    fn run_deferred(&self) {
        loop {
            let actions = std::mem::take(&mut *lock(&self.inner.deferred));
            if actions.is_empty() {
                break;
            }
            self.run(actions);
        }
        self.tell();
    }
}

/// Clears [`State::telling`] when the observer returns (or panics).
struct Telling<'a>(&'a SocketIo);

impl Drop for Telling<'_> {
    fn drop(&mut self) {
        self.0.state().telling = false;
    }
}

/// A batch of messages in progress on this thread: while it lives, this
/// thread's emits wait in the outbox; when it ends (even by a panicking
/// handler), they are queued.
struct Batch<'a> {
    io: &'a SocketIo,
    opened: bool,
}

impl<'a> Batch<'a> {
    fn open(io: &'a SocketIo) -> Batch<'a> {
        let opened = io.state().outbox.open();
        Batch { io, opened }
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if !self.opened {
            return;
        }
        let mut state = self.io.state();
        if state.outbox.close() {
            let actions = self.io.flush_locked(&mut state);
            drop(state);
            self.io.defer(actions);
        }
    }
}

/// `chat` and `/chat` name the same namespace; the empty name is `/`.
fn normalize_namespace(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::SidGenerator;

    /// An Engine.IO connection that records what the server sends.
    struct FakeConn {
        sid: Sid,
        sent: Mutex<Vec<Data>>,
        closed: Mutex<bool>,
        /// Refuse sends with `Full` once this many messages are queued.
        capacity: usize,
    }

    impl Conn for FakeConn {
        fn sid(&self) -> Sid {
            self.sid
        }
        fn send(&self, data: Data) -> Result<(), SendError> {
            let mut sent = lock(&self.sent);
            if sent.len() >= self.capacity {
                return Err(SendError::Full);
            }
            sent.push(data);
            Ok(())
        }
        fn close(&self) {
            *lock(&self.closed) = true;
        }
    }

    impl FakeConn {
        fn take_text(&self) -> Vec<String> {
            lock(&self.sent)
                .drain(..)
                .map(|d| match d {
                    Data::Text(t) => t.to_string(),
                    Data::Binary(b) => format!("<{} bytes>", b.len()),
                })
                .collect()
        }
        fn is_closed(&self) -> bool {
            *lock(&self.closed)
        }
    }

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

        fn client(&mut self, capacity: usize) -> Arc<FakeConn> {
            let conn = Arc::new(FakeConn {
                sid: self.sids.next_sid(),
                sent: Mutex::default(),
                closed: Mutex::default(),
                capacity,
            });
            self.io.handle_open(conn.clone());
            conn
        }

        fn recv(&self, conn: &FakeConn, text: &str) {
            self.io.handle_message(conn.sid, Data::from(text));
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
        fn connect(&self, conn: &FakeConn) -> String {
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
        sim.io.namespace("/admin").use_middleware(|_| {
            Err(ConnectError::new("unauthorized").with_data(json!({"code": 401})))
        });
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
            *lock(&peek_seen) = Some(lock(&peek_conn.sent).len());
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
            .handle_messages(sender.sid, batch.iter().map(|t| Data::from(t.as_str())));
        assert_eq!(
            *lock(&seen_by_peek),
            Some(0),
            "queued before the batch ended"
        );
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
        // Outside a batch, an emit is queued at once.
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
        sim.io.handle_messages(sender.sid, batch);
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
            .handle_message(conn.sid, Data::Binary(bytes::Bytes::from_static(&[1, 2])));
        let args = lock(&got).take().unwrap();
        assert_eq!(args.binary, vec![bytes::Bytes::from_static(&[1, 2])]);
        assert_eq!(args.values, vec![placeholder_value(0)]);
    }

    fn placeholder_value(n: usize) -> Value {
        super::super::binary::placeholder(n)
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
            sim.io.handle_message(conn.sid, Data::Binary(bytes));
        };
        let take = || -> Vec<Packet> {
            lock(&conn.sent)
                .drain(..)
                .map(|d| match d {
                    Data::Binary(b) => msgpack::decode(&b, &Limits::default()).unwrap(),
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
            args.values,
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
            .on("e", move |_, args, _| lock(&keep_seen).push(args.values))
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
        assert_eq!(info_a.client, a.sid);
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
        sim.io.handle_close(b.sid, CloseReason::ForcedClose);
        assert_eq!(sim.io.socket_count(), 0);
        assert!(lock(&told).contains(&format!("disconnected / {idb} forced close")));
    }

    #[test]
    fn events_are_observed_only_when_asked_and_broadcasts_are_not() {
        let mut sim = Sim::new();
        let told = observe(&sim.io);
        sim.io.namespace("/").on("ping", |socket, args, _| {
            socket.emit("pong", args.values.clone());
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
}
