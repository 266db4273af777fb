//! Engine.IO protocol v3: the wire of socket.io 2.x clients, served next to
//! v4 when [`Config::allow_eio3`](super::Config::allow_eio3) is on.
//!
//! engine.io-protocol v3 (<https://github.com/socketio/engine.io-protocol/tree/v3>)
//! differs from v4 in three places, all in this module as pure functions:
//!
//! - **Payloads** ("Payload"): each packet is prefixed by its length and a
//!   colon, `<length>:<packet>`, the length counted in UTF-16 code units as
//!   JavaScript counts a string (`2:4€`). A payload holding binary, sent to a
//!   client that takes binary, is a binary body instead: per packet a `0`
//!   (text) or `1` (binary) byte, the length as one byte per decimal digit,
//!   `255`, then the packet (text as UTF-8, binary as the type byte `4` and
//!   the bytes).
//! - **Binary packets**: a binary MESSAGE on WebSocket is a binary frame that
//!   starts with the type byte `4`; where it must be text (a client that
//!   asked for `b64=1`) it is `b4<base64>`.
//! - **The heartbeat** is reversed (the client pings, the server answers
//!   pong): that is the session's business ([`Session`](super::Session)).
//!
//! What the reference server (engine.io 6.6 with `allowEIO3`, whose
//! `parser-v3` is engine.io-parser 2.2) does is the model: the known answers
//! in the tests below were produced by it.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

use super::error::DecodeError;
use super::packet::{Data, Frame, Packet};
use super::payload;

/// The Engine.IO protocol revision of one session, chosen from the `EIO`
/// query parameter of the request that opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// engine.io-protocol v4 (`EIO=4`): what every current client speaks.
    #[default]
    V4,
    /// engine.io-protocol v3 (any other `EIO`, or none, as the reference
    /// reads it): socket.io 2.x clients.
    V3 {
        /// Whether binary may be sent as binary: false when the request
        /// carried a non-empty `b64` parameter (the client cannot take binary
        /// bodies), and binary MESSAGEs then travel as `b4<base64>` text.
        binary: bool,
    },
}

impl Protocol {
    /// The revision a request's query string asks for, read as engine.io 6.6
    /// does (`Transport` constructor): `EIO=4` is v4, anything else v3; a
    /// non-empty `b64` turns binary off.
    pub fn from_query(query: Option<&str>) -> Protocol {
        let mut eio = None;
        let mut b64 = None;
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "EIO" if eio.is_none() => eio = Some(value),
                "b64" if b64.is_none() => b64 = Some(value),
                _ => {}
            }
        }
        if eio == Some("4") {
            Protocol::V4
        } else {
            Protocol::V3 {
                binary: b64.is_none_or(str::is_empty),
            }
        }
    }

    /// Whether this is engine.io-protocol v3.
    pub fn is_v3(self) -> bool {
        matches!(self, Protocol::V3 { .. })
    }

    /// Decodes a whole POST body: [`payload::decode`] for v4,
    /// [`decode_payload`] for v3.
    pub fn decode_payload(
        self,
        body: &[u8],
        max_payload: usize,
    ) -> Result<Vec<Packet>, DecodeError> {
        match self {
            Protocol::V4 => payload::decode(body, max_payload),
            Protocol::V3 { .. } => decode_payload(body, max_payload),
        }
    }

    /// Encodes the packets of one polling response: [`payload::encode`] for
    /// v4 (always text), [`encode_payload`] for v3.
    pub fn encode_payload<'a, I>(self, packets: I) -> Body
    where
        I: IntoIterator<Item = &'a Packet>,
        I::IntoIter: Clone,
    {
        match self {
            Protocol::V4 => Body::Text(payload::encode(packets)),
            Protocol::V3 { binary } => encode_payload(packets, binary),
        }
    }

    /// Decodes a WebSocket text frame.
    pub fn decode_ws_text(self, text: &str) -> Result<Packet, DecodeError> {
        match self {
            Protocol::V4 => Packet::decode_text(text),
            Protocol::V3 { .. } => decode_packet_text(text),
        }
    }

    /// Decodes a WebSocket binary frame: always a binary MESSAGE in v4; in
    /// v3, see [`decode_binary_packet`].
    pub fn decode_ws_binary(self, frame: Bytes) -> Result<Packet, DecodeError> {
        match self {
            Protocol::V4 => Ok(Packet::decode_binary(frame)),
            Protocol::V3 { .. } => decode_binary_packet(frame),
        }
    }

    /// The WebSocket frame that carries `packet`: [`Packet::to_frame`] for
    /// v4, [`ws_frame`] for v3.
    pub fn ws_frame(self, packet: &Packet) -> Frame {
        match self {
            Protocol::V4 => packet.to_frame(),
            Protocol::V3 { binary } => ws_frame(packet, binary),
        }
    }
}

