//! Socket.IO v5 text packet decoder (the header and JSON payload of one
//! Engine.IO message), written as nom parsers over complete `&str` input.
//!
//! Implements socket.io-protocol v5, README "Packet encoding" › Format:
//!
//! ```text
//! <packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]
//! ```
//!
//! with one parser per grammar piece, and the payload validation rules of the
//! reference parser (`socket.io-parser`, `Decoder.isPayloadValid` in
//! `lib/index.ts`), plus the resource [`Limits`] below. Binary attachments
//! are not handled here: see [`binary::Decoder`](super::binary::Decoder),
//! which uses [`decode_text`] and then collects the attachments.
//!
//! Deliberate differences from the reference, all stricter:
//! - `EVENT`/`BINARY_EVENT` and `ACK`/`BINARY_ACK` must have a payload (the
//!   spec says it is mandatory; the reference decoder lets it be absent).
//! - The acknowledgement id must be at most [`MAX_ACK_ID`] (2^53 - 1,
//!   JavaScript's `Number.MAX_SAFE_INTEGER`); the reference converts any
//!   digit run with `Number(...)` and so silently loses precision above it.
//! - Attachment counts and ack ids are plain ASCII digits (the reference's
//!   `Number(buf)` would also accept e.g. `+1` or ` 1`).
//! - A placeholder's `num` must be a non-negative JSON integer (the reference
//!   also accepts `0.0`).
//!
//! Leniencies kept from the reference: a namespace may end at the end of the
//! input without its `,` (`0/admin` decodes like `0/admin,`), an ack id may
//! have leading zeros, an ack id is accepted on any packet type, and JSON
//! whitespace may surround the payload.

use std::fmt;

use nom::bytes::complete::take_till;
use nom::character::complete::{anychar, char, digit1};
use nom::combinator::{all_consuming, opt, recognize};
use nom::error::{ErrorKind, ParseError};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use serde_json::Value;

use super::binary::validate_placeholders;
use super::packet::{MAIN_NAMESPACE, Packet, PacketType};

mod plain;
pub use plain::{Plain, decode_plain};

/// The largest acknowledgement id accepted: 2^53 - 1, JavaScript's
/// `Number.MAX_SAFE_INTEGER`, the largest integer a JavaScript peer can
/// represent exactly (the reference parser stores ids as JS numbers).
pub const MAX_ACK_ID: u64 = (1 << 53) - 1;

/// Event names that the reference parser refuses in `EVENT`/`BINARY_EVENT`
/// packets because they have a special meaning to the JavaScript APIs
/// (`RESERVED_EVENTS` in `socket.io-parser/lib/index.ts`).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Resource bounds applied while decoding untrusted input.
///
/// The overall message size is bounded one layer down (Engine.IO
/// `maxPayload`); these bound what a message of acceptable size can make the
/// decoder do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted declared attachment count of a `BINARY_EVENT` /
    /// `BINARY_ACK` header. Default **10**, the default `maxAttachments` of
    /// the reference parser. Bounds memory: a peer could otherwise declare a
    /// huge count and make the server buffer that many binary messages
    /// (each up to `maxPayload`). Checked on the declared count, before
    /// anything is allocated.
    pub max_attachments: usize,
    /// Longest accepted namespace, in bytes, including the leading `/`.
    /// Default **256** (reference: unbounded). Bounds the memory retained
    /// per namespace name and the cost of logging or looking up
    /// attacker-chosen names.
    pub max_namespace_len: usize,
    /// Longest accepted event name (a string first argument of an
    /// `EVENT`/`BINARY_EVENT`), in bytes. Default **256** (reference:
    /// unbounded). Bounds handler lookup and logging cost for
    /// attacker-chosen names.
    pub max_event_name_len: usize,
    /// Deepest accepted nesting of JSON arrays/objects in the payload (the
    /// outermost array or object is depth 1). Default **32** (reference:
    /// unbounded; its test app crashes on an echoed payload 100,000 deep,
    /// see `docs/limits.md`). Checked by a linear bracket scan *before* the
    /// JSON parser runs, so a payload like `[[[[...` never costs recursion
    /// (stack) in the parser nor in later recursive walks of the value. Note `serde_json` itself refuses depths
    /// beyond 128, so values above 127 behave like 127 (reported as
    /// [`DecodeError::Json`]).
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attachments: 10,
            max_namespace_len: 256,
            max_event_name_len: 256,
            max_json_depth: 32,
        }
    }
}

