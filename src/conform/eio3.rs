//! The Engine.IO v3 and Socket.IO v4 checks (`siobridge conform --eio3`),
//! for a server that also serves socket.io 2.x clients, as the reference
//! does with `allowEIO3`: the same echo server and Socket.IO server as the
//! other checks, spoken to with `EIO=3`.
//!
//! Section names refer to engine.io-protocol v3 (socketio/engine.io-protocol,
//! branch `v3`) and to socket.io-protocol's "Difference between v5 and v4".
//! What the server sends is decoded with the project's own v3 decoder
//! ([`crate::engineio::v3`]) and Socket.IO parser, then compared as
//! packets; where the framing itself is the point (lengths, binary bodies,
//! `b4`), the check compares the bytes.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use super::engineio::{check_handshake, expect_eq};
use super::wire::{self, Frame, Response, WebSocket, hex, quote};
use super::{Check, Ctx, Verdict};
use crate::engineio::Packet;
use crate::engineio::v3::decode_payload;
use crate::socketio::{self, Decoder, PacketType, placeholder};

/// Lets the server register a request sent just before (a pending GET)
/// ahead of the next one; no verdict depends on it.
const SETTLE: Duration = Duration::from_millis(50);

/// The v3 checks, in the order they run.
pub(super) fn checks(ctx: &Ctx) -> Vec<(String, Check<'_>)> {
    vec![
        check("handshake over polling", handshake_polling(ctx)),
        check("handshake over websocket", handshake_websocket(ctx)),
        check(
            "a client ping is answered with a pong over polling",
            ping_polling(ctx),
        ),
        check(
            "a client ping is answered with a pong over websocket",
            ping_websocket(ctx),
        ),
        check(
            "polling payloads count lengths in UTF-16 code units",
            text_framing(ctx),
        ),
        check("binary polling payloads both ways", binary_framing(ctx)),
        check(
            "with b64=1, binary travels as b4 + base64",
            base64_framing(ctx),
        ),
        check(
            "websocket binary frames carry the type byte 4",
            websocket_binary(ctx),
        ),
        check(
            "a client that pings keeps its session past pingInterval + pingTimeout",
            pings_keep_session(ctx),
        ),
        check(
            "a client that never pings is closed after pingInterval + pingTimeout",
            silence_closes(ctx),
        ),
        check(
            "a pong from the client closes the session",
            client_pong(ctx),
        ),
        check(
            "a payload with a wrong length closes the session",
            bad_length(ctx),
        ),
        check("upgrade from polling to websocket", upgrade(ctx)),
        check(
            "socket.io v4: the connection is in / at once",
            implicit_connect_websocket(ctx),
        ),
        check(
            "socket.io v4: the connection is in / at once, over polling",
            implicit_connect_polling(ctx),
        ),
        check(
            "socket.io v4: CONNECT /custom?query answers an empty CONNECT, the query is the auth",
            connect_with_query(ctx),
        ),
        check(
            "socket.io v4: an unknown namespace is refused",
            unknown_namespace(ctx),
        ),
        check(
            "socket.io v4: event and acknowledgement",
            event_and_ack(ctx),
        ),
        check("socket.io v4: binary event", binary_event(ctx)),
    ]
}

/// Names a check of this layer.
fn check<'a>(name: &str, verdict: impl Future<Output = Verdict> + 'a) -> (String, Check<'a>) {
    (format!("eio3: {name}"), Box::pin(verdict))
}

/// `PATH?EIO=3&transport=T[&sid=S][extra]`.
fn url(path: &str, transport: &str, sid: Option<&str>, extra: &str) -> String {
    match sid {
        Some(sid) => format!("{path}?EIO=3&transport={transport}&sid={sid}{extra}"),
        None => format!("{path}?EIO=3&transport={transport}{extra}"),
    }
}

fn engine(ctx: &Ctx) -> &str {
    &ctx.contract.engine_path
}

/// A GET with the runner's answer timeout.
async fn get(ctx: &Ctx, path_and_query: &str) -> Result<Response, String> {
    wire::request(
        &ctx.target,
        "GET",
        path_and_query,
        None,
        ctx.contract.answer_timeout,
    )
    .await
}