/// The body of one polling response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A text payload (every v4 payload; v3 without binary).
    Text(String),
    /// A v3 binary payload.
    Binary(Bytes),
}

impl Body {
    /// The `Content-Type` the reference sends with it.
    pub fn content_type(&self) -> &'static str {
        match self {
            Body::Text(_) => "text/plain; charset=UTF-8",
            Body::Binary(_) => "application/octet-stream",
        }
    }

    /// The body's bytes.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Body::Text(text) => Bytes::from(text),
            Body::Binary(bytes) => bytes,
        }
    }
}

/// The v3 text form of one packet: as v4, but a binary MESSAGE is
/// `b4<base64>` (the type digit follows the `b`).
pub fn encode_packet_text(packet: &Packet, out: &mut String) {
    match packet {
        Packet::Message(Data::Binary(bytes)) => {
            out.push_str("b4");
            BASE64.encode_string(bytes, out);
        }
        other => other.encode_text_into(out),
    }
}

/// Decodes one v3 text packet (a WebSocket text frame, or one record of a
/// payload). `b4<base64>` is a binary MESSAGE; a `b` before any other type
/// is refused (the reference would hand binary data to a control packet).
pub fn decode_packet_text(input: &str) -> Result<Packet, DecodeError> {
    match input.as_bytes() {
        [b'b', b'4', ..] => BASE64
            .decode(&input[2..])
            .map(|bytes| Packet::Message(Data::Binary(Bytes::from(bytes))))
            .map_err(|_| DecodeError::InvalidBase64),
        [b'b', kind, ..] => Err(DecodeError::UnknownPacketType(*kind)),
        [b'b'] => Err(DecodeError::Empty),
        _ => Packet::decode_text(input),
    }
}

/// Decodes one v3 binary packet: the type byte, then the data. Only a
/// MESSAGE (`4`) may be binary; any other type byte is refused.
pub fn decode_binary_packet(frame: Bytes) -> Result<Packet, DecodeError> {
    match frame.first() {
        None => Err(DecodeError::Empty),
        Some(4) => Ok(Packet::Message(Data::Binary(frame.slice(1..)))),
        Some(&other) => Err(DecodeError::UnknownPacketType(other)),
    }
}

/// The WebSocket frame of one v3 packet: a binary MESSAGE is a binary frame
/// `4` + bytes, or `b4<base64>` text when the client cannot take binary;
/// every other packet is its text.
pub fn ws_frame(packet: &Packet, binary: bool) -> Frame {
    match packet {
        Packet::Message(Data::Binary(bytes)) if binary => {
            let mut framed = Vec::with_capacity(1 + bytes.len());
            framed.push(4);
            framed.extend_from_slice(bytes);
            Frame::Binary(Bytes::from(framed))
        }
        other => {
            let mut text = String::new();
            encode_packet_text(other, &mut text);
            Frame::Text(text)
        }
    }
}

