//! The Socket.IO client machine (socket.io-protocol v5, "Exchange
//! protocol"): one `socketio::Client` driven directly by a script of its
//! connection's messages, the application's commands and virtual time (see
//! `src/client_script.rs`), checked step by step against a model of what it
//! may do.
//!
//! Checks:
//! - no panic;
//! - every transmit decodes as a Socket.IO packet, and a CONNECT answer
//!   leaves only for a namespace the application accepted; nothing is
//!   transmitted after the connection was told to close, nor after it ended;
//! - every event is one the model allows: a CONNECT for a namespace neither
//!   joined nor waiting, a message or ack only for a socket that exists, an
//!   ack only if it was asked and not yet answered, an ack timeout only at
//!   or after its deadline, a socket's `Disconnected` once with exactly its
//!   unanswered acks, `Closed` once and last;
//! - the commands answer as the model says (accept, send, send_with_ack's
//!   ack ids counting from 0 per socket, disconnect);
//! - `poll_timeout` is exactly the model's next deadline, and running the
//!   timers at it makes progress (no timer that never fires);
//! - when the connection finally ends, every socket leaves, the client ends
//!   and no timer is left.
#![no_main]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use siobridge::engineio::{CloseReason, Data};
use siobridge::socketio::encode::event_packet;
use siobridge::socketio::{
    Args, Client, Config, ConnectError, Decoder, Encoded, Event, Limits, PacketType, Parser,
    Transmit, msgpack,
};
use siobridge_fuzz::client_script::{NAMESPACES, Script, Step};

