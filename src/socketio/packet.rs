//! Socket.IO v5 packet model and its canonical text encoder.
//!
//! Implements socket.io-protocol v5, README "Exchange protocol" (the packet
//! fields and the packet type table) and "Packet encoding" (the encoder side
//! of `<packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]`).
//!
//! Encoding is canonical: the namespace is written only when it differs from
//! the main namespace `/` (and is then followed by `,`, even when nothing else
//! follows, e.g. `0/admin,`), the acknowledgement id is written in plain
//! decimal, and the payload is written as compact JSON. Binary attachments are
//! never part of the text: the caller sends each element of
//! [`Packet::attachments`] as its own binary Engine.IO message after the text.

use std::fmt;

use bytes::Bytes;
use serde_json::{Map, Value};

/// The seven Socket.IO packet types (socket.io-protocol v5, "Exchange
/// protocol", packet type table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: connection to a namespace (request and approval).
    Connect,
    /// `1`: disconnection from a namespace.
    Disconnect,
    /// `2`: an event without binary data.
    Event,
    /// `3`: acknowledgement of an event, without binary data.
    Ack,
    /// `4`: refusal of a namespace connection.
    ConnectError,
    /// `5`: an event whose arguments contain binary data.
    BinaryEvent,
    /// `6`: an acknowledgement whose arguments contain binary data.
    BinaryAck,
}

impl PacketType {
    /// Every packet type, in wire-digit order.
    pub const ALL: [PacketType; 7] = [
        PacketType::Connect,
        PacketType::Disconnect,
        PacketType::Event,
        PacketType::Ack,
        PacketType::ConnectError,
        PacketType::BinaryEvent,
        PacketType::BinaryAck,
    ];

    /// Maps a wire digit value (`0..=6`, not the ASCII character) to its type.
    pub fn from_digit(digit: u8) -> Option<Self> {
        Self::ALL.get(usize::from(digit)).copied()
    }

    /// The wire digit value (`0..=6`) of this type.
    pub fn as_digit(self) -> u8 {
        match self {
            PacketType::Connect => 0,
            PacketType::Disconnect => 1,
            PacketType::Event => 2,
            PacketType::Ack => 3,
            PacketType::ConnectError => 4,
            PacketType::BinaryEvent => 5,
            PacketType::BinaryAck => 6,
        }
    }

    /// The ASCII character written on the wire for this type (`'0'..='6'`).
    pub fn as_char(self) -> char {
        char::from(b'0' + self.as_digit())
    }

    /// Whether packets of this type carry binary attachments
    /// (`BINARY_EVENT` and `BINARY_ACK`).
    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }

    /// The spec name of this type, e.g. `"CONNECT_ERROR"`.
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Event => "EVENT",
            PacketType::Ack => "ACK",
            PacketType::ConnectError => "CONNECT_ERROR",
            PacketType::BinaryEvent => "BINARY_EVENT",
            PacketType::BinaryAck => "BINARY_ACK",
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The main namespace, omitted on the wire.
pub const MAIN_NAMESPACE: &str = "/";

/// One complete Socket.IO packet (socket.io-protocol v5, "Exchange protocol").
///
/// `data` keeps binary placeholders (`{"_placeholder":true,"num":N}`)
/// verbatim; `attachments[N]` is the binary part that placeholder `N` refers
/// to. For non-binary kinds `attachments` is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace, `"/"` when absent on the wire. Must start with `/` and
    /// must not contain `,` (a comma ends the namespace on the wire, so such a
    /// packet cannot be decoded back; see [`Packet::is_encodable`]).
    pub namespace: String,
    /// The acknowledgement id, if any.
    pub ack_id: Option<u64>,
    /// The JSON payload, placeholders kept verbatim.
    pub data: Option<Value>,
    /// Binary attachments, in placeholder order (binary kinds only).
    pub attachments: Vec<Bytes>,
}

impl Packet {
    fn new(kind: PacketType, namespace: impl Into<String>, data: Option<Value>) -> Self {
        Packet {
            kind,
            namespace: namespace.into(),
            ack_id: None,
            data,
            attachments: Vec::new(),
        }
    }

    /// A `CONNECT` packet. The client sends it with an optional auth object;
    /// the server answers with `{"sid": ...}`.
    pub fn connect(namespace: impl Into<String>, data: Option<Value>) -> Self {
        Self::new(PacketType::Connect, namespace, data)
    }

    /// A `DISCONNECT` packet (never has a payload).
    pub fn disconnect(namespace: impl Into<String>) -> Self {
        Self::new(PacketType::Disconnect, namespace, None)
    }

    /// An `EVENT` packet; `args[0]` is the event name. Pass an `ack_id` to
    /// request an acknowledgement.
    pub fn event(namespace: impl Into<String>, args: Vec<Value>, ack_id: Option<u64>) -> Self {
        let mut p = Self::new(PacketType::Event, namespace, Some(Value::Array(args)));
        p.ack_id = ack_id;
        p
    }

