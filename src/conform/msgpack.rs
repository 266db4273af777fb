//! The msgpack parser checks (`siobridge conform --msgpack`), for a
//! Socket.IO server configured with the msgpack parser, as the reference is
//! with `parser: require("socket.io-msgpack-parser")`: the same Socket.IO
//! server as the other checks, spoken to in MessagePack.
//!
//! On this wire (socket.io-protocol v5, README "Packet encoding" › "Custom
//! parsers"; `socket.io-msgpack-parser` 3.0) every Socket.IO packet is one
//! binary Engine.IO message holding the packet object `{type, data, nsp,
//! id}` as one MessagePack map, binary values inline as MessagePack `bin`.
//! What the client sends is written by hand here (known answers, not the
//! project's encoder); what the server sends is decoded with the project's
//! msgpack decoder ([`crate::socketio::msgpack`]) and compared as packets,
//! so a different but equivalent MessagePack spelling (key order, integer
//! widths) is not a failure.

use std::future::Future;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};

use super::engineio::{self, expect_close, next_non_ping, open_polling, url};
use super::wire::{Frame, WebSocket, hex, quote};
use super::{Check, Ctx, Verdict};
use crate::socketio::{Limits, Packet, PacketType, msgpack, placeholder};

/// The msgpack checks, in the order they run.
pub(super) fn checks(ctx: &Ctx) -> Vec<(String, Check<'_>)> {
    let path = ctx.contract.socket_path.as_str();
    vec![
        check(
            "handshake over websocket",
            engineio::handshake_websocket(ctx, path),
        ),
        check(
            "CONNECT to / is one binary message, answered by CONNECT {sid} as one",
            connect_main(ctx),
        ),
        check(
            "CONNECT to /custom with auth",
            connect_custom_with_auth(ctx),
        ),
        check(
            "CONNECT over polling, as b + base64 both ways",
            connect_polling(ctx),
        ),
        check("event", event(ctx)),
        check("acknowledgement", ack(ctx)),
        check("binary inline as msgpack bin", binary_inline(ctx)),
        check(
            "a middleware refusal is a CONNECT_ERROR with its message and data",
            middleware_refusal(ctx),
        ),
        check(
            "an unknown namespace gets CONNECT_ERROR, the connection stays open",
            unknown_namespace(ctx),
        ),
        check(
            "a text frame closes the connection",
            bad_input(ctx, BadInput::Text("40")),
        ),
        check(
            "malformed msgpack closes the connection",
            // 0xc1 is the one byte MessagePack never uses.
            bad_input(ctx, BadInput::Binary(&[0xc1])),
        ),
        check(
            "a packet of an unknown type closes the connection",
            // {"type": 9, "nsp": "/"}
            bad_input(
                ctx,
                BadInput::Binary(&[
                    0x82, 0xa4, b't', b'y', b'p', b'e', 0x09, 0xa3, b'n', b's', b'p', 0xa1, b'/',
                ]),
            ),
        ),
    ]
}

/// Names a check of this layer.
fn check<'a>(name: &str, verdict: impl Future<Output = Verdict> + 'a) -> (String, Check<'a>) {
    (format!("msgpack: {name}"), Box::pin(verdict))
}

/// A MessagePack string (fixstr, or str 8 up to 255 bytes).
fn str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    match bytes.len() {
        len @ 0..=31 => out.push(0xa0 | len as u8),
        len @ 32..=255 => out.extend([0xd9, len as u8]),
        _ => unreachable!("the checks write short strings only"),
    }
    out.extend_from_slice(bytes);
}

/// The argument values the checks send: each written as MessagePack by hand.
enum Arg<'a> {
    Str(&'a str),
    Int(u8),
    Bin(&'a [u8]),
    /// A map of one string key to a string value.
    Map(&'a str, &'a str),
}

impl Arg<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Arg::Str(text) => str(out, text),
            // A positive fixint.
            Arg::Int(n) => out.push(n & 0x7f),
            Arg::Bin(bytes) => {
                out.extend([0xc4, bytes.len() as u8]);
                out.extend_from_slice(bytes);
            }
            Arg::Map(key, value) => {
                out.push(0x81);
                str(out, key);
                str(out, value);
            }
        }
    }

    /// How the project's decoder shows the value, binary as placeholder `num`.
    fn value(&self, num: &mut usize, attachments: &mut Vec<Bytes>) -> Value {
        match self {
            Arg::Str(text) => json!(text),
            Arg::Int(n) => json!(n),
            Arg::Bin(bytes) => {
                attachments.push(Bytes::copy_from_slice(bytes));
                *num += 1;
                placeholder(*num - 1)
            }
            Arg::Map(key, value) => json!({ *key: value }),
        }
    }
}

