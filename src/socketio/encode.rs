//! Packets as the Engine.IO messages that carry them, encoded once.
//!
//! socket.io-protocol v5, "Packet encoding": with the default parser a
//! packet is one text message, followed by one binary message per
//! attachment; with `socket.io-msgpack-parser` it is one binary message.
//! An [`Encoded`] packet holds those messages as shared buffers, so a
//! broadcast to a thousand receivers is encoded once and each receiver gets
//! a reference to the same bytes.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::args::Args;
use super::config::Parser;
use super::msgpack;
use super::packet::{Packet, PacketType, header_len, write_header, write_utf8};
use crate::engineio::{Data, Text};

/// One Socket.IO packet, encoded: the Engine.IO messages that carry it, in
/// order (the text, then its attachments; or one msgpack message). Cheap to
/// clone: every clone shares the same messages.
#[derive(Debug, Clone)]
pub struct Encoded(Messages);

/// Two packets are equal when their messages are, however they are held.
impl PartialEq for Encoded {
    fn eq(&self, other: &Encoded) -> bool {
        self.messages() == other.messages()
    }
}

impl Eq for Encoded {}

/// The messages of an [`Encoded`].
#[derive(Debug, Clone)]
enum Messages {
    /// One message, held as it is: nearly every packet, and for one
    /// receiver (an answer) no list is needed.
    One(Data),
    /// Behind one handle: a text with its attachments, or a packet for
    /// many receivers ([`Encoded::shared`]), each of whom then clones one
    /// handle for all of its messages.
    Shared(Arc<[Data]>),
}

/// The messages of an [`Encoded`], taken ([`Encoded::into_messages`]).
#[derive(Debug)]
pub struct IntoMessages(IntoMessagesInner);

#[derive(Debug)]
enum IntoMessagesInner {
    One(Option<Data>),
    Shared(Arc<[Data]>, usize),
}

impl Iterator for IntoMessages {
    type Item = Data;

    fn next(&mut self) -> Option<Data> {
        match &mut self.0 {
            IntoMessagesInner::One(message) => message.take(),
            IntoMessagesInner::Shared(messages, at) => {
                let message = messages.get(*at)?.clone();
                *at += 1;
                Some(message)
            }
        }
    }
}

impl Encoded {
    /// Encodes `packet` with `parser`.
    pub fn new(parser: Parser, packet: &Packet) -> Encoded {
        if parser == Parser::Msgpack {
            let bytes = msgpack::encode(packet);
            return Encoded(Messages::One(Data::Binary(bytes.into())));
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
        let attachments = args.binary.len();
        // Arguments kept as text, and a name JSON writes as it is (no
        // character to escape): the packet's length is known, and it is
        // written as text, with nothing to check.
        if let Some(inner) = args.json_elements()
            && name.is_none_or(|name| !name.bytes().any(needs_escape))
        {
            let name_len = name.map_or(0, |name| name.len() + 2 + usize::from(!inner.is_empty()));
            let len =
                1 + header_len(kind, attachments, namespace, ack_id) + name_len + inner.len() + 2;
            // An answer goes to one receiver, which takes its buffer as it
            // is. An event may go to many, each of whom clones its handle:
            // a byte to spare gives the buffer its shared form at once
            // (`bytes` then makes every clone a plain count).
            let capacity = if plain == PacketType::Ack {
                len
            } else {
                len + 1
            };
            let text = Text::write_message_sized(capacity, |out| {
                write_header(out, kind, attachments, namespace, ack_id);
                out.push('[');
                if let Some(name) = name {
                    out.push('"');
                    out.push_str(name);
                    out.push('"');
                    if !inner.is_empty() {
                        out.push(',');
                    }
                }
                out.push_str(inner);
                out.push(']');
            });
            return Encoded::text_then(text, &args.binary);
        }
        let text = Text::write_message(|out| {
            write_header(out, kind, attachments, namespace, ack_id);
            write_utf8(out, |bytes| {
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
            return Encoded(Messages::One(Data::Text(text)));
        }
        let mut messages = Vec::with_capacity(1 + attachments.len());
        messages.push(Data::Text(text));
        messages.extend(attachments.iter().cloned().map(Data::Binary));
        Encoded(Messages::Shared(Arc::from(messages)))
    }

    /// The Engine.IO messages, in the order they must be sent.
    #[inline]
    pub fn messages(&self) -> &[Data] {
        match &self.0 {
            Messages::One(message) => std::slice::from_ref(message),
            Messages::Shared(messages) => messages,
        }
    }

    /// This packet behind one handle, for many receivers: a clone then
    /// costs one count of that handle.
    pub fn shared(self) -> Encoded {
        match self.0 {
            Messages::One(message) => Encoded(Messages::Shared(Arc::new([message]))),
            shared => Encoded(shared),
        }
    }

    /// The one message of a packet that has one (nearly every packet),
    /// taken without a copy of its handle; the packet itself otherwise.
    #[inline]
    pub fn into_single(self) -> Result<Data, Encoded> {
        match self.0 {
            Messages::One(message) => Ok(message),
            shared => Err(Encoded(shared)),
        }
    }

    /// [`messages`](Self::messages), taken: a packet of one message gives
    /// it up without a copy of its handle.
    pub fn into_messages(self) -> IntoMessages {
        IntoMessages(match self.0 {
            Messages::One(message) => IntoMessagesInner::One(Some(message)),
            Messages::Shared(messages) => IntoMessagesInner::Shared(messages, 0),
        })
    }

    /// The bytes carried, over every message.
    pub fn len(&self) -> usize {
        self.messages().iter().map(Data::len).sum()
    }

    /// Whether no message carries a byte (never the case for a packet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether JSON writes `byte` of a string escaped (RFC 8259 § 7, as
/// serde_json and `JSON.stringify` write strings: `"`, `\` and the control
/// characters, nothing else).
fn needs_escape(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
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
    use crate::socketio::parse::{Limits, decode_plain};

    #[test]
    fn arguments_kept_as_text_are_written_as_values_would_be() {
        // Compact JSON, as clients send it: the text path and the value
        // path must then write the same packet.
        for (namespace, name, ack) in [
            ("/", "echo", Some(7)),
            ("/chat", "m", None),
            ("/", "a\"quote", Some(0)),
            ("/n", "line\nbreak", Some(123_456_789)),
            ("/", "caf\u{e9}", None),
        ] {
            for args in ["[]", "[1]", r#"[{"seq":1,"text":"x"},null,[true]]"#] {
                let input = format!(r#"2["e",{}"#, &args[1..]).replace("[\"e\",]", "[\"e\"]");
                let plain = decode_plain(&input, &Limits::default()).expect("taken");
                let values = plain.args.values().to_vec();
                let text = Encoded::event(Parser::Json, namespace, name, &plain.args, ack);
                let value = Encoded::new(
                    Parser::Json,
                    &event_packet(namespace, name, Args::from(values.clone()), ack),
                );
                assert_eq!(text, value, "{namespace} {name} {args}");
                let Some(id) = ack else { continue };
                let text = Encoded::ack(Parser::Json, namespace, id, &plain.args);
                let value =
                    Encoded::new(Parser::Json, &ack_packet(namespace, id, Args::from(values)));
                assert_eq!(text, value, "{namespace} {id} {args}");
            }
        }
    }

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
