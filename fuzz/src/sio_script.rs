//! Script of the `sio_server` target: a `SocketIo` server driven by several
//! Engine.IO connections (opened, messages, closed, read by their client),
//! server-side emits, and virtual time.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::{Encode, blob, byte, put_blob, put_u16, text, u16le};

/// Connection slots a script can use.
pub const SLOTS: u8 = 3;

/// One step of a script. `slot` is taken modulo [`SLOTS`].
#[derive(Debug, Clone)]
pub enum Step {
    /// An Engine.IO connection opens in `slot` (replacing any connection
    /// there), with room for `1 + capacity % 16` unread messages.
    Open {
        /// The slot.
        slot: u8,
        /// Sets the queue bound of the fake connection.
        capacity: u8,
    },
    /// A text message from the client in `slot`.
    Text {
        /// The slot.
        slot: u8,
        /// The Socket.IO packet text (without the Engine.IO `4`).
        text: String,
    },
    /// A binary message (an attachment) from the client in `slot`.
    Binary {
        /// The slot.
        slot: u8,
        /// The attachment's bytes.
        bytes: Vec<u8>,
    },
    /// The Engine.IO connection in `slot` ends.
    EngineClosed {
        /// The slot.
        slot: u8,
    },
    /// The client in `slot` reads everything queued for it.
    Read {
        /// The slot.
        slot: u8,
    },
    /// Virtual time moves on by this many milliseconds; timers due run.
    Advance(u16),
    /// Virtual time jumps to the server's next deadline, which runs.
    Deadline,
    /// The application emits from outside a handler; the byte picks what.
    ServerEmit(u8),
}

const STEPS: u8 = 8;

impl<'a> Arbitrary<'a> for Step {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match byte(u)? % STEPS {
            0 => Step::Open {
                slot: byte(u)?,
                capacity: byte(u)?,
            },
            1 => Step::Text {
                slot: byte(u)?,
                text: text(u)?,
            },
            2 => Step::Binary {
                slot: byte(u)?,
                bytes: blob(u)?,
            },
            3 => Step::EngineClosed { slot: byte(u)? },
            4 => Step::Read { slot: byte(u)? },
            5 => Step::Advance(u16le(u)?),
            6 => Step::Deadline,
            _ => Step::ServerEmit(byte(u)?),
        })
    }
}

impl Encode for Step {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Step::Open { slot, capacity } => out.extend_from_slice(&[0, *slot, *capacity]),
            Step::Text { slot, text } => {
                out.extend_from_slice(&[1, *slot]);
                put_blob(out, text.as_bytes());
            }
            Step::Binary { slot, bytes } => {
                out.extend_from_slice(&[2, *slot]);
                put_blob(out, bytes);
            }
            Step::EngineClosed { slot } => out.extend_from_slice(&[3, *slot]),
            Step::Read { slot } => out.extend_from_slice(&[4, *slot]),
            Step::Advance(ms) => {
                out.push(5);
                put_u16(out, *ms);
            }
            Step::Deadline => out.push(6),
            Step::ServerEmit(what) => out.extend_from_slice(&[7, *what]),
        }
    }
}

/// A whole script: steps until the input ends.
#[derive(Debug, Clone)]
pub struct Script {
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl<'a> Arbitrary<'a> for Script {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut steps = Vec::new();
        while !u.is_empty() {
            match Step::arbitrary(u) {
                Ok(step) => steps.push(step),
                Err(_) => break,
            }
        }
        Ok(Script { steps })
    }
}

impl Encode for Script {
    fn encode(&self, out: &mut Vec<u8>) {
        for step in &self.steps {
            step.encode(out);
        }
    }
}
