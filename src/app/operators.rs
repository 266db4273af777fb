//! Emit operators: which sockets of a namespace an emit reaches
//! (socket.io's `BroadcastOperator`: `to`, `except`, `volatile`, `local`),
//! and what they do to them, on this node and, with a
//! [`Cluster`](super::Cluster), on every node.

use std::sync::Arc;
use std::time::Duration;

use super::SocketIo;
use super::ack_future::{AckFuture, ack_future};
use super::cluster::{Cluster, ClusterTimeout, JoinedAcks, RemoteSocket};
use super::dispatch::PendingAck;
use super::namespace::{AckGroup, BroadcastAcks, Nsp, Receivers, SocketShared, Target};
use super::socket::Socket;
use super::{Timer, lock};
use crate::socketio::encode::{Encoded, event_packet};
use crate::socketio::{Args, BroadcastOptions};

/// A broadcast: which sockets of a namespace an emit reaches.
///
/// Rooms are unions (`to(a).to(b)` reaches sockets in a or b); `except`
/// removes sockets in those rooms. The namespace's
/// [`Adapter`](crate::socketio::Adapter) resolves them.
///
/// In a cluster ([`SocketIo::set_cluster`]) the operators reach the
/// sockets of every node, as the reference's do on a cluster adapter:
/// [`emit`](Self::emit) through the adapter, and [`join`](Self::join),
/// [`leave`](Self::leave), [`disconnect_sockets`](Self::disconnect_sockets),
/// [`fetch_sockets`](Self::fetch_sockets), [`emit_with_ack`](Self::emit_with_ack)
/// and [`ack`](Self::ack) through the [`Cluster`] (spec
/// `redis-adapter.md`, "Requests and responses"), unless made
/// [`local`](Self::local). The operators of one socket
/// ([`Socket::volatile`]) stay on its node.
#[derive(Clone)]
pub struct Operators {
    io: SocketIo,
    namespace: Arc<str>,
    /// The namespace, when known already (operators made from a socket).
    nsp: Option<Arc<Nsp>>,
    options: BroadcastOptions,
    except_socket: Option<Arc<str>>,
    /// One socket alone ([`Socket::volatile`]).
    only: Option<Arc<SocketShared>>,
    volatile: bool,
    /// This process's sockets only: not published to other processes.
    local: bool,
}

impl Operators {
    pub(super) fn new(io: SocketIo, namespace: Arc<str>) -> Operators {
        Operators {
            io,
            namespace,
            nsp: None,
            options: BroadcastOptions::default(),
            except_socket: None,
            only: None,
            volatile: false,
            local: false,
        }
    }

    /// Every socket of `socket`'s namespace but `socket`.
    pub(super) fn broadcast_from(io: SocketIo, socket: &Arc<SocketShared>) -> Operators {
        Operators {
            nsp: Some(socket.nsp.clone()),
            except_socket: Some(socket.id.clone()),
            ..Operators::new(io, socket.namespace.clone())
        }
    }

    /// `socket` alone.
    pub(super) fn only(
        io: SocketIo,
        socket: &Arc<SocketShared>,
        options: BroadcastOptions,
    ) -> Operators {
        Operators {
            nsp: Some(socket.nsp.clone()),
            only: Some(socket.clone()),
            options,
            ..Operators::new(io, socket.namespace.clone())
        }
    }

    /// Also reaches sockets in `room` (no room at all means every socket).
    pub fn to(mut self, room: &str) -> Operators {
        self.options.rooms.push(room.to_owned());
        self
    }

    /// Leaves out sockets in `room`.
    pub fn except(mut self, room: &str) -> Operators {
        self.options.except.push(room.to_owned());
        self
    }

    /// Drops the message for clients that are behind instead of queueing it.
    pub fn volatile(mut self) -> Operators {
        self.volatile = true;
        self
    }

    /// Reaches this process's sockets only: with an adapter shared by
    /// several processes, the broadcast is not published to the others
    /// (the reference's `io.local`).
    pub fn local(mut self) -> Operators {
        self.local = true;
        self
    }

