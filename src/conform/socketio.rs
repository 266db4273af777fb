//! The Socket.IO v5 checks, against the server at
//! [`Contract::socket_path`](super::Contract::socket_path).
//!
//! Section names refer to socket.io-protocol v5 (socketio/socket.io-protocol,
//! README). Packets are built with the project's own encoder and what the
//! server sends is decoded with the project's own parser, then compared as
//! packets (type, namespace, ack id, JSON payload, attachments), so a
//! different but equivalent JSON spelling is not a failure.

use std::future::Future;

use bytes::Bytes;
use serde_json::{Value, json};

use super::engineio::{self, expect_close, next_non_ping, open_polling, url};
use super::wire::{Frame, WebSocket, hex, ms, quote};
use super::{Check, Ctx, Verdict};
use crate::socketio::{Decoder, Packet, PacketType, placeholder};
use tokio::time::Instant;

/// The Socket.IO checks, in the order they run.
pub(super) fn checks(ctx: &Ctx) -> Vec<(String, Check<'_>)> {
    let path = ctx.contract.socket_path.as_str();
    let mut checks: Vec<(String, Check<'_>)> = vec![
        check(
            "handshake over polling",
            engineio::handshake_polling(ctx, path),
        ),
        check(
            "handshake over websocket",
            engineio::handshake_websocket(ctx, path),
        ),
    ];
    for (namespace, auth) in [
        ("/", None),
        ("/", Some(json!({ "token": "123" }))),
        ("/custom", None),
        ("/custom", Some(json!({ "token": "abc" }))),
    ] {
        let name = match &auth {
            None => format!("CONNECT to {namespace}"),
            Some(auth) => format!("CONNECT to {namespace} with auth {auth}"),
        };
        checks.push(check(&name, connect_websocket(ctx, namespace, auth)));
    }
    checks.extend([
        check("CONNECT over polling", connect_polling(ctx)),
        check(
            "no CONNECT within connectTimeout closes the connection",
            connect_timeout(ctx),
        ),
        check(
            "unknown namespace gets CONNECT_ERROR, connection stays open",
            unknown_namespace(ctx),
        ),
        check("DISCONNECT from /custom keeps /", disconnect_custom(ctx)),
        check("event", event(ctx)),
        check("acknowledgement", ack(ctx)),
        check("binary event", binary_event(ctx)),
        check("binary acknowledgement", binary_ack(ctx)),
    ]);
    for (name, text, attachment) in MALFORMED {
        let name = format!("malformed packet closes the connection ({name})");
        checks.push(check(&name, malformed(ctx, text, attachment)));
    }
    checks
}

/// Names a check of this layer.
fn check<'a>(name: &str, verdict: impl Future<Output = Verdict> + 'a) -> (String, Check<'a>) {
    (format!("socket.io: {name}"), Box::pin(verdict))
}

/// Malformed messages, each of which must close the connection (the
/// reference server closes on any parse error; socket.io-protocol v5 says so
/// for an invalid EVENT payload): name, text, binary attachments after it.
const MALFORMED: [(&str, &str, &[u8]); 4] = [
    ("unknown packet type", "abc", &[]),
    ("payload not an array", "2{}", &[]),
    (
        "non-numeric ack id",
        r#"2abc["message-with-ack",1,"2"]"#,
        &[],
    ),
    (
        "placeholder out of range",
        r#"51-["message",{"_placeholder":true,"num":3}]"#,
        &[1, 2, 3],
    ),
];

/// A packet as the wire shows it: its text, then each attachment in hex.
fn describe(packet: &Packet) -> String {
    let mut out = quote(&packet.encode());
    for attachment in &packet.attachments {
        out.push_str(" + ");
        out.push_str(&hex(attachment));
    }
    out
}

/// A packet the server sent, and how it looked on the wire.
struct Received {
    packet: Packet,
    wire: String,
}

