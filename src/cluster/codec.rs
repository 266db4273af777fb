//! The messages of `@socket.io/redis-adapter` 8.3 (the classic pub/sub
//! adapter) and `@socket.io/redis-emitter` 5.1, as bytes: a pure codec,
//! bytes in and typed messages out, for [`RedisAdapter`](crate::server::redis)
//! and the fuzz target `cluster_message`.
//!
//! Implements `shared/spec/redis-adapter.md` of this project ("Channels",
//! "Broadcast message", "Requests and responses", "notepack.io 3.0.1
//! encoding"), read from the adapter's `lib/index.ts` (`broadcast`,
//! `onmessage`, `onrequest`, `onresponse`, `publishResponse`). The
//! known-answer tests below decode bytes that the Node adapter and emitter
//! really published (`fixtures/node-messages.txt`, captured by
//! `protocol-tests/node/reference/redis-capture.mjs`).
//!
//! A broadcast is the notepack array `[uid, packet, opts]`: `packet` the
//! Socket.IO packet object `{type: 2, data: [event, ...args], nsp}` with
//! binary values as msgpack `bin`, `opts` `{rooms, except, flags}`.
//! Requests are JSON when their first byte is `{`, msgpack otherwise.
//!
//! Decoding never panics and allocates no more than the input's size and
//! the [`Limits`] allow (the value decoder of [`crate::socketio::msgpack`]
//! does the work). Where Node would throw on a malformed message (and so
//! drop it), this codec returns an error and the adapter drops it too.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::socketio::binary::{placeholder, replace_placeholders};
use crate::socketio::msgpack;
use crate::socketio::{Args, Limits, Packet, PacketType};

/// Why a message from Redis was not understood (it is then dropped, as the
/// Node adapter drops what it cannot decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub &'static str);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cluster message: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

/// The channels of one namespace (spec "Channels"): `P#N#` for broadcasts
/// (`P#N#<room>#` for a broadcast to exactly one room), `P-request#N#`,
/// `P-response#N#` and `P-response#N#<uid>#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `P#N#`: broadcasts; subscribed as the pattern `P#N#*`.
    pub broadcast: String,
    /// `P-request#N#`: requests between nodes.
    pub request: String,
    /// `P-response#N#`: answers to requests.
    pub response: String,
    /// `P-response#N#<uid>#`: answers to this node alone.
    pub specific_response: String,
}

impl Channels {
    /// The channels of namespace `nsp` under key prefix `prefix`, for the
    /// adapter whose uid is `uid`.
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> Channels {
        let response = format!("{prefix}-response#{nsp}#");
        Channels {
            broadcast: format!("{prefix}#{nsp}#"),
            request: format!("{prefix}-request#{nsp}#"),
            specific_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// The pattern that catches every broadcast of the namespace.
    pub fn broadcast_pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// Where a broadcast to `rooms` is published: the room's own channel
    /// when there is exactly one room, as the Node adapter does.
    pub fn broadcast_to(&self, rooms: &[String]) -> String {
        match rooms {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// The room a broadcast channel names: `Some(None)` for the
    /// namespace's channel, `Some(Some(room))` for a room's, `None` for a
    /// channel of another namespace.
    pub fn room_of<'c>(&self, channel: &'c str) -> Option<Option<&'c str>> {
        let rest = channel.strip_prefix(self.broadcast.as_str())?;
        if rest.is_empty() {
            return Some(None);
        }
        // Node takes the text between the prefix and the last character.
        let room = rest.strip_suffix('#')?;
        Some(Some(room))
    }
}

/// The flags of a broadcast (socket.io-adapter's `BroadcastFlags`) that
/// travel with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `volatile`: dropped for clients that are not ready.
    pub volatile: bool,
    /// `compress`, when set.
    pub compress: Option<bool>,
    /// `local`: never published by Node; delivered if received.
    pub local: bool,
    /// `timeout` in milliseconds (broadcasts with acks).
    pub timeout: Option<u64>,
}

/// A broadcast published by another node (or an emitter).
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The sender's uid (`"emitter"` for the emitter); a node drops its
    /// own. `None` when it is not a string.
    pub uid: Option<String>,
    /// The packet's namespace (`"/"` when the packet has none).
    pub namespace: String,
    /// The event name (`data[0]`).
    pub event: String,
    /// The event's arguments: binary values as placeholders and
    /// attachments, as the JSON parser gives them.
    pub args: Args,
    /// The rooms it goes to; none means every socket.
    pub rooms: Vec<String>,
    /// The rooms whose sockets it skips.
    pub except: Vec<String>,
    /// Its flags.
    pub flags: Flags,
}

