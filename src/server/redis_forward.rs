//! Sticky sessions past the adapter (issue 17): a polling request for a
//! session this node does not hold is passed, over Redis, to the node that
//! holds it, and its answer comes back the same way, so a plain round-robin
//! balancer works (the role of Node's `@socket.io/cluster-engine`).
//!
//! The messages are [`cluster::forward`](crate::cluster::forward)'s, on two
//! channels per server path: `P-forward#<path>#` (every node subscribes;
//! requests go there, as cluster-engine's ACQUIRE_LOCK goes to every node)
//! and `P-forward#<path>#<node>#` (answers to node `<node>`). This module
//! opens its own two Redis connections, beside the adapter's.
//!
//! Every wait is bounded by [`ForwardConfig`]: without an `Accepted` within
//! `response_timeout` (no node holds the session, or Redis is down) the
//! client gets the same 400 `Session ID unknown` as without forwarding; an
//! accepted request waits for its answer at most `ping_interval +
//! ping_timeout + response_timeout`, time for a long-poll GET to get its
//! PING.
//!
//! A WebSocket upgrade (a GET with `sid` and `Upgrade: websocket`) that
//! reaches a node not holding the session becomes a tunnel (the `Upgrade`,
//! `Opened`, `Data` and `End` messages): the owner takes the probe as if
//! the upgrade had come to it and runs the WebSocket over an in-memory pipe
//! (`WsIo::Relayed` in the session driver); this node answers the
//! handshake and moves the connection's bytes both ways, in order, each
//! read one `PUBLISH`. A tunnel ends when either side's connection ends,
//! when the other node says so, when nothing has come from the other node
//! for a heartbeat and a `response_timeout` (that node is gone: a live
//! session hears a PING or a PONG every `pingInterval`), or when its
//! incoming queue overflows
//! ([`ForwardConfig::tunnel_queue`]); the client then sees its WebSocket
//! close, as when a node goes away.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::redis::{Endpoint, RedisConfig, parse_url};
use super::{Shared, http, lock};
use crate::cluster::forward::{self, Forward, ForwardMethod};
use crate::cluster::resp::{self, Push, Reply};
use crate::engineio::Sid;

/// The bounds of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardConfig {
    /// How long a forwarded request waits for its owner to say it holds the
    /// session; past it the client gets 400 `Session ID unknown`. Default
    /// **1 s**, cluster-engine's `responseTimeout`.
    pub response_timeout: Duration,
    /// Most forwarded requests of this node waiting for an answer at once;
    /// beyond, a request gets 400 `Session ID unknown` at once. Default
    /// **10,000**.
    pub max_pending: usize,
    /// Most messages waiting to be published; beyond, the message is
    /// dropped (its request times out). Default **4,096**, as the adapter's
    /// `publish_queue`. (A tunnel's bytes wait for room instead: they are
    /// never dropped.)
    pub publish_queue: usize,
    /// Most WebSocket tunnels open at once on this node, either end;
    /// beyond, an upgrade for another node's session gets 400 `Session ID
    /// unknown` (the client stays on polling). Default **10,000**.
    pub max_tunnels: usize,
    /// Most chunks of a tunnel's bytes from the other node waiting to be
    /// written to its connection; beyond, the tunnel ends (its WebSocket
    /// closes). Default **256** (each chunk at most one read, 16 KiB).
    pub tunnel_queue: usize,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig {
            response_timeout: Duration::from_secs(1),
            max_pending: 10_000,
            publish_queue: 4096,
            max_tunnels: 10_000,
            tunnel_queue: 256,
        }
    }
}

/// The most bytes a tunnel reads at once: one `Data` message.
const TUNNEL_CHUNK: usize = 16 * 1024;

/// The size of the in-memory pipe under a relayed WebSocket on its owner.
const TUNNEL_PIPE: usize = 64 * 1024;

/// How an upgrade sent to the owner was answered.
enum UpgradeAnswer {
    /// The owner took it: the tunnel is open to node `owner`.
    Opened(String),
    /// The owner refused it with this answer (status, type, body).
    Refused(u16, String, Bytes),
}

/// A tunnel open on this node, for either end: the queue of the bytes the
/// other node sent, which its pump writes to the local connection.
type TunnelInbox = mpsc::Sender<Bytes>;