/// A long-polling GET, its body decoded as a v3 payload.
async fn poll(ctx: &Ctx, path: &str, sid: &str) -> Result<(Vec<Packet>, Vec<u8>), String> {
    let within = ctx.contract.ping_interval + ctx.contract.margin + ctx.contract.answer_timeout;
    let pq = url(path, "polling", Some(sid), "");
    let response = wire::request(&ctx.target, "GET", &pq, None, within).await?;
    expect_eq("GET status", 200, response.status)?;
    let packets = decode_payload(&response.body, usize::MAX).map_err(|e| {
        format!(
            "GET body is not a v3 payload ({e}): {}",
            describe_body(&response.body)
        )
    })?;
    Ok((packets, response.body))
}

/// A body as a check reports it: text quoted, anything else in hex.
fn describe_body(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if !matches!(body.first(), Some(0 | 1)) => quote(text),
        _ => hex(body),
    }
}

/// A POST of a v3 payload (binary ones as `application/octet-stream`).
async fn post(ctx: &Ctx, path: &str, sid: &str, body: &[u8]) -> Result<Response, String> {
    let content_type = if matches!(body.first(), Some(0 | 1)) {
        "application/octet-stream"
    } else {
        "text/plain;charset=UTF-8"
    };
    let pq = url(path, "polling", Some(sid), "");
    let within = ctx.contract.answer_timeout;
    wire::request_typed(&ctx.target, "POST", &pq, Some((body, content_type)), within).await
}

/// A POST answered 200 `ok`.
async fn post_ok(ctx: &Ctx, path: &str, sid: &str, body: &[u8]) -> Verdict {
    let response = post(ctx, path, sid, body).await?;
    expect_eq("POST status", 200, response.status)?;
    expect_eq("POST body", quote("ok"), quote(&response.text()))
}

/// Opens a v3 polling session: the OPEN packet alone, length-prefixed,
/// with the v4 handshake fields; returns the sid.
async fn open_polling(ctx: &Ctx, path: &str, extra: &str) -> Result<String, String> {
    let response = get(ctx, &url(path, "polling", None, extra)).await?;
    expect_eq("handshake status", 200, response.status)?;
    let packets = decode_payload(&response.body, usize::MAX).map_err(|e| {
        format!(
            "handshake body is not a v3 payload ({e}): {}",
            describe_body(&response.body)
        )
    })?;
    match packets.as_slice() {
        [open @ Packet::Open(_), ..] => {
            check_handshake(ctx, &open.encode_text(), json!(["websocket"]))
        }
        _ => Err(format!(
            "expected an OPEN packet first, got {}",
            describe_body(&response.body)
        )),
    }
}

/// Opens a v3 WebSocket-only session; returns it with its sid.
async fn open_websocket(ctx: &Ctx, path: &str, extra: &str) -> Result<(WebSocket, String), String> {
    let within = ctx.contract.answer_timeout;
    let mut ws =
        WebSocket::connect(&ctx.target, &url(path, "websocket", None, extra), within).await?;
    match ws.next(within).await? {
        Frame::Text(open) => {
            let sid = check_handshake(ctx, &open, json!([]))?;
            Ok((ws, sid))
        }
        other => Err(format!("expected an open packet, got {other}")),
    }
}

/// The session `sid` is gone: a GET is refused as an unknown sid.
async fn expect_session_gone(ctx: &Ctx, path: &str, sid: &str) -> Verdict {
    let response = get(ctx, &url(path, "polling", Some(sid), "")).await?;
    let expected = json!({"code": 1, "message": "Session ID unknown"});
    let got: Option<Value> = serde_json::from_str(&response.text()).ok();
    if response.status == 400 && got.as_ref() == Some(&expected) {
        Ok(())
    } else {
        Err(format!(
            "session should be closed: expected HTTP 400 {expected}, got HTTP {} {}",
            response.status,
            quote(&response.text())
        ))
    }
}

/// engine.io-protocol v3, "Payload": the OPEN packet as `<length>:0{...}`.
async fn handshake_polling(ctx: &Ctx) -> Verdict {
    open_polling(ctx, engine(ctx), "").await.map(drop)
}

