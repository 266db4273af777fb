//! Script of the `sio_client` target: one Socket.IO
//! [`Client`](siobridge::socketio::Client) machine driven by its
//! connection's messages, the application's commands and virtual time.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::{Encode, blob, byte, put_blob, put_u16, text, u16le};

/// Namespaces a script can name: `/`, `/a`, `/b`.
pub const NAMESPACES: [&str; 3] = ["/", "/a", "/b"];

/// One step. A `ns` byte is taken modulo [`NAMESPACES`]' length.
#[derive(Debug, Clone)]
pub enum Step {
    /// A text message of the connection (a Socket.IO packet).
    Text(String),
    /// A binary message of the connection (an attachment, or msgpack).
    Binary(Vec<u8>),
    /// The application accepts the CONNECT to `ns`, if one waits.
    Accept(u8),
    /// The application refuses the CONNECT to `ns` (odd: unknown namespace).
    Refuse(u8),
    /// The application sends an event to the socket of `ns`.
    Send {
        /// The namespace.
        ns: u8,
        /// Whether the packet is volatile.
        volatile: bool,
    },
    /// The application asks the socket of `ns` for an ack, due in `ms`
    /// milliseconds (0: no deadline).
    SendWithAck {
        /// The namespace.
        ns: u8,
        /// The deadline, from now.
        ms: u16,
    },
    /// The application disconnects the socket of `ns`.
    Disconnect(u8),
    /// The application drops the client as a slow consumer.
    DropClient,
    /// The application closes the connection.
    Close,
    /// The connection ends.
    ConnectionClosed,
    /// Virtual time moves on by this many milliseconds, then
    /// `handle_timeout` runs.
    Advance(u16),
    /// Virtual time jumps to `poll_timeout`, which must then be due.
    Deadline,
}

const STEPS: u8 = 12;

impl<'a> Arbitrary<'a> for Step {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match byte(u)? % STEPS {
            0 => Step::Text(text(u)?),
            1 => Step::Binary(blob(u)?),
            2 => Step::Accept(byte(u)?),
            3 => Step::Refuse(byte(u)?),
            4 => {
                let b = byte(u)?;
                Step::Send {
                    ns: b >> 1,
                    volatile: b & 1 == 1,
                }
            }
            5 => Step::SendWithAck {
                ns: byte(u)?,
                ms: u16le(u)?,
            },
            6 => Step::Disconnect(byte(u)?),
            7 => Step::DropClient,
            8 => Step::Close,
            9 => Step::ConnectionClosed,
            10 => Step::Advance(u16le(u)?),
            _ => Step::Deadline,
        })
    }
}

impl Encode for Step {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Step::Text(text) => {
                out.push(0);
                put_blob(out, text.as_bytes());
            }
            Step::Binary(bytes) => {
                out.push(1);
                put_blob(out, bytes);
            }
            Step::Accept(ns) => out.extend_from_slice(&[2, *ns]),
            Step::Refuse(ns) => out.extend_from_slice(&[3, *ns]),
            Step::Send { ns, volatile } => {
                out.extend_from_slice(&[4, ns << 1 | u8::from(*volatile)])
            }
            Step::SendWithAck { ns, ms } => {
                out.extend_from_slice(&[5, *ns]);
                put_u16(out, *ms);
            }
            Step::Disconnect(ns) => out.extend_from_slice(&[6, *ns]),
            Step::DropClient => out.push(7),
            Step::Close => out.push(8),
            Step::ConnectionClosed => out.push(9),
            Step::Advance(ms) => {
                out.push(10);
                put_u16(out, *ms);
            }
            Step::Deadline => out.push(11),
        }
    }
}

/// A whole script: a first byte of setup, then steps until the input ends.
#[derive(Debug, Clone)]
pub struct Script {
    /// Bit 0: the msgpack parser; bit 1: an event rate limit (2 a second,
    /// burst 2); bit 2: at most 2 namespaces per client.
    pub setup: u8,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl<'a> Arbitrary<'a> for Script {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let setup = byte(u)?;
        let mut steps = Vec::new();
        while !u.is_empty() {
            match Step::arbitrary(u) {
                Ok(step) => steps.push(step),
                Err(_) => break,
            }
        }
        Ok(Script { setup, steps })
    }
}

impl Encode for Script {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.setup);
        for step in &self.steps {
            step.encode(out);
        }
    }
}
