//! Reassembly of binary Socket.IO packets, as an explicit state machine, and
//! the placeholder helpers.
//!
//! Implements socket.io-protocol v5, README "Packet encoding": a
//! `BINARY_EVENT` or `BINARY_ACK` is sent as one text message
//! `5<N>-...` / `6<N>-...` whose JSON payload holds placeholders
//! `{"_placeholder":true,"num":K}`, followed by `N` binary Engine.IO
//! messages, the attachments, in placeholder order ("+ binary attachments
//! extracted"). See also "Exchange protocol" › "Sending and receiving data"
//! and "Acknowledgement" (the "with binary data" examples) and the
//! "Sample session" (`461-/admin,1[{"_placeholder":true,"num":0}]` then
//! `<binary>`).
//!
//! Sans-IO: [`Decoder`] is fed each Engine.IO message as it arrives and
//! returns complete [`Packet`]s; it performs no I/O and keeps no clock.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::packet::Packet;
use super::parse::{self, DecodeError, Header, Limits};

/// The placeholder object standing for attachment `num`:
/// `{"_placeholder":true,"num":num}`.
pub fn placeholder(num: usize) -> Value {
    let mut obj = Map::new();
    obj.insert("_placeholder".to_owned(), Value::Bool(true));
    obj.insert("num".to_owned(), Value::from(num));
    Value::Object(obj)
}

/// If `value` is a placeholder object (an object whose `_placeholder` is
/// `true`, the reference parser's test), returns its `num` when that is a
/// non-negative integer: `Some(Some(num))`; `Some(None)` for a placeholder
/// with a missing or invalid `num`; `None` when `value` is not a placeholder.
pub fn placeholder_num(value: &Value) -> Option<Option<u64>> {
    let obj = value.as_object()?;
    if obj.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    Some(obj.get("num").and_then(Value::as_u64))
}

/// Visits every placeholder in `value` (not descending into placeholders
/// themselves) without recursion, so arbitrarily deep values cannot
/// exhaust the stack. Stops early when `f` returns an error.
fn visit_placeholders<E>(
    value: &Value,
    mut f: impl FnMut(Option<u64>) -> Result<(), E>,
) -> Result<(), E> {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        if let Some(num) = placeholder_num(v) {
            f(num)?;
            continue;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Object(obj) => stack.extend(obj.values()),
            _ => {}
        }
    }
    Ok(())
}

/// Number of placeholder objects anywhere in `value` (valid or not).
pub fn count_placeholders(value: &Value) -> usize {
    let mut n = 0usize;
    let _ = visit_placeholders::<()>(value, |_| {
        n += 1;
        Ok(())
    });
    n
}

/// Checks that every placeholder in `value` has an integer `num` below
/// `attachments` (the reference parser's `_reconstructPacket` rule, except
/// that `num` must be a JSON integer). Unreferenced attachments are allowed,
/// as in the reference.
pub fn validate_placeholders(value: &Value, attachments: usize) -> Result<(), DecodeError> {
    visit_placeholders(value, |num| match num {
        Some(n) if usize::try_from(n).is_ok_and(|n| n < attachments) => Ok(()),
        _ => Err(DecodeError::InvalidPlaceholder { num, attachments }),
    })
}

/// Replaces every valid placeholder in `value` by `replace(num, &bytes)`,
/// where `bytes` is the attachment it refers to. Placeholders whose `num` is
/// invalid or out of range are left as they are (a packet from [`Decoder`]
/// has none). Useful to turn attachments into an application representation
/// (e.g. a byte array, or base64). Iterative, no recursion.
pub fn replace_placeholders(
    value: &mut Value,
    attachments: &[Bytes],
    mut replace: impl FnMut(usize, &Bytes) -> Value,
) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        let found = placeholder_num(v)
            .flatten()
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| attachments.get(n).map(|b| (n, b)));
        if let Some((n, bytes)) = found {
            *v = replace(n, bytes);
            continue;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(obj) => stack.extend(obj.values_mut()),
            _ => {}
        }
    }
}

/// What the [`Decoder`] is doing between messages.
#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Expecting a text message.
    Idle,
    /// A binary header was decoded; its attachments are arriving.
    Collecting {
        /// The decoded header, placeholders already validated.
        header: Header,
        /// Attachments received so far (fewer than expected).
        received: Vec<Bytes>,
    },
}

