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
//! Most elements never reach serde_json: a small scanner ([`Scanner`])
//! takes the JSON that serde_json cannot refuse (strings without control
//! characters or lone surrogates, integers of up to 18 digits, decimals
//! without an exponent, the literals, and arrays and objects of these
//! within the nesting limit) and hands anything else (an exponent, a
//! surrogate escape, a long number, an error) to serde_json's checking walk
//! for that element.
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
    let list = walk(
        payload,
        kind == PacketType::Event,
        limits.max_json_depth.min(100),
    )?;
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
/// whitespace aside), nesting at most `max_depth` deep (the array is depth
/// 1), taking each element with the [`Scanner`] or else serde_json. With
/// `named`, the first element is the event name and must be a string.
/// `None` for anything else, including an empty array for an event.
fn walk(payload: &str, named: bool, max_depth: usize) -> Option<List> {
    let scanner = Scanner {
        bytes: payload.as_bytes(),
        max_depth,
    };
    // serde_json is asked only when the payload has few brackets: then the
    // nesting is within the limit (and within serde_json's own), whichever
    // way the elements are parsed. Otherwise the exact check is the full
    // decoder's. Counted once, on the first element the scanner leaves.
    let mut few_brackets = None;
    let mut serde_may_take = || {
        *few_brackets.get_or_insert_with(|| {
            payload.bytes().filter(|&b| b == b'[' || b == b'{').count() <= max_depth
        })
    };
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
        at = skip_whitespace(payload, at);
        let end = if named && index == 0 {
            if let Some(end) = scanner.unescaped_string(at) {
                list.name = Some(payload[at + 1..end - 1].to_owned());
                end
            } else if serde_may_take() {
                let rest = payload.get(at..)?;
                let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<String>();
                list.name = Some(stream.next()?.ok()?);
                at + stream.byte_offset()
            } else {
                return None;
            }
        } else if let Some(end) = scanner.value(at, 1) {
            end
        } else if serde_may_take() {
            let rest = payload.get(at..)?;
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Checked>();
            stream.next()?.ok()?;
            at + stream.byte_offset()
        } else {
            return None;
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

/// A scanner of the JSON that serde_json accepts whatever it holds
/// (RFC 8259 with serde_json's own refusals kept out): each method takes
/// the offset where a token starts and gives the offset just past it, or
/// `None` when the token is not JSON or is one it leaves to serde_json.
/// Checks what serde_json checks, and keeps nothing.
struct Scanner<'a> {
    bytes: &'a [u8],
    /// The deepest an array or object may be (the payload's array is 1).
    max_depth: usize,
}

impl Scanner<'_> {
    /// One value inside containers `depth` deep (RFC 8259 § 3).
    fn value(&self, at: usize, depth: usize) -> Option<usize> {
        match *self.bytes.get(at)? {
            b'"' => self.string(at),
            b'[' => self.array(at, depth + 1),
            b'{' => self.object(at, depth + 1),
            b't' => self.literal(at, b"true"),
            b'f' => self.literal(at, b"false"),
            b'n' => self.literal(at, b"null"),
            b'-' | b'0'..=b'9' => self.number(at),
            _ => None,
        }
    }

    /// `[ value *( , value ) ]`, itself `depth` deep (§ 5).
    fn array(&self, at: usize, depth: usize) -> Option<usize> {
        if depth > self.max_depth {
            return None;
        }
        let mut at = self.whitespace(at + 1);
        if self.bytes.get(at) == Some(&b']') {
            return Some(at + 1);
        }
        loop {
            at = self.whitespace(self.value(at, depth)?);
            match *self.bytes.get(at)? {
                b',' => at = self.whitespace(at + 1),
                b']' => return Some(at + 1),
                _ => return None,
            }
        }
    }

    /// `{ string : value *( , string : value ) }`, itself `depth` deep
    /// (§ 4). Repeated names are taken, as serde_json takes them.
    fn object(&self, at: usize, depth: usize) -> Option<usize> {
        if depth > self.max_depth {
            return None;
        }
        let mut at = self.whitespace(at + 1);
        if self.bytes.get(at) == Some(&b'}') {
            return Some(at + 1);
        }
        loop {
            if self.bytes.get(at) != Some(&b'"') {
                return None;
            }
            at = self.whitespace(self.string(at)?);
            if self.bytes.get(at) != Some(&b':') {
                return None;
            }
            at = self.whitespace(self.value(self.whitespace(at + 1), depth)?);
            match *self.bytes.get(at)? {
                b',' => at = self.whitespace(at + 1),
                b'}' => return Some(at + 1),
                _ => return None,
            }
        }
    }

    /// A string (§ 7): no control character unescaped, and no `\u`
    /// escape of a surrogate (whose pairing serde_json checks). The input
    /// is a `str`, so the rest is UTF-8.
    fn string(&self, at: usize) -> Option<usize> {
        let mut at = at + 1;
        loop {
            at = self.special(at);
            match *self.bytes.get(at)? {
                b'"' => return Some(at + 1),
                b'\\' => at = self.escape(at + 1)?,
                _ => return None,
            }
        }
    }

    /// A string with no escape at all: its text is its value.
    fn unescaped_string(&self, at: usize) -> Option<usize> {
        if self.bytes.get(at) != Some(&b'"') {
            return None;
        }
        let at = self.special(at + 1);
        (*self.bytes.get(at)? == b'"').then_some(at + 1)
    }

    /// The first offset from `at` that holds a `"`, a `\\` or a control
    /// character (the end of the input if none does): eight bytes a step.
    fn special(&self, at: usize) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let mut at = at;
        while let Some(chunk) = self.bytes.get(at..at + 8) {
            let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
                break;
            };
            let v = u64::from_le_bytes(chunk);
            let quote = v ^ (ONES * u64::from(b'"'));
            let backslash = v ^ (ONES * u64::from(b'\\'));
            // `(x - ONES) & !x` sets the high bit of x's first zero byte,
            // `(v - 0x20 * ONES) & !v` that of v's first byte below 0x20
            // (higher bytes may be set wrongly after a borrow, never lower
            // ones, so the lowest bit set is always right).
            let found = ((quote.wrapping_sub(ONES) & !quote)
                | (backslash.wrapping_sub(ONES) & !backslash)
                | (v.wrapping_sub(ONES * 0x20) & !v))
                & HIGHS;
            if found != 0 {
                return at + (found.trailing_zeros() / 8) as usize;
            }
            at += 8;
        }
        while let Some(&byte) = self.bytes.get(at) {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                break;
            }
            at += 1;
        }
        at
    }

    /// What follows a `\`.
    fn escape(&self, at: usize) -> Option<usize> {
        match *self.bytes.get(at)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 1),
            b'u' => {
                let hex = self.bytes.get(at + 1..at + 5)?;
                let mut code = 0u32;
                for &digit in hex {
                    code = code * 16 + char::from(digit).to_digit(16)?;
                }
                (!(0xD800..=0xDFFF).contains(&code)).then_some(at + 5)
            }
            _ => None,
        }
    }

    /// A number (§ 6) that no range check can refuse: at most 18 digits
    /// before the point and 18 after it, and no exponent.
    fn number(&self, at: usize) -> Option<usize> {
        let mut at = at;
        if self.bytes[at] == b'-' {
            at += 1;
        }
        let int = at;
        match *self.bytes.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => at = self.digits(at),
            _ => return None,
        }
        if at - int > 18 {
            return None;
        }
        if self.bytes.get(at) == Some(&b'.') {
            let fraction = at + 1;
            at = self.digits(fraction);
            if at == fraction || at - fraction > 18 {
                return None;
            }
        }
        match self.bytes.get(at) {
            Some(b'e' | b'E') => None,
            _ => Some(at),
        }
    }

    fn digits(&self, at: usize) -> usize {
        let mut at = at;
        while self.bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        at
    }

    fn literal(&self, at: usize, word: &[u8]) -> Option<usize> {
        self.bytes[at..]
            .starts_with(word)
            .then_some(at + word.len())
    }

    fn whitespace(&self, at: usize) -> usize {
        let mut at = at;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(at) {
            at += 1;
        }
        at
    }
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
            r#"2["a",{"k":[1,{"j":null}],"l":"","k":0},-0.25,"\/\b\f\n\r\t\u00E9\uffff"]"#,
            r#"2["a",{ "k" : [ ] , "l" : { } }, 123456789012345678, -0.123456789012345678]"#,
            // 32 deep, the default limit.
            &format!(r#"2["a",{}{}]"#, "[".repeat(31), "]".repeat(31)),
            // More brackets than the limit, but side by side.
            &format!(r#"2["a"{}]"#, ",[]".repeat(40)),
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
            &format!(r#"2["a",{}{}]"#, "[".repeat(32), "]".repeat(32)),
            &format!(r#"2["a",{}{}]"#, "{\"k\":".repeat(32), "}".repeat(32)),
            "2[\"a\",\"\u{1}\"]",
            "2[\"a\u{1f}\"]",
            r#"2["a","\x"]"#,
            r#"2["a","\u12"]"#,
            r#"2["a","\uZZZZ"]"#,
            r#"2["a","\udfff"]"#,
            r#"2["a",1.]"#,
            r#"2["a",.5]"#,
            r#"2["a",-]"#,
            r#"2["a",+1]"#,
            r#"2["a",1.5.3]"#,
            r#"2["a",[1,]]"#,
            r#"2["a",{"k" 1}]"#,
            r#"2["a",{,}]"#,
            r#"2["a",{"k":1,}]"#,
            r#"2["a",tru]"#,
            r#"2["a",nulls]"#,
            r#"2["a","unterminated]"#,
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
        const PIECES: [&str; 40] = [
            "\"\\x\"",
            "\"\u{1}\"",
            "1.",
            "123456789012345678901",
            "\"\\u12\"",
            "\"\\uD83D\\uDE00\"",
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
    fn the_scanner_finds_the_first_quote_backslash_or_control_character() {
        // Bytes that are none of these, next to them in value.
        const PLAIN: [u8; 8] = [b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff];
        for len in 0..24 {
            let filler: Vec<u8> = (0..len).map(|i| PLAIN[(i * 5 + len) % 8]).collect();
            let none = Scanner {
                bytes: &filler,
                max_depth: 32,
            };
            assert_eq!(none.special(0), len, "{filler:?}");
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x01, 0x1f] {
                    let mut bytes = filler.clone();
                    bytes[at] = special;
                    // A second one later must not hide the first.
                    if at + 3 < len {
                        bytes[at + 3] = b'"';
                    }
                    let scanner = Scanner {
                        bytes: &bytes,
                        max_depth: 32,
                    };
                    assert_eq!(scanner.special(0), at, "{bytes:?}");
                    assert_eq!(scanner.special(at), at, "{bytes:?}");
                }
            }
        }
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