async fn handshake_websocket(ctx: &Ctx) -> Verdict {
    let (ws, _) = open_websocket(ctx, engine(ctx), "").await?;
    ws.close().await;
    Ok(())
}

/// engine.io-protocol v3: the client pings, the server answers pong.
async fn ping_polling(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let sid = open_polling(ctx, path, "").await?;
    post_ok(ctx, path, &sid, b"1:2").await?;
    let (_, body) = poll(ctx, path, &sid).await?;
    expect_eq("answer to a ping", quote("1:3"), describe_body(&body))
}

async fn ping_websocket(ctx: &Ctx) -> Verdict {
    let within = ctx.contract.answer_timeout;
    let (mut ws, _) = open_websocket(ctx, engine(ctx), "").await?;
    ws.send_text("2").await?;
    let pong = ws.next(within).await?;
    ws.close().await;
    expect_eq("answer to a ping", Frame::Text("3".into()), pong)
}

/// Polls until `count` packets came, in as many responses as the server
/// takes.
async fn poll_packets(
    ctx: &Ctx,
    path: &str,
    sid: &str,
    count: usize,
) -> Result<Vec<Packet>, String> {
    let mut packets = Vec::new();
    while packets.len() < count {
        packets.extend(poll(ctx, path, sid).await?.0);
    }
    Ok(packets)
}

/// "Payload": `€` is one UTF-16 code unit, `😀` two.
async fn text_framing(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let sid = open_polling(ctx, path, "").await?;
    post_ok(ctx, path, &sid, "2:4a3:4😀2:4€".as_bytes()).await?;
    let packets = poll_packets(ctx, path, &sid, 3).await?;
    let expected = [Packet::text("a"), Packet::text("😀"), Packet::text("€")];
    if packets == expected {
        Ok(())
    } else {
        Err(format!(
            "expected the three messages echoed, got {packets:?}"
        ))
    }
}

/// A binary MESSAGE in a binary body (0/1, the length digit by digit, 255,
/// the packet), echoed in one.
async fn binary_framing(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let sid = open_polling(ctx, path, "").await?;
    let body = [1, 4, 255, 4, 1, 2, 3];
    post_ok(ctx, path, &sid, &body).await?;
    let (_, echoed) = poll(ctx, path, &sid).await?;
    expect_eq("echo", hex(&body), hex(&echoed))
}

/// A client that asked for `b64=1` gets binary as `b4<base64>` text.
async fn base64_framing(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let sid = open_polling(ctx, path, "&b64=1").await?;
    post_ok(ctx, path, &sid, b"10:b4AQIDBA==").await?;
    let (_, echoed) = poll(ctx, path, &sid).await?;
    expect_eq("echo", quote("10:b4AQIDBA=="), describe_body(&echoed))
}

/// A v3 binary frame is the type byte `4` and the bytes; `b4<base64>` text
/// is binary too.
async fn websocket_binary(ctx: &Ctx) -> Verdict {
    let within = ctx.contract.answer_timeout;
    let (mut ws, _) = open_websocket(ctx, engine(ctx), "").await?;
    ws.send_binary(Bytes::from_static(&[4, 1, 2, 3])).await?;
    let first = ws.next(within).await?;
    ws.send_text("b4AQI=").await?;
    let second = ws.next(within).await?;
    ws.close().await;
    expect_eq(
        "echo of a binary frame",
        Frame::Binary(Bytes::from_static(&[4, 1, 2, 3])),
        first,
    )?;
    expect_eq(
        "echo of b4AQI=",
        Frame::Binary(Bytes::from_static(&[4, 1, 2])),
        second,
    )
}

/// Three pings a pingInterval apart: past pingInterval + pingTimeout, the
/// session is still there.
async fn pings_keep_session(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let sid = open_polling(ctx, path, "").await?;
    for round in 1..=3 {
        tokio::time::sleep(ctx.contract.ping_interval).await;
        post_ok(ctx, path, &sid, b"1:2")
            .await
            .map_err(|e| format!("ping {round}: {e}"))?;
        let (packets, _) = poll(ctx, path, &sid).await?;
        if packets != [Packet::Pong(String::new())] {
            return Err(format!("ping {round}: expected a pong, got {packets:?}"));
        }
    }
    Ok(())
}

