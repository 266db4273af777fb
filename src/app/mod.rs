//! The application layer: namespaces, middleware, sockets, rooms,
//! operators and acks, over the pure Socket.IO machine
//! ([`socketio::Client`](crate::socketio::Client)).
//!
//! The machine knows one connection and nothing of handlers; this layer
//! owns everything shared between connections and everything that runs
//! application code. It turns the machine's [`Event`](crate::socketio::Event)s
//! into handler calls, the application's emits into the machine's commands,
//! and drains every machine's [`Transmit`](crate::socketio::Transmit)s onto
//! its connection ([`Conn`]). It is the only part of the Socket.IO side that
//! locks.
//!
//! # How the state is partitioned, and why
//!
//! | state | where | lock |
//! |---|---|---|
//! | one connection's sockets, decoder, ack ids, deadlines | its [`Client`](crate::socketio::Client) machine | the client's own mutex |
//! | the callbacks of that client's pending acks, its sockets' handles | beside the machine | the same mutex |
//! | one namespace's members and rooms (its `Adapter`), per-socket data | the namespace | the namespace's read-write lock |
//! | which namespaces and clients exist | two tables | read-write locks, read on the hot path |
//! | when each client's next timer is due, broadcast-ack groups | the timer table | a mutex, taken only by acks with deadlines and timers |
//!
//! A message from one client locks that client only; a broadcast takes its
//! namespace's lock for reading while it resolves the receivers, lets it
//! go, then locks each receiver in turn for as long as it takes to queue
//! one packet on it. So the sessions of different clients are handled in
//! parallel on a multi-thread runtime, broadcasts to one namespace proceed
//! side by side, and no lock is ever held over every socket.
//!
//! Locks are taken in one order only: a client, then a namespace, then the
//! client table or the timer table; never two clients at once. Handlers,
//! middleware and ack callbacks always run with no lock held, so they may
//! call back into the server freely. The calls for one client happen in
//! the order its packets came.
//!
//! # Write combining
//!
//! The machine queues what a client must receive; the layer drains it onto
//! the connection after each input or command, and the Engine.IO session
//! under it writes everything queued since its last write in one go (one
//! WebSocket flush, one polling response): the packets a batch of messages
//! produces leave together without any batching of their own here.

mod ack_future;
mod cluster;
mod conn;
mod dispatch;
mod namespace;
mod observe;
mod operators;
mod recovery;
mod socket;
pub mod testing;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

pub use ack_future::AckFuture;
pub use cluster::{Cluster, ClusterFuture, ClusterTimeout, RemoteSocket};
pub use conn::{Conn, ConnInfo, queue_packet};
pub use namespace::{
    AckError, BroadcastAcks, HandlerFuture, Handshake, MiddlewareFuture, Namespace,
};
pub use observe::{SocketEvent, SocketInfo};
pub use operators::Operators;
pub use recovery::RecoveryKept;
pub use socket::{AckSender, Socket};

use crate::engineio::{Sid, SidGenerator};
use crate::id_hash::IdMap;
use crate::socketio::{Adapter, Config, InMemoryAdapter};
pub use dispatch::ClientCell;
use dispatch::{Timer, Work};
use namespace::{AckGroup, Handlers, Nsp};

/// Where the server reads the time. The `server` module passes
/// `Instant::now`; tests pass a virtual clock
/// ([`testing::ManualClock`]).
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

type Observer = Arc<dyn Fn(&SocketIo, SocketEvent) + Send + Sync>;
type DynamicMatcher = Box<dyn Fn(&str) -> bool + Send + Sync>;
/// Makes the adapter of a namespace, given its name.
type AdapterFactory = Box<dyn Fn(&str) -> Box<dyn Adapter> + Send + Sync>;

/// The handlers registered by name, and the dynamic families.
#[derive(Default)]
struct Registry {
    named: HashMap<Arc<str>, Arc<RwLock<Handlers>>>,
    dynamic: Vec<(DynamicMatcher, Arc<RwLock<Handlers>>)>,
}