/// A Socket.IO client over an Engine.IO WebSocket session.
struct Client {
    ws: WebSocket,
    decoder: Decoder,
    ctx: Ctx,
}

impl Client {
    /// Opens an Engine.IO WebSocket session at the Socket.IO path.
    async fn open(ctx: &Ctx) -> Result<Client, String> {
        let (ws, _) = engineio::open_websocket(ctx, &ctx.contract.socket_path).await?;
        Ok(Client {
            ws,
            decoder: Decoder::default(),
            ctx: ctx.clone(),
        })
    }

    /// Sends a packet: its text as an Engine.IO message, then each
    /// attachment as a binary message ("Packet encoding").
    async fn send(&mut self, packet: &Packet) -> Verdict {
        self.send_text(&packet.encode()).await?;
        for attachment in &packet.attachments {
            self.ws.send_binary(attachment.clone()).await?;
        }
        Ok(())
    }

    /// Sends a Socket.IO text message as is, malformed ones included.
    async fn send_text(&mut self, text: &str) -> Verdict {
        self.ws.send_text(&format!("4{text}")).await
    }

    /// The next complete Socket.IO packet, attachments included.
    async fn next(&mut self) -> Result<Received, String> {
        let within = self.ctx.contract.answer_timeout;
        let mut wire = String::new();
        loop {
            let frame = next_non_ping(&mut self.ws, within).await.map_err(|e| {
                if wire.is_empty() {
                    e
                } else {
                    format!("after {wire}: {e}")
                }
            })?;
            let decoded = match &frame {
                Frame::Text(text) => match text.strip_prefix('4') {
                    Some(message) => {
                        wire.push_str(&quote(message));
                        self.decoder.decode_text(message)
                    }
                    None => return Err(format!("expected an Engine.IO message, got {frame}")),
                },
                Frame::Binary(bytes) => {
                    wire.push_str(&format!(" + {}", hex(bytes)));
                    self.decoder.decode_binary(bytes.clone())
                }
                Frame::Closed if wire.is_empty() => return Err("the connection closed".to_owned()),
                Frame::Closed => return Err(format!("after {wire}: the connection closed")),
            };
            match decoded {
                Ok(Some(packet)) => return Ok(Received { packet, wire }),
                Ok(None) => continue,
                Err(e) => return Err(format!("undecodable packet {wire}: {e}")),
            }
        }
    }

    /// The next packet must be `expected`.
    async fn expect(&mut self, expected: &Packet) -> Verdict {
        let got = self.next().await?;
        if got.packet == *expected {
            Ok(())
        } else {
            Err(format!("expected {}, got {}", describe(expected), got.wire))
        }
    }

    /// Connects to `namespace`, checking the CONNECT answer and the `auth`
    /// event that follows it.
    async fn connect(&mut self, namespace: &str, auth: Option<Value>) -> Verdict {
        self.send(&Packet::connect(namespace, auth.clone())).await?;
        let got = self.next().await?;
        check_connect_answer(namespace, &got)?;
        let echoed = auth.unwrap_or_else(|| json!({}));
        self.expect(&Packet::event(namespace, vec![json!("auth"), echoed], None))
            .await
    }

    /// Connects to `/` as the first step of a check about something else,
    /// saying so when that step fails.
    async fn join_main(&mut self) -> Verdict {
        self.connect("/", None)
            .await
            .map_err(|e| format!("while connecting to / first: {e}"))
    }

    /// Waits for the server to close the connection.
    async fn expect_close(mut self) -> Verdict {
        let within = self.ctx.contract.answer_timeout;
        expect_close(&mut self.ws, within).await
    }

    async fn close(self) {
        self.ws.close().await;
    }
}