/// What the requester of a tunnel gets when the owner took it.
pub(super) struct TunnelLink {
    id: u64,
    owner: String,
    inbox: mpsc::Receiver<Bytes>,
}

/// What a pending forwarded request waits for.
struct Pending {
    accepted: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Sender<(u16, String, Bytes)>>,
}

/// One server's forwarding: its node id, its Redis connections' queue and
/// its pending requests.
pub(super) struct Forwarder {
    node: String,
    all: String,
    prefix: String,
    config: ForwardConfig,
    out: mpsc::Sender<(String, Vec<u8>)>,
    pending: Mutex<HashMap<u64, Pending>>,
    /// The requests of other nodes this node is serving, by (node, id).
    serving: Mutex<HashMap<(String, u64), tokio::task::AbortHandle>>,
    /// Upgrades this node asked an owner to take, by id.
    upgrades: Mutex<HashMap<u64, oneshot::Sender<UpgradeAnswer>>>,
    /// Open tunnels, both ends, by (requester node, id).
    tunnels: Mutex<HashMap<(String, u64), TunnelInbox>>,
    next_id: AtomicU64,
    shared: Weak<Shared>,
}

/// Removes a pending request when its wait ends, however it ends; when
/// the owner took it and its answer has not come (the client went away),
/// tells the owner to drop it.
struct PendingGuard<'a>(&'a Forwarder, u64);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let removed = lock(&self.0.pending).remove(&self.1);
        if let Some(p) = removed
            && p.accepted.is_none()
            && p.done.is_some()
        {
            self.0.publish(
                self.0.all.clone(),
                &Forward::Abort {
                    id: self.1,
                    from: self.0.node.clone(),
                },
            );
        }
    }
}

impl Forwarder {
    /// Starts forwarding for `shared` (its path names the channels): the
    /// publishing and subscribing tasks.
    pub(super) fn start(
        shared: &Arc<Shared>,
        redis: &RedisConfig,
        config: ForwardConfig,
    ) -> Result<Arc<Forwarder>, String> {
        let endpoint = parse_url(&redis.url)?;
        let node = format!("{:016x}", rand::random::<u64>());
        let base = format!("{}-forward#{}#", redis.prefix, shared.config.path);
        let (out, rx) = mpsc::channel(config.publish_queue.max(1));
        let f = Arc::new(Forwarder {
            all: base.clone(),
            prefix: base,
            node,
            config,
            out,
            pending: Mutex::new(HashMap::new()),
            serving: Mutex::new(HashMap::new()),
            upgrades: Mutex::new(HashMap::new()),
            tunnels: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            shared: Arc::downgrade(shared),
        });
        let link = Link {
            endpoint,
            redis: redis.clone(),
        };
        tokio::spawn(publisher(link.clone(), rx));
        tokio::spawn(subscriber(link, Arc::downgrade(&f)));
        Ok(f)
    }

    fn reply_channel(&self, node: &str) -> String {
        format!("{}{}#", self.prefix, node)
    }

    fn publish(&self, channel: String, message: &Forward) {
        let _ = self.out.try_send((channel, forward::encode(message)));
    }

