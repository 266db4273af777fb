//! Micro-benchmarks of the sans-IO codecs: Engine.IO packets and polling
//! payloads, Socket.IO packets of every type (binary ones with their
//! attachment). `cargo bench --bench codec` (add `-- FILTER` to pick some).
//!
//! Inputs are what a Socket.IO client sends or gets in a chat-like
//! application: a short event with one small object argument.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use siobridge::engineio::{self, payload};
use siobridge::socketio::{self, Limits, binary::Decoder};

/// The argument every event and ack carries.
fn argument() -> Value {
    json!({ "seq": 12345, "text": "the quick brown fox jumps over the lazy dog" })
}

/// One Engine.IO packet of each type, by name (engine.io-protocol v4,
/// "Protocol › Packet"), plus a binary MESSAGE in its base64 text form.
fn engineio_packets() -> Vec<(&'static str, engineio::Packet)> {
    use engineio::Packet;
    let open = r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let event = socketio::Packet::event("/", vec!["msg".into(), argument()], None).encode();
    vec![
        ("open", Packet::Open(open.to_owned())),
        ("close", Packet::Close),
        ("ping", Packet::Ping(String::new())),
        ("pong-probe", Packet::Pong("probe".to_owned())),
        ("message-text", Packet::text(&event)),
        (
            "message-binary-1KiB",
            Packet::Message(engineio::Data::Binary(Bytes::from(vec![7u8; 1024]))),
        ),
        ("upgrade", Packet::Upgrade),
        ("noop", Packet::Noop),
    ]
}

fn engineio_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("engineio");
    for (name, packet) in engineio_packets() {
        let text = packet.encode_text();
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("encode", name), &packet, |b, p| {
            let mut out = String::with_capacity(text.len());
            b.iter(|| {
                out.clear();
                black_box(p).encode_text_into(&mut out);
                black_box(&out);
            })
        });
        group.bench_with_input(BenchmarkId::new("decode", name), &text, |b, t| {
            b.iter(|| engineio::Packet::decode_text(black_box(t)).unwrap())
        });
    }
    group.finish();
}

/// A polling payload of `count` MESSAGE packets, and the same with every
/// other message binary (base64 on the wire).
fn polling_payloads(c: &mut Criterion) {
    let mut group = c.benchmark_group("polling-payload");
    let event = socketio::Packet::event("/", vec!["msg".into(), argument()], None).encode();
    for count in [1usize, 16, 256] {
        let text: Vec<_> = (0..count).map(|_| engineio::Packet::text(&event)).collect();
        let mixed: Vec<_> = (0..count)
            .map(|i| match i % 2 {
                0 => engineio::Packet::text(&event),
                _ => engineio::Packet::Message(engineio::Data::Binary(Bytes::from(vec![7u8; 64]))),
            })
            .collect();
        for (kind, packets) in [("text", text), ("mixed", mixed)] {
            let body = payload::encode(&packets);
            let id = format!("{kind}-{count}");
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_with_input(BenchmarkId::new("encode", &id), &packets, |b, p| {
                b.iter(|| payload::encode(black_box(p)))
            });
            group.bench_with_input(BenchmarkId::new("decode", &id), &body, |b, body| {
                b.iter(|| payload::decode(black_box(body.as_bytes()), 1_000_000).unwrap())
            });
        }
    }
    group.finish();
}

/// One Socket.IO packet of each type (socket.io-protocol v5, "Packet
/// types"), and one on a custom namespace.
fn socketio_packets() -> Vec<(&'static str, socketio::Packet)> {
    use socketio::Packet;
    let attachment = || vec![Bytes::from(vec![7u8; 1024])];
    let with_placeholder = || vec![json!({ "_placeholder": true, "num": 0 })];
    vec![
        ("connect", Packet::connect("/", None)),
        (
            "connect-auth",
            Packet::connect("/", Some(json!({ "token": "secret" }))),
        ),
        (
            "connect-reply",
            Packet::connect("/", Some(json!({ "sid": "oSO0OpakMV_3jnilAAAA" }))),
        ),
        ("disconnect", Packet::disconnect("/")),
        (
            "event",
            Packet::event("/", vec!["msg".into(), argument()], None),
        ),
        (
            "event-ack-id",
            Packet::event("/", vec!["echo".into(), argument()], Some(12)),
        ),
        (
            "event-namespace",
            Packet::event("/chat", vec!["msg".into(), argument()], None),
        ),
        ("ack", Packet::ack("/", vec![argument()], 12)),
        (
            "connect-error",
            Packet::connect_error("/", "unauthorized", Some(json!({ "code": 401 }))),
        ),
        (
            "binary-event",
            Packet::event_with_binary(
                "/",
                [vec![Value::from("upload")], with_placeholder()].concat(),
                None,
                attachment(),
            ),
        ),
        (
            "binary-ack",
            Packet::ack_with_binary("/", with_placeholder(), 12, attachment()),
        ),
    ]
}

fn socketio_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio");
    for (name, packet) in socketio_packets() {
        let text = packet.encode();
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("encode", name), &packet, |b, p| {
            let mut out = String::with_capacity(text.len());
            b.iter(|| {
                out.clear();
                black_box(p).encode_into(&mut out);
                black_box(&out);
            })
        });
        group.bench_with_input(BenchmarkId::new("decode", name), &packet, |b, p| {
            b.iter(|| decode(black_box(&text), &p.attachments))
        });
    }
    group.finish();
}

/// Decodes a text message and feeds the attachments that follow it, as the
/// server does for each client.
fn decode(text: &str, attachments: &[Bytes]) -> socketio::Packet {
    let mut decoder = Decoder::new(Limits::default());
    let mut packet = decoder.decode_text(text).unwrap();
    for attachment in attachments {
        packet = decoder.decode_binary(attachment.clone()).unwrap();
    }
    packet.expect("a whole packet")
}

criterion_group!(benches, engineio_codec, polling_payloads, socketio_codec);
criterion_main!(benches);