/// "Exchange protocol › Connection to a namespace": the server answers
/// CONNECT with CONNECT `{"sid": <string>}` for the same namespace.
fn check_connect_answer(namespace: &str, got: &Received) -> Verdict {
    let packet = &got.packet;
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
    let ok = packet.kind == PacketType::Connect
        && packet.namespace == namespace
        && packet.ack_id.is_none()
        && sid_only;
    if ok {
        Ok(())
    } else {
        let expected = Packet::connect(namespace, Some(json!({ "sid": "<sid>" })));
        Err(format!(
            "expected {}, got {}",
            describe(&expected),
            got.wire
        ))
    }
}

async fn connect_websocket(ctx: &Ctx, namespace: &str, auth: Option<Value>) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.connect(namespace, auth).await?;
    client.close().await;
    Ok(())
}

/// CONNECT over HTTP long-polling: the answer and the `auth` event come on
/// GETs, in one payload or several.
async fn connect_polling(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.socket_path.as_str();
    let sid = open_polling(ctx, path).await?;
    let response = engineio::post(ctx, &url(path, "polling", Some(&sid)), "40").await?;
    engineio::expect_eq("POST status", 200, response.status)?;
    let packets = engineio::poll_packets(ctx, path, &sid, 2).await?;
    let mut decoder = Decoder::default();
    let mut decoded = Vec::new();
    for text in &packets {
        let message = text
            .strip_prefix('4')
            .ok_or_else(|| format!("expected Engine.IO messages, got {packets:?}"))?;
        let packet = decoder
            .decode_text(message)
            .map_err(|e| format!("undecodable packet {}: {e}", quote(message)))?
            .ok_or_else(|| {
                format!(
                    "expected a text packet, got the binary header {}",
                    quote(message)
                )
            })?;
        decoded.push(Received {
            packet,
            wire: quote(message),
        });
    }
    check_connect_answer("/", &decoded[0])?;
    let auth = Packet::event("/", vec![json!("auth"), json!({})], None);
    if decoded[1].packet != auth {
        return Err(format!(
            "expected {}, got {}",
            describe(&auth),
            decoded[1].wire
        ));
    }
    Ok(())
}

/// A client that opens an Engine.IO session but joins no namespace is
/// dropped after connectTimeout (the reference server's `connectTimeout`):
/// not before half of it, not after it plus slack. Pings are answered, so
/// the close cannot be the heartbeat's.
async fn connect_timeout(ctx: &Ctx) -> Verdict {
    let contract = &ctx.contract;
    let start = Instant::now();
    let mut client = Client::open(ctx).await?;
    let (early, late) = (
        contract.connect_timeout / 2,
        contract.connect_timeout + contract.margin,
    );
    expect_close(&mut client.ws, late.saturating_sub(start.elapsed())).await?;
    let elapsed = start.elapsed();
    if elapsed < early {
        return Err(format!(
            "closed {} after the handshake, expected at least {}",
            ms(elapsed),
            ms(early)
        ));
    }
    Ok(())
}

