//! The messages by which a siobridge node passes an HTTP long-polling
//! request for a session it does not own to the node that owns it, over
//! Redis pub/sub (issue 17, "Sticky sessions"; the role of Node's
//! `@socket.io/cluster-engine`, in siobridge's own format: cluster-engine
//! forwards Engine.IO packets under a lock, siobridge forwards the whole
//! request and its answer).
//!
//! A non-owner publishes a [`Forward::Request`] on the shared channel; the
//! node holding the session answers [`Forward::Accepted`] at once on the
//! requester's channel, then [`Forward::Response`] when its local answer is
//! ready (for a long-poll GET: when there is something to send, at the
//! latest the next PING). Nodes that do not hold the session say nothing.
//! When the client goes away before the answer, the requester publishes
//! [`Forward::Abort`] on the shared channel and the owner drops the request
//! as it drops a local one whose client went away (for a pending GET: the
//! session ends, as the reference ends it).
//!
//! A WebSocket upgrade (`transport=websocket` with a `sid`) goes the same
//! way but becomes a tunnel: the non-owner publishes [`Forward::Upgrade`];
//! the owner, when it takes the probe, answers [`Forward::Opened`] with its
//! node id (or a [`Forward::Response`] with the refusal it would give
//! locally); the non-owner then completes the WebSocket handshake with the
//! client and the connection's bytes, after the handshake, travel as
//! [`Forward::Data`] each way on the two nodes' own channels, in order,
//! until [`Forward::End`] from either side. The owner runs the WebSocket
//! (frames, the Engine.IO probe and upgrade) as if it were local; the
//! non-owner only moves bytes.
//!
//! The encoding is binary and length-prefixed, every integer big-endian:
//!
//! ```text
//! Request:  0x01 id:u64 from:str sid:str method:u8 query:str body:bytes
//!           (method: 0 GET, 1 POST)
//! Accepted: 0x02 id:u64
//! Response: 0x03 id:u64 status:u16 content_type:str body:bytes
//! Abort:    0x04 id:u64 from:str
//! Upgrade:  0x05 id:u64 from:str sid:str query:str
//! Opened:   0x06 id:u64 owner:str
//! Data:     0x07 id:u64 requester:str bytes:bytes
//! End:      0x08 id:u64 requester:str
//! str, bytes: len:u32 then len bytes (str: UTF-8)
//! ```
//!
//! A tunnel is named by the requester's node id and its number (`id`), on
//! both sides.
//!
//! [`decode`] is total: any input gives a value or an error, never a panic,
//! and allocates at most the input's size.

use bytes::Bytes;

/// The method of a forwarded request: the two a polling session takes
/// (engine.io-protocol v4, "Transports › HTTP long-polling").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMethod {
    /// A GET: the client fetches what the server holds for it.
    Get,
    /// A POST: the client sends a payload.
    Post,
}

