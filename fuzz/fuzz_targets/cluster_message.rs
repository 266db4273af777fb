//! The Redis adapter's decoders (`cluster::codec`, the messages of Node's
//! `@socket.io/redis-adapter` 8.3 and `@socket.io/redis-emitter` 5.1, and
//! `cluster::resp`, the Redis wire protocol), under their default limits.
//! The first byte picks the decoder: 0 a broadcast, 1 a request, 2 a RESP2
//! reply stream; the rest is its input.
//!
//! Expectation: never panics; a decoded broadcast holds at most
//! `max_attachments` binary values, every placeholder of its arguments
//! points at one of them, and it encodes to bytes that decode again to the
//! same broadcast (the same uid, namespace, event, rooms, except, volatile
//! flag and arguments, each placeholder standing for the same bytes); a
//! RESP2 reply never claims more bytes than it was given.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use siobridge::cluster::codec::{self, Broadcast};
use siobridge::cluster::resp::{self, RespLimits};
use siobridge::socketio::{Limits, replace_placeholders, validate_placeholders};

/// The arguments with every placeholder replaced by its bytes.
fn resolved(b: &Broadcast) -> Vec<Value> {
    let mut values = b.args.values().to_vec();
    for v in &mut values {
        replace_placeholders(
            v,
            &b.args.binary,
            |_, bytes| json!({ "bytes": bytes.to_vec() }),
        );
    }
    values
}

fn dedup(rooms: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rooms {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let limits = Limits::default().with_max_attachments(1000);
    let input = Bytes::copy_from_slice(rest);
    match which % 3 {
        0 => {
            let Ok(b) = codec::decode_broadcast(&input, &limits) else {
                return;
            };
            assert!(b.args.binary.len() <= limits.max_attachments);
            for v in b.args.values() {
                validate_placeholders(v, b.args.binary.len())
                    .unwrap_or_else(|e| panic!("dangling placeholder: {e}"));
            }
            let Some(uid) = &b.uid else { return };
            let packet = codec::event_packet(&b.namespace, &b.event, &b.args);
            let encoded = Bytes::from(codec::encode_broadcast(
                uid, &packet, &b.rooms, &b.except, &b.flags,
            ));
            let again = codec::decode_broadcast(&encoded, &limits).unwrap_or_else(|e| {
                panic!("{b:?} encodes to {encoded:?}, which does not decode: {e}")
            });
            assert_eq!(
                (
                    &again.uid,
                    &again.namespace,
                    &again.event,
                    &again.rooms,
                    dedup(&again.except),
                    again.flags.volatile,
                    resolved(&again)
                ),
                (
                    &b.uid,
                    &b.namespace,
                    &b.event,
                    &b.rooms,
                    dedup(&b.except),
                    b.flags.volatile,
                    resolved(&b)
                ),
                "round trip through {encoded:?}"
            );
        }
        1 => {
            let _ = codec::decode_request(&input, &limits);
        }
        _ => {
            let mut at = 0;
            while let Ok(Some((_, used))) = resp::parse(&rest[at..], &RespLimits::default()) {
                assert!(used > 0 && used <= rest.len() - at);
                at += used;
            }
        }
    }
});
