//! Event arguments: JSON values plus the binary attachments they point at.
//!
//! socket.io-protocol v5, "Packet encoding › Binary": binary parts are taken
//! out of the JSON and replaced by placeholders `{"_placeholder":true,"num":N}`,
//! then sent as attachments. [`Args`] keeps exactly that shape, so that an
//! event received with binary can be sent on unchanged, without a copy.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::binary::{placeholder, placeholder_num};

/// The arguments of an event or an ack.
///
/// Arguments that came in as a plain (non-binary) EVENT or ACK are kept as
/// the JSON text they came in: the decoder checked that text as strictly as
/// it checks any payload, but built no [`Value`] from it. They are parsed
/// the first time they are asked for ([`values`](Args::values),
/// [`parse`](Args::parse) straight into the handler's type), and an
/// argument list sent on unchanged (an echo, a relay) is written out as the
/// very text that came in, without a round trip through `Value`.
#[derive(Clone, Default)]
pub struct Args {
    list: List,
    /// The attachments that placeholder `num` N refers to, by index.
    pub binary: Vec<Bytes>,
}

/// An argument list, as values or as the JSON text it came in.
#[derive(Clone)]
enum List {
    /// Built by the application, or parsed from text it changed.
    Values(Vec<Value>),
    /// Checked JSON text, parsed on first use.
    Json(JsonList),
}

impl Default for List {
    fn default() -> List {
        List::Values(Vec::new())
    }
}

/// The JSON text of an argument list, as received and already checked: a
/// JSON array whose elements are the arguments.
#[derive(Clone)]
struct JsonList {
    /// `[` arguments `]`: the elements as the client wrote them.
    text: Box<str>,
    /// How many arguments.
    len: usize,
    /// Where the first argument ends in `text` (0 when there is none).
    first_end: usize,
    /// The values, once asked for.
    parsed: OnceLock<Vec<Value>>,
}

impl JsonList {
    fn values(&self) -> &[Value] {
        self.parsed.get_or_init(|| {
            // The decoder checked this text with the same parser, so this
            // does not fail.
            serde_json::from_str(&self.text).unwrap_or_default()
        })
    }

    fn into_values(self) -> Vec<Value> {
        match self.parsed.into_inner() {
            Some(values) => values,
            None => serde_json::from_str(&self.text).unwrap_or_default(),
        }
    }
}

impl Args {
    /// No arguments.
    pub fn new() -> Args {
        Args::default()
    }

    /// Arguments from their JSON values and the attachments their
    /// placeholders point at.
    pub fn from_parts(values: Vec<Value>, binary: Vec<Bytes>) -> Args {
        Args {
            list: List::Values(values),
            binary,
        }
    }

    /// Arguments kept as checked JSON text (see [`Args`]): `text` is a JSON
    /// array of `len` elements, the first ending at byte `first_end`.
    /// Only the decoder builds these, from text it has checked.
    pub(crate) fn from_checked_json(text: Box<str>, len: usize, first_end: usize) -> Args {
        Args {
            list: List::Json(JsonList {
                text,
                len,
                first_end,
                parsed: OnceLock::new(),
            }),
            binary: Vec::new(),
        }
    }

    /// The JSON arguments, in order; binary parts appear as placeholders
    /// into [`binary`](Args::binary). Arguments kept as text are parsed on
    /// the first call.
    pub fn values(&self) -> &[Value] {
        match &self.list {
            List::Values(values) => values,
            List::Json(json) => json.values(),
        }
    }

    /// The JSON arguments, to change them (parsed first if kept as text).
    pub fn values_mut(&mut self) -> &mut Vec<Value> {
        if let List::Json(_) = self.list {
            let (values, binary) = std::mem::take(self).into_parts();
            *self = Args::from_parts(values, binary);
        }
        match &mut self.list {
            List::Values(values) => values,
            List::Json(_) => unreachable!("argument text is parsed just above"),
        }
    }

    /// The JSON arguments, taken out.
    pub fn into_values(self) -> Vec<Value> {
        self.into_parts().0
    }

    /// The JSON arguments and the attachments, taken apart.
    pub fn into_parts(self) -> (Vec<Value>, Vec<Bytes>) {
        let values = match self.list {
            List::Values(values) => values,
            List::Json(json) => json.into_values(),
        };
        (values, self.binary)
    }