/// engine.io 6.6 with `allowEIO3`: no ping for pingInterval + pingTimeout
/// is a ping timeout.
async fn silence_closes(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let sid = open_polling(ctx, path, "").await?;
    let contract = &ctx.contract;
    tokio::time::sleep(contract.ping_interval + contract.ping_timeout + contract.margin).await;
    expect_session_gone(ctx, path, &sid).await
}

/// "invalid heartbeat direction".
async fn client_pong(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let sid = open_polling(ctx, path, "").await?;
    // The reference answers 200 `ok`, then closes.
    post(ctx, path, &sid, b"1:3").await?;
    expect_session_gone(ctx, path, &sid).await
}

async fn bad_length(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let sid = open_polling(ctx, path, "").await?;
    let response = post(ctx, path, &sid, b"5:4a").await?;
    if ![200, 400].contains(&response.status) {
        return Err(format!(
            "expected HTTP 200 or 400, got HTTP {}",
            response.status
        ));
    }
    expect_session_gone(ctx, path, &sid).await
}

/// As in v4: `2probe`, `3probe`, a NOOP (`1:6`) to the pending GET, `5`.
async fn upgrade(ctx: &Ctx) -> Verdict {
    let path = engine(ctx);
    let within = ctx.contract.answer_timeout;
    let sid = open_polling(ctx, path, "").await?;
    let pending = {
        let (ctx, path, sid) = (ctx.clone(), path.to_owned(), sid.clone());
        tokio::spawn(async move { poll(&ctx, &path, &sid).await })
    };
    tokio::time::sleep(SETTLE).await;
    let mut ws =
        WebSocket::connect(&ctx.target, &url(path, "websocket", Some(&sid), ""), within).await?;
    ws.send_text("2probe").await?;
    let probe = ws.next(within).await?;
    expect_eq("probe answer", Frame::Text("3probe".into()), probe)?;
    let (_, body) = pending
        .await
        .map_err(|e| format!("request task failed: {e}"))??;
    expect_eq("pending GET body", quote("1:6"), describe_body(&body))?;
    ws.send_text("5").await?;
    ws.send_text("4upgraded").await?;
    let echo = ws.next(within).await?;
    ws.close().await;
    expect_eq(
        "echo over the upgraded websocket",
        Frame::Text("4upgraded".into()),
        echo,
    )
}

/// A Socket.IO client over a v3 WebSocket session at the Socket.IO path.
struct Client {
    ws: WebSocket,
    decoder: Decoder,
    within: Duration,
}

impl Client {
    async fn open(ctx: &Ctx) -> Result<Client, String> {
        let (ws, _) = open_websocket(ctx, &ctx.contract.socket_path, "").await?;
        Ok(Client {
            ws,
            decoder: Decoder::default(),
            within: ctx.contract.answer_timeout,
        })
    }

    /// Sends a Socket.IO packet's text, then its attachments as v3 binary
    /// frames (type byte `4` first).
    async fn send(&mut self, text: &str, attachments: &[&[u8]]) -> Verdict {
        self.ws.send_text(&format!("4{text}")).await?;
        for attachment in attachments {
            let mut frame = vec![4];
            frame.extend_from_slice(attachment);
            self.ws.send_binary(Bytes::from(frame)).await?;
        }
        Ok(())
    }

    /// The next complete Socket.IO packet.
    async fn next(&mut self) -> Result<socketio::Packet, String> {
        loop {
            let decoded = match self.ws.next(self.within).await? {
                Frame::Text(text) => match text.strip_prefix('4') {
                    Some(message) => self.decoder.decode_text(message),
                    None => {
                        return Err(format!(
                            "expected an Engine.IO message, got {}",
                            quote(&text)
                        ));
                    }
                },
                Frame::Binary(bytes) => match bytes.first() {
                    Some(4) => self.decoder.decode_binary(bytes.slice(1..)),
                    _ => return Err(format!("expected a v3 binary MESSAGE, got {}", hex(&bytes))),
                },
                Frame::Closed => return Err("the connection closed".to_owned()),
            };
            match decoded {
                Ok(Some(packet)) => return Ok(packet),
                Ok(None) => continue,
                Err(e) => return Err(format!("undecodable packet: {e}")),
            }
        }
    }

