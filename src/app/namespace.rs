//! Namespaces: the handlers an application registers ([`Namespace`]), and
//! the live state of one namespace while sockets are in it ([`Nsp`]).

use std::any::{Any, TypeId};
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::dispatch::ClientCell;
use super::observe::{SocketEvent, SocketInfo};
use super::recovery::{NspRecovery, SocketData};
use super::socket::{AckSender, Socket};
use super::{Operators, SocketIo, lock, read, write};
use crate::engineio::Sid;
use crate::id_hash::IdMap;
use crate::socketio::recovery::{Session, is_recoverable};
use crate::socketio::{Adapter, Args, ArgsError, ConnectError, DisconnectReason};

/// What a socket connected with.
#[derive(Clone, PartialEq)]
pub struct Handshake {
    /// The namespace.
    pub namespace: String,
    /// The CONNECT payload (`auth` in socket.io-client); `{}` when absent.
    /// Not printed by `Debug`: it often holds credentials.
    pub auth: Value,
    /// The client's IP address (the reference's `socket.handshake.address`),
    /// when the connection knows it ([`Conn::address`](super::Conn::address)):
    /// behind a trusted proxy, the forwarded client's.
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

impl std::error::Error for AckError {}

/// The answers to a broadcast with acks: every answer, or the error (a
/// timeout) with the answers that came.
pub type BroadcastAcks = Result<Vec<Args>, (AckError, Vec<Args>)>;

/// A future a handler returns ([`Namespace::on_async`]).
pub type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A future an async connect middleware returns
/// ([`Namespace::use_async_middleware`]).
pub type MiddlewareFuture =
    Pin<Box<dyn Future<Output = Result<(), ConnectError>> + Send + 'static>>;

/// A connect middleware that decides inline ([`Namespace::use_middleware`]).
type SyncMiddleware = dyn Fn(&Handshake) -> Result<(), ConnectError> + Send + Sync;

/// One step of a namespace's connect middleware (the reference's
/// `namespace.use(fn)`), which may answer at once or later.
#[derive(Clone)]
pub(super) enum Middleware {
    /// Decides inline, while the CONNECT is handled.
    Now(Arc<SyncMiddleware>),
    /// Decides when its future completes (a store, a database).
    Later(Arc<dyn Fn(&Handshake) -> MiddlewareFuture + Send + Sync>),
}
pub(super) type ConnectHandler = Box<dyn Fn(&Socket) + Send + Sync>;
pub(super) type EventHandler = Arc<dyn Fn(&Socket, Args, Option<AckSender>) + Send + Sync>;
type AnyHandler = Box<dyn Fn(&Socket, &str, Args, Option<AckSender>) + Send + Sync>;
pub(super) type DisconnectHandler = Box<dyn Fn(&Socket, &DisconnectReason) + Send + Sync>;
pub(super) type AckCallback = Box<dyn FnOnce(Result<Args, AckError>) + Send>;
/// [`Namespace::on_session_end`]: given the socket id.
pub(super) type SessionEndHandler = Box<dyn Fn(&str) + Send + Sync>;
pub(super) type BroadcastAckCallback = Box<dyn FnOnce(BroadcastAcks) + Send>;
/// [`Namespace::on_server_side`]: the arguments in, the answer out.
pub(super) type ServerSideListener = Arc<dyn Fn(Args) -> Option<Args> + Send + Sync>;

/// The handlers of a namespace (or of a family of dynamic namespaces).
#[derive(Default)]
pub(super) struct Handlers {
    middlewares: Vec<Middleware>,
    pub(super) on_connect: Option<ConnectHandler>,
    events: IdMap<String, EventHandler>,
    any: Option<AnyHandler>,
    pub(super) on_disconnect: Option<DisconnectHandler>,
    pub(super) on_session_end: Option<SessionEndHandler>,
    /// [`Namespace::on_server_side`], by event name.
    pub(super) server_side: IdMap<String, ServerSideListener>,
}

/// Runs `chain` in order, awaiting its async steps: the first refusal, if
/// any (socket.io's `namespace.run`, which calls each middleware's `next`
/// in turn).
pub(super) async fn refusal_later(
    chain: Vec<Middleware>,
    handshake: &Handshake,
) -> Option<ConnectError> {
    for step in chain {
        let decided = match step {
            Middleware::Now(f) => f(handshake),
            Middleware::Later(f) => f(handshake).await,
        };
        if let Err(error) = decided {
            return Some(error);
        }
    }
    None
}

impl Handlers {
    /// The first refusal of the connect middleware, if any, when every
    /// step decides inline. The steps before the first async one run here;
    /// when they all accept, `Err` gives the rest of the chain, from that
    /// async step on (the caller runs [`refusal_later`] on its spawner).
    pub(super) fn refusal(
        &self,
        handshake: &Handshake,
    ) -> Result<Option<ConnectError>, Vec<Middleware>> {
        for (i, step) in self.middlewares.iter().enumerate() {
            match step {
                Middleware::Now(f) => {
                    if let Err(error) = f(handshake) {
                        return Ok(Some(error));
                    }
                }
                Middleware::Later(_) => return Err(self.middlewares[i..].to_vec()),
            }
        }
        Ok(None)
    }