impl Limits {
    /// Returns these limits with [`max_attachments`](Self::max_attachments) set.
    pub fn with_max_attachments(mut self, max: usize) -> Self {
        self.max_attachments = max;
        self
    }

    /// Returns these limits with [`max_namespace_len`](Self::max_namespace_len) set.
    pub fn with_max_namespace_len(mut self, max: usize) -> Self {
        self.max_namespace_len = max;
        self
    }

    /// Returns these limits with [`max_event_name_len`](Self::max_event_name_len) set.
    pub fn with_max_event_name_len(mut self, max: usize) -> Self {
        self.max_event_name_len = max;
        self
    }

    /// Returns these limits with [`max_json_depth`](Self::max_json_depth) set.
    pub fn with_max_json_depth(mut self, max: usize) -> Self {
        self.max_json_depth = max;
        self
    }
}

/// Why a Socket.IO message was refused. One variant per malformation; the
/// receiver is expected to close the connection (socket.io-protocol v5 says
/// so for an invalid `EVENT` payload, and the reference server does it for
/// any decoding error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The text message was empty (no packet type).
    Empty,
    /// The first character is not a packet type digit `0`..=`6`.
    UnknownPacketType(char),
    /// A `BINARY_EVENT`/`BINARY_ACK` header without an attachment count
    /// (no digits after the type), or with a count of 0 (refused by the
    /// reference parser: binary packets have at least one attachment).
    InvalidAttachmentCount,
    /// An attachment count not followed by `-` (e.g. `51["a"]`).
    AttachmentCountWithoutDash,
    /// The declared attachment count exceeds [`Limits::max_attachments`].
    /// `declared` saturates at `usize::MAX` for absurdly long digit runs.
    TooManyAttachments {
        /// The count the header declared.
        declared: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A non-binary packet type followed by an attachment count (`N-`).
    UnexpectedAttachmentCount {
        /// The packet type that may not carry attachments.
        kind: PacketType,
    },
    /// The namespace is longer than [`Limits::max_namespace_len`].
    NamespaceTooLong {
        /// Length of the namespace in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The acknowledgement id is not a plain non-negative decimal integer
    /// (negative, followed by letters, a `.` or a `-`, ...).
    InvalidAckId,
    /// The acknowledgement id is greater than [`MAX_ACK_ID`].
    AckIdOutOfRange {
        /// The largest accepted id ([`MAX_ACK_ID`]).
        max: u64,
    },
    /// The payload nests arrays/objects deeper than
    /// [`Limits::max_json_depth`].
    NestingTooDeep {
        /// The configured maximum.
        max: usize,
    },
    /// The payload is not valid JSON; holds `serde_json`'s message.
    Json(String),
    /// Input left over after a complete payload (or after the header when the
    /// grammar cannot continue).
    TrailingData,
    /// The payload's presence or JSON type is not allowed for this packet
    /// type: `CONNECT` absent or an object; `DISCONNECT` absent;
    /// `CONNECT_ERROR` a string or an object; `EVENT`/`BINARY_EVENT` a
    /// non-empty array whose first element is a string or a number;
    /// `ACK`/`BINARY_ACK` an array.
    InvalidPayload {
        /// The packet type whose payload rule was broken.
        kind: PacketType,
    },
    /// The event name is longer than [`Limits::max_event_name_len`].
    EventNameTooLong {
        /// Length of the name in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The event name is one of [`RESERVED_EVENTS`].
    ReservedEventName(String),
    /// A `{"_placeholder":true,...}` object whose `num` is missing, not a
    /// non-negative integer, or not below the attachment count.
    InvalidPlaceholder {
        /// The `num` value when it is a non-negative integer, else `None`.
        num: Option<u64>,
        /// The number of attachments of the packet.
        attachments: usize,
    },
    /// A text message arrived while the attachments of a binary packet were
    /// still expected.
    UnexpectedText,
    /// A binary message arrived while no binary packet was being collected.
    UnexpectedAttachment,
    /// A msgpack-parser packet that is not well-formed MessagePack or not a
    /// packet map (see [`msgpack`](super::msgpack)); says what was wrong.
    Msgpack(&'static str),
    /// The input did not match the grammar in a way no other variant
    /// describes. Not expected to occur; kept so that decoding never panics.
    Malformed,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty packet"),
            DecodeError::UnknownPacketType(c) => write!(f, "unknown packet type {c:?}"),
            DecodeError::InvalidAttachmentCount => f.write_str("invalid attachment count"),
            DecodeError::AttachmentCountWithoutDash => {
                f.write_str("attachment count not followed by '-'")
            }
            DecodeError::TooManyAttachments { declared, max } => {
                write!(
                    f,
                    "too many attachments: {declared} declared, at most {max}"
                )
            }
            DecodeError::UnexpectedAttachmentCount { kind } => {
                write!(f, "{kind} packet cannot carry attachments")
            }
            DecodeError::NamespaceTooLong { len, max } => {
                write!(f, "namespace too long: {len} bytes, at most {max}")
            }
            DecodeError::InvalidAckId => f.write_str("invalid acknowledgement id"),
            DecodeError::AckIdOutOfRange { max } => {
                write!(f, "acknowledgement id out of range (at most {max})")
            }
            DecodeError::NestingTooDeep { max } => {
                write!(f, "JSON payload nested deeper than {max}")
            }
            DecodeError::Json(msg) => write!(f, "invalid JSON payload: {msg}"),
            DecodeError::TrailingData => f.write_str("trailing data after packet"),
            DecodeError::InvalidPayload { kind } => write!(f, "invalid payload for {kind}"),
            DecodeError::EventNameTooLong { len, max } => {
                write!(f, "event name too long: {len} bytes, at most {max}")
            }
            DecodeError::ReservedEventName(name) => write!(f, "reserved event name {name:?}"),
            DecodeError::InvalidPlaceholder { num, attachments } => match num {
                Some(n) => write!(
                    f,
                    "placeholder {n} out of range ({attachments} attachments)"
                ),
                None => f.write_str("placeholder without a valid num"),
            },
            DecodeError::UnexpectedText => {
                f.write_str("text packet while binary attachments were expected")
            }
            DecodeError::UnexpectedAttachment => {
                f.write_str("binary attachment while no binary packet was pending")
            }
            DecodeError::Msgpack(what) => write!(f, "invalid msgpack packet: {what}"),
            DecodeError::Malformed => f.write_str("malformed packet"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A decoded text message: a [`Packet`] without its attachments, plus the
/// number of binary messages that must follow (0 for non-binary types).
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace, `"/"` when absent on the wire.
    pub namespace: String,
    /// The acknowledgement id, if any (at most [`MAX_ACK_ID`]).
    pub ack_id: Option<u64>,
    /// The validated payload, placeholders kept verbatim.
    pub data: Option<Value>,
    /// Attachments declared by a binary header (at least 1 for binary types,
    /// at most [`Limits::max_attachments`]); 0 for other types.
    pub expected_attachments: usize,
}

impl Header {
    /// Builds the packet once its attachments are known. Does not check that
    /// `attachments.len() == self.expected_attachments`.
    pub fn into_packet(self, attachments: Vec<bytes::Bytes>) -> Packet {
        Packet {
            kind: self.kind,
            namespace: self.namespace,
            ack_id: self.ack_id,
            data: self.data,
            attachments,
        }
    }
}

/// nom error type of the grammar pieces: every failure is already a
/// [`DecodeError`]; nom's own error kinds are mapped in `from_error_kind`.
#[derive(Debug)]
struct Fail(DecodeError);

impl<'a> ParseError<&'a str> for Fail {
    fn from_error_kind(_input: &'a str, kind: ErrorKind) -> Self {
        // `all_consuming` reports leftover input as `Eof`.
        Fail(if kind == ErrorKind::Eof {
            DecodeError::TrailingData
        } else {
            DecodeError::Malformed
        })
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, O> = IResult<&'a str, O, Fail>;

fn fail<'a, O>(e: DecodeError) -> PResult<'a, O> {
    Err(nom::Err::Failure(Fail(e)))
}

/// Parses a run of ASCII digits as a `u64`, `None` on overflow.
fn decimal(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?
            .checked_add(u64::from(b.wrapping_sub(b'0')))
    })
}

/// `<packet type>`: one digit `0`..=`6`.
///
/// Grammar (socket.io-protocol v5, Packet encoding › Format):
/// `<packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]`
fn packet_type(input: &str) -> PResult<'_, PacketType> {
    if input.is_empty() {
        return fail(DecodeError::Empty);
    }
    let (rest, c) = anychar(input)?;
    let kind = c
        .to_digit(10)
        .and_then(|d| u8::try_from(d).ok())
        .and_then(PacketType::from_digit);
    match kind {
        Some(kind) => Ok((rest, kind)),
        None => fail(DecodeError::UnknownPacketType(c)),
    }
}

/// `[<# of binary attachments>-]`: decimal count then `-`, present exactly
/// for `BINARY_EVENT`/`BINARY_ACK`. Returns 0 for other types.
///
/// Grammar (socket.io-protocol v5, Packet encoding › Format):
/// `<packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]`
fn attachment_count(input: &str, kind: PacketType, max: usize) -> PResult<'_, usize> {
    let (after_digits, digits) = opt(digit1).parse(input)?;
    let (after_dash, dash) = opt(char('-')).parse(after_digits)?;
    if !kind.is_binary() {
        if digits.is_some() && dash.is_some() {
            return fail(DecodeError::UnexpectedAttachmentCount { kind });
        }
        return Ok((input, 0));
    }
    let Some(digits) = digits else {
        return fail(DecodeError::InvalidAttachmentCount);
    };
    if dash.is_none() {
        return fail(DecodeError::AttachmentCountWithoutDash);
    }
    let declared = decimal(digits)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    if declared == 0 {
        return fail(DecodeError::InvalidAttachmentCount);
    }
    if declared > max {
        return fail(DecodeError::TooManyAttachments { declared, max });
    }
    Ok((after_dash, declared))
}

/// `[<namespace>,]`: starts with `/`, runs up to the next `,` (consumed) or
/// the end of input. Absent means the main namespace `/`.
///
/// Grammar (socket.io-protocol v5, Packet encoding › Format):
/// `<packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]`
fn namespace(input: &str, max_len: usize) -> PResult<'_, &str> {
    let (rest, ns) = opt(recognize(preceded(char('/'), take_till(|c| c == ',')))).parse(input)?;
    let Some(ns) = ns else {
        return Ok((input, MAIN_NAMESPACE));
    };
    if ns.len() > max_len {
        return fail(DecodeError::NamespaceTooLong {
            len: ns.len(),
            max: max_len,
        });
    }
    let (rest, _) = opt(char(',')).parse(rest)?;
    Ok((rest, ns))
}

/// `[<acknowledgment id>]`: a run of ASCII digits, at most [`MAX_ACK_ID`].
///
/// Grammar (socket.io-protocol v5, Packet encoding › Format):
/// `<packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]`
fn ack_id(input: &str) -> PResult<'_, Option<u64>> {
    // No valid payload starts with `-`, so `-<digit>` can only be a negative id.
    if let Some(after_minus) = input.strip_prefix('-') {
        if after_minus.starts_with(|c: char| c.is_ascii_digit()) {
            return fail(DecodeError::InvalidAckId);
        }
    }
    let (rest, digits) = opt(digit1).parse(input)?;
    let Some(digits) = digits else {
        return Ok((input, None));
    };
    // `12a[...]`, `1.5[...]`, `1e3[...]`, `1-[...]`: not a plain integer id.
    if rest.starts_with(|c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '+' | '_')) {
        return fail(DecodeError::InvalidAckId);
    }
    match decimal(digits) {
        Some(id) if id <= MAX_ACK_ID => Ok((rest, Some(id))),
        _ => fail(DecodeError::AckIdOutOfRange { max: MAX_ACK_ID }),
    }
}

