//! Socket.IO text packet decoding (socket.io-protocol v5, "Packet
//! encoding"), `parse::decode_text`, under the default `Limits`.
//!
//! Expectation: never panics; every header that decodes, completed with the
//! attachments it declares, encodes to text that decodes again to an equal
//! header (the encoder writes the canonical form: no leading zeros, `/` not
//! written, compact JSON).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use siobridge::socketio::{Limits, decode_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Ok(header) = decode_text(text, &limits) else {
        return;
    };
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
