//! The client machine on a virtual clock: every input, every output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::socketio::encode::{ack_packet, event_packet};

fn client(config: Config) -> (Client, Instant) {
    let t0 = Instant::now();
    (Client::new(Arc::new(config), t0), t0)
}

fn text(s: &str) -> Data {
    Data::from(s)
}

/// Every transmit, as the text of its messages (binary as `<n bytes>`).
fn transmits(c: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(t) = c.poll_transmit() {
        match t {
            Transmit::Close => out.push("close".to_owned()),
            Transmit::Packet { packet, .. } => {
                for m in packet.messages() {
                    out.push(match m {
                        Data::Text(t) => t.as_str().to_owned(),
                        Data::Binary(b) => format!("<{} bytes>", b.len()),
                    });
                }
            }
        }
    }
    out
}

fn events(c: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Connects `/` as socket `id`.
fn joined(c: &mut Client, now: Instant, id: &str) {
    c.handle_message(now, text("0"));
    assert_eq!(
        events(c),
        vec![Event::Connect {
            namespace: "/".into(),
            auth: json!({})
        }]
    );
    assert!(c.accept(now, "/", Arc::from(id)));
    assert_eq!(transmits(c), vec![format!(r#"0{{"sid":"{id}"}}"#)]);
}

#[test]
fn a_connect_is_told_with_its_auth_then_answered_with_the_socket_id() {
    let (mut c, t0) = client(Config::default());
    c.handle_message(t0, text(r#"0/chat,{"token":"x"}"#));
    assert_eq!(
        events(&mut c),
        vec![Event::Connect {
            namespace: "/chat".into(),
            auth: json!({"token": "x"})
        }]
    );
    assert!(
        transmits(&mut c).is_empty(),
        "nothing is sent before the answer"
    );
    assert!(c.accept(t0, "/chat", Arc::from("abc")));
    assert_eq!(transmits(&mut c), vec![r#"0/chat,{"sid":"abc"}"#]);
    assert_eq!(c.socket_id("/chat").map(|s| &**s), Some("abc"));
    assert!(
        !c.accept(t0, "/chat", Arc::from("again")),
        "one answer per CONNECT"
    );
}

#[test]
fn a_refused_or_unknown_namespace_gets_connect_error_and_the_client_stays() {
    let (mut c, t0) = client(Config::default());
    c.handle_message(t0, text("0/admin,"));
    c.handle_message(t0, text("0/nope,"));
    events(&mut c);
    c.refuse(
        "/admin",
        &ConnectError::new("not allowed").with_data(json!({"code": 3})),
    );
    c.refuse_unknown("/nope");
    assert_eq!(
        transmits(&mut c),
        vec![
            r#"4/admin,{"data":{"code":3},"message":"not allowed"}"#,
            r#"4/nope,{"message":"Invalid namespace"}"#,
        ]
    );
    assert!(!c.is_closed());
    // It may try again.
    c.handle_message(t0, text("0/admin,"));
    assert_eq!(events(&mut c).len(), 1);
}

#[test]
fn namespaces_per_client_are_capped_counting_those_connecting() {
    let (mut c, t0) = client(Config::default().with_max_namespaces_per_client(2));
    joined(&mut c, t0, "a");
    c.handle_message(t0, text("0/b,"));
    c.handle_message(t0, text("0/c,"));
    assert_eq!(events(&mut c).len(), 1, "only /b is told");
    assert_eq!(
        transmits(&mut c),
        vec![r#"4/c,{"message":"Too many namespaces"}"#]
    );
}

#[test]
fn events_are_told_with_their_ack_id_and_answered_by_the_application() {
    let (mut c, t0) = client(Config::default());
    joined(&mut c, t0, "s1");
    c.handle_message(t0, text(r#"25["echo",1,{"a":2}]"#));
    let [
        Event::Message {
            socket,
            namespace,
            name,
            args,
            ack,
        },
    ] = &events(&mut c)[..]
    else {
        panic!("one message expected");
    };
    assert_eq!(
        (&**socket, &**namespace, name.as_str(), *ack),
        ("s1", "/", "echo", Some(5))
    );
    assert_eq!(args.values(), vec![json!(1), json!({"a": 2})]);
    let answer = Encoded::new(Parser::Json, &ack_packet("/", 5, args.clone()));
    assert!(c.send("s1", answer, false));
    assert_eq!(transmits(&mut c), vec![r#"35[1,{"a":2}]"#]);
}

#[test]
fn a_binary_event_is_told_once_its_attachments_came() {
    let (mut c, t0) = client(Config::default());
    joined(&mut c, t0, "s1");
    c.handle_message(t0, text(r#"51-["file",{"_placeholder":true,"num":0}]"#));
    assert!(events(&mut c).is_empty());
    c.handle_message(t0, Data::Binary(Bytes::from_static(b"\x01\x02\x03")));
    let [Event::Message { name, args, .. }] = &events(&mut c)[..] else {
        panic!("one message expected");
    };
    assert_eq!(name, "file");
    assert_eq!(args.binary, vec![Bytes::from_static(b"\x01\x02\x03")]);
}

#[test]
fn an_ack_comes_back_or_times_out_on_the_virtual_clock() {
    let (mut c, t0) = client(Config::default());
    joined(&mut c, t0, "s1");
    let deadline = t0 + Duration::from_millis(500);
    let encode = |id| Encoded::new(Parser::Json, &event_packet("/", "q", Args::new(), Some(id)));
    assert_eq!(
        c.send_with_ack("s1", Some(deadline), false, encode),
        Some(0)
    );
    assert_eq!(
        c.send_with_ack("s1", Some(deadline), false, encode),
        Some(1)
    );
    assert_eq!(transmits(&mut c), vec![r#"20["q"]"#, r#"21["q"]"#]);
    assert_eq!(c.poll_timeout(), Some(deadline));
    c.handle_message(t0, text("30[\"yes\"]"));
    assert_eq!(
        events(&mut c),
        vec![Event::Ack {
            socket: Arc::from("s1"),
            ack: 0,
            args: Args::from(vec![json!("yes")]),
        }]
    );
    c.handle_timeout(deadline - Duration::from_millis(1));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(deadline);
    assert_eq!(
        events(&mut c),
        vec![Event::AckTimedOut {
            socket: Arc::from("s1"),
            ack: 1
        }]
    );
    assert_eq!(c.poll_timeout(), None);
    // A late answer is ignored, as is an ack never asked for.
    c.handle_message(t0, text("31[]"));
    c.handle_message(t0, text("39[]"));
    assert!(events(&mut c).is_empty());
    assert!(!c.is_closed());
}

#[test]
fn a_client_that_joins_no_namespace_is_closed_at_the_connect_timeout() {
    let (mut c, t0) = client(Config::default());
    let deadline = t0 + Duration::from_secs(45);
    assert_eq!(c.poll_timeout(), Some(deadline));
    c.handle_timeout(deadline - Duration::from_millis(1));
    assert!(transmits(&mut c).is_empty());
    c.handle_timeout(deadline);
    assert_eq!(transmits(&mut c), vec!["close"]);
    assert!(c.is_closed() && !c.is_ended());
    c.handle_close(CloseReason::ForcedClose);
    assert_eq!(
        events(&mut c),
        vec![Event::Closed {
            reason: DisconnectReason::Transport(CloseReason::ForcedClose)
        }]
    );
    assert!(c.is_ended());

    // A client that joined in time is not closed.
    let (mut c, t0) = client(Config::default());
    joined(&mut c, t0, "s1");
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(t0 + Duration::from_secs(60));
    assert!(transmits(&mut c).is_empty());
}

#[test]
fn a_malformed_or_out_of_place_packet_ends_the_client_with_parse_error() {
    for (input, joined_first) in [
        ("9", false),
        (r#"2["no namespace joined"]"#, false),
        ("0", true),
        (r#"4{"message":"from a client"}"#, true),
    ] {
        let (mut c, t0) = client(Config::default());
        if joined_first {
            joined(&mut c, t0, "s1");
        }
        c.handle_message(t0, text(input));
        assert_eq!(transmits(&mut c), vec!["close"], "{input}");
        let mut expected = Vec::new();
        if joined_first {
            expected.push(Event::Disconnected {
                socket: Arc::from("s1"),
                namespace: Arc::from("/"),
                reason: DisconnectReason::ParseError,
                unanswered: vec![],
            });
        }
        expected.push(Event::Closed {
            reason: DisconnectReason::ParseError,
        });
        assert_eq!(events(&mut c), expected, "{input}");
        // Nothing more is taken.
        c.handle_message(t0, text("0"));
        assert!(events(&mut c).is_empty());
    }
}

#[test]
fn a_socket_that_leaves_tells_its_unanswered_acks() {
    let (mut c, t0) = client(Config::default());
    joined(&mut c, t0, "s1");
    let encode = |id| Encoded::new(Parser::Json, &event_packet("/", "q", Args::new(), Some(id)));
    c.send_with_ack("s1", Some(t0 + Duration::from_secs(1)), false, encode);
    c.send_with_ack("s1", None, false, encode);
    transmits(&mut c);
    c.handle_message(t0, text("1"));
    assert_eq!(
        events(&mut c),
        vec![Event::Disconnected {
            socket: Arc::from("s1"),
            namespace: Arc::from("/"),
            reason: DisconnectReason::ClientNamespaceDisconnect,
            unanswered: vec![0, 1],
        }]
    );
    assert_eq!(c.poll_timeout(), None, "its deadlines went with it");
    assert!(!c.send(
        "s1",
        Encoded::new(Parser::Json, &Packet::disconnect("/")),
        false
    ));
    // The server may disconnect a socket too.
    c.handle_message(t0, text("0"));
    events(&mut c);
    c.accept(t0, "/", Arc::from("s2"));
    transmits(&mut c);
    assert!(c.disconnect("s2"));
    assert_eq!(transmits(&mut c), vec!["1"]);
    assert!(matches!(
        &events(&mut c)[..],
        [Event::Disconnected {
            reason: DisconnectReason::ServerNamespaceDisconnect,
            ..
        }]
    ));
}

#[test]
fn the_connection_ending_ends_every_socket_with_its_reason() {
    let (mut c, t0) = client(Config::default());
    joined(&mut c, t0, "s1");
    c.handle_message(t0, text("0/chat,"));
    events(&mut c);
    c.accept(t0, "/chat", Arc::from("s2"));
    c.handle_close(CloseReason::SlowConsumer);
    assert!(
        transmits(&mut c).is_empty(),
        "nothing goes to a closed connection"
    );
    let reasons: Vec<_> = events(&mut c)
        .into_iter()
        .map(|e| match e {
            Event::Disconnected { socket, reason, .. } => format!("{socket}: {reason}"),
            Event::Closed { reason } => format!("closed: {reason}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            "s1: slow consumer",
            "s2: slow consumer",
            "closed: slow consumer"
        ]
    );
}

#[test]
fn a_slow_consumer_dropped_by_the_caller_is_closed() {
    let (mut c, t0) = client(Config::default());
    joined(&mut c, t0, "s1");
    let packet = Encoded::new(Parser::Json, &event_packet("/", "e", Args::new(), None));
    assert!(c.send("s1", packet, false));
    c.drop_client(DisconnectReason::SlowConsumer);
    assert_eq!(
        transmits(&mut c),
        vec!["close"],
        "what could not be queued is gone"
    );
    assert_eq!(events(&mut c).len(), 2);
    assert!(c.is_ended());
    // The engine's close that follows changes nothing.
    c.handle_close(CloseReason::ForcedClose);
    assert!(events(&mut c).is_empty());
}

#[test]
fn the_event_rate_limit_disconnects_the_socket_on_the_virtual_clock() {
    let config = Config::default().with_event_rate_limit(10, 2);
    let (mut c, t0) = client(config);
    joined(&mut c, t0, "s1");
    for _ in 0..2 {
        c.handle_message(t0, text(r#"2["e"]"#));
    }
    assert_eq!(events(&mut c).len(), 2);
    c.handle_message(t0 + Duration::from_millis(50), text(r#"2["e"]"#));
    assert_eq!(transmits(&mut c), vec!["1"]);
    assert_eq!(
        events(&mut c),
        vec![Event::Disconnected {
            socket: Arc::from("s1"),
            namespace: Arc::from("/"),
            reason: DisconnectReason::RateLimited,
            unanswered: vec![],
        }]
    );
    assert!(!c.is_closed(), "the connection stays");
}

#[test]
fn the_msgpack_parser_takes_binary_messages_only() {
    let (mut c, t0) = client(Config::default().with_parser(Parser::Msgpack));
    let connect = Encoded::new(Parser::Msgpack, &Packet::connect("/", None));
    c.handle_message(t0, connect.messages()[0].clone());
    assert!(matches!(&events(&mut c)[..], [Event::Connect { .. }]));
    c.accept(t0, "/", Arc::from("m"));
    assert_eq!(transmits(&mut c).len(), 1);
    c.handle_message(t0, text("2[\"e\"]"));
    assert_eq!(transmits(&mut c), vec!["close"]);
    assert!(matches!(
        events(&mut c).last(),
        Some(Event::Closed {
            reason: DisconnectReason::ParseError
        })
    ));
}

#[test]
fn a_second_connect_to_a_namespace_awaiting_its_answer_is_ignored() {
    let (mut c, t0) = client(Config::default());
    c.handle_message(t0, text("0"));
    c.handle_message(t0, text("0"));
    assert_eq!(events(&mut c).len(), 1);
    assert!(!c.is_closed());
    assert!(c.accept(t0, "/", Arc::from("s1")));
    assert_eq!(transmits(&mut c).len(), 1, "one answer");
}