/// The notepack bytes of a broadcast of `packet` (an EVENT or
/// BINARY_EVENT; the adapter's packet object is always type 2, binary as
/// `bin`) from the adapter `uid`, as the Node adapter's `broadcast`
/// writes them: `[uid, {type, data, nsp}, {rooms, except, flags}]`.
pub fn encode_broadcast(
    uid: &str,
    packet: &Packet,
    rooms: &[String],
    except: &[String],
    flags: &Flags,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    msgpack::encode_array_header(3, &mut out);
    msgpack::encode_str(uid, &mut out);
    let mut packet = packet.clone();
    packet.ack_id = None;
    msgpack::encode_into(&packet, &mut out);
    msgpack::encode_map_header(3, &mut out);
    msgpack::encode_str("rooms", &mut out);
    strings(rooms, &mut out);
    msgpack::encode_str("except", &mut out);
    // Node writes `[...new Set(opts.except)]`: each room once.
    let mut unique: Vec<String> = Vec::with_capacity(except.len());
    for room in except {
        if !unique.contains(room) {
            unique.push(room.clone());
        }
    }
    strings(&unique, &mut out);
    msgpack::encode_str("flags", &mut out);
    msgpack::encode_value(&flags_value(flags), &[], &mut out);
    out
}

fn strings(items: &[String], out: &mut Vec<u8>) {
    msgpack::encode_array_header(items.len(), out);
    for item in items {
        msgpack::encode_str(item, out);
    }
}

fn flags_value(flags: &Flags) -> Value {
    let mut map = Map::new();
    if let Some(compress) = flags.compress {
        map.insert("compress".into(), compress.into());
    }
    if flags.volatile {
        map.insert("volatile".into(), true.into());
    }
    if flags.local {
        map.insert("local".into(), true.into());
    }
    if let Some(timeout) = flags.timeout {
        map.insert("timeout".into(), timeout.into());
    }
    Value::Object(map)
}

/// Decodes a broadcast message (spec "Broadcast message"). `limits` bound
/// nesting, binary values and the event name as for a client's packet.
pub fn decode_broadcast(input: &Bytes, limits: &Limits) -> Result<Broadcast, CodecError> {
    let (value, attachments) =
        msgpack::decode_value(input, limits).map_err(|_| CodecError("not msgpack"))?;
    let Value::Array(mut items) = value else {
        return Err(CodecError("a broadcast is an array"));
    };
    if items.len() < 3 {
        return Err(CodecError("a broadcast has three elements"));
    }
    let opts = items.swap_remove(2);
    let packet = items.swap_remove(1);
    let uid = match items.swap_remove(0) {
        Value::String(uid) => Some(uid),
        _ => None,
    };
    let Value::Object(mut packet) = packet else {
        return Err(CodecError("the packet is not an object"));
    };
    let namespace = match packet.remove("nsp") {
        None | Some(Value::Null) => "/".to_owned(),
        Some(Value::String(nsp)) => nsp,
        Some(_) => return Err(CodecError("the namespace is not a string")),
    };
    let (event, args) = event_args(packet.remove("data"), &attachments, limits)?;
    let Value::Object(opts) = opts else {
        return Err(CodecError("the options are not an object"));
    };
    let (rooms, except) = rooms_and_except(&opts);
    let flags = match opts.get("flags") {
        Some(Value::Object(flags)) => Flags {
            volatile: truthy(flags.get("volatile")),
            compress: flags.get("compress").and_then(Value::as_bool),
            local: truthy(flags.get("local")),
            timeout: flags.get("timeout").and_then(Value::as_u64),
        },
        _ => Flags::default(),
    };
    Ok(Broadcast {
        uid,
        namespace,
        event,
        args,
        rooms,
        except,
        flags,
    })
}