    async fn expect(&mut self, expected: &socketio::Packet) -> Verdict {
        let got = self.next().await?;
        if got == *expected {
            Ok(())
        } else {
            Err(format!(
                "expected {}, got {}",
                quote(&expected.encode()),
                quote(&got.encode())
            ))
        }
    }

    async fn close(self) {
        self.ws.close().await;
    }
}

/// The conformance server's answer to a connect: CONNECT with no payload,
/// then `auth` with the handshake's auth.
async fn expect_connected(client: &mut Client, namespace: &str, auth: Value) -> Verdict {
    client
        .expect(&socketio::Packet::connect(namespace, None))
        .await?;
    client
        .expect(&socketio::Packet::event(
            namespace,
            vec![json!("auth"), auth],
            None,
        ))
        .await
}

async fn implicit_connect_websocket(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    let verdict = expect_connected(&mut client, "/", json!({})).await;
    client.close().await;
    verdict
}

async fn implicit_connect_polling(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.socket_path.as_str();
    let sid = open_polling(ctx, path, "").await?;
    let packets = poll_packets(ctx, path, &sid, 2).await?;
    let expected = [Packet::text("0"), Packet::text("2[\"auth\",{}]")];
    if packets.get(..2) == Some(&expected[..]) {
        Ok(())
    } else {
        Err(format!("expected {expected:?}, got {packets:?}"))
    }
}

async fn connect_with_query(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    let verdict = async {
        expect_connected(&mut client, "/", json!({})).await?;
        client.send("0/custom?token=abc&n=1,", &[]).await?;
        expect_connected(&mut client, "/custom", json!({"token": "abc", "n": "1"})).await
    }
    .await;
    client.close().await;
    verdict
}

async fn unknown_namespace(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    let verdict = async {
        expect_connected(&mut client, "/", json!({})).await?;
        client.send("0/nope,", &[]).await?;
        let got = client.next().await?;
        expect_eq("packet type", PacketType::ConnectError, got.kind)?;
        expect_eq("namespace", "/nope", got.namespace.as_str())?;
        let message = got.data.as_ref().and_then(|d| d.get("message"));
        expect_eq(
            "refusal",
            json!("Invalid namespace").to_string(),
            message.map_or("nothing".to_owned(), Value::to_string),
        )
    }
    .await;
    client.close().await;
    verdict
}

async fn event_and_ack(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    let verdict = async {
        expect_connected(&mut client, "/", json!({})).await?;
        client.send("2[\"message\",\"a\",1]", &[]).await?;
        client
            .expect(&socketio::Packet::event(
                "/",
                vec![json!("message-back"), json!("a"), json!(1)],
                None,
            ))
            .await?;
        client.send("21[\"message-with-ack\",\"x\"]", &[]).await?;
        client
            .expect(&socketio::Packet::ack("/", vec![json!("x")], 1))
            .await
    }
    .await;
    client.close().await;
    verdict
}

async fn binary_event(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    let verdict = async {
        expect_connected(&mut client, "/", json!({})).await?;
        client
            .send(
                "51-[\"message\",{\"_placeholder\":true,\"num\":0}]",
                &[&[1, 2, 3]],
            )
            .await?;
        let expected = socketio::Packet::event_with_binary(
            "/",
            vec![json!("message-back"), placeholder(0)],
            None,
            vec![Bytes::from_static(&[1, 2, 3])],
        );
        client.expect(&expected).await
    }
    .await;
    client.close().await;
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_ask_for_v3() {
        assert_eq!(
            url("/engine.io/", "polling", Some("x"), "&b64=1"),
            "/engine.io/?EIO=3&transport=polling&sid=x&b64=1"
        );
        assert_eq!(
            url("/socket.io/", "websocket", None, ""),
            "/socket.io/?EIO=3&transport=websocket"
        );
    }

    #[test]
    fn bodies_are_shown_as_text_or_hex() {
        assert_eq!(describe_body(b"1:3"), "\"1:3\"");
        assert_eq!(describe_body(&[1, 4, 255]), "<01 04 ff>");
    }
}
