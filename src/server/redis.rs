//! The Redis adapter: the namespaces of this process share their
//! broadcasts with the other nodes of a cluster over Redis pub/sub, in the
//! classic format of Node's `@socket.io/redis-adapter` 8.3, so that
//! siobridge nodes, Node socket.io servers (with that adapter) and back
//! ends using `@socket.io/redis-emitter` 5.1 serve one set of clients.
//!
//! Implements `shared/spec/redis-adapter.md` ("Channels", "Broadcast
//! message", "Requests and responses", "Counting servers"); the bytes are
//! [`cluster::codec`](crate::cluster::codec)'s, the Redis protocol
//! [`cluster::resp`](crate::cluster::resp)'s.
//!
//! How it runs:
//! - one [`RedisCluster`] per process holds two connections, as Node's
//!   adapter is given a publishing and a subscribing client: a task that
//!   publishes, and a task that subscribes (for each namespace: the
//!   pattern `P#N#*`, the request channel `P-request#N#`, the response
//!   channels `P-response#N#` and `P-response#N#<uid>#`) and delivers
//!   what it receives;
//! - each namespace's [`RedisAdapter`] keeps its rooms in memory
//!   ([`InMemoryAdapter`]) and, for every broadcast delivered here that is
//!   not local, queues the encoded message for the publishing task
//!   ([`Adapter::publish`] never blocks: a full queue drops the message and
//!   counts it);
//! - a broadcast from another node (its uid is not this namespace's) is
//!   delivered through the namespace's ordinary operators, marked local so
//!   that it is not published back;
//! - a lost connection is retried with a growing delay (as ioredis does:
//!   50 ms more each attempt, at most [`RedisConfig::reconnect_max`]); the
//!   subscriber subscribes again. Local delivery never waits for Redis:
//!   broadcasts made while the publishing connection is down wait in the
//!   bounded queue and are sent when it is back; what other nodes publish
//!   while the subscriber is down is lost (pub/sub has no replay).
//!
//! The main namespace `/` subscribes when the cluster is attached to a
//! server, as Node's main namespace does when the server starts; other
//! namespaces on their first connection, or before with
//! [`RedisCluster::subscribe`] (the binary subscribes every mounted one).
//!
//! [`RedisCluster`] is the server's [`Cluster`] ([`RedisCluster::attach`]
//! installs it): the namespace operators (`io.of(ns).to(room).join(x)`,
//! `leave`, `disconnect_sockets`, `fetch_sockets`, `emit_with_ack`, `ack`)
//! and [`SocketIo::server_side_emit`] do this node's part and hand the
//! request to it, which publishes it to the other nodes and gathers their
//! answers. Its own async API has the same requests by namespace name, and
//! those only a cluster has (`server_count`, `all_rooms`).
//!
//! Tested by the in-memory tests below (Redis played by the test), and
//! end to end by `protocol-tests/node/test/redis-cluster.test.mjs` and
//! `redis-faults.test.mjs` against a real `redis-server`, Node socket.io
//! servers with the adapter, and the emitter.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rand::RngExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};

use serde_json::{Map, Value, json};

use crate::cluster::codec::{self, Channels, Flags, RequestType};
use crate::cluster::resp::{self, Push, Reply, RespLimits};
use crate::socketio::{
    AckError, Adapter, Args, BroadcastAcks, BroadcastOptions, Cluster, ClusterFuture,
    ClusterTimeout, InMemoryAdapter, Limits, Packet, RemoteSocket, SocketIo,
};

/// Answers `serverSideEmit` from other nodes: the event and its arguments
/// in, the acknowledgement's argument out (`None`: no answer, as a Node
/// listener that does not call its callback).
pub type ServerSideHandler = Arc<dyn Fn(&str, Args) -> Option<Args> + Send + Sync>;

/// How a process joins a Redis cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    /// Where Redis is: `redis://[[user]:password@]host[:port][/db]`
    /// (port 6379 by default).
    pub url: String,
    /// The key prefix of every channel. Default **`socket.io`**, the Node
    /// adapter's `key`.
    pub prefix: String,
    /// Longest wait for a reply to a command (PUBLISH, PUBSUB) before the
    /// connection is taken as lost. Default **5 s** (the Node adapter's
    /// `requestsTimeout`; ioredis itself has no command timeout).
    pub command_timeout: Duration,
    /// How long this node's requests to the others (`fetch_sockets`,
    /// `all_rooms`, `server_side_emit_with_ack`, `server_count`) wait for
    /// every answer. Default **5 s**, the Node adapter's `requestsTimeout`.
    pub requests_timeout: Duration,
    /// Longest delay between two connection attempts. Default **2 s**
    /// (ioredis's default `retryStrategy`: 50 ms per attempt, at most
    /// 2,000 ms).
    pub reconnect_max: Duration,
    /// Most messages waiting to be published (while the connection is
    /// down or slow); beyond, a broadcast is not published and is counted
    /// in [`RedisStats::publish_dropped`]. Default **4,096** (ioredis's
    /// offline queue has no bound).
    pub publish_queue: usize,
    /// Bounds on what is read from Redis (the largest message, 16 MiB by
    /// default).
    pub resp: RespLimits,
    /// Bounds on the messages of other nodes: nesting, binary values and
    /// event names, as for a client's packets. Default: the parser's
    /// defaults, with up to 1,000 binary values (Node's adapter has none).
    pub limits: Limits,
}

impl RedisConfig {
    /// The defaults, for Redis at `url`.
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            prefix: "socket.io".to_owned(),
            command_timeout: Duration::from_secs(5),
            requests_timeout: Duration::from_secs(5),
            reconnect_max: Duration::from_secs(2),
            publish_queue: 4096,
            resp: RespLimits::default(),
            limits: Limits {
                max_attachments: 1000,
                ..Limits::default()
            },
        }
    }

    /// Whether [`url`](Self::url) is a `redis://` URL this adapter can use.
    pub fn validate(&self) -> Result<(), String> {
        parse_url(&self.url).map(|_| ())
    }

    /// The same with key prefix `prefix`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> RedisConfig {
        self.prefix = prefix.into();
        self
    }
}

/// Where to connect and how to log in, from a `redis://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) user: Option<String>,
    pub(super) password: Option<String>,
    pub(super) db: Option<u32>,
}

pub(super) fn parse_url(url: &str) -> Result<Endpoint, String> {
    let bad = || format!("not a redis:// URL: {url:?}");
    let rest = url.strip_prefix("redis://").ok_or_else(bad)?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, hostport) = match authority.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, authority),
    };
    let (user, password) = match credentials {
        None => (None, None),
        Some(c) => match c.split_once(':') {
            Some((u, p)) => ((!u.is_empty()).then(|| u.to_owned()), Some(p.to_owned())),
            None => (Some(c.to_owned()), None),
        },
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => 6379,
            None => return Err(bad()),
        };
        (host.to_owned(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
            None => (hostport.to_owned(), 6379),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let db = match path.trim_end_matches('/') {
        "" => None,
        n => Some(n.parse().map_err(|_| bad())?),
    };
    Ok(Endpoint {
        host,
        port,
        user,
        password,
        db,
    })
}

/// What the adapter has done, for `/metrics` and `/healthz`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisStats {
    /// The publishing connection is up.
    pub publisher_up: bool,
    /// The subscribing connection is up and subscribed.
    pub subscriber_up: bool,
    /// Messages published (broadcasts and answers).
    pub published: u64,
    /// Broadcasts not published: the queue was full.
    pub publish_dropped: u64,
    /// Messages received from other nodes (own echoes not counted).
    pub received: u64,
    /// Messages that could not be decoded, dropped.
    pub malformed: u64,
    /// Connections (re)established, both connections counted.
    pub connects: u64,
}

/// A change of a connection's state, told to the listener set with
/// [`RedisCluster::on_state_change`] (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisEvent {
    /// The connection (`"publisher"` or `"subscriber"`) is up.
    Up(&'static str),
    /// The connection is lost, or could not be made, and is tried again;
    /// with why. Told once per outage, not at each attempt.
    Down(&'static str, String),
}

/// Told of every [`RedisEvent`].
type StateListener = Arc<dyn Fn(RedisEvent) + Send + Sync>;

/// One process's membership in a Redis cluster: its two connections and
/// the namespaces they serve. Cheap to clone. Its tasks run for as long as
/// the runtime does (a process joins one cluster for its lifetime).
///
/// ```no_run
/// # async fn f() -> Result<(), String> {
/// use siobridge::server::redis::{RedisCluster, RedisConfig};
/// use siobridge::socketio::Config;
///
/// let cluster = RedisCluster::start(RedisConfig::new("redis://127.0.0.1:6379"))?;
/// let io = cluster.socket_io(Config::default());
/// io.of("/").to("room1").emit("hello", "world"); // every node's room1
/// let sockets = io.of("/").fetch_sockets().await; // every node's
/// # let _ = sockets;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisCluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("url", &self.inner.config.url)
            .field("prefix", &self.inner.config.prefix)
            .finish_non_exhaustive()
    }
}

