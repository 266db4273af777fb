//! Socket.IO binary attachment reassembly (socket.io-protocol v5, "Packet
//! encoding", BINARY_EVENT / BINARY_ACK), `binary::Decoder`, fed a sequence
//! of Engine.IO messages.
//!
//! Input format (simple, so that seeds are written by hand): messages are
//! separated by the byte 0xFF (never in UTF-8); a message whose first byte
//! is 0x00 is a binary message (the bytes after it), any other is a text
//! message (lossy UTF-8).
//!
//! Expectation: never panics; the decoder never expects more attachments
//! than `max_attachments`; after an error it is idle; a packet completes
//! exactly when its last declared attachment arrives, its placeholders all
//! refer to an attachment, and it round-trips (encoded text + attachments
//! fed to a fresh decoder give an equal packet at the last message).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use siobridge::socketio::{Decoder, Limits, Packet, validate_placeholders};

enum Message {
    Text(String),
    Binary(Bytes),
}

fn messages(data: &[u8]) -> impl Iterator<Item = Message> + '_ {
    data.split(|&b| b == 0xFF).map(|record| match record {
        [0, rest @ ..] => Message::Binary(Bytes::copy_from_slice(rest)),
        text => Message::Text(String::from_utf8_lossy(text).into_owned()),
    })
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut decoder = Decoder::new(limits.clone());
    for message in messages(data) {
        let pending_before = decoder.pending_attachments();
        let result = match &message {
            Message::Text(t) => decoder.decode_text(t),
            Message::Binary(b) => decoder.decode_binary(b.clone()),
        };
        assert!(decoder.pending_attachments() <= limits.max_attachments);
        match result {
            Err(_) => assert!(!decoder.is_collecting(), "not idle after an error"),
            Ok(None) => match message {
                // A binary header: its attachments are now expected.
                Message::Text(_) => assert!(decoder.pending_attachments() > 0),
                Message::Binary(_) => {
                    assert_eq!(decoder.pending_attachments() + 1, pending_before)
                }
            },
            Ok(Some(packet)) => {
                assert!(!decoder.is_collecting());
                if let Message::Binary(_) = message {
                    assert_eq!(pending_before, 1, "completed before the last attachment");
                }
                check_packet(&packet, &limits);
            }
        }
    }
});

fn check_packet(packet: &Packet, limits: &Limits) {
    assert_eq!(packet.kind.is_binary(), !packet.attachments.is_empty());
    assert!(packet.attachments.len() <= limits.max_attachments);
    if let (true, Some(data)) = (packet.kind.is_binary(), &packet.data) {
        assert_eq!(
            validate_placeholders(data, packet.attachments.len()),
            Ok(())
        );
    }
    assert!(packet.is_encodable());
    // Round trip: the text, then each attachment, through a fresh decoder.
    let mut fresh = Decoder::new(limits.clone());
    let text = packet.encode();
    let mut done = fresh
        .decode_text(&text)
        .unwrap_or_else(|e| panic!("{text:?} does not decode: {e}"));
    for attachment in &packet.attachments {
        assert!(done.is_none(), "completed before its attachments");
        done = fresh.decode_binary(attachment.clone()).expect("attachment");
    }
    assert_eq!(done.as_ref(), Some(packet), "round trip through {text:?}");
}
