//! One Engine.IO session as a sans-IO state machine.
//!
//! The session never reads the clock, sleeps or touches a socket. The caller
//! (the `server` module, or a test on a virtual clock) pushes inputs in with
//! the current time and pulls outputs out:
//!
//! | push in | pull out |
//! | --- | --- |
//! | [`handle_poll`](Session::handle_poll), [`handle_poll_aborted`](Session::handle_poll_aborted), [`handle_post`](Session::handle_post) | [`take_poll_response`](Session::take_poll_response): the body for the pending GET |
//! | [`handle_ws_text`](Session::handle_ws_text), [`handle_ws_binary`](Session::handle_ws_binary), [`handle_ws_closed`](Session::handle_ws_closed), [`begin_upgrade`](Session::begin_upgrade) | [`poll_ws_frame`](Session::poll_ws_frame), [`take_ws_close`](Session::take_ws_close) |
//! | [`send`](Session::send), [`send_volatile`](Session::send_volatile), [`close`](Session::close), [`shutdown`](Session::shutdown) | [`poll_event`](Session::poll_event): messages, upgrade, close |
//! | [`handle_timeout`](Session::handle_timeout) | [`poll_timeout`](Session::poll_timeout): when to call `handle_timeout` next |
//!
//! After any input, the caller drains the outputs. Every state has a deadline
//! (heartbeat, upgrade, closing, a backlog the client does not take), so a
//! session whose client vanished always ends by itself: nothing is left for a
//! separate reaper to find.
//!
//! What waits for the client is bounded by bytes and by progress, not by a
//! packet count: a client whose GETs keep coming (or whose WebSocket keeps
//! reading) takes any burst whole, while one that stops taking is closed as
//! a slow consumer once its backlog passes `max_buffered_bytes` (refused by
//! [`send`](Session::send)) or has waited `stall_timeout`.
//!
//! Spec: engine.io-protocol v4, "Protocol" (heartbeat, upgrade, close) and
//! "Transports" (polling, websocket).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::Config;
use super::error::{CloseReason, DecodeError, ProbeRefused, Rejection, SendError};
use super::handshake::{TransportKind, open_json};
use super::packet::{Data, Packet};
use super::payload;
use super::sid::Sid;
use super::v3::{Body, Protocol};

/// What one queued message costs beyond its data, in bytes: its place in
/// the session's queue. [`Config::max_buffered_bytes`] counts it for every
/// message, so that the bound holds for many small messages too.
pub const QUEUED_PACKET_OVERHEAD: usize = std::mem::size_of::<Packet>();

/// What the session tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The client sent a MESSAGE.
    Message(Data),
    /// The session moved from polling to WebSocket.
    Upgraded,
    /// The session ended; no other event follows.
    Closed(CloseReason),
}

/// Why a POST was not taken. The session has been closed in every case but
/// [`PostError::Rejected`] with a closed or mismatched session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostError {
    /// Refused as the router would (session unknown, wrong transport).
    Rejected(Rejection),
    /// The body is larger than `maxPayload` (the reference answers HTTP 413).
    PayloadTooLarge {
        /// Body size, in bytes.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The body is not a valid payload.
    Malformed(DecodeError),
}

/// The heartbeat: engine.io-protocol v4, "Protocol › Heartbeat". The server
/// sends PING every `pingInterval`; the client must answer PONG within
/// `pingTimeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heartbeat {
    /// Waiting to send the next PING at `ping_at`.
    Idle { ping_at: Instant },
    /// A PING is out; the session closes at `deadline` without a PONG.
    AwaitingPong { deadline: Instant },
}

/// The polling-to-WebSocket upgrade: engine.io-protocol v4, "Upgrade".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    /// No WebSocket is being probed.
    None,
    /// A WebSocket arrived for this sid; it must complete by `deadline`.
    Probing {
        deadline: Instant,
        /// The client sent `2probe` and got `3probe`: pending and new GETs
        /// are now answered with NOOP so that the client can pause polling.
        probed: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// The server closes: what is queued is flushed, then CLOSE. A polling
    /// client has until `deadline` to fetch it.
    Closing {
        deadline: Instant,
        reason: CloseReason,
    },
    Closed(CloseReason),
}

/// One Engine.IO v4 session. See the module documentation for the API shape.
#[derive(Debug)]
pub struct Session {
    sid: Sid,
    ping_interval: Duration,
    ping_timeout: Duration,
    upgrade_timeout: Duration,
    max_payload: usize,
    max_poll_packets: usize,
    max_buffered_bytes: usize,
    stall_timeout: Duration,
    transport: TransportKind,
    state: State,
    heartbeat: Heartbeat,
    upgrade: Upgrade,
    /// A polling GET is waiting for its response.
    poll_pending: bool,
    /// The answer owed to a GET that was pending when the session closed:
    /// NOOP when the client closed, CLOSE otherwise.
    final_poll_reply: Option<Packet>,
    /// Packets for the active transport, oldest first.
    queue: VecDeque<Packet>,
    /// Bytes of the MESSAGEs in `queue`, each counted as its data plus
    /// [`QUEUED_PACKET_OVERHEAD`] (what `max_buffered_bytes` bounds; control
    /// packets are a few bytes each and bounded in number).
    queued_bytes: usize,
    /// MESSAGEs in `queue`.
    queued_messages: usize,
    /// Set while messages wait that the client has not taken: the session
    /// closes as a slow consumer if nothing is taken by then. Armed by
    /// [`Session::handle_timeout`] once it sees the backlog (sending takes
    /// no clock reading), cleared whenever the client takes its queue.
    stall_deadline: Option<Instant>,
    /// `3probe`, owed to the probing WebSocket.
    probe_reply: Option<Packet>,
    /// The probing WebSocket must be closed: the upgrade failed.
    probe_close: bool,
    events: VecDeque<Event>,
    /// The engine.io-protocol revision ([`Session::with_protocol`]).
    protocol: Protocol,
    /// v3: the revision the probing WebSocket's request asked for (its
    /// `b64`), taken on at the upgrade.
    probe_protocol: Option<Protocol>,
    /// v3: a PONG is in the queue (one is enough however often the client
    /// pings, so the queue stays bounded).
    pong_queued: bool,
}