    /// Appends the arguments to `out` as the elements of a JSON array,
    /// comma-separated, without the brackets: the text they came in when
    /// they are still kept as text (socket.io-protocol v5, "Packet
    /// encoding": the payload is the JSON-stringified argument list).
    /// The arguments as the JSON text they came in, without the brackets
    /// (`None` once they are values).
    pub(crate) fn json_elements(&self) -> Option<&str> {
        match &self.list {
            List::Json(json) => Some(&json.text[1..json.text.len() - 1]),
            List::Values(_) => None,
        }
    }

    pub(crate) fn write_elements(&self, out: &mut Vec<u8>) {
        match &self.list {
            List::Json(json) => {
                let inner = &json.text[1..json.text.len() - 1];
                out.extend_from_slice(inner.as_bytes());
            }
            List::Values(values) => {
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    // Serializing a `Value` into a `Vec` cannot fail.
                    let _ = serde_json::to_writer(&mut *out, value);
                }
            }
        }
    }

    /// Adds a JSON argument.
    pub fn arg(mut self, value: impl Into<Value>) -> Args {
        self.values_mut().push(value.into());
        self
    }

    /// Adds a binary argument (sent as an attachment).
    pub fn bytes(mut self, data: impl Into<Bytes>) -> Args {
        let value = self.attach(data.into());
        self.values_mut().push(value);
        self
    }

    /// Registers an attachment and returns the placeholder to put where it
    /// belongs, e.g. inside an object argument.
    pub fn attach(&mut self, data: Bytes) -> Value {
        self.binary.push(data);
        placeholder(self.binary.len() - 1)
    }

    /// The first argument, if any, as JSON: binary parts in it are
    /// placeholders into [`binary`](Args::binary). To send it on with its
    /// bytes, use [`only_first`](Args::only_first).
    pub fn first(&self) -> Option<&Value> {
        self.values().first()
    }

    /// The first argument alone (none if there is none), with the
    /// attachments its placeholders point at, renumbered from 0.
    pub fn only_first(self) -> Args {
        let (values, from) = self.into_parts();
        let Some(mut first) = values.into_iter().next() else {
            return Args::new();
        };
        let mut binary = Vec::new();
        renumber(&mut first, &from, &mut binary);
        Args::from_parts(vec![first], binary)
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        match &self.list {
            List::Values(values) => values.len(),
            List::Json(json) => json.len,
        }
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartialEq for Args {
    /// Equal when the values and the attachments are (however each side
    /// keeps its values).
    fn eq(&self, other: &Args) -> bool {
        self.values() == other.values() && self.binary == other.binary
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Args")
            .field("values", &self.values())
            .field("binary", &self.binary)
            .finish()
    }
}

/// Arguments that do not fit the type a handler asked for
/// ([`Args::parse`]): what did not fit, in serde's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError {
    /// Which argument and why, e.g. `argument 1: invalid type: string "a",
    /// expected i32`.
    pub message: String,
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ArgsError {}

impl Args {
    /// The arguments deserialised into `T`: a tuple takes them in order
    /// (`(String, u32)` for `["a", 1]`); any other type takes the first
    /// argument alone. Binary arguments appear as their placeholders. A
    /// missing, extra or ill-typed argument is an [`ArgsError`] naming it,
    /// never a panic.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        if let List::Json(json) = &self.list
            && json.parsed.get().is_none()
        {
            // Straight from the text into `T`, no `Value` in between. Only
            // success is taken from here: a misfit is explained below, by
            // the same words as for arguments kept as values.
            if let Ok(value) = serde_json::from_str::<T>(&json.text) {
                return Ok(value);
            }
            if json.len > 0
                && let Ok(value) = serde_json::from_str::<T>(&json.text[1..json.first_end])
            {
                return Ok(value);
            }
        }
        let values = self.values();
        let whole = Value::Array(values.to_vec());
        match serde_json::from_value::<T>(whole) {
            Ok(value) => Ok(value),
            Err(as_tuple) => {
                // Not a sequence type: the first argument alone.
                let first = values.first().cloned().unwrap_or(Value::Null);
                serde_json::from_value::<T>(first).map_err(|as_one| {
                    // A tuple or sequence type is best explained by how the
                    // whole list missed it; a single value by its argument.
                    let one = as_one.to_string();
                    let wants_list = one.contains("expected a tuple") || one.contains("sequence");
                    ArgsError {
                        message: if values.len() == 1 && !wants_list {
                            format!("argument 0: {one}")
                        } else {
                            format!("arguments: {as_tuple}")
                        },
                    }
                })
            }
        }
    }
}

