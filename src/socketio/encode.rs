//! Packets as the Engine.IO messages that carry them, encoded once.
//!
//! socket.io-protocol v5, "Packet encoding": with the default parser a
//! packet is one text message, followed by one binary message per
//! attachment; with `socket.io-msgpack-parser` it is one binary message.
//! An [`Encoded`] packet holds those messages behind one shared pointer, so
//! a broadcast to a thousand receivers is encoded once and each receiver
//! gets a reference to the same bytes.

use std::sync::Arc;

use serde_json::Value;

use super::args::Args;
use super::config::Parser;
use super::msgpack;
use super::packet::Packet;
use crate::engineio::{Data, Text};

/// One Socket.IO packet, encoded: the Engine.IO messages that carry it, in
/// order (the text, then its attachments; or one msgpack message). Cheap to
/// clone: every clone shares the same messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded(Arc<[Data]>);

impl Encoded {
    /// Encodes `packet` with `parser`.
    pub fn new(parser: Parser, packet: &Packet) -> Encoded {
        if parser == Parser::Msgpack {
            let bytes = msgpack::encode(packet);
            return Encoded(Arc::from([Data::Binary(bytes.into())]));
        }
        let text = Text::write_message(|out| packet.encode_into(out));
        if packet.attachments.is_empty() {
            // The common case in one allocation, not a vector and then the
            // shared slice.
            return Encoded(Arc::new([Data::Text(text)]));
        }
        let mut messages = Vec::with_capacity(1 + packet.attachments.len());
        messages.push(Data::Text(text));
        messages.extend(packet.attachments.iter().cloned().map(Data::Binary));
        Encoded(Arc::from(messages))
    }

    /// The Engine.IO messages, in the order they must be sent.
    pub fn messages(&self) -> &[Data] {
        &self.0
    }

    /// The bytes carried, over every message.
    pub fn len(&self) -> usize {
        self.0.iter().map(Data::len).sum()
    }

    /// Whether no message carries a byte (never the case for a packet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The EVENT (or BINARY_EVENT) packet of `event` with `args`, asking for ack
/// `ack_id` when set (socket.io-protocol v5, "EVENT" and "BINARY_EVENT").
pub fn event_packet(namespace: &str, event: &str, args: Args, ack_id: Option<u64>) -> Packet {
    let mut values = Vec::with_capacity(args.values.len() + 1);
    values.push(Value::from(event));
    values.extend(args.values);
    Packet::event_with_binary(namespace, values, ack_id, args.binary)
}

/// The ACK (or BINARY_ACK) packet answering ack `id` with `args`
/// (socket.io-protocol v5, "ACK" and "BINARY_ACK").
pub fn ack_packet(namespace: &str, id: u64, args: Args) -> Packet {
    Packet::ack_with_binary(namespace, args.values, id, args.binary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_text_packet_is_one_message_behind_the_engine_io_message_type() {
        let packet = event_packet("/", "hi", Args::from(Value::from(1)), Some(7));
        let encoded = Encoded::new(Parser::Json, &packet);
        assert_eq!(encoded.messages().len(), 1);
        let Data::Text(text) = &encoded.messages()[0] else {
            panic!("text expected");
        };
        assert_eq!(text.as_str(), r#"27["hi",1]"#);
        assert_eq!(&text.framed()[..], br#"427["hi",1]"#);
    }

    #[test]
    fn attachments_follow_their_packet_and_msgpack_is_one_binary_message() {
        let args = Args::new().bytes(Bytes::from_static(b"\x01\x02"));
        let packet = event_packet("/chat", "file", args, None);
        let json = Encoded::new(Parser::Json, &packet);
        assert_eq!(json.messages().len(), 2);
        assert_eq!(
            json.messages()[1],
            Data::Binary(Bytes::from_static(b"\x01\x02"))
        );
        let msgpack = Encoded::new(Parser::Msgpack, &packet);
        assert_eq!(msgpack.messages().len(), 1);
        assert!(matches!(msgpack.messages()[0], Data::Binary(_)));
        let clone = json.clone();
        assert!(std::ptr::eq(clone.messages(), json.messages()));
    }
}