/// One namespace as the cluster sees it.
#[derive(Debug)]
struct NspLink {
    name: String,
    /// Its adapter's uid: its own messages come back with it.
    uid: String,
    channels: Channels,
}

enum Outgoing {
    Publish {
        channel: String,
        message: Vec<u8>,
    },
    /// A command whose reply is wanted (PUBSUB NUMSUB).
    Command {
        args: Vec<Vec<u8>>,
        reply: oneshot::Sender<Reply>,
    },
}

/// A request of this node waiting for the other nodes' answers.
struct Pending {
    /// Answers still expected.
    waiting: usize,
    /// The field of each answer that is collected (`sockets`, `rooms`,
    /// `data`), and whether it is a list to concatenate.
    field: &'static str,
    concat: bool,
    items: Vec<Value>,
    done: Option<oneshot::Sender<()>>,
}

/// A broadcast with acks of this node, waiting for the other nodes'
/// client counts and their clients' acks.
struct AckPending {
    /// Servers that have not said how many clients they asked.
    servers_waiting: usize,
    /// Acks still expected (client counts so far, less the acks received).
    acks_waiting: i64,
    acks: Vec<Args>,
    done: Option<oneshot::Sender<()>>,
}

/// Why a request to the other nodes did not get every answer: the
/// reference's timeout error, with the answers that came.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTimeout {
    /// What the reference says, e.g. `timeout reached while waiting for
    /// fetchSockets response`.
    pub message: String,
    /// The answers that came (for `serverSideEmit`: its replies).
    pub partial: Vec<Value>,
}

impl std::fmt::Display for RequestTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RequestTimeout {}

struct Inner {
    config: RedisConfig,
    endpoint: Endpoint,
    io: OnceLock<SocketIo>,
    namespaces: Mutex<HashMap<String, Arc<NspLink>>>,
    /// This node's requests waiting for answers, by request id.
    pending: Mutex<HashMap<String, Pending>>,
    /// This node's broadcasts with acks waiting for answers, by request id.
    ack_pending: Mutex<HashMap<String, AckPending>>,
    /// Told when a connection goes up or down.
    state_listener: Mutex<Option<StateListener>>,
    /// The `serverSideEmit` listeners, by namespace.
    server_side: Mutex<HashMap<String, ServerSideHandler>>,
    /// Wakes the subscriber when a namespace is added.
    new_namespace: Notify,
    out: mpsc::Sender<Outgoing>,
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
    published: AtomicU64,
    publish_dropped: AtomicU64,
    received: AtomicU64,
    malformed: AtomicU64,
    connects: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A random 6-character id, as `uid2(6)` makes them.
fn uid() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

impl RedisCluster {
    /// Starts the two connection tasks (they connect, and reconnect, on
    /// their own). Must be called within a tokio runtime. An unusable URL
    /// is an error; an unreachable Redis is not (the tasks keep trying).
    pub fn start(config: RedisConfig) -> Result<RedisCluster, String> {
        let endpoint = parse_url(&config.url)?;
        let (out, rx) = mpsc::channel(config.publish_queue.max(1));
        let inner = Arc::new(Inner {
            config,
            endpoint,
            io: OnceLock::new(),
            namespaces: Mutex::default(),
            server_side: Mutex::default(),
            state_listener: Mutex::default(),
            pending: Mutex::default(),
            ack_pending: Mutex::default(),
            new_namespace: Notify::new(),
            out,
            publisher_up: AtomicBool::new(false),
            subscriber_up: AtomicBool::new(false),
            published: AtomicU64::new(0),
            publish_dropped: AtomicU64::new(0),
            received: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            connects: AtomicU64::new(0),
        });
        tokio::spawn(publisher(inner.clone(), rx));
        tokio::spawn(subscriber(inner.clone()));
        Ok(RedisCluster { inner })
    }

    /// The cluster without its connection tasks, and the queue they would
    /// send: for tests that play Redis's part.
    #[cfg(test)]
    fn detached(config: RedisConfig) -> (RedisCluster, mpsc::Receiver<Outgoing>) {
        let endpoint = parse_url(&config.url).expect("a test URL");
        let (out, rx) = mpsc::channel(config.publish_queue.max(1));
        let inner = Arc::new(Inner {
            config,
            endpoint,
            io: OnceLock::new(),
            namespaces: Mutex::default(),
            server_side: Mutex::default(),
            state_listener: Mutex::default(),
            pending: Mutex::default(),
            ack_pending: Mutex::default(),
            new_namespace: Notify::new(),
            out,
            publisher_up: AtomicBool::new(false),
            subscriber_up: AtomicBool::new(false),
            published: AtomicU64::new(0),
            publish_dropped: AtomicU64::new(0),
            received: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            connects: AtomicU64::new(0),
        });
        (RedisCluster { inner }, rx)
    }

    /// A Socket.IO server whose namespaces use this cluster's adapter,
    /// reading the real clock: [`SocketIo::with_adapter`] with
    /// [`adapter`](Self::adapter), then [`attach`](Self::attach).
    pub fn socket_io(&self, config: crate::socketio::Config) -> SocketIo {
        let cluster = self.clone();
        let io = SocketIo::with_adapter(config, Arc::new(std::time::Instant::now), move |name| {
            Box::new(cluster.adapter(name))
        });
        self.attach(&io);
        io
    }

    /// The adapter of namespace `name` (for [`SocketIo::with_adapter`]):
    /// subscribes to its channels.
    pub fn adapter(&self, name: &str) -> RedisAdapter {
        RedisAdapter {
            local: InMemoryAdapter::new(),
            link: self.link(name),
            inner: self.inner.clone(),
        }
    }

    /// Delivers what other nodes publish to `io`'s sockets, makes `io`'s
    /// operators reach every node ([`SocketIo::set_cluster`]), and
    /// subscribes the main namespace. Call once, with the server made with
    /// [`adapter`](Self::adapter).
    pub fn attach(&self, io: &SocketIo) {
        let _ = self.inner.io.set(io.clone());
        io.set_cluster(Arc::new(self.clone()));
        self.link("/");
    }

    /// Subscribes namespace `name` now, before its first connection (as a
    /// Node server subscribes every namespace it declares with `io.of`), so
    /// that the other nodes' `serverCount()` counts this node there.
    pub fn subscribe(&self, name: &str) {
        self.link(name);
    }

    fn link(&self, name: &str) -> Arc<NspLink> {
        let mut namespaces = lock(&self.inner.namespaces);
        if let Some(link) = namespaces.get(name) {
            return link.clone();
        }
        let uid = uid();
        let link = Arc::new(NspLink {
            name: name.to_owned(),
            channels: Channels::new(&self.inner.config.prefix, name, &uid),
            uid,
        });
        namespaces.insert(name.to_owned(), link.clone());
        drop(namespaces);
        self.inner.new_namespace.notify_one();
        link
    }

    /// Listens to `serverSideEmit` of the other nodes on namespace
    /// `namespace` (the reference's `io.on(event, ...)` for server-side
    /// events): `handler` gets the event and its arguments and returns the
    /// acknowledgement's argument, sent back when the emitter asked for one.
    /// One handler per namespace; it runs on the subscriber's task, so it
    /// must not block. An event the namespace listens to itself
    /// ([`Namespace::on_server_side`](crate::socketio::Namespace::on_server_side))
    /// goes to that listener instead.
    pub fn on_server_side_emit(
        &self,
        namespace: &str,
        handler: impl Fn(&str, Args) -> Option<Args> + Send + Sync + 'static,
    ) {
        self.link(namespace);
        lock(&self.inner.server_side).insert(namespace.to_owned(), Arc::new(handler));
    }

    /// Sends `event` to the `serverSideEmit` listeners of the other nodes
    /// of the cluster (the reference's `io.serverSideEmit`, without an
    /// acknowledgement). Binary arguments are written as Node's JSON writes
    /// a Buffer.
    pub fn server_side_emit(&self, namespace: &str, event: &str, args: Args) {
        let link = self.link(namespace);
        let request = json!({"uid": link.uid, "type": RequestType::ServerSideEmit as u8,
            "data": server_side_data(event, args)});
        self.inner.queue(
            link.channels.request.clone(),
            request.to_string().into_bytes(),
        );
    }

