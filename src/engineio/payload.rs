//! HTTP long-polling payloads: several packets in one HTTP body.
//!
//! engine.io-protocol v4, "Packet encoding › HTTP long-polling": packets are joined by the
//! record separator `\x1e`; binary MESSAGEs are written `b<base64>`, so a v4
//! payload is always text.

use super::error::DecodeError;
use super::packet::Packet;

/// The record separator that joins packets in a payload (engine.io-protocol
/// v4, "Packet encoding › HTTP long-polling").
pub const SEPARATOR: char = '\x1e';

/// Decodes a whole POST body into its packets, all or nothing
/// (engine.io-protocol v4, "Packet encoding › HTTP long-polling").
///
/// The size is checked against `max_payload` before anything else, so a caller
/// that has already buffered the body still gets the same answer as one that
/// checked the declared length. Every record must be a valid packet: one bad
/// record rejects the whole payload (the session is then closed, as the
/// reference server closes on a "parse error").
pub fn decode(body: &[u8], max_payload: usize) -> Result<Vec<Packet>, DecodeError> {
    if body.len() > max_payload {
        return Err(DecodeError::PayloadTooLarge {
            size: body.len(),
            max: max_payload,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
    text.split(SEPARATOR).map(Packet::decode_text).collect()
}

/// Encodes packets as one payload, in order, joined by `\x1e`
/// (engine.io-protocol v4, "Packet encoding › HTTP long-polling").
pub fn encode<'a>(packets: impl IntoIterator<Item = &'a Packet>) -> String {
    let mut out = String::new();
    for (i, packet) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        packet.encode_text_into(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::packet::Data;
    use bytes::Bytes;

    /// engine.io-protocol v4, "Packet encoding › HTTP long-polling" examples.
    #[test]
    fn known_answers_decode_encode_and_decode_again() {
        let table: Vec<(&str, Vec<Packet>)> = vec![
            ("4hello", vec![Packet::text("hello")]),
            (
                "4hello\x1e2\x1e4€",
                vec![
                    Packet::text("hello"),
                    Packet::Ping(String::new()),
                    Packet::text("€"),
                ],
            ),
            (
                "4hello\x1ebAQIDBA==",
                vec![
                    Packet::text("hello"),
                    Packet::Message(Data::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
                ],
            ),
            (
                "4test1\x1e4test2\x1e4test3",
                vec![
                    Packet::text("test1"),
                    Packet::text("test2"),
                    Packet::text("test3"),
                ],
            ),
        ];
        for (input, packets) in table {
            let decoded = decode(input.as_bytes(), 1_000_000).unwrap();
            assert_eq!(decoded, packets, "decoding {input:?}");
            let encoded = encode(&decoded);
            assert_eq!(encoded, input);
            assert_eq!(decode(encoded.as_bytes(), 1_000_000).unwrap(), packets);
        }
    }

    #[test]
    fn rejects_payload_over_max_before_parsing() {
        assert_eq!(
            decode(b"4hello", 5),
            Err(DecodeError::PayloadTooLarge { size: 6, max: 5 })
        );
    }

    #[test]
    fn rejects_one_bad_record() {
        assert_eq!(
            decode(b"4ok\x1eabc", 100),
            Err(DecodeError::UnknownPacketType(b'a'))
        );
    }

    #[test]
    fn rejects_empty_records() {
        assert_eq!(decode(b"", 100), Err(DecodeError::Empty));
        assert_eq!(decode(b"4a\x1e", 100), Err(DecodeError::Empty));
    }

    #[test]
    fn rejects_invalid_utf8() {
        assert_eq!(decode(b"4\xff", 100), Err(DecodeError::InvalidUtf8));
    }
}