/// Checks that `text` nests `[`/`{` at most `max` deep, ignoring brackets
/// inside JSON strings. Linear, no recursion.
fn check_depth(text: &str, max: usize) -> Result<(), DecodeError> {
    // The depth is at most the number of `[` and `{`: when they are few (as
    // in nearly every packet), a count (which the compiler vectorises) is
    // enough, and the exact scan below is skipped.
    if text.bytes().filter(|&b| b == b'[' || b == b'{').count() <= max {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for b in text.bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(DecodeError::NestingTooDeep { max });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn is_json_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `[JSON-stringified payload without binary]`: one JSON value (with
/// optional surrounding JSON whitespace), or nothing. Anything after the
/// value is left unconsumed (and refused by `all_consuming`).
///
/// Grammar (socket.io-protocol v5, Packet encoding › Format):
/// `<packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]`
fn payload(input: &str, max_depth: usize) -> PResult<'_, Option<Value>> {
    if input.is_empty() {
        return Ok((input, None));
    }
    if let Err(e) = check_depth(input, max_depth) {
        return fail(e);
    }
    let mut stream = serde_json::Deserializer::from_str(input).into_iter::<Value>();
    match stream.next() {
        Some(Ok(value)) => {
            let Some(rest) = input.get(stream.byte_offset()..) else {
                return fail(DecodeError::Malformed);
            };
            Ok((rest.trim_start_matches(is_json_whitespace), Some(value)))
        }
        Some(Err(e)) => fail(DecodeError::Json(e.to_string())),
        // Only whitespace: let the plain parser produce its EOF message.
        None => match serde_json::from_str::<Value>(input) {
            Err(e) => fail(DecodeError::Json(e.to_string())),
            Ok(_) => fail(DecodeError::Malformed),
        },
    }
}

/// The whole grammar, in order; no payload validation.
fn header<'a>(input: &'a str, limits: &Limits) -> PResult<'a, Header> {
    let (input, kind) = packet_type(input)?;
    let (input, expected_attachments) = attachment_count(input, kind, limits.max_attachments)?;
    let (input, ns) = namespace(input, limits.max_namespace_len)?;
    let (input, ack_id) = ack_id(input)?;
    let (input, data) = payload(input, limits.max_json_depth)?;
    Ok((
        input,
        Header {
            kind,
            namespace: ns.to_owned(),
            ack_id,
            data,
            expected_attachments,
        },
    ))
}

