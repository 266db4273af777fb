//! Socket.IO protocol v4: what socket.io 2.x clients (over Engine.IO v3)
//! expect, as pure functions the server calls at the few places where the
//! revisions differ.
//!
//! socket.io-protocol, "History › Difference between v5 and v4"
//! (<https://github.com/socketio/socket.io-protocol>), and what socket.io 4.8
//! does for a client whose Engine.IO connection is v3 (`conn.protocol === 3`):
//!
//! - **The implicit connection to `/`**: the client never sends CONNECT for
//!   the main namespace; the server connects it as the Engine.IO connection
//!   opens ([`implicit_connect`]; `Server#onconnection`).
//! - **The CONNECT query**: a CONNECT names `/nsp?query` and the query's
//!   parameters are the handshake's `auth` ([`inbound`];
//!   `Client#_parseNamespace`, which reads the namespace of every packet as
//!   a URL path).
//! - **The CONNECT answer** carries no payload ([`connect_answer`]), and the
//!   socket id is the Engine.IO id, prefixed by `nsp#` outside `/`
//!   ([`socket_id`]; the client computes it the same way).
//! - **The refusal** of a middleware (`ERROR`, now `CONNECT_ERROR`) carries
//!   the error's `data`, or its message, instead of `{message, data}`
//!   ([`refusal`]; `Namespace#_add`).
//!
//! Events, acknowledgements and binary attachments (the
//! `{"_placeholder":true,"num":N}` placeholders) are written alike in both
//! revisions.

use serde_json::{Map, Value};

use super::packet::{MAIN_NAMESPACE, Packet, PacketType};
use crate::engineio::{Protocol, Sid};

/// The Socket.IO protocol revision of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Revision {
    /// socket.io-protocol v5 (Engine.IO v4): socket.io 3.x and 4.x clients.
    #[default]
    V5,
    /// socket.io-protocol v4 (Engine.IO v3): socket.io 2.x clients.
    V4,
}

impl Revision {
    /// The revision that goes with an Engine.IO revision, as the reference
    /// pairs them.
    pub fn of(protocol: Protocol) -> Revision {
        if protocol.is_v3() {
            Revision::V4
        } else {
            Revision::V5
        }
    }
}

/// The CONNECT to `/` that a v4 client implies by opening its connection;
/// `None` for v5, whose clients send their own.
pub fn implicit_connect(revision: Revision) -> Option<Packet> {
    (revision == Revision::V4).then(|| Packet::connect(MAIN_NAMESPACE, None))
}

/// A packet from a v4 client, made to mean what the server expects of v5:
/// the namespace loses its `?query` (and `#fragment`), and a CONNECT's
/// payload becomes the query's parameters (an object of strings, decoded as
/// `URLSearchParams` does, the last of a repeated name winning). v5 packets
/// pass unchanged.
pub fn inbound(revision: Revision, mut packet: Packet) -> Packet {
    if revision == Revision::V5 {
        return packet;
    }
    let (path, query) = split_namespace(&packet.namespace);
    let path = if path.is_empty() {
        MAIN_NAMESPACE
    } else {
        path
    };
    if packet.kind == PacketType::Connect {
        let mut params = Map::new();
        for (name, value) in query_pairs(query) {
            params.insert(name, Value::String(value));
        }
        packet.data = Some(Value::Object(params));
    }
    if path.len() != packet.namespace.len() {
        packet.namespace = path.to_owned();
    }
    packet
}

/// The socket id of a v4 client on `namespace`: its Engine.IO id on `/`,
/// `<namespace>#<id>` elsewhere (socket.io 4.8 `Socket` constructor, and
/// socket.io-client 2.x `Manager#generateId`). `None` for v5, whose socket
/// ids are drawn at random.
pub fn socket_id(revision: Revision, namespace: &str, engine_sid: Sid) -> Option<String> {
    match revision {
        Revision::V5 => None,
        Revision::V4 if namespace == MAIN_NAMESPACE => Some(engine_sid.to_string()),
        Revision::V4 => Some(format!("{namespace}#{engine_sid}")),
    }
}

/// The CONNECT that accepts a socket: with `{"sid": id}` in v5, empty in v4.
pub fn connect_answer(revision: Revision, namespace: &str, socket_id: &str) -> Packet {
    match revision {
        Revision::V5 => Packet::connect(namespace, Some(serde_json::json!({ "sid": socket_id }))),
        Revision::V4 => Packet::connect(namespace, None),
    }
}