/// The timer table: when each client must be given `handle_timeout`, and
/// the broadcasts waiting for acks.
#[derive(Default)]
struct Timers {
    due: BTreeSet<(Instant, Timer)>,
    groups: HashMap<u64, AckGroup>,
    next_group: u64,
}

/// Changes for the observer, told once no lock is held.
#[derive(Default)]
struct Observed {
    events: Vec<SocketEvent>,
    /// An observer call is in progress (the one telling drains the rest).
    telling: bool,
}

/// Server-wide watchers of sockets coming and going (logs, dashboards).
#[derive(Default)]
struct Observers {
    connect: Vec<namespace::ConnectHandler>,
    disconnect: Vec<namespace::DisconnectHandler>,
}

struct Inner {
    config: Arc<Config>,
    clock: Clock,
    // Handlers only, never a `Namespace`: it holds a `SocketIo`, and a
    // server that owned handles to itself would never be freed.
    registry: RwLock<Registry>,
    /// The live namespaces (made on first connect), by name.
    nsps: RwLock<HashMap<Arc<str>, Arc<Nsp>>>,
    /// The connected clients, by Engine.IO session id.
    clients: RwLock<IdMap<Sid, Arc<ClientCell>>>,
    timers: Mutex<Timers>,
    ids: Mutex<SidGenerator>,
    timer_waker: RwLock<Option<Box<dyn Fn() + Send + Sync>>>,
    slow_consumers: AtomicU64,
    rate_limited: AtomicU64,
    /// reason → sockets that left for it, since the server started.
    disconnects: Mutex<HashMap<String, u64>>,
    adapter_factory: AdapterFactory,
    /// [`SocketIo::on_every_connect`] and [`SocketIo::on_every_disconnect`].
    observers: RwLock<Observers>,
    /// Work found while queueing an emit (a slow consumer to disconnect)
    /// that runs application code, so it waits until the emit returned:
    /// an emit never calls back into the application.
    deferred: Mutex<Vec<Work>>,
    /// [`SocketIo::set_observer`].
    observer: RwLock<Option<Observer>>,
    /// Whether an observer is set: only then are changes recorded.
    observing: AtomicBool,
    observed: Mutex<Observed>,
    /// [`SocketIo::set_observe_events`].
    observe_events: AtomicBool,
    /// [`SocketIo::set_spawner`].
    spawner: RwLock<Option<Spawner>>,
    /// [`SocketIo::set_cluster`].
    cluster: RwLock<Option<Arc<dyn Cluster>>>,
    /// Whether the connection state recovery sweep is in the timer table.
    sweep_scheduled: AtomicBool,
    /// Starts every recovery offset this server makes.
    recovery_tag: String,
}

type Spawner = Box<dyn Fn(namespace::HandlerFuture) + Send + Sync>;

/// The Socket.IO server. Cheap to clone; every clone is the same server.
///
/// It is driven from outside, as the machine under it: an Engine.IO
/// connection is handed in as a [`Conn`] ([`SocketIo::handle_open`]), its
/// messages with [`SocketIo::handle_messages`], its end with
/// [`SocketIo::handle_close`], and time with [`SocketIo::handle_timeout`] at
/// [`SocketIo::poll_timeout`]. The `server` module does this for real
/// connections; [`testing::TestClient`] for tests.
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<Inner>,
}

