//! Packets as the Engine.IO messages that carry them, encoded once.
//!
//! socket.io-protocol v5, "Packet encoding": with the default parser a
//! packet is one text message, followed by one binary message per
//! attachment; with `socket.io-msgpack-parser` it is one binary message.
//! An [`Encoded`] packet holds those messages behind one shared pointer, so
//! a broadcast to a thousand receivers is encoded once and each receiver
//! gets a reference to the same bytes.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::args::Args;
use super::config::Parser;
use super::msgpack;
use super::packet::{Packet, PacketType, write_header, write_utf8};
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
        Encoded::text_then(text, &packet.attachments)
    }

    /// The EVENT (or BINARY_EVENT) of `event` with `args`, asking for ack
    /// `ack_id` when set (socket.io-protocol v5, "EVENT" and
    /// "BINARY_EVENT"), encoded with `parser`: the same messages as
    /// [`event_packet`] then [`new`](Self::new), but arguments still kept
    /// as the JSON text they came in are written as that text.
    pub fn event(
        parser: Parser,
        namespace: &str,
        event: &str,
        args: &Args,
        ack_id: Option<u64>,
    ) -> Encoded {
        if parser == Parser::Msgpack {
            return Encoded::new(
                parser,
                &event_packet(namespace, event, args.clone(), ack_id),
            );
        }
        Encoded::json_args(PacketType::Event, namespace, ack_id, Some(event), args)
    }

    /// The ACK (or BINARY_ACK) answering ack `id` with `args`
    /// (socket.io-protocol v5, "ACK" and "BINARY_ACK"), encoded with
    /// `parser`, as [`event`](Self::event) does.
    pub fn ack(parser: Parser, namespace: &str, id: u64, args: &Args) -> Encoded {
        if parser == Parser::Msgpack {
            return Encoded::new(parser, &ack_packet(namespace, id, args.clone()));
        }
        Encoded::json_args(PacketType::Ack, namespace, Some(id), None, args)
    }

    /// An EVENT or ACK written with the default parser: the header, then
    /// the array of the name (events only) and the arguments.
    fn json_args(
        plain: PacketType,
        namespace: &str,
        ack_id: Option<u64>,
        name: Option<&str>,
        args: &Args,
    ) -> Encoded {
        let kind = match (plain, args.binary.is_empty()) {
            (PacketType::Event, false) => PacketType::BinaryEvent,
            (PacketType::Ack, false) => PacketType::BinaryAck,
            (kind, _) => kind,
        };
        let text = Text::write_message(|out| {
            write_utf8(out, |bytes| {
                write_header(bytes, kind, args.binary.len(), namespace, ack_id);
                bytes.push(b'[');
                if let Some(name) = name {
                    // Serializing a `str` into a `Vec` cannot fail.
                    let _ = serde_json::to_writer(&mut *bytes, name);
                    if !args.is_empty() {
                        bytes.push(b',');
                    }
                }
                args.write_elements(bytes);
                bytes.push(b']');
            });
        });
        Encoded::text_then(text, &args.binary)
    }

    /// A text message, then its attachments.
    fn text_then(text: Text, attachments: &[Bytes]) -> Encoded {
        if attachments.is_empty() {
            // The common case in one allocation, not a vector and then the
            // shared slice.
            return Encoded(Arc::new([Data::Text(text)]));
        }
        let mut messages = Vec::with_capacity(1 + attachments.len());
        messages.push(Data::Text(text));
        messages.extend(attachments.iter().cloned().map(Data::Binary));
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
    let (args, binary) = args.into_parts();
    let mut values = Vec::with_capacity(args.len() + 1);
    values.push(Value::from(event));
    values.extend(args);
    Packet::event_with_binary(namespace, values, ack_id, binary)
}

/// The ACK (or BINARY_ACK) packet answering ack `id` with `args`
/// (socket.io-protocol v5, "ACK" and "BINARY_ACK").
pub fn ack_packet(namespace: &str, id: u64, args: Args) -> Packet {
    let (values, binary) = args.into_parts();
    Packet::ack_with_binary(namespace, values, id, binary)
}

#[cfg(test)]
mod tests {
    use super::*;

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
