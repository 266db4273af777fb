//! Engine.IO settings and limits, each with the reference server's default.

use std::time::Duration;

/// Which transports the server accepts.
///
/// engine.io-protocol v4, "Transports": HTTP long-polling and WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transports {
    /// Serve HTTP long-polling. Default `true`.
    pub polling: bool,
    /// Serve WebSocket, directly and as an upgrade. Default `true`.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports {
            polling: true,
            websocket: true,
        }
    }
}

/// Settings of an Engine.IO server; every limit a session enforces lives here.
///
/// engine.io-protocol v4, "Protocol › Handshake" (the OPEN packet advertises
/// `pingInterval`, `pingTimeout` and `maxPayload` from here), "Protocol ›
/// Heartbeat", "Protocol › Upgrade" and "Transports".
///
/// # Defaults
/// The defaults are the reference Node server's (engine.io 6.x `ServerOptions`):
/// `pingInterval` 25 s, `pingTimeout` 20 s, `upgradeTimeout` 10 s,
/// `maxHttpBufferSize` 1,000,000 bytes. The reference server has no bound on
/// what it buffers for a client; ours are [`Config::max_buffered_bytes`] and
/// [`Config::stall_timeout`]: a client is a slow consumer by the bytes that
/// wait for it and by its progress, never by how many packets wait.
///
/// `docs/limits.md` lists every limit with the attack it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// How long the server waits after a PONG (or the handshake) before it
    /// sends the next PING. Default 25 s. Advertised as `pingInterval`.
    pub ping_interval: Duration,
    /// How long the server waits for a PONG after sending a PING before it
    /// closes the session with "ping timeout". Default 20 s. Advertised as
    /// `pingTimeout`. This is also what reclaims abandoned sessions: a client
    /// that vanished never answers, so its session is gone within
    /// `ping_interval + ping_timeout`.
    pub ping_timeout: Duration,
    /// How long a polling-to-WebSocket upgrade may take from the WebSocket's
    /// arrival to the client's UPGRADE packet. Default 10 s. Bounds a client
    /// that opens a probe WebSocket and never finishes.
    pub upgrade_timeout: Duration,
    /// Largest POST body or WebSocket message (and frame) accepted, in
    /// bytes. Default 1,000,000 (reference: `maxHttpBufferSize`, the same).
    /// Advertised as `maxPayload`. Bounds memory per request; a larger one
    /// closes the session (POST: 413; WebSocket: close 1009).
    pub max_payload: usize,
    /// Most bytes queued for one session that the client has not taken yet.
    /// Default 10,000,000 (ten `maxPayload`s; reference: unbounded). Each
    /// queued message counts its data plus its place in the queue
    /// ([`QUEUED_PACKET_OVERHEAD`](super::QUEUED_PACKET_OVERHEAD) bytes), so
    /// this bounds the memory a session holds for a client that does not
    /// read, however small the messages. Past it,
    /// [`Session::send`](super::Session::send) refuses with
    /// [`SendError::Full`](super::SendError::Full) and the layer above decides
    /// (Socket.IO disconnects a "slow consumer"). A single message larger than
    /// this still passes through an empty queue. There is no bound on the
    /// number of packets: a burst of small messages to a client that keeps
    /// taking them is delivered whole.
    pub max_buffered_bytes: usize,
    /// How long a session may hold messages for its client while the client
    /// takes none of them. Default 30 s (reference: none; its heartbeat ends
    /// such a client after `pingInterval + pingTimeout`). Past it the session
    /// closes with [`CloseReason::SlowConsumer`](super::CloseReason::SlowConsumer).
    /// Over polling, taking is a GET; over WebSocket, the server's writer
    /// taking the frames (a write that makes no progress is bounded by the
    /// server's `write_timeout`, also 30 s). A client whose GETs keep coming,
    /// or whose WebSocket keeps reading, is never stalled, however long its
    /// backlog.
    pub stall_timeout: Duration,
    /// Most packets one polling response carries. Default `None`: as many
    /// as fit in about `max_payload` bytes of data (at least one), so a
    /// backlog larger than that leaves over several GETs; the reference sends
    /// everything in one response. python-engineio 4 (the python-socketio
    /// clients) refuses a payload of more than 16 packets and drops the
    /// connection ("Too many packets in payload"): `Some(16)` serves such
    /// polling clients through any burst, at one round trip per 16 packets.
    pub max_poll_packets: Option<usize>,
    /// Transports served. Default: both.
    pub transports: Transports,
    /// Whether polling sessions may upgrade to WebSocket. Default `true`.
    pub allow_upgrades: bool,
    /// Whether clients of engine.io-protocol v3 (socket.io 2.x: any `EIO`
    /// but `4`) are served. Default `false`, as the reference's `allowEIO3`:
    /// they are refused with code 5, "Unsupported protocol version". Each
    /// session speaks the revision its handshake asked for
    /// ([`Protocol`](super::Protocol)); v4 clients see no change.
    pub allow_eio3: bool,
    /// Seed for the session-id generator. `None` (default) seeds from the OS;
    /// tests and fuzzers pass a seed so that sids are reproducible.
    pub rng_seed: Option<[u8; 32]>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            max_buffered_bytes: 10_000_000,
            stall_timeout: Duration::from_secs(30),
            max_poll_packets: None,
            transports: Transports::default(),
            allow_upgrades: true,
            allow_eio3: false,
            rng_seed: None,
        }
    }
}

impl Config {
    /// Sets `ping_interval` and `ping_timeout` (engine.io-protocol v4,
    /// "Protocol › Heartbeat"; sent in the handshake as `pingInterval` and
    /// `pingTimeout`).
    pub fn with_heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.ping_interval = interval;
        self.ping_timeout = timeout;
        self
    }

    /// Sets `max_payload` (engine.io-protocol v4, "Protocol › Handshake":
    /// `maxPayload`, the bytes per payload the client may send).
    pub fn with_max_payload(mut self, max_payload: usize) -> Self {
        self.max_payload = max_payload;
        self
    }

    /// Sets `upgrade_timeout`: how long the probe of engine.io-protocol v4,
    /// "Protocol › Upgrade" may take (the reference's `upgradeTimeout`).
    pub fn with_upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade_timeout = timeout;
        self
    }

    /// Sets `max_poll_packets` (packets per polling response, engine.io-protocol
    /// v4, "Packet encoding › HTTP long-polling").
    pub fn with_max_poll_packets(mut self, max: Option<usize>) -> Self {
        self.max_poll_packets = max;
        self
    }

    /// Sets `stall_timeout`.
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Sets `max_buffered_bytes`.
    pub fn with_max_buffered_bytes(mut self, max: usize) -> Self {
        self.max_buffered_bytes = max;
        self
    }

    /// Sets the transports served (engine.io-protocol v4, "Transports").
    pub fn with_transports(mut self, polling: bool, websocket: bool) -> Self {
        self.transports = Transports { polling, websocket };
        self
    }

    /// Sets `allow_eio3`.
    pub fn with_allow_eio3(mut self, allow: bool) -> Self {
        self.allow_eio3 = allow;
        self
    }

    /// Sets the seed of the session-id generator.
    pub fn with_rng_seed(mut self, seed: [u8; 32]) -> Self {
        self.rng_seed = Some(seed);
        self
    }
}