    /// An `ACK` packet answering the event with id `ack_id`.
    pub fn ack(namespace: impl Into<String>, args: Vec<Value>, ack_id: u64) -> Self {
        let mut p = Self::new(PacketType::Ack, namespace, Some(Value::Array(args)));
        p.ack_id = Some(ack_id);
        p
    }

    /// A `CONNECT_ERROR` packet with payload `{"message": message}` plus a
    /// `"data"` key when `data` is `Some`.
    pub fn connect_error(
        namespace: impl Into<String>,
        message: impl Into<String>,
        data: Option<Value>,
    ) -> Self {
        let mut obj = Map::new();
        obj.insert("message".to_owned(), Value::String(message.into()));
        if let Some(d) = data {
            obj.insert("data".to_owned(), d);
        }
        Self::new(
            PacketType::ConnectError,
            namespace,
            Some(Value::Object(obj)),
        )
    }

    /// An event whose `args` may contain placeholders (see
    /// [`placeholder`](super::binary::placeholder)) referring to
    /// `attachments`. The kind is `BINARY_EVENT` when `attachments` is
    /// non-empty and `EVENT` otherwise, as the reference encoder decides.
    pub fn event_with_binary(
        namespace: impl Into<String>,
        args: Vec<Value>,
        ack_id: Option<u64>,
        attachments: Vec<Bytes>,
    ) -> Self {
        let mut p = Self::event(namespace, args, ack_id);
        if !attachments.is_empty() {
            p.kind = PacketType::BinaryEvent;
            p.attachments = attachments;
        }
        p
    }

    /// An acknowledgement whose `args` may contain placeholders referring to
    /// `attachments`: `BINARY_ACK` when `attachments` is non-empty, `ACK`
    /// otherwise.
    pub fn ack_with_binary(
        namespace: impl Into<String>,
        args: Vec<Value>,
        ack_id: u64,
        attachments: Vec<Bytes>,
    ) -> Self {
        let mut p = Self::ack(namespace, args, ack_id);
        if !attachments.is_empty() {
            p.kind = PacketType::BinaryAck;
            p.attachments = attachments;
        }
        p
    }

    /// The event name of an `EVENT`/`BINARY_EVENT` packet, when the first
    /// argument is a string (the reference also allows a number there).
    pub fn event_name(&self) -> Option<&str> {
        match (&self.kind, &self.data) {
            (PacketType::Event | PacketType::BinaryEvent, Some(Value::Array(args))) => {
                args.first().and_then(Value::as_str)
            }
            _ => None,
        }
    }

    /// Whether [`encode`](Self::encode) produces text that decodes back to
    /// this packet's header: the namespace starts with `/` and holds no `,`,
    /// binary kinds have at least one attachment (the reference decoder
    /// rejects an attachment count of 0) and other kinds none, and the ack id
    /// is at most [`MAX_ACK_ID`](super::parse::MAX_ACK_ID). Payload validity
    /// and the decoder's [`Limits`](super::parse::Limits) are not checked.
    pub fn is_encodable(&self) -> bool {
        let ns_ok = self.namespace.starts_with('/') && !self.namespace.contains(',');
        let att_ok = self.kind.is_binary() != self.attachments.is_empty();
        let id_ok = self.ack_id.is_none_or(|id| id <= super::parse::MAX_ACK_ID);
        ns_ok && att_ok && id_ok
    }

    /// The text part of this packet (socket.io-protocol v5, "Packet
    /// encoding"). For binary kinds the attachment count written is
    /// `attachments.len()`; the attachments themselves follow as separate
    /// binary messages.
    pub fn encode(&self) -> String {
        // serde_json's own first guess; one growth at most for most events.
        let mut out = String::with_capacity(128);
        self.encode_into(&mut out);
        out
    }

    /// Appends the text part of this packet to `out` (see
    /// [`encode`](Self::encode)).
    pub fn encode_into(&self, out: &mut String) {
        write_header(
            out,
            self.kind,
            self.attachments.len(),
            &self.namespace,
            self.ack_id,
        );
        write_utf8(out, |bytes| {
            if let Some(data) = &self.data {
                // Compact JSON, like JSON.stringify. Serializing a `Value`
                // into a `Vec` cannot fail.
                let _ = serde_json::to_writer(bytes, data);
            }
        });
    }
}

/// Appends to `out` what `write` writes as bytes, which must be UTF-8.
///
/// JSON is written as bytes (serde_json's writer), not through `Display`,
/// whose formatter costs a call and a bounds check per token; the bytes are
/// UTF-8 by construction, checked once at the end.
pub(crate) fn write_utf8(out: &mut String, write: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::mem::take(out).into_bytes();
    write(&mut bytes);
    *out = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
}