/// An unknown namespace is refused with CONNECT_ERROR
/// `{"message":"Invalid namespace"}` (the reference server's answer) and the
/// Engine.IO connection stays open: `/` can still be joined.
async fn unknown_namespace(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.send(&Packet::connect("/random", None)).await?;
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

/// Leaving one namespace ("Exchange protocol › Disconnection from a
/// namespace") leaves the others connected.
async fn disconnect_custom(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    client.connect("/custom", None).await?;
    client.send(&Packet::disconnect("/custom")).await?;
    let args = vec![json!("message"), json!("still connected")];
    client.send(&Packet::event("/", args, None)).await?;
    let back = vec![json!("message-back"), json!("still connected")];
    client
        .expect(&Packet::event("/", back, None))
        .await
        .map_err(|e| format!("event on / after DISCONNECT from /custom: {e}"))?;
    client.close().await;
    Ok(())
}

/// The arguments the event checks send after the event name.
fn arguments(flag: bool) -> Vec<Value> {
    vec![json!(1), json!("2"), json!({ "3": [flag] })]
}

fn named(name: &str, mut args: Vec<Value>) -> Vec<Value> {
    args.insert(0, json!(name));
    args
}

/// "Exchange protocol › Sending and receiving data".
async fn event(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    client
        .send(&Packet::event("/", named("message", arguments(true)), None))
        .await?;
    client
        .expect(&Packet::event(
            "/",
            named("message-back", arguments(true)),
            None,
        ))
        .await?;
    client.close().await;
    Ok(())
}

/// "Exchange protocol › Acknowledgement": the ACK carries the event's id.
async fn ack(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    let event = Packet::event("/", named("message-with-ack", arguments(false)), Some(456));
    client.send(&event).await?;
    client
        .expect(&Packet::ack("/", arguments(false), 456))
        .await?;
    client.close().await;
    Ok(())
}

fn two_buffers() -> (Vec<Value>, Vec<Bytes>) {
    let placeholders = vec![placeholder(0), placeholder(1)];
    let buffers = vec![
        Bytes::from_static(&[1, 2, 3]),
        Bytes::from_static(&[4, 5, 6]),
    ];
    (placeholders, buffers)
}

/// "Packet encoding": a BINARY_EVENT declares its attachment count, holds a
/// placeholder per buffer, and is followed by the buffers in order.
async fn binary_event(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    let (placeholders, buffers) = two_buffers();
    let sent = Packet::event_with_binary(
        "/",
        named("message", placeholders.clone()),
        None,
        buffers.clone(),
    );
    client.send(&sent).await?;
    let back = Packet::event_with_binary("/", named("message-back", placeholders), None, buffers);
    client.expect(&back).await?;
    client.close().await;
    Ok(())
}

/// A BINARY_ACK answers with the event's id and its own attachments.
async fn binary_ack(ctx: &Ctx) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    let (placeholders, buffers) = two_buffers();
    let sent = Packet::event_with_binary(
        "/",
        named("message-with-ack", placeholders.clone()),
        Some(789),
        buffers.clone(),
    );
    client.send(&sent).await?;
    client
        .expect(&Packet::ack_with_binary("/", placeholders, 789, buffers))
        .await?;
    client.close().await;
    Ok(())
}

/// A malformed packet on a connected client closes the connection; pings are
/// answered meanwhile, so the close cannot be the heartbeat's.
async fn malformed(ctx: &Ctx, text: &str, attachment: &[u8]) -> Verdict {
    let mut client = Client::open(ctx).await?;
    client.join_main().await?;
    client.send_text(text).await?;
    if !attachment.is_empty() {
        // The server may close on the header alone, before this is sent.
        let _ = client
            .ws
            .send_binary(Bytes::copy_from_slice(attachment))
            .await;
    }
    client
        .expect_close()
        .await
        .map_err(|e| format!("after {}: {e}", quote(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_described_as_on_the_wire() {
        let (placeholders, buffers) = two_buffers();
        let packet = Packet::ack_with_binary("/", placeholders, 789, buffers);
        assert_eq!(
            describe(&packet),
            r#""62-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]" + <01 02 03> + <04 05 06>"#
        );
        let check = |wire: &str, packet| {
            check_connect_answer(
                "/custom",
                &Received {
                    packet,
                    wire: wire.into(),
                },
            )
        };
        assert!(check("", Packet::connect("/custom", Some(json!({ "sid": "x" })))).is_ok());
        let wrong = check("w", Packet::connect("/", Some(json!({ "sid": "x" }))));
        assert_eq!(
            wrong,
            Err(r#"expected "0/custom,{\"sid\":\"<sid>\"}", got w"#.to_owned())
        );
        assert!(check("", Packet::connect("/custom", Some(json!({ "sid": "" })))).is_err());
        assert!(
            check(
                "",
                Packet::connect("/custom", Some(json!({ "sid": "x", "pid": 1 })))
            )
            .is_err()
        );
    }
}