impl Session {
    /// A new session on `transport`, opened at `now`. The OPEN packet is
    /// queued: it answers the handshake GET, or is the first WebSocket frame.
    pub fn new(now: Instant, sid: Sid, transport: TransportKind, config: &Config) -> Session {
        let mut queue = VecDeque::new();
        queue.push_back(Packet::Open(open_json(&sid, transport, config)));
        Session {
            sid,
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            upgrade_timeout: config.upgrade_timeout,
            max_payload: config.max_payload,
            max_poll_packets: config.max_poll_packets.unwrap_or(usize::MAX).max(1),
            max_buffered_bytes: config.max_buffered_bytes,
            stall_timeout: config.stall_timeout,
            transport,
            state: State::Open,
            heartbeat: Heartbeat::Idle {
                ping_at: now + config.ping_interval,
            },
            upgrade: Upgrade::None,
            poll_pending: false,
            final_poll_reply: None,
            queue,
            queued_bytes: 0,
            queued_messages: 0,
            stall_deadline: None,
            probe_reply: None,
            probe_close: false,
            events: VecDeque::new(),
            protocol: Protocol::V4,
            probe_protocol: None,
            pong_queued: false,
        }
    }

    /// The session speaks `protocol` (engine.io-protocol v4 by default).
    /// Call it on a new session. For v3 the heartbeat is reversed, as in
    /// engine.io 6.6 with `allowEIO3`: the client pings, the server answers
    /// PONG, and the session closes with "ping timeout" when no PING came
    /// for `pingInterval + pingTimeout`.
    pub fn with_protocol(mut self, protocol: Protocol) -> Session {
        self.protocol = protocol;
        if let (Protocol::V3 { .. }, Heartbeat::Idle { ping_at }) = (protocol, self.heartbeat) {
            self.heartbeat = Heartbeat::AwaitingPong {
                deadline: ping_at + self.ping_timeout,
            };
        }
        self
    }

    /// The protocol the session speaks on its current transport.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// v3: the revision the probing WebSocket's request asked for (whether
    /// it takes binary frames); it replaces the polling one at the upgrade.
    /// Call it right after a [`begin_upgrade`](Session::begin_upgrade) that
    /// succeeded. Ignored for a v4 session, and when no probe is under way.
    pub fn set_probe_protocol(&mut self, protocol: Protocol) {
        if self.protocol.is_v3() && protocol.is_v3() && self.is_upgrading() {
            self.probe_protocol = Some(protocol);
        }
    }

