//! The fast path of the text decoder: a plain EVENT (`2`) or ACK (`3`)
//! whose arguments are checked but kept as the JSON text they came in.
//!
//! Nearly every packet a server receives is one of these, and most handlers
//! either pass their arguments on unchanged or read them into a type of
//! their own. Building a [`serde_json::Value`] tree for each packet (a
//! vector, a map, a string per key and per string value) only to write it
//! out again is what this path saves: the payload is walked once by
//! serde_json's parser, which checks every token exactly as it does when it
//! builds a `Value`, and the arguments go into [`Args`] as text.
//!
//! This path only ever *accepts*. Whatever it does not take (an error of any
//! kind, a number as the event name, a reserved or overlong name, nesting
//! near a limit) it leaves to [`decode_text`](super::decode_text), which
//! then accepts or refuses it with its usual error. So both accept exactly
//! the same packets, which the unit tests and the `sio_parse` fuzz target
//! check on every input.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{
    Limits, PacketType, RESERVED_EVENTS, ack_id, attachment_count, namespace, packet_type,
};
use crate::socketio::args::Args;

/// A plain EVENT or ACK, its arguments kept as checked JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct Plain<'a> {
    /// [`PacketType::Event`] or [`PacketType::Ack`].
    pub kind: PacketType,
    /// The namespace, `"/"` when absent on the wire (borrowed from the
    /// input: it is looked up, not kept).
    pub namespace: &'a str,
    /// The acknowledgement id, if any.
    pub ack_id: Option<u64>,
    /// The event name (EVENT only).
    pub name: Option<String>,
    /// The arguments (after the name, for an EVENT).
    pub args: Args,
}

/// Decodes `input` if it is a plain EVENT or ACK this path takes (see the
/// module's documentation); `None` otherwise, and then
/// [`decode_text`](super::decode_text) decides.
pub fn decode_plain<'a>(input: &'a str, limits: &Limits) -> Option<Plain<'a>> {
    let kind = match input.as_bytes().first() {
        Some(b'2') => PacketType::Event,
        Some(b'3') => PacketType::Ack,
        _ => return None,
    };
    let (input, _) = packet_type(input).ok()?;
    let (input, _) = attachment_count(input, kind, limits.max_attachments).ok()?;
    let (input, ns) = namespace(input, limits.max_namespace_len).ok()?;
    let (payload, ack_id) = ack_id(input).ok()?;
    // Few brackets (nearly every packet): then the nesting is within the
    // limit, and within serde_json's own, whichever way the elements are
    // parsed. Otherwise the exact check is the full decoder's.
    let brackets = payload.bytes().filter(|&b| b == b'[' || b == b'{').count();
    if brackets > limits.max_json_depth.min(100) {
        return None;
    }
    let list = walk(payload, kind == PacketType::Event)?;
    let mut name = None;
    let mut args_from = list.open + 1;
    if kind == PacketType::Event {
        let event = list.name?;
        if event.len() > limits.max_event_name_len || RESERVED_EVENTS.contains(&event.as_str()) {
            return None;
        }
        name = Some(event);
        args_from = list.after_name;
    }
    let inner = &payload[args_from..list.close];
    let mut text = String::with_capacity(inner.len() + 2);
    text.push('[');
    text.push_str(inner);
    text.push(']');
    let first_end = list.first_arg_end.map_or(0, |end| end - args_from + 1);
    Some(Plain {
        kind,
        namespace: ns,
        ack_id,
        name,
        args: Args::from_checked_json(text.into_boxed_str(), list.args, first_end),
    })
}

/// Where the pieces of a payload's array are, as byte offsets into it.
struct List {
    /// The `[`.
    open: usize,
    /// The `]`.
    close: usize,
    /// The event name, when asked for and a string.
    name: Option<String>,
    /// Just past the `,` that follows the name (or the `]` if none does).
    after_name: usize,
    /// Where the first argument ends.
    first_arg_end: Option<usize>,
    /// How many arguments (the name not counted).
    args: usize,
}

