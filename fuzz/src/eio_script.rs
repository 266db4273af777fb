//! Script of the `eio_session` target: one Engine.IO `Session` driven by
//! the client's requests and frames, the application and virtual time.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::{Encode, blob, byte, put_blob, put_u16, text, u16le};

/// The session's settings, from the script's first bytes.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Start on WebSocket (`true`) or on polling.
    pub websocket: bool,
    /// Speak Engine.IO v3 (`Session::with_protocol`): bit 1 of the first
    /// byte, whose bit 0 is `websocket`.
    pub eio3: bool,
    /// With `eio3`, the client asked for `b64=1` (no binary): bit 2.
    pub b64: bool,
    /// `max_buffered_bytes` is `1 + max_buffered % 8` times a small message
    /// (eight bytes of data plus its queue overhead): small, so that the
    /// bound is reached.
    pub max_buffered: u8,
    /// `max_payload` is `16 + 4 * max_payload`.
    pub max_payload: u8,
}

impl Setup {
    /// The configured `max_buffered_bytes`.
    pub fn max_buffered_bytes(&self) -> usize {
        (1 + usize::from(self.max_buffered % 8)) * (8 + siobridge::engineio::QUEUED_PACKET_OVERHEAD)
    }

    /// The configured `max_payload`.
    pub fn max_payload_bytes(&self) -> usize {
        16 + 4 * usize::from(self.max_payload)
    }
}

/// One step of a script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Virtual time moves on by this many milliseconds; timers due run.
    Advance(u16),
    /// Virtual time jumps to the session's next deadline, which runs.
    Deadline,
    /// A polling GET arrives.
    Get,
    /// The pending GET's connection goes away.
    GetAborted,
    /// A polling POST with this body.
    Post(Vec<u8>),
    /// A POST whose declared length is over `max_payload`.
    PostTooLarge,
    /// A WebSocket arrives for this polling session (the upgrade probe).
    BeginUpgrade,
    /// A text frame on the session's WebSocket.
    WsText(String),
    /// A binary frame on the session's WebSocket.
    WsBinary(Vec<u8>),
    /// The session's WebSocket closes.
    WsClosed,
    /// The application sends a text message.
    SendText(String),
    /// The application sends a binary message.
    SendBinary(Vec<u8>),
    /// The application closes the session.
    Close,
    /// The server shuts down.
    Shutdown,
    /// The WebSocket takes every frame queued (a fast reader; otherwise the
    /// frames wait, as for a slow one).
    WsFlush,
}

const STEPS: u8 = 15;

impl<'a> Arbitrary<'a> for Step {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match byte(u)? % STEPS {
            0 => Step::Advance(u16le(u)?),
            1 => Step::Deadline,
            2 => Step::Get,
            3 => Step::GetAborted,
            4 => Step::Post(blob(u)?),
            5 => Step::PostTooLarge,
            6 => Step::BeginUpgrade,
            7 => Step::WsText(text(u)?),
            8 => Step::WsBinary(blob(u)?),
            9 => Step::WsClosed,
            10 => Step::SendText(text(u)?),
            11 => Step::SendBinary(blob(u)?),
            12 => Step::Close,
            13 => Step::Shutdown,
            _ => Step::WsFlush,
        })
    }
}

impl Encode for Step {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Step::Advance(ms) => {
                out.push(0);
                put_u16(out, *ms);
            }
            Step::Deadline => out.push(1),
            Step::Get => out.push(2),
            Step::GetAborted => out.push(3),
            Step::Post(body) => {
                out.push(4);
                put_blob(out, body);
            }
            Step::PostTooLarge => out.push(5),
            Step::BeginUpgrade => out.push(6),
            Step::WsText(t) => {
                out.push(7);
                put_blob(out, t.as_bytes());
            }
            Step::WsBinary(b) => {
                out.push(8);
                put_blob(out, b);
            }
            Step::WsClosed => out.push(9),
            Step::SendText(t) => {
                out.push(10);
                put_blob(out, t.as_bytes());
            }
            Step::SendBinary(b) => {
                out.push(11);
                put_blob(out, b);
            }
            Step::Close => out.push(12),
            Step::Shutdown => out.push(13),
            Step::WsFlush => out.push(14),
        }
    }
}

/// A whole script: the setup, then steps until the input ends.
#[derive(Debug, Clone)]
pub struct Script {
    /// The session's settings.
    pub setup: Setup,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl<'a> Arbitrary<'a> for Script {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let first = byte(u)?;
        let setup = Setup {
            websocket: first & 1 == 1,
            eio3: first & 2 == 2,
            b64: first & 4 == 4,
            max_buffered: byte(u)?,
            max_payload: byte(u)?,
        };
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
        out.push(
            u8::from(self.setup.websocket)
                | u8::from(self.setup.eio3) << 1
                | u8::from(self.setup.b64) << 2,
        );
        out.push(self.setup.max_buffered);
        out.push(self.setup.max_payload);
        for step in &self.steps {
            step.encode(out);
        }
    }
}