/// Writes everything of a text packet before its payload
/// (socket.io-protocol v5, "Packet encoding › Format"):
/// `<packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>]`.
pub(crate) fn write_header(
    out: &mut String,
    kind: PacketType,
    attachments: usize,
    namespace: &str,
    ack_id: Option<u64>,
) {
    out.push(kind.as_char());
    if kind.is_binary() {
        push_decimal(out, attachments as u64);
        out.push('-');
    }
    if !namespace.is_empty() && namespace != MAIN_NAMESPACE {
        out.push_str(namespace);
        out.push(',');
    }
    if let Some(id) = ack_id {
        push_decimal(out, id);
    }
}

/// How many bytes [`write_header`] writes.
pub(crate) fn header_len(
    kind: PacketType,
    attachments: usize,
    namespace: &str,
    ack_id: Option<u64>,
) -> usize {
    let mut len = 1;
    if kind.is_binary() {
        len += decimal_len(attachments as u64) + 1;
    }
    if !namespace.is_empty() && namespace != MAIN_NAMESPACE {
        len += namespace.len() + 1;
    }
    len + ack_id.map_or(0, decimal_len)
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&digit| char::from(digit)));
}

/// How many digits `n` has in decimal.
fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digits_round_trip() {
        for d in 0..=6u8 {
            let t = PacketType::from_digit(d);
            assert_eq!(t.map(PacketType::as_digit), Some(d));
        }
        assert_eq!(PacketType::from_digit(7), None);
        assert_eq!(PacketType::from_digit(255), None);
    }

    #[test]
    fn display_uses_spec_names() {
        let names: Vec<String> = PacketType::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "CONNECT",
                "DISCONNECT",
                "EVENT",
                "ACK",
                "CONNECT_ERROR",
                "BINARY_EVENT",
                "BINARY_ACK"
            ]
        );
        assert!(PacketType::BinaryAck.is_binary());
        assert!(!PacketType::Ack.is_binary());
    }

    #[test]
    fn encodes_namespace_only_when_not_main() {
        assert_eq!(Packet::connect("/", None).encode(), "0");
        assert_eq!(Packet::connect("/admin", None).encode(), "0/admin,");
        assert_eq!(Packet::disconnect("/admin").encode(), "1/admin,");
        assert_eq!(
            Packet::event("/admin", vec![json!("foo")], Some(13)).encode(),
            r#"2/admin,13["foo"]"#
        );
    }

    #[test]
    fn ack_ids_and_attachment_counts_are_written_in_decimal() {
        assert_eq!(Packet::ack("/", vec![], 0).encode(), "30[]");
        assert_eq!(
            Packet::ack("/", vec![json!("é")], u64::MAX).encode(),
            format!("3{}[\"é\"]", u64::MAX)
        );
        let attachments = vec![Bytes::new(); 10];
        let p = Packet::ack_with_binary("/", vec![], 7, attachments);
        assert_eq!(p.encode(), "610-7[]");
    }

    #[test]
    fn encode_into_appends() {
        let mut s = String::from("4");
        Packet::ack("/", vec![], 12).encode_into(&mut s);
        assert_eq!(s, "4312[]");
    }

    #[test]
    fn connect_error_payload_shape() {
        let p = Packet::connect_error("/", "Not authorized", None);
        assert_eq!(p.data, Some(json!({"message": "Not authorized"})));
        let p = Packet::connect_error("/", "nope", Some(json!({"code": 3})));
        assert_eq!(
            p.data,
            Some(json!({"message": "nope", "data": {"code": 3}}))
        );
    }

    #[test]
    fn binary_helpers_choose_kind_from_attachments() {
        let p = Packet::event_with_binary("/", vec![json!("a")], None, vec![]);
        assert_eq!(p.kind, PacketType::Event);
        let p = Packet::event_with_binary(
            "/",
            vec![json!("a"), json!({"_placeholder": true, "num": 0})],
            Some(1),
            vec![Bytes::from_static(&[1, 2])],
        );
        assert_eq!(p.kind, PacketType::BinaryEvent);
        assert_eq!(p.encode(), r#"51-1["a",{"_placeholder":true,"num":0}]"#);
        let p = Packet::ack_with_binary("/", vec![], 4, vec![]);
        assert_eq!(p.kind, PacketType::Ack);
        let p = Packet::ack_with_binary("/x", vec![], 4, vec![Bytes::new()]);
        assert_eq!(p.kind, PacketType::BinaryAck);
        assert_eq!(p.encode(), "61-/x,4[]");
    }

    #[test]
    fn event_name_and_encodability() {
        let p = Packet::event("/", vec![json!("hey"), json!(1)], None);
        assert_eq!(p.event_name(), Some("hey"));
        assert!(p.is_encodable());
        assert_eq!(Packet::ack("/", vec![json!("x")], 1).event_name(), None);
        assert!(!Packet::connect("/a,b", None).is_encodable());
        assert!(!Packet::connect("admin", None).is_encodable());
        let mut p = Packet::event("/", vec![json!("x")], None);
        p.kind = PacketType::BinaryEvent;
        assert!(!p.is_encodable());
    }
}
