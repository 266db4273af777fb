//! The cluster side of the operators: what a namespace's operators ask of
//! the other servers of a cluster ([`Cluster`]), and the sockets they
//! answer with ([`RemoteSocket`]).
//!
//! The reference server's operators ask the adapter, and a cluster adapter
//! (`@socket.io/redis-adapter`) passes the request on to every other node:
//! `io.in(room).socketsJoin(x)`, `socketsLeave`, `disconnectSockets`,
//! `fetchSockets()`, `io.timeout(t).emit(..., callback)` and
//! `serverSideEmit` act on the sockets of every node
//! (`shared/spec/redis-adapter.md`, "Requests and responses"). Here the
//! operators do this node's part themselves and hand the rest to the
//! [`Cluster`] installed with [`SocketIo::set_cluster`]; the application
//! layer knows no network, so the cluster is a trait
//! (`server::redis::RedisCluster` implements it on Redis).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::namespace::BroadcastAcks;
use super::observe::SocketInfo;
use super::{SocketIo, lock, read, write};
use crate::socketio::{Args, BroadcastOptions};

/// A future a [`Cluster`] returns: boxed, so that the trait is object safe.
pub type ClusterFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One socket of any node of the cluster, as `fetchSockets()` gives it (the
/// reference's `RemoteSocket`, spec "Requests and responses",
/// REMOTE_FETCH): this node's sockets and the other nodes' have the same
/// shape.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: String,
    /// Its handshake, as Node's `socket.handshake` is written in JSON:
    /// `headers`, `time`, `address`, `xdomain`, `secure`, `issued`, `url`,
    /// `query`, `auth`.
    pub handshake: Value,
    /// The rooms it is in, its own id room included.
    pub rooms: Vec<String>,
    /// Its `socket.data`. A siobridge socket's data is typed Rust values:
    /// its JSON data is the [`Value`] stored with
    /// [`Socket::set_data`](super::Socket::set_data), `{}` without one (as
    /// a Node socket whose data was never set).
    pub data: Value,
}

impl RemoteSocket {
    /// This node's socket `info`, in the shape of the reference's
    /// REMOTE_FETCH answer: the handshake has the fields of Node's
    /// `socket.handshake` that this server knows; `data` is `{}`
    /// ([`Operators::fetch_sockets_here`](super::Operators::fetch_sockets_here)
    /// fills it in).
    pub fn from_info(info: &SocketInfo) -> RemoteSocket {
        let request = info.request.as_deref();
        let headers: Map<String, Value> = request
            .map(|r| {
                r.headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect()
            })
            .unwrap_or_default();
        let url = request.map(|r| r.url.clone()).unwrap_or_default();
        let query: Map<String, Value> = url
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect();
        let address = info
            .handshake
            .address
            .map(|a| a.to_string())
            .or_else(|| request.map(|r| r.address.clone()))
            .unwrap_or_default();
        RemoteSocket {
            id: info.id.to_string(),
            handshake: json!({
                "headers": headers,
                "time": request.map(|r| crate::rfc3339::format(r.issued_ms as i64)),
                "address": address,
                "xdomain": headers.contains_key("origin"),
                "secure": request.is_some_and(|r| r.secure),
                "issued": request.map(|r| r.issued_ms),
                "url": url,
                "query": query,
                "auth": info.handshake.auth,
            }),
            rooms: info.rooms.clone(),
            data: json!({}),
        }
    }

    /// An answer's socket, `{id, handshake, rooms, data}`; `None` without a
    /// string `id`. Rooms that are not strings are left out; a missing
    /// `data` is `{}`.
    pub fn from_json(value: Value) -> Option<RemoteSocket> {
        let Value::Object(mut fields) = value else {
            return None;
        };
        let id = fields.get("id")?.as_str()?.to_owned();
        let rooms = match fields.remove("rooms") {
            Some(Value::Array(rooms)) => rooms
                .into_iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Some(RemoteSocket {
            id,
            handshake: fields.remove("handshake").unwrap_or(Value::Null),
            rooms,
            data: fields.remove("data").unwrap_or_else(|| json!({})),
        })
    }

    /// As a REMOTE_FETCH answer writes it: `{id, handshake, rooms, data}`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "handshake": self.handshake,
            "rooms": self.rooms,
            "data": self.data,
        })
    }
}

