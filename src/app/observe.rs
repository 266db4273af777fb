//! What tools that list or watch sockets see: [`SocketInfo`] and
//! [`SocketEvent`].

use std::sync::Arc;

use serde_json::Value;

use super::conn::ConnInfo;
use super::namespace::Handshake;
#[cfg(doc)]
use super::{Conn, Socket, SocketIo};
use crate::engineio::Sid;
use crate::socketio::DisconnectReason;

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
