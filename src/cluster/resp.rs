//! RESP2, the Redis wire protocol, as far as the adapter needs it: commands
//! out (arrays of bulk strings), replies and pub/sub pushes in. Pure: bytes
//! in, [`Reply`] values out; the connection lives in
//! [`server::redis`](crate::server::redis).
//!
//! Implements the Redis serialization protocol specification (RESP2:
//! simple strings `+`, errors `-`, integers `:`, bulk strings `$`, arrays
//! `*`, null bulk `$-1` and null array `*-1`). Parsing is incremental: a
//! reply that is not complete yet is `Ok(None)`, and the caller reads
//! more. Every length is bounded by [`RespLimits`] before anything is
//! allocated, and nesting is bounded, so a server (or anything pretending
//! to be one) cannot make the client allocate without limit or recurse
//! deeply.

use bytes::Bytes;

/// Bounds on what is accepted from the Redis server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RespLimits {
    /// Largest bulk string (one published message), in bytes. Default
    /// 16 MiB (Redis itself allows 512 MB; Node's clients have no bound).
    pub max_bulk: usize,
    /// Most elements of one array. Default 1,024 (a push has 3 or 4).
    pub max_array: usize,
    /// Deepest nesting of arrays. Default 4.
    pub max_depth: usize,
}

impl Default for RespLimits {
    fn default() -> Self {
        RespLimits {
            max_bulk: 16 * 1024 * 1024,
            max_array: 1024,
            max_depth: 4,
        }
    }
}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...`.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nabc`, `None` for `$-1`.
    Bulk(Option<Bytes>),
    /// `*2 ...`, `None` for `*-1`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The bytes of a bulk or simple string.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(Some(b)) => Some(b),
            Reply::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
}

/// The reply stream was not RESP2, or broke a limit: the connection is
/// closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespError(pub &'static str);

impl std::fmt::Display for RespError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis protocol: {}", self.0)
    }
}

impl std::error::Error for RespError {}

/// Appends the command `args` (an array of bulk strings) to `out`.
pub fn command(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses one reply from the start of `input`: `Ok(Some((reply, used)))`
/// with the number of bytes it took, `Ok(None)` when `input` holds only
/// part of it (nothing is copied then; a bulk string is copied out once
/// when complete).
pub fn parse(input: &[u8], limits: &RespLimits) -> Result<Option<(Reply, usize)>, RespError> {
    let mut pos = 0;
    match reply(input, &mut pos, limits, 0)? {
        Some(r) => Ok(Some((r, pos))),
        None => Ok(None),
    }
}

/// The line at `pos` (without its `\r\n`), or `None` when it is not
/// complete. A line longer than 64 bytes that is not complete is an error
/// for lengths and integers, which never are.
fn line<'a>(input: &'a [u8], pos: &mut usize) -> Result<Option<&'a [u8]>, RespError> {
    let rest = &input[*pos..];
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(end) => {
            *pos += end + 2;
            Ok(Some(&rest[..end]))
        }
        None => Ok(None),
    }
}

fn integer(text: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(RespError("bad integer"))
}

/// A length line: -1 (null) or 0..=max.
fn length(text: &[u8], max: usize) -> Result<Option<usize>, RespError> {
    match integer(text)? {
        -1 => Ok(None),
        n if n >= 0 && (n as u64) <= max as u64 => Ok(Some(n as usize)),
        _ => Err(RespError("length out of bounds")),
    }
}