    /// How many servers serve namespace `namespace` in the cluster, this
    /// one included: the subscribers of its request channel (the
    /// reference's `serverCount()`, `PUBSUB NUMSUB`).
    pub async fn server_count(&self, namespace: &str) -> std::io::Result<usize> {
        let link = self.link(namespace);
        let (tx, rx) = oneshot::channel();
        let command = Outgoing::Command {
            args: vec![
                b"PUBSUB".to_vec(),
                b"NUMSUB".to_vec(),
                link.channels.request.clone().into_bytes(),
            ],
            reply: tx,
        };
        self.inner
            .out
            .try_send(command)
            .map_err(|_| std::io::Error::other("the queue to Redis is full"))?;
        let reply = tokio::time::timeout(self.inner.config.requests_timeout, rx)
            .await
            .map_err(|_| std::io::Error::other("Redis did not answer in time"))?
            .map_err(|_| std::io::Error::other("the adapter stopped"))?;
        match reply {
            Reply::Array(Some(items)) => match items.get(1) {
                Some(Reply::Integer(n)) => Ok(usize::try_from(*n).unwrap_or(0)),
                _ => Err(std::io::Error::other("unexpected PUBSUB answer")),
            },
            Reply::Error(e) => Err(std::io::Error::other(e)),
            _ => Err(std::io::Error::other("unexpected PUBSUB answer")),
        }
    }

    /// Sends a request to the other nodes and collects `field` of each
    /// answer until `waiting` came, or the timeout.
    async fn request(
        &self,
        link: &NspLink,
        kind: RequestType,
        mut body: Map<String, Value>,
        (field, concat): (&'static str, bool),
        waiting: usize,
        what: &str,
    ) -> Result<Vec<Value>, RequestTimeout> {
        if waiting == 0 {
            return Ok(Vec::new());
        }
        let id = uid();
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.pending).insert(
            id.clone(),
            Pending {
                waiting,
                field,
                concat,
                items: Vec::new(),
                done: Some(tx),
            },
        );
        body.insert("uid".into(), link.uid.clone().into());
        body.insert("requestId".into(), id.clone().into());
        body.insert("type".into(), (kind as u8).into());
        self.inner.queue(
            link.channels.request.clone(),
            Value::Object(body).to_string().into_bytes(),
        );
        let answered = tokio::time::timeout(self.inner.config.requests_timeout, rx)
            .await
            .is_ok();
        let pending = lock(&self.inner.pending).remove(&id);
        let (items, left) = pending.map_or((Vec::new(), 0), |p| (p.items, p.waiting));
        if answered && left == 0 {
            Ok(items)
        } else {
            Err(RequestTimeout {
                message: if kind == RequestType::ServerSideEmit {
                    format!(
                        "timeout reached: only {} responses received out of {waiting}",
                        waiting - left
                    )
                } else {
                    format!("timeout reached while waiting for {what} response")
                },
                partial: items,
            })
        }
    }

    /// How many other servers to wait for (the reference: `serverCount()`
    /// less this one); none when Redis cannot say.
    async fn others(&self, namespace: &str) -> usize {
        self.server_count(namespace)
            .await
            .map_or(0, |n| n.saturating_sub(1))
    }

    /// The sockets of every node in `rooms` (none: all) but those in
    /// `except`, as the Node adapter's `fetchSockets` gives them:
    /// `{id, handshake, rooms, data}`, this node's first (the JSON of what
    /// `io.of(namespace)...try_fetch_sockets()` gives).
    pub async fn fetch_sockets(
        &self,
        namespace: &str,
        rooms: &[String],
        except: &[String],
    ) -> Result<Vec<Value>, RequestTimeout> {
        let link = self.link(namespace);
        let mut sockets = self.local_fetch(&link, rooms, except);
        let remote = self.remote_fetch(&link, rooms, except).await?;
        sockets.extend(remote);
        Ok(sockets)
    }

    fn local_fetch(&self, link: &NspLink, rooms: &[String], except: &[String]) -> Vec<Value> {
        let Some(io) = self.inner.io.get() else {
            return Vec::new();
        };
        select(io, &link.name, rooms, except)
            .fetch_sockets_here()
            .iter()
            .map(RemoteSocket::to_json)
            .collect()
    }

    /// Every room of every node (socket-id rooms included), sorted: the
    /// Node adapter's `allRooms()`.
    pub async fn all_rooms(&self, namespace: &str) -> Result<Vec<String>, RequestTimeout> {
        let link = self.link(namespace);
        let mut rooms: Vec<String> = self
            .inner
            .io
            .get()
            .map(|io| {
                io.socket_infos()
                    .into_iter()
                    .filter(|s| *s.namespace == *link.name)
                    .flat_map(|s| s.rooms)
                    .collect()
            })
            .unwrap_or_default();
        let others = self.others(namespace).await;
        let remote = self
            .request(
                &link,
                RequestType::AllRooms,
                Map::new(),
                ("rooms", true),
                others,
                "allRooms",
            )
            .await?;
        rooms.extend(remote.iter().filter_map(|r| r.as_str().map(str::to_owned)));
        rooms.sort();
        rooms.dedup();
        Ok(rooms)
    }

    /// `serverSideEmit` with an acknowledgement: the reply of every other
    /// node's listener, or the timeout with the replies that came (the
    /// reference's `serverSideEmitWithAck`).
    pub async fn server_side_emit_with_ack(
        &self,
        namespace: &str,
        event: &str,
        args: Args,
    ) -> Result<Vec<Value>, RequestTimeout> {
        let link = self.link(namespace);
        let others = self.others(namespace).await;
        let mut body = Map::new();
        body.insert("data".into(), server_side_data(event, args));
        self.request(
            &link,
            RequestType::ServerSideEmit,
            body,
            ("data", false),
            others,
            "serverSideEmit",
        )
        .await
    }

    /// Makes the sockets of every node in `rooms` (none: all) but those in
    /// `except` join (`leave` false) or leave the rooms `targets`: the
    /// reference's `socketsJoin` / `socketsLeave`. Applied here at once,
    /// published to the others: the same as
    /// `io.of(namespace).to(..).except(..).join(target)` (or `leave`).
    pub fn sockets_join_or_leave(
        &self,
        namespace: &str,
        rooms: &[String],
        except: &[String],
        targets: &[String],
        leave: bool,
    ) {
        let link = self.link(namespace);
        if let Some(io) = self.inner.io.get() {
            let ops = select(io, &link.name, rooms, except);
            for target in targets {
                if leave {
                    ops.leave(target);
                } else {
                    ops.join(target);
                }
            }
        }
        self.publish_join_or_leave(&link, rooms, except, targets, leave);
    }

    /// Disconnects the sockets of every node in `rooms` (none: all) but
    /// those in `except` (`close`: their whole connections): the
    /// reference's `disconnectSockets`. Applied here at once, published to
    /// the others: the same as `io.of(namespace)...disconnect_sockets(close)`.
    pub fn disconnect_sockets(
        &self,
        namespace: &str,
        rooms: &[String],
        except: &[String],
        close: bool,
    ) {
        let link = self.link(namespace);
        if let Some(io) = self.inner.io.get() {
            select(io, &link.name, rooms, except).disconnect_sockets(close);
        }
        self.publish_disconnect(&link, rooms, except, close);
    }

    /// A broadcast with acks to the sockets of every node in `rooms`
    /// (none: all) but those in `except`: each client's ack (its first
    /// argument), or, at `timeout`, the reference's "operation has timed
    /// out" with the acks that came (the reference's
    /// `io.timeout(t).emit(event, ..., callback)` on a cluster: every
    /// server says how many clients it asked, then their acks follow).
    /// The same as `io.of(namespace)...ack(event, args, timeout)`.
    pub async fn broadcast_with_ack(
        &self,
        namespace: &str,
        rooms: &[String],
        except: &[String],
        event: &str,
        args: Args,
        timeout: Duration,
    ) -> Result<Vec<Args>, (String, Vec<Args>)> {
        let link = self.link(namespace);
        let Some(io) = self.inner.io.get() else {
            return Ok(Vec::new());
        };
        let local = select(io, &link.name, rooms, except).ack(event, args.clone(), timeout);
        let options = BroadcastOptions {
            rooms: rooms.to_vec(),
            except: except.to_vec(),
        };
        let remote = self.remote_acks(&link, &options, event, args, timeout);
        let remote = remote.await;
        let local = local.await;
        let first = |acks: Vec<Args>| acks.into_iter().map(Args::only_first);
        match (local, remote) {
            (Ok(local), Ok(remote)) => Ok(first(local).chain(remote).collect()),
            (Ok(local), Err((_, remote))) | (Err((_, local)), Ok(remote) | Err((_, remote))) => {
                Err((
                    AckError::Timeout.to_string(),
                    first(local).chain(remote).collect(),
                ))
            }
        }
    }