    /// The session id.
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The transport the session currently uses.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// Whether the session has ended (its [`Event::Closed`] is queued or taken).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self.state {
            State::Closed(reason) => Some(reason),
            _ => None,
        }
    }

    /// Whether a WebSocket is being probed for an upgrade.
    pub fn is_upgrading(&self) -> bool {
        matches!(self.upgrade, Upgrade::Probing { .. })
    }

    /// Number of packets queued for the client and not yet taken.
    pub fn buffered(&self) -> usize {
        self.queue.len()
    }

    /// Whether the client could take a message at this instant: over
    /// polling a GET is waiting for it; over WebSocket nothing else waits to
    /// be written. This is the reference's "transport writable", which
    /// decides whether a volatile packet is sent or dropped.
    pub fn is_writable(&self) -> bool {
        if self.state != State::Open {
            return false;
        }
        match self.transport {
            TransportKind::Polling => self.poll_pending,
            TransportKind::WebSocket => self.queued_messages == 0,
        }
    }

    // ----- application side -------------------------------------------------

    /// Queues a MESSAGE for the client.
    ///
    /// Fails with [`SendError::Closed`] once the session is closing, and with
    /// [`SendError::Full`] when this message would take what is queued over
    /// `max_buffered_bytes`: nothing is dropped silently, the caller decides.
    /// Text holding the payload separator `\x1e` cannot travel on polling
    /// ([`SendError::Unencodable`]).
    pub fn send(&mut self, data: Data) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        let cost = data.len() + QUEUED_PACKET_OVERHEAD;
        // A message larger than the whole byte budget still goes through an
        // empty queue, so that no message is unsendable.
        if self.queued_bytes > 0 && self.queued_bytes + cost > self.max_buffered_bytes {
            return Err(SendError::Full);
        }
        if let Data::Text(text) = &data
            && self.protocol == Protocol::V4
            && self.transport == TransportKind::Polling
            && text.contains(payload::SEPARATOR)
        {
            return Err(SendError::Unencodable);
        }
        self.queued_bytes += cost;
        self.queued_messages += 1;
        self.queue.push_back(Packet::Message(data));
        Ok(())
    }

    /// Queues a volatile MESSAGE: as [`send`](Session::send), but only if
    /// the client can take it now ([`is_writable`](Session::is_writable));
    /// otherwise [`SendError::NotWritable`] and the message is dropped.
    pub fn send_volatile(&mut self, data: Data) -> Result<(), SendError> {
        if self.state == State::Open && !self.is_writable() {
            return Err(SendError::NotWritable);
        }
        self.send(data)
    }

    /// Bytes queued for the client and not yet taken, as
    /// `max_buffered_bytes` counts them.
    pub fn buffered_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The server closes the session: what is queued is still delivered, then
    /// CLOSE over polling, or the WebSocket is closed (no CLOSE packet, as the
    /// reference). The session reports `"forced close"`.
    pub fn close(&mut self, now: Instant) {
        self.begin_closing(now, CloseReason::ForcedClose);
    }

    /// As [`close`](Session::close), for a server shutting down; the session
    /// reports `"server shutting down"`.
    pub fn shutdown(&mut self, now: Instant) {
        self.begin_closing(now, CloseReason::ServerShutdown);
    }

    fn begin_closing(&mut self, now: Instant, reason: CloseReason) {
        if self.state != State::Open {
            return;
        }
        self.abort_upgrade(now);
        self.queue.push_back(Packet::Close);
        self.state = State::Closing {
            deadline: now + self.ping_timeout,
            reason,
        };
    }

    /// The next event for the application, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- time ---------------------------------------------------------------

    /// When [`handle_timeout`](Session::handle_timeout) must be called next;
    /// `None` once the session is closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match self.state {
            State::Open => None,
            State::Closing { deadline, .. } => Some(deadline),
            State::Closed(_) => return None,
        };
        let heartbeat = match (self.heartbeat, self.upgrade) {
            (Heartbeat::Idle { ping_at }, _) => Some(ping_at),
            // While a probe is under way the pong deadline is suspended; the
            // upgrade deadline bounds that time instead.
            (Heartbeat::AwaitingPong { .. }, Upgrade::Probing { .. }) => None,
            (Heartbeat::AwaitingPong { deadline }, Upgrade::None) => Some(deadline),
        };
        let upgrade = match self.upgrade {
            Upgrade::Probing { deadline, .. } => Some(deadline),
            Upgrade::None => None,
        };
        [state, heartbeat, upgrade, self.stall_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs every timer that is due at `now`: sends PING, closes on a missing
    /// PONG, ends an upgrade that took too long, ends a close that the client
    /// never fetched, closes a slow consumer.
    ///
    /// Call it after [`send`](Session::send) too: sending reads no clock, so
    /// this is where a new backlog gets its `stall_timeout` deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Upgrade::Probing { deadline, .. } = self.upgrade
            && now >= deadline
        {
            self.abort_upgrade(now);
        }
        match self.state {
            State::Closed(_) => return,
            State::Closing { deadline, reason } if now >= deadline => {
                self.close_now(reason);
                return;
            }
            _ => {}
        }
        match self.stall_deadline {
            _ if self.queued_messages == 0 => self.stall_deadline = None,
            None => self.stall_deadline = Some(now + self.stall_timeout),
            Some(deadline) if now >= deadline => {
                self.close_now(CloseReason::SlowConsumer);
                return;
            }
            Some(_) => {}
        }
        match self.heartbeat {
            Heartbeat::Idle { ping_at } if now >= ping_at => {
                // A client can answer PINGs it never fetched (a blind PONG
                // each interval); one unread PING is enough, so the control
                // packets in the queue stay bounded (a PING and a CLOSE).
                let ping = Packet::Ping(String::new());
                if self.state == State::Open && !self.queue.contains(&ping) {
                    self.queue.push_back(ping);
                }
                self.heartbeat = Heartbeat::AwaitingPong {
                    deadline: now + self.ping_timeout,
                };
            }
            Heartbeat::AwaitingPong { deadline }
                if now >= deadline && self.upgrade == Upgrade::None =>
            {
                self.close_now(CloseReason::PingTimeout);
            }
            _ => {}
        }
    }

    // ----- HTTP long-polling --------------------------------------------------

    /// A polling GET arrived. On success the GET is pending: answer it with
    /// [`take_poll_response`](Session::take_poll_response), now or once it
    /// returns `Some`.
    ///
    /// A second GET while one is pending breaks "Transports › HTTP
    /// long-polling" (one GET at a time): the session closes, the first GET is
    /// answered with CLOSE, and the second is refused.
    pub fn handle_poll(&mut self, _now: Instant) -> Result<(), Rejection> {
        if self.is_closed() {
            return Err(Rejection::UnknownSid);
        }
        if self.transport != TransportKind::Polling {
            return Err(Rejection::BadRequest);
        }
        if self.poll_pending {
            self.close_now(CloseReason::TransportError);
            return Err(Rejection::BadRequest);
        }
        self.poll_pending = true;
        Ok(())
    }

    /// The body for the pending GET, if it can be answered now; `None` while
    /// it must keep waiting (or when no GET is pending).
    ///
    /// A GET takes the queued packets from the front, as many as fit in
    /// about `max_payload` bytes and `max_poll_packets` (at least one); the
    /// rest waits for the next GET. During an upgrade (once the
    /// probe succeeded) and after it, an empty queue is answered with NOOP so
    /// the client can stop polling ("Upgrade", step 3).
    ///
    /// The text of [`take_poll_body`](Session::take_poll_body), for a v4
    /// session (whose bodies are always text).
    pub fn take_poll_response(&mut self) -> Option<String> {
        self.take_poll_body().map(|body| match body {
            Body::Text(text) => text,
            Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// The body for the pending GET, as
    /// [`take_poll_response`](Session::take_poll_response) says, in the
    /// session's protocol: a v3 body may be binary
    /// ([`Body::content_type`] tells the `Content-Type`).
    pub fn take_poll_body(&mut self) -> Option<Body> {
        if !self.poll_pending {
            return None;
        }
        let protocol = self.protocol;
        if self.is_closed() {
            self.poll_pending = false;
            let reply = self.final_poll_reply.take().unwrap_or(Packet::Close);
            return Some(protocol.encode_payload([&reply]));
        }
        if self.transport == TransportKind::WebSocket {
            self.poll_pending = false;
            return Some(protocol.encode_payload([&Packet::Noop]));
        }
        if !self.queue.is_empty() {
            self.poll_pending = false;
            let taken = self.poll_response_len();
            let body = protocol.encode_payload(self.queue.range(..taken));
            let closing = self.queue.get(taken - 1) == Some(&Packet::Close);
            for packet in self.queue.drain(..taken) {
                match packet {
                    Packet::Message(data) => {
                        self.queued_bytes -= data.len() + QUEUED_PACKET_OVERHEAD;
                        self.queued_messages -= 1;
                    }
                    Packet::Pong(_) => self.pong_queued = false,
                    _ => {}
                }
            }
            // The client took something: progress.
            self.stall_deadline = None;
            if closing {
                self.finish_closing();
            }
            return Some(body);
        }
        if let Upgrade::Probing { probed: true, .. } = self.upgrade {
            self.poll_pending = false;
            return Some(protocol.encode_payload([&Packet::Noop]));
        }
        None
    }

    /// How many packets from the front of the queue the next polling
    /// response carries: at most `max_poll_packets`, and no more than about
    /// `max_payload` bytes of data, but always at least one.
    fn poll_response_len(&self) -> usize {
        let mut bytes = 0;
        let mut taken = 0;
        for packet in self.queue.iter().take(self.max_poll_packets) {
            let len = match packet {
                Packet::Message(data) => data.len(),
                _ => 1,
            };
            if taken > 0 && bytes + len > self.max_payload {
                break;
            }
            bytes += len;
            taken += 1;
        }
        taken
    }

    /// Whether a polling GET is waiting for its response.
    pub fn is_poll_pending(&self) -> bool {
        self.poll_pending
    }

    /// The pending GET went away unanswered (its connection closed). The
    /// reference server treats this as a transport error and closes.
    pub fn handle_poll_aborted(&mut self, _now: Instant) {
        if self.poll_pending {
            self.poll_pending = false;
            self.close_now(CloseReason::TransportError);
        }
    }

    /// A polling POST arrived with this body.
    ///
    /// Every packet is handled in order. A body over `maxPayload` or one
    /// that is not a valid payload closes the session.
    pub fn handle_post(&mut self, now: Instant, body: &[u8]) -> Result<(), PostError> {
        if self.is_closed() {
            return Err(PostError::Rejected(Rejection::UnknownSid));
        }
        if self.transport != TransportKind::Polling {
            return Err(PostError::Rejected(Rejection::BadRequest));
        }
        match self.protocol.decode_payload(body, self.max_payload) {
            Ok(packets) => {
                for packet in packets {
                    self.handle_packet(now, packet);
                    if self.is_closed() {
                        break;
                    }
                }
                Ok(())
            }
            Err(DecodeError::PayloadTooLarge { size, max }) => {
                self.close_now(CloseReason::TransportError);
                Err(PostError::PayloadTooLarge { size, max })
            }
            Err(e) => {
                self.close_now(CloseReason::ParseError);
                Err(PostError::Malformed(e))
            }
        }
    }

    /// Reports a POST body over `maxPayload` seen before it was read whole
    /// (from its declared length): closes the session as
    /// [`handle_post`](Session::handle_post) would.
    pub fn handle_post_too_large(&mut self, _now: Instant) {
        self.close_now(CloseReason::TransportError);
    }

    // ----- WebSocket ------------------------------------------------------------

    /// A WebSocket arrived for this polling session: the probe starts.
    ///
    /// Refused when the session is closing or closed, already uses a
    /// WebSocket, or already probes one: the caller then completes that
    /// WebSocket's handshake and closes it at once, as the reference does,
    /// and the session goes on as before.
    pub fn begin_upgrade(&mut self, now: Instant) -> Result<(), ProbeRefused> {
        if self.state != State::Open {
            return Err(ProbeRefused::Closed);
        }
        if self.transport != TransportKind::Polling {
            return Err(ProbeRefused::OnWebSocket);
        }
        if self.upgrade != Upgrade::None {
            return Err(ProbeRefused::Upgrading);
        }
        self.upgrade = Upgrade::Probing {
            deadline: now + self.upgrade_timeout,
            probed: false,
        };
        self.probe_close = false;
        Ok(())
    }

    /// A text frame arrived on the session's WebSocket (the active one, or the
    /// one being probed).
    pub fn handle_ws_text(&mut self, now: Instant, text: &str) {
        if self.is_closed() {
            return;
        }
        let packet = self.protocol.decode_ws_text(text);
        if self.transport == TransportKind::WebSocket {
            match packet {
                Ok(packet) => self.handle_packet(now, packet),
                Err(_) => self.close_now(CloseReason::ParseError),
            }
        } else if let Upgrade::Probing { deadline, .. } = self.upgrade {
            // "Upgrade": 2probe is answered 3probe; then UPGRADE completes.
            // Anything else on the probe ends the upgrade, not the session.
            match packet {
                Ok(Packet::Ping(data)) if data == "probe" => {
                    self.probe_reply = Some(Packet::Pong(data));
                    self.upgrade = Upgrade::Probing {
                        deadline,
                        probed: true,
                    };
                }
                Ok(Packet::Upgrade)
                    if matches!(self.upgrade, Upgrade::Probing { probed: true, .. }) =>
                {
                    self.complete_upgrade(now);
                }
                _ => self.abort_upgrade(now),
            }
        }
    }

    /// A binary frame arrived on the session's WebSocket: a binary MESSAGE.
    pub fn handle_ws_binary(&mut self, now: Instant, frame: Bytes) {
        if self.is_closed() {
            return;
        }
        if self.transport == TransportKind::WebSocket {
            // A v3 binary frame of another type than MESSAGE is ignored, as
            // the reference ignores a packet of no known type.
            if let Ok(packet) = self.protocol.decode_ws_binary(frame) {
                self.handle_packet(now, packet);
            }
        } else if self.is_upgrading() {
            self.abort_upgrade(now);
        }
    }

    /// The session's WebSocket closed, or failed (a frame over `maxPayload`,
    /// an I/O error). On the active transport this ends the session; on a
    /// probe it ends only the upgrade.
    pub fn handle_ws_closed(&mut self, now: Instant, reason: CloseReason) {
        if self.transport == TransportKind::WebSocket {
            self.close_now(reason);
        } else if self.is_upgrading() {
            self.abort_upgrade(now);
        }
    }

    /// The next packet to write on the attached WebSocket: `3probe` during a
    /// probe, then (once on WebSocket) the queue.
    pub fn poll_ws_frame(&mut self) -> Option<Packet> {
        if let Some(reply) = self.probe_reply.take() {
            return Some(reply);
        }
        if self.transport != TransportKind::WebSocket || self.is_closed() {
            return None;
        }
        let packet = self.queue.pop_front()?;
        if let Packet::Pong(_) = &packet {
            self.pong_queued = false;
        }
        if let Packet::Message(data) = &packet {
            self.queued_bytes -= data.len() + QUEUED_PACKET_OVERHEAD;
            self.queued_messages -= 1;
            // The writer takes what it is given: progress.
            self.stall_deadline = None;
        }
        if packet == Packet::Close {
            // The reference server's WebSocket transport ends a session it
            // closes by closing the WebSocket, with no CLOSE packet: clients
            // read that as a lost transport and reconnect (python-socketio
            // reads a CLOSE packet as "the server ended it on purpose" and
            // would not).
            self.finish_closing();
            return None;
        }
        Some(packet)
    }

    /// Whether the attached WebSocket must now be closed: the session ended
    /// on WebSocket (true from then on), or the upgrade it was probing failed
    /// (reported once).
    pub fn take_ws_close(&mut self) -> bool {
        std::mem::take(&mut self.probe_close)
            || (self.transport == TransportKind::WebSocket && self.is_closed())
    }

    // ----- shared -------------------------------------------------------------

    /// One packet from the client on the active transport.
    fn handle_packet(&mut self, now: Instant, packet: Packet) {
        match packet {
            Packet::Message(data) => self.events.push_back(Event::Message(data)),
            // engine.io-protocol v3: the client pings and the server answers
            // PONG; each PING restarts the `pingInterval + pingTimeout` wait
            // (engine.io 6.6 `Socket#onPacket`).
            Packet::Ping(_) if self.protocol.is_v3() => {
                if !self.pong_queued && self.state == State::Open {
                    self.queue.push_back(Packet::Pong(String::new()));
                    self.pong_queued = true;
                }
                self.heartbeat = Heartbeat::AwaitingPong {
                    deadline: now + self.ping_interval + self.ping_timeout,
                };
            }
            // ... and a PONG from a v3 client is "invalid heartbeat direction".
            Packet::Pong(_) if self.protocol.is_v3() => self.close_now(CloseReason::TransportError),
            Packet::Pong(_) => {
                if let Heartbeat::AwaitingPong { .. } = self.heartbeat {
                    self.heartbeat = Heartbeat::Idle {
                        ping_at: now + self.ping_interval,
                    };
                }
            }
            Packet::Close => self.close_now(CloseReason::TransportClose),
            Packet::Noop => {}
            // v4 pings go server to client only ("Heartbeat"); OPEN and a
            // stray UPGRADE have no meaning from a client on this transport.
            Packet::Ping(_) | Packet::Open(_) | Packet::Upgrade => {
                self.close_now(CloseReason::TransportError)
            }
        }
    }

    fn complete_upgrade(&mut self, now: Instant) {
        self.transport = TransportKind::WebSocket;
        if let Some(protocol) = self.probe_protocol.take() {
            self.protocol = protocol;
        }
        self.upgrade = Upgrade::None;
        self.restart_suspended_pong_deadline(now);
        self.events.push_back(Event::Upgraded);
    }

    fn abort_upgrade(&mut self, now: Instant) {
        if let Upgrade::Probing { .. } = self.upgrade {
            self.upgrade = Upgrade::None;
            self.probe_reply = None;
            self.probe_protocol = None;
            self.probe_close = true;
            self.restart_suspended_pong_deadline(now);
        }
    }

    /// A pong deadline that passed while a probe suspended it gets a fresh
    /// `pingTimeout` from now: the client could not answer a PING stuck in a
    /// paused transport.
    fn restart_suspended_pong_deadline(&mut self, now: Instant) {
        if let Heartbeat::AwaitingPong { deadline } = self.heartbeat {
            self.heartbeat = Heartbeat::AwaitingPong {
                deadline: deadline.max(now + self.ping_timeout),
            };
        }
    }

    fn finish_closing(&mut self) {
        if let State::Closing { reason, .. } = self.state {
            self.close_now(reason);
        }
    }

    fn close_now(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        if self.poll_pending {
            // "Transports › HTTP long-polling": a client that closed gets its
            // pending GET ended with NOOP; otherwise the GET carries CLOSE.
            self.final_poll_reply = Some(if reason == CloseReason::TransportClose {
                Packet::Noop
            } else {
                Packet::Close
            });
        }
        if self.is_upgrading() {
            self.upgrade = Upgrade::None;
            self.probe_close = true;
        }
        self.probe_reply = None;
        self.pong_queued = false;
        self.queue.clear();
        self.queued_bytes = 0;
        self.queued_messages = 0;
        self.stall_deadline = None;
        self.state = State::Closed(reason);
        self.events.push_back(Event::Closed(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::sid::SidGenerator;

    /// A session on a virtual clock: `t(ms)` is the base instant plus `ms`.
    struct Sim {
        t0: Instant,
        s: Session,
    }

    fn config() -> Config {
        Config::default()
            .with_heartbeat(Duration::from_millis(300), Duration::from_millis(200))
            .with_upgrade_timeout(Duration::from_millis(1000))
            .with_max_payload(100)
            .with_max_buffered_bytes(4 * (QUEUED_PACKET_OVERHEAD + 1))
            .with_stall_timeout(Duration::from_millis(250))
    }

    impl Sim {
        fn new(transport: TransportKind) -> Sim {
            let t0 = Instant::now();
            let sid = SidGenerator::new(Some([1; 32])).next_sid();
            Sim {
                t0,
                s: Session::new(t0, sid, transport, &config()),
            }
        }

        fn t(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }

        /// A GET at `ms` that is answered at once (the handshake, or data queued).
        fn get(&mut self, ms: u64) -> String {
            self.s.handle_poll(self.t(ms)).expect("GET accepted");
            self.s.take_poll_response().expect("GET answered at once")
        }

        fn post(&mut self, ms: u64, body: &str) -> Result<(), PostError> {
            self.s.handle_post(self.t(ms), body.as_bytes())
        }

        fn advance_to(&mut self, ms: u64) {
            self.s.handle_timeout(self.t(ms));
        }

        fn ws_frames(&mut self) -> Vec<String> {
            std::iter::from_fn(|| self.s.poll_ws_frame())
                .map(|p| p.encode_text())
                .collect()
        }

        fn events(&mut self) -> Vec<Event> {
            std::iter::from_fn(|| self.s.poll_event()).collect()
        }

        fn handshaken_polling() -> Sim {
            let mut sim = Sim::new(TransportKind::Polling);
            assert!(sim.get(0).starts_with("0{"));
            sim
        }
    }

    #[test]
    fn handshake_get_carries_the_open_packet() {
        let mut sim = Sim::new(TransportKind::Polling);
        let body = sim.get(0);
        let json: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        assert_eq!(json["sid"], sim.s.sid().as_str());
        assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
        assert_eq!(json["pingInterval"], 300);
        assert_eq!(json["pingTimeout"], 200);
        assert_eq!(json["maxPayload"], 100);
    }

    #[test]
    fn polling_messages_flow_both_ways() {
        let mut sim = Sim::handshaken_polling();
        sim.post(10, "4hello\x1ebAQIDBA==").unwrap();
        assert_eq!(
            sim.events(),
            vec![
                Event::Message(Data::from("hello")),
                Event::Message(Data::Binary(Bytes::from_static(&[1, 2, 3, 4])))
            ]
        );
        sim.s.send(Data::from("a")).unwrap();
        sim.s.send(Data::Binary(Bytes::from_static(&[1]))).unwrap();
        assert_eq!(sim.get(20), "4a\x1ebAQ==");
    }

    #[test]
    fn a_pending_get_is_answered_when_data_arrives() {
        let mut sim = Sim::handshaken_polling();
        sim.s.handle_poll(sim.t(10)).unwrap();
        assert_eq!(sim.s.take_poll_response(), None);
        sim.s.send(Data::from("late")).unwrap();
        assert_eq!(sim.s.take_poll_response().as_deref(), Some("4late"));
        assert!(!sim.s.is_poll_pending());
    }

    #[test]
    fn heartbeat_pings_at_interval_and_pong_reschedules() {
        let mut sim = Sim::handshaken_polling();
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(300)));
        sim.advance_to(299);
        assert_eq!(sim.s.buffered(), 0);
        sim.advance_to(300);
        assert_eq!(sim.get(300), "2");
        // The pong deadline is pingTimeout after the ping.
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(500)));
        sim.post(450, "3").unwrap();
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(750)));
        sim.advance_to(750);
        assert_eq!(sim.get(750), "2");
        assert!(!sim.s.is_closed());
    }

    #[test]
    fn ping_timeout_closes_the_session() {
        let mut sim = Sim::handshaken_polling();
        sim.advance_to(300);
        sim.advance_to(499);
        assert!(!sim.s.is_closed());
        sim.advance_to(500);
        assert_eq!(sim.s.close_reason(), Some(CloseReason::PingTimeout));
        assert_eq!(sim.events(), vec![Event::Closed(CloseReason::PingTimeout)]);
        assert_eq!(sim.s.poll_timeout(), None);
        assert_eq!(sim.s.handle_poll(sim.t(501)), Err(Rejection::UnknownSid));
    }

    #[test]
    fn abandoned_session_is_reaped_within_interval_plus_timeout() {
        // A client that handshakes and never comes back: following
        // poll_timeout alone ends the session, with no other input.
        let mut sim = Sim::handshaken_polling();
        let mut steps = 0;
        while let Some(deadline) = sim.s.poll_timeout() {
            sim.s.handle_timeout(deadline);
            steps += 1;
            assert!(steps < 10, "session never ends");
        }
        assert_eq!(sim.s.close_reason(), Some(CloseReason::PingTimeout));
        assert!(sim.s.poll_timeout().is_none());
    }

    #[test]
    fn concurrent_get_closes_and_first_get_gets_close() {
        let mut sim = Sim::handshaken_polling();
        sim.s.handle_poll(sim.t(10)).unwrap();
        assert_eq!(sim.s.handle_poll(sim.t(15)), Err(Rejection::BadRequest));
        assert_eq!(sim.s.take_poll_response().as_deref(), Some("1"));
        assert_eq!(sim.s.close_reason(), Some(CloseReason::TransportError));
        assert_eq!(sim.s.handle_poll(sim.t(20)), Err(Rejection::UnknownSid));
    }

    #[test]
    fn aborted_get_closes_the_session() {
        let mut sim = Sim::handshaken_polling();
        sim.s.handle_poll(sim.t(10)).unwrap();
        sim.s.handle_poll_aborted(sim.t(15));
        assert_eq!(sim.s.close_reason(), Some(CloseReason::TransportError));
    }

    #[test]
    fn client_close_ends_pending_get_with_noop() {
        let mut sim = Sim::handshaken_polling();
        sim.s.handle_poll(sim.t(10)).unwrap();
        sim.post(11, "1").unwrap();
        assert_eq!(sim.s.take_poll_response().as_deref(), Some("6"));
        assert_eq!(
            sim.events(),
            vec![Event::Closed(CloseReason::TransportClose)]
        );
    }

    #[test]
    fn malformed_post_closes_with_parse_error() {
        let mut sim = Sim::handshaken_polling();
        assert_eq!(
            sim.post(10, "abc"),
            Err(PostError::Malformed(DecodeError::UnknownPacketType(b'a')))
        );
        assert_eq!(sim.s.close_reason(), Some(CloseReason::ParseError));
    }

    #[test]
    fn oversized_post_closes_the_session() {
        let mut sim = Sim::handshaken_polling();
        let body = format!("4{}", "x".repeat(100));
        assert_eq!(
            sim.post(10, &body),
            Err(PostError::PayloadTooLarge {
                size: 101,
                max: 100
            })
        );
        assert_eq!(sim.s.close_reason(), Some(CloseReason::TransportError));
    }

    #[test]
    fn client_ping_is_a_protocol_error_in_v4() {
        let mut sim = Sim::handshaken_polling();
        sim.post(10, "2").unwrap();
        assert_eq!(sim.s.close_reason(), Some(CloseReason::TransportError));
    }

    #[test]
    fn send_buffer_is_bounded_and_nothing_is_dropped_silently() {
        let mut sim = Sim::handshaken_polling();
        for i in 0..4 {
            sim.s.send(Data::from(format!("{i}"))).unwrap();
        }
        assert_eq!(sim.s.send(Data::from("5")), Err(SendError::Full));
        assert_eq!(sim.get(10), "40\x1e41\x1e42\x1e43");
        sim.s.send(Data::from("again")).unwrap();
    }

    /// A client that keeps polling takes any burst whole: what bounds the
    /// queue is bytes, not a count of packets.
    #[test]
    fn a_burst_far_over_a_thousand_packets_reaches_a_client_that_polls() {
        let mut sim = Sim::new(TransportKind::Polling);
        sim.s.max_buffered_bytes = 10_000_000;
        sim.s.max_payload = 1_000_000;
        sim.get(0);
        let mut received = Vec::new();
        let mut next = 0;
        for round in 0..20u64 {
            for _ in 0..1_000 {
                sim.s.send(Data::from(format!("{next}"))).unwrap();
                next += 1;
            }
            sim.advance_to(round * 10 + 1);
            let body = sim.get(round * 10 + 5);
            received.extend(body.split('\x1e').map(|p| p[1..].parse::<u32>().unwrap()));
            // A PONG for whatever PING came, as a client would.
            sim.post(round * 10 + 6, "3").unwrap();
        }
        assert_eq!(received, (0..20_000).collect::<Vec<_>>());
        assert!(!sim.s.is_closed());
    }

    #[test]
    fn a_polling_response_carries_about_max_payload_bytes_and_max_poll_packets() {
        let mut sim = Sim::handshaken_polling();
        sim.s.max_buffered_bytes = 10_000;
        // max_payload is 100 bytes: 30 + 30 + 30 fit, the fourth waits.
        for c in ["a", "b", "c", "d"] {
            sim.s.send(Data::from(c.repeat(29))).unwrap();
        }
        let first = sim.get(1);
        assert_eq!(first.split('\x1e').count(), 3);
        assert_eq!(sim.get(2), format!("4{}", "d".repeat(29)));
        // One message over max_payload still goes, alone.
        sim.s.send(Data::from("x".repeat(150))).unwrap();
        sim.s.send(Data::from("y")).unwrap();
        assert_eq!(sim.get(3), format!("4{}", "x".repeat(150)));
        assert_eq!(sim.get(4), "4y");

        sim.s.max_poll_packets = 2;
        for i in 0..5 {
            sim.s.send(Data::from(format!("{i}"))).unwrap();
        }
        assert_eq!(sim.get(5), "40\x1e41");
        assert_eq!(sim.get(6), "42\x1e43");
        // A CLOSE left behind is still fetched, and ends the session.
        sim.s.close(sim.t(7));
        assert_eq!(sim.get(8), "44\x1e1");
        assert!(sim.s.is_closed());
    }

    #[test]
    fn a_backlog_nobody_takes_closes_the_session_as_a_slow_consumer() {
        let mut sim = Sim::handshaken_polling();
        sim.s.send(Data::from("x")).unwrap();
        // The deadline is set when the driver next runs the timers.
        sim.advance_to(10);
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(260)));
        sim.advance_to(259);
        assert!(!sim.s.is_closed());
        sim.advance_to(260);
        assert_eq!(sim.s.close_reason(), Some(CloseReason::SlowConsumer));
        assert_eq!(sim.events(), vec![Event::Closed(CloseReason::SlowConsumer)]);
        assert_eq!(sim.s.buffered_bytes(), 0);
    }

    #[test]
    fn each_get_restarts_the_stall_clock() {
        let mut sim = Sim::handshaken_polling();
        for step in 1..=10u64 {
            let ms = step * 200;
            sim.s.send(Data::from("x")).unwrap();
            sim.advance_to(ms);
            sim.advance_to(ms + 199);
            assert_eq!(sim.get(ms + 199).split('\x1e').next(), Some("4x"));
            sim.post(ms + 199, "3").unwrap();
        }
        assert!(!sim.s.is_closed());
        // No backlog, no stall deadline: only the heartbeat's.
        sim.advance_to(2_200);
        assert_eq!(sim.s.stall_deadline, None);
    }

    #[test]
    fn a_websocket_writer_that_takes_frames_is_never_stalled() {
        let mut sim = Sim::new(TransportKind::WebSocket);
        sim.ws_frames();
        for ms in (0..2_000).step_by(100) {
            sim.s.send(Data::from("x")).unwrap();
            sim.advance_to(ms);
            assert!(sim.ws_frames().contains(&"4x".to_owned()));
            sim.s.handle_ws_text(sim.t(ms), "3");
        }
        assert!(!sim.s.is_closed());
        // A writer that stops taking is.
        sim.s.send(Data::from("x")).unwrap();
        sim.advance_to(2_000);
        sim.advance_to(2_250);
        assert_eq!(sim.s.close_reason(), Some(CloseReason::SlowConsumer));
    }

    /// The reference sends a volatile packet only while its transport is
    /// writable: a polling GET waits, or a WebSocket has nothing in flight.
    #[test]
    fn volatile_messages_go_only_when_the_client_can_take_them() {
        let mut sim = Sim::handshaken_polling();
        assert_eq!(
            sim.s.send_volatile(Data::from("v")),
            Err(SendError::NotWritable)
        );
        sim.s.handle_poll(sim.t(1)).unwrap();
        assert!(sim.s.take_poll_response().is_none());
        sim.s.send_volatile(Data::from("v")).unwrap();
        assert_eq!(sim.s.take_poll_response().as_deref(), Some("4v"));

        let mut sim = Sim::new(TransportKind::WebSocket);
        sim.ws_frames();
        sim.s.send_volatile(Data::from("a")).unwrap();
        assert_eq!(
            sim.s.send_volatile(Data::from("b")),
            Err(SendError::NotWritable)
        );
        assert_eq!(sim.ws_frames(), vec!["4a"]);
        sim.s.send_volatile(Data::from("c")).unwrap();
        assert_eq!(sim.ws_frames(), vec!["4c"]);
        sim.s.close(sim.t(1));
        assert_eq!(sim.s.send_volatile(Data::from("d")), Err(SendError::Closed));
    }

    /// Regression (fuzz/eio_session): a text message holding `\x1e` was
    /// written raw into the polling payload, so the client read two packets
    /// from it, here a forged CLOSE.
    #[test]
    fn text_holding_the_separator_is_refused_on_polling_only() {
        let mut sim = Sim::handshaken_polling();
        assert_eq!(
            sim.s.send(Data::from("a\x1e1")),
            Err(SendError::Unencodable)
        );
        sim.s
            .send(Data::from(Bytes::from_static(b"a\x1e1")))
            .unwrap();
        assert_eq!(sim.get(10), "bYR4x");

        let mut sim = Sim::new(TransportKind::WebSocket);
        sim.ws_frames();
        sim.s.send(Data::from("a\x1e1")).unwrap();
        assert_eq!(sim.ws_frames(), vec!["4a\x1e1"]);
    }

    /// Regression (fuzz/eio_session): a client that answered every PING
    /// with a blind PONG and never fetched made the session queue one more
    /// PING each interval, without bound.
    #[test]
    fn unread_pings_do_not_pile_up() {
        let mut sim = Sim::handshaken_polling();
        for interval in 1..=5 {
            sim.advance_to(interval * 300);
            sim.post(interval * 300 + 1, "3").unwrap();
        }
        assert_eq!(sim.s.buffered(), 1);
        assert_eq!(sim.get(1600), "2");
    }

    #[test]
    fn send_buffer_is_bounded_in_bytes_too() {
        let mut sim = Sim::new(TransportKind::WebSocket);
        sim.s.max_buffered_bytes = 10;
        assert!(sim.ws_frames()[0].starts_with("0{"));
        // A message over the whole budget still passes an empty queue.
        sim.s.send(Data::from("x".repeat(25))).unwrap();
        assert_eq!(sim.s.send(Data::from("y")), Err(SendError::Full));
        assert_eq!(sim.ws_frames().len(), 1);
        assert_eq!(sim.s.buffered_bytes(), 0);
        sim.s.max_buffered_bytes = 10 + 2 * QUEUED_PACKET_OVERHEAD;
        sim.s.send(Data::from("123456")).unwrap();
        sim.s
            .send(Data::Binary(Bytes::from_static(&[1, 2, 3, 4])))
            .unwrap();
        assert_eq!(sim.s.buffered_bytes(), 10 + 2 * QUEUED_PACKET_OVERHEAD);
        assert_eq!(sim.s.send(Data::from("z")), Err(SendError::Full));
        // Taking one frees its bytes.
        assert_eq!(sim.s.poll_ws_frame(), Some(Packet::text("123456")));
        sim.s.send(Data::from("z")).unwrap();
        assert_eq!(sim.s.buffered_bytes(), 5 + 2 * QUEUED_PACKET_OVERHEAD);
    }

    #[test]
    fn server_close_flushes_then_sends_close() {
        let mut sim = Sim::handshaken_polling();
        sim.s.send(Data::from("bye")).unwrap();
        sim.s.close(sim.t(10));
        assert_eq!(sim.s.send(Data::from("late")), Err(SendError::Closed));
        assert!(!sim.s.is_closed());
        assert_eq!(sim.get(20), "4bye\x1e1");
        assert_eq!(sim.events(), vec![Event::Closed(CloseReason::ForcedClose)]);
    }

    #[test]
    fn server_close_unfetched_ends_after_ping_timeout() {
        let mut sim = Sim::handshaken_polling();
        sim.s.shutdown(sim.t(10));
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(210)));
        sim.advance_to(210);
        assert_eq!(sim.s.close_reason(), Some(CloseReason::ServerShutdown));
    }

    #[test]
    fn websocket_session_sends_open_first_and_echoes() {
        let mut sim = Sim::new(TransportKind::WebSocket);
        let frames = sim.ws_frames();
        assert_eq!(frames.len(), 1);
        assert!(frames[0].starts_with("0{") && frames[0].contains("\"upgrades\":[]"));
        sim.s.handle_ws_text(sim.t(5), "4hi");
        sim.s.handle_ws_binary(sim.t(6), Bytes::from_static(&[9]));
        assert_eq!(
            sim.events(),
            vec![
                Event::Message(Data::from("hi")),
                Event::Message(Data::Binary(Bytes::from_static(&[9])))
            ]
        );
        sim.advance_to(300);
        assert_eq!(sim.ws_frames(), vec!["2"]);
        sim.s.handle_ws_text(sim.t(310), "3");
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(610)));
    }

    #[test]
    fn websocket_invalid_packet_and_close_packet_end_the_session() {
        let mut sim = Sim::new(TransportKind::WebSocket);
        sim.s.handle_ws_text(sim.t(5), "abc");
        assert_eq!(sim.s.close_reason(), Some(CloseReason::ParseError));
        assert!(sim.s.take_ws_close());

        let mut sim = Sim::new(TransportKind::WebSocket);
        sim.s.handle_ws_text(sim.t(5), "1");
        assert_eq!(sim.s.close_reason(), Some(CloseReason::TransportClose));
    }

    #[test]
    fn upgrade_sequence_probe_noop_upgrade() {
        let mut sim = Sim::handshaken_polling();
        sim.s.handle_poll(sim.t(5)).unwrap();
        assert_eq!(sim.s.take_poll_response(), None);
        sim.s.begin_upgrade(sim.t(10)).unwrap();
        // A pending GET keeps waiting until the probe succeeds...
        assert_eq!(sim.s.take_poll_response(), None);
        sim.s.handle_ws_text(sim.t(11), "2probe");
        assert_eq!(sim.ws_frames(), vec!["3probe"]);
        // ...then is answered with NOOP, and so is any new one.
        assert_eq!(sim.s.take_poll_response().as_deref(), Some("6"));
        assert_eq!(sim.get(12), "6");
        sim.s.send(Data::from("queued")).unwrap();
        sim.s.handle_ws_text(sim.t(13), "5");
        assert_eq!(sim.s.transport(), TransportKind::WebSocket);
        assert_eq!(sim.events(), vec![Event::Upgraded]);
        assert_eq!(sim.ws_frames(), vec!["4queued"]);
        assert_eq!(sim.s.handle_poll(sim.t(14)), Err(Rejection::BadRequest));
        assert_eq!(
            sim.s.begin_upgrade(sim.t(14)),
            Err(ProbeRefused::OnWebSocket)
        );
    }

    #[test]
    fn upgrade_without_probe_is_refused_and_polling_goes_on() {
        let mut sim = Sim::handshaken_polling();
        sim.s.begin_upgrade(sim.t(10)).unwrap();
        sim.s.handle_ws_text(sim.t(11), "5");
        assert_eq!(sim.s.transport(), TransportKind::Polling);
        assert!(sim.s.take_ws_close());
        assert!(!sim.s.is_closed());
        sim.s.send(Data::from("still")).unwrap();
        assert_eq!(sim.get(12), "4still");
    }

    #[test]
    fn upgrade_timeout_ends_the_probe_not_the_session() {
        let mut sim = Sim::handshaken_polling();
        sim.s.begin_upgrade(sim.t(10)).unwrap();
        sim.s.handle_ws_text(sim.t(11), "2probe");
        sim.ws_frames();
        // The ping at 300 is queued; its pong deadline (500) is suspended
        // while the probe runs.
        sim.advance_to(300);
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(1010)));
        sim.advance_to(1010);
        assert!(sim.s.take_ws_close());
        assert!(!sim.s.is_upgrading());
        assert!(!sim.s.is_closed());
        // The heartbeat resumes with a fresh pingTimeout.
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(1210)));
        assert_eq!(sim.get(1011), "2");
        sim.post(1012, "3").unwrap();
        assert!(!sim.s.is_closed());
    }

    #[test]
    fn heartbeat_ping_queued_during_upgrade_goes_over_websocket() {
        let mut sim = Sim::handshaken_polling();
        sim.s.begin_upgrade(sim.t(100)).unwrap();
        sim.s.handle_ws_text(sim.t(101), "2probe");
        sim.ws_frames();
        sim.advance_to(300);
        sim.advance_to(900); // long past the pong deadline, still probing
        assert!(!sim.s.is_closed());
        sim.s.handle_ws_text(sim.t(900), "5");
        assert_eq!(sim.ws_frames(), vec!["2"]);
        assert_eq!(sim.s.poll_timeout(), Some(sim.t(1100)));
        sim.s.handle_ws_text(sim.t(950), "3");
        assert!(!sim.s.is_closed());
    }

    #[test]
    fn second_probe_while_probing_is_refused() {
        let mut sim = Sim::handshaken_polling();
        sim.s.begin_upgrade(sim.t(10)).unwrap();
        assert_eq!(sim.s.begin_upgrade(sim.t(11)), Err(ProbeRefused::Upgrading));
        // The first probe goes on.
        sim.s.handle_ws_text(sim.t(12), "2probe");
        assert_eq!(sim.ws_frames(), vec!["3probe"]);
        sim.s.handle_ws_text(sim.t(13), "5");
        assert_eq!(sim.events(), vec![Event::Upgraded]);
        assert_eq!(
            sim.s.begin_upgrade(sim.t(14)),
            Err(ProbeRefused::OnWebSocket)
        );
        sim.s.close(sim.t(15));
        assert_eq!(sim.s.begin_upgrade(sim.t(16)), Err(ProbeRefused::Closed));
    }

    #[test]
    fn probe_websocket_closing_keeps_polling() {
        let mut sim = Sim::handshaken_polling();
        sim.s.begin_upgrade(sim.t(10)).unwrap();
        sim.s
            .handle_ws_closed(sim.t(11), CloseReason::TransportClose);
        assert!(!sim.s.is_upgrading());
        assert!(!sim.s.is_closed());
    }

    #[test]
    fn closed_session_stays_closed() {
        let mut sim = Sim::new(TransportKind::WebSocket);
        sim.s.handle_ws_text(sim.t(1), "1");
        sim.s.handle_ws_text(sim.t(2), "4after");
        sim.s.handle_ws_binary(sim.t(2), Bytes::new());
        sim.advance_to(10_000);
        assert_eq!(
            sim.events(),
            vec![Event::Closed(CloseReason::TransportClose)]
        );
        assert_eq!(sim.s.send(Data::from("x")), Err(SendError::Closed));
        assert_eq!(sim.ws_frames(), Vec::<String>::new());
    }
}
