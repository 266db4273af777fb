//! One Socket.IO client as a pure state machine: the sockets one Engine.IO
//! connection holds, driven like [`engineio::Session`](crate::engineio::Session).
//!
//! socket.io-protocol v5, "Exchange protocol": over one Engine.IO connection
//! a client connects to namespaces with CONNECT (answered CONNECT with the
//! socket id, or CONNECT_ERROR), exchanges EVENT and ACK (and their BINARY_
//! forms) in each, and leaves one with DISCONNECT. A [`Client`] is that
//! exchange for one connection, and nothing else: it owns no socket, no
//! lock, no task and no clock. Its caller (the application layer,
//! `crate::app`) feeds it what happened and pulls what to do:
//!
//! - **Input**: [`handle_message`](Client::handle_message) for each
//!   Engine.IO message of the connection, [`handle_close`](Client::handle_close)
//!   when the connection ended, [`handle_timeout`](Client::handle_timeout)
//!   at [`poll_timeout`](Client::poll_timeout), and the application's
//!   commands: [`accept`](Client::accept) or [`refuse`](Client::refuse) a
//!   CONNECT, [`send`](Client::send) a packet to a socket,
//!   [`send_with_ack`](Client::send_with_ack), [`disconnect`](Client::disconnect)
//!   a socket, [`drop_client`](Client::drop_client), [`close`](Client::close).
//! - **Output**, pulled after every input: [`poll_transmit`](Client::poll_transmit)
//!   until `None` (the Engine.IO messages to queue on the connection, or the
//!   order to close it), [`poll_event`](Client::poll_event) until `None` (what
//!   the application must hear: a CONNECT to decide, an event, an ack, a
//!   socket that left), and [`poll_timeout`](Client::poll_timeout) for when to
//!   call [`handle_timeout`](Client::handle_timeout) next.
//!
//! Time comes in as `now` arguments only, so every timer (the connect
//! timeout, each ack's deadline, the event rate limit) runs on a virtual
//! clock in tests and in the fuzzer.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::args::Args;
use super::binary::Decoder;
use super::config::{Config, Parser};
use super::encode::Encoded;
use super::msgpack;
use super::packet::{Packet, PacketType};
use super::parse::{self, DecodeError};
use super::rate::TokenBucket;
use super::v4::{self, Revision};
use crate::engineio::{CloseReason, Data};
use crate::id_hash::IdMap;

/// A refusal of a CONNECT: the client gets CONNECT_ERROR with
/// `{"message": message, "data": data}` (socket.io-protocol v5,
/// "CONNECT_ERROR"; socket.io-client's `err.message` and `err.data`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// Shown to the client as `err.message`.
    pub message: String,
    /// Shown to the client as `err.data`, when set.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message and no data.
    pub fn new(message: impl Into<String>) -> ConnectError {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds `data`.
    pub fn with_data(mut self, data: Value) -> ConnectError {
        self.data = Some(data);
        self
    }
}

/// Why a socket left its namespace: the reference server's reason strings
/// (socket.io's `DisconnectReason`), plus two limits of siobridge's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client sent DISCONNECT ("client namespace disconnect").
    ClientNamespaceDisconnect,
    /// The server disconnected the socket ("server namespace disconnect").
    ServerNamespaceDisconnect,
    /// The client sent an invalid packet, or a valid one in the wrong state
    /// ("parse error").
    ParseError,
    /// The client did not read fast enough and its queue filled up
    /// ("slow consumer"; not a reference reason: the Node server has no bound).
    SlowConsumer,
    /// The socket sent events faster than [`Config::event_rate_limit`]
    /// allows ("rate limited"; not a reference reason).
    RateLimited,
    /// The Engine.IO connection ended, with its reason ("transport close",
    /// "ping timeout", "transport error", "forced close", ...; never
    /// [`CloseReason::SlowConsumer`], which is [`DisconnectReason::SlowConsumer`]).
    Transport(CloseReason),
}

