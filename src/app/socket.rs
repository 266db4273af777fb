//! One socket, as handlers see it ([`Socket`]), and an ack owed to its
//! client ([`AckSender`]).

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::ack_future::{AckFuture, ack_future};
use super::namespace::{AckError, Handshake, SocketShared};
use super::observe::SocketEvent;
use super::{Operators, SocketIo};
use crate::socketio::DisconnectReason;
use crate::socketio::encode::Encoded;
use crate::socketio::recovery::is_recoverable;
use crate::socketio::{Args, BroadcastOptions};

/// An ack owed to the client: call [`AckSender::send`] once.
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender")
            .field("socket", &self.socket.shared.id)
            .field("id", &self.id)
            .finish()
    }
}

impl AckSender {
    pub(super) fn new(socket: Socket, id: u64) -> AckSender {
        AckSender { socket, id }
    }

    /// Answers the client's ack with these arguments (socket.io-protocol v5,
    /// "ACK").
    pub fn send(self, args: impl Into<Args>) {
        let socket = &self.socket;
        let parser = socket.io.inner.config.parser;
        let encoded = Encoded::ack(parser, &socket.shared.namespace, self.id, &args.into());
        socket.io.send_to(&socket.shared, encoded, false);
    }
}

/// One client connected to one namespace. Cheap to clone.
#[derive(Clone)]
pub struct Socket {
    pub(super) io: SocketIo,
    pub(super) shared: Arc<SocketShared>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.shared.id)
            .field("namespace", &self.shared.namespace)
            .finish()
    }
}

impl Socket {
    pub(super) fn new(io: SocketIo, shared: Arc<SocketShared>) -> Socket {
        Socket { io, shared }
    }

    /// The socket id (`socket.id` on the client).
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The namespace name.
    pub fn namespace(&self) -> &str {
        &self.shared.namespace
    }

    /// What the socket connected with (its `auth` payload).
    pub fn handshake(&self) -> &Handshake {
        &self.shared.handshake
    }

    /// The server this socket is connected to (the reference's
    /// `socket.nsp.server`), for handlers that act on other sockets without
    /// holding a [`SocketIo`] themselves: a handler that owned one would
    /// keep the server from ever being freed.
    pub fn server(&self) -> SocketIo {
        self.io.clone()
    }

    /// Whether this socket recovered the session of one that lost its
    /// connection (connection state recovery; socket.io's
    /// `socket.recovered`): same id, rooms and data, and the events missed
    /// meanwhile were sent to it after its CONNECT answer.
    pub fn recovered(&self) -> bool {
        self.shared.recovered
    }

    /// In `on_disconnect`: whether a socket that left for `reason` keeps its
    /// session for connection state recovery, so that it may come back as
    /// a [`recovered`](Self::recovered) socket with the same id (its session
    /// otherwise ends in [`Namespace::on_session_end`](super::Namespace::on_session_end)).
    /// Only with recovery on, for the reasons the reference keeps a session
    /// for (a lost or closed connection, never a namespace disconnect).
    pub fn may_recover(&self, reason: &DisconnectReason) -> bool {
        let kept = self
            .io
            .inner
            .config
            .state_recovery
            .as_ref()
            .is_some_and(|r| r.max_sessions > 0);
        kept && self.shared.pid.is_some() && is_recoverable(reason.as_str())
    }

    /// Whether the socket is still connected.
    pub fn connected(&self) -> bool {
        self.shared.nsp.contains(&self.shared.id)
    }

    /// Sends event `event` to this socket.
    ///
    /// With connection state recovery on, the event is logged with its
    /// offset, as the reference does (its `emit` then goes through the
    /// adapter, to the room of the socket's id): a socket that is away gets
    /// it when it recovers.
    pub fn emit(&self, event: &str, args: impl Into<Args>) {
        let args = args.into();
        self.observe_sent(event, &args);
        if self.shared.nsp.recovery.is_some() {
            Operators::only(self.io.clone(), &self.shared, BroadcastOptions::default())
                .emit(event, args);
            self.io.tell();
            return;
        }
        let parser = self.io.inner.config.parser;
        let encoded = Encoded::event(parser, &self.shared.namespace, event, &args, None);
        self.io.send_to(&self.shared, encoded, false);
        self.io.tell();
    }

    /// Records an event emitted to this socket for the observer, when
    /// events are observed.
    fn observe_sent(&self, event: &str, args: &Args) {
        self.io.observe_event(|| {
            let mut values = Vec::with_capacity(args.values().len() + 1);
            values.push(Value::from(event));
            values.extend(args.values().iter().cloned());
            SocketEvent::EventSent {
                namespace: self.shared.namespace.clone(),
                id: self.shared.id.clone(),
                args: values,
            }
        });
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
        let args = args.into();
        self.observe_sent(event, &args);
        let deadline = self.io.now() + timeout;
        let parser = self.io.inner.config.parser;
        let namespace = self.shared.namespace.clone();
        let encode = move |ack| Encoded::event(parser, &namespace, event, &args, Some(ack));
        let asked = self.io.send_with_ack(
            &self.shared,
            deadline,
            false,
            encode,
            super::dispatch::PendingAck::One(Box::new(callback)),
        );
        if let Err(super::dispatch::PendingAck::One(callback)) = asked {
            callback(Err(AckError::Disconnected));
        }
        self.io.tell();
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
        let events = self.shared.nsp.join(
            std::slice::from_ref(&self.shared.id),
            room,
            self.io.observing(),
        );
        self.io.record(events);
        self.io.tell();
    }

    /// Stores `value` as this socket's data of type `T`, replacing any
    /// earlier value of that type (the reference server's `socket.data`,
    /// typed). It lives as long as the socket.
    pub fn set_data<T: Any + Send + Sync>(&self, value: T) {
        self.shared
            .nsp
            .set_data(&self.shared.id, TypeId::of::<T>(), Arc::new(value));
    }

    /// This socket's data of type `T`, if [`set_data`](Self::set_data) stored
    /// one and the socket is still connected.
    pub fn data<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let value = self.shared.nsp.data(&self.shared.id, TypeId::of::<T>())?;
        value.downcast::<T>().ok()
    }

    /// Leaves `room`.
    pub fn leave(&self, room: &str) {
        let events = self.shared.nsp.leave(
            std::slice::from_ref(&self.shared.id),
            room,
            self.io.observing(),
        );
        self.io.record(events);
        self.io.tell();
    }

    /// The rooms this socket is in (its own id room included), sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.shared.nsp.rooms_of(&self.shared.id)
    }

    /// Operators that reach `room`, except this socket (`socket.to(room)`).
    pub fn to(&self, room: &str) -> Operators {
        self.broadcast().to(room)
    }

    /// Operators that reach every socket of the namespace but this one
    /// (`socket.broadcast`).
    pub fn broadcast(&self) -> Operators {
        Operators::broadcast_from(self.io.clone(), &self.shared)
    }

    /// Operators for this socket alone, marked volatile: the message is
    /// dropped rather than queued when the client is behind.
    pub fn volatile(&self) -> Operators {
        Operators::only(self.io.clone(), &self.shared, BroadcastOptions::default()).volatile()
    }

    /// Makes the socket leave its namespace: the client gets DISCONNECT
    /// ("io server disconnect") and the socket "server namespace disconnect".
    pub fn disconnect(&self) {
        self.io.disconnect_socket(&self.shared);
    }

    /// Closes the whole Engine.IO connection under this socket (every
    /// namespace of the client).
    pub fn close_connection(&self) {
        self.io.close_client(&self.shared);
    }
}