/// `data` of a packet: `[event, ...args]`, the event a string; the
/// arguments keep only the attachments they point at, renumbered.
fn event_args(
    data: Option<Value>,
    attachments: &[Bytes],
    limits: &Limits,
) -> Result<(String, Args), CodecError> {
    let Some(Value::Array(mut data)) = data else {
        return Err(CodecError("the data is not an array"));
    };
    if data.is_empty() {
        return Err(CodecError("no event name"));
    }
    let Value::String(event) = data.remove(0) else {
        return Err(CodecError("the event name is not a string"));
    };
    if event.len() > limits.max_event_name_len {
        return Err(CodecError("the event name is too long"));
    }
    let mut binary = Vec::new();
    for value in &mut data {
        replace_placeholders(value, attachments, |_, bytes| {
            binary.push(bytes.clone());
            placeholder(binary.len() - 1)
        });
    }
    Ok((event, Args::from_parts(data, binary)))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// A room name as Node keeps it: a string, or a number (rooms may be
/// numbers in Node), written as JavaScript would.
fn room_name(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn room_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(room_name).collect(),
        _ => Vec::new(),
    }
}

fn rooms_and_except(opts: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    (room_list(opts.get("rooms")), room_list(opts.get("except")))
}

/// The request types of the classic adapter (spec "Requests and
/// responses").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// 0: the socket ids in some rooms (legacy).
    Sockets = 0,
    /// 1: every room of every node.
    AllRooms = 1,
    /// 2: `socketsJoin`.
    RemoteJoin = 2,
    /// 3: `socketsLeave`.
    RemoteLeave = 3,
    /// 4: `disconnectSockets`.
    RemoteDisconnect = 4,
    /// 5: `fetchSockets`.
    RemoteFetch = 5,
    /// 6: `serverSideEmit`.
    ServerSideEmit = 6,
    /// 7: a broadcast with acks.
    Broadcast = 7,
    /// 8: the answer to 7: how many clients were asked.
    BroadcastClientCount = 8,
    /// 9: the answer to 7: one client's ack.
    BroadcastAck = 9,
}

impl RequestType {
    fn from_value(v: Option<&Value>) -> Option<RequestType> {
        Some(match v?.as_u64()? {
            0 => RequestType::Sockets,
            1 => RequestType::AllRooms,
            2 => RequestType::RemoteJoin,
            3 => RequestType::RemoteLeave,
            4 => RequestType::RemoteDisconnect,
            5 => RequestType::RemoteFetch,
            6 => RequestType::ServerSideEmit,
            7 => RequestType::Broadcast,
            8 => RequestType::BroadcastClientCount,
            9 => RequestType::BroadcastAck,
            _ => return None,
        })
    }
}

/// A request from another node, or an emitter.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Its type.
    pub kind: RequestType,
    /// The requester's uid (none from the emitter's join/leave/disconnect).
    pub uid: Option<String>,
    /// The request id, when an answer is wanted.
    pub request_id: Option<String>,
    /// `opts.rooms` (or `rooms` of a SOCKETS request).
    pub rooms: Vec<String>,
    /// `opts.except`.
    pub except: Vec<String>,
    /// The rooms to join or leave (`rooms` of REMOTE_JOIN / REMOTE_LEAVE).
    pub target_rooms: Vec<String>,
    /// `close` of REMOTE_DISCONNECT.
    pub close: bool,
    /// The older shape of 2-4: one socket (`sid`) and one `room`.
    pub sid: Option<String>,
    /// `room` of the older shape.
    pub room: Option<String>,
    /// SERVER_SIDE_EMIT: `[event, ...args]`; BROADCAST: the event and its
    /// arguments; empty otherwise.
    pub event: Option<String>,
    /// The arguments (binary as placeholders and attachments).
    pub args: Args,
    /// BROADCAST's `opts.flags`.
    pub flags: Flags,
}

