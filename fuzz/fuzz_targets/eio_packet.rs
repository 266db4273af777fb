//! Engine.IO packet decoding, text and binary (engine.io-protocol v4,
//! "Protocol › Packet encoding").
//!
//! Expectation: never panics; every text that decodes re-encodes to exactly
//! the same text (the decoder accepts canonical encodings only) and decodes
//! again to an equal packet; a binary frame is a binary MESSAGE whose frame
//! is the same bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use siobridge::engineio::{Data, Frame, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    check_binary(data);
});

fn check_text(text: &str) {
    let Ok(packet) = Packet::decode_text(text) else {
        return;
    };
    let encoded = packet.encode_text();
    assert_eq!(encoded, text, "re-encoding is not the input");
    assert_eq!(Packet::decode_text(&encoded).as_ref(), Ok(&packet));
    // The WebSocket frame of the packet decodes back to it too.
    let again = match packet.to_frame() {
        Frame::Text(t) => Packet::decode_text(&t).expect("text frame decodes"),
        Frame::Binary(b) => Packet::decode_binary(b),
    };
    assert_eq!(again, packet);
}

fn check_binary(data: &[u8]) {
    let frame = Bytes::copy_from_slice(data);
    let packet = Packet::decode_binary(frame.clone());
    assert_eq!(packet, Packet::Message(Data::Binary(frame.clone())));
    assert_eq!(packet.to_frame(), Frame::Binary(frame));
    // Its polling form (`b<base64>`) decodes back to the same packet.
    assert_eq!(Packet::decode_text(&packet.encode_text()), Ok(packet));
}