/// One forwarding message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// A request for session `sid`, from node `from`, numbered `id` by it.
    Request {
        /// The requester's number for it.
        id: u64,
        /// The requesting node's id (its reply channel).
        from: String,
        /// The Engine.IO session id.
        sid: String,
        /// GET or POST.
        method: ForwardMethod,
        /// The request's query string, for the owner's routing checks.
        query: String,
        /// The POST body (empty for a GET).
        body: Bytes,
    },
    /// The owner holds the session and took request `id`.
    Accepted {
        /// The request's number.
        id: u64,
    },
    /// The owner's answer to request `id`.
    Response {
        /// The request's number.
        id: u64,
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` of the answer.
        content_type: String,
        /// The answer's body.
        body: Bytes,
    },
    /// The client of request `id` of node `from` went away.
    Abort {
        /// The request's number.
        id: u64,
        /// The requesting node's id.
        from: String,
    },
    /// A WebSocket upgrade of session `sid` reached node `from`, which asks
    /// the owner to take it through a tunnel numbered `id`.
    Upgrade {
        /// The requester's number for the tunnel.
        id: u64,
        /// The requesting node's id (its reply channel).
        from: String,
        /// The Engine.IO session id.
        sid: String,
        /// The upgrade request's query string.
        query: String,
    },
    /// Node `owner` took upgrade `id`: the tunnel is open.
    Opened {
        /// The tunnel's number.
        id: u64,
        /// The owner's node id (where the requester sends its bytes).
        owner: String,
    },
    /// The next bytes of tunnel `id` of node `requester`, either way.
    Data {
        /// The tunnel's number.
        id: u64,
        /// The node that asked for the tunnel.
        requester: String,
        /// The bytes, in the order they were read.
        bytes: Bytes,
    },
    /// Tunnel `id` of node `requester` ended (its connection closed on
    /// either side).
    End {
        /// The tunnel's number.
        id: u64,
        /// The node that asked for the tunnel.
        requester: String,
    },
}

/// Why bytes are not a forwarding message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardError(pub &'static str);

impl std::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ForwardError {}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

/// The bytes of `message`.
pub fn encode(message: &Forward) -> Vec<u8> {
    let mut out = Vec::new();
    match message {
        Forward::Request {
            id,
            from,
            sid,
            method,
            query,
            body,
        } => {
            out.push(1);
            out.extend_from_slice(&id.to_be_bytes());
            put_bytes(&mut out, from.as_bytes());
            put_bytes(&mut out, sid.as_bytes());
            out.push(match method {
                ForwardMethod::Get => 0,
                ForwardMethod::Post => 1,
            });
            put_bytes(&mut out, query.as_bytes());
            put_bytes(&mut out, body);
        }
        Forward::Accepted { id } => {
            out.push(2);
            out.extend_from_slice(&id.to_be_bytes());
        }
        Forward::Response {
            id,
            status,
            content_type,
            body,
        } => {
            out.push(3);
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&status.to_be_bytes());
            put_bytes(&mut out, content_type.as_bytes());
            put_bytes(&mut out, body);
        }
        Forward::Abort { id, from } => {
            out.push(4);
            out.extend_from_slice(&id.to_be_bytes());
            put_bytes(&mut out, from.as_bytes());
        }
        Forward::Upgrade {
            id,
            from,
            sid,
            query,
        } => {
            out.push(5);
            out.extend_from_slice(&id.to_be_bytes());
            put_bytes(&mut out, from.as_bytes());
            put_bytes(&mut out, sid.as_bytes());
            put_bytes(&mut out, query.as_bytes());
        }
        Forward::Opened { id, owner } => {
            out.push(6);
            out.extend_from_slice(&id.to_be_bytes());
            put_bytes(&mut out, owner.as_bytes());
        }
        Forward::Data {
            id,
            requester,
            bytes,
        } => {
            out.push(7);
            out.extend_from_slice(&id.to_be_bytes());
            put_bytes(&mut out, requester.as_bytes());
            put_bytes(&mut out, bytes);
        }
        Forward::End { id, requester } => {
            out.push(8);
            out.extend_from_slice(&id.to_be_bytes());
            put_bytes(&mut out, requester.as_bytes());
        }
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ForwardError> {
        if self.0.len() < n {
            return Err(ForwardError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, ForwardError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ForwardError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u64(&mut self) -> Result<u64, ForwardError> {
        let mut a = [0; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn bytes(&mut self) -> Result<&'a [u8], ForwardError> {
        let mut a = [0; 4];
        a.copy_from_slice(self.take(4)?);
        self.take(u32::from_be_bytes(a) as usize)
    }
    fn string(&mut self) -> Result<String, ForwardError> {
        std::str::from_utf8(self.bytes()?)
            .map(str::to_owned)
            .map_err(|_| ForwardError("not UTF-8"))
    }
}

/// The message in `input` (all of it: trailing bytes are an error).
pub fn decode(input: &[u8]) -> Result<Forward, ForwardError> {
    let mut r = Reader(input);
    let message = match r.u8()? {
        1 => Forward::Request {
            id: r.u64()?,
            from: r.string()?,
            sid: r.string()?,
            method: match r.u8()? {
                0 => ForwardMethod::Get,
                1 => ForwardMethod::Post,
                _ => return Err(ForwardError("unknown method")),
            },
            query: r.string()?,
            body: Bytes::copy_from_slice(r.bytes()?),
        },
        2 => Forward::Accepted { id: r.u64()? },
        3 => Forward::Response {
            id: r.u64()?,
            status: r.u16()?,
            content_type: r.string()?,
            body: Bytes::copy_from_slice(r.bytes()?),
        },
        4 => Forward::Abort {
            id: r.u64()?,
            from: r.string()?,
        },
        5 => Forward::Upgrade {
            id: r.u64()?,
            from: r.string()?,
            sid: r.string()?,
            query: r.string()?,
        },
        6 => Forward::Opened {
            id: r.u64()?,
            owner: r.string()?,
        },
        7 => Forward::Data {
            id: r.u64()?,
            requester: r.string()?,
            bytes: Bytes::copy_from_slice(r.bytes()?),
        },
        8 => Forward::End {
            id: r.u64()?,
            requester: r.string()?,
        },
        _ => return Err(ForwardError("unknown message type")),
    };
    if !r.0.is_empty() {
        return Err(ForwardError("trailing bytes"));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Forward> {
        vec![
            Forward::Request {
                id: 7,
                from: "a1b2c3".into(),
                sid: "AAAAAAAAAAAAAAAAAAAA".into(),
                method: ForwardMethod::Get,
                query: "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA".into(),
                body: Bytes::new(),
            },
            Forward::Request {
                id: u64::MAX,
                from: "n".into(),
                sid: "s".into(),
                method: ForwardMethod::Post,
                query: String::new(),
                body: Bytes::from_static(b"4hello\x1e4\xc3\xa9"),
            },
            Forward::Accepted { id: 0 },
            Forward::Abort {
                id: 9,
                from: "a1b2c3".into(),
            },
            Forward::Response {
                id: 42,
                status: 200,
                content_type: "text/plain; charset=UTF-8".into(),
                body: Bytes::from_static(b"2"),
            },
            Forward::Upgrade {
                id: 3,
                from: "a1b2c3".into(),
                sid: "AAAAAAAAAAAAAAAAAAAA".into(),
                query: "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA".into(),
            },
            Forward::Opened {
                id: 3,
                owner: "d4e5f6".into(),
            },
            Forward::Data {
                id: 3,
                requester: "a1b2c3".into(),
                bytes: Bytes::from_static(b"\x81\x062probe"),
            },
            Forward::End {
                id: 3,
                requester: "a1b2c3".into(),
            },
            Forward::Response {
                id: 1,
                status: 400,
                content_type: "application/json".into(),
                body: Bytes::from_static(br#"{"code":1,"message":"Session ID unknown"}"#),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in samples() {
            assert_eq!(decode(&encode(&m)), Ok(m.clone()));
        }
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        assert_eq!(
            encode(&Forward::Accepted { id: 258 }),
            [2, 0, 0, 0, 0, 0, 0, 1, 2]
        );
        let r = encode(&Forward::Request {
            id: 1,
            from: "ab".into(),
            sid: "x".into(),
            method: ForwardMethod::Post,
            query: "q".into(),
            body: Bytes::from_static(b"4"),
        });
        assert_eq!(
            r,
            [
                1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1, b'x', 1, 0, 0, 0, 1,
                b'q', 0, 0, 0, 1, b'4'
            ]
        );
    }

    #[test]
    fn every_truncation_and_extension_is_an_error() {
        for m in samples() {
            let bytes = encode(&m);
            for n in 0..bytes.len() {
                assert!(decode(&bytes[..n]).is_err(), "{m:?} cut at {n}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(decode(&longer), Err(ForwardError("trailing bytes")));
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(decode(&[9]), Err(ForwardError("unknown message type")));
        assert_eq!(
            encode(&Forward::End {
                id: 1,
                requester: "n".into()
            }),
            [8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, b'n']
        );
        // A length far past the input allocates nothing.
        assert!(decode(&[3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 200, 255, 255, 255, 255]).is_err());
        let mut bad_method = encode(&Forward::Request {
            id: 1,
            from: String::new(),
            sid: String::new(),
            method: ForwardMethod::Get,
            query: String::new(),
            body: Bytes::new(),
        });
        bad_method[17] = 5;
        assert_eq!(decode(&bad_method), Err(ForwardError("unknown method")));
        let mut not_utf8 = encode(&Forward::Accepted { id: 1 });
        not_utf8[0] = 3;
        not_utf8.extend_from_slice(&[0, 200, 0, 0, 0, 1, 0xff, 0, 0, 0, 0]);
        assert_eq!(decode(&not_utf8), Err(ForwardError("not UTF-8")));
    }
}
