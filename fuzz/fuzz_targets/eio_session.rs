//! The Engine.IO session state machine (engine.io-protocol v4, "Protocol"
//! and "Transports"): one `Session` driven by a script of polling GETs and
//! POSTs, aborted GETs, the WebSocket upgrade, WebSocket frames and closes,
//! application sends and closes, and virtual-time steps (see
//! `src/eio_script.rs` for the input format).
//!
//! After every step the harness drains the outputs as the server driver
//! does (events, the pending GET's body, the `take_ws_close` signal; queued
//! WebSocket frames only on `WsFlush`, so slow readers are modelled) and
//! checks:
//! - no panic;
//! - the queued bytes never pass `max_buffered_bytes` (but for one message
//!   larger than the bound, taken by an empty queue), and `send` succeeds
//!   exactly when the message fits; at most one PING and one CLOSE wait
//!   beside the messages; a backlog nobody takes ends as a slow consumer
//!   within `stall_timeout`;
//! - a closed session stays closed: exactly one `Closed` event, the last
//!   one; no frame, no event, no deadline, nothing queued after it; at most
//!   the one final answer (`1` or `6`) to a GET pending when it closed;
//!   GETs and POSTs refused as an unknown sid;
//! - an open session always has a deadline, and a session whose client goes
//!   silent closes by following its deadlines alone;
//! - every GET body is a valid payload; once on WebSocket the session never
//!   goes back to polling, and `Upgraded` comes at most once.
//!
//! With the script's `eio3`, the session speaks Engine.IO v3
//! (`Session::with_protocol`; the client pings, the server answers PONG):
//! the same properties hold, GET bodies are v3 payloads (text or binary),
//! and at most one PONG waits beside the messages (no PING is ever queued).
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use siobridge::engineio::{
    CloseReason, Config, Data, Event, PollBody, PostError, ProbeRefused, Protocol,
    QUEUED_PACKET_OVERHEAD, Rejection, SendError, Session, Sid, SidGenerator, TransportKind,
};
use siobridge_fuzz::eio_script::{Script, Setup, Step};

/// Packets the session may queue on its own beyond the application's:
/// one PING (v3: one PONG) and one CLOSE.
const CONTROL_PACKETS: usize = 2;

/// Deadlines a silent client's session may pass through before it closes
/// (heartbeat, upgrade, closing).
const MAX_SILENT_DEADLINES: usize = 10;

fuzz_target!(|script: Script| {
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{script:#?}");
    }
    let mut h = Harness::new(&script.setup);
    for step in &script.steps {
        h.step(step);
        h.drain(matches!(step, Step::WsFlush));
        h.check();
    }
    h.client_goes_silent();
});

struct Harness {
    s: Session,
    now: Instant,
    max_buffered: usize,
    /// `Event::Closed` was seen.
    closed: bool,
    /// GET bodies taken after the session closed.
    replies_after_close: usize,
    upgraded: bool,
    on_websocket: bool,
    protocol: Protocol,
}

fn config(setup: &Setup) -> Config {
    Config::default()
        .with_heartbeat(Duration::from_millis(300), Duration::from_millis(200))
        .with_upgrade_timeout(Duration::from_millis(1000))
        .with_max_payload(setup.max_payload_bytes())
        .with_max_buffered_bytes(setup.max_buffered_bytes())
        .with_stall_timeout(Duration::from_millis(500))
}

fn sid() -> Sid {
    SidGenerator::new(Some([7; 32])).next_sid()
}

impl Harness {
    fn new(setup: &Setup) -> Harness {
        let transport = if setup.websocket {
            TransportKind::WebSocket
        } else {
            TransportKind::Polling
        };
        let now = Instant::now();
        let protocol = if setup.eio3 {
            Protocol::V3 { binary: !setup.b64 }
        } else {
            Protocol::V4
        };
        Harness {
            s: Session::new(now, sid(), transport, &config(setup)).with_protocol(protocol),
            protocol,
            now,
            max_buffered: setup.max_buffered_bytes(),
            closed: false,
            replies_after_close: 0,
            upgraded: false,
            on_websocket: setup.websocket,
        }
    }

