//! Errors of the Engine.IO core, sorted by who is at fault.
//!
//! - [`DecodeError`]: the bytes are not a valid packet or payload.
//! - [`Rejection`]: an HTTP request the server refuses, with the reference
//!   server's error code and message (engine.io `Server.errors`).
//! - [`CloseReason`]: why a session ended, with the reference server's names.
//! - [`SendError`]: the application tried to send on a session that cannot
//!   take it (closed, or its buffer is full).

use std::fmt;

use super::packet::PacketType;

/// Bad bytes: a packet or payload that does not follow
/// engine.io-protocol v4, "Packet encoding" (and its "HTTP long-polling"
/// payloads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// An empty packet: there is not even a type digit.
    Empty,
    /// The first byte is not one of the digits `0` to `6` (nor `b`).
    UnknownPacketType(u8),
    /// CLOSE, UPGRADE and NOOP carry no data, yet data followed the digit.
    UnexpectedData(PacketType),
    /// The text after `b` is not valid base64.
    InvalidBase64,
    /// A polling payload is not valid UTF-8 (v4 payloads are text).
    InvalidUtf8,
    /// An Engine.IO v3 payload's framing is broken: a length prefix that is
    /// missing, not a number, or longer than what follows
    /// (engine.io-protocol v3, "Payload").
    BadLength,
    /// A payload is larger than `maxPayload`.
    PayloadTooLarge {
        /// Size of the payload, in bytes.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty packet"),
            DecodeError::UnknownPacketType(b) => write!(f, "unknown packet type byte 0x{b:02x}"),
            DecodeError::UnexpectedData(t) => write!(f, "{t} packet carries unexpected data"),
            DecodeError::InvalidBase64 => f.write_str("invalid base64 in binary packet"),
            DecodeError::InvalidUtf8 => f.write_str("payload is not valid UTF-8"),
            DecodeError::BadLength => f.write_str("bad length prefix in v3 payload"),
            DecodeError::PayloadTooLarge { size, max } => {
                write!(f, "payload of {size} bytes exceeds maxPayload {max}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// A request the server refuses before it reaches a session, as the reference
/// server answers it: HTTP status, and a JSON body `{"code":N,"message":"..."}`.
///
/// engine.io-protocol v4, "Transports › HTTP long-polling": a missing
/// mandatory query parameter, an unknown `sid` ("Sending data", "Receiving
/// data") and a second concurrent GET or POST are HTTP 400; the codes and
/// messages are the reference server's (engine.io 6.6, `Server.errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Code 0: the `transport` query parameter is missing or not served.
    UnknownTransport,
    /// Code 1: the `sid` names no open session.
    UnknownSid,
    /// Code 2: a handshake must be a GET.
    BadHandshakeMethod,
    /// Code 3: anything else malformed (wrong transport for the sid, a
    /// WebSocket transport without an upgrade, a second concurrent GET, ...).
    BadRequest,
    /// Code 4: refused by policy (a disallowed origin).
    Forbidden,
    /// Code 4, "Too many sessions": the server already holds its
    /// `max_sessions`. Answered as the reference server answers a handshake
    /// that its `allowRequest` hook refuses: 403 with the hook's message.
    TooManySessions,
    /// Code 4, "Too many sessions from this address": the client's IP
    /// address already holds `max_sessions_per_ip` sessions. Answered as
    /// [`Rejection::TooManySessions`].
    TooManySessionsFromAddress,
    /// Code 5: `EIO` is missing or not `4`.
    UnsupportedProtocolVersion,
}

impl Rejection {
    /// The reference server's numeric error code.
    pub fn code(self) -> u8 {
        match self {
            Rejection::UnknownTransport => 0,
            Rejection::UnknownSid => 1,
            Rejection::BadHandshakeMethod => 2,
            Rejection::BadRequest => 3,
            Rejection::Forbidden
            | Rejection::TooManySessions
            | Rejection::TooManySessionsFromAddress => 4,
            Rejection::UnsupportedProtocolVersion => 5,
        }
    }

    /// The reference server's message for this code.
    pub fn message(self) -> &'static str {
        match self {
            Rejection::UnknownTransport => "Transport unknown",
            Rejection::UnknownSid => "Session ID unknown",
            Rejection::BadHandshakeMethod => "Bad handshake method",
            Rejection::BadRequest => "Bad request",
            Rejection::Forbidden => "Forbidden",
            Rejection::TooManySessions => "Too many sessions",
            Rejection::TooManySessionsFromAddress => "Too many sessions from this address",
            Rejection::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status: 403 for the code-4 refusals (policy), 400 for the
    /// rest.
    pub fn http_status(self) -> u16 {
        match self {
            Rejection::Forbidden
            | Rejection::TooManySessions
            | Rejection::TooManySessionsFromAddress => 403,
            _ => 400,
        }
    }

    /// The JSON body: `{"code":N,"message":"..."}`.
    pub fn json_body(self) -> String {
        format!(
            "{{\"code\":{},\"message\":\"{}\"}}",
            self.code(),
            self.message()
        )
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message(), self.code())
    }
}

/// Why a session ended. [`CloseReason::as_str`] gives the reference server's
/// name for it, which is what applications log and compare.
///
/// engine.io-protocol v4, "Protocol › Heartbeat" (a missing `pong` closes
/// the connection: `ping timeout`), "Protocol" (the `close` packet:
/// `transport close`) and "Transports" (a transport's rules broken:
/// `transport error`); the names are the reference's (engine.io 6.6,
/// `Socket#onClose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client did not answer a PING within `pingTimeout`.
    PingTimeout,
    /// The client closed: it sent CLOSE, or its WebSocket closed.
    TransportClose,
    /// The transport failed or the client broke the transport's rules: a
    /// second concurrent GET, an aborted GET, a payload over `maxPayload`,
    /// a packet that is not allowed where it arrived.
    TransportError,
    /// The client sent bytes that are not a packet.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The server is shutting down.
    ServerShutdown,
    /// The client took none of what waited for it for `stall_timeout`, or
    /// its WebSocket write made no progress for the server's
    /// `write_timeout` ("slow consumer"; not a reference reason: the Node
    /// server buffers without bound).
    SlowConsumer,
}

impl CloseReason {
    /// The reference server's name: `"ping timeout"`, `"transport close"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
            CloseReason::SlowConsumer => "slow consumer",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The application could not queue a message on a session
/// (engine.io-protocol v4, "Protocol › Message").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The session is closing or closed.
    Closed,
    /// The message would take what the session buffers for its client over
    /// `max_buffered_bytes`: the client does not read fast enough.
    Full,
    /// A volatile message the client cannot take at this instant
    /// ([`Session::send_volatile`](super::Session::send_volatile)): over
    /// polling no GET is waiting, over WebSocket earlier frames still wait to
    /// be written. The message is dropped, as the reference drops a volatile
    /// packet when its transport is not writable.
    NotWritable,
    /// A text message holding the record separator `\x1e` on a polling
    /// session: engine.io-protocol v4 ("Packet encoding › HTTP long-polling")
    /// joins the packets of a payload with it and has no escape, so the
    /// client would split the message and could read forged packets from it.
    /// Socket.IO text never holds it (JSON escapes control characters).
    Unencodable,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("session closed"),
            SendError::Full => f.write_str("session send buffer full"),
            SendError::NotWritable => f.write_str("transport not writable now"),
            SendError::Unencodable => {
                f.write_str("text holding the payload separator on a polling session")
            }
        }
    }
}

