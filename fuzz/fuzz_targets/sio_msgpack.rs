//! The msgpack parser (`socketio::msgpack`, the `socket.io-msgpack-parser`
//! wire: one MessagePack map per packet), under the default `Limits`.
//!
//! Expectation: never panics; a decoded packet holds at most
//! `max_attachments` binary values, is a binary kind exactly when it has
//! some, and every placeholder points at one of them; it is encodable and
//! its encoding decodes again to the same packet (the same type, namespace,
//! id and data, each placeholder standing for the same bytes), which
//! encodes to the same bytes again.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use siobridge::socketio::{Limits, Packet, msgpack, replace_placeholders, validate_placeholders};

/// The packet's data with every placeholder replaced by its bytes.
fn resolved(p: &Packet) -> Option<Value> {
    let mut data = p.data.clone()?;
    replace_placeholders(
        &mut data,
        &p.attachments,
        |_, b| json!({ "bytes": b.to_vec() }),
    );
    Some(data)
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let input = Bytes::copy_from_slice(data);
    let Ok(packet) = msgpack::decode(&input, &limits) else {
        return;
    };
    assert!(packet.attachments.len() <= limits.max_attachments);
    assert_eq!(packet.kind.is_binary(), !packet.attachments.is_empty());
    if let Some(data) = &packet.data {
        validate_placeholders(data, packet.attachments.len())
            .unwrap_or_else(|e| panic!("dangling placeholder: {e}"));
    }
    let encoded = Bytes::from(msgpack::encode(&packet));
    let again = msgpack::decode(&encoded, &limits).unwrap_or_else(|e| {
        panic!("{packet:?} encodes to {encoded:?}, which does not decode: {e}")
    });
    assert_eq!(
        (again.kind, &again.namespace, again.ack_id, resolved(&again)),
        (
            packet.kind,
            &packet.namespace,
            packet.ack_id,
            resolved(&packet)
        ),
        "round trip through {encoded:?}"
    );
    assert_eq!(again.attachments.len(), packet.attachments.len());
    assert_eq!(msgpack::encode(&again), encoded.to_vec());
});