    /// The other nodes' part of a broadcast with acks: published at once,
    /// answered within `timeout` from now.
    fn remote_acks(
        &self,
        link: &Arc<NspLink>,
        options: &BroadcastOptions,
        event: &str,
        args: Args,
        timeout: Duration,
    ) -> impl std::future::Future<Output = BroadcastAcks> + Send + 'static {
        let deadline = tokio::time::Instant::now() + timeout;
        let packet = codec::event_packet(&link.name, event, &args);
        let flags = Flags {
            timeout: Some(timeout.as_millis() as u64),
            ..Flags::default()
        };
        let (cluster, link, options) = (self.clone(), link.clone(), options.clone());
        async move {
            let id = uid();
            let (tx, rx) = oneshot::channel();
            // Counting the servers is within the timeout too.
            let Ok(others) = tokio::time::timeout_at(deadline, cluster.others(&link.name)).await
            else {
                return Err((AckError::Timeout, Vec::new()));
            };
            if others == 0 {
                return Ok(Vec::new());
            }
            lock(&cluster.inner.ack_pending).insert(
                id.clone(),
                AckPending {
                    servers_waiting: others,
                    acks_waiting: 0,
                    acks: Vec::new(),
                    done: Some(tx),
                },
            );
            cluster.inner.queue(
                link.channels.request.clone(),
                codec::encode_broadcast_request(
                    &link.uid,
                    &id,
                    &packet,
                    &options.rooms,
                    &options.except,
                    &flags,
                ),
            );
            let done = tokio::time::timeout_at(deadline, rx).await.is_ok();
            let pending = lock(&cluster.inner.ack_pending).remove(&id);
            let complete = done
                && pending
                    .as_ref()
                    .is_none_or(|p| p.servers_waiting == 0 && p.acks_waiting <= 0);
            let acks = pending.map(|p| p.acks).unwrap_or_default();
            if complete {
                Ok(acks)
            } else {
                Err((AckError::Timeout, acks))
            }
        }
    }

    /// The other nodes' sockets for a REMOTE_FETCH.
    async fn remote_fetch(
        &self,
        link: &NspLink,
        rooms: &[String],
        except: &[String],
    ) -> Result<Vec<Value>, RequestTimeout> {
        let others = self.others(&link.name).await;
        let mut body = Map::new();
        body.insert("opts".into(), json!({"rooms": rooms, "except": except}));
        self.request(
            link,
            RequestType::RemoteFetch,
            body,
            ("sockets", true),
            others,
            "fetchSockets",
        )
        .await
    }

    /// Publishes a REMOTE_JOIN or REMOTE_LEAVE.
    fn publish_join_or_leave(
        &self,
        link: &NspLink,
        rooms: &[String],
        except: &[String],
        targets: &[String],
        leave: bool,
    ) {
        let kind = if leave {
            RequestType::RemoteLeave
        } else {
            RequestType::RemoteJoin
        };
        let request = json!({"uid": link.uid, "type": kind as u8,
            "opts": {"rooms": rooms, "except": except}, "rooms": targets});
        self.inner.queue(
            link.channels.request.clone(),
            request.to_string().into_bytes(),
        );
    }

    /// Publishes a REMOTE_DISCONNECT.
    fn publish_disconnect(&self, link: &NspLink, rooms: &[String], except: &[String], close: bool) {
        let request = json!({"uid": link.uid, "type": RequestType::RemoteDisconnect as u8,
            "opts": {"rooms": rooms, "except": except}, "close": close});
        self.inner.queue(
            link.channels.request.clone(),
            request.to_string().into_bytes(),
        );
    }

    /// Calls `f` whenever a connection to Redis goes up or down (the
    /// binary logs it). It runs on the connection's task: it must not
    /// block.
    pub fn on_state_change(&self, f: impl Fn(RedisEvent) + Send + Sync + 'static) {
        *lock(&self.inner.state_listener) = Some(Arc::new(f));
    }

    /// The adapter's state and counters.
    pub fn stats(&self) -> RedisStats {
        let i = &self.inner;
        RedisStats {
            publisher_up: i.publisher_up.load(Ordering::Relaxed),
            subscriber_up: i.subscriber_up.load(Ordering::Relaxed),
            published: i.published.load(Ordering::Relaxed),
            publish_dropped: i.publish_dropped.load(Ordering::Relaxed),
            received: i.received.load(Ordering::Relaxed),
            malformed: i.malformed.load(Ordering::Relaxed),
            connects: i.connects.load(Ordering::Relaxed),
        }
    }

    /// The uid of namespace `name`'s adapter, once it has one.
    pub fn uid(&self, name: &str) -> Option<String> {
        lock(&self.inner.namespaces)
            .get(name)
            .map(|l| l.uid.clone())
    }
}

/// The cluster side of the operators of a server in this cluster
/// ([`attach`](RedisCluster::attach) installs it): each request published
/// to the other nodes, their answers gathered.
impl Cluster for RedisCluster {
    fn join_or_leave(
        &self,
        namespace: &str,
        target: &BroadcastOptions,
        rooms: &[String],
        leave: bool,
    ) {
        let link = self.link(namespace);
        self.publish_join_or_leave(&link, &target.rooms, &target.except, rooms, leave);
    }

    fn disconnect_sockets(&self, namespace: &str, target: &BroadcastOptions, close: bool) {
        let link = self.link(namespace);
        self.publish_disconnect(&link, &target.rooms, &target.except, close);
    }

    fn fetch_sockets(
        &self,
        namespace: &str,
        target: &BroadcastOptions,
    ) -> ClusterFuture<Result<Vec<RemoteSocket>, ClusterTimeout<RemoteSocket>>> {
        let (cluster, link, target) = (self.clone(), self.link(namespace), target.clone());
        let sockets = |values: Vec<Value>| -> Vec<RemoteSocket> {
            values
                .into_iter()
                .filter_map(RemoteSocket::from_json)
                .collect()
        };
        Box::pin(async move {
            cluster
                .remote_fetch(&link, &target.rooms, &target.except)
                .await
                .map(sockets)
                .map_err(|e| ClusterTimeout {
                    message: e.message,
                    partial: sockets(e.partial),
                })
        })
    }

    fn broadcast_with_ack(
        &self,
        namespace: &str,
        target: &BroadcastOptions,
        event: &str,
        args: Args,
        timeout: Duration,
    ) -> ClusterFuture<BroadcastAcks> {
        let link = self.link(namespace);
        Box::pin(self.remote_acks(&link, target, event, args, timeout))
    }

    fn server_side_emit(&self, namespace: &str, event: &str, args: Args) {
        RedisCluster::server_side_emit(self, namespace, event, args);
    }

    fn server_side_emit_with_ack(
        &self,
        namespace: &str,
        event: &str,
        args: Args,
    ) -> ClusterFuture<Result<Vec<Value>, ClusterTimeout<Value>>> {
        let (cluster, namespace, event) = (self.clone(), namespace.to_owned(), event.to_owned());
        Box::pin(async move {
            RedisCluster::server_side_emit_with_ack(&cluster, &namespace, &event, args)
                .await
                .map_err(|e| ClusterTimeout {
                    message: e.message,
                    partial: e.partial,
                })
        })
    }
}

impl Inner {
    fn tell(&self, event: RedisEvent) {
        let listener = lock(&self.state_listener).clone();
        if let Some(listener) = listener {
            listener(event);
        }
    }