/// A request to the other nodes that did not get every answer within its
/// timeout: the reference's error, with the answers that came.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterTimeout<T> {
    /// What the reference says, e.g. `timeout reached while waiting for
    /// fetchSockets response`.
    pub message: String,
    /// The answers that came.
    pub partial: Vec<T>,
}

impl<T> std::fmt::Display for ClusterTimeout<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl<T: std::fmt::Debug> std::error::Error for ClusterTimeout<T> {}

/// The other servers of a cluster, as the operators see them: each method
/// is the part of a request that is not this node's (this node's sockets
/// are the operators' own business). The requests are those of
/// `shared/spec/redis-adapter.md`, "Requests and responses"; `target`
/// says which sockets of namespace `namespace` they are for (rooms, none
/// meaning every socket, less the `except` rooms; a socket id is a room).
///
/// Methods run on the caller's thread with no lock of the server held;
/// they must not block. What they wait for, they return as a
/// [`ClusterFuture`].
pub trait Cluster: Send + Sync {
    /// Makes the targeted sockets of the other nodes join (`leave` false)
    /// or leave `rooms`: REMOTE_JOIN / REMOTE_LEAVE (`socketsJoin`,
    /// `socketsLeave`). Nothing is answered, as in the reference.
    fn join_or_leave(
        &self,
        namespace: &str,
        target: &BroadcastOptions,
        rooms: &[String],
        leave: bool,
    );

    /// Disconnects the targeted sockets of the other nodes (`close`: their
    /// whole connections): REMOTE_DISCONNECT (`disconnectSockets`).
    fn disconnect_sockets(&self, namespace: &str, target: &BroadcastOptions, close: bool);

    /// The targeted sockets of the other nodes: REMOTE_FETCH
    /// (`fetchSockets`), or the timeout with the sockets that came.
    fn fetch_sockets(
        &self,
        namespace: &str,
        target: &BroadcastOptions,
    ) -> ClusterFuture<Result<Vec<RemoteSocket>, ClusterTimeout<RemoteSocket>>>;

    /// Sends `event` to the targeted sockets of the other nodes, each
    /// asked for an ack: BROADCAST with a timeout, answered by
    /// BROADCAST_CLIENT_COUNT from each node and BROADCAST_ACK for each
    /// ack (their first argument). The future is every ack once every node
    /// said how many clients it asked and that many acks came; at
    /// `timeout` from the call, [`AckError::Timeout`](super::AckError) with
    /// the acks that came.
    fn broadcast_with_ack(
        &self,
        namespace: &str,
        target: &BroadcastOptions,
        event: &str,
        args: Args,
        timeout: Duration,
    ) -> ClusterFuture<BroadcastAcks>;

    /// Sends `event` to the server-side listeners of the other nodes:
    /// SERVER_SIDE_EMIT without an ack (`serverSideEmit`).
    fn server_side_emit(&self, namespace: &str, event: &str, args: Args);

    /// The same asking each other node's listener for its answer
    /// (`serverSideEmitWithAck`): every answer, or the timeout with the
    /// answers that came.
    fn server_side_emit_with_ack(
        &self,
        namespace: &str,
        event: &str,
        args: Args,
    ) -> ClusterFuture<Result<Vec<Value>, ClusterTimeout<Value>>>;
}

impl SocketIo {
    /// Makes this server one node of `cluster`: from then on, operators
    /// that are not [`local`](super::Operators::local) reach the sockets of
    /// every node ([`Operators`](super::Operators)'s `join`, `leave`,
    /// `disconnect_sockets`, `fetch_sockets`, `emit_with_ack`, `ack`) and
    /// [`server_side_emit`](Self::server_side_emit) reaches the other
    /// nodes. It replaces any earlier cluster. (Plain emits reach the other
    /// nodes through the namespaces' [`Adapter`](crate::socketio::Adapter)
    /// already.)
    pub fn set_cluster(&self, cluster: Arc<dyn Cluster>) {
        *write(&self.inner.cluster) = Some(cluster);
    }

    /// The cluster this server is a node of ([`set_cluster`](Self::set_cluster)).
    pub fn cluster(&self) -> Option<Arc<dyn Cluster>> {
        read(&self.inner.cluster).clone()
    }