fuzz_target!(|script: Script| {
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{script:#?}");
    }
    let mut h = Harness::new(script.setup);
    for step in &script.steps {
        h.step(step);
        h.drain();
        h.check_timeout();
    }
    h.finish();
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Closing,
    Ended,
}

/// A socket, as the model knows it.
struct Socket {
    id: Arc<str>,
    next_ack: u64,
    /// Acks asked and not answered: id → deadline.
    acks: BTreeMap<u64, Option<Instant>>,
}

struct Harness {
    client: Client,
    parser: Parser,
    t0: Instant,
    now: Instant,
    phase: Phase,
    sockets: HashMap<String, Socket>,
    /// CONNECTs told and not answered.
    connecting: HashSet<String>,
    /// Namespaces accepted whose CONNECT answer has not been seen yet.
    answers_due: Vec<String>,
    connect_deadline: Option<Instant>,
    /// The client's view of what was transmitted.
    decoder: Decoder,
    close_transmitted: bool,
    ids: u32,
}

impl Harness {
    fn new(setup: u8) -> Harness {
        let mut config = Config::default();
        if setup & 1 == 1 {
            config = config.with_parser(Parser::Msgpack);
        }
        if setup & 2 == 2 {
            config = config.with_event_rate_limit(2, 2);
        }
        if setup & 4 == 4 {
            config = config.with_max_namespaces_per_client(2);
        }
        let parser = config.parser;
        let timeout = config.connect_timeout;
        let t0 = Instant::now();
        Harness {
            client: Client::new(Arc::new(config), t0),
            parser,
            t0,
            now: t0,
            phase: Phase::Open,
            sockets: HashMap::new(),
            connecting: HashSet::new(),
            answers_due: Vec::new(),
            connect_deadline: Some(t0 + timeout),
            decoder: Decoder::new(generous()),
            close_transmitted: false,
            ids: 0,
        }
    }

    fn step(&mut self, step: &Step) {
        let ns = |n: &u8| NAMESPACES[usize::from(*n) % NAMESPACES.len()];
        match step {
            Step::Text(text) => self
                .client
                .handle_message(self.now, Data::from(text.as_str())),
            Step::Binary(bytes) => self
                .client
                .handle_message(self.now, Data::Binary(bytes.clone().into())),
            Step::Accept(n) => {
                let ns = ns(n);
                self.ids += 1;
                let id: Arc<str> = Arc::from(format!("s{}", self.ids).as_str());
                let waiting = self.connecting.remove(ns);
                let expected = waiting && self.phase == Phase::Open;
                let accepted = self.client.accept(self.now, ns, id.clone());
                assert_eq!(accepted, expected, "accept {ns}");
                if accepted {
                    self.connect_deadline = None;
                    self.answers_due.push(ns.to_owned());
                    let socket = Socket {
                        id,
                        next_ack: 0,
                        acks: BTreeMap::new(),
                    };
                    assert!(self.sockets.insert(ns.to_owned(), socket).is_none());
                }
            }
            Step::Refuse(n) => {
                let ns = ns(n);
                self.connecting.remove(ns);
                if n % 2 == 1 {
                    self.client.refuse_unknown(ns);
                } else {
                    self.client.refuse(ns, &ConnectError::new("no"));
                }
            }
            Step::Send { ns: n, volatile } => {
                let ns = ns(n);
                let packet = self.event(ns, None);
                let id = self.sockets.get(ns).map(|s| s.id.clone());
                let sent = match &id {
                    Some(id) => self.client.send(id, packet, *volatile),
                    None => self.client.send("nobody", packet, *volatile),
                };
                assert_eq!(sent, id.is_some() && self.phase == Phase::Open, "send");
            }
            Step::SendWithAck { ns: n, ms } => {
                let ns = ns(n);
                let deadline = (*ms > 0).then(|| self.now + Duration::from_millis(u64::from(*ms)));
                let parser = self.parser;
                let open = self.phase == Phase::Open;
                let id = self.sockets.get(ns).map(|s| s.id.clone());
                let asked = self.client.send_with_ack(
                    id.as_deref().unwrap_or("nobody"),
                    deadline,
                    false,
                    |ack| Encoded::new(parser, &event_packet(ns, "q", Args::new(), Some(ack))),
                );
                match self.sockets.get_mut(ns).filter(|_| open) {
                    Some(socket) => {
                        assert_eq!(asked, Some(socket.next_ack), "ack ids count up from 0");
                        socket.acks.insert(socket.next_ack, deadline);
                        socket.next_ack += 1;
                    }
                    None => assert_eq!(asked, None),
                }
            }
            Step::Disconnect(n) => {
                let ns = ns(n);
                let id = self.sockets.get(ns).map(|s| s.id.clone());
                let done = self.client.disconnect(id.as_deref().unwrap_or("nobody"));
                assert_eq!(done, id.is_some(), "disconnect");
            }
            Step::DropClient => {
                // What was not transmitted yet is discarded.
                self.answers_due.clear();
                self.client
                    .drop_client(siobridge::socketio::DisconnectReason::SlowConsumer);
            }
            Step::Close => {
                self.client.close();
                if self.phase == Phase::Open {
                    self.phase = Phase::Closing;
                }
            }
            Step::ConnectionClosed => {
                self.answers_due.clear();
                self.client.handle_close(CloseReason::TransportClose);
                if self.phase == Phase::Open {
                    self.phase = Phase::Closing;
                }
                // Nothing goes to a closed connection.
                self.close_transmitted = true;
            }
            Step::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(*ms));
                self.client.handle_timeout(self.now);
                self.timers_ran();
            }
            Step::Deadline => {
                if let Some(at) = self.client.poll_timeout() {
                    assert!(at >= self.now, "a deadline in the past");
                    self.now = at;
                    self.client.handle_timeout(at);
                    self.timers_ran();
                    self.drain();
                    if let Some(next) = self.client.poll_timeout() {
                        assert!(next > at, "the timer at {at:?} did not fire");
                    }
                }
            }
        }
    }

    /// Model side of `handle_timeout(now)`: the connect timeout.
    fn timers_ran(&mut self) {
        if let Some(deadline) = self.connect_deadline
            && deadline <= self.now
        {
            self.connect_deadline = None;
            if self.phase == Phase::Open && self.sockets.is_empty() && self.connecting.is_empty() {
                self.phase = Phase::Closing;
            }
        }
    }

    fn event(&self, ns: &str, ack: Option<u64>) -> Encoded {
        Encoded::new(self.parser, &event_packet(ns, "e", Args::new(), ack))
    }

    /// Pulls every output and checks it against the model.
    fn drain(&mut self) {
        while let Some(transmit) = self.client.poll_transmit() {
            assert!(!self.close_transmitted, "{transmit:?} after the close");
            match transmit {
                Transmit::Close => self.close_transmitted = true,
                Transmit::Packet { packet, .. } => {
                    for message in packet.messages() {
                        self.read(message.clone());
                    }
                }
            }
        }
        while let Some(event) = self.client.poll_event() {
            assert_ne!(self.phase, Phase::Ended, "{event:?} after Closed");
            self.on_event(event);
        }
    }

    /// The client's side: what was transmitted decodes, and a CONNECT
    /// answer is one the application gave.
    fn read(&mut self, message: Data) {
        let packet = match (self.parser, message) {
            (Parser::Msgpack, Data::Binary(b)) => msgpack::decode(&b, &generous()).ok(),
            (Parser::Json, Data::Text(t)) => self.decoder.decode_text(&t).expect("well formed"),
            (Parser::Json, Data::Binary(b)) => self.decoder.decode_binary(b).expect("well formed"),
            (Parser::Msgpack, Data::Text(t)) => panic!("text {t:?} with the msgpack parser"),
        };
        let Some(packet) = packet else {
            assert_eq!(self.parser, Parser::Json, "msgpack that does not decode");
            return;
        };
        if packet.kind == PacketType::Connect {
            let at = self
                .answers_due
                .iter()
                .position(|n| *n == packet.namespace)
                .expect("a CONNECT answer nobody accepted");
            self.answers_due.remove(at);
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connect { namespace, .. } => {
                assert!(!self.sockets.contains_key(&namespace), "CONNECT told twice");
                assert!(
                    self.connecting.insert(namespace),
                    "CONNECT told while waiting"
                );
            }
            Event::Message {
                socket, namespace, ..
            } => {
                let s = self.sockets.get(&*namespace).expect("message on no socket");
                assert_eq!(s.id, socket);
            }
            Event::Ack { socket, ack, .. } => {
                let s = self.by_id(&socket);
                assert!(s.acks.remove(&ack).is_some(), "ack {ack} never asked");
            }
            Event::AckTimedOut { socket, ack } => {
                let now = self.now;
                let s = self.by_id(&socket);
                let deadline = s
                    .acks
                    .remove(&ack)
                    .expect("timeout of an ack not waited for");
                assert!(deadline.is_some_and(|d| d <= now), "timed out early");
            }
            Event::Disconnected {
                socket,
                namespace,
                unanswered,
                ..
            } => {
                let s = self.sockets.remove(&*namespace).expect("no such socket");
                assert_eq!(s.id, socket);
                let expected: Vec<u64> = s.acks.keys().copied().collect();
                assert_eq!(unanswered, expected, "unanswered acks");
                self.answers_due.retain(|n| *n != *namespace);
            }
            Event::Closed { .. } => {
                assert!(self.sockets.is_empty(), "Closed with sockets left");
                self.phase = Phase::Ended;
                self.connecting.clear();
                self.connect_deadline = None;
            }
        }
    }

    fn by_id(&mut self, id: &str) -> &mut Socket {
        self.sockets
            .values_mut()
            .find(|s| &*s.id == id)
            .expect("an event of a socket that does not exist")
    }

    /// `poll_timeout` is the model's next deadline.
    fn check_timeout(&self) {
        let acks = self
            .sockets
            .values()
            .flat_map(|s| s.acks.values().flatten().copied());
        let connect = self.connect_deadline.filter(|_| self.phase == Phase::Open);
        let expected = acks.chain(connect).min();
        assert_eq!(
            self.client.poll_timeout().map(|t| t - self.t0),
            expected.map(|t| t - self.t0),
            "poll_timeout"
        );
        assert_eq!(self.client.is_ended(), self.phase == Phase::Ended);
    }

    fn finish(mut self) {
        self.client.handle_close(CloseReason::TransportClose);
        self.close_transmitted = true;
        self.drain();
        assert_eq!(self.phase, Phase::Ended, "the client did not end");
        assert!(self.sockets.is_empty());
        assert_eq!(
            self.client.poll_timeout(),
            None,
            "a timer outlived the client"
        );
    }
}

/// The client's decoder limits: the server echoes within its own.
fn generous() -> Limits {
    Limits::default()
}
