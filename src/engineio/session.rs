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

/// What the session tells the application: a message (engine.io-protocol
/// v4, "Protocol › Message"), the upgrade done ("Protocol › Upgrade"), or
/// the end of the session.
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
/// [`PostError::Rejected`] with a closed or mismatched session
/// (engine.io-protocol v4, "Transports › HTTP long-polling › Sending data").
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

/// The polling-to-WebSocket upgrade: engine.io-protocol v4, "Protocol ›
/// Upgrade".
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

/// One Engine.IO v4 session: engine.io-protocol v4, "Protocol" (handshake,
/// heartbeat, upgrade, message) over both "Transports". See the module
/// documentation for the API shape.
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
    /// queued: it answers the handshake GET, or is the first WebSocket frame
    /// (engine.io-protocol v4, "Protocol › Handshake").
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

    /// Whether a WebSocket is being probed for an upgrade (engine.io-protocol
    /// v4, "Protocol › Upgrade").
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

    /// Queues a MESSAGE for the client (engine.io-protocol v4, "Protocol ›
    /// Message").
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
    /// reference). The session reports `"forced close"` (engine.io-protocol
    /// v4, "Protocol": the `close` packet).
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

    /// Whether [`poll_event`](Self::poll_event) has something: a transport
    /// that gave the core an input itself uses it to tell whether whoever
    /// drains the events must look now.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
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
    ///
    /// engine.io-protocol v4, "Protocol › Heartbeat" (`pingInterval`,
    /// `pingTimeout`) and "Protocol › Upgrade" (the reference's
    /// `upgradeTimeout`).
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
    /// reference server treats this as a transport error and closes
    /// (engine.io-protocol v4, "Transports › HTTP long-polling › Receiving
    /// data").
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
    ///
    /// engine.io-protocol v4, "Transports › HTTP long-polling › Sending
    /// data" (the answer is `ok`; one POST at a time) and "Packet encoding ›
    /// HTTP long-polling" (the body).
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
    /// [`handle_post`](Session::handle_post) would (engine.io-protocol v4,
    /// "Protocol › Handshake": `maxPayload`).
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
    ///
    /// engine.io-protocol v4, "Protocol › Upgrade": the client then sends
    /// `2probe`, answered `3probe`, then `5`.
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
    /// one being probed): engine.io-protocol v4, "Packet encoding ›
    /// WebSocket", one packet per frame.
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

    /// A binary frame arrived on the session's WebSocket: a binary MESSAGE
    /// (engine.io-protocol v4, "Packet encoding › WebSocket").
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
    /// probe it ends only the upgrade (engine.io-protocol v4, "Transports ›
    /// WebSocket", "Protocol › Upgrade").
    pub fn handle_ws_closed(&mut self, now: Instant, reason: CloseReason) {
        if self.transport == TransportKind::WebSocket {
            self.close_now(reason);
        } else if self.is_upgrading() {
            self.abort_upgrade(now);
        }
    }

    /// The next packet to write on the attached WebSocket: `3probe` during a
    /// probe, then (once on WebSocket) the queue, one packet per frame
    /// (engine.io-protocol v4, "Packet encoding › WebSocket").
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
        if matches!(packet, Packet::Close) {
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
mod tests;
