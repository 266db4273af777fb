//! One Engine.IO packet: the seven wire types, decoded from and encoded to
//! text or binary.
//!
//! engine.io-protocol v4, "Protocol" (the packet types) and "Packet encoding":
//! `<packet type>[<data>]`, where the
//! type is one ASCII digit and the data is the rest of the text. A binary
//! MESSAGE has no type byte on WebSocket (the frame itself is binary) and is
//! written `b<base64>` inside a text payload (HTTP long-polling).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

use super::error::DecodeError;

/// The data of a MESSAGE packet: text or binary (engine.io-protocol v4,
/// "Protocol › Message").
///
/// Text is held as [`Text`] and binary as [`Bytes`], so that one message
/// broadcast to many sessions is shared rather than copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// A UTF-8 text message.
    Text(Text),
    /// A binary message.
    Binary(Bytes),
}

impl Data {
    /// Length of the message data in bytes (before any base64 encoding).
    pub fn len(&self) -> usize {
        match self {
            Data::Text(t) => t.len(),
            Data::Binary(b) => b.len(),
        }
    }

    /// Whether the message carries no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&str> for Data {
    fn from(s: &str) -> Self {
        Data::Text(Text::from(s))
    }
}

impl From<String> for Data {
    fn from(s: String) -> Self {
        Data::Text(Text::from(s))
    }
}

/// The text of a text MESSAGE, shared: a clone (one per receiver of a
/// broadcast) copies no bytes.
///
/// It is stored behind the `4` that makes it a MESSAGE packet
/// (engine.io-protocol v4, "Packet encoding › WebSocket"), so that the
/// WebSocket frame that carries it is this very buffer
/// ([`framed`](Self::framed)), not a copy made per receiver.
#[derive(Clone, PartialEq, Eq)]
pub struct Text {
    /// `4`, then the text; UTF-8 throughout.
    framed: Bytes,
}

impl Text {
    /// A message from the text of a whole MESSAGE packet, `4` included:
    /// for a producer that writes the packet type itself, so that the text
    /// is not copied again. `None` unless `packet` starts with `4`.
    pub fn from_packet(packet: String) -> Option<Text> {
        packet.starts_with('4').then(|| Text {
            framed: Bytes::from(packet),
        })
    }

    /// A message whose text `write` appends to an empty string: the buffer
    /// already starts with the MESSAGE type `4` (engine.io-protocol v4,
    /// "Protocol › Packet encoding"), so a producer such as the Socket.IO
    /// encoder writes its packet once, in place, without knowing Engine.IO's
    /// framing.
    pub fn write_message(write: impl FnOnce(&mut String)) -> Text {
        Text::write_message_sized(128, write)
    }

    /// [`write_message`](Self::write_message) into a buffer of `capacity`
    /// bytes, the `4` included: when the producer knows the length, the
    /// buffer it fills becomes the shared one as it is, with no second
    /// allocation for the sharing (which a buffer with room to spare
    /// needs).
    pub fn write_message_sized(capacity: usize, write: impl FnOnce(&mut String)) -> Text {
        let mut packet = String::with_capacity(capacity.max(1));
        packet.push('4');
        write(&mut packet);
        Text {
            framed: Bytes::from(packet),
        }
    }

    /// Length of the message text in bytes (no UTF-8 check, unlike going
    /// through [`as_str`](Self::as_str)).
    pub fn len(&self) -> usize {
        self.framed.len() - 1
    }

    /// Whether the message text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The message text.
    pub fn as_str(&self) -> &str {
        // UTF-8 by construction: only ever built from a `str` or a `String`.
        std::str::from_utf8(&self.framed[1..]).unwrap_or_default()
    }

    /// The text of the whole MESSAGE packet, `4` included, as shared bytes
    /// (valid UTF-8): a WebSocket text frame's payload as is.
    pub fn framed(&self) -> &Bytes {
        &self.framed
    }

    /// [`framed`](Self::framed), taken.
    pub fn into_framed(self) -> Bytes {
        self.framed
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        let mut framed = Vec::with_capacity(1 + s.len());
        framed.push(b'4');
        framed.extend_from_slice(s.as_bytes());
        Text {
            framed: Bytes::from(framed),
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<Bytes> for Data {
    fn from(b: Bytes) -> Self {
        Data::Binary(b)
    }
}

impl From<Vec<u8>> for Data {
    fn from(b: Vec<u8>) -> Self {
        Data::Binary(Bytes::from(b))
    }
}

/// An Engine.IO v4 packet: exactly the seven types of the wire.
///
/// engine.io-protocol v4, "Protocol" (its table of packet types): `0` open, `1` close, `2` ping,
/// `3` pong, `4` message, `5` upgrade, `6` noop. Transport details (the `b`
/// prefix of base64 binary in polling payloads, the `probe` string of the
/// upgrade) are encoding details or data, never extra variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0`: sent by the server once, carrying the handshake JSON text.
    Open(String),
    /// `1`: the session is closing.
    Close,
    /// `2`: heartbeat request; data is empty except `probe` during an upgrade.
    Ping(String),
    /// `3`: heartbeat answer; data echoes the ping's (`probe` during an upgrade).
    Pong(String),
    /// `4`: application data.
    Message(Data),
    /// `5`: the client completes the polling-to-WebSocket upgrade.
    Upgrade,
    /// `6`: does nothing; ends a pending poll during an upgrade.
    Noop,
}

/// The packet type alone, as its wire digit (engine.io-protocol v4,
/// "Protocol", the table of packet types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`
    Open,
    /// `1`
    Close,
    /// `2`
    Ping,
    /// `3`
    Pong,
    /// `4`
    Message,
    /// `5`
    Upgrade,
    /// `6`
    Noop,
}

impl PacketType {
    /// The type for a wire digit, `None` for any other byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }

    /// The wire digit of this type.
    pub fn as_char(self) -> char {
        match self {
            PacketType::Open => '0',
            PacketType::Close => '1',
            PacketType::Ping => '2',
            PacketType::Pong => '3',
            PacketType::Message => '4',
            PacketType::Upgrade => '5',
            PacketType::Noop => '6',
        }
    }
}

impl fmt::Display for PacketType {
    /// Prints the spec's name: `OPEN`, `CLOSE`, `PING`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketType::Open => "OPEN",
            PacketType::Close => "CLOSE",
            PacketType::Ping => "PING",
            PacketType::Pong => "PONG",
            PacketType::Message => "MESSAGE",
            PacketType::Upgrade => "UPGRADE",
            PacketType::Noop => "NOOP",
        })
    }
}

/// How a packet travels on a WebSocket: one frame, text or binary
/// (engine.io-protocol v4, "Packet encoding › WebSocket").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame: the packet's text encoding.
    Text(String),
    /// A binary frame: the raw bytes of a binary MESSAGE.
    Binary(Bytes),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// A text MESSAGE packet.
    pub fn text(s: &str) -> Packet {
        Packet::Message(Data::from(s))
    }

    /// Decodes one packet from text: a WebSocket text frame, or one record of a
    /// polling payload.
    ///
    /// engine.io-protocol v4, "Packet encoding": the first character is the
    /// type digit. As the reference parser does on every transport, a text
    /// starting with `b` is a binary MESSAGE in base64 ("Packet encoding ›
    /// HTTP long-polling"). CLOSE, UPGRADE and NOOP carry no data: trailing
    /// text after them is rejected, so every decoded packet re-encodes to the
    /// same bytes.
    pub fn decode_text(input: &str) -> Result<Packet, DecodeError> {
        let Some(&first) = input.as_bytes().first() else {
            return Err(DecodeError::Empty);
        };
        if first == b'b' {
            let bytes = BASE64
                .decode(&input[1..])
                .map_err(|_| DecodeError::InvalidBase64)?;
            return Ok(Packet::Message(Data::Binary(Bytes::from(bytes))));
        }
        let kind = PacketType::from_byte(first).ok_or(DecodeError::UnknownPacketType(first))?;
        // The type digit is ASCII, so index 1 is a char boundary.
        let data = &input[1..];
        let no_data = |packet: Packet| {
            if data.is_empty() {
                Ok(packet)
            } else {
                Err(DecodeError::UnexpectedData(kind))
            }
        };
        match kind {
            PacketType::Open => Ok(Packet::Open(data.to_owned())),
            PacketType::Close => no_data(Packet::Close),
            PacketType::Ping => Ok(Packet::Ping(data.to_owned())),
            PacketType::Pong => Ok(Packet::Pong(data.to_owned())),
            PacketType::Message => Ok(Packet::Message(Data::from(data))),
            PacketType::Upgrade => no_data(Packet::Upgrade),
            PacketType::Noop => no_data(Packet::Noop),
        }
    }

    /// Decodes a WebSocket binary frame: always a binary MESSAGE in v4
    /// (engine.io-protocol v4, "Packet encoding › WebSocket": binary
    /// payloads are sent as is).
    pub fn decode_binary(frame: Bytes) -> Packet {
        Packet::Message(Data::Binary(frame))
    }

    /// Appends the text encoding of this packet to `out`, as inside a polling
    /// payload: binary MESSAGEs are written `b<base64>` (engine.io-protocol
    /// v4, "Packet encoding › HTTP long-polling").
    pub fn encode_text_into(&self, out: &mut String) {
        match self {
            Packet::Message(Data::Binary(bytes)) => {
                out.push('b');
                BASE64.encode_string(bytes, out);
            }
            Packet::Message(Data::Text(t)) => {
                out.push('4');
                out.push_str(t.as_str());
            }
            Packet::Open(d) | Packet::Ping(d) | Packet::Pong(d) => {
                out.push(self.packet_type().as_char());
                out.push_str(d);
            }
            Packet::Close | Packet::Upgrade | Packet::Noop => {
                out.push(self.packet_type().as_char());
            }
        }
    }

    /// The text encoding of this packet (binary as `b<base64>`).
    pub fn encode_text(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len_hint());
        self.encode_text_into(&mut out);
        out
    }

    /// For a text MESSAGE, the payload of its WebSocket text frame (`4` and
    /// the text), shared with every other holder of the message rather than
    /// copied as [`to_frame`](Self::to_frame) does. `None` for other packets.
    pub fn shared_text_frame(&self) -> Option<&Bytes> {
        match self {
            Packet::Message(Data::Text(text)) => Some(text.framed()),
            _ => None,
        }
    }

    /// [`shared_text_frame`](Self::shared_text_frame), taken out of the
    /// packet (no second reference to count); the packet itself otherwise.
    pub fn into_shared_text_frame(self) -> Result<Bytes, Packet> {
        match self {
            Packet::Message(Data::Text(text)) => Ok(text.into_framed()),
            other => Err(other),
        }
    }

    /// The WebSocket frame for this packet: binary MESSAGEs as binary frames,
    /// everything else as text frames (engine.io-protocol v4, "Packet
    /// encoding › WebSocket").
    pub fn to_frame(&self) -> Frame {
        match self {
            Packet::Message(Data::Binary(bytes)) => Frame::Binary(bytes.clone()),
            other => Frame::Text(other.encode_text()),
        }
    }

    fn encoded_len_hint(&self) -> usize {
        match self {
            Packet::Message(Data::Binary(b)) => 1 + b.len().div_ceil(3) * 4,
            Packet::Message(Data::Text(t)) => 1 + t.len(),
            Packet::Open(d) | Packet::Ping(d) | Packet::Pong(d) => 1 + d.len(),
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers from engine.io-protocol v4, "Packet encoding" examples:
    /// (input, value, canonical re-encoding).
    fn kat() -> Vec<(&'static str, Packet, &'static str)> {
        vec![
            (
                "0{\"sid\":\"abc\"}",
                Packet::Open("{\"sid\":\"abc\"}".into()),
                "0{\"sid\":\"abc\"}",
            ),
            ("1", Packet::Close, "1"),
            ("2", Packet::Ping(String::new()), "2"),
            ("2probe", Packet::Ping("probe".into()), "2probe"),
            ("3", Packet::Pong(String::new()), "3"),
            ("3probe", Packet::Pong("probe".into()), "3probe"),
            ("4hello", Packet::text("hello"), "4hello"),
            ("4", Packet::text(""), "4"),
            ("4€ and ✓", Packet::text("€ and ✓"), "4€ and ✓"),
            ("5", Packet::Upgrade, "5"),
            ("6", Packet::Noop, "6"),
            (
                "bAQIDBA==",
                Packet::Message(Data::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
                "bAQIDBA==",
            ),
            ("b", Packet::Message(Data::Binary(Bytes::new())), "b"),
        ]
    }

    #[test]
    fn known_answers_decode_encode_and_decode_again() {
        for (input, value, canonical) in kat() {
            let decoded = Packet::decode_text(input).unwrap();
            assert_eq!(decoded, value, "decoding {input:?}");
            let encoded = decoded.encode_text();
            assert_eq!(encoded, canonical, "encoding {input:?}");
            assert_eq!(Packet::decode_text(&encoded).unwrap(), value);
        }
    }

    #[test]
    fn binary_message_is_a_binary_frame_on_websocket() {
        let p = Packet::decode_binary(Bytes::from_static(&[1, 2, 3, 4]));
        assert_eq!(
            p.to_frame(),
            Frame::Binary(Bytes::from_static(&[1, 2, 3, 4]))
        );
        assert_eq!(Packet::text("hi").to_frame(), Frame::Text("4hi".into()));
    }

    #[test]
    fn rejects_empty_input() {
        assert_eq!(Packet::decode_text(""), Err(DecodeError::Empty));
    }

    #[test]
    fn rejects_unknown_packet_type() {
        assert_eq!(
            Packet::decode_text("abc"),
            Err(DecodeError::UnknownPacketType(b'a'))
        );
        assert_eq!(
            Packet::decode_text("7"),
            Err(DecodeError::UnknownPacketType(b'7'))
        );
    }

    #[test]
    fn rejects_data_after_close_upgrade_and_noop() {
        assert_eq!(
            Packet::decode_text("1x"),
            Err(DecodeError::UnexpectedData(PacketType::Close))
        );
        assert_eq!(
            Packet::decode_text("5probe"),
            Err(DecodeError::UnexpectedData(PacketType::Upgrade))
        );
        assert_eq!(
            Packet::decode_text("6 "),
            Err(DecodeError::UnexpectedData(PacketType::Noop))
        );
    }

    #[test]
    fn rejects_invalid_base64() {
        assert_eq!(Packet::decode_text("b!!"), Err(DecodeError::InvalidBase64));
    }

    #[test]
    fn display_prints_spec_names() {
        assert_eq!(PacketType::Message.to_string(), "MESSAGE");
        assert_eq!(PacketType::Noop.to_string(), "NOOP");
    }
}