    fn queue(&self, channel: String, message: Vec<u8>) {
        if self
            .out
            .try_send(Outgoing::Publish { channel, message })
            .is_err()
        {
            self.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The adapter of one namespace in a Redis cluster: rooms in memory, every
/// broadcast that is not local published to the other nodes.
pub struct RedisAdapter {
    local: InMemoryAdapter,
    link: Arc<NspLink>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("namespace", &self.link.name)
            .field("uid", &self.link.uid)
            .finish_non_exhaustive()
    }
}

impl Adapter for RedisAdapter {
    fn add_socket(&mut self, id: &Arc<str>) {
        self.local.add_socket(id)
    }

    fn remove_socket(&mut self, id: &str) {
        self.local.remove_socket(id)
    }

    fn join(&mut self, id: &Arc<str>, room: &str) {
        self.local.join(id, room)
    }

    fn leave(&mut self, id: &str, room: &str) {
        self.local.leave(id, room)
    }

    fn rooms_of(&self, id: &str) -> Vec<String> {
        self.local.rooms_of(id)
    }

    fn targets(&self, options: &BroadcastOptions) -> Vec<Arc<str>> {
        self.local.targets(options)
    }

    fn publish(&self, packet: &Packet, options: &BroadcastOptions) {
        self.publish_volatile(packet, options, false);
    }

    fn publish_volatile(&self, packet: &Packet, options: &BroadcastOptions, volatile: bool) {
        let flags = Flags {
            volatile,
            ..Flags::default()
        };
        let message = codec::encode_broadcast(
            &self.link.uid,
            packet,
            &options.rooms,
            &options.except,
            &flags,
        );
        let channel = self.link.channels.broadcast_to(&options.rooms);
        self.inner.queue(channel, message);
    }
}

/// `[event, ...args]` of a SERVER_SIDE_EMIT request, binary written as
/// Node's JSON writes a Buffer (requests are JSON).
fn server_side_data(event: &str, args: Args) -> Value {
    let (values, binary) = args.into_parts();
    let mut data = vec![Value::from(event)];
    data.extend(values);
    let mut data = Value::Array(data);
    crate::socketio::replace_placeholders(
        &mut data,
        &binary,
        |_, bytes| json!({"type": "Buffer", "data": bytes.to_vec()}),
    );
    data
}

/// The sockets of namespace `name` in `rooms` (none: all) but those in
/// `except`, here: local operators (what they do is not asked of the
/// other nodes again).
fn select(
    io: &SocketIo,
    name: &str,
    rooms: &[String],
    except: &[String],
) -> crate::socketio::Operators {
    let mut ops = io.of(name).local();
    for room in rooms {
        ops = ops.to(room);
    }
    for room in except {
        ops = ops.except(room);
    }
    ops
}

/// Delay before connection attempt `attempt` (1-based) after a failure:
/// 50 ms more each time, at most `max`, as ioredis's default.
fn backoff(attempt: u32, max: Duration) -> Duration {
    Duration::from_millis(50 * u64::from(attempt)).min(max)
}

/// Connects and logs in (AUTH, SELECT).
async fn connect(inner: &Inner) -> std::io::Result<(TcpStream, BytesMut)> {
    let e = &inner.endpoint;
    let mut stream = tokio::time::timeout(
        inner.config.command_timeout,
        TcpStream::connect((e.host.as_str(), e.port)),
    )
    .await
    .map_err(|_| std::io::Error::other("connect timed out"))??;
    stream.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut login: Vec<Vec<Vec<u8>>> = Vec::new();
    match (&e.user, &e.password) {
        (Some(user), Some(password)) => login.push(vec![
            b"AUTH".to_vec(),
            user.clone().into_bytes(),
            password.clone().into_bytes(),
        ]),
        (None, Some(password)) => login.push(vec![b"AUTH".to_vec(), password.clone().into_bytes()]),
        _ => {}
    }
    if let Some(db) = e.db {
        login.push(vec![b"SELECT".to_vec(), db.to_string().into_bytes()]);
    }
    for args in login {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        resp::command(&args, &mut out);
        stream.write_all(&out).await?;
        match read_reply(inner, &mut stream, &mut buf).await? {
            Reply::Error(e) => return Err(std::io::Error::other(e)),
            _ => continue,
        }
    }
    Ok((stream, buf))
}

/// Reads one reply, within the command timeout.
async fn read_reply(
    inner: &Inner,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> std::io::Result<Reply> {
    tokio::time::timeout(inner.config.command_timeout, async {
        loop {
            if let Some(reply) = take_reply(inner, buf)? {
                return Ok(reply);
            }
            if stream.read_buf(buf).await? == 0 {
                return Err(std::io::Error::other("redis closed the connection"));
            }
        }
    })
    .await
    .map_err(|_| std::io::Error::other("redis did not answer in time"))?
}

/// The first complete reply in `buf`, taken out of it.
fn take_reply(inner: &Inner, buf: &mut BytesMut) -> std::io::Result<Option<Reply>> {
    match resp::parse(buf, &inner.config.resp) {
        Ok(Some((reply, used))) => {
            buf.advance(used);
            Ok(Some(reply))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// The publishing connection: sends what the adapters queue, in batches,
/// reading one reply per command.
async fn publisher(inner: Arc<Inner>, mut rx: mpsc::Receiver<Outgoing>) {
    let mut attempt = 0;
    // A batch taken from the queue but not yet sent when the connection
    // broke is sent on the next one.
    let mut batch: Vec<Outgoing> = Vec::new();
    loop {
        match connect(&inner).await {
            Ok((mut stream, mut buf)) => {
                attempt = 0;
                inner.connects.fetch_add(1, Ordering::Relaxed);
                inner.publisher_up.store(true, Ordering::Relaxed);
                inner.tell(RedisEvent::Up("publisher"));
                let result = publish_loop(&inner, &mut stream, &mut buf, &mut rx, &mut batch).await;
                inner.publisher_up.store(false, Ordering::Relaxed);
                match result {
                    Ok(()) => return, // every adapter is gone
                    Err(e) => inner.tell(RedisEvent::Down("publisher", e.to_string())),
                }
            }
            Err(e) => {
                if attempt == 0 {
                    inner.tell(RedisEvent::Down("publisher", e.to_string()));
                }
                attempt += 1;
            }
        }
        tokio::time::sleep(backoff(attempt.max(1), inner.config.reconnect_max)).await;
    }
}

async fn publish_loop(
    inner: &Inner,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    rx: &mut mpsc::Receiver<Outgoing>,
    batch: &mut Vec<Outgoing>,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        if batch.is_empty() {
            // Waiting for work, the connection is watched too: a Redis that
            // went away is noticed now, not at the next publish.
            tokio::select! {
                first = rx.recv() => match first {
                    Some(first) => batch.push(first),
                    None => return Ok(()),
                },
                read = stream.read_buf(buf) => {
                    if read? == 0 {
                        return Err(std::io::Error::other("redis closed the connection"));
                    }
                    if buf.len() > inner.config.resp.max_bulk {
                        return Err(std::io::Error::other("redis sent what nobody asked"));
                    }
                    continue;
                }
            }
            while batch.len() < 256 {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
        }
        out.clear();
        for item in batch.iter() {
            match item {
                Outgoing::Publish { channel, message } => {
                    resp::command(&[b"PUBLISH", channel.as_bytes(), message], &mut out)
                }
                Outgoing::Command { args, .. } => {
                    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    resp::command(&args, &mut out)
                }
            }
        }
        stream.write_all(&out).await?;
        let mut replies = Vec::with_capacity(batch.len());
        for _ in 0..batch.len() {
            replies.push(read_reply(inner, stream, buf).await?);
        }
        for (item, reply) in batch.drain(..).zip(replies) {
            match item {
                Outgoing::Publish { .. } => {
                    inner.published.fetch_add(1, Ordering::Relaxed);
                }
                Outgoing::Command { reply: to, .. } => {
                    let _ = to.send(reply);
                }
            }
        }
    }
}

/// The subscribing connection: subscribes every namespace's channels,
/// delivers what comes.
async fn subscriber(inner: Arc<Inner>) {
    let mut attempt = 0;
    loop {
        match connect(&inner).await {
            Ok((mut stream, mut buf)) => {
                attempt = 0;
                inner.connects.fetch_add(1, Ordering::Relaxed);
                inner.tell(RedisEvent::Up("subscriber"));
                let result = subscribe_loop(&inner, &mut stream, &mut buf).await;
                inner.subscriber_up.store(false, Ordering::Relaxed);
                if let Err(e) = result {
                    inner.tell(RedisEvent::Down("subscriber", e.to_string()));
                }
            }
            Err(e) => {
                if attempt == 0 {
                    inner.tell(RedisEvent::Down("subscriber", e.to_string()));
                }
                attempt += 1;
            }
        }
        tokio::time::sleep(backoff(attempt.max(1), inner.config.reconnect_max)).await;
    }
}

async fn subscribe_loop(
    inner: &Inner,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> std::io::Result<()> {
    let mut subscribed: HashSet<String> = HashSet::new();
    loop {
        let links: Vec<Arc<NspLink>> = lock(&inner.namespaces)
            .values()
            .filter(|l| !subscribed.contains(&l.name))
            .cloned()
            .collect();
        if !links.is_empty() {
            let mut out = Vec::new();
            for link in &links {
                let c = &link.channels;
                resp::command(&[b"PSUBSCRIBE", c.broadcast_pattern().as_bytes()], &mut out);
                resp::command(
                    &[
                        b"SUBSCRIBE",
                        c.request.as_bytes(),
                        c.response.as_bytes(),
                        c.specific_response.as_bytes(),
                    ],
                    &mut out,
                );
                subscribed.insert(link.name.clone());
            }
            stream.write_all(&out).await?;
            inner.subscriber_up.store(true, Ordering::Relaxed);
        }
        tokio::select! {
            read = stream.read_buf(buf) => {
                if read? == 0 {
                    return Err(std::io::Error::other("redis closed the connection"));
                }
                while let Some(reply) = take_reply(inner, buf)? {
                    on_push(inner, resp::push(reply));
                }
            }
            _ = inner.new_namespace.notified() => {}
        }
    }
}

fn on_push(inner: &Inner, push: Push) {
    let (channel, payload) = match push {
        Push::PMessage { channel, payload } | Push::Message { channel, payload } => {
            (channel, payload)
        }
        Push::Other => return,
    };
    let Ok(channel) = std::str::from_utf8(&channel) else {
        return;
    };
    let links: Vec<Arc<NspLink>> = lock(&inner.namespaces).values().cloned().collect();
    for link in links {
        if let Some(room) = link.channels.room_of(channel) {
            on_broadcast(inner, &link, room, &payload);
            return;
        }
        if channel == link.channels.request {
            on_request(inner, &link, &payload);
            return;
        }
        if channel == link.channels.response || channel == link.channels.specific_response {
            on_response(inner, &payload);
            return;
        }
    }
}

fn on_broadcast(inner: &Inner, link: &NspLink, room: Option<&str>, payload: &Bytes) {
    // A room's channel, and no socket of the room here: dropped unread, as
    // the Node adapter's `hasRoom` check does.
    if let (Some(room), Some(io)) = (room, inner.io.get())
        && io.of(&link.name).to(room).socket_ids().is_empty()
    {
        return;
    }
    let message = match codec::decode_broadcast(payload, &inner.config.limits) {
        Ok(m) => m,
        Err(_) => {
            inner.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if message.uid.as_deref() == Some(link.uid.as_str()) {
        return; // our own, back from Redis
    }
    inner.received.fetch_add(1, Ordering::Relaxed);
    if message.namespace != link.name {
        return;
    }
    let Some(io) = inner.io.get() else { return };
    let mut ops = io.of(&link.name);
    for room in &message.rooms {
        ops = ops.to(room);
    }
    for room in &message.except {
        ops = ops.except(room);
    }
    if message.flags.volatile {
        ops = ops.volatile();
    }
    ops.local().emit(&message.event, message.args);
}

/// A request from another node (spec "Requests and responses"): applied to
/// this node's sockets, answered on the response channel when the
/// requester waits for an answer.
fn on_request(inner: &Inner, link: &NspLink, payload: &Bytes) {
    let request = match codec::decode_request(payload, &inner.config.limits) {
        Ok(r) => r,
        Err(_) => {
            inner.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if request.uid.as_deref() == Some(link.uid.as_str()) {
        return; // this node's own (it applies its requests itself)
    }
    inner.received.fetch_add(1, Ordering::Relaxed);
    let Some(io) = inner.io.get() else { return };
    let targets = || select(io, &link.name, &request.rooms, &request.except);
    let respond = |message: Vec<u8>| inner.queue(link.channels.response.clone(), message);
    let id = request.request_id.as_deref();
    match request.kind {
        RequestType::Sockets => {
            if let Some(id) = id {
                let mut fields = Map::new();
                fields.insert("sockets".into(), json!(targets().socket_ids()));
                respond(codec::encode_json_response(id, fields));
            }
        }
        RequestType::AllRooms => {
            if let Some(id) = id {
                let mut rooms: Vec<String> = io
                    .socket_infos()
                    .into_iter()
                    .filter(|s| *s.namespace == *link.name)
                    .flat_map(|s| s.rooms)
                    .collect();
                rooms.sort();
                rooms.dedup();
                let mut fields = Map::new();
                fields.insert("rooms".into(), json!(rooms));
                respond(codec::encode_json_response(id, fields));
            }
        }
        RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect => {
            // The older shape names one socket and answers.
            let ops = match &request.sid {
                Some(sid) if request.rooms.is_empty() && request.target_rooms.is_empty() => {
                    if io.socket(&link.name, sid).is_none() {
                        return;
                    }
                    io.of(&link.name).local().to(sid)
                }
                _ => targets(),
            };
            let rooms: Vec<&String> = match &request.room {
                Some(room) if request.target_rooms.is_empty() => vec![room],
                _ => request.target_rooms.iter().collect(),
            };
            match request.kind {
                RequestType::RemoteJoin => rooms.iter().for_each(|r| ops.join(r)),
                RequestType::RemoteLeave => rooms.iter().for_each(|r| ops.leave(r)),
                _ => {
                    ops.disconnect_sockets(request.close);
                }
            }
            if request.sid.is_some()
                && let Some(id) = id
            {
                respond(codec::encode_json_response(id, Map::new()));
            }
        }
        RequestType::RemoteFetch => {
            if let Some(id) = id {
                let sockets: Vec<Value> = targets()
                    .fetch_sockets_here()
                    .iter()
                    .map(RemoteSocket::to_json)
                    .collect();
                let mut fields = Map::new();
                fields.insert("sockets".into(), Value::Array(sockets));
                respond(codec::encode_json_response(id, fields));
            }
        }
        RequestType::ServerSideEmit => {
            let Some(event) = &request.event else { return };
            // The namespace's listener of the event, else this cluster's
            // listener of the namespace.
            let reply = if io.listens_server_side(&link.name, event) {
                io.handle_server_side_emit(&link.name, event, request.args.clone())
            } else {
                let handler = lock(&inner.server_side).get(&link.name).cloned();
                let Some(handler) = handler else { return };
                handler(event, request.args.clone())
            };
            if let (Some(id), Some(reply)) = (id, reply) {
                respond(codec::encode_server_side_ack(id, &reply));
            }
        }
        RequestType::Broadcast => {
            let (Some(id), Some(event)) = (id, &request.event) else {
                return;
            };
            // One ack request per socket, so that each ack is published as
            // it comes, as the Node adapter's `broadcastWithAck` does.
            let sockets: Vec<crate::socketio::Socket> = targets()
                .socket_ids()
                .iter()
                .filter_map(|sid| io.socket(&link.name, sid))
                .collect();
            respond(codec::encode_client_count(id, sockets.len()));
            let timeout = Duration::from_millis(request.flags.timeout.unwrap_or(5000));
            for socket in sockets {
                let (channel, out, id) = (
                    link.channels.response.clone(),
                    inner.out.clone(),
                    id.to_owned(),
                );
                socket.emit_with_ack(event, request.args.clone(), timeout, move |reply| {
                    if let Ok(reply) = reply {
                        let message = codec::encode_broadcast_ack(&id, &reply);
                        let _ = out.try_send(Outgoing::Publish { channel, message });
                    }
                });
            }
        }
        RequestType::BroadcastClientCount | RequestType::BroadcastAck => {}
    }
}

/// An answer to a request: collected when it is one of this node's.
fn on_response(inner: &Inner, payload: &Bytes) {
    let Ok((mut response, binary)) = codec::decode_response(payload, &inner.config.limits) else {
        inner.malformed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(id) = response
        .get("requestId")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    let kind = response.get("type").and_then(Value::as_u64);
    if let Some(acks) = lock(&inner.ack_pending).get_mut(&id) {
        inner.received.fetch_add(1, Ordering::Relaxed);
        if kind == Some(RequestType::BroadcastClientCount as u64) {
            let count = response.get("clientCount").and_then(Value::as_u64);
            acks.servers_waiting = acks.servers_waiting.saturating_sub(1);
            acks.acks_waiting += count.unwrap_or(0) as i64;
        } else if kind == Some(RequestType::BroadcastAck as u64) {
            let packet = response.remove("packet").unwrap_or(Value::Null);
            acks.acks.push(codec::args_of(packet, &binary));
            acks.acks_waiting -= 1;
        }
        if acks.servers_waiting == 0
            && acks.acks_waiting <= 0
            && let Some(done) = acks.done.take()
        {
            let _ = done.send(());
        }
        return;
    }
    let mut pending = lock(&inner.pending);
    let Some(p) = pending.get_mut(&id) else {
        return; // another node's, or too late
    };
    inner.received.fetch_add(1, Ordering::Relaxed);
    match response.remove(p.field) {
        Some(Value::Array(items)) if p.concat => p.items.extend(items),
        Some(_) if p.concat => {} // Node ignores an answer without the list
        item => p.items.push(item.unwrap_or(Value::Null)),
    }
    p.waiting = p.waiting.saturating_sub(1);
    if p.waiting == 0
        && let Some(done) = p.done.take()
    {
        let _ = done.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::socketio::testing::{ManualClock, TestClient};
    use crate::socketio::{Config, PacketType};

    /// A server in a cluster whose Redis is the test: what the adapter
    /// publishes is read from the queue, what Redis would deliver is
    /// given to `on_push`. Clients join the room their `join` event names.
    struct Node {
        cluster: RedisCluster,
        rx: mpsc::Receiver<Outgoing>,
        io: SocketIo,
        clock: ManualClock,
    }

    impl Node {
        fn new() -> Node {
            let (cluster, rx) = RedisCluster::detached(RedisConfig::new("redis://127.0.0.1"));
            let clock = ManualClock::new();
            let c = cluster.clone();
            let io = SocketIo::with_adapter(Config::default(), clock.clock(), move |name| {
                Box::new(c.adapter(name))
            });
            cluster.attach(&io);
            io.namespace("/").on("join", |socket, args, _| {
                socket.join(args.first().and_then(Value::as_str).unwrap_or_default())
            });
            Node {
                cluster,
                rx,
                io,
                clock,
            }
        }

        fn client(&self, rooms: &[&str]) -> (TestClient, String) {
            let client = TestClient::open(&self.io);
            let id = client.connect("/", None).unwrap();
            for room in rooms {
                client.emit("/", "join", json!([room]));
            }
            (client, id)
        }

        fn uid(&self) -> String {
            self.cluster.uid("/").unwrap()
        }

        /// Redis delivering `payload` on `channel`.
        fn deliver(&self, channel: &str, payload: Vec<u8>) {
            let push = if channel.starts_with("socket.io#") {
                Push::PMessage {
                    channel: Bytes::from(channel.to_owned()),
                    payload: Bytes::from(payload),
                }
            } else {
                Push::Message {
                    channel: Bytes::from(channel.to_owned()),
                    payload: Bytes::from(payload),
                }
            };
            on_push(&self.cluster.inner, push);
        }

        /// What was queued for Redis: `(channel, message)`.
        fn published(&mut self) -> Vec<(String, Bytes)> {
            let mut out = Vec::new();
            while let Ok(item) = self.rx.try_recv() {
                if let Outgoing::Publish { channel, message } = item {
                    out.push((channel, Bytes::from(message)));
                }
            }
            out
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn remote(rooms: &[&str], except: &[&str], volatile: bool) -> Vec<u8> {
        let packet = codec::event_packet("/", "news", &Args::new().arg("x").bytes(vec![7u8]));
        let flags = Flags {
            volatile,
            ..Flags::default()
        };
        codec::encode_broadcast("other", &packet, &strings(rooms), &strings(except), &flags)
    }

    #[test]
    fn broadcasts_of_other_nodes_reach_the_sockets_they_target() {
        let node = Node::new();
        let (a, a_id) = node.client(&["r"]);
        let (b, _) = node.client(&["r", "s"]);
        let (c, _) = node.client(&[]);
        node.deliver("socket.io#/#r#", remote(&["r"], &["s"], false));
        let binary = json!({"_placeholder": true, "num": 0});
        assert_eq!(
            a.events("/"),
            [("news".to_owned(), vec![json!("x"), binary])]
        );
        assert!(b.events("/").is_empty() && c.events("/").is_empty());
        node.deliver("socket.io#/#", remote(&[], &[a_id.as_str()], true));
        assert_eq!(
            (
                a.events("/").len(),
                b.events("/").len(),
                c.events("/").len()
            ),
            (0, 1, 1)
        );
        // Its own, another namespace's, garbage: nothing delivered.
        let packet = codec::event_packet("/", "news", &Args::new());
        let own = codec::encode_broadcast(&node.uid(), &packet, &[], &[], &Flags::default());
        node.deliver("socket.io#/#", own);
        let elsewhere = codec::event_packet("/other", "news", &Args::new());
        let elsewhere = codec::encode_broadcast("x", &elsewhere, &[], &[], &Flags::default());
        node.deliver("socket.io#/#", elsewhere);
        node.deliver("socket.io#/#", b"\xc1".to_vec());
        // On the channel of a room nobody here is in: not even read.
        node.deliver("socket.io#/#nobody#", b"\xc1".to_vec());
        assert!(a.events("/").is_empty() && b.events("/").is_empty() && c.events("/").is_empty());
        let stats = node.cluster.stats();
        assert_eq!((stats.received, stats.malformed), (3, 1));
    }

    #[test]
    fn broadcasts_here_are_published_as_node_does_and_local_ones_are_not() {
        let mut node = Node::new();
        let (_a, a_id) = node.client(&["r"]);
        let _ = node.published();
        node.io
            .of("/")
            .to("r")
            .emit("e", Args::new().bytes(vec![1u8, 2]));
        let published = node.published();
        assert_eq!(published.len(), 1);
        let (channel, bytes) = &published[0];
        assert_eq!(channel, "socket.io#/#r#");
        let b = codec::decode_broadcast(bytes, &Limits::default()).unwrap();
        assert_eq!(
            (b.uid, b.rooms, b.event),
            (Some(node.uid()), strings(&["r"]), "e".to_owned())
        );
        assert_eq!(b.args.binary, [Bytes::from_static(&[1, 2])]);
        node.io
            .of("/")
            .volatile()
            .except("x")
            .emit("v", Args::new());
        let b = codec::decode_broadcast(&node.published()[0].1, &Limits::default()).unwrap();
        assert!(b.flags.volatile);
        assert_eq!(b.except, ["x"]);
        node.io
            .socket("/", &a_id)
            .unwrap()
            .broadcast()
            .emit("s", Args::new());
        let b = codec::decode_broadcast(&node.published()[0].1, &Limits::default()).unwrap();
        assert_eq!(b.except, vec![a_id.clone()], "the sender, by its room");
        node.io.of("/").local().emit("l", Args::new());
        node.io.socket("/", &a_id).unwrap().emit("one", Args::new());
        assert!(
            node.published().is_empty(),
            "local and one-socket emits stay here"
        );
    }

    #[test]
    fn requests_of_other_nodes_are_answered() {
        let mut node = Node::new();
        let (a, a_id) = node.client(&["r"]);
        let (_b, b_id) = node.client(&[]);
        let _ = node.published();
        let request = |body: Value| body.to_string().into_bytes();
        node.deliver(
            "socket.io-request#/#",
            request(json!({"uid": "n", "requestId": "f1", "type": 5, "opts": {"rooms": ["r"], "except": []}})),
        );
        let answer = node.published();
        assert_eq!(answer[0].0, "socket.io-response#/#");
        let answer: Value = serde_json::from_slice(&answer[0].1).unwrap();
        assert_eq!(answer["requestId"], "f1");
        assert_eq!(answer["sockets"][0]["id"], a_id.as_str());
        let mut rooms = vec![a_id.clone(), "r".to_owned()];
        rooms.sort();
        assert_eq!(answer["sockets"][0]["rooms"], json!(rooms));
        assert_eq!(answer["sockets"].as_array().map(Vec::len), Some(1));
        node.deliver(
            "socket.io-request#/#",
            request(json!({"uid": "n", "requestId": "r1", "type": 1})),
        );
        let answer: Value = serde_json::from_slice(&node.published()[0].1).unwrap();
        let mut rooms = vec![a_id.clone(), b_id.clone(), "r".to_owned()];
        rooms.sort();
        assert_eq!(answer["rooms"], json!(rooms));
        // The emitter's socketsJoin (no uid), then the old one-socket shape.
        node.deliver(
            "socket.io-request#/#",
            request(json!({"type": 2, "opts": {"rooms": ["r"], "except": []}, "rooms": ["j"]})),
        );
        assert!(
            node.io
                .socket("/", &a_id)
                .unwrap()
                .rooms()
                .contains(&"j".to_owned())
        );
        assert!(node.published().is_empty(), "no answer to the new shape");
        node.deliver(
            "socket.io-request#/#",
            request(json!({"uid": "n", "type": 3, "sid": a_id, "room": "j", "requestId": "l1"})),
        );
        assert!(
            !node
                .io
                .socket("/", &a_id)
                .unwrap()
                .rooms()
                .contains(&"j".to_owned())
        );
        let answer: Value = serde_json::from_slice(&node.published()[0].1).unwrap();
        assert_eq!(answer, json!({"requestId": "l1"}));
        // A server-side event the namespace listens to: its listener answers.
        node.io
            .namespace("/")
            .on_server_side("ping", |args| Some(json!({"pong": args.first()}).into()));
        node.deliver(
            "socket.io-request#/#",
            request(json!({"uid": "n", "requestId": "s1", "type": 6, "data": ["ping", 5]})),
        );
        let answer: Value = serde_json::from_slice(&node.published()[0].1).unwrap();
        assert_eq!(
            answer,
            json!({"type": 6, "requestId": "s1", "data": {"pong": 5}})
        );
        // Its own requests are not applied twice.
        node.deliver(
            "socket.io-request#/#",
            request(json!({"uid": node.uid(), "type": 4, "opts": {"rooms": [], "except": []}, "close": false})),
        );
        assert!(node.io.socket("/", &b_id).is_some());
        // A broadcast with acks: the client count at once, the ack when it comes.
        let packet = codec::event_packet("/", "q", &Args::new().arg(1));
        let flags = Flags {
            timeout: Some(1000),
            ..Flags::default()
        };
        let ask =
            codec::encode_broadcast_request("n", "b1", &packet, &strings(&["r"]), &[], &flags);
        node.deliver("socket.io-request#/#", ask);
        let count: Value = serde_json::from_slice(&node.published()[0].1).unwrap();
        assert_eq!(
            count,
            json!({"type": 8, "requestId": "b1", "clientCount": 1})
        );
        let asked = a
            .take_packets()
            .into_iter()
            .find(|p| p.kind == PacketType::Event)
            .unwrap();
        a.send(&Packet::ack("/", vec![json!("yes")], asked.ack_id.unwrap()));
        let (fields, _) =
            codec::decode_response(&node.published()[0].1, &Limits::default()).unwrap();
        assert_eq!(
            (fields["type"].clone(), fields["packet"].clone()),
            (json!(9), json!("yes"))
        );
        node.clock.advance(&node.io, Duration::from_secs(2));
    }

    #[test]
    fn operators_publish_their_requests_and_other_nodes_requests_are_not_passed_on() {
        let mut node = Node::new();
        let (_a, a_id) = node.client(&["r"]);
        let _ = node.published();
        let request = |published: &[(String, Bytes)]| -> Value {
            assert_eq!(published.len(), 1, "{published:?}");
            assert_eq!(published[0].0, "socket.io-request#/#");
            serde_json::from_slice(&published[0].1).unwrap()
        };
        node.io.of("/").to("r").join("j");
        assert_eq!(
            request(&node.published()),
            json!({"uid": node.uid(), "type": 2, "opts": {"rooms": ["r"], "except": []}, "rooms": ["j"]})
        );
        node.io.of("/").to("r").except("nobody").leave("j");
        assert_eq!(
            request(&node.published()),
            json!({"uid": node.uid(), "type": 3, "opts": {"rooms": ["r"], "except": ["nobody"]}, "rooms": ["j"]})
        );
        node.io.of("/").local().join("l");
        assert!(node.published().is_empty(), "a local join stays here");
        // Another node's requests are applied here, and not published again.
        let from_n = |body: Value| body.to_string().into_bytes();
        node.deliver(
            "socket.io-request#/#",
            from_n(json!({"uid": "n", "type": 2, "opts": {"rooms": ["r"], "except": []}, "rooms": ["k"]})),
        );
        node.deliver(
            "socket.io-request#/#",
            from_n(json!({"uid": "n", "type": 4, "opts": {"rooms": ["nobody"], "except": []}, "close": false})),
        );
        assert!(node.published().is_empty());
        let rooms = node.io.socket("/", &a_id).unwrap().rooms();
        assert!(rooms.contains(&"k".to_owned()) && rooms.contains(&"l".to_owned()));
        assert!(!rooms.contains(&"j".to_owned()));
        assert_eq!(node.io.of("/").disconnect_sockets(true), 1);
        assert_eq!(
            request(&node.published()),
            json!({"uid": node.uid(), "type": 4, "opts": {"rooms": [], "except": []}, "close": true})
        );
    }

    #[test]
    fn a_full_queue_drops_broadcasts_and_counts_them() {
        let (cluster, _rx) = RedisCluster::detached(RedisConfig {
            publish_queue: 2,
            ..RedisConfig::new("redis://127.0.0.1")
        });
        let io = cluster.socket_io(Config::default());
        io.namespace("/");
        let client = TestClient::open(&io);
        client.connect("/", None).unwrap();
        for _ in 0..5 {
            io.of("/").emit("e", Args::new());
        }
        assert_eq!(client.events("/").len(), 5, "local delivery never waits");
        assert_eq!(cluster.stats().publish_dropped, 3);
    }

    /// Plays Redis and two other nodes for this node's requests: PUBSUB
    /// NUMSUB says 3 servers; a request gets `answers` answers (each
    /// `answer(request)`), published back as responses.
    fn other_nodes(
        cluster: &RedisCluster,
        mut rx: mpsc::Receiver<Outgoing>,
        answers: usize,
        answer: impl Fn(&Value) -> Value + Send + 'static,
    ) {
        let inner = cluster.inner.clone();
        tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                match item {
                    Outgoing::Command { reply, .. } => {
                        let _ = reply.send(Reply::Array(Some(vec![
                            Reply::Bulk(Some(Bytes::from_static(b"socket.io-request#/#"))),
                            Reply::Integer(3),
                        ])));
                    }
                    Outgoing::Publish { channel, message } if channel.contains("-request#") => {
                        let request: Value = serde_json::from_slice(&message).unwrap();
                        for _ in 0..answers {
                            let response = answer(&request).to_string();
                            on_response(&inner, &Bytes::from(response));
                        }
                    }
                    Outgoing::Publish { .. } => {}
                }
            }
        });
    }

    #[tokio::test(start_paused = true)]
    async fn requests_collect_every_answer_or_time_out_with_those_that_came() {
        let (cluster, rx) = RedisCluster::detached(RedisConfig::new("redis://127.0.0.1"));
        let io = cluster.socket_io(Config::default());
        io.namespace("/");
        let client = TestClient::open(&io);
        let here = client.connect("/", None).unwrap();
        other_nodes(&cluster, rx, 2, |request| {
            json!({"requestId": request["requestId"], "sockets": [{"id": "remote"}],
                "rooms": ["far"], "data": {"pong": request["data"][1]}})
        });
        assert_eq!(cluster.server_count("/").await.unwrap(), 3);
        let sockets = cluster.fetch_sockets("/", &[], &[]).await.unwrap();
        let ids: Vec<&str> = sockets.iter().filter_map(|s| s["id"].as_str()).collect();
        assert_eq!(ids, [here.as_str(), "remote", "remote"]);
        let rooms = cluster.all_rooms("/").await.unwrap();
        let mut expected = vec!["far".to_owned(), here.clone()];
        expected.sort();
        assert_eq!(rooms, expected);
        let replies = cluster
            .server_side_emit_with_ack("/", "ping", Args::new().arg(5))
            .await
            .unwrap();
        assert_eq!(replies, [json!({"pong": 5}), json!({"pong": 5})]);

        let (cluster, rx) = RedisCluster::detached(RedisConfig::new("redis://127.0.0.1"));
        let _io = cluster.socket_io(Config::default());
        other_nodes(
            &cluster,
            rx,
            1,
            |request| json!({"requestId": request["requestId"], "data": "only one"}),
        );
        let error = cluster
            .server_side_emit_with_ack("/", "ping", Args::new())
            .await
            .unwrap_err();
        assert_eq!(
            error,
            RequestTimeout {
                message: "timeout reached: only 1 responses received out of 2".into(),
                partial: vec![json!("only one")],
            }
        );
        let error = cluster.fetch_sockets("/", &[], &[]).await.unwrap_err();
        assert_eq!(
            error.message,
            "timeout reached while waiting for fetchSockets response"
        );
        assert!(
            lock(&cluster.inner.pending).is_empty(),
            "nothing left waiting"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_broadcast_with_acks_times_out_even_when_redis_cannot_count_the_servers() {
        // The queue to Redis is never read: PUBSUB NUMSUB gets no answer.
        let (cluster, _rx) = RedisCluster::detached(RedisConfig::new("redis://127.0.0.1"));
        let io = cluster.socket_io(Config::default());
        io.namespace("/");
        let started = tokio::time::Instant::now();
        let result = cluster
            .broadcast_with_ack("/", &[], &[], "q", Args::new(), Duration::from_millis(300))
            .await;
        assert_eq!(
            result,
            Err(("operation has timed out".to_owned(), Vec::new()))
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(1),
            "the ack timeout, not requests_timeout: {waited:?}"
        );
        assert!(lock(&cluster.inner.ack_pending).is_empty());
    }

    #[test]
    fn urls() {
        let e = parse_url("redis://127.0.0.1:6380/2").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.db),
            ("127.0.0.1", 6380, Some(2))
        );
        let e = parse_url("redis://:pw@localhost").unwrap();
        assert_eq!(
            (e.user, e.password.as_deref(), e.port),
            (None, Some("pw"), 6379)
        );
        let e = parse_url("redis://u:p@[::1]:7000/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.user.as_deref()),
            ("::1", 7000, Some("u"))
        );
        assert!(parse_url("http://x").is_err());
        assert!(parse_url("redis://h:notaport").is_err());
        assert!(parse_url("redis://").is_err());
    }

    #[test]
    fn backoff_grows_to_its_bound() {
        let max = Duration::from_secs(2);
        assert_eq!(backoff(1, max), Duration::from_millis(50));
        assert_eq!(backoff(10, max), Duration::from_millis(500));
        assert_eq!(backoff(1000, max), max);
    }

    #[test]
    fn uids_are_six_characters() {
        let (a, b) = (uid(), uid());
        assert_eq!((a.len(), b.len()), (6, 6));
        assert_ne!(a, b);
    }
}