/// Incremental Socket.IO packet decoder for one connection.
///
/// Feed every Engine.IO `message` payload in order: text messages to
/// [`decode_text`](Self::decode_text), binary ones to
/// [`decode_binary`](Self::decode_binary). Each returns `Some(packet)` when a
/// packet is complete. After any error the decoder is back in its idle
/// state; the caller is expected to close the connection, as the reference
/// server does.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoder {
    limits: Limits,
    state: State,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Decoder {
    /// A decoder applying `limits`.
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            state: State::Idle,
        }
    }

    /// The limits this decoder applies.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a binary packet's attachments are still expected.
    pub fn is_collecting(&self) -> bool {
        matches!(self.state, State::Collecting { .. })
    }

    /// How many more binary messages the pending packet needs (0 when idle).
    pub fn pending_attachments(&self) -> usize {
        match &self.state {
            State::Idle => 0,
            State::Collecting { header, received } => {
                header.expected_attachments.saturating_sub(received.len())
            }
        }
    }

    /// Drops any partially collected packet.
    pub fn reset(&mut self) {
        self.state = State::Idle;
    }

    /// Decodes one text message. Returns `Some` for a complete packet and
    /// `None` for a binary header whose attachments must now be fed to
    /// [`decode_binary`](Self::decode_binary). The header's placeholders are
    /// validated here, before any attachment is buffered. A text message
    /// while attachments are expected is [`DecodeError::UnexpectedText`].
    pub fn decode_text(&mut self, input: &str) -> Result<Option<Packet>, DecodeError> {
        if self.is_collecting() {
            self.state = State::Idle;
            return Err(DecodeError::UnexpectedText);
        }
        let header = parse::decode_text(input, &self.limits)?;
        if header.expected_attachments == 0 {
            return Ok(Some(header.into_packet(Vec::new())));
        }
        // Bounded by `Limits::max_attachments` (checked by the parser).
        let received = Vec::with_capacity(header.expected_attachments);
        self.state = State::Collecting { header, received };
        Ok(None)
    }

    /// Accepts one binary message as the next attachment of the pending
    /// packet. Returns `Some` once the last attachment has arrived. A binary
    /// message while idle is [`DecodeError::UnexpectedAttachment`].
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, DecodeError> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => Err(DecodeError::UnexpectedAttachment),
            State::Collecting {
                header,
                mut received,
            } => {
                received.push(data);
                if received.len() >= header.expected_attachments {
                    Ok(Some(header.into_packet(received)))
                } else {
                    self.state = State::Collecting { header, received };
                    Ok(None)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::packet::PacketType;
    use super::*;
    use serde_json::json;

    /// Feeds `text` then `attachments` to `dec`, expecting a packet exactly
    /// after the last message.
    fn feed(dec: &mut Decoder, text: &str, attachments: &[Bytes]) -> Result<Packet, String> {
        let first = dec.decode_text(text).map_err(|e| e.to_string())?;
        if attachments.is_empty() {
            return first.ok_or_else(|| "no packet after text".to_owned());
        }
        if first.is_some() {
            return Err("packet before attachments".to_owned());
        }
        let (last, init) = attachments.split_last().ok_or("unreachable")?;
        for a in init {
            if dec
                .decode_binary(a.clone())
                .map_err(|e| e.to_string())?
                .is_some()
            {
                return Err("packet before last attachment".to_owned());
            }
        }
        dec.decode_binary(last.clone())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no packet after last attachment".to_owned())
    }

    fn ph(n: usize) -> Value {
        placeholder(n)
    }

    fn b(bytes: &'static [u8]) -> Bytes {
        Bytes::from_static(bytes)
    }

    /// Every example of the socket.io-protocol v5 README ("Exchange
    /// protocol", "Packet encoding" tables, "Sample session", with the
    /// Engine.IO `4` prefix removed): (input, attachments, expected packet,
    /// canonical encoding).
    fn spec_table() -> Vec<(&'static str, Vec<Bytes>, Packet, &'static str)> {
        let bin = |kind, ns: &str, id, data: Value, att: Vec<Bytes>| Packet {
            kind,
            namespace: ns.to_owned(),
            ack_id: id,
            data: Some(data),
            attachments: att,
        };
        use PacketType::*;
        vec![
            // Packet encoding: connection to a namespace
            ("0", vec![], Packet::connect("/", None), "0"),
            (
                r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
                vec![],
                Packet::connect("/", Some(json!({"sid": "wZX3oN0bSVIhsaknAAAI"}))),
                r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
            ),
            (
                "0/admin,",
                vec![],
                Packet::connect("/admin", None),
                "0/admin,",
            ),
            (
                r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
                vec![],
                Packet::connect("/admin", Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"}))),
                r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            ),
            (
                r#"4{"message":"Not authorized"}"#,
                vec![],
                Packet::connect_error("/", "Not authorized", None),
                r#"4{"message":"Not authorized"}"#,
            ),
            // Exchange protocol: connection with an additional payload
            (
                r#"0/admin,{"token":"123"}"#,
                vec![],
                Packet::connect("/admin", Some(json!({"token": "123"}))),
                r#"0/admin,{"token":"123"}"#,
            ),
            (
                r#"0/admin,{"sid":"iLnRaVGHY4B75TeVAAAB"}"#,
                vec![],
                Packet::connect("/admin", Some(json!({"sid": "iLnRaVGHY4B75TeVAAAB"}))),
                r#"0/admin,{"sid":"iLnRaVGHY4B75TeVAAAB"}"#,
            ),
            // CONNECT_ERROR with a plain string payload (accepted by the reference)
            (
                r#"4"Not authorized""#,
                vec![],
                Packet {
                    kind: ConnectError,
                    namespace: "/".to_owned(),
                    ack_id: None,
                    data: Some(json!("Not authorized")),
                    attachments: vec![],
                },
                r#"4"Not authorized""#,
            ),
            // Packet encoding: sending and receiving data
            (
                r#"2["foo"]"#,
                vec![],
                Packet::event("/", vec![json!("foo")], None),
                r#"2["foo"]"#,
            ),
            (
                r#"2["bar"]"#,
                vec![],
                Packet::event("/", vec![json!("bar")], None),
                r#"2["bar"]"#,
            ),
            (
                r#"2/admin,["bar"]"#,
                vec![],
                Packet::event("/admin", vec![json!("bar")], None),
                r#"2/admin,["bar"]"#,
            ),
            (
                r#"51-["baz",{"_placeholder":true,"num":0}]"#,
                vec![b(&[1, 2, 3, 4])],
                bin(
                    BinaryEvent,
                    "/",
                    None,
                    json!(["baz", ph(0)]),
                    vec![b(&[1, 2, 3, 4])],
                ),
                r#"51-["baz",{"_placeholder":true,"num":0}]"#,
            ),
            (
                r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                vec![b(&[1, 2]), b(&[3, 4])],
                bin(
                    BinaryEvent,
                    "/admin",
                    None,
                    json!(["baz", ph(0), ph(1)]),
                    vec![b(&[1, 2]), b(&[3, 4])],
                ),
                r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ),
            // Packet encoding: acknowledgement
            (
                r#"212["foo"]"#,
                vec![],
                Packet::event("/", vec![json!("foo")], Some(12)),
                r#"212["foo"]"#,
            ),
            ("312[]", vec![], Packet::ack("/", vec![], 12), "312[]"),
            (
                r#"2/admin,13["foo"]"#,
                vec![],
                Packet::event("/admin", vec![json!("foo")], Some(13)),
                r#"2/admin,13["foo"]"#,
            ),
            (
                r#"3/admin,13["bar"]"#,
                vec![],
                Packet::ack("/admin", vec![json!("bar")], 13),
                r#"3/admin,13["bar"]"#,
            ),
            (
                r#"51-14["foo",{"_placeholder":true,"num":0}]"#,
                vec![b(&[1, 2, 3, 4])],
                Packet::event_with_binary(
                    "/",
                    vec![json!("foo"), ph(0)],
                    Some(14),
                    vec![b(&[1, 2, 3, 4])],
                ),
                r#"51-14["foo",{"_placeholder":true,"num":0}]"#,
            ),
            (
                r#"314["bar"]"#,
                vec![],
                Packet::ack("/", vec![json!("bar")], 14),
                r#"314["bar"]"#,
            ),
            (
                r#"215["foo"]"#,
                vec![],
                Packet::event("/", vec![json!("foo")], Some(15)),
                r#"215["foo"]"#,
            ),
            (
                r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
                vec![b(&[1, 2, 3, 4])],
                Packet::ack_with_binary("/", vec![json!("bar"), ph(0)], 15, vec![b(&[1, 2, 3, 4])]),
                r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
            ),
            // Packet encoding: disconnection from a namespace
            ("1", vec![], Packet::disconnect("/"), "1"),
            ("1/admin,", vec![], Packet::disconnect("/admin"), "1/admin,"),
            // Sample session (Engine.IO "4" prefix removed)
            (
                r#"2["hey","Jude"]"#,
                vec![],
                Packet::event("/", vec![json!("hey"), json!("Jude")], None),
                r#"2["hey","Jude"]"#,
            ),
            (
                r#"2["hello"]"#,
                vec![],
                Packet::event("/", vec![json!("hello")], None),
                r#"2["hello"]"#,
            ),
            (
                r#"2["world"]"#,
                vec![],
                Packet::event("/", vec![json!("world")], None),
                r#"2["world"]"#,
            ),
            (
                r#"0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}"#,
                vec![],
                Packet::connect("/admin", Some(json!({"sid": "-G5j-67EZFp-q59rADQM"}))),
                r#"0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}"#,
            ),
            (
                r#"2/admin,1["tellme"]"#,
                vec![],
                Packet::event("/admin", vec![json!("tellme")], Some(1)),
                r#"2/admin,1["tellme"]"#,
            ),
            (
                r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
                vec![b(b"<binary>")],
                Packet::ack_with_binary("/admin", vec![ph(0)], 1, vec![b(b"<binary>")]),
                r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
            ),
            // Non-canonical inputs the reference accepts
            (
                "0/admin",
                vec![],
                Packet::connect("/admin", None),
                "0/admin,",
            ),
            ("0/,", vec![], Packet::connect("/", None), "0"),
            (
                r#"2012 ["foo"]"#,
                vec![],
                Packet::event("/", vec![json!("foo")], Some(12)),
                r#"212["foo"]"#,
            ),
        ]
    }

    #[test]
    fn spec_examples_known_answers_and_inverse() {
        for (input, attachments, expected, canonical) in spec_table() {
            let mut dec = Decoder::default();
            assert_eq!(
                feed(&mut dec, input, &attachments),
                Ok(expected.clone()),
                "decode {input}"
            );
            assert!(!dec.is_collecting());
            assert_eq!(expected.encode(), canonical, "encode {input}");
            assert_eq!(expected.attachments, attachments, "attachments {input}");
            assert_eq!(
                feed(&mut dec, canonical, &attachments),
                Ok(expected),
                "re-decode {input}"
            );
        }
    }

    #[test]
    fn connect_error_with_data_round_trips() {
        let p = Packet::connect_error("/admin", "nope", Some(json!({"retry": [1, "a,b"]})));
        let text = p.encode();
        assert!(text.starts_with("4/admin,{"), "{text}");
        assert_eq!(feed(&mut Decoder::default(), &text, &[]), Ok(p));
    }

    #[test]
    fn rejects_binary_when_not_collecting() {
        let mut dec = Decoder::default();
        assert_eq!(
            dec.decode_binary(b(&[1])),
            Err(DecodeError::UnexpectedAttachment)
        );
        assert_eq!(dec.decode_text(r#"2["a"]"#).map(|p| p.is_some()), Ok(true));
        assert_eq!(
            dec.decode_binary(b(&[1])),
            Err(DecodeError::UnexpectedAttachment)
        );
    }

    #[test]
    fn rejects_text_while_collecting() {
        let mut dec = Decoder::default();
        assert_eq!(
            dec.decode_text(r#"52-["a",{"_placeholder":true,"num":1}]"#),
            Ok(None)
        );
        assert!(dec.is_collecting());
        assert_eq!(dec.pending_attachments(), 2);
        assert_eq!(dec.decode_binary(b(&[1])), Ok(None));
        assert_eq!(dec.pending_attachments(), 1);
        assert_eq!(
            dec.decode_text(r#"2["a"]"#),
            Err(DecodeError::UnexpectedText)
        );
        // The error reset the decoder.
        assert!(!dec.is_collecting());
        assert_eq!(
            dec.decode_binary(b(&[2])),
            Err(DecodeError::UnexpectedAttachment)
        );
    }

    #[test]
    fn rejects_placeholder_out_of_range() {
        let mut dec = Decoder::default();
        assert_eq!(
            dec.decode_text(r#"51-["a",{"_placeholder":true,"num":1}]"#),
            Err(DecodeError::InvalidPlaceholder {
                num: Some(1),
                attachments: 1
            })
        );
        assert!(!dec.is_collecting());
        for bad in [r#""0""#, "0.5", "null", "-1"] {
            let text = format!(r#"62-[{{"k":[{{"_placeholder":true,"num":{bad}}}]}}]"#);
            assert_eq!(
                dec.decode_text(&text),
                Err(DecodeError::InvalidPlaceholder {
                    num: None,
                    attachments: 2
                }),
                "{text}"
            );
        }
        // `_placeholder` must be exactly `true` to make a placeholder.
        assert_eq!(
            dec.decode_text(r#"61-[{"_placeholder":1,"num":9}]"#),
            Ok(None)
        );
    }

    #[test]
    fn reset_drops_pending_packet() {
        let mut dec = Decoder::default();
        assert_eq!(
            dec.decode_text(r#"61-[{"_placeholder":true,"num":0}]"#),
            Ok(None)
        );
        dec.reset();
        assert!(!dec.is_collecting());
        assert_eq!(dec.pending_attachments(), 0);
    }

    #[test]
    fn placeholder_helpers() {
        let v =
            json!(["a", ph(0), {"x": [ph(1), {"_placeholder": true}]}, {"_placeholder": false}]);
        assert_eq!(count_placeholders(&v), 3);
        assert_eq!(placeholder_num(&ph(7)), Some(Some(7)));
        assert_eq!(placeholder_num(&json!({"_placeholder": true})), Some(None));
        assert_eq!(placeholder_num(&json!({"num": 1})), None);
        assert_eq!(
            validate_placeholders(&v, 2),
            Err(DecodeError::InvalidPlaceholder {
                num: None,
                attachments: 2
            })
        );
        assert_eq!(validate_placeholders(&json!([ph(0), [ph(1)]]), 2), Ok(()));

        let mut v = json!(["a", ph(1), {"x": [ph(0)]}, ph(5)]);
        replace_placeholders(&mut v, &[b(b"zero"), b(b"one")], |n, bytes| {
            json!(format!("{n}:{}", String::from_utf8_lossy(bytes)))
        });
        assert_eq!(v, json!(["a", "1:one", {"x": ["0:zero"]}, ph(5)]));
    }

    #[test]
    fn deep_values_do_not_overflow_helpers() {
        let mut v = json!(1);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(count_placeholders(&v), 0);
        assert_eq!(validate_placeholders(&v, 0), Ok(()));
        // Dismantle iteratively: dropping a deep Value recurses.
        let mut cur = v;
        while let Value::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Value::Null);
        }
    }

    /// Deterministic xorshift64 generator for the property-style tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            // n is small; the modulo bias is irrelevant here.
            (self.next() % (n.max(1) as u64)) as usize
        }

        fn coin(&mut self) -> bool {
            self.next() & 1 == 1
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }
    }

    /// Characters chosen to stress the grammar and JSON escaping.
    const TRICKY: &[char] = &[
        'a', 'Z', '0', '7', '9', ',', '/', '"', '\\', '[', ']', '{', '}', ':', '-', ' ', '\n',
        '\t', '\u{0}', '\u{1f}', '\u{7f}', 'é', '中', '😀', '\u{2028}', '_', '.', '+', 'e',
    ];

    fn string(rng: &mut Rng, max_len: usize, exclude: char) -> String {
        let len = rng.below(max_len + 1);
        (0..len)
            .map(|_| rng.pick(TRICKY))
            .map(|c| if c == exclude { 'x' } else { c })
            .collect()
    }

    fn value(rng: &mut Rng, depth: usize) -> Value {
        let choice = if depth == 0 {
            rng.below(5)
        } else {
            rng.below(7)
        };
        match choice {
            0 => Value::Null,
            1 => Value::Bool(rng.coin()),
            2 => match rng.below(3) {
                0 => json!(rng.next()),
                1 => json!(rng.next() as i64),
                // Quarter values: exact in binary and short in decimal.
                _ => json!((rng.next() % 100_000) as f64 / 4.0 - 10_000.0),
            },
            3 | 4 => Value::String(string(rng, 10, '\u{fffd}')),
            5 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
            _ => {
                let mut obj = Map::new();
                for _ in 0..rng.below(4) {
                    let key = string(rng, 6, '\u{fffd}');
                    if key != "_placeholder" {
                        obj.insert(key, value(rng, depth - 1));
                    }
                }
                Value::Object(obj)
            }
        }
    }

    fn object(rng: &mut Rng) -> Value {
        match value(rng, 3) {
            Value::Object(o) => Value::Object(o),
            other => json!({ "k": other }),
        }
    }

    fn random_packet(rng: &mut Rng) -> Packet {
        let kind = rng.pick(&PacketType::ALL);
        let namespace = if rng.coin() {
            "/".to_owned()
        } else {
            format!("/{}", string(rng, 12, ','))
        };
        let ack_id = match rng.below(4) {
            0 => None,
            1 => Some(rng.next() % (parse::MAX_ACK_ID + 1)),
            2 => Some(parse::MAX_ACK_ID),
            _ => Some(rng.next() % 1000),
        };
        let mut args: Vec<Value> = (0..rng.below(4)).map(|_| value(rng, 3)).collect();
        let mut attachments = Vec::new();
        if kind.is_binary() {
            let n = 1 + rng.below(10);
            for i in 0..n {
                let len = rng.below(16);
                attachments.push(Bytes::from(
                    (0..len).map(|_| rng.next() as u8).collect::<Vec<u8>>(),
                ));
                let ph = if rng.coin() {
                    placeholder(i)
                } else {
                    json!({ "nested": [placeholder(i)] })
                };
                let at = rng.below(args.len() + 1);
                args.insert(at, ph);
            }
        }
        if matches!(kind, PacketType::Event | PacketType::BinaryEvent) {
            let name = if rng.below(4) == 0 {
                json!(rng.next() % 1000)
            } else {
                Value::String(string(rng, 12, '\u{fffd}'))
            };
            args.insert(0, name);
        }
        let data = match kind {
            PacketType::Connect => rng.coin().then(|| object(rng)),
            PacketType::Disconnect => None,
            PacketType::ConnectError => Some(if rng.coin() {
                Value::String(string(rng, 12, '\u{fffd}'))
            } else {
                object(rng)
            }),
            _ => Some(Value::Array(args)),
        };
        Packet {
            kind,
            namespace,
            ack_id,
            data,
            attachments,
        }
    }

    #[test]
    fn random_valid_packets_round_trip() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut dec = Decoder::default();
        for i in 0..4000 {
            let p = random_packet(&mut rng);
            assert!(p.is_encodable(), "case {i}: {p:?}");
            let text = p.encode();
            assert_eq!(
                feed(&mut dec, &text, &p.attachments),
                Ok(p.clone()),
                "case {i}: {text}"
            );
            assert!(!dec.is_collecting());
        }
    }

    fn has_float(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.is_f64(),
            Value::Array(items) => items.iter().any(has_float),
            Value::Object(obj) => obj.values().any(has_float),
            _ => false,
        }
    }

    #[test]
    fn never_panics_on_random_or_mutated_input() {
        let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
        let mut dec = Decoder::default();
        let alphabet: &[u8] = b"0123456789--//,,[[]]{{}}\"\"\\:_e.+ nu\xff\xc3\xa9";
        let mut decoded = 0usize;
        for i in 0..6000 {
            let text: String = if i % 2 == 0 {
                let len = rng.below(40);
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        if rng.below(4) == 0 {
                            rng.next() as u8
                        } else {
                            rng.pick(alphabet)
                        }
                    })
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                let mut chars: Vec<char> = random_packet(&mut rng).encode().chars().collect();
                for _ in 0..=rng.below(3) {
                    let at = rng.below(chars.len() + 1);
                    match rng.below(5) {
                        0 if at < chars.len() => {
                            chars.remove(at);
                        }
                        1 => chars.insert(at, rng.pick(TRICKY)),
                        2 if at < chars.len() => chars[at] = rng.pick(TRICKY),
                        3 => chars.truncate(at),
                        _ => chars.insert(at, char::from(b'0' + rng.below(10) as u8)),
                    }
                }
                chars.into_iter().collect()
            };
            if rng.below(8) == 0 {
                let _ = dec.decode_binary(Bytes::from_static(b"\x00\x01"));
            }
            if let Ok(Some(p)) = dec.decode_text(&text) {
                decoded += 1;
                // Whatever decodes re-encodes to something that decodes to it
                // (floats aside: serde_json's default float parsing may be one
                // ULP off, its `float_roundtrip` feature being off).
                let again = feed(&mut Decoder::default(), &p.encode(), &p.attachments);
                let Ok(again) = again else {
                    panic!("input {text:?} re-decoded as {again:?}");
                };
                assert_eq!(
                    (again.kind, &again.namespace, again.ack_id),
                    (p.kind, &p.namespace, p.ack_id)
                );
                if !p.data.as_ref().is_some_and(has_float) {
                    assert_eq!(again, p, "input {text:?}");
                }
            }
            while dec.is_collecting() && rng.below(5) != 0 {
                let _ = dec.decode_binary(Bytes::new());
            }
        }
        // Sanity: the mutations leave a fair share of inputs valid.
        assert!(decoded > 100, "only {decoded} inputs decoded");
    }
}