    /// Passes a polling request for `sid` to its owner; `None` when no node
    /// took it in time.
    pub(super) async fn forward(
        &self,
        sid: &Sid,
        method: ForwardMethod,
        query: &str,
        body: Bytes,
    ) -> Option<(u16, String, Bytes)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (accepted_tx, accepted_rx) = oneshot::channel();
        let (done_tx, mut done_rx) = oneshot::channel();
        {
            let mut pending = lock(&self.pending);
            if pending.len() >= self.config.max_pending {
                return None;
            }
            pending.insert(
                id,
                Pending {
                    accepted: Some(accepted_tx),
                    done: Some(done_tx),
                },
            );
        }
        let _guard = PendingGuard(self, id);
        self.publish(
            self.all.clone(),
            &Forward::Request {
                id,
                from: self.node.clone(),
                sid: sid.as_str().to_owned(),
                method,
                query: query.to_owned(),
                body,
            },
        );
        let first = self.config.response_timeout;
        tokio::select! {
            r = accepted_rx => r.ok()?,
            r = &mut done_rx => return r.ok(),
            _ = tokio::time::sleep(first) => return None,
        }
        let engine = &self.shared.upgrade()?.config.engine;
        let long = engine.ping_interval + engine.ping_timeout + first;
        tokio::time::timeout(long, done_rx).await.ok()?.ok()
    }

    /// Asks the owner of `sid` to take a WebSocket upgrade through a
    /// tunnel: `None` when no node took it in time (or too many tunnels
    /// are open), the owner's refusal, or the open tunnel.
    pub(super) async fn tunnel(
        &self,
        sid: &Sid,
        query: &str,
    ) -> Option<Result<TunnelLink, (u16, String, Bytes)>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let key = (self.node.clone(), id);
        let (inbox_tx, inbox) = mpsc::channel(self.config.tunnel_queue.max(1));
        let (answer_tx, answer_rx) = oneshot::channel();
        {
            let mut tunnels = lock(&self.tunnels);
            if tunnels.len() >= self.config.max_tunnels {
                return None;
            }
            tunnels.insert(key.clone(), inbox_tx);
        }
        lock(&self.upgrades).insert(id, answer_tx);
        self.publish(
            self.all.clone(),
            &Forward::Upgrade {
                id,
                from: self.node.clone(),
                sid: sid.as_str().to_owned(),
                query: query.to_owned(),
            },
        );
        let answer = tokio::time::timeout(self.config.response_timeout, answer_rx).await;
        lock(&self.upgrades).remove(&id);
        match answer {
            Ok(Ok(UpgradeAnswer::Opened(owner))) => Some(Ok(TunnelLink { id, owner, inbox })),
            Ok(Ok(UpgradeAnswer::Refused(status, content_type, body))) => {
                lock(&self.tunnels).remove(&key);
                Some(Err((status, content_type, body)))
            }
            _ => {
                lock(&self.tunnels).remove(&key);
                None
            }
        }
    }

    /// Moves the bytes of the requester's end of tunnel `link`: `io` is the
    /// client's upgraded connection (`None` when the upgrade failed before
    /// it was handed over), the owner the other end. Returns when either
    /// side ends, having told the owner.
    pub(super) async fn relay_client<T>(self: Arc<Self>, link: TunnelLink, io: Option<T>)
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let TunnelLink { id, owner, inbox } = link;
        let requester = self.node.clone();
        if let Some(io) = io {
            let channel = self.reply_channel(&owner);
            self.pump(io, inbox, channel, id, &requester).await;
        }
        lock(&self.tunnels).remove(&(requester.clone(), id));
        self.publish(self.reply_channel(&owner), &Forward::End { id, requester });
    }

    /// One end of a tunnel: what `io` reads goes to `channel` as `Data`,
    /// what `inbox` brings is written to `io`, until either ends.
    async fn pump<T>(
        &self,
        io: T,
        mut inbox: mpsc::Receiver<Bytes>,
        channel: String,
        id: u64,
        requester: &str,
    ) where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (mut reader, mut writer) = tokio::io::split(io);
        let upstream = async {
            let mut buf = BytesMut::with_capacity(TUNNEL_CHUNK);
            loop {
                buf.reserve(TUNNEL_CHUNK);
                match reader.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let message = Forward::Data {
                    id,
                    requester: requester.to_owned(),
                    bytes: buf.split().freeze(),
                };
                // Waits for room: a tunnel's bytes are never dropped.
                let encoded = (channel.clone(), forward::encode(&message));
                if self.out.send(encoded).await.is_err() {
                    return;
                }
            }
        };
        // A live session hears from the other side at least once a
        // heartbeat (a PING one way, its PONG the other): a tunnel silent
        // for longer has lost its other node.
        let idle = match self.shared.upgrade() {
            Some(shared) => {
                let engine = &shared.config.engine;
                engine.ping_interval + engine.ping_timeout + self.config.response_timeout
            }
            None => return,
        };
        let downstream = async {
            while let Ok(Some(bytes)) = tokio::time::timeout(idle, inbox.recv()).await {
                if writer.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            let _ = writer.shutdown().await;
        };
        tokio::select! {
            () = upstream => {}
            () = downstream => {}
        }
    }

    /// Another node's upgrade for session `sid`, held here: taken as a
    /// local one would be, through a tunnel, or refused with the local
    /// answer.
    fn on_upgrade(self: &Arc<Self>, id: u64, from: String, sid: Sid, query: String) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if shared.session(&sid).is_none() {
            return;
        }
        let channel = self.reply_channel(&from);
        let key = (from.clone(), id);
        let (inbox_tx, inbox) = mpsc::channel(self.config.tunnel_queue.max(1));
        {
            let mut tunnels = lock(&self.tunnels);
            if tunnels.len() >= self.config.max_tunnels {
                return;
            }
            tunnels.insert(key.clone(), inbox_tx);
        }
        let (ws_end, relay_end) = tokio::io::duplex(TUNNEL_PIPE);
        match http::accept_forwarded_upgrade(&shared, &query, ws_end) {
            Err(refusal) => {
                let refusal = *refusal;
                lock(&self.tunnels).remove(&key);
                let this = self.clone();
                tokio::spawn(async move {
                    let status = refusal.status().as_u16();
                    let content_type = refusal
                        .headers()
                        .get(hyper::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("text/plain")
                        .to_owned();
                    let body = match refusal.into_body().collect().await {
                        Ok(c) => c.to_bytes(),
                        Err(never) => match never {},
                    };
                    this.publish(
                        channel,
                        &Forward::Response {
                            id,
                            status,
                            content_type,
                            body,
                        },
                    );
                });
            }
            Ok(()) => {
                let owner = self.node.clone();
                self.publish(channel.clone(), &Forward::Opened { id, owner });
                let this = self.clone();
                tokio::spawn(async move {
                    this.pump(relay_end, inbox, channel.clone(), id, &from)
                        .await;
                    lock(&this.tunnels).remove(&key);
                    this.publish(
                        channel,
                        &Forward::End {
                            id,
                            requester: from,
                        },
                    );
                });
            }
        }
    }

    /// A message from another node.
    fn on_message(self: &Arc<Self>, payload: &[u8]) {
        let Ok(message) = forward::decode(payload) else {
            return;
        };
        match message {
            Forward::Request {
                id,
                from,
                sid,
                method,
                query,
                body,
            } => {
                if from == self.node {
                    return;
                }
                let Some(shared) = self.shared.upgrade() else {
                    return;
                };
                let Some(sid) = Sid::parse(&sid) else { return };
                if shared.session(&sid).is_none() {
                    return;
                }
                let channel = self.reply_channel(&from);
                self.publish(channel.clone(), &Forward::Accepted { id });
                let this = self.clone();
                let key = (from.clone(), id);
                let mut serving = lock(&self.serving);
                let task = tokio::spawn(async move {
                    let response = http::answer_forwarded(&shared, method, &query, body).await;
                    let status = response.status().as_u16();
                    let content_type = response
                        .headers()
                        .get(hyper::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("text/plain")
                        .to_owned();
                    let body = match response.into_body().collect().await {
                        Ok(c) => c.to_bytes(),
                        Err(never) => match never {},
                    };
                    lock(&this.serving).remove(&(from, id));
                    this.publish(
                        channel,
                        &Forward::Response {
                            id,
                            status,
                            content_type,
                            body,
                        },
                    );
                });
                // Registered under the lock the task takes to unregister.
                serving.insert(key, task.abort_handle());
            }
            Forward::Abort { id, from } => {
                if let Some(task) = lock(&self.serving).remove(&(from, id)) {
                    task.abort();
                }
            }
            Forward::Accepted { id } => {
                if let Some(p) = lock(&self.pending).get_mut(&id)
                    && let Some(tx) = p.accepted.take()
                {
                    let _ = tx.send(());
                }
            }
            Forward::Response {
                id,
                status,
                content_type,
                body,
            } => {
                if let Some(tx) = lock(&self.upgrades).remove(&id) {
                    let _ = tx.send(UpgradeAnswer::Refused(status, content_type, body));
                } else if let Some(p) = lock(&self.pending).get_mut(&id)
                    && let Some(tx) = p.done.take()
                {
                    let _ = tx.send((status, content_type, body));
                }
            }
            Forward::Upgrade {
                id,
                from,
                sid,
                query,
            } => {
                if from == self.node {
                    return;
                }
                if let Some(sid) = Sid::parse(&sid) {
                    self.on_upgrade(id, from, sid, query);
                }
            }
            Forward::Opened { id, owner } => {
                if let Some(tx) = lock(&self.upgrades).remove(&id) {
                    let _ = tx.send(UpgradeAnswer::Opened(owner));
                }
            }
            Forward::Data {
                id,
                requester,
                bytes,
            } => {
                let key = (requester, id);
                let mut tunnels = lock(&self.tunnels);
                if let Some(inbox) = tunnels.get(&key)
                    && inbox.try_send(bytes).is_err()
                {
                    // Overflowed (or its pump ended): the tunnel ends, its
                    // pump sees the queue close.
                    tunnels.remove(&key);
                }
            }
            Forward::End { id, requester } => {
                lock(&self.tunnels).remove(&(requester, id));
            }
        }
    }
}