impl DisconnectReason {
    /// The reason as the reference server names it.
    pub fn as_str(&self) -> &str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::SlowConsumer => "slow consumer",
            DisconnectReason::RateLimited => "rate limited",
            DisconnectReason::Transport(reason) => reason.as_str(),
        }
    }

    /// The reason the sockets of a connection that ended with `reason` leave
    /// with.
    pub fn from_close(reason: CloseReason) -> DisconnectReason {
        match reason {
            CloseReason::SlowConsumer => DisconnectReason::SlowConsumer,
            other => DisconnectReason::Transport(other),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the connection must do, pulled with [`Client::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Queue this packet's messages on the connection, in order. When
    /// `volatile`, drop the whole packet instead if the connection cannot
    /// take its first message now; never drop a packet after its first
    /// message was queued (its attachments would be missing). A queue that
    /// is full for a packet that is not volatile makes the client a slow
    /// consumer: call [`Client::drop_client`] with
    /// [`DisconnectReason::SlowConsumer`].
    Packet {
        /// The packet, encoded.
        packet: Encoded,
        /// Whether the packet may be dropped.
        volatile: bool,
    },
    /// Close the connection (after what was transmitted before). Always the
    /// last transmit of a client.
    Close,
}

/// What the application must hear, pulled with [`Client::poll_event`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The client asks to join `namespace`: answer with
    /// [`Client::accept`], [`Client::refuse`] or [`Client::refuse_unknown`]
    /// (after running connect middleware, for instance). Until then the
    /// namespace counts against [`Config::max_namespaces_per_client`] and
    /// its packets other than CONNECT are out of place.
    Connect {
        /// The namespace, as the client wrote it (`/` for the main one).
        namespace: String,
        /// The CONNECT payload (`auth` in socket.io-client); `{}` when it
        /// is absent or not an object.
        auth: Value,
    },
    /// Socket `socket` sent event `name` (EVENT or BINARY_EVENT), asking for
    /// an ack when `ack` is set: answer it with [`Client::send`] of an
    /// [`ack_packet`](super::encode::ack_packet).
    Message {
        /// The socket id.
        socket: Arc<str>,
        /// Its namespace.
        namespace: Arc<str>,
        /// The event name.
        name: String,
        /// The arguments after the name, attachments put back in place of
        /// nothing: binary values are in `args.binary`, referred to by
        /// placeholders in `args.values()`.
        args: Args,
        /// The ack id the client waits on.
        ack: Option<u64>,
    },
    /// The client answered ack `ack` of socket `socket` (ACK or BINARY_ACK).
    Ack {
        /// The socket id.
        socket: Arc<str>,
        /// The ack id, as [`Client::send_with_ack`] gave it.
        ack: u64,
        /// The answer.
        args: Args,
    },
    /// Ack `ack` of socket `socket` passed its deadline unanswered; a late
    /// answer will be ignored, as the reference does.
    AckTimedOut {
        /// The socket id.
        socket: Arc<str>,
        /// The ack id.
        ack: u64,
    },
    /// Socket `socket` left its namespace, with `reason`; `unanswered` are
    /// the ids of its acks that were still awaited (they will never come).
    Disconnected {
        /// The socket id.
        socket: Arc<str>,
        /// Its namespace.
        namespace: Arc<str>,
        /// Why.
        reason: DisconnectReason,
        /// Its acks still awaited, in the order they were asked.
        unanswered: Vec<u64>,
    },
    /// The client ended: no socket is left and no input will change that.
    /// Told once, after the sockets' [`Disconnected`](Event::Disconnected).
    Closed {
        /// Why it ended.
        reason: DisconnectReason,
    },
}

/// One socket: a namespace this client joined.
#[derive(Debug)]
struct Slot {
    namespace: Arc<str>,
    id: Arc<str>,
    /// The next ack id to ask for (socket.io: per socket, from 0).
    next_ack: u64,
    /// The acks awaited, with their deadlines.
    acks: IdMap<u64, Option<Instant>>,
    /// The event budget, when [`Config::event_rate_limit`] is set.
    budget: Option<TokenBucket>,
}

impl Slot {
    /// Whether this is socket `id`. The application passes the very `Arc`
    /// the socket was accepted with, so the pointer usually answers without
    /// reading the id's bytes (one memory access fewer per receiver of a
    /// broadcast); the bytes decide otherwise.
    fn is(&self, id: &str) -> bool {
        std::ptr::eq(self.id.as_ptr(), id.as_ptr()) && self.id.len() == id.len() || *self.id == *id
    }
}

/// Where a client is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The connection is up.
    Open,
    /// The client asked its connection to close ([`Transmit::Close`]); its
    /// messages are ignored from now on.
    Closing,
    /// The client ended ([`Event::Closed`] told).
    Ended,
}

/// The Socket.IO state of one Engine.IO connection: its sockets, its acks,
/// its timers. See the [module documentation](self) for how to drive it.
pub struct Client {
    config: Arc<Config>,
    decoder: Decoder,
    /// The sockets, in the order they connected. A handful at most (capped
    /// by [`Config::max_namespaces_per_client`]), so a list.
    slots: Vec<Slot>,
    /// Namespaces whose CONNECT awaits [`accept`](Client::accept) or a
    /// refusal.
    connecting: Vec<String>,
    /// When the client is closed for joining no namespace.
    connect_deadline: Option<Instant>,
    /// Ack deadlines: when, socket id, ack id.
    ack_deadlines: BTreeSet<(Instant, Arc<str>, u64)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    phase: Phase,
    /// The client's protocol revision: v5, or v4 for socket.io 2.x clients
    /// ([`v4`]).
    revision: Revision,
    /// When the connection opened.
    opened: Instant,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("sockets", &self.slots.len())
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client whose connection opened at `now`: it has
    /// [`Config::connect_timeout`] to join a namespace.
    pub fn new(config: Arc<Config>, now: Instant) -> Client {
        let deadline = now + config.connect_timeout;
        Client {
            decoder: Decoder::new(config.limits.clone()),
            config,
            slots: Vec::new(),
            connecting: Vec::new(),
            connect_deadline: Some(deadline),
            ack_deadlines: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            phase: Phase::Open,
            revision: Revision::V5,
            opened: now,
        }
    }

    /// The same client speaking socket.io-protocol `revision`. A v4 client
    /// (socket.io 2.x) is in `/` as soon as its connection opens, so its
    /// [`Event::Connect`] for `/` is queued at once ([`v4::implicit_connect`]);
    /// its packets and the answers it gets follow [`v4`].
    pub fn with_revision(mut self, revision: Revision) -> Client {
        self.revision = revision;
        if let Some(connect) = v4::implicit_connect(revision) {
            self.on_packet(self.opened, connect);
        }
        self
    }

    /// The client's protocol revision.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    // ----- input ---------------------------------------------------------------

    /// One Engine.IO message of the connection arrived at `now`.
    ///
    /// A packet that does not decode, or that is out of place (CONNECT to a
    /// namespace already joined, anything but CONNECT to one not joined, a
    /// CONNECT_ERROR from the client), ends the client with
    /// [`DisconnectReason::ParseError`], as the reference does.
    pub fn handle_message(&mut self, now: Instant, data: Data) {
        if self.phase != Phase::Open {
            return;
        }
        let decoded = match (self.config.parser, data) {
            (Parser::Json, Data::Text(text)) => {
                // A plain EVENT or ACK keeps its arguments as text (v4
                // clients' namespaces need rewriting first: full path).
                if self.revision == Revision::V5
                    && !self.decoder.is_collecting()
                    && let Some(plain) = parse::decode_plain(&text, self.decoder.limits())
                {
                    self.on_plain(now, plain);
                    return;
                }
                self.decoder.decode_text(&text)
            }
            (Parser::Json, Data::Binary(bytes)) => self.decoder.decode_binary(bytes),
            (Parser::Msgpack, Data::Binary(bytes)) => {
                msgpack::decode(&bytes, self.decoder.limits()).map(Some)
            }
            // The msgpack decoder takes binary messages only.
            (Parser::Msgpack, Data::Text(_)) => Err(DecodeError::UnexpectedText),
        };
        match decoded {
            Ok(None) => {}
            Ok(Some(packet)) => {
                let packet = v4::inbound(self.revision, packet);
                self.on_packet(now, packet);
            }
            Err(_) => self.end(DisconnectReason::ParseError),
        }
    }

    /// The connection ended with `reason` (the Engine.IO session closed):
    /// every socket leaves with [`DisconnectReason::from_close`].
    pub fn handle_close(&mut self, reason: CloseReason) {
        if self.phase == Phase::Ended {
            return;
        }
        // The connection is gone: nothing more to transmit.
        self.transmits.clear();
        self.phase = Phase::Closing;
        self.end(DisconnectReason::from_close(reason));
    }

    /// Runs the timers due at `now`: the connect timeout (a client that
    /// joined no namespace is closed) and ack deadlines
    /// ([`Event::AckTimedOut`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, _, _)) = self.ack_deadlines.first() {
            if *at > now {
                break;
            }
            let Some((_, socket, ack)) = self.ack_deadlines.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.iter_mut().find(|s| s.id == socket)
                && slot.acks.remove(&ack).is_some()
            {
                push_exact(&mut self.events, Event::AckTimedOut { socket, ack });
            }
        }
        if let Some(deadline) = self.connect_deadline
            && deadline <= now
        {
            self.connect_deadline = None;
            if self.phase == Phase::Open && self.slots.is_empty() && self.connecting.is_empty() {
                push_exact(&mut self.transmits, Transmit::Close);
                self.phase = Phase::Closing;
            }
        }
    }

    // ----- the application's commands -----------------------------------------

    /// Accepts the CONNECT to `namespace` ([`Event::Connect`]) as socket
    /// `id`: the client gets CONNECT `{"sid": id}`, and the socket exists
    /// from now on. `false` (and nothing happens) when no such CONNECT is
    /// waiting or the client is closing.
    pub fn accept(&mut self, now: Instant, namespace: &str, id: Arc<str>) -> bool {
        self.accept_session(now, namespace, id, None)
    }

    /// [`accept`](Self::accept), with connection state recovery
    /// ([`recovery`](super::recovery)): the answer also carries the
    /// socket's private session id, `{"sid": id, "pid": pid}`, which the
    /// client sends back to recover the socket after a drop. Socket.IO v4
    /// clients have no recovery: they get their usual answer.
    pub fn accept_session(
        &mut self,
        now: Instant,
        namespace: &str,
        id: Arc<str>,
        pid: Option<&str>,
    ) -> bool {
        let Some(at) = self.connecting.iter().position(|n| n == namespace) else {
            return false;
        };
        self.connecting.swap_remove(at);
        if self.connecting.is_empty() {
            // Most clients connect once or twice: keep no buffer for it.
            self.connecting = Vec::new();
        }
        if self.phase != Phase::Open {
            return false;
        }
        let mut answer = v4::connect_answer(self.revision, namespace, &id);
        if let (Some(pid), Some(Value::Object(data))) = (pid, &mut answer.data) {
            data.insert("pid".to_owned(), Value::from(pid));
        }
        self.transmit(&answer);
        self.connect_deadline = None;
        self.slots.reserve_exact(1);
        self.slots.push(Slot {
            namespace: Arc::from(namespace),
            id,
            next_ack: 0,
            acks: IdMap::default(),
            budget: self
                .config
                .event_rate_limit
                .map(|limit| TokenBucket::new(limit, now)),
        });
        true
    }

    /// Refuses the CONNECT to `namespace` (a middleware said no): the client
    /// gets CONNECT_ERROR with `error` (in v4, its data or message:
    /// [`v4::refusal`]), and stays connected.
    pub fn refuse(&mut self, namespace: &str, error: &ConnectError) {
        let packet = v4::refusal(self.revision, namespace, &error.message, error.data.clone());
        self.answer_refusal(namespace, &packet);
    }

    /// Refuses the CONNECT to `namespace` because the server has no such
    /// namespace ("Invalid namespace", as the reference answers).
    pub fn refuse_unknown(&mut self, namespace: &str) {
        let packet = Packet::connect_error(namespace, "Invalid namespace", None);
        self.answer_refusal(namespace, &packet);
    }

    fn answer_refusal(&mut self, namespace: &str, packet: &Packet) {
        let Some(at) = self.connecting.iter().position(|n| n == namespace) else {
            return;
        };
        self.connecting.swap_remove(at);
        if self.phase == Phase::Open {
            self.transmit(packet);
        }
    }

    /// Queues `packet` for socket `socket`; `false` when this client has no
    /// such socket (it left) or is closing.
    pub fn send(&mut self, socket: &str, packet: Encoded, volatile: bool) -> bool {
        if self.phase != Phase::Open || !self.slots.iter().any(|s| s.is(socket)) {
            return false;
        }
        push_exact(&mut self.transmits, Transmit::Packet { packet, volatile });
        true
    }

    /// Queues `packet` for whichever of this client's sockets it is for,
    /// without the check [`send`](Self::send) makes: a broadcast the
    /// application resolved to one of them. `false` when the client is
    /// closing.
    pub fn send_resolved(&mut self, packet: Encoded, volatile: bool) -> bool {
        if self.phase != Phase::Open {
            return false;
        }
        push_exact(&mut self.transmits, Transmit::Packet { packet, volatile });
        true
    }

    /// Queues a packet for socket `socket` that asks for an ack: `encode`
    /// gets the ack id and returns the packet. The answer comes as
    /// [`Event::Ack`] with that id, or [`Event::AckTimedOut`] at `deadline`
    /// (`None`: no deadline), or the id is among the `unanswered` of the
    /// socket's [`Event::Disconnected`]. `None` when there is no such socket.
    pub fn send_with_ack(
        &mut self,
        socket: &str,
        deadline: Option<Instant>,
        volatile: bool,
        encode: impl FnOnce(u64) -> Encoded,
    ) -> Option<u64> {
        if self.phase != Phase::Open {
            return None;
        }
        let slot = self.slots.iter_mut().find(|s| s.is(socket))?;
        let ack = slot.next_ack;
        slot.next_ack += 1;
        slot.acks.insert(ack, deadline);
        if let Some(at) = deadline {
            self.ack_deadlines.insert((at, slot.id.clone(), ack));
        }
        let packet = encode(ack);
        push_exact(&mut self.transmits, Transmit::Packet { packet, volatile });
        Some(ack)
    }

    /// Makes socket `socket` leave its namespace: the client gets DISCONNECT
    /// ("io server disconnect") and the socket leaves with
    /// [`DisconnectReason::ServerNamespaceDisconnect`]. `false` when there is
    /// no such socket.
    pub fn disconnect(&mut self, socket: &str) -> bool {
        self.disconnect_with(socket, DisconnectReason::ServerNamespaceDisconnect)
    }

    /// Ends the client for `reason` (a slow consumer, found by the caller
    /// when the connection's queue was full): what was not transmitted yet
    /// is discarded (it could not be queued either), every socket leaves,
    /// and the connection is closed.
    pub fn drop_client(&mut self, reason: DisconnectReason) {
        if self.phase == Phase::Ended {
            return;
        }
        self.transmits.retain(|t| *t == Transmit::Close);
        self.end(reason);
    }

    /// Closes the connection (every namespace of the client); the sockets
    /// leave when it has closed ([`handle_close`](Self::handle_close)).
    pub fn close(&mut self) {
        if self.phase == Phase::Open {
            push_exact(&mut self.transmits, Transmit::Close);
            self.phase = Phase::Closing;
        }
    }

    // ----- output --------------------------------------------------------------

    /// The next thing to do on the connection. Call after every input until
    /// `None`; do what each says in order.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next thing the application must hear. Call after every input
    /// until `None`.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many transmits wait to be pulled: a caller that pulls them later
    /// (after a batch) bounds what it lets accumulate with this.
    pub fn transmits_queued(&self) -> usize {
        self.transmits.len()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next, if ever.
    /// Call again after every input: a new ack or a connect changes it.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ack = self.ack_deadlines.first().map(|(at, _, _)| *at);
        let connect = self.connect_deadline.filter(|_| self.phase == Phase::Open);
        match (ack, connect) {
            (Some(a), Some(c)) => Some(a.min(c)),
            (a, c) => a.or(c),
        }
    }

    // ----- state ---------------------------------------------------------------

    /// The id of this client's socket in `namespace`, if it joined it.
    pub fn socket_id(&self, namespace: &str) -> Option<&Arc<str>> {
        self.slots
            .iter()
            .find(|s| &*s.namespace == namespace)
            .map(|s| &s.id)
    }

    /// The client's sockets: (namespace, socket id), in the order they
    /// connected.
    pub fn sockets(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<str>)> {
        self.slots.iter().map(|s| (&s.namespace, &s.id))
    }

    /// Whether the client ended ([`Event::Closed`] was queued): drop it once
    /// its events are drained.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Whether the connection is closing or closed: packets are no longer
    /// taken.
    pub fn is_closed(&self) -> bool {
        self.phase != Phase::Open
    }

    // ----- internals -----------------------------------------------------------

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        let joined = self
            .slots
            .iter()
            .position(|s| *s.namespace == *packet.namespace);
        match (packet.kind, joined) {
            (PacketType::Connect, None) if !self.connecting.contains(&packet.namespace) => {
                if self.slots.len() + self.connecting.len() >= self.config.max_namespaces_per_client
                {
                    let refusal =
                        Packet::connect_error(&packet.namespace, "Too many namespaces", None);
                    self.transmit(&refusal);
                    return;
                }
                let auth = match packet.data {
                    Some(Value::Object(map)) => Value::Object(map),
                    _ => json!({}),
                };
                self.connecting.push(packet.namespace.clone());
                push_exact(
                    &mut self.events,
                    Event::Connect {
                        namespace: packet.namespace,
                        auth,
                    },
                );
            }
            (PacketType::Disconnect, Some(at)) => {
                let slot = self.slots.remove(at);
                self.left(slot, DisconnectReason::ClientNamespaceDisconnect);
            }
            (PacketType::Event | PacketType::BinaryEvent, Some(at)) => {
                let mut values = match packet.data {
                    Some(Value::Array(values)) => values,
                    _ => Vec::new(),
                };
                if values.is_empty() {
                    return;
                }
                // The decoder checked the array starts with a name (a
                // string, or a number as the reference allows).
                let name = match values.remove(0) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let args = Args::from_parts(values, packet.attachments);
                self.on_event(now, at, name, args, packet.ack_id);
            }
            (PacketType::Ack | PacketType::BinaryAck, Some(at)) => {
                let values = match packet.data {
                    Some(Value::Array(values)) => values,
                    _ => Vec::new(),
                };
                let args = Args::from_parts(values, packet.attachments);
                self.on_ack(at, packet.ack_id, args);
            }
            // A second CONNECT while the first waits is ignored (the
            // reference handles the first one only).
            (PacketType::Connect, None) => {}
            // CONNECT on a joined namespace, anything but CONNECT on one
            // that is not, and CONNECT_ERROR from a client: the reference
            // closes the connection.
            _ => self.end(DisconnectReason::ParseError),
        }
    }

    /// A plain EVENT or ACK, its arguments kept as text
    /// ([`parse::decode_plain`]): what [`on_packet`](Self::on_packet) does
    /// with the same packet decoded in full.
    fn on_plain(&mut self, now: Instant, plain: parse::Plain<'_>) {
        let Some(at) = self
            .slots
            .iter()
            .position(|s| *s.namespace == *plain.namespace)
        else {
            // Anything but CONNECT on a namespace not joined.
            self.end(DisconnectReason::ParseError);
            return;
        };
        match plain.name {
            Some(name) => self.on_event(now, at, name, plain.args, plain.ack_id),
            None => self.on_ack(at, plain.ack_id, plain.args),
        }
    }

    /// Event `name` for the socket in slot `at`, asking for ack `ack` if
    /// set; a socket over its rate budget is disconnected instead.
    fn on_event(&mut self, now: Instant, at: usize, name: String, args: Args, ack: Option<u64>) {
        let slot = &mut self.slots[at];
        if let Some(budget) = &mut slot.budget
            && !budget.take(now)
        {
            let id = slot.id.clone();
            self.disconnect_with(&id, DisconnectReason::RateLimited);
            return;
        }
        push_exact(
            &mut self.events,
            Event::Message {
                socket: slot.id.clone(),
                namespace: slot.namespace.clone(),
                name,
                args,
                ack,
            },
        );
    }

    /// The client's answer `args` to ack `ack` of the socket in slot `at`.
    fn on_ack(&mut self, at: usize, ack: Option<u64>, args: Args) {
        let slot = &mut self.slots[at];
        let Some(ack) = ack else {
            return;
        };
        // An unknown or late ack is ignored, as the reference does.
        let Some(deadline) = slot.acks.remove(&ack) else {
            return;
        };
        if let Some(at) = deadline {
            self.ack_deadlines.remove(&(at, slot.id.clone(), ack));
        }
        push_exact(
            &mut self.events,
            Event::Ack {
                socket: slot.id.clone(),
                ack,
                args,
            },
        );
    }

    /// Sends DISCONNECT to socket `socket` and lets it leave for `reason`.
    fn disconnect_with(&mut self, socket: &str, reason: DisconnectReason) -> bool {
        let Some(at) = self.slots.iter().position(|s| s.is(socket)) else {
            return false;
        };
        let slot = self.slots.remove(at);
        if self.phase == Phase::Open {
            self.transmit(&Packet::disconnect(&*slot.namespace));
        }
        self.left(slot, reason);
        true
    }

    /// Tells that `slot` left, with the acks it still awaited.
    fn left(&mut self, slot: Slot, reason: DisconnectReason) {
        let mut unanswered: Vec<(u64, Option<Instant>)> = slot.acks.into_iter().collect();
        unanswered.sort_unstable_by_key(|(ack, _)| *ack);
        for (ack, deadline) in &unanswered {
            if let Some(at) = deadline {
                self.ack_deadlines.remove(&(*at, slot.id.clone(), *ack));
            }
        }
        push_exact(
            &mut self.events,
            Event::Disconnected {
                socket: slot.id,
                namespace: slot.namespace,
                reason,
                unanswered: unanswered.into_iter().map(|(ack, _)| ack).collect(),
            },
        );
    }

    /// Ends the client: every socket leaves for `reason`, the connection is
    /// closed (unless it already is), and [`Event::Closed`] is told.
    fn end(&mut self, reason: DisconnectReason) {
        if self.phase == Phase::Ended {
            return;
        }
        for slot in std::mem::take(&mut self.slots) {
            self.left(slot, reason.clone());
        }
        self.connecting.clear();
        self.connect_deadline = None;
        if self.phase == Phase::Open {
            push_exact(&mut self.transmits, Transmit::Close);
        }
        self.phase = Phase::Ended;
        push_exact(&mut self.events, Event::Closed { reason });
    }

    fn transmit(&mut self, packet: &Packet) {
        let packet = Encoded::new(self.config.parser, packet);
        push_exact(
            &mut self.transmits,
            Transmit::Packet {
                packet,
                volatile: false,
            },
        );
    }
}

/// Pushes onto a queue that, when it has no buffer yet, gets room for one
/// element only: an idle client's queues hold one event and one transmit in
/// their whole life (its CONNECT), and the default first allocation (four
/// elements) would be kept by every idle connection. A busy queue grows as
/// usual.
fn push_exact<T>(queue: &mut VecDeque<T>, value: T) {
    if queue.capacity() == 0 {
        queue.reserve_exact(1);
    }
    queue.push_back(value);
}

#[cfg(test)]
mod tests;
