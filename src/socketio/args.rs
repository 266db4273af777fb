//! Event arguments: JSON values plus the binary attachments they point at.
//!
//! socket.io-protocol v5, "Packet encoding › Binary": binary parts are taken
//! out of the JSON and replaced by placeholders `{"_placeholder":true,"num":N}`,
//! then sent as attachments. [`Args`] keeps exactly that shape, so that an
//! event received with binary can be sent on unchanged, without a copy.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::binary::{placeholder, placeholder_num};

/// The arguments of an event or an ack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    /// The JSON arguments, in order; binary parts appear as placeholders.
    pub values: Vec<Value>,
    /// The attachments that placeholder `num` N refers to, by index.
    pub binary: Vec<Bytes>,
}

impl Args {
    /// No arguments.
    pub fn new() -> Args {
        Args::default()
    }

    /// Adds a JSON argument.
    pub fn arg(mut self, value: impl Into<Value>) -> Args {
        self.values.push(value.into());
        self
    }

    /// Adds a binary argument (sent as an attachment).
    pub fn bytes(mut self, data: impl Into<Bytes>) -> Args {
        let value = self.attach(data.into());
        self.values.push(value);
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
        self.values.first()
    }

    /// The first argument alone (none if there is none), with the
    /// attachments its placeholders point at, renumbered from 0.
    pub fn only_first(self) -> Args {
        let Some(mut first) = self.values.into_iter().next() else {
            return Args::new();
        };
        let mut binary = Vec::new();
        renumber(&mut first, &self.binary, &mut binary);
        Args {
            values: vec![first],
            binary,
        }
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
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
        let whole = Value::Array(self.values.clone());
        match serde_json::from_value::<T>(whole) {
            Ok(value) => Ok(value),
            Err(as_tuple) => {
                // Not a sequence type: the first argument alone.
                let first = self.values.first().cloned().unwrap_or(Value::Null);
                serde_json::from_value::<T>(first).map_err(|as_one| {
                    // A tuple or sequence type is best explained by how the
                    // whole list missed it; a single value by its argument.
                    let one = as_one.to_string();
                    let wants_list = one.contains("expected a tuple") || one.contains("sequence");
                    ArgsError {
                        message: if self.values.len() == 1 && !wants_list {
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
        Args {
            values: vec![value],
            binary: Vec::new(),
        }
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Args {
        Args {
            values,
            binary: Vec::new(),
        }
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
        args.values[0] = json!({"a": pointer, "b": args.values[0].clone()});
        let first = args.only_first();
        assert_eq!(
            first.values,
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
}