/// Walks `payload`, which must be one JSON array and nothing else (JSON
/// whitespace aside), parsing each element with serde_json. With `named`,
/// the first element is the event name and must be a string. `None` for
/// anything else, including an empty array for an event.
fn walk(payload: &str, named: bool) -> Option<List> {
    let open = skip_whitespace(payload, 0);
    if payload.as_bytes().get(open) != Some(&b'[') {
        return None;
    }
    let mut list = List {
        open,
        close: 0,
        name: None,
        after_name: 0,
        first_arg_end: None,
        args: 0,
    };
    let mut at = open + 1;
    let mut index = 0usize;
    if payload.as_bytes().get(skip_whitespace(payload, at)) == Some(&b']') {
        if named {
            return None;
        }
        list.close = skip_whitespace(payload, at);
        return finish(payload, list);
    }
    loop {
        let rest = payload.get(at..)?;
        let end = if named && index == 0 {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<String>();
            list.name = Some(stream.next()?.ok()?);
            at + stream.byte_offset()
        } else {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Checked>();
            stream.next()?.ok()?;
            at + stream.byte_offset()
        };
        if !(named && index == 0) {
            list.args += 1;
            list.first_arg_end.get_or_insert(end);
        }
        let next = skip_whitespace(payload, end);
        match payload.as_bytes().get(next) {
            Some(b',') => {
                at = next + 1;
                if named && index == 0 {
                    list.after_name = at;
                }
            }
            Some(b']') => {
                if named && index == 0 {
                    list.after_name = next;
                }
                list.close = next;
                return finish(payload, list);
            }
            _ => return None,
        }
        index += 1;
    }
}

/// The list, if only JSON whitespace follows its `]`.
fn finish(payload: &str, list: List) -> Option<List> {
    (skip_whitespace(payload, list.close + 1) == payload.len()).then_some(list)
}