    fn step(&mut self, step: &Step) {
        let was_closed = self.s.is_closed();
        let now = self.now;
        match step {
            Step::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(*ms));
                self.s.handle_timeout(self.now);
            }
            Step::Deadline => {
                if let Some(at) = self.s.poll_timeout() {
                    self.now = self.now.max(at);
                    self.s.handle_timeout(self.now);
                }
            }
            Step::Get => {
                let result = self.s.handle_poll(now);
                if was_closed {
                    assert_eq!(result, Err(Rejection::UnknownSid));
                }
            }
            Step::GetAborted => self.s.handle_poll_aborted(now),
            Step::Post(body) => {
                let result = self.s.handle_post(now, body);
                if was_closed {
                    assert_eq!(result, Err(PostError::Rejected(Rejection::UnknownSid)));
                }
            }
            Step::PostTooLarge => self.s.handle_post_too_large(now),
            Step::BeginUpgrade => {
                let was_upgrading = self.s.is_upgrading();
                let result = self.s.begin_upgrade(now);
                if was_closed {
                    assert_eq!(result, Err(ProbeRefused::Closed));
                } else if self.on_websocket {
                    // `Closed` while closing.
                    assert!(
                        matches!(
                            result,
                            Err(ProbeRefused::OnWebSocket | ProbeRefused::Closed)
                        ),
                        "{result:?}"
                    );
                } else if was_upgrading {
                    assert!(
                        matches!(result, Err(ProbeRefused::Upgrading | ProbeRefused::Closed)),
                        "{result:?}"
                    );
                }
            }
            Step::WsText(text) => self.s.handle_ws_text(now, text),
            Step::WsBinary(bytes) => self.s.handle_ws_binary(now, Bytes::from(bytes.clone())),
            Step::WsClosed => self.s.handle_ws_closed(now, CloseReason::TransportClose),
            Step::SendText(text) => self.send(Data::from(text.as_str())),
            Step::SendBinary(bytes) => self.send(Data::from(bytes.clone())),
            Step::Close => self.s.close(now),
            Step::Shutdown => self.s.shutdown(now),
            Step::WsFlush => {}
        }
    }

    fn send(&mut self, data: Data) {
        let data_had_separator = matches!(&data, Data::Text(t) if t.contains('\x1e'));
        let before = self.s.buffered_bytes();
        let cost = data.len() + QUEUED_PACKET_OVERHEAD;
        let fits = before == 0 || before + cost <= self.max_buffered;
        match self.s.send(data) {
            Ok(()) => {
                assert!(fits, "send over the bound");
                assert_eq!(self.s.buffered_bytes(), before + cost);
            }
            Err(SendError::Full) => assert!(!fits, "refused though it fits"),
            Err(SendError::NotWritable) => panic!("send is never refused as not writable"),
            Err(SendError::Closed) => {}
            Err(SendError::Unencodable) => {
                assert_eq!(self.protocol, Protocol::V4, "v3 payloads carry any text");
                assert_eq!(self.s.transport(), TransportKind::Polling);
                assert!(data_had_separator, "refused as unencodable");
            }
        }
        if self.closed {
            assert_eq!(self.s.send(Data::from("late")), Err(SendError::Closed));
        }
    }

    /// Takes the outputs as the server driver does after each input.
    fn drain(&mut self, flush_ws: bool) {
        while let Some(event) = self.s.poll_event() {
            assert!(!self.closed, "{event:?} after Closed");
            match event {
                Event::Closed(_) => self.closed = true,
                Event::Upgraded => {
                    assert!(!self.upgraded, "upgraded twice");
                    self.upgraded = true;
                }
                Event::Message(_) => {}
            }
        }
        let was_closed = self.s.is_closed();
        if let Some(body) = self.s.take_poll_body() {
            let final_answers = match self.protocol {
                Protocol::V4 => ["1", "6"],
                Protocol::V3 { .. } => ["1:1", "1:6"],
            };
            if was_closed {
                self.replies_after_close += 1;
                assert!(self.replies_after_close <= 1, "two GET answers after close");
                assert!(
                    matches!(&body, PollBody::Text(t) if final_answers.contains(&t.as_str())),
                    "final GET answer {body:?}"
                );
            }
            if self.protocol == Protocol::V4 {
                assert!(matches!(body, PollBody::Text(_)), "v4 bodies are text");
            }
            let bytes = body.clone().into_bytes();
            if let Err(e) = self.protocol.decode_payload(&bytes, usize::MAX) {
                panic!("GET body {body:?} is not a payload: {e:?}");
            }
        }
        if flush_ws {
            self.flush_ws();
        }
        let _ = self.s.take_ws_close();
        // Events the outputs above may have caused (a flushed CLOSE).
        while let Some(event) = self.s.poll_event() {
            assert!(!self.closed, "{event:?} after Closed");
            assert!(
                matches!(event, Event::Closed(_)),
                "{event:?} from an output"
            );
            self.closed = true;
        }
    }

    /// The WebSocket writes every queued frame.
    fn flush_ws(&mut self) {
        loop {
            let was_closed = self.s.is_closed();
            let Some(packet) = self.s.poll_ws_frame() else {
                return;
            };
            assert!(!was_closed, "frame {packet:?} after close");
        }
    }

    fn check(&mut self) {
        assert_eq!(
            self.s.is_closed(),
            self.closed,
            "is_closed and events disagree"
        );
        // Over the byte bound only by one message an empty queue took (the
        // OPEN packet may still wait beside it, with a PING and a CLOSE).
        assert!(
            self.s.buffered_bytes() <= self.max_buffered
                || self.s.buffered() <= 2 + CONTROL_PACKETS,
            "{} bytes in {} packets queued, bound {} bytes",
            self.s.buffered_bytes(),
            self.s.buffered(),
            self.max_buffered
        );
        assert!(
            self.s.buffered() <= self.max_buffered / QUEUED_PACKET_OVERHEAD + 2 + CONTROL_PACKETS,
            "{} packets queued for a bound of {} bytes",
            self.s.buffered(),
            self.max_buffered
        );
        let on_websocket = self.s.transport() == TransportKind::WebSocket;
        assert!(on_websocket || !self.on_websocket, "back to polling");
        self.on_websocket = on_websocket;
        if self.closed {
            assert_eq!(self.s.poll_timeout(), None, "deadline after close");
            assert_eq!(self.s.buffered(), 0, "queue kept after close");
            assert!(!self.s.is_upgrading());
            assert!(self.s.close_reason().is_some());
            assert_eq!(self.s.poll_ws_frame(), None, "frame after close");
        } else {
            assert!(
                self.s.poll_timeout().is_some(),
                "open session without deadline"
            );
        }
    }

    /// The client stops talking: following the deadlines alone, the session
    /// must end (a vanished client never leaves a session behind).
    fn client_goes_silent(&mut self) {
        for _ in 0..MAX_SILENT_DEADLINES {
            let Some(at) = self.s.poll_timeout() else {
                break;
            };
            self.now = self.now.max(at);
            self.s.handle_timeout(self.now);
            self.drain(true);
            self.check();
        }
        assert!(self.closed, "session still open after its deadlines");
    }
}
