//! The Engine.IO connection under a client, as the application layer sees
//! it: where a client's [`Transmit`](crate::socketio::Transmit)s go.

use std::net::IpAddr;
use std::sync::Arc;

#[cfg(doc)]
use super::{Handshake, SocketIo};
use crate::engineio::{Data, SendError, Sid};
use crate::socketio::Encoded;

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
    /// Queues whole packets, in order, each with whether it is volatile,
    /// as [`queue_packet`] does with [`send`](Conn::send) and
    /// [`send_volatile`](Conn::send_volatile); after a packet the
    /// connection could not take ([`SendError::Full`]), the rest are
    /// dropped and the answer is `false` (a slow consumer). By default one
    /// message at a time; a transport can take the batch under one lock.
    fn send_packets(&self, packets: &mut dyn Iterator<Item = (Encoded, bool)>) -> bool {
        let mut taken = true;
        for (packet, volatile) in packets {
            taken = taken
                && queue_packet(packet, volatile, |data, volatile| {
                    if volatile {
                        self.send_volatile(data)
                    } else {
                        self.send(data)
                    }
                });
        }
        taken
    }

    /// Closes the Engine.IO connection.
    fn close(&self);
    /// Asks the transport to call [`SocketIo::flush`] for this connection
    /// soon, from its own task; `false` when it cannot, and the caller then
    /// queues at once. By default `false`. The `server` module's sessions
    /// can ([`EngineSocket::wake`](crate::server::EngineSocket::wake)):
    /// a broadcast then leaves each receiver's packets in its machine and
    /// the receiver's own driver moves them all at once.
    fn wake(&self) -> bool {
        false
    }
    /// The client's Socket.IO protocol revision
    /// ([`v4`](crate::socketio::v4)). By default v5.
    fn revision(&self) -> crate::socketio::v4::Revision {
        crate::socketio::v4::Revision::V5
    }
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

/// Queues the messages of `packet` through `send` (a message, and whether
/// to send it as volatile: the first message of a volatile packet). Returns
/// `false` when the connection is full ([`SendError::Full`]) for a packet
/// that is not volatile: a slow consumer. A volatile packet the connection
/// cannot take now is dropped whole. A connection that is closed or not
/// writable drops the packet and is not a slow consumer.
#[inline]
pub fn queue_packet(
    packet: Encoded,
    volatile: bool,
    mut send: impl FnMut(Data, bool) -> Result<(), SendError>,
) -> bool {
    let packet = match packet.into_single() {
        Ok(message) => {
            return match send(message, volatile) {
                Ok(()) => true,
                Err(SendError::Full) => volatile,
                Err(SendError::NotWritable | SendError::Closed | SendError::Unencodable) => true,
            };
        }
        Err(packet) => packet,
    };
    for (i, message) in packet.into_messages().enumerate() {
        let first_of_volatile = volatile && i == 0;
        match send(message, first_of_volatile) {
            Ok(()) => {}
            Err(SendError::Full) if first_of_volatile => return true,
            Err(SendError::Full) => return false,
            Err(SendError::NotWritable | SendError::Closed | SendError::Unencodable) => {
                return true;
            }
        }
    }
    true
}