/// Where Redis is, for this module's connections.
#[derive(Clone)]
struct Link {
    endpoint: Endpoint,
    redis: RedisConfig,
}

impl Link {
    async fn connect(&self) -> std::io::Result<(TcpStream, BytesMut)> {
        let e = &self.endpoint;
        let mut stream = tokio::time::timeout(
            self.redis.command_timeout,
            TcpStream::connect((e.host.as_str(), e.port)),
        )
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))??;
        stream.set_nodelay(true)?;
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let mut login: Vec<Vec<Vec<u8>>> = Vec::new();
        match (&e.user, &e.password) {
            (Some(u), Some(p)) => login.push(vec![
                b"AUTH".to_vec(),
                u.clone().into_bytes(),
                p.clone().into_bytes(),
            ]),
            (None, Some(p)) => login.push(vec![b"AUTH".to_vec(), p.clone().into_bytes()]),
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
            let reply =
                tokio::time::timeout(self.redis.command_timeout, self.read(&mut stream, &mut buf))
                    .await
                    .map_err(|_| std::io::Error::other("redis did not answer in time"))??;
            if let Reply::Error(e) = reply {
                return Err(std::io::Error::other(e));
            }
        }
        Ok((stream, buf))
    }

    /// Reads one reply (no timeout: the subscriber waits for pushes).
    async fn read(&self, stream: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<Reply> {
        loop {
            match resp::parse(buf, &self.redis.resp) {
                Ok(Some((reply, used))) => {
                    buf.advance(used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::other(e)),
            }
            if stream.read_buf(buf).await? == 0 {
                return Err(std::io::Error::other("redis closed the connection"));
            }
        }
    }

    async fn pause(&self, attempt: &mut u32) {
        *attempt += 1;
        let d = Duration::from_millis(50 * u64::from(*attempt)).min(self.redis.reconnect_max);
        tokio::time::sleep(d).await;
    }
}

/// Publishes what the forwarder queues, reading one reply per PUBLISH.
async fn publisher(link: Link, mut rx: mpsc::Receiver<(String, Vec<u8>)>) {
    let mut attempt = 0;
    let mut held: Option<(String, Vec<u8>)> = None;
    loop {
        let Ok((mut stream, mut buf)) = link.connect().await else {
            link.pause(&mut attempt).await;
            continue;
        };
        attempt = 0;
        loop {
            let next = match held.take() {
                Some(m) => m,
                None => match rx.recv().await {
                    Some(m) => m,
                    None => return,
                },
            };
            let mut out = Vec::new();
            resp::command(&[b"PUBLISH", next.0.as_bytes(), &next.1], &mut out);
            let sent = async {
                stream.write_all(&out).await?;
                tokio::time::timeout(link.redis.command_timeout, link.read(&mut stream, &mut buf))
                    .await
                    .map_err(|_| std::io::Error::other("timed out"))?
            }
            .await;
            if sent.is_err() {
                held = Some(next);
                break;
            }
        }
    }
}

/// Subscribes the shared channel and this node's reply channel, and hands
/// each message to the forwarder.
async fn subscriber(link: Link, forwarder: Weak<Forwarder>) {
    let mut attempt = 0;
    loop {
        let Some(f) = forwarder.upgrade() else { return };
        let channels = (f.all.clone(), f.reply_channel(&f.node));
        drop(f);
        let Ok((mut stream, mut buf)) = link.connect().await else {
            link.pause(&mut attempt).await;
            continue;
        };
        attempt = 0;
        let mut out = Vec::new();
        resp::command(
            &[b"SUBSCRIBE", channels.0.as_bytes(), channels.1.as_bytes()],
            &mut out,
        );
        if stream.write_all(&out).await.is_err() {
            continue;
        }
        while let Ok(reply) = link.read(&mut stream, &mut buf).await {
            if let Push::Message { payload, .. } = resp::push(reply) {
                let Some(f) = forwarder.upgrade() else { return };
                f.on_message(&payload);
            }
        }
        link.pause(&mut attempt).await;
    }
}