    /// Calls the handler of event `name`, or the catch-all.
    pub(super) fn call(
        handlers: &RwLock<Handlers>,
        socket: &Socket,
        name: &str,
        args: Args,
        ack: Option<AckSender>,
    ) {
        let handler = read(handlers).events.get(name).cloned();
        match handler {
            Some(handler) => handler(socket, args, ack),
            None => {
                if let Some(any) = &read(handlers).any {
                    any(socket, name, args, ack);
                }
            }
        }
    }
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
    pub(super) fn new(
        io: SocketIo,
        handlers: Arc<RwLock<Handlers>>,
        name: Option<Arc<str>>,
    ) -> Namespace {
        Namespace { io, handlers, name }
    }

    /// Adds connect middleware, run in order on every CONNECT; the first
    /// `Err` refuses the connection with CONNECT_ERROR.
    pub fn use_middleware(
        &self,
        f: impl Fn(&Handshake) -> Result<(), ConnectError> + Send + Sync + 'static,
    ) -> &Self {
        write(&self.handlers)
            .middlewares
            .push(Middleware::Now(Arc::new(f)));
        self
    }

    /// Adds async connect middleware: `f` returns a future, and the CONNECT
    /// is answered when the chain has decided (the reference's
    /// `namespace.use((socket, next) => ...)` calling `next` later). Steps
    /// run in the order they were added, sync and async alike, on the
    /// server's spawner ([`SocketIo::set_spawner`]); other clients, and
    /// this client's other namespaces, go on meanwhile. A client that
    /// leaves, or whose connect timeout passes, before the chain decides is
    /// not admitted.
    ///
    /// ```no_run
    /// # use siobridge::socketio::{Config, ConnectError, SocketIo, testing::ManualClock};
    /// # let io = SocketIo::new(Config::default(), ManualClock::new().clock());
    /// io.namespace("/").use_async_middleware(|handshake| {
    ///     let token = handshake.auth["token"].as_str().map(str::to_owned);
    ///     Box::pin(async move {
    ///         // a session store asked here
    ///         match token {
    ///             Some(_) => Ok(()),
    ///             None => Err(ConnectError::new("unauthorized")),
    ///         }
    ///     })
    /// });
    /// ```
    pub fn use_async_middleware(
        &self,
        f: impl Fn(&Handshake) -> MiddlewareFuture + Send + Sync + 'static,
    ) -> &Self {
        write(&self.handlers)
            .middlewares
            .push(Middleware::Later(Arc::new(f)));
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

    /// Handles event `name` with an async handler: `f` returns a future,
    /// run on the server's spawner ([`SocketIo::set_spawner`]), so it may
    /// `.await` (a database, another service) without holding up its
    /// client's other packets or any other client. Events a client sends
    /// while its earlier handler still awaits are handled meanwhile, as the
    /// reference server's async listeners are.
    ///
    /// ```no_run
    /// # use siobridge::socketio::{Config, SocketIo, testing::ManualClock};
    /// # let io = SocketIo::new(Config::default(), ManualClock::new().clock());
    /// io.namespace("/").on_async("lookup", |socket, args, ack| async move {
    ///     let answer = args.first().cloned().unwrap_or_default(); // a database call here
    ///     if let Some(ack) = ack {
    ///         ack.send(answer);
    ///     }
    ///     drop(socket);
    /// });
    /// ```
    pub fn on_async<F, Fut>(&self, name: &str, f: F) -> &Self
    where
        F: Fn(Socket, Args, Option<AckSender>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on(name, move |socket, args, ack| {
            let future: HandlerFuture = Box::pin(f(socket.clone(), args, ack));
            socket.server().spawn(future);
        })
    }

    /// Handles event `name` with its arguments deserialised into `T` (a
    /// tuple for several arguments, a struct or a single value for one).
    /// Arguments that do not fit `T` never reach `f`: when the client asked
    /// for an ack it is answered `{"error": message}` saying what did not
    /// fit; otherwise the event is dropped. See
    /// [`Args::parse`](crate::socketio::Args::parse).
    ///
    /// ```no_run
    /// # use siobridge::socketio::{Config, SocketIo, testing::ManualClock};
    /// # let io = SocketIo::new(Config::default(), ManualClock::new().clock());
    /// #[derive(serde::Deserialize)]
    /// struct Move { x: i32, y: i32 }
    /// io.namespace("/").on_typed("move", |socket, (m,): (Move,), _ack| {
    ///     socket.emit("moved", serde_json::json!([m.x, m.y]));
    /// });
    /// ```
    pub fn on_typed<T, F>(&self, name: &str, f: F) -> &Self
    where
        T: DeserializeOwned,
        F: Fn(&Socket, T, Option<AckSender>) + Send + Sync + 'static,
    {
        self.on(name, move |socket, args, ack| match args.parse::<T>() {
            Ok(value) => f(socket, value, ack),
            Err(ArgsError { message }) => {
                if let Some(ack) = ack {
                    ack.send(serde_json::json!({ "error": message }));
                }
            }
        })
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

    /// Runs `f` with the id of a socket whose session, kept for connection
    /// state recovery when it lost its connection, ended without being
    /// recovered: its window passed, it was pushed out by the limit on
    /// kept sessions, or its client came back with an offset that could
    /// not be replayed. An application that keeps state for a socket while
    /// it may recover ([`Socket::may_recover`] in `on_disconnect`) lets it
    /// go here. Never called with recovery off.
    pub fn on_session_end(&self, f: impl Fn(&str) + Send + Sync + 'static) -> &Self {
        write(&self.handlers).on_session_end = Some(Box::new(f));
        self
    }

    /// Listens to server-side event `event` from the other nodes of a
    /// cluster (the reference's `io.of(ns).on(event, (...args, callback))`
    /// for what another node's `serverSideEmit` sends, spec
    /// `redis-adapter.md`, SERVER_SIDE_EMIT): `f` gets the arguments and
    /// returns the answer, sent back when the emitter asked for one
    /// (`serverSideEmitWithAck`); `None` answers nothing, as a Node
    /// listener that never calls its callback. It runs on the cluster's
    /// receiving task, so it must not block. One listener per event;
    /// [`SocketIo::server_side_emit`] sends such events.
    pub fn on_server_side(
        &self,
        event: &str,
        f: impl Fn(Args) -> Option<Args> + Send + Sync + 'static,
    ) -> &Self {
        write(&self.handlers)
            .server_side
            .insert(event.to_owned(), Arc::new(f));
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

/// One connected socket, as every part of the layer shares it: made once
/// at connect, never changed.
pub(super) struct SocketShared {
    pub(super) id: Arc<str>,
    pub(super) namespace: Arc<str>,
    pub(super) handshake: Arc<Handshake>,
    pub(super) nsp: Arc<Nsp>,
    pub(super) sid: Sid,
    /// Weak: the client owns its sockets' handles, not the other way.
    pub(super) client: Weak<ClientCell>,
    /// Its private session id, with connection state recovery on.
    pub(super) pid: Option<Arc<str>>,
    /// Whether it recovered an earlier socket's session.
    pub(super) recovered: bool,
}

/// A socket in its namespace: its handle and its data.
struct Member {
    shared: Arc<SocketShared>,
    /// [`Socket::set_data`]: one value per type.
    data: SocketData,
}

/// The state of one namespace: who is in it and in which rooms.
struct NspState {
    adapter: Box<dyn Adapter>,
    members: IdMap<Arc<str>, Member>,
    /// Counts every change of who is in the namespace or in which room:
    /// resolved receivers are reused only while it stands still.
    version: u64,
}

/// The receivers of the last broadcast resolved, for the next one to the
/// same target while membership stands still (a sender broadcasting to the
/// same room in a row, the common case, resolves it once).
struct LastBroadcast {
    version: u64,
    options: crate::socketio::BroadcastOptions,
    except_socket: Option<Arc<str>>,
    receivers: Receivers,
}

/// The sockets a broadcast reaches, each with its client (taken from the
/// weak reference once, when resolved), shared between broadcasts.
pub(super) type Receivers = Arc<[(Arc<SocketShared>, Arc<ClientCell>)]>;

/// A namespace with sockets in it (or that had some): its handlers, its
/// members and rooms, behind its own lock.
pub(super) struct Nsp {
    pub(super) name: Arc<str>,
    pub(super) handlers: Arc<RwLock<Handlers>>,
    state: RwLock<NspState>,
    /// Its own lock, taken after `state`'s read lock and for no longer
    /// than a comparison and a pointer copy.
    last_broadcast: Mutex<Option<LastBroadcast>>,
    /// Connection state recovery, when on.
    pub(super) recovery: Option<NspRecovery>,
}

/// An emit's receivers: which sockets of a namespace it reaches.
pub(super) struct Target<'a> {
    pub(super) options: &'a crate::socketio::BroadcastOptions,
    pub(super) except_socket: Option<&'a str>,
}

impl Nsp {
    pub(super) fn new(
        name: Arc<str>,
        handlers: Arc<RwLock<Handlers>>,
        adapter: Box<dyn Adapter>,
        recovery: Option<NspRecovery>,
    ) -> Nsp {
        Nsp {
            recovery,
            name,
            handlers,
            state: RwLock::new(NspState {
                adapter,
                members: IdMap::default(),
                version: 0,
            }),
            last_broadcast: Mutex::new(None),
        }
    }

    pub(super) fn socket_count(&self) -> usize {
        read(&self.state).members.len()
    }

    pub(super) fn member(&self, id: &str) -> Option<Arc<SocketShared>> {
        read(&self.state).members.get(id).map(|m| m.shared.clone())
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        read(&self.state).members.contains_key(id)
    }

    /// Adds a socket with `data`, in the room of its own id and in `rooms`
    /// (a recovered socket's); returns what the observer is told.
    pub(super) fn add(
        &self,
        shared: Arc<SocketShared>,
        data: SocketData,
        rooms: &[String],
        observing: bool,
    ) -> Vec<SocketEvent> {
        let mut state = write(&self.state);
        state.version += 1;
        state.adapter.add_socket(&shared.id);
        state.adapter.join(&shared.id, &shared.id);
        let id = shared.id.clone();
        for room in rooms.iter().filter(|r| **r != *id) {
            state.adapter.join(&id, room);
        }
        state.members.insert(id.clone(), Member { shared, data });
        if !observing {
            return Vec::new();
        }
        // As the reference: its rooms are joined (its own first), then it is
        // connected.
        let own = std::iter::once(id.to_string());
        let others = rooms.iter().filter(|r| **r != *id).cloned();
        let mut events: Vec<SocketEvent> = own
            .chain(others)
            .map(|room| SocketEvent::Joined {
                namespace: self.name.clone(),
                id: id.clone(),
                room,
            })
            .collect();
        events.extend(state.info(&id).map(SocketEvent::Connected));
        events
    }

    /// Removes a socket that left; returns what the observer is told.
    ///
    /// With connection state recovery on, a socket that left for a
    /// recoverable reason leaves its session (rooms, data) in the log, kept
    /// at `now` for the window.
    pub(super) fn remove(
        &self,
        now: Instant,
        id: &str,
        reason: &DisconnectReason,
        observing: bool,
    ) -> Vec<SocketEvent> {
        let mut state = write(&self.state);
        let Some((id, member)) = state.members.remove_entry(id) else {
            return Vec::new();
        };
        state.version += 1;
        let keep = self.recovery.as_ref().zip(member.shared.pid.as_ref());
        let mut rooms = if observing || keep.is_some() {
            state.adapter.rooms_of(&id)
        } else {
            Vec::new()
        };
        state.adapter.remove_socket(&id);
        if let Some((recovery, pid)) = keep {
            let mut log = lock(&recovery.log);
            if is_recoverable(reason.as_str()) {
                let session = Session {
                    id: id.clone(),
                    rooms: rooms.clone(),
                    data: member.data,
                };
                log.left(now, pid, session);
            } else {
                log.forget(pid);
            }
        }
        if !observing {
            return Vec::new();
        }
        rooms.sort();
        // As the reference tells them: the disconnect, then the rooms left.
        let mut events = vec![SocketEvent::Disconnected {
            namespace: self.name.clone(),
            id: id.clone(),
            reason: reason.clone(),
        }];
        events.extend(rooms.into_iter().map(|room| SocketEvent::Left {
            namespace: self.name.clone(),
            id: id.clone(),
            room,
        }));
        events
    }

    /// Puts each of `ids` that is a member in `room`; returns what the
    /// observer is told.
    pub(super) fn join(&self, ids: &[Arc<str>], room: &str, observing: bool) -> Vec<SocketEvent> {
        let mut state = write(&self.state);
        state.version += 1;
        let mut events = Vec::new();
        for id in ids {
            if !state.members.contains_key(id) {
                continue;
            }
            let new = observing && !state.adapter.rooms_of(id).iter().any(|r| r == room);
            state.adapter.join(id, room);
            if new {
                events.push(SocketEvent::Joined {
                    namespace: self.name.clone(),
                    id: id.clone(),
                    room: room.to_owned(),
                });
            }
        }
        events
    }

    /// Takes each of `ids` out of `room`; returns what the observer is told.
    pub(super) fn leave(&self, ids: &[Arc<str>], room: &str, observing: bool) -> Vec<SocketEvent> {
        let mut state = write(&self.state);
        state.version += 1;
        let mut events = Vec::new();
        for id in ids {
            let was_in = observing && state.adapter.rooms_of(id).iter().any(|r| r == room);
            state.adapter.leave(id, room);
            if was_in && state.members.contains_key(id) {
                events.push(SocketEvent::Left {
                    namespace: self.name.clone(),
                    id: id.clone(),
                    room: room.to_owned(),
                });
            }
        }
        events
    }

    pub(super) fn rooms_of(&self, id: &str) -> Vec<String> {
        let mut rooms = read(&self.state).adapter.rooms_of(id);
        rooms.sort();
        rooms
    }

    /// The sockets an emit to `target` reaches, each once.
    pub(super) fn receivers(&self, target: &Target<'_>) -> Receivers {
        let state = read(&self.state);
        {
            let last = lock(&self.last_broadcast);
            if let Some(last) = &*last
                && last.version == state.version
                && last.except_socket.as_deref() == target.except_socket
                && last.options == *target.options
            {
                return last.receivers.clone();
            }
        }
        let receivers: Receivers = state
            .adapter
            .targets(target.options)
            .iter()
            .filter(|id| Some(&***id) != target.except_socket)
            .filter_map(|id| state.members.get(id))
            .filter_map(|m| Some((m.shared.clone(), m.shared.client.upgrade()?)))
            .collect();
        *lock(&self.last_broadcast) = Some(LastBroadcast {
            version: state.version,
            options: target.options.clone(),
            except_socket: target.except_socket.map(Arc::from),
            receivers: receivers.clone(),
        });
        receivers
    }

    /// Hands a broadcast delivered here to the adapter, for the other
    /// processes it serves ([`Adapter::publish`]).
    pub(super) fn publish(
        &self,
        packet: impl FnOnce() -> crate::socketio::Packet,
        target: &Target<'_>,
        volatile: bool,
    ) {
        let state = read(&self.state);
        if !state.adapter.publishes() {
            return;
        }
        let packet = &packet();
        match target.except_socket {
            None => state
                .adapter
                .publish_volatile(packet, target.options, volatile),
            Some(own) => {
                // Remote nodes know the sender by its room.
                let mut options = target.options.clone();
                options.except.push(own.to_owned());
                state.adapter.publish_volatile(packet, &options, volatile);
            }
        }
    }

    pub(super) fn set_data(&self, id: &str, type_id: TypeId, value: Arc<dyn Any + Send + Sync>) {
        if let Some(member) = write(&self.state).members.get_mut(id) {
            member.data.insert(type_id, value);
        }
    }

    pub(super) fn data(&self, id: &str, type_id: TypeId) -> Option<Arc<dyn Any + Send + Sync>> {
        read(&self.state)
            .members
            .get(id)?
            .data
            .get(&type_id)
            .cloned()
    }

    /// A copy of member `id`'s state, while it is one.
    pub(super) fn info(&self, id: &str) -> Option<SocketInfo> {
        read(&self.state).info(id)
    }

    pub(super) fn infos(&self) -> Vec<SocketInfo> {
        let state = read(&self.state);
        state
            .members
            .keys()
            .filter_map(|id| state.info(id))
            .collect()
    }
}

impl NspState {
    fn info(&self, id: &str) -> Option<SocketInfo> {
        let shared = &self.members.get(id)?.shared;
        let mut rooms = self.adapter.rooms_of(id);
        rooms.sort();
        let conn = shared.client.upgrade().map(|c| c.conn.clone());
        Some(SocketInfo {
            id: shared.id.clone(),
            namespace: shared.namespace.clone(),
            client: shared.sid,
            transport: conn.as_ref().and_then(|c| c.transport()),
            handshake: shared.handshake.clone(),
            request: conn.as_ref().and_then(|c| c.info()),
            rooms,
        })
    }
}

/// A broadcast waiting for acks ([`Operators::emit_with_ack`]).
pub(super) struct AckGroup {
    /// Acks asked and not answered yet.
    pub(super) waiting: usize,
    /// Whether every receiver has been asked (until then, `waiting == 0`
    /// does not mean done).
    pub(super) sealed: bool,
    pub(super) replies: Vec<Args>,
    pub(super) callback: BroadcastAckCallback,
}