/// Applies the reference parser's `isPayloadValid` rules (plus the
/// mandatory payload of events and acks, and the event name limits).
pub(crate) fn validate_payload(
    kind: PacketType,
    data: Option<&Value>,
    limits: &Limits,
) -> Result<(), DecodeError> {
    let invalid = Err(DecodeError::InvalidPayload { kind });
    match (kind, data) {
        (PacketType::Connect, None | Some(Value::Object(_))) => Ok(()),
        (PacketType::Disconnect, None) => Ok(()),
        (PacketType::ConnectError, Some(Value::String(_) | Value::Object(_))) => Ok(()),
        (PacketType::Event | PacketType::BinaryEvent, Some(Value::Array(args))) => {
            match args.first() {
                // The reference accepts a number as the event name.
                Some(Value::Number(_)) => Ok(()),
                Some(Value::String(name)) => {
                    if RESERVED_EVENTS.contains(&name.as_str()) {
                        return Err(DecodeError::ReservedEventName(name.clone()));
                    }
                    if name.len() > limits.max_event_name_len {
                        return Err(DecodeError::EventNameTooLong {
                            len: name.len(),
                            max: limits.max_event_name_len,
                        });
                    }
                    Ok(())
                }
                _ => invalid,
            }
        }
        (PacketType::Ack | PacketType::BinaryAck, Some(Value::Array(_))) => Ok(()),
        _ => invalid,
    }
}

