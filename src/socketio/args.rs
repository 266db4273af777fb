//! Event arguments: JSON values plus the binary attachments they point at.
//!
//! socket.io-protocol v5, "Packet encoding › Binary": binary parts are taken
//! out of the JSON and replaced by placeholders `{"_placeholder":true,"num":N}`,
//! then sent as attachments. [`Args`] keeps exactly that shape, so that an
//! event received with binary can be sent on unchanged, without a copy.

use bytes::Bytes;
use serde_json::Value;

use super::binary::placeholder;

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

    /// The first argument, if any.
    pub fn first(&self) -> Option<&Value> {
        self.values.first()
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