/// The first offset from `at` that is not JSON whitespace (RFC 8259 § 2).
fn skip_whitespace(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = at;
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// Any JSON value, checked token by token as serde_json checks the value it
/// builds (strings and their escapes, numbers and their range, nesting), but
/// kept nowhere: it allocates nothing. (serde's `IgnoredAny` would not do:
/// it skips strings and numbers without checking escapes and ranges.)
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Checked, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::socketio::encode::Encoded;
    use crate::socketio::parse::decode_text;
    use crate::socketio::{Config, Parser};

    /// What `decode_plain` took, checked against the full decoder: it must
    /// accept the same packet and read the same namespace, ack id, name and
    /// arguments; and the packet written back from the kept text must
    /// decode to the same again.
    fn agrees(input: &str) -> bool {
        let limits = Limits::default();
        let Some(plain) = decode_plain(input, &limits) else {
            return false;
        };
        let full = decode_text(input, &limits)
            .unwrap_or_else(|e| panic!("{input:?}: taken, but the decoder refuses it: {e}"));
        assert_eq!(plain.kind, full.kind, "{input:?}");
        assert_eq!(plain.namespace, full.namespace, "{input:?}");
        assert_eq!(plain.ack_id, full.ack_id, "{input:?}");
        let mut values = plain.args.values().to_vec();
        assert_eq!(plain.args.len(), values.len(), "{input:?}");
        if let Some(name) = &plain.name {
            values.insert(0, Value::from(name.as_str()));
        }
        assert_eq!(Some(Value::Array(values)), full.data, "{input:?}");
        let parser = Config::default().parser;
        let written = match (&plain.name, plain.ack_id) {
            (Some(name), id) => Encoded::event(parser, plain.namespace, name, &plain.args, id),
            (None, Some(id)) => Encoded::ack(parser, plain.namespace, id, &plain.args),
            (None, None) => return true,
        };
        let crate::engineio::Data::Text(text) = &written.messages()[0] else {
            panic!("{input:?}: not written as text");
        };
        let again = decode_text(text, &limits)
            .unwrap_or_else(|e| panic!("{input:?} written as {text:?} does not decode: {e}"));
        assert_eq!(again, full, "{input:?} written as {text:?}");
        true
    }

    #[test]
    fn plain_events_and_acks_are_taken_and_read_as_the_decoder_reads_them() {
        for input in [
            r#"2["hello"]"#,
            r#"2["hello",1,"two",{"three":[3]}]"#,
            r#"21["echo",{"seq":1,"text":"the quick brown fox"}]"#,
            r#"2/chat,7["m",null,true,false,-1.5e3]"#,
            r#"2/chat,["m"]"#,
            r#"3[]"#,
            r#"312[1,{"a":"b"}]"#,
            r#"3/admin,9["ok"]"#,
            "2[ \"spaced\" , 1 , [ 2 ] ] ",
            "2 [\"x\"]\n",
            r#"2["caf\u00e9","\ud83d\ude00","a\"b\\c"]"#,
            r#"2["n\u0061me",1]"#,
            r#"2["x",12345678901234567890,1e308,0.1]"#,
            r#"2["\u0000",""]"#,
        ] {
            assert!(agrees(input), "{input:?} was not taken");
        }
    }

    #[test]
    fn what_the_fast_path_leaves_goes_to_the_full_decoder() {
        // Refused by the decoder: the fast path must not take them either.
        // Taken by the decoder but left here: numbers as names, binary kinds.
        for input in [
            "",
            "2",
            "2[]",
            "2{}",
            r#"2"hello""#,
            r#"2["a",]"#,
            r#"2["a" 1]"#,
            r#"2["a"]x"#,
            r#"2["a"]]"#,
            r#"2[1,2]"#,
            r#"2["connect"]"#,
            r#"2["disconnecting",1]"#,
            r#"2["\ud800"]"#,
            r#"2["a","\ud800"]"#,
            r#"2["a",1e400]"#,
            r#"2["a",01]"#,
            r#"2["a",{"k":}]"#,
            r#"2["a",{1:2}]"#,
            r#"2["a",[1,2]"#,
            r#"3"#,
            r#"3{"a":1}"#,
            r#"3-1[1]"#,
            r#"21-["a"]"#,
            r#"51-["a",{"_placeholder":true,"num":0}]"#,
            r#"4["a"]"#,
            r#"0/chat,"#,
            r#"2-1["a"]"#,
            r#"21a["a"]"#,
            "2[\"a\",\u{a0}1]",
            &format!(r#"2["{}"]"#, "n".repeat(300)),
            &format!(r#"2["a",{}1{}]"#, "[".repeat(40), "]".repeat(40)),
        ] {
            let taken = agrees(input);
            assert!(!taken, "{input:?} was taken");
        }
    }

    /// A small deterministic generator of near-JSON text (xorshift): most
    /// inputs are almost packets, so the two decoders are compared where
    /// they could disagree.
    #[test]
    fn on_generated_near_packets_the_fast_path_never_takes_what_the_decoder_refuses() {
        const PIECES: [&str; 34] = [
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            "\"a\"",
            "\"b\\n\"",
            "\"\\u00e9\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "1",
            "-0",
            "1.5",
            "1e999",
            "2e-3",
            "01",
            "true",
            "null",
            "fals",
            " ",
            "\n",
            "\"",
            "\\",
            "\"connect\"",
            "x",
            "\u{e9}",
            "\"_placeholder\"",
            "/n,",
            "7",
            "12",
            "-",
            "\t",
            "\"k\":",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut taken = 0;
        for _ in 0..20_000 {
            let mut input = String::from(if next() % 2 == 0 { "2" } else { "3" });
            if next() % 4 == 0 {
                input.push_str("/n,");
            }
            if next() % 3 == 0 {
                input.push_str("42");
            }
            input.push('[');
            if input.starts_with('2') && next() % 8 != 0 {
                input.push_str("\"e\",");
            }
            for _ in 0..next() % 12 {
                input.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            if next() % 8 != 0 {
                input.push(']');
            }
            if agrees(&input) {
                taken += 1;
            }
        }
        // The generator reaches both sides.
        assert!(taken > 500, "only {taken} inputs taken");
    }

    #[test]
    fn arguments_passed_on_are_written_as_the_text_they_came_in() {
        let plain = decode_plain(
            r#"21["echo",{"b":1.0,"a":[1e2, "x"]},-0]"#,
            &Limits::default(),
        )
        .unwrap();
        let written = Encoded::ack(Parser::Json, "/", 1, &plain.args);
        let crate::engineio::Data::Text(text) = &written.messages()[0] else {
            panic!("text expected");
        };
        // Byte for byte: key order, `1.0`, `1e2`, the space and `-0` kept.
        assert_eq!(text.as_str(), r#"31[{"b":1.0,"a":[1e2, "x"]},-0]"#);
        assert_eq!(
            plain.args.values(),
            [json!({"a": [100.0, "x"], "b": 1.0}), json!(-0.0)]
        );
    }
}