fn reply(
    input: &[u8],
    pos: &mut usize,
    limits: &RespLimits,
    depth: usize,
) -> Result<Option<Reply>, RespError> {
    let Some(&kind) = input.get(*pos) else {
        return Ok(None);
    };
    let start = *pos;
    *pos += 1;
    let Some(text) = line(input, pos)? else {
        if input.len() - start > limits.max_bulk.max(1024) + 64 {
            return Err(RespError("line too long"));
        }
        *pos = start;
        return Ok(None);
    };
    let text_string = || String::from_utf8_lossy(text).into_owned();
    let r = match kind {
        b'+' => Reply::Simple(text_string()),
        b'-' => Reply::Error(text_string()),
        b':' => Reply::Integer(integer(text)?),
        b'$' => match length(text, limits.max_bulk)? {
            None => Reply::Bulk(None),
            Some(n) => {
                if input.len() < *pos + n + 2 {
                    *pos = start;
                    return Ok(None);
                }
                if &input[*pos + n..*pos + n + 2] != b"\r\n" {
                    return Err(RespError("bulk string not ended by CRLF"));
                }
                let bytes = Bytes::copy_from_slice(&input[*pos..*pos + n]);
                *pos += n + 2;
                Reply::Bulk(Some(bytes))
            }
        },
        b'*' => match length(text, limits.max_array)? {
            None => Reply::Array(None),
            Some(n) => {
                if depth + 1 > limits.max_depth {
                    return Err(RespError("arrays nested too deep"));
                }
                let mut items = Vec::with_capacity(n.min(16));
                for _ in 0..n {
                    match reply(input, pos, limits, depth + 1)? {
                        Some(item) => items.push(item),
                        None => {
                            *pos = start;
                            return Ok(None);
                        }
                    }
                }
                Reply::Array(Some(items))
            }
        },
        _ => return Err(RespError("unknown reply type")),
    };
    Ok(Some(r))
}

/// A pub/sub push, as a subscribed connection receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// `message`: a message on a channel subscribed with SUBSCRIBE.
    Message {
        /// The channel.
        channel: Bytes,
        /// The message.
        payload: Bytes,
    },
    /// `pmessage`: a message on a channel matching a PSUBSCRIBE pattern.
    PMessage {
        /// The channel.
        channel: Bytes,
        /// The message.
        payload: Bytes,
    },
    /// Anything else: subscribe confirmations, PONG.
    Other,
}

/// What a reply on a subscribed connection is.
pub fn push(reply: Reply) -> Push {
    let Reply::Array(Some(items)) = reply else {
        return Push::Other;
    };
    let bulk = |r: &Reply| match r {
        Reply::Bulk(Some(b)) => Some(b.clone()),
        _ => None,
    };
    match items.first().and_then(Reply::bytes) {
        Some(b"message") if items.len() == 3 => match (bulk(&items[1]), bulk(&items[2])) {
            (Some(channel), Some(payload)) => Push::Message { channel, payload },
            _ => Push::Other,
        },
        Some(b"pmessage") if items.len() == 4 => match (bulk(&items[2]), bulk(&items[3])) {
            (Some(channel), Some(payload)) => Push::PMessage { channel, payload },
            _ => Push::Other,
        },
        _ => Push::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &'static [u8]) -> Result<Option<(Reply, usize)>, RespError> {
        parse(input, &RespLimits::default())
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&[b"PUBLISH", b"socket.io#/#", b"\x93"], &mut out);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$12\r\nsocket.io#/#\r\n$1\r\n\x93\r\n"
        );
    }

    #[test]
    fn replies_parse_whole_or_not_at_all() {
        assert_eq!(all(b"+OK\r\n"), Ok(Some((Reply::Simple("OK".into()), 5))));
        assert_eq!(all(b":3\r\nrest"), Ok(Some((Reply::Integer(3), 4))));
        assert_eq!(all(b"$-1\r\n"), Ok(Some((Reply::Bulk(None), 5))));
        assert_eq!(
            all(b"-ERR x\r\n"),
            Ok(Some((Reply::Error("ERR x".into()), 8)))
        );
        let push = b"*4\r\n$8\r\npmessage\r\n$3\r\np#*\r\n$3\r\np#a\r\n$2\r\n\x00\xff\r\n";
        let (reply, used) = all(push).unwrap().unwrap();
        assert_eq!(used, push.len());
        assert_eq!(
            super::push(reply),
            Push::PMessage {
                channel: Bytes::from_static(b"p#a"),
                payload: Bytes::from_static(b"\x00\xff")
            }
        );
        for cut in 0..push.len() {
            assert_eq!(
                parse(&push[..cut], &RespLimits::default()),
                Ok(None),
                "{cut}"
            );
        }
    }

    #[test]
    fn limits_and_garbage_are_errors() {
        assert!(all(b"$99999999999\r\n").is_err());
        assert!(all(b"*99999999\r\n").is_err());
        assert!(all(b"?\r\n").is_err());
        assert!(all(b"$1\r\nabc\r\n").is_err());
        assert!(all(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").is_err());
        assert!(all(b":x\r\n").is_err());
    }
}