/// Length of a string as JavaScript counts it: UTF-16 code units.
fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Appends `n` as one byte per decimal digit (the binary payload's length).
fn push_digits(out: &mut Vec<u8>, n: usize) {
    let start = out.len();
    let mut n = n;
    loop {
        out.push((n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out[start..].reverse();
}

/// Encodes the packets of one polling response, in order.
///
/// With `binary` and at least one binary MESSAGE among them, the binary
/// payload; otherwise the text payload, binary MESSAGEs as `b4<base64>`.
/// No packets at all is `0:`, as the reference encodes it.
pub fn encode_payload<'a, I>(packets: I, binary: bool) -> Body
where
    I: IntoIterator<Item = &'a Packet>,
    I::IntoIter: Clone,
{
    let packets = packets.into_iter();
    let has_binary = packets
        .clone()
        .any(|p| matches!(p, Packet::Message(Data::Binary(_))));
    if binary && has_binary {
        let mut out = Vec::new();
        for packet in packets {
            match packet {
                Packet::Message(Data::Binary(bytes)) => {
                    out.push(1);
                    push_digits(&mut out, 1 + bytes.len());
                    out.push(255);
                    out.push(4);
                    out.extend_from_slice(bytes);
                }
                other => {
                    let text = other.encode_text();
                    out.push(0);
                    push_digits(&mut out, text.len());
                    out.push(255);
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        return Body::Binary(Bytes::from(out));
    }
    let mut out = String::new();
    let mut one = String::new();
    for packet in packets {
        one.clear();
        encode_packet_text(packet, &mut one);
        // Writing to a String cannot fail.
        let _ = write!(out, "{}:", utf16_len(&one));
        out.push_str(&one);
    }
    if out.is_empty() {
        out.push_str("0:");
    }
    Body::Text(out)
}

/// Decodes a whole v3 POST body into its packets, all or nothing.
///
/// The size is checked against `max_payload` first. A body that starts
/// with the byte 0 or 1 is a binary payload (a text payload starts with a
/// digit character), otherwise a text payload, which must be UTF-8. Records
/// of length 0 carry nothing and are skipped, as the reference skips them;
/// an empty body, a bad length, a record cut short or one bad packet
/// rejects the whole body (the session then closes with "parse error").
pub fn decode_payload(body: &[u8], max_payload: usize) -> Result<Vec<Packet>, DecodeError> {
    if body.len() > max_payload {
        return Err(DecodeError::PayloadTooLarge {
            size: body.len(),
            max: max_payload,
        });
    }
    match body.first() {
        None => Err(DecodeError::Empty),
        Some(0 | 1) => decode_binary_payload(body),
        Some(_) => {
            let text = std::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
            decode_text_payload(text)
        }
    }
}

fn decode_text_payload(text: &str) -> Result<Vec<Packet>, DecodeError> {
    let mut packets = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let colon = rest.find(':').ok_or(DecodeError::BadLength)?;
        let digits = &rest[..colon];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::BadLength);
        }
        let n: usize = digits.parse().map_err(|_| DecodeError::BadLength)?;
        let after = &rest[colon + 1..];
        // The record is the next `n` UTF-16 code units; a count that ends
        // inside a surrogate pair, or past the end, is a bad length.
        let mut units = 0;
        let mut end = 0;
        for c in after.chars() {
            if units >= n {
                break;
            }
            units += c.len_utf16();
            end += c.len_utf8();
        }
        if units != n {
            return Err(DecodeError::BadLength);
        }
        let record = &after[..end];
        if !record.is_empty() {
            packets.push(decode_packet_text(record)?);
        }
        rest = &after[end..];
    }
    Ok(packets)
}

fn decode_binary_payload(body: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    let mut packets = Vec::new();
    let mut rest = body;
    while let Some(&kind) = rest.first() {
        if kind > 1 {
            return Err(DecodeError::BadLength);
        }
        let mut n: usize = 0;
        let mut i = 1;
        loop {
            match rest.get(i) {
                Some(255) if i > 1 => break,
                Some(&digit) if digit <= 9 => {
                    n = n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(usize::from(digit)))
                        .ok_or(DecodeError::BadLength)?;
                }
                _ => return Err(DecodeError::BadLength),
            }
            i += 1;
        }
        let start = i + 1;
        let end = start.checked_add(n).ok_or(DecodeError::BadLength)?;
        let data = rest.get(start..end).ok_or(DecodeError::BadLength)?;
        if kind == 0 {
            let text = std::str::from_utf8(data).map_err(|_| DecodeError::InvalidUtf8)?;
            packets.push(decode_packet_text(text)?);
        } else {
            packets.push(decode_binary_packet(Bytes::copy_from_slice(data))?);
        }
        rest = &rest[end..];
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(bytes: &[u8]) -> Packet {
        Packet::Message(Data::Binary(Bytes::copy_from_slice(bytes)))
    }

    /// Known answers from the reference's `parser-v3` (engine.io 6.6,
    /// `encodePayload(packets, supportsBinary)`): (packets, binary, body).
    fn text_kat() -> Vec<(Vec<Packet>, bool, &'static str)> {
        vec![
            (vec![Packet::text("hello")], true, "6:4hello"),
            (
                vec![Packet::Ping(String::new()), Packet::text("€")],
                true,
                "1:22:4€",
            ),
            (vec![Packet::text("😀")], true, "3:4😀"),
            (vec![bin(&[1, 2, 3, 4])], false, "10:b4AQIDBA=="),
            (
                vec![Packet::text("a"), bin(&[255]), Packet::Noop],
                false,
                "2:4a6:b4/w==1:6",
            ),
            (
                vec![Packet::Open("{\"sid\":\"x\"}".into())],
                true,
                "12:0{\"sid\":\"x\"}",
            ),
            (vec![Packet::Close], true, "1:1"),
            (vec![Packet::Pong("probe".into())], true, "6:3probe"),
            (vec![], true, "0:"),
        ]
    }

    #[test]
    fn text_payloads_encode_to_the_reference_bytes_and_decode_back() {
        for (packets, binary, body) in text_kat() {
            assert_eq!(
                encode_payload(&packets, binary),
                Body::Text(body.to_owned()),
                "encoding {packets:?}"
            );
            assert_eq!(decode_payload(body.as_bytes(), 1 << 20).unwrap(), packets);
        }
    }

    #[test]
    fn binary_payloads_encode_to_the_reference_bytes_and_decode_back() {
        // parser-v3 `encodePayload([{message "hi"}, {message <1 2 3>}], true)`.
        let packets = vec![Packet::text("hi"), bin(&[1, 2, 3])];
        let body: &[u8] = &[0, 3, 255, b'4', b'h', b'i', 1, 4, 255, 4, 1, 2, 3];
        assert_eq!(
            encode_payload(&packets, true),
            Body::Binary(Bytes::from_static(body))
        );
        assert_eq!(decode_payload(body, 100).unwrap(), packets);
        // A 10-byte binary and UTF-8 text: lengths in bytes, digit by digit.
        let packets = vec![bin(&[7; 10]), Packet::text("€")];
        let Body::Binary(encoded) = encode_payload(&packets, true) else {
            panic!("expected a binary body");
        };
        let mut expected = vec![1, 1, 1, 255, 4];
        expected.extend_from_slice(&[7; 10]);
        expected.extend_from_slice(&[0, 4, 255, b'4', 0xe2, 0x82, 0xac]);
        assert_eq!(&encoded[..], &expected[..]);
        assert_eq!(decode_payload(&encoded, 100).unwrap(), packets);
    }

    #[test]
    fn rejects_what_the_reference_calls_a_parser_error() {
        for body in [
            &b""[..],
            b"5:4hello",
            b"6:4hello3",
            b"x:4a",
            b":4a",
            b"2:7a",
            b"2:b2",
            b"99999999999999999999999:4",
            b"\x00\xff4a",
            b"\x00\x09\xff4a",
            b"\x01\x02\xff\x02a",
            b"\x02\x01\xff4",
            b"\x00\x01",
        ] {
            assert!(decode_payload(body, 1 << 20).is_err(), "{body:?}");
        }
        // Three UTF-16 units ending inside a surrogate pair.
        assert_eq!(
            decode_payload("2:4😀".as_bytes(), 100),
            Err(DecodeError::BadLength)
        );
        assert_eq!(
            decode_payload(b"6:4hello", 5),
            Err(DecodeError::PayloadTooLarge { size: 8, max: 5 })
        );
    }

    #[test]
    fn empty_records_are_skipped() {
        assert_eq!(decode_payload(b"0:", 10).unwrap(), vec![]);
        assert_eq!(
            decode_payload(b"0:2:4a0:", 10).unwrap(),
            vec![Packet::text("a")]
        );
    }

    #[test]
    fn websocket_frames() {
        assert_eq!(
            ws_frame(&bin(&[1, 2]), true),
            Frame::Binary(Bytes::from_static(&[4, 1, 2]))
        );
        assert_eq!(ws_frame(&bin(&[1, 2]), false), Frame::Text("b4AQI=".into()));
        assert_eq!(ws_frame(&Packet::text("x"), true), Frame::Text("4x".into()));
        assert_eq!(
            decode_binary_packet(Bytes::from_static(&[4, 1, 2])),
            Ok(bin(&[1, 2]))
        );
        assert_eq!(
            decode_binary_packet(Bytes::from_static(&[2])),
            Err(DecodeError::UnknownPacketType(2))
        );
        assert_eq!(decode_packet_text("b4AQI="), Ok(bin(&[1, 2])));
        assert_eq!(
            decode_packet_text("2probe"),
            Ok(Packet::Ping("probe".into()))
        );
    }

    #[test]
    fn protocol_from_query_reads_eio_and_b64_as_the_reference() {
        assert_eq!(
            Protocol::from_query(Some("EIO=4&transport=polling")),
            Protocol::V4
        );
        assert_eq!(
            Protocol::from_query(Some("EIO=3&transport=polling")),
            Protocol::V3 { binary: true }
        );
        assert_eq!(Protocol::from_query(None), Protocol::V3 { binary: true });
        assert_eq!(
            Protocol::from_query(Some("EIO=3&b64=1")),
            Protocol::V3 { binary: false }
        );
        assert_eq!(
            Protocol::from_query(Some("EIO=3&b64")),
            Protocol::V3 { binary: true }
        );
    }

    #[test]
    fn round_trips_mixed_packets_both_ways() {
        let packets = vec![
            Packet::Ping(String::new()),
            Packet::text("ünïcødé 😀"),
            bin(&[0, 255, 10]),
            Packet::text(""),
            bin(&[]),
            Packet::Upgrade,
        ];
        for binary in [true, false] {
            let body = encode_payload(&packets, binary);
            assert_eq!(
                decode_payload(&body.into_bytes(), 1 << 20).unwrap(),
                packets
            );
        }
    }

    /// A v3 session on a virtual clock (pingInterval 300 ms, pingTimeout
    /// 200 ms): the heartbeat reversed, and bodies in the v3 framing.
    mod session {
        use std::time::{Duration, Instant};

        use super::super::Body;
        use super::*;
        use crate::engineio::{CloseReason, Config, Event, Session, SidGenerator, TransportKind};

        fn open(binary: bool) -> (Instant, Session) {
            let t0 = Instant::now();
            let config = Config::default()
                .with_heartbeat(Duration::from_millis(300), Duration::from_millis(200))
                .with_allow_eio3(true);
            let sid = SidGenerator::new(Some([3; 32])).next_sid();
            let s = Session::new(t0, sid, TransportKind::Polling, &config)
                .with_protocol(Protocol::V3 { binary });
            (t0, s)
        }

        fn poll(s: &mut Session, now: Instant) -> Option<Body> {
            s.handle_poll(now).unwrap();
            s.take_poll_body()
        }

        fn ms(t0: Instant, ms: u64) -> Instant {
            t0 + Duration::from_millis(ms)
        }

        #[test]
        fn open_packet_is_length_prefixed() {
            let (t0, mut s) = open(true);
            let Some(Body::Text(body)) = poll(&mut s, t0) else {
                panic!("expected a text body");
            };
            let (len, packet) = body.split_once(':').unwrap();
            assert!(packet.starts_with("0{\"sid\":"));
            assert_eq!(len.parse::<usize>().unwrap(), packet.len());
        }

        #[test]
        fn client_pings_are_answered_and_keep_the_session() {
            let (t0, mut s) = open(true);
            poll(&mut s, t0);
            // The server never pings: nothing is due before
            // pingInterval + pingTimeout.
            assert_eq!(s.poll_timeout(), Some(ms(t0, 500)));
            s.handle_timeout(ms(t0, 499));
            assert!(!s.is_closed());
            s.handle_post(ms(t0, 400), b"1:2").unwrap();
            assert_eq!(poll(&mut s, ms(t0, 400)), Some(Body::Text("1:3".into())));
            s.handle_timeout(ms(t0, 899));
            assert!(!s.is_closed());
            // A ping flood queues one PONG.
            s.handle_post(ms(t0, 800), b"1:21:21:2").unwrap();
            assert_eq!(poll(&mut s, ms(t0, 800)), Some(Body::Text("1:3".into())));
            s.handle_timeout(ms(t0, 1300));
            assert_eq!(s.close_reason(), Some(CloseReason::PingTimeout));
        }

        #[test]
        fn a_pong_from_the_client_is_a_transport_error() {
            let (t0, mut s) = open(true);
            s.handle_post(t0, b"1:3").unwrap();
            assert_eq!(s.close_reason(), Some(CloseReason::TransportError));
        }

        #[test]
        fn binary_goes_as_a_binary_body_or_as_base64() {
            for (binary, expected) in [
                (
                    true,
                    Body::Binary(Bytes::from_static(&[1, 3, 255, 4, 9, 8])),
                ),
                (false, Body::Text("6:b4CQg=".into())),
            ] {
                let (t0, mut s) = open(binary);
                poll(&mut s, t0);
                s.send(Data::Binary(Bytes::from_static(&[9, 8]))).unwrap();
                assert_eq!(poll(&mut s, t0), Some(expected));
            }
        }

        #[test]
        fn posts_in_both_framings_and_the_separator_is_plain_text() {
            let (t0, mut s) = open(true);
            s.handle_post(t0, b"5:4a\x1eb\xc3\xa9").unwrap();
            s.handle_post(t0, &[1, 3, 255, 4, 1, 2, 0, 2, 255, b'4', b'z'])
                .unwrap();
            let events: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
            assert_eq!(
                events,
                vec![
                    Event::Message(Data::from("a\x1ebé")),
                    Event::Message(Data::Binary(Bytes::from_static(&[1, 2]))),
                    Event::Message(Data::from("z")),
                ]
            );
            s.send(Data::from("x\x1ey")).unwrap();
        }

        #[test]
        fn upgrade_takes_the_websocket_request_b64() {
            let (t0, mut s) = open(false);
            poll(&mut s, t0);
            s.begin_upgrade(t0).unwrap();
            s.set_probe_protocol(Protocol::V3 { binary: true });
            s.handle_ws_text(t0, "2probe");
            assert_eq!(s.poll_ws_frame(), Some(Packet::Pong("probe".into())));
            assert_eq!(poll(&mut s, t0), Some(Body::Text("1:6".into())));
            s.handle_ws_text(t0, "5");
            assert_eq!(s.poll_event(), Some(Event::Upgraded));
            assert_eq!(s.protocol(), Protocol::V3 { binary: true });
            s.handle_ws_binary(t0, Bytes::from_static(&[4, 7]));
            assert_eq!(
                s.poll_event(),
                Some(Event::Message(Data::Binary(Bytes::from_static(&[7]))))
            );
            s.handle_ws_text(t0, "2");
            assert_eq!(s.poll_ws_frame(), Some(Packet::Pong(String::new())));
        }
    }
}