/// Decodes a request (spec "Requests and responses"): JSON when the first
/// byte is `{`, msgpack otherwise. An unknown type is an error (Node
/// ignores it).
pub fn decode_request(input: &Bytes, limits: &Limits) -> Result<Request, CodecError> {
    let (value, attachments) = if input.first() == Some(&b'{') {
        if json_nests_deeper(input, limits.max_json_depth) {
            return Err(CodecError("nested too deep"));
        }
        let value: Value = serde_json::from_slice(input).map_err(|_| CodecError("not JSON"))?;
        (value, Vec::new())
    } else {
        msgpack::decode_value(input, limits).map_err(|_| CodecError("not msgpack"))?
    };
    let Value::Object(mut map) = value else {
        return Err(CodecError("a request is an object"));
    };
    let kind = RequestType::from_value(map.get("type")).ok_or(CodecError("unknown type"))?;
    let text = |v: Option<&Value>| v.and_then(room_name);
    let uid = map.get("uid").and_then(Value::as_str).map(str::to_owned);
    let request_id = text(map.get("requestId"));
    let mut request = Request {
        kind,
        uid,
        request_id,
        rooms: Vec::new(),
        except: Vec::new(),
        target_rooms: Vec::new(),
        close: truthy(map.get("close")),
        sid: text(map.get("sid")),
        room: text(map.get("room")),
        event: None,
        args: Args::new(),
        flags: Flags::default(),
    };
    if let Some(Value::Object(opts)) = map.get("opts") {
        (request.rooms, request.except) = rooms_and_except(opts);
        if let Some(Value::Object(flags)) = opts.get("flags") {
            request.flags = Flags {
                volatile: truthy(flags.get("volatile")),
                compress: flags.get("compress").and_then(Value::as_bool),
                local: truthy(flags.get("local")),
                timeout: flags.get("timeout").and_then(Value::as_u64),
            };
        }
    }
    match kind {
        RequestType::Sockets => request.rooms = room_list(map.get("rooms")),
        RequestType::RemoteJoin | RequestType::RemoteLeave => {
            request.target_rooms = room_list(map.get("rooms"))
        }
        RequestType::ServerSideEmit => {
            let (event, args) = event_args(map.remove("data"), &attachments, limits)?;
            request.event = Some(event);
            request.args = args;
        }
        RequestType::Broadcast => {
            let Some(Value::Object(mut packet)) = map.remove("packet") else {
                return Err(CodecError("no packet"));
            };
            let (event, args) = event_args(packet.remove("data"), &attachments, limits)?;
            request.event = Some(event);
            request.args = args;
        }
        _ => {}
    }
    Ok(request)
}

