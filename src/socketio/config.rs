//! Settings of the Socket.IO layer: the limits of one client and the
//! parser of the whole server (socket.io-protocol v5, "Packet encoding").

use std::time::Duration;

use super::parse::Limits;
use super::rate::RateLimit;
use super::recovery::RecoveryConfig;
#[cfg(doc)]
use super::{DisconnectReason, msgpack};

/// Settings of the Socket.IO layer.
///
/// # Defaults
/// `connectTimeout` 45 s, as the reference server; the decoder limits of
/// [`Limits::default`]; at most 100 namespaces per client; no event rate
/// limit; no connection state recovery. `docs/limits.md` lists every limit with the attack it stops.
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
    /// [`DisconnectReason::RateLimited`], and `SocketIo::rate_limited`
    /// counts it.
    pub event_rate_limit: Option<RateLimit>,
    /// Seed of the socket-id generator; `None` seeds from the OS.
    pub rng_seed: Option<[u8; 32]>,
    /// How packets are written in Engine.IO messages, for every client of
    /// the server (the reference server's `parser` option). Default
    /// [`Parser::Json`].
    pub parser: Parser,
    /// Connection state recovery (the reference server's
    /// `connectionStateRecovery`): `None`, the default as in the reference,
    /// turns it off. See [`recovery`](super::recovery).
    pub state_recovery: Option<RecoveryConfig>,
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
            state_recovery: None,
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

    /// Turns connection state recovery on, with `recovery`.
    pub fn with_state_recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.state_recovery = Some(recovery);
        self
    }

    /// Sets the socket-id seed.
    pub fn with_rng_seed(mut self, seed: [u8; 32]) -> Self {
        self.rng_seed = Some(seed);
        self
    }
}