    /// Sends `event` to the server-side listeners of the other nodes of
    /// the cluster on namespace `namespace` (the reference's
    /// `io.of(namespace).serverSideEmit(event, ...args)`; this node's own
    /// listeners are not called, as in the reference). Says whether there
    /// is a cluster to send it to.
    pub fn server_side_emit(&self, namespace: &str, event: &str, args: impl Into<Args>) -> bool {
        let Some(cluster) = self.cluster() else {
            return false;
        };
        cluster.server_side_emit(&super::normalize_namespace(namespace), event, args.into());
        true
    }

    /// [`server_side_emit`](Self::server_side_emit) asking every other
    /// node's listener for its answer (`serverSideEmitWithAck`): every
    /// answer, or the timeout with the answers that came. With no cluster,
    /// there is no other node: no answer, at once (where the reference's
    /// in-memory adapter only warns that it cannot).
    pub async fn server_side_emit_with_ack(
        &self,
        namespace: &str,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<Vec<Value>, ClusterTimeout<Value>> {
        let Some(cluster) = self.cluster() else {
            return Ok(Vec::new());
        };
        let namespace = super::normalize_namespace(namespace);
        cluster
            .server_side_emit_with_ack(&namespace, event, args.into())
            .await
    }
}

impl SocketIo {
    /// Whether namespace `namespace` listens to server-side event `event`
    /// ([`Namespace::on_server_side`](super::Namespace::on_server_side)).
    pub fn listens_server_side(&self, namespace: &str, event: &str) -> bool {
        self.find_handlers(&super::normalize_namespace(namespace))
            .is_some_and(|h| read(&h).server_side.contains_key(event))
    }

    /// Another node's server-side event `event` on namespace `namespace`
    /// (what a [`Cluster`] receives): its listener's answer, `None` when it
    /// gives none or there is no listener. The listener runs with no lock
    /// held.
    pub fn handle_server_side_emit(
        &self,
        namespace: &str,
        event: &str,
        args: Args,
    ) -> Option<Args> {
        let handlers = self.find_handlers(&super::normalize_namespace(namespace))?;
        let listener = read(&handlers).server_side.get(event).cloned()?;
        listener(args)
    }
}

/// This node's acks and the other nodes' for one broadcast, joined: the
/// callback is called once both are in.
pub(super) struct JoinedAcks {
    state: Mutex<Joined>,
}

struct Joined {
    local: Option<BroadcastAcks>,
    remote: Option<BroadcastAcks>,
    callback: Option<Box<dyn FnOnce(BroadcastAcks) + Send>>,
}

impl JoinedAcks {
    pub(super) fn new(callback: Box<dyn FnOnce(BroadcastAcks) + Send>) -> Arc<JoinedAcks> {
        Arc::new(JoinedAcks {
            state: Mutex::new(Joined {
                local: None,
                remote: None,
                callback: Some(callback),
            }),
        })
    }

    /// This node's part: each ack cut to its first argument, as the
    /// reference's broadcast acks are (and as the other nodes' come).
    pub(super) fn local(&self, acks: BroadcastAcks) {
        let first = |acks: Vec<Args>| acks.into_iter().map(Args::only_first).collect();
        let acks = match acks {
            Ok(acks) => Ok(first(acks)),
            Err((e, acks)) => Err((e, first(acks))),
        };
        self.put(|j| j.local = Some(acks));
    }

    /// The other nodes' part.
    pub(super) fn remote(&self, acks: BroadcastAcks) {
        self.put(|j| j.remote = Some(acks));
    }

    fn put(&self, f: impl FnOnce(&mut Joined)) {
        let done = {
            let mut joined = lock(&self.state);
            f(&mut joined);
            if joined.local.is_none() || joined.remote.is_none() {
                return;
            }
            let (local, remote) = (joined.local.take(), joined.remote.take());
            joined.callback.take().map(|c| (c, local, remote))
        };
        let Some((callback, Some(local), Some(remote))) = done else {
            return;
        };
        let result = match (local, remote) {
            (Ok(mut acks), Ok(more)) => {
                acks.extend(more);
                Ok(acks)
            }
            (Ok(mut acks), Err((e, more))) | (Err((e, mut acks)), Ok(more)) => {
                acks.extend(more);
                Err((e, acks))
            }
            (Err((e, mut acks)), Err((_, more))) => {
                acks.extend(more);
                Err((e, acks))
            }
        };
        callback(result);
    }
}