/// A packet map written by hand: `{"type": T, "nsp": N[, "data": D][, "id": I]}`.
fn packet(
    kind: u8,
    nsp: &str,
    data: Option<&[Arg<'_>]>,
    map_data: Option<Arg<'_>>,
    id: Option<u8>,
) -> Bytes {
    let fields = 2 + usize::from(data.is_some() || map_data.is_some()) + usize::from(id.is_some());
    let mut out = vec![0x80 | fields as u8];
    str(&mut out, "type");
    out.push(kind);
    str(&mut out, "nsp");
    str(&mut out, nsp);
    if let Some(args) = data {
        str(&mut out, "data");
        out.push(0x90 | args.len() as u8);
        for arg in args {
            arg.write(&mut out);
        }
    } else if let Some(arg) = map_data {
        str(&mut out, "data");
        arg.write(&mut out);
    }
    if let Some(id) = id {
        str(&mut out, "id");
        out.push(id);
    }
    Bytes::from(out)
}

/// What the project's decoder makes of an event or ack with `args`.
fn expected(kind: PacketType, nsp: &str, args: &[Arg<'_>], id: Option<u64>) -> Packet {
    let mut attachments = Vec::new();
    let mut num = 0;
    let values = args
        .iter()
        .map(|a| a.value(&mut num, &mut attachments))
        .collect();
    match (kind, id) {
        (PacketType::Ack, Some(id)) => Packet::ack_with_binary(nsp, values, id, attachments),
        _ => Packet::event_with_binary(nsp, values, id, attachments),
    }
}

/// A Socket.IO client speaking msgpack over an Engine.IO WebSocket session.
struct Client {
    ws: WebSocket,
    ctx: Ctx,
}

impl Client {
    async fn open(ctx: &Ctx) -> Result<Client, String> {
        let (ws, _) = engineio::open_websocket(ctx, &ctx.contract.socket_path).await?;
        Ok(Client {
            ws,
            ctx: ctx.clone(),
        })
    }

    async fn send(&mut self, message: Bytes) -> Verdict {
        self.ws.send_binary(message).await
    }

    /// The next Socket.IO packet: one binary message, decoded.
    async fn next(&mut self) -> Result<Packet, String> {
        let within = self.ctx.contract.answer_timeout;
        match next_non_ping(&mut self.ws, within).await? {
            Frame::Binary(bytes) => decode(&bytes),
            other => Err(format!(
                "expected a packet as one binary message, got {other}"
            )),
        }
    }

    async fn expect(&mut self, expected: &Packet) -> Verdict {
        let got = self.next().await?;
        if got == *expected {
            Ok(())
        } else {
            Err(format!("expected {expected:?}, got {got:?}"))
        }
    }

    /// Connects to `nsp` (with a one-key auth map), checking the CONNECT
    /// answer and the `auth` event after it.
    async fn connect(&mut self, nsp: &str, auth: Option<(&str, &str)>) -> Verdict {
        let map = auth.map(|(k, v)| Arg::Map(k, v));
        self.send(packet(0, nsp, None, map, None)).await?;
        let got = self.next().await?;
        check_connect_answer(nsp, &got)?;
        let echoed = auth.map_or_else(|| json!({}), |(k, v)| json!({ k: v }));
        self.expect(&Packet::event(nsp, vec![json!("auth"), echoed], None))
            .await
    }

    async fn join_main(&mut self) -> Verdict {
        self.connect("/", None)
            .await
            .map_err(|e| format!("while connecting to / first: {e}"))
    }

    async fn close(self) {
        self.ws.close().await;
    }
}

/// The project's msgpack decoder with the default limits.
fn decode(bytes: &Bytes) -> Result<Packet, String> {
    msgpack::decode(bytes, &Limits::default())
        .map_err(|e| format!("undecodable msgpack {}: {e}", hex(bytes)))
}

/// "Exchange protocol › Connection to a namespace": CONNECT `{sid}` for the
/// same namespace.
fn check_connect_answer(nsp: &str, packet: &Packet) -> Verdict {
    let sid_only = match &packet.data {
        Some(Value::Object(object)) => {
            object.len() == 1
                && object
                    .get("sid")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
        }
        _ => false,
    };
    if packet.kind == PacketType::Connect
        && packet.namespace == nsp
        && packet.ack_id.is_none()
        && sid_only
    {
        Ok(())
    } else {
        Err(format!(
            "expected CONNECT {nsp} {{\"sid\": <sid>}}, got {packet:?}"
        ))
    }
}

async fn connect_main(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.connect("/", None).await?;
    client.close().await;
    Ok(())
}

async fn connect_custom_with_auth(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.connect("/custom", Some(("token", "abc"))).await?;
    client.close().await;
    Ok(())
}

/// "Transports › HTTP long-polling" with a binary-only parser: each packet
/// is a `b` + base64 record of the payload, both ways.
async fn connect_polling(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.socket_path.as_str();
    let base64 = &base64::engine::general_purpose::STANDARD;
    let sid = open_polling(ctx, path).await?;
    let body = format!("b{}", base64.encode(packet(0, "/", None, None, None)));
    let response = engineio::post(ctx, &url(path, "polling", Some(&sid)), &body).await?;
    engineio::expect_eq("POST status", 200, response.status)?;
    let records = engineio::poll_packets(ctx, path, &sid, 2).await?;
    let mut decoded = Vec::new();
    for record in &records {
        let bytes = record
            .strip_prefix('b')
            .and_then(|b64| base64.decode(b64).ok())
            .ok_or_else(|| format!("expected b + base64 records, got {}", quote(record)))?;
        decoded.push(decode(&Bytes::from(bytes))?);
    }
    check_connect_answer("/", &decoded[0])?;
    let auth = Packet::event("/", vec![json!("auth"), json!({})], None);
    if decoded[1] != auth {
        return Err(format!("expected {auth:?}, got {:?}", decoded[1]));
    }
    Ok(())
}

const ARGS: [Arg<'static>; 3] = [Arg::Str("héllo"), Arg::Int(42), Arg::Map("k", "v")];

async fn event(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    let mut args = vec![Arg::Str("message")];
    args.extend(ARGS);
    client.send(packet(2, "/", Some(&args), None, None)).await?;
    let mut back = vec![Arg::Str("message-back")];
    back.extend(ARGS);
    client
        .expect(&expected(PacketType::Event, "/", &back, None))
        .await?;
    client.close().await;
    Ok(())
}

async fn ack(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    let mut args = vec![Arg::Str("message-with-ack")];
    args.extend(ARGS);
    client
        .send(packet(2, "/", Some(&args), None, Some(7)))
        .await?;
    client
        .expect(&expected(PacketType::Ack, "/", &ARGS, Some(7)))
        .await?;
    client.close().await;
    Ok(())
}

/// Binary values travel inline, as `bin`, in the one message of the packet:
/// no attachments follow.
async fn binary_inline(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    let payload: &[u8] = &[1, 2, 3, 0xff];
    let args = [
        Arg::Str("message-with-ack"),
        Arg::Bin(payload),
        Arg::Str("tail"),
    ];
    client
        .send(packet(2, "/", Some(&args), None, Some(3)))
        .await?;
    let within = ctx.contract.answer_timeout;
    let bytes = match next_non_ping(&mut client.ws, within).await? {
        Frame::Binary(bytes) => bytes,
        other => return Err(format!("expected one binary message, got {other}")),
    };
    // `bin 8` of 4 bytes, then the bytes, inside the packet's own message.
    let inline = [0xc4, 4, 1, 2, 3, 0xff];
    if !bytes.windows(inline.len()).any(|w| w == inline) {
        return Err(format!(
            "expected the bytes inline as msgpack bin, got {}",
            hex(&bytes)
        ));
    }
    let got = decode(&bytes)?;
    let want = expected(PacketType::Ack, "/", &args[1..], Some(3));
    if got != want {
        return Err(format!("expected {want:?}, got {got:?}"));
    }
    // Nothing follows: the next packet is the answer to a plain event.
    let plain = [Arg::Str("message"), Arg::Int(1)];
    client
        .send(packet(2, "/", Some(&plain), None, None))
        .await?;
    client
        .expect(&expected(
            PacketType::Event,
            "/",
            &[Arg::Str("message-back"), Arg::Int(1)],
            None,
        ))
        .await
        .map_err(|e| format!("after the binary ack: {e}"))?;
    client.close().await;
    Ok(())
}

/// The contract's `/refused` namespace refuses every connection with
/// `Error("refused")` and `data` `{"code": 403}`.
async fn middleware_refusal(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.send(packet(0, "/refused", None, None, None)).await?;
    client
        .expect(&Packet::connect_error(
            "/refused",
            "refused",
            Some(json!({ "code": 403 })),
        ))
        .await?;
    client
        .connect("/", None)
        .await
        .map_err(|e| format!("after the CONNECT_ERROR, CONNECT to /: {e}"))?;
    client.close().await;
    Ok(())
}

async fn unknown_namespace(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.send(packet(0, "/random", None, None, None)).await?;
    client
        .expect(&Packet::connect_error("/random", "Invalid namespace", None))
        .await?;
    client
        .connect("/", None)
        .await
        .map_err(|e| format!("after the CONNECT_ERROR, CONNECT to /: {e}"))?;
    client.close().await;
    Ok(())
}

/// Input the msgpack parser refuses, after a connection to `/`.
enum BadInput {
    /// An Engine.IO text message (`4` + this).
    Text(&'static str),
    /// A binary Engine.IO message.
    Binary(&'static [u8]),
}

/// The reference closes the connection on any parse error.
async fn bad_input(ctx: &Ctx, input: BadInput) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    match input {
        BadInput::Text(text) => client.ws.send_text(&format!("4{text}")).await?,
        BadInput::Binary(bytes) => client.send(Bytes::from_static(bytes)).await?,
    }
    let within = ctx.contract.answer_timeout;
    expect_close(&mut client.ws, within).await
}