/// Whether JSON `text` nests `[`/`{` deeper than `max` (brackets inside
/// strings ignored): checked before parsing. Linear, no recursion.
fn json_nests_deeper(text: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Decodes a response (JSON when its first byte is `{`, msgpack
/// otherwise) into its fields, with the binary values of a msgpack one
/// (BROADCAST_ACK) as placeholders into the attachments returned.
pub fn decode_response(
    input: &Bytes,
    limits: &Limits,
) -> Result<(Map<String, Value>, Vec<Bytes>), CodecError> {
    let (value, attachments) = if input.first() == Some(&b'{') {
        if json_nests_deeper(input, limits.max_json_depth) {
            return Err(CodecError("nested too deep"));
        }
        let value = serde_json::from_slice(input).map_err(|_| CodecError("not JSON"))?;
        (value, Vec::new())
    } else {
        msgpack::decode_value(input, limits).map_err(|_| CodecError("not msgpack"))?
    };
    match value {
        Value::Object(map) => Ok((map, attachments)),
        _ => Err(CodecError("a response is an object")),
    }
}

/// `value` as the arguments of an ack, with the attachments its
/// placeholders point at (renumbered from 0).
pub fn args_of(mut value: Value, attachments: &[Bytes]) -> Args {
    let mut binary = Vec::new();
    replace_placeholders(&mut value, attachments, |_, bytes| {
        binary.push(bytes.clone());
        placeholder(binary.len() - 1)
    });
    Args::from_parts(vec![value], binary)
}

/// A BROADCAST request `{uid, requestId, type: 7, packet, opts}`
/// (msgpack, as the Node adapter's `broadcastWithAck` writes it).
pub fn encode_broadcast_request(
    uid: &str,
    request_id: &str,
    packet: &Packet,
    rooms: &[String],
    except: &[String],
    flags: &Flags,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    msgpack::encode_map_header(5, &mut out);
    msgpack::encode_str("uid", &mut out);
    msgpack::encode_str(uid, &mut out);
    msgpack::encode_str("requestId", &mut out);
    msgpack::encode_str(request_id, &mut out);
    msgpack::encode_str("type", &mut out);
    msgpack::encode_value(&Value::from(RequestType::Broadcast as u8), &[], &mut out);
    msgpack::encode_str("packet", &mut out);
    msgpack::encode_into(packet, &mut out);
    msgpack::encode_str("opts", &mut out);
    msgpack::encode_map_header(3, &mut out);
    msgpack::encode_str("rooms", &mut out);
    strings(rooms, &mut out);
    msgpack::encode_str("except", &mut out);
    strings(except, &mut out);
    msgpack::encode_str("flags", &mut out);
    msgpack::encode_value(&flags_value(flags), &[], &mut out);
    out
}

/// A JSON response `{requestId, ...fields}`, as `publishResponse` sends it.
pub fn encode_json_response(request_id: &str, fields: Map<String, Value>) -> Vec<u8> {
    let mut out = format!("{{\"requestId\":{}", Value::from(request_id));
    for (key, value) in fields {
        out.push_str(&format!(",{}:{value}", Value::from(key)));
    }
    out.push('}');
    out.into_bytes()
}

/// The SERVER_SIDE_EMIT ack reply `{type: 6, requestId, data}` (JSON;
/// binary in `data` is written as Node's JSON writes a Buffer).
pub fn encode_server_side_ack(request_id: &str, data: &Args) -> Vec<u8> {
    let mut value = data.values().first().cloned().unwrap_or(Value::Null);
    buffers_as_json(&mut value, &data.binary);
    format!(
        "{{\"type\":{},\"requestId\":{},\"data\":{value}}}",
        RequestType::ServerSideEmit as u8,
        Value::from(request_id)
    )
    .into_bytes()
}

/// `JSON.stringify` of a Buffer: `{"type":"Buffer","data":[bytes]}`.
fn buffers_as_json(value: &mut Value, binary: &[Bytes]) {
    replace_placeholders(value, binary, |_, bytes| {
        let mut map = Map::new();
        map.insert("type".into(), "Buffer".into());
        map.insert(
            "data".into(),
            Value::Array(bytes.iter().map(|&b| Value::from(b)).collect()),
        );
        Value::Object(map)
    });
}

/// The BROADCAST_CLIENT_COUNT answer `{type: 8, requestId, clientCount}`
/// (JSON).
pub fn encode_client_count(request_id: &str, count: usize) -> Vec<u8> {
    format!(
        "{{\"type\":{},\"requestId\":{},\"clientCount\":{count}}}",
        RequestType::BroadcastClientCount as u8,
        Value::from(request_id)
    )
    .into_bytes()
}

/// The BROADCAST_ACK answer `{type: 9, requestId, packet: arg}`
/// (msgpack; binary as `bin`): the first argument of one client's ack, as
/// the Node adapter's `broadcastWithAck` callback publishes it (`null`
/// when the ack had none).
pub fn encode_broadcast_ack(request_id: &str, ack: &Args) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    msgpack::encode_map_header(3, &mut out);
    msgpack::encode_str("type", &mut out);
    msgpack::encode_value(&Value::from(RequestType::BroadcastAck as u8), &[], &mut out);
    msgpack::encode_str("requestId", &mut out);
    msgpack::encode_str(request_id, &mut out);
    msgpack::encode_str("packet", &mut out);
    let first = ack.values().first().cloned().unwrap_or(Value::Null);
    msgpack::encode_value(&first, &ack.binary, &mut out);
    out
}

/// The packet a remote broadcast is delivered as here: an EVENT (a
/// BINARY_EVENT when it carries binary) of `namespace`.
pub fn event_packet(namespace: &str, event: &str, args: &Args) -> Packet {
    let mut values = Vec::with_capacity(args.values().len() + 1);
    values.push(Value::from(event));
    values.extend(args.values().iter().cloned());
    let packet = Packet::event_with_binary(namespace, values, None, args.binary.clone());
    debug_assert!(matches!(
        packet.kind,
        PacketType::Event | PacketType::BinaryEvent
    ));
    packet
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hex(s: &str) -> Bytes {
        Bytes::from(
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>(),
        )
    }

    /// `(name, channel, bytes)` of every message the capture script saw.
    fn fixtures() -> Vec<(&'static str, &'static str, Bytes)> {
        include_str!("fixtures/node-messages.txt")
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut parts = l.split(' ');
                let (name, channel, bytes) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                (name, channel, hex(bytes))
            })
            .collect()
    }

    fn fixture(name: &str, channel_prefix: &str) -> (&'static str, Bytes) {
        fixtures()
            .into_iter()
            .find(|(n, c, _)| *n == name && c.starts_with(channel_prefix))
            .map(|(_, c, b)| (c, b))
            .unwrap_or_else(|| panic!("no fixture {name}"))
    }

    fn broadcast(name: &str) -> (&'static str, Broadcast) {
        let (channel, bytes) = fixture(name, "socket.io#");
        (
            channel,
            decode_broadcast(&bytes, &Limits::default()).unwrap(),
        )
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn node_broadcasts_decode() {
        let (channel, b) = broadcast("emit-all");
        assert_eq!(channel, "socket.io#/#");
        assert_eq!(b.namespace, "/");
        assert_eq!(b.event, "hello");
        assert_eq!(b.args.values(), [json!("world")]);
        assert!(b.rooms.is_empty() && b.except.is_empty());
        assert_eq!(b.flags, Flags::default());
        assert_eq!(b.uid.as_deref().map(str::len), Some(6));

        let (channel, b) = broadcast("emit-room-binary");
        let channels = Channels::new("socket.io", "/", "x");
        assert_eq!(channels.room_of(channel), Some(Some("room1")));
        assert_eq!(b.rooms, ["room1"]);
        assert_eq!(b.args.values(), [json!("world"), placeholder(0)]);
        assert_eq!(b.args.binary, [Bytes::from_static(&[1, 2, 3])]);

        let (_, b) = broadcast("emit-rooms-except");
        assert_eq!(
            (b.rooms, b.except),
            (strings(&["r1", "r2"]), strings(&["r3"]))
        );
        assert_eq!(
            b.args.values(),
            [json!({"n": 1, "neg": -5, "f": 1.5, "big": 1u64 << 40})]
        );

        let (_, b) = broadcast("emit-volatile");
        assert!(b.flags.volatile);
        assert_eq!(b.args.values(), [json!(null), json!(true), json!(false)]);
        let (_, b) = broadcast("emit-compress");
        assert_eq!(b.flags.compress, Some(false));
        let (_, b) = broadcast("emit-date");
        assert_eq!(b.args.values(), [json!("2024-01-02T03:04:05.678Z")]);
        let (channel, b) = broadcast("emit-nsp");
        assert_eq!(b.namespace, "/custom");
        assert_eq!(
            Channels::new("socket.io", "/custom", "x").room_of(channel),
            Some(None)
        );
        assert_eq!(Channels::new("socket.io", "/", "x").room_of(channel), None);
        let (_, b) = broadcast("socket-broadcast");
        assert_eq!(b.except.len(), 1, "the sender's id: {:?}", b.except);
    }

    #[test]
    fn emitter_broadcasts_decode() {
        let (_, b) = broadcast("emitter-all");
        assert_eq!(b.uid.as_deref(), Some("emitter"));
        assert_eq!(
            (b.event.as_str(), b.args.values()),
            ("e", &[json!("v")][..])
        );
        let (channel, b) = broadcast("emitter-room");
        assert_eq!(channel, "socket.io#/#room1#");
        assert_eq!(
            (b.rooms, b.except),
            (strings(&["room1"]), strings(&["room2"]))
        );
        assert_eq!(b.args.binary, [Bytes::from_static(&[9])]);
        let (_, b) = broadcast("emitter-volatile-nsp");
        assert!(b.flags.volatile);
        assert_eq!(b.namespace, "/custom");
        assert!(b.args.values().is_empty());
    }

    /// What this codec writes is what the Node adapter writes, byte for
    /// byte, for the same uid (objects of the application's data aside:
    /// their keys are written sorted, which Node reads the same).
    #[test]
    fn broadcasts_encode_as_node_does() {
        let (_, bytes) = fixture("emit-rooms-except", "socket.io#");
        let b = decode_broadcast(&bytes, &Limits::default()).unwrap();
        let packet = event_packet(&b.namespace, &b.event, &b.args);
        let ours = encode_broadcast(
            b.uid.as_deref().unwrap(),
            &packet,
            &b.rooms,
            &b.except,
            &b.flags,
        );
        assert_eq!(
            decode_broadcast(&Bytes::from(ours), &Limits::default()),
            Ok(b)
        );
        for name in [
            "emit-all",
            "emit-room-binary",
            "emit-volatile",
            "emit-compress",
            "emit-nsp",
            "socket-broadcast",
            "socket-to-room",
        ] {
            let (channel, bytes) = fixture(name, "socket.io#");
            let b = decode_broadcast(&bytes, &Limits::default()).unwrap();
            let packet = event_packet(&b.namespace, &b.event, &b.args);
            let uid = b.uid.clone().unwrap();
            let encoded = encode_broadcast(&uid, &packet, &b.rooms, &b.except, &b.flags);
            assert_eq!(Bytes::from(encoded), bytes, "{name}");
            let channels = Channels::new("socket.io", &b.namespace, &uid);
            assert_eq!(channels.broadcast_to(&b.rooms), channel, "{name}");
        }
    }

    #[test]
    fn node_requests_decode() {
        let request = |name| {
            let (_, bytes) = fixture(name, "socket.io-request#");
            decode_request(&bytes, &Limits::default()).unwrap()
        };
        let r = request("fetch-sockets");
        assert_eq!(r.kind, RequestType::RemoteFetch);
        assert_eq!(r.rooms, ["room1"]);
        assert!(r.request_id.is_some() && r.uid.is_some());
        assert_eq!(request("all-rooms").kind, RequestType::AllRooms);
        let r = request("sockets-join");
        assert_eq!(
            (r.kind, r.except, r.target_rooms),
            (
                RequestType::RemoteJoin,
                strings(&["x"]),
                strings(&["j1", "j2"])
            )
        );
        let r = request("sockets-leave");
        assert_eq!(
            (r.kind, r.rooms, r.target_rooms),
            (RequestType::RemoteLeave, strings(&["j1"]), strings(&["j2"]))
        );
        let r = request("disconnect-sockets");
        assert_eq!((r.kind, r.close), (RequestType::RemoteDisconnect, true));
        let r = request("server-side-emit");
        assert_eq!(
            (r.event.as_deref(), r.request_id.as_deref()),
            (Some("hi"), None)
        );
        assert_eq!(r.args.values(), [json!(1), json!("two")]);
        let r = request("server-side-emit-ack");
        assert!(r.request_id.is_some());
        let r = request("broadcast-ack");
        assert_eq!(r.kind, RequestType::Broadcast);
        assert_eq!(
            (r.event.as_deref(), r.flags.timeout),
            (Some("n"), Some(300))
        );
        let r = request("emitter-join");
        assert_eq!(
            (r.uid, r.rooms, r.target_rooms),
            (None, strings(&["room1"]), strings(&["room3"]))
        );
        let r = request("emitter-disconnect");
        assert_eq!((r.kind, r.close), (RequestType::RemoteDisconnect, false));
        let r = request("emitter-server-side-emit");
        assert_eq!(r.uid.as_deref(), Some("emitter"));
    }

    #[test]
    fn broadcast_requests_encode_as_node_does() {
        let (_, bytes) = fixture("broadcast-ack", "socket.io-request#");
        let r = decode_request(&bytes, &Limits::default()).unwrap();
        let packet = event_packet("/", r.event.as_deref().unwrap(), &r.args);
        let ours = encode_broadcast_request(
            r.uid.as_deref().unwrap(),
            r.request_id.as_deref().unwrap(),
            &packet,
            &r.rooms,
            &r.except,
            &r.flags,
        );
        assert_eq!(Bytes::from(ours), bytes);
        let ack = encode_broadcast_ack("id", &Args::new().bytes(vec![1u8]));
        let (fields, binary) = decode_response(&Bytes::from(ack), &Limits::default()).unwrap();
        assert_eq!(fields["type"], json!(9));
        let args = args_of(fields["packet"].clone(), &binary);
        assert_eq!(
            args.into_parts(),
            (vec![placeholder(0)], vec![Bytes::from_static(&[1])])
        );
    }

    #[test]
    fn responses_are_written_as_node_writes_them() {
        let (_, bytes) = fixture("server-side-emit-ack", "socket.io-response#");
        let sent: Value = serde_json::from_slice(&bytes).unwrap();
        let id = sent["requestId"].as_str().unwrap();
        let ours = encode_server_side_ack(id, &Args::new().arg(json!({"pong": 7})));
        assert_eq!(Bytes::from(ours), bytes);
        let (_, bytes) = fixture("broadcast-ack", "socket.io-response#");
        let sent: Value = serde_json::from_slice(&bytes).unwrap();
        let id = sent["requestId"].as_str().unwrap();
        assert_eq!(Bytes::from(encode_client_count(id, 1)), bytes);
        let (_, bytes) = fixture("fetch-sockets", "socket.io-response#");
        let sent: Value = serde_json::from_slice(&bytes).unwrap();
        let id = sent["requestId"].as_str().unwrap();
        let mut fields = Map::new();
        fields.insert("sockets".into(), json!([]));
        assert_eq!(Bytes::from(encode_json_response(id, fields)), bytes);
    }

    #[test]
    fn bad_messages_are_errors_not_panics() {
        let limits = Limits::default();
        for bytes in [
            &b""[..],
            b"\x93",
            b"\x92\xa1a\x80",
            b"\x93\xa1a\x80\x80",
            b"\x93\xa1a\x81\xa4data\x90\x80",
            b"\x93\xa1a\x81\xa4data\x91\x01\x80",
            b"\x93\xa1a\x81\xa3nsp\x01\x80",
            b"\xdd\xff\xff\xff\xff",
        ] {
            assert!(decode_broadcast(&Bytes::copy_from_slice(bytes), &limits).is_err());
        }
        for bytes in [&b"{"[..], b"{}", b"{\"type\":99}", b"\x81\xa4type\x06"] {
            assert!(decode_request(&Bytes::copy_from_slice(bytes), &limits).is_err());
        }
        let deep = format!("{{\"type\":6,\"data\":[\"e\",{}]}}", "[".repeat(100_000));
        assert!(decode_request(&Bytes::from(deep), &limits).is_err());
    }
}
