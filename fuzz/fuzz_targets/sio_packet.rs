//! Socket.IO text packet decoding (socket.io-protocol v5, "Packet
//! encoding"), `parse::decode_text`, under the default `Limits`.
//!
//! Expectation: never panics; every header that decodes, completed with the
//! attachments it declares, encodes to text that decodes again to an equal
//! header (the encoder writes the canonical form: no leading zeros, `/` not
//! written, compact JSON).
//!
//! And the decoder's fast path (`parse::decode_plain`, a plain EVENT or ACK
//! whose arguments stay text) takes only what `decode_text` accepts, reads
//! it the same, and writes it back as text that decodes to the same header.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use siobridge::engineio::Data;
use siobridge::socketio::parse::decode_plain;
use siobridge::socketio::{Encoded, Limits, Parser, decode_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let plain = decode_plain(text, &limits);
    let Ok(header) = decode_text(text, &limits) else {
        assert!(
            plain.is_none(),
            "the fast path took what the decoder refuses"
        );
        return;
    };
    if let Some(plain) = plain {
        assert_eq!(
            (plain.kind, plain.namespace, plain.ack_id),
            (header.kind, header.namespace.as_str(), header.ack_id)
        );
        let mut values = plain.args.values().to_vec();
        if let Some(name) = &plain.name {
            values.insert(0, Value::from(name.as_str()));
        }
        assert_eq!(Some(Value::Array(values)), header.data);
        let written = match (&plain.name, plain.ack_id) {
            (Some(name), id) => {
                Encoded::event(Parser::Json, plain.namespace, name, &plain.args, id)
            }
            (None, Some(id)) => Encoded::ack(Parser::Json, plain.namespace, id, &plain.args),
            (None, None) => Encoded::new(Parser::Json, &header.clone().into_packet(Vec::new())),
        };
        let Data::Text(again) = &written.messages()[0] else {
            panic!("an event or ack is written as text");
        };
        let again = decode_text(again, &limits)
            .unwrap_or_else(|e| panic!("{again:?}, written from kept text, does not decode: {e}"));
        assert_eq!(again, header, "written back from kept text");
    }
    assert!(header.expected_attachments <= limits.max_attachments);
    assert_eq!(header.kind.is_binary(), header.expected_attachments > 0);
    let packet = header
        .clone()
        .into_packet(vec![Bytes::new(); header.expected_attachments]);
    assert!(packet.is_encodable(), "decoded packet cannot be encoded");
    let encoded = packet.encode();
    let again = decode_text(&encoded, &limits)
        .unwrap_or_else(|e| panic!("{encoded:?} does not decode: {e}"));
    assert_eq!(again, header, "round trip through {encoded:?}");
});