impl From<Value> for Args {
    /// One JSON argument.
    fn from(value: Value) -> Args {
        Args::from_parts(vec![value], Vec::new())
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Args {
        Args::from_parts(values, Vec::new())
    }
}

impl From<&str> for Args {
    fn from(s: &str) -> Args {
        Args::from(Value::from(s))
    }
}

impl From<()> for Args {
    fn from((): ()) -> Args {
        Args::new()
    }
}

/// Points every placeholder of `value` at a copy of its attachment pushed on
/// `to` (from `from`); a placeholder whose attachment is missing becomes
/// `null`. Values are bounded in depth by the decoder's limits.
fn renumber(value: &mut Value, from: &[Bytes], to: &mut Vec<Bytes>) {
    if let Some(num) = placeholder_num(value) {
        *value = match num.and_then(|n| from.get(usize::try_from(n).ok()?)) {
            Some(bytes) => {
                to.push(bytes.clone());
                placeholder(to.len() - 1)
            }
            None => Value::Null,
        };
        return;
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| renumber(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| renumber(v, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_first_keeps_the_bytes_it_points_at() {
        let mut args = Args::new().bytes(&b"zero"[..]).arg(1);
        let pointer = args.attach(Bytes::from_static(b"one"));
        let zero = args.values()[0].clone();
        args.values_mut()[0] = json!({"a": pointer, "b": zero});
        let first = args.only_first();
        assert_eq!(
            first.values(),
            [json!({"a": placeholder(0), "b": placeholder(1)})]
        );
        assert_eq!(first.binary, [&b"one"[..], &b"zero"[..]]);
        assert_eq!(Args::new().only_first(), Args::new());
    }

    #[test]
    fn parse_takes_a_tuple_in_order_or_the_first_argument_alone() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Move {
            x: i32,
            y: i32,
        }
        let args = Args::from(vec![json!("ann"), json!(3)]);
        assert_eq!(args.parse::<(String, u32)>(), Ok(("ann".to_owned(), 3)));
        let one = Args::from(vec![json!({"x": 1, "y": -2})]);
        assert_eq!(one.parse::<Move>(), Ok(Move { x: 1, y: -2 }));
        assert_eq!(one.parse::<(Move,)>(), Ok((Move { x: 1, y: -2 },)));
        assert_eq!(
            Args::from(vec![json!("hi")]).parse::<String>(),
            Ok("hi".into())
        );
    }

    #[test]
    fn arguments_that_do_not_fit_are_an_error_that_says_why() {
        let err = Args::from(vec![json!("a")]).parse::<u32>().unwrap_err();
        assert!(
            err.message.starts_with("argument 0: invalid type: string"),
            "{err}"
        );
        let err = Args::from(vec![json!(1)])
            .parse::<(u32, u32)>()
            .unwrap_err();
        assert!(err.message.contains("invalid length 1"), "{err}");
        let err = Args::new().parse::<(String,)>().unwrap_err();
        assert!(err.message.contains("invalid length 0"), "{err}");
    }

    #[test]
    fn arguments_kept_as_text_parse_and_fail_as_values_do() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Move {
            x: i32,
            y: i32,
        }
        let limits = crate::socketio::Limits::default();
        let text = |packet: &str| {
            crate::socketio::parse::decode_plain(packet, &limits)
                .expect("a plain event")
                .args
        };
        let cases = [
            r#"2["e","ann",3]"#,
            r#"2["e",{"x":1,"y":-2}]"#,
            r#"2["e","a"]"#,
            r#"2["e",1]"#,
            r#"2["e"]"#,
        ];
        for packet in cases {
            let kept = text(packet);
            let values = Args::from(kept.values().to_vec());
            assert_eq!(
                kept.parse::<(String, u32)>(),
                values.parse::<(String, u32)>()
            );
            assert_eq!(kept.parse::<Move>(), values.parse::<Move>());
            assert_eq!(kept.parse::<(Move,)>(), values.parse::<(Move,)>());
            assert_eq!(kept.parse::<u32>(), values.parse::<u32>());
            assert_eq!(kept.parse::<(u32, u32)>(), values.parse::<(u32, u32)>());
            assert_eq!(
                kept.parse::<Option<String>>(),
                values.parse::<Option<String>>()
            );
            assert_eq!(kept.parse::<Value>(), values.parse::<Value>());
            assert_eq!(kept, values);
        }
        // Changed, the arguments are values from then on, and are written so.
        let mut kept = text(r#"2["e",1]"#);
        kept.values_mut().push(json!(2));
        assert_eq!(kept.len(), 2);
        let mut out = Vec::new();
        kept.write_elements(&mut out);
        assert_eq!(out, b"1,2");
    }
}
