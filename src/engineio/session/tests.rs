//! Unit tests of the Engine.IO session state machine, on a virtual clock.

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