/// Decodes and validates one Socket.IO text message (the Engine.IO message
/// payload, without the Engine.IO `4` prefix).
///
/// For `BINARY_EVENT`/`BINARY_ACK` the returned header says how many binary
/// messages must follow, and its placeholders have already been checked
/// against that count. Never panics.
pub fn decode_text(input: &str, limits: &Limits) -> Result<Header, DecodeError> {
    let (_, header) = all_consuming(|i| header(i, limits))
        .parse(input)
        .map_err(|e| match e {
            nom::Err::Error(Fail(e)) | nom::Err::Failure(Fail(e)) => e,
            nom::Err::Incomplete(_) => DecodeError::Malformed,
        })?;
    validate_payload(header.kind, header.data.as_ref(), limits)?;
    if header.kind.is_binary() {
        if let Some(data) = &header.data {
            validate_placeholders(data, header.expected_attachments)?;
        }
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dec(s: &str) -> Result<Header, DecodeError> {
        decode_text(s, &Limits::default())
    }

    fn hdr(kind: PacketType, ns: &str, id: Option<u64>, data: Option<Value>, n: usize) -> Header {
        Header {
            kind,
            namespace: ns.to_owned(),
            ack_id: id,
            data,
            expected_attachments: n,
        }
    }

    /// Header-level known answers; the full table with attachments lives in
    /// `binary::tests`.
    #[test]
    fn header_known_answers() {
        use PacketType::*;
        let rows = [
            ("0", hdr(Connect, "/", None, None, 0)),
            ("0/admin,", hdr(Connect, "/admin", None, None, 0)),
            ("0/admin", hdr(Connect, "/admin", None, None, 0)),
            ("1", hdr(Disconnect, "/", None, None, 0)),
            (
                r#"212["foo"]"#,
                hdr(Event, "/", Some(12), Some(json!(["foo"])), 0),
            ),
            (
                r#"2007["foo"]"#,
                hdr(Event, "/", Some(7), Some(json!(["foo"])), 0),
            ),
            (
                r#"2/a/b,["x"]"#,
                hdr(Event, "/a/b", None, Some(json!(["x"])), 0),
            ),
            (r#"2 ["x"] "#, hdr(Event, "/", None, Some(json!(["x"])), 0)),
            ("2[42]", hdr(Event, "/", None, Some(json!([42])), 0)),
            (
                r#"4"oops""#,
                hdr(ConnectError, "/", None, Some(json!("oops")), 0),
            ),
            (
                r#"52-/x,9["a",{"_placeholder":true,"num":1}]"#,
                hdr(
                    BinaryEvent,
                    "/x",
                    Some(9),
                    Some(json!(["a", {"_placeholder": true, "num": 1}])),
                    2,
                ),
            ),
        ];
        for (input, expected) in rows {
            assert_eq!(dec(input), Ok(expected), "input {input:?}");
        }
    }

    #[test]
    fn accepts_max_ack_id() {
        let h = dec(&format!(r#"3{MAX_ACK_ID}[]"#)).map(|h| h.ack_id);
        assert_eq!(h, Ok(Some(MAX_ACK_ID)));
    }

    #[test]
    fn rejects_empty_input() {
        assert_eq!(dec(""), Err(DecodeError::Empty));
    }

    #[test]
    fn rejects_unknown_packet_type() {
        assert_eq!(dec("7"), Err(DecodeError::UnknownPacketType('7')));
        assert_eq!(dec("x[]"), Err(DecodeError::UnknownPacketType('x')));
        assert_eq!(dec("é"), Err(DecodeError::UnknownPacketType('é')));
        assert_eq!(dec("٣[]"), Err(DecodeError::UnknownPacketType('٣')));
    }

    #[test]
    fn rejects_lone_event_digit() {
        let kind = PacketType::Event;
        assert_eq!(dec("2"), Err(DecodeError::InvalidPayload { kind }));
        assert_eq!(dec("2/admin,"), Err(DecodeError::InvalidPayload { kind }));
        assert_eq!(dec("212"), Err(DecodeError::InvalidPayload { kind }));
        let kind = PacketType::Ack;
        assert_eq!(dec("312"), Err(DecodeError::InvalidPayload { kind }));
    }

    #[test]
    fn rejects_event_payload_not_array() {
        let kind = PacketType::Event;
        for input in [
            r#"2{"a":1}"#,
            r#"2"foo""#,
            "2[]",
            "2[null]",
            "2[[1]]",
            "2[true]",
            "2null",
        ] {
            assert_eq!(
                dec(input),
                Err(DecodeError::InvalidPayload { kind }),
                "{input}"
            );
        }
        let kind = PacketType::BinaryEvent;
        assert_eq!(dec(r#"51-{}"#), Err(DecodeError::InvalidPayload { kind }));
    }

    #[test]
    fn rejects_wrong_payload_types_per_kind() {
        use PacketType::*;
        let rows = [
            ("0[]", Connect),
            ("0null", Connect),
            (r#"0"x""#, Connect),
            ("1{}", Disconnect),
            ("1/admin,[]", Disconnect),
            ("3{}", Ack),
            ("3", Ack),
            ("4", ConnectError),
            ("4[]", ConnectError),
            ("41", ConnectError),
            ("61-{}", BinaryAck),
        ];
        for (input, kind) in rows {
            assert_eq!(
                dec(input),
                Err(DecodeError::InvalidPayload { kind }),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_reserved_event_names() {
        for name in RESERVED_EVENTS {
            let input = format!(r#"2["{name}",1]"#);
            assert_eq!(
                dec(&input),
                Err(DecodeError::ReservedEventName(name.to_owned()))
            );
        }
        // ACK arguments are not event names.
        assert!(dec(r#"31["connect"]"#).is_ok());
    }

    #[test]
    fn rejects_event_name_too_long() {
        let name = "e".repeat(257);
        assert_eq!(
            dec(&format!(r#"2["{name}"]"#)),
            Err(DecodeError::EventNameTooLong { len: 257, max: 256 })
        );
        assert!(dec(&format!(r#"2["{}"]"#, "e".repeat(256))).is_ok());
    }

    #[test]
    fn rejects_non_numeric_ack_id() {
        for input in [
            r#"21a["foo"]"#,
            r#"21.5["foo"]"#,
            r#"21e3["foo"]"#,
            r#"2/a,7x["foo"]"#,
        ] {
            assert_eq!(dec(input), Err(DecodeError::InvalidAckId), "{input}");
        }
    }

    #[test]
    fn rejects_negative_ack_id() {
        assert_eq!(dec(r#"2-1["foo"]"#), Err(DecodeError::InvalidAckId));
        assert_eq!(dec(r#"3/admin,-12[]"#), Err(DecodeError::InvalidAckId));
        assert_eq!(
            dec(r#"51-/x,-3["a",{"_placeholder":true,"num":0}]"#),
            Err(DecodeError::InvalidAckId)
        );
    }

    #[test]
    fn rejects_ack_id_overflow() {
        let over = DecodeError::AckIdOutOfRange { max: MAX_ACK_ID };
        assert_eq!(dec(&format!(r#"3{}[]"#, MAX_ACK_ID + 1)), Err(over.clone()));
        assert_eq!(dec(r#"318446744073709551616[]"#), Err(over.clone()));
        assert_eq!(dec(&format!(r#"3{}[]"#, "9".repeat(500))), Err(over));
    }

    #[test]
    fn rejects_attachment_count_without_dash() {
        assert_eq!(
            dec(r#"51["a"]"#),
            Err(DecodeError::AttachmentCountWithoutDash)
        );
        assert_eq!(dec("61"), Err(DecodeError::AttachmentCountWithoutDash));
    }

    #[test]
    fn rejects_missing_or_zero_attachment_count() {
        assert_eq!(dec("5"), Err(DecodeError::InvalidAttachmentCount));
        assert_eq!(dec(r#"5-["a"]"#), Err(DecodeError::InvalidAttachmentCount));
        assert_eq!(dec(r#"5["a"]"#), Err(DecodeError::InvalidAttachmentCount));
        assert_eq!(dec(r#"50-["a"]"#), Err(DecodeError::InvalidAttachmentCount));
        assert_eq!(
            dec(r#"5/x,["a"]"#),
            Err(DecodeError::InvalidAttachmentCount)
        );
    }

    #[test]
    fn rejects_too_many_attachments() {
        assert_eq!(
            dec(r#"511-["a"]"#),
            Err(DecodeError::TooManyAttachments {
                declared: 11,
                max: 10
            })
        );
        assert_eq!(
            dec(r#"699999999999999999999999999-[]"#),
            Err(DecodeError::TooManyAttachments {
                declared: usize::MAX,
                max: 10
            })
        );
        let limits = Limits::default().with_max_attachments(2);
        assert_eq!(
            decode_text(r#"53-["a"]"#, &limits),
            Err(DecodeError::TooManyAttachments {
                declared: 3,
                max: 2
            })
        );
    }

    #[test]
    fn rejects_attachment_count_on_non_binary_kind() {
        for (input, kind) in [
            (r#"21-["a"]"#, PacketType::Event),
            (r#"31-[]"#, PacketType::Ack),
            ("01-", PacketType::Connect),
        ] {
            assert_eq!(
                dec(input),
                Err(DecodeError::UnexpectedAttachmentCount { kind })
            );
        }
    }

    #[test]
    fn rejects_namespace_too_long() {
        let ns = format!("/{}", "n".repeat(256));
        assert_eq!(
            dec(&format!("0{ns},")),
            Err(DecodeError::NamespaceTooLong { len: 257, max: 256 })
        );
    }

    #[test]
    fn rejects_nesting_too_deep() {
        let deep = |n: usize| format!(r#"2["a",{}1{}]"#, "[".repeat(n), "]".repeat(n));
        // The outer array is depth 1.
        assert!(dec(&deep(31)).is_ok());
        assert_eq!(dec(&deep(32)), Err(DecodeError::NestingTooDeep { max: 32 }));
        // Far beyond serde_json's own limit: refused by the scan, not the parser.
        assert_eq!(
            dec(&deep(100_000)),
            Err(DecodeError::NestingTooDeep { max: 32 })
        );
        let limits = Limits::default().with_max_json_depth(2);
        assert!(decode_text(r#"2["a",{"b":1}]"#, &limits).is_ok());
        assert_eq!(
            decode_text(r#"2["a",{"b":[]}]"#, &limits),
            Err(DecodeError::NestingTooDeep { max: 2 })
        );
        // More brackets than the limit, but side by side: not deep.
        let wide = format!(r#"2["a"{}]"#, ",[{}]".repeat(40));
        assert!(dec(&wide).is_ok());
        // Brackets inside strings (with escaped quotes) do not count.
        let s = format!(r#"2["a","\"{}"]"#, "[".repeat(100));
        assert!(dec(&s).is_ok());
    }

    #[test]
    fn rejects_trailing_garbage() {
        for input in [
            r#"2["foo"]x"#,
            r#"2["foo"]["bar"]"#,
            r#"0{}{}"#,
            r#"4"a" "b""#,
        ] {
            assert_eq!(dec(input), Err(DecodeError::TrailingData), "{input}");
        }
    }

    #[test]
    fn rejects_invalid_json() {
        for input in [r#"2["foo""#, "2[foo]", "2 ", r#"0{"a":}"#, "2x"] {
            assert!(matches!(dec(input), Err(DecodeError::Json(_))), "{input}");
        }
    }

    #[test]
    fn rejects_placeholder_out_of_range() {
        assert_eq!(
            dec(r#"51-["a",{"_placeholder":true,"num":1}]"#),
            Err(DecodeError::InvalidPlaceholder {
                num: Some(1),
                attachments: 1
            })
        );
        assert_eq!(
            dec(r#"51-["a",{"_placeholder":true,"num":-1}]"#),
            Err(DecodeError::InvalidPlaceholder {
                num: None,
                attachments: 1
            })
        );
        assert_eq!(
            dec(r#"61-[{"x":[{"_placeholder":true}]}]"#),
            Err(DecodeError::InvalidPlaceholder {
                num: None,
                attachments: 1
            })
        );
    }

    /// Regression (fuzz/sio_packet): without serde_json's exact float
    /// parsing, `-5001e39` decoded to a neighbour of the nearest double, so
    /// re-encoding it changed the number a peer receives.
    #[test]
    fn numbers_decode_exactly_and_round_trip() {
        let input = r#"2["x]",1.5,-5001e39]"#;
        let header = dec(input).unwrap();
        let nearest: f64 = "-5001e39".parse().unwrap();
        assert_eq!(header.data, Some(json!(["x]", 1.5, nearest])));
        let encoded = header.clone().into_packet(Vec::new()).encode();
        assert_eq!(dec(&encoded), Ok(header));
    }

    #[test]
    fn errors_display() {
        let e = DecodeError::TooManyAttachments {
            declared: 11,
            max: 10,
        };
        assert_eq!(
            e.to_string(),
            "too many attachments: 11 declared, at most 10"
        );
        let e: Box<dyn std::error::Error> = Box::new(DecodeError::InvalidPayload {
            kind: PacketType::Event,
        });
        assert_eq!(e.to_string(), "invalid payload for EVENT");
    }
}