impl std::error::Error for SendError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_bodies_match_the_reference_server() {
        let table = [
            (
                Rejection::UnknownTransport,
                400,
                r#"{"code":0,"message":"Transport unknown"}"#,
            ),
            (
                Rejection::UnknownSid,
                400,
                r#"{"code":1,"message":"Session ID unknown"}"#,
            ),
            (
                Rejection::BadHandshakeMethod,
                400,
                r#"{"code":2,"message":"Bad handshake method"}"#,
            ),
            (
                Rejection::BadRequest,
                400,
                r#"{"code":3,"message":"Bad request"}"#,
            ),
            (
                Rejection::Forbidden,
                403,
                r#"{"code":4,"message":"Forbidden"}"#,
            ),
            (
                Rejection::TooManySessions,
                403,
                r#"{"code":4,"message":"Too many sessions"}"#,
            ),
            (
                Rejection::TooManySessionsFromAddress,
                403,
                r#"{"code":4,"message":"Too many sessions from this address"}"#,
            ),
            (
                Rejection::UnsupportedProtocolVersion,
                400,
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ),
        ];
        for (rejection, status, body) in table {
            assert_eq!(rejection.http_status(), status);
            assert_eq!(rejection.json_body(), body);
        }
    }
}

/// Why a WebSocket that arrived for an existing session cannot be probed for
/// an upgrade ([`Session::begin_upgrade`](super::Session::begin_upgrade)).
/// The reference server (engine.io 6.6, `Server#onWebSocket`) completes the
/// WebSocket handshake in each case and then closes that WebSocket; the
/// session and its transport go on untouched.
///
/// engine.io-protocol v4, "Protocol › Upgrade" and "Transports › WebSocket"
/// (a client MUST NOT open more than one WebSocket per session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeRefused {
    /// Another WebSocket is being probed for this session (a second probe).
    Upgrading,
    /// The session already uses a WebSocket (upgraded, or opened on one).
    /// "Transports › WebSocket": one WebSocket per session.
    OnWebSocket,
    /// The session is closing or closed.
    Closed,
}

impl fmt::Display for ProbeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeRefused::Upgrading => "an upgrade is already being probed",
            ProbeRefused::OnWebSocket => "the session is already on WebSocket",
            ProbeRefused::Closed => "the session is closed",
        })
    }
}