impl fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIo").finish_non_exhaustive()
    }
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
        let mut ids = SidGenerator::new(config.rng_seed);
        // A few random characters, then a separator: offsets read `<tag>-<n>`.
        // (Drawn only with recovery on: seeded socket ids stay as they were.)
        let recovery_tag = match config.state_recovery {
            Some(_) => format!("{}-", &ids.next_sid().as_str()[..6]),
            None => String::new(),
        };
        SocketIo {
            inner: Arc::new(Inner {
                config: Arc::new(config),
                clock,
                registry: RwLock::default(),
                nsps: RwLock::default(),
                clients: RwLock::default(),
                timers: Mutex::default(),
                ids: Mutex::new(ids),
                timer_waker: RwLock::new(None),
                slow_consumers: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
                disconnects: Mutex::default(),
                adapter_factory: Box::new(adapter),
                observers: RwLock::default(),
                deferred: Mutex::new(Vec::new()),
                observer: RwLock::new(None),
                observing: AtomicBool::new(false),
                observed: Mutex::default(),
                observe_events: AtomicBool::new(false),
                spawner: RwLock::new(None),
                cluster: RwLock::new(None),
                sweep_scheduled: AtomicBool::new(false),
                recovery_tag,
            }),
        }
    }

    /// The server's settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
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
        f: impl Fn(&Socket, &crate::socketio::DisconnectReason) + Send + Sync + 'static,
    ) -> &Self {
        write(&self.inner.observers).disconnect.push(Box::new(f));
        self
    }

    /// The namespace `name` (created on first use), to register handlers on.
    pub fn namespace(&self, name: &str) -> Namespace {
        let name: Arc<str> = Arc::from(normalize_namespace(name).as_str());
        let handlers = write(&self.inner.registry)
            .named
            .entry(name.clone())
            .or_default()
            .clone();
        Namespace::new(self.clone(), handlers, Some(name))
    }

    /// A family of dynamic namespaces: any namespace whose name `matches`
    /// is served with the returned handlers (the reference server's "parent
    /// namespace", matched by a predicate or a pattern).
    pub fn dynamic_namespace(
        &self,
        matches: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Namespace {
        let handlers: Arc<RwLock<Handlers>> = Arc::default();
        write(&self.inner.registry)
            .dynamic
            .push((Box::new(matches), handlers.clone()));
        Namespace::new(self.clone(), handlers, None)
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
        self.live_namespaces()
            .iter()
            .map(|nsp| nsp.socket_count())
            .sum()
    }

    /// Number of connected sockets per namespace that has any, sorted by
    /// name.
    pub fn sockets_by_namespace(&self) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> = self
            .live_namespaces()
            .iter()
            .map(|nsp| (nsp.name.to_string(), nsp.socket_count()))
            .filter(|(_, n)| *n > 0)
            .collect();
        counts.sort();
        counts
    }

    /// How many sockets left for each
    /// [`DisconnectReason`](crate::socketio::DisconnectReason) (by its
    /// [`as_str`](crate::socketio::DisconnectReason::as_str) name) since the
    /// server started, sorted by reason.
    pub fn disconnects_by_reason(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = lock(&self.inner.disconnects)
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
        let nsp = self.live_namespace(&normalize_namespace(namespace))?;
        let shared = nsp.member(id)?;
        Some(Socket::new(self.clone(), shared))
    }

    /// A copy of every connected socket's state, sorted by namespace and id
    /// (`fetchSockets()` over every namespace in the reference server).
    pub fn socket_infos(&self) -> Vec<SocketInfo> {
        let mut infos: Vec<SocketInfo> = self
            .live_namespaces()
            .iter()
            .flat_map(|nsp| nsp.infos())
            .collect();
        infos.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
        infos
    }

    /// Sets the observer: `f` is told of every socket that connects or
    /// leaves and of every room joined or left, in the order they happened,
    /// on every namespace. It replaces any earlier observer.
    ///
    /// `f` is never called with a lock held (the changes are recorded and
    /// told after the call that made them returns, or at the end of the
    /// batch of messages in hand), so it may call back into the server:
    /// emit, join, disconnect. The changes it makes itself are told after
    /// it returns.
    pub fn set_observer(&self, f: impl Fn(&SocketIo, SocketEvent) + Send + Sync + 'static) {
        *write(&self.inner.observer) = Some(Arc::new(f));
        self.inner.observing.store(true, Ordering::Release);
    }

    /// Whether the observer is also told of every event a socket sends and
    /// of every event emitted to one socket ([`SocketEvent::EventReceived`],
    /// [`SocketEvent::EventSent`]). Off by default: when on, each such event
    /// costs a copy of its arguments.
    pub fn set_observe_events(&self, on: bool) {
        self.inner.observe_events.store(on, Ordering::Relaxed);
    }

    /// Sets what to call when a new deadline may be earlier than the one the
    /// driver sleeps on, or deferred work waits.
    pub fn set_timer_waker(&self, waker: impl Fn() + Send + Sync + 'static) {
        *write(&self.inner.timer_waker) = Some(Box::new(waker));
    }

    // ----- internals shared by the files of this module ------------------------

    fn now(&self) -> Instant {
        (self.inner.clock)()
    }

    fn wake_timer(&self) {
        if let Some(waker) = &*read(&self.inner.timer_waker) {
            waker();
        }
    }

    fn observing(&self) -> bool {
        self.inner.observing.load(Ordering::Acquire)
    }

    /// Records changes for the observer, told by the next [`tell`](Self::tell).
    fn record(&self, events: impl IntoIterator<Item = SocketEvent>) {
        lock(&self.inner.observed).events.extend(events);
    }

    /// Records an event for the observer when events are observed.
    fn observe_event(&self, make: impl FnOnce() -> SocketEvent) {
        if self.inner.observe_events.load(Ordering::Relaxed) && self.observing() {
            self.record([make()]);
        }
    }

    /// Tells the observer the changes recorded so far. One thread tells at a
    /// time, in order; a change recorded while another thread tells is told
    /// by that thread.
    fn tell(&self) {
        if !self.observing() {
            return;
        }
        let Some(observer) = read(&self.inner.observer).clone() else {
            return;
        };
        loop {
            let events = {
                let mut observed = lock(&self.inner.observed);
                if observed.telling || observed.events.is_empty() {
                    return;
                }
                observed.telling = true;
                std::mem::take(&mut observed.events)
            };
            // Cleared even if the observer panics.
            let _telling = Telling(self);
            for event in events {
                observer(self, event);
            }
        }
    }

    fn live_namespace(&self, name: &str) -> Option<Arc<Nsp>> {
        read(&self.inner.nsps).get(name).cloned()
    }

    fn live_namespaces(&self) -> Vec<Arc<Nsp>> {
        read(&self.inner.nsps).values().cloned().collect()
    }

    /// The live namespace `name`, made with `handlers` on first use.
    fn live_namespace_or_make(&self, name: &str, handlers: &Arc<RwLock<Handlers>>) -> Arc<Nsp> {
        if let Some(nsp) = self.live_namespace(name) {
            return nsp;
        }
        let mut nsps = write(&self.inner.nsps);
        nsps.entry(Arc::from(name))
            .or_insert_with(|| {
                let adapter = (self.inner.adapter_factory)(name);
                let recovery = self.inner.config.state_recovery.clone().map(|config| {
                    recovery::NspRecovery::new(config, self.inner.recovery_tag.clone())
                });
                Arc::new(Nsp::new(
                    Arc::from(name),
                    handlers.clone(),
                    adapter,
                    recovery,
                ))
            })
            .clone()
    }

    /// The handlers that serve namespace `name`: its own, or a dynamic
    /// family's.
    fn find_handlers(&self, name: &str) -> Option<Arc<RwLock<Handlers>>> {
        let registry = read(&self.inner.registry);
        if let Some(handlers) = registry.named.get(name) {
            return Some(handlers.clone());
        }
        registry
            .dynamic
            .iter()
            .find(|(matches, _)| matches(name))
            .map(|(_, handlers)| handlers.clone())
    }
}

/// Clears [`Observed::telling`] when the observer returns (or panics).
struct Telling<'a>(&'a SocketIo);

impl Drop for Telling<'_> {
    fn drop(&mut self) {
        lock(&self.0.inner.observed).telling = false;
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

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