    fn target(&self) -> Target<'_> {
        Target {
            options: &self.options,
            except_socket: self.except_socket.as_deref(),
        }
    }

    /// The rooms a replayable emit is logged with: one socket's emit goes
    /// to the room of its id, `socket.broadcast` excepts it (as the
    /// reference's adapter sees them).
    fn logged_options(&self) -> BroadcastOptions {
        if let Some(only) = &self.only {
            return BroadcastOptions {
                rooms: vec![only.id.to_string()],
                except: Vec::new(),
            };
        }
        let mut options = self.options.clone();
        if let Some(own) = &self.except_socket {
            options.except.push(own.to_string());
        }
        options
    }

    /// The sockets reached.
    fn receivers(&self) -> Receivers {
        if let Some(only) = &self.only {
            return match only.client.upgrade() {
                Some(client) if only.nsp.contains(&only.id) => Arc::from([(only.clone(), client)]),
                _ => Arc::from([]),
            };
        }
        match self.nsp() {
            Some(nsp) => nsp.receivers(&self.target()),
            None => Arc::from([]),
        }
    }

    /// The ids of the sockets this broadcast reaches, sorted.
    pub fn socket_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .receivers()
            .iter()
            .map(|(s, _)| s.id.to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Sends the event to every socket reached, and says how many that was.
    /// The packet is encoded once and its bytes shared by all receivers.
    ///
    /// With connection state recovery on, an emit that is not volatile is
    /// logged with its offset as its last argument, for the receivers (and
    /// the sockets of the rooms it reaches that are away) to get back when
    /// they recover.
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> usize {
        let args = args.into();
        if !self.volatile
            && let Some(nsp) = self.nsp()
            && let Some(recovery) = &nsp.recovery
        {
            let (reached, packet) = self.io.emit_replayable(
                &nsp,
                recovery,
                self.logged_options(),
                || self.receivers(),
                event,
                args,
            );
            if self.only.is_none() && !self.local {
                nsp.publish(|| packet, &self.target(), self.volatile);
            }
            return reached;
        }
        let encoded = Encoded::event(
            self.io.inner.config.parser,
            &self.namespace,
            event,
            &args,
            None,
        );
        let receivers = self.receivers();
        let encoded = if receivers.len() > 1 {
            encoded.shared()
        } else {
            encoded
        };
        for (_, client) in receivers.iter() {
            self.io
                .broadcast_to_client(client, encoded.clone(), self.volatile);
        }
        if self.only.is_none()
            && !self.local
            && let Some(nsp) = self.nsp()
        {
            nsp.publish(
                || event_packet(&self.namespace, event, args, None),
                &self.target(),
                self.volatile,
            );
        }
        receivers.len()
    }

    /// The cluster the operators' requests go to: none when they are
    /// local, for one socket, of a dynamic family (no namespace name), or
    /// the server is in no cluster.
    fn cluster(&self) -> Option<Arc<dyn Cluster>> {
        if self.local || self.only.is_some() || self.namespace.is_empty() {
            return None;
        }
        self.io.cluster()
    }

    /// Sends the event to every socket reached, each with its own ack id;
    /// `callback` gets every answer, or the timeout with the answers that
    /// came.
    ///
    /// In a cluster (unless [`local`](Self::local)), the sockets of every
    /// node are asked, as the reference's `io.timeout(t).emit(..., callback)`
    /// asks them on its Redis adapter: every other node says how many
    /// clients it asked, then their acks follow; `callback` gets this
    /// node's acks then the others', once every node's count and that many
    /// acks came, or at `timeout` the timeout with the acks that came. Each
    /// ack is then its first argument only (all the other nodes send of
    /// it, and all the reference keeps of any ack of a broadcast). The
    /// wait for the other nodes runs on the server's spawner
    /// ([`SocketIo::set_spawner`]; `SocketIoHandler` sets `tokio::spawn`).
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
        timeout: Duration,
        callback: impl FnOnce(BroadcastAcks) + Send + 'static,
    ) {
        let args = args.into();
        let Some(cluster) = self.cluster() else {
            self.local_emit_with_ack(event, args, timeout, callback);
            return;
        };
        let remote = cluster.broadcast_with_ack(
            &self.namespace,
            &self.logged_options(),
            event,
            args.clone(),
            timeout,
        );
        let joined = JoinedAcks::new(Box::new(callback));
        let local = joined.clone();
        self.local_emit_with_ack(event, args, timeout, move |acks| local.local(acks));
        self.io.spawn(Box::pin(async move {
            joined.remote(remote.await);
        }));
    }

    /// [`emit_with_ack`](Self::emit_with_ack) to this node's sockets.
    fn local_emit_with_ack(
        &self,
        event: &str,
        args: Args,
        timeout: Duration,
        callback: impl FnOnce(BroadcastAcks) + Send + 'static,
    ) {
        let receivers = self.receivers();
        if receivers.is_empty() {
            callback(Ok(Vec::new()));
            return;
        }
        let io = &self.io;
        let deadline = io.now() + timeout;
        let group = {
            let mut timers = lock(&io.inner.timers);
            let group = timers.next_group;
            timers.next_group += 1;
            timers.groups.insert(
                group,
                AckGroup {
                    waiting: 0,
                    sealed: false,
                    replies: Vec::new(),
                    callback: Box::new(callback),
                },
            );
            timers.due.insert((deadline, Timer::Group(group)));
            group
        };
        io.wake_timer();
        let parser = io.inner.config.parser;
        for (receiver, _) in receivers.iter() {
            let args = args.clone();
            let namespace = self.namespace.clone();
            let encode = move |ack| Encoded::event(parser, &namespace, event, &args, Some(ack));
            // Counted before it is asked: the answer may come at once.
            if let Some(g) = lock(&io.inner.timers).groups.get_mut(&group) {
                g.waiting += 1;
            }
            if io
                .send_with_ack(
                    receiver,
                    deadline,
                    self.volatile,
                    encode,
                    PendingAck::Group(group),
                )
                .is_err()
                && let Some(g) = lock(&io.inner.timers).groups.get_mut(&group)
            {
                g.waiting -= 1;
            }
        }
        io.seal_group(group);
    }

    /// Sends the event to every socket reached asking each for an ack, and
    /// returns the answers as a future: [`emit_with_ack`](Self::emit_with_ack)
    /// for async code (in a cluster, the acks of every node).
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

    /// Makes every socket reached leave `room` (the reference's
    /// `socketsLeave`): in a cluster, on every node (unless
    /// [`local`](Self::local)); this node's at once, the others' when the
    /// request reaches them.
    pub fn leave(&self, room: &str) {
        self.join_or_leave(room, true);
    }

    /// Makes every socket reached join `room` (the reference's
    /// `socketsJoin`): in a cluster, on every node (unless
    /// [`local`](Self::local)); this node's at once, the others' when the
    /// request reaches them.
    pub fn join(&self, room: &str) {
        self.join_or_leave(room, false);
    }

    fn join_or_leave(&self, room: &str, leave: bool) {
        if let Some(cluster) = self.cluster() {
            cluster.join_or_leave(
                &self.namespace,
                &self.logged_options(),
                &[room.to_owned()],
                leave,
            );
        }
        let Some(nsp) = self.nsp() else { return };
        let ids: Vec<Arc<str>> = self.receivers().iter().map(|(s, _)| s.id.clone()).collect();
        let events = if leave {
            nsp.leave(&ids, room, self.io.observing())
        } else {
            nsp.join(&ids, room, self.io.observing())
        };
        self.io.record(events);
        self.io.tell();
    }

    /// The sockets reached, with their handshakes and rooms (the
    /// reference's `fetchSockets()`): this node's, sorted by id, then in a
    /// cluster (unless [`local`](Self::local)) the other nodes', as they
    /// answer. When some node does not answer within the cluster's request
    /// timeout, the sockets that came (this node's and those of the nodes
    /// that answered): [`try_fetch_sockets`](Self::try_fetch_sockets) says
    /// so, where the reference rejects.
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        self.try_fetch_sockets()
            .await
            .unwrap_or_else(|timeout| timeout.partial)
    }

    /// This node's sockets reached, sorted by id, at once: what
    /// [`fetch_sockets`](Self::fetch_sockets) starts with, and what this
    /// node answers another node's REMOTE_FETCH with. Their `data` is the
    /// JSON value stored with [`Socket::set_data`] (a [`serde_json::Value`]:
    /// the reference's `socket.data`), `{}` without one.
    pub fn fetch_sockets_here(&self) -> Vec<RemoteSocket> {
        let Some(nsp) = self.nsp() else {
            return Vec::new();
        };
        self.socket_ids()
            .iter()
            .filter_map(|id| {
                let mut socket = RemoteSocket::from_info(&nsp.info(id)?);
                if let Some(data) = nsp
                    .data(id, std::any::TypeId::of::<serde_json::Value>())
                    .and_then(|d| d.downcast::<serde_json::Value>().ok())
                {
                    socket.data = (*data).clone();
                }
                Some(socket)
            })
            .collect()
    }

    /// [`fetch_sockets`](Self::fetch_sockets), with the timeout of a node
    /// that did not answer as an error holding the sockets that came.
    pub async fn try_fetch_sockets(
        &self,
    ) -> Result<Vec<RemoteSocket>, ClusterTimeout<RemoteSocket>> {
        let mut sockets = self.fetch_sockets_here();
        let Some(cluster) = self.cluster() else {
            return Ok(sockets);
        };
        match cluster
            .fetch_sockets(&self.namespace, &self.logged_options())
            .await
        {
            Ok(remote) => {
                sockets.extend(remote);
                Ok(sockets)
            }
            Err(mut timeout) => {
                sockets.append(&mut timeout.partial);
                timeout.partial = sockets;
                Err(timeout)
            }
        }
    }

    fn nsp(&self) -> Option<Arc<Nsp>> {
        self.nsp
            .clone()
            .or_else(|| self.io.live_namespace(&self.namespace))
    }

    /// Makes every socket reached leave its namespace, as
    /// [`Socket::disconnect`] does (the reference's `disconnectSockets()`);
    /// with `close`, closes their whole Engine.IO connections instead
    /// (`disconnectSockets(true)`). In a cluster (unless
    /// [`local`](Self::local)), the other nodes' sockets too, when the
    /// request reaches them. Says how many sockets that was on this node
    /// (the other nodes do not answer, as in the reference).
    pub fn disconnect_sockets(&self, close: bool) -> usize {
        if let Some(cluster) = self.cluster() {
            cluster.disconnect_sockets(&self.namespace, &self.logged_options(), close);
        }
        let sockets: Vec<Socket> = self
            .receivers()
            .iter()
            .map(|(shared, _)| Socket::new(self.io.clone(), shared.clone()))
            .collect();
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