/// The CONNECT_ERROR of a middleware's refusal: `{"message", "data"}` in v5;
/// in v4 the reference's `err.data || err.message` (the data when it is
/// truthy in JavaScript's sense, else the message as a string).
pub fn refusal(revision: Revision, namespace: &str, message: &str, data: Option<Value>) -> Packet {
    match revision {
        Revision::V5 => Packet::connect_error(namespace, message, data),
        Revision::V4 => {
            let mut packet = Packet::connect_error(namespace, message, None);
            packet.data = Some(match data {
                Some(data) if is_truthy(&data) => data,
                _ => Value::String(message.to_owned()),
            });
            packet
        }
    }
}

/// JavaScript truthiness of a JSON value.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `/nsp?query#fragment` into the path and the query.
fn split_namespace(namespace: &str) -> (&str, &str) {
    let end = namespace.find('#').unwrap_or(namespace.len());
    let without_fragment = &namespace[..end];
    match without_fragment.split_once('?') {
        Some((path, query)) => (path, query),
        None => (without_fragment, ""),
    }
}

/// `application/x-www-form-urlencoded` pairs, as `URLSearchParams` reads
/// them: `&`-separated, `+` is a space, `%XX` escapes decoded (a bad
/// escape stays as written; bytes that are not UTF-8 become U+FFFD).
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::parse::{Limits, decode_text};
    use serde_json::json;

    fn decode(text: &str) -> Packet {
        decode_text(text, &Limits::default())
            .unwrap()
            .into_packet(Vec::new())
    }

    #[test]
    fn connect_query_becomes_the_auth_payload() {
        let p = inbound(Revision::V4, decode("0/private?token=s%20e+cret&x=1&x=2,"));
        assert_eq!(p.namespace, "/private");
        assert_eq!(p.data, Some(json!({"token": "s e cret", "x": "2"})));
        let p = inbound(Revision::V4, decode("0/custom,"));
        assert_eq!(p.namespace, "/custom");
        assert_eq!(p.data, Some(json!({})));
        // v5 CONNECTs keep their payload and their namespace.
        let p = inbound(Revision::V5, decode("0/a?b=c,{\"t\":1}"));
        assert_eq!(p.namespace, "/a?b=c");
        assert_eq!(p.data, Some(json!({"t": 1})));
    }

    #[test]
    fn every_packet_namespace_is_read_as_a_path() {
        let p = inbound(Revision::V4, decode("2/custom?x=1,[\"e\"]"));
        assert_eq!(p.namespace, "/custom");
        assert_eq!(p.data, Some(json!(["e"])));
        let p = inbound(Revision::V4, decode("2/?x#y,[\"e\"]"));
        assert_eq!(p.namespace, "/");
    }

    #[test]
    fn answers_in_each_revision() {
        let sid = crate::engineio::SidGenerator::new(Some([5; 32])).next_sid();
        assert_eq!(socket_id(Revision::V4, "/", sid), Some(sid.to_string()));
        assert_eq!(
            socket_id(Revision::V4, "/custom", sid),
            Some(format!("/custom#{sid}"))
        );
        assert_eq!(socket_id(Revision::V5, "/", sid), None);
        assert_eq!(connect_answer(Revision::V4, "/x", "id").data, None);
        assert_eq!(
            connect_answer(Revision::V5, "/x", "id").data,
            Some(json!({"sid": "id"}))
        );
        assert_eq!(
            implicit_connect(Revision::V4).map(|p| (p.kind, p.namespace)),
            Some((PacketType::Connect, "/".to_owned()))
        );
        assert_eq!(implicit_connect(Revision::V5), None);
    }

    #[test]
    fn refusal_is_data_or_message_in_v4() {
        let r = refusal(
            Revision::V4,
            "/p",
            "unauthorized",
            Some(json!({"code": 401})),
        );
        assert_eq!(r.kind, PacketType::ConnectError);
        assert_eq!(r.data, Some(json!({"code": 401})));
        for falsy in [None, Some(json!(null)), Some(json!(0)), Some(json!(""))] {
            let r = refusal(Revision::V4, "/p", "unauthorized", falsy);
            assert_eq!(r.data, Some(json!("unauthorized")));
        }
        let r = refusal(Revision::V5, "/p", "no", Some(json!(1)));
        assert_eq!(r.data, Some(json!({"message": "no", "data": 1})));
    }

    #[test]
    fn form_decoding_keeps_bad_escapes() {
        assert_eq!(form_decode("a%2"), "a%2");
        assert_eq!(form_decode("%zz%41"), "%zzA");
        assert_eq!(form_decode("%C3%A9"), "é");
        assert_eq!(form_decode("%FF"), "\u{fffd}");
    }
}
