//! The Engine.IO v4 checks, against the echo server at
//! [`Contract::engine_path`](super::Contract::engine_path), and the
//! Engine.IO client steps the Socket.IO checks reuse.
//!
//! Section names refer to engine.io-protocol v4 (socketio/engine.io-protocol,
//! README). Where the spec leaves a choice open, a check accepts every answer
//! the reference server (`engine.io`) or the public suite accepts.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::wire::{self, Frame, Response, WebSocket, ms, quote};
use super::{Check, Ctx, Verdict};
use crate::engineio::payload::{self, SEPARATOR};
use crate::engineio::{Data, Packet, Rejection};

/// Lets the server register a request sent just before (a pending GET)
/// ahead of the next one. It orders the runner's own requests; no verdict
/// depends on it.
const SETTLE: Duration = Duration::from_millis(50);

/// The Engine.IO checks, in the order they run.
pub(super) fn checks(ctx: &Ctx) -> Vec<(String, Check<'_>)> {
    let path = ctx.contract.engine_path.as_str();
    let mut checks: Vec<(String, Check<'_>)> = vec![
        check("handshake over polling", handshake_polling(ctx, path)),
        check("handshake over websocket", handshake_websocket(ctx, path)),
    ];
    for (wrong, rejection, method, query) in ERRORS {
        // A server that serves v3 clients answers `EIO=3` with a session.
        if ctx.contract.eio3 && rejection == Rejection::UnsupportedProtocolVersion {
            continue;
        }
        let name = format!("error {} for {wrong}", rejection.code());
        checks.push(check(&name, error_answer(ctx, method, query, rejection)));
    }
    checks.extend([
        check("polling payload framing", polling_framing(ctx)),
        check("websocket text and binary frames", websocket_frames(ctx)),
        check(
            "invalid packet over polling closes the session",
            invalid_polling(ctx),
        ),
        check(
            "invalid packet over websocket closes the connection",
            invalid_websocket(ctx),
        ),
        check("heartbeat over polling", heartbeat_polling(ctx)),
        check("heartbeat over websocket", heartbeat_websocket(ctx)),
        check("ping timeout over polling", ping_timeout_polling(ctx)),
        check("ping timeout over websocket", ping_timeout_websocket(ctx)),
        check("close packet over polling", close_polling(ctx)),
        check(
            "a second concurrent GET closes the session",
            concurrent_get(ctx),
        ),
        check(
            "a POST over maxPayload is refused with 413",
            max_payload_polling(ctx),
        ),
        check(
            "a websocket message over maxPayload closes the connection",
            max_payload_websocket(ctx),
        ),
        check("upgrade from polling to websocket", upgrade(ctx)),
        check(
            "a second websocket for an upgraded session is accepted, then closed",
            second_websocket(ctx),
        ),
        check(
            "a second probe during an upgrade is accepted, then closed",
            second_probe(ctx),
        ),
    ]);
    checks
}

/// Names a check of this layer.
fn check<'a>(name: &str, verdict: impl Future<Output = Verdict> + 'a) -> (String, Check<'a>) {
    (format!("engine.io: {name}"), Box::pin(verdict))
}

/// Requests the reference server refuses before any session, each with its
/// error answer ("Transports › HTTP long-polling"; the codes and messages
/// are the `engine.io` error table, which [`Rejection`] holds): what is
/// wrong, the answer, method, query.
const ERRORS: [(&str, Rejection, &str, &str); 5] = [
    (
        "an unknown transport",
        Rejection::UnknownTransport,
        "GET",
        "EIO=4&transport=pigeon",
    ),
    (
        "an unknown sid",
        Rejection::UnknownSid,
        "GET",
        "EIO=4&transport=polling&sid=conform-nope",
    ),
    (
        "a handshake that is not a GET",
        Rejection::BadHandshakeMethod,
        "POST",
        "EIO=4&transport=polling",
    ),
    (
        "a websocket request without upgrade",
        Rejection::BadRequest,
        "GET",
        "EIO=4&transport=websocket",
    ),
    (
        "protocol version 3",
        Rejection::UnsupportedProtocolVersion,
        "GET",
        "EIO=3&transport=polling",
    ),
];

/// `PATH?EIO=4&transport=T[&sid=S]`.
pub(super) fn url(path: &str, transport: &str, sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("{path}?EIO=4&transport={transport}&sid={sid}"),
        None => format!("{path}?EIO=4&transport={transport}"),
    }
}

/// Compares one value of the report with what the contract expects.
pub(super) fn expect_eq<T: PartialEq + std::fmt::Display>(
    what: &str,
    expected: T,
    got: T,
) -> Verdict {
    if expected == got {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected}, got {got}"))
    }
}

/// The handshake JSON of an open packet ("Protocol › Handshake"): exactly the
/// keys `sid`, `upgrades`, `pingInterval`, `pingTimeout`, `maxPayload`, with
/// the contract's values. Reports every mismatch, and returns the sid.
pub(super) fn check_handshake(ctx: &Ctx, open: &str, upgrades: Value) -> Result<String, String> {
    let json = open
        .strip_prefix('0')
        .ok_or_else(|| format!("expected an open packet \"0{{...}}\", got {}", quote(open)))?;
    let value: Value = serde_json::from_str(json)
        .map_err(|e| format!("open packet data is not JSON ({e}): {}", quote(open)))?;
    let object = value
        .as_object()
        .ok_or_else(|| format!("open packet data is not an object: {}", quote(open)))?;
    let mut problems = Vec::new();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let wanted = [
        "maxPayload",
        "pingInterval",
        "pingTimeout",
        "sid",
        "upgrades",
    ];
    if keys != wanted {
        problems.push(format!("keys: expected {wanted:?}, got {keys:?}"));
    }
    let contract = &ctx.contract;
    let fields = [
        ("upgrades", upgrades),
        (
            "pingInterval",
            json!(contract.ping_interval.as_millis() as u64),
        ),
        (
            "pingTimeout",
            json!(contract.ping_timeout.as_millis() as u64),
        ),
        ("maxPayload", json!(contract.max_payload)),
    ];
    for (key, expected) in fields {
        let got = object.get(key).cloned().unwrap_or(Value::Null);
        if got != expected {
            problems.push(format!("{key}: expected {expected}, got {got}"));
        }
    }
    let sid = match object.get("sid") {
        Some(Value::String(sid)) if !sid.is_empty() => sid.clone(),
        other => {
            let got = other.map_or("nothing".to_owned(), Value::to_string);
            problems.push(format!("sid: expected a non-empty string, got {got}"));
            String::new()
        }
    };
    if problems.is_empty() {
        Ok(sid)
    } else {
        Err(problems.join("; "))
    }
}

/// GET with the runner's answer timeout.
pub(super) async fn get(ctx: &Ctx, path_and_query: &str) -> Result<Response, String> {
    let within = ctx.contract.answer_timeout;
    wire::request(&ctx.target, "GET", path_and_query, None, within).await
}

/// POST with the runner's answer timeout.
pub(super) async fn post(ctx: &Ctx, path_and_query: &str, body: &str) -> Result<Response, String> {
    let within = ctx.contract.answer_timeout;
    wire::request(
        &ctx.target,
        "POST",
        path_and_query,
        Some(body.as_bytes()),
        within,
    )
    .await
}

/// A long-polling GET that may wait up to pingInterval for data, plus slack.
async fn poll(ctx: &Ctx, path: &str, sid: &str) -> Result<Response, String> {
    let within = ctx.contract.ping_interval + ctx.contract.margin + ctx.contract.answer_timeout;
    wire::request(
        &ctx.target,
        "GET",
        &url(path, "polling", Some(sid)),
        None,
        within,
    )
    .await
}

/// The sid of an open packet. Only what a client needs to go on: the
/// handshake's values are the handshake checks' business, so that one wrong
/// value fails those checks and not every check that opens a session.
fn sid_of(open: &str) -> Result<String, String> {
    open.strip_prefix('0')
        .and_then(|json| serde_json::from_str::<Value>(json).ok())
        .and_then(|value| value.get("sid")?.as_str().map(str::to_owned))
        .filter(|sid| !sid.is_empty())
        .ok_or_else(|| format!("expected an open packet with a sid, got {}", quote(open)))
}

/// Opens a polling session: the open packet, alone in the response payload
/// ("Protocol › Payload").
async fn polling_open_packet(ctx: &Ctx, path: &str) -> Result<String, String> {
    let response = get(ctx, &url(path, "polling", None)).await?;
    expect_eq("handshake status", 200, response.status)?;
    let body = response.text();
    if body.contains(SEPARATOR) {
        return Err(format!(
            "expected a payload of one open packet, got {}",
            quote(&body)
        ));
    }
    Ok(body)
}

/// Opens a polling session; returns its sid.
pub(super) async fn open_polling(ctx: &Ctx, path: &str) -> Result<String, String> {
    sid_of(&polling_open_packet(ctx, path).await?)
}

/// Opens a WebSocket-only session: the open packet comes as a text frame.
async fn websocket_open_packet(ctx: &Ctx, path: &str) -> Result<(WebSocket, String), String> {
    let within = ctx.contract.answer_timeout;
    let mut ws = WebSocket::connect(&ctx.target, &url(path, "websocket", None), within).await?;
    match ws.next(within).await? {
        Frame::Text(open) => Ok((ws, open)),
        other => Err(format!("expected an open packet, got {other}")),
    }
}

/// Opens a WebSocket-only session; returns it with its sid.
pub(super) async fn open_websocket(ctx: &Ctx, path: &str) -> Result<(WebSocket, String), String> {
    let (ws, open) = websocket_open_packet(ctx, path).await?;
    Ok((ws, sid_of(&open)?))
}

/// The handshake over polling offers the upgrade to WebSocket.
pub(super) async fn handshake_polling(ctx: &Ctx, path: &str) -> Verdict {
    let open = polling_open_packet(ctx, path).await?;
    check_handshake(ctx, &open, json!(["websocket"])).map(drop)
}

/// The handshake over WebSocket offers no upgrade.
pub(super) async fn handshake_websocket(ctx: &Ctx, path: &str) -> Verdict {
    let (ws, open) = websocket_open_packet(ctx, path).await?;
    ws.close().await;
    check_handshake(ctx, &open, json!([])).map(drop)
}

/// The next frame that is not an Engine.IO ping, answering each ping with a
/// pong so that a long check keeps its session.
pub(super) async fn next_non_ping(ws: &mut WebSocket, within: Duration) -> Result<Frame, String> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.next(left).await? {
            Frame::Text(ping) if ping == "2" => {
                // A pong that cannot be sent means the connection is gone;
                // the next read says so as a close, which is what callers
                // waiting for one must see.
                let _ = ws.send_text("3").await;
            }
            frame => return Ok(frame),
        }
    }
}

/// Waits for the server to close the connection within `within`, answering
/// pings meanwhile, so that the close cannot be the heartbeat's.
pub(super) async fn expect_close(ws: &mut WebSocket, within: Duration) -> Verdict {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_non_ping(ws, left).await {
            Ok(Frame::Closed) => return Ok(()),
            Ok(_) => continue,
            Err(_) => {
                return Err(format!(
                    "expected the connection to close, still open after {}",
                    ms(within)
                ));
            }
        }
    }
}

/// Polls until `count` packets other than pings arrived, answering pings.
pub(super) async fn poll_packets(
    ctx: &Ctx,
    path: &str,
    sid: &str,
    count: usize,
) -> Result<Vec<String>, String> {
    let mut packets = Vec::new();
    while packets.len() < count {
        let response = poll(ctx, path, sid).await?;
        expect_eq("GET status", 200, response.status)?;
        for packet in response.text().split(SEPARATOR) {
            if packet == "2" {
                post(ctx, &url(path, "polling", Some(sid)), "3").await?;
            } else {
                packets.push(packet.to_owned());
            }
        }
    }
    Ok(packets)
}

/// "Transports › HTTP long-polling": a POST is answered 200 `ok`.
async fn post_ok(ctx: &Ctx, path: &str, sid: &str, body: &str) -> Verdict {
    let response = post(ctx, &url(path, "polling", Some(sid)), body).await?;
    expect_eq("POST status", 200, response.status)?;
    expect_eq("POST body", quote("ok"), quote(&response.text()))
}

/// An error answer: its HTTP status (400) and the JSON body
/// `{"code":N,"message":...}`, compared as JSON.
fn expect_error(response: &Response, rejection: Rejection) -> Verdict {
    let status = rejection.http_status();
    let expected = json!({ "code": rejection.code(), "message": rejection.message() });
    let body = response.text();
    let got: Option<Value> = serde_json::from_str(&body).ok();
    if response.status == status && got.as_ref() == Some(&expected) {
        Ok(())
    } else {
        Err(format!(
            "expected HTTP {status} {expected}, got HTTP {} {}",
            response.status,
            quote(&body)
        ))
    }
}

/// The session `sid` is gone: a GET is refused as an unknown sid.
async fn expect_session_gone(ctx: &Ctx, path: &str, sid: &str) -> Verdict {
    let response = get(ctx, &url(path, "polling", Some(sid))).await?;
    expect_error(&response, Rejection::UnknownSid)
        .map_err(|e| format!("session should be closed: {e}"))
}

async fn error_answer(ctx: &Ctx, method: &str, query: &str, rejection: Rejection) -> Verdict {
    let path_and_query = format!("{}?{query}", ctx.contract.engine_path);
    let within = ctx.contract.answer_timeout;
    let body = (method == "POST").then_some(b"4hello".as_slice());
    let response = wire::request(&ctx.target, method, &path_and_query, body, within).await?;
    expect_error(&response, rejection)
}

/// "Protocol › Payload": packets joined by `\x1e`, binary as `b`+base64,
/// kept apart and in order both ways.
async fn polling_framing(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let sent = [
        Packet::text("hello"),
        Packet::text("€ and 😀"),
        Packet::Message(Data::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
    ];
    let sid = open_polling(ctx, path).await?;
    post_ok(ctx, path, &sid, &payload::encode(&sent)).await?;
    let got = poll_packets(ctx, path, &sid, sent.len()).await?;
    let expected: Vec<String> = sent.iter().map(Packet::encode_text).collect();
    if got == expected {
        Ok(())
    } else {
        Err(format!("expected the echo {expected:?}, got {got:?}"))
    }
}

/// "Packet encoding › WebSocket": one packet per frame, binary as is.
async fn websocket_frames(ctx: &Ctx) -> Verdict {
    let (mut ws, _) = open_websocket(ctx, &ctx.contract.engine_path).await?;
    let within = ctx.contract.answer_timeout;
    ws.send_text("4hello €").await?;
    let text = next_non_ping(&mut ws, within).await?;
    expect_eq("text echo", Frame::Text("4hello €".into()), text)?;
    let bytes = Bytes::from_static(&[1, 2, 3, 4]);
    ws.send_binary(bytes.clone()).await?;
    let binary = next_non_ping(&mut ws, within).await?;
    expect_eq("binary echo", Frame::Binary(bytes), binary)?;
    ws.close().await;
    Ok(())
}

/// An invalid packet ends the session. The reference answers the POST
/// with 200 and then closes; the public suite also allows 400 or a dropped
/// connection, so only the aftermath is checked.
async fn invalid_polling(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let sid = open_polling(ctx, path).await?;
    let _ = post(ctx, &url(path, "polling", Some(&sid)), "abc").await;
    expect_session_gone(ctx, path, &sid).await
}

async fn invalid_websocket(ctx: &Ctx) -> Verdict {
    let (mut ws, _) = open_websocket(ctx, &ctx.contract.engine_path).await?;
    ws.send_text("abc").await?;
    expect_close(&mut ws, ctx.contract.answer_timeout).await
}

/// Two heartbeat rounds outlast pingInterval + pingTimeout, so an echo after
/// them proves the pongs kept the session.
const ROUNDS: usize = 2;

/// When a ping is due, counted from a moment before the server could start
/// its timer (before the handshake request, before the pong was sent), so
/// that a slow network or machine can only make the ping look later: not
/// before half the interval (a server pinging in a tight loop is wrong too),
/// not after the interval plus slack.
fn ping_window(ctx: &Ctx) -> (Duration, Duration) {
    let interval = ctx.contract.ping_interval;
    (interval / 2, interval + ctx.contract.margin)
}

fn expect_in_window(what: &str, elapsed: Duration, (early, late): (Duration, Duration)) -> Verdict {
    if elapsed < early || elapsed > late {
        return Err(format!(
            "{what}: expected between {} and {}, got {}",
            ms(early),
            ms(late),
            ms(elapsed)
        ));
    }
    Ok(())
}

/// "Protocol › Heartbeat" over polling: the server's ping comes on a pending
/// GET after pingInterval; the client's pong keeps the session.
async fn heartbeat_polling(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let mut start = Instant::now();
    let sid = open_polling(ctx, path).await?;
    for round in 1..=ROUNDS {
        let response = poll(ctx, path, &sid).await?;
        let elapsed = start.elapsed();
        expect_eq(&format!("ping {round}: GET status"), 200, response.status)?;
        expect_eq(
            &format!("ping {round}"),
            quote("2"),
            quote(&response.text()),
        )?;
        expect_in_window(
            &format!("ping {round} came after"),
            elapsed,
            ping_window(ctx),
        )?;
        start = Instant::now();
        post_ok(ctx, path, &sid, "3").await?;
    }
    post_ok(ctx, path, &sid, "4still here").await?;
    let echo = poll_packets(ctx, path, &sid, 1).await?;
    expect_eq(
        "echo after the pongs",
        quote("4still here"),
        quote(&echo.join("\u{1e}")),
    )
}

async fn heartbeat_websocket(ctx: &Ctx) -> Verdict {
    let mut start = Instant::now();
    let (mut ws, _) = open_websocket(ctx, &ctx.contract.engine_path).await?;
    let (_, late) = ping_window(ctx);
    for round in 1..=ROUNDS {
        let ping = ws.next(late + ctx.contract.margin).await?;
        let elapsed = start.elapsed();
        expect_eq(&format!("ping {round}"), Frame::Text("2".into()), ping)?;
        expect_in_window(
            &format!("ping {round} came after"),
            elapsed,
            ping_window(ctx),
        )?;
        start = Instant::now();
        ws.send_text("3").await?;
    }
    ws.send_text("4still here").await?;
    let echo = next_non_ping(&mut ws, ctx.contract.answer_timeout).await?;
    expect_eq(
        "echo after the pongs",
        Frame::Text("4still here".into()),
        echo,
    )?;
    ws.close().await;
    Ok(())
}

/// "Protocol › Heartbeat": without a pong, the session is closed once
/// pingInterval + pingTimeout have passed.
async fn ping_timeout_polling(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let sid = open_polling(ctx, path).await?;
    let contract = &ctx.contract;
    tokio::time::sleep(contract.ping_interval + contract.ping_timeout + contract.margin).await;
    expect_session_gone(ctx, path, &sid).await
}

/// Over WebSocket: the ping comes, and without a pong the connection is
/// closed pingTimeout after it: not before half of pingTimeout (the client
/// must get its chance to answer), not after pingTimeout plus slack. Counted
/// from before the handshake, as [`ping_window`] explains.
async fn ping_timeout_websocket(ctx: &Ctx) -> Verdict {
    let contract = &ctx.contract;
    let start = Instant::now();
    let (mut ws, _) = open_websocket(ctx, &contract.engine_path).await?;
    let (_, late) = ping_window(ctx);
    let ping = ws.next(late).await?;
    expect_eq("ping", Frame::Text("2".into()), ping)?;
    let window = (
        contract.ping_interval + contract.ping_timeout / 2,
        contract.ping_interval + contract.ping_timeout + contract.margin,
    );
    let close = ws
        .next(window.1.saturating_sub(start.elapsed()))
        .await
        .map_err(|_| {
            format!(
                "expected the connection closed {} after the handshake, still open",
                ms(window.1)
            )
        })?;
    expect_eq("after the unanswered ping", Frame::Closed, close)?;
    expect_in_window("closed after the handshake", start.elapsed(), window)
}

/// A CLOSE packet from the client ends the pending GET (the reference and
/// the public suite: with a NOOP) and the session.
async fn close_polling(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let sid = open_polling(ctx, path).await?;
    let pending = pending_poll(ctx, path, &sid).await;
    post_ok(ctx, path, &sid, "1").await?;
    expect_pending_answer(pending, "6").await?;
    expect_session_gone(ctx, path, &sid).await
}

/// "Protocol › Upgrade": `2probe` answered `3probe`, the pending GET ended
/// with a NOOP, `5` completes the upgrade, messages then travel over the
/// WebSocket, and polling with the sid is refused.
async fn upgrade(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let within = ctx.contract.answer_timeout;
    let sid = open_polling(ctx, path).await?;
    let pending = pending_poll(ctx, path, &sid).await;
    let mut ws =
        WebSocket::connect(&ctx.target, &url(path, "websocket", Some(&sid)), within).await?;
    ws.send_text("2probe").await?;
    let probe = ws.next(within).await?;
    expect_eq("probe answer", Frame::Text("3probe".into()), probe)?;
    expect_pending_answer(pending, "6").await?;
    ws.send_text("5").await?;
    ws.send_text("4upgraded").await?;
    let echo = next_non_ping(&mut ws, within).await?;
    expect_eq(
        "echo over the upgraded websocket",
        Frame::Text("4upgraded".into()),
        echo,
    )?;
    let after = get(ctx, &url(path, "polling", Some(&sid))).await?;
    expect_error(&after, Rejection::BadRequest)
        .map_err(|e| format!("polling after the upgrade: {e}"))?;
    ws.close().await;
    Ok(())
}

/// Sends a long-polling GET that stays pending, and lets the server register
/// it before the caller goes on.
async fn pending_poll(
    ctx: &Ctx,
    path: &str,
    sid: &str,
) -> tokio::task::JoinHandle<Result<Response, String>> {
    let (ctx, path, sid) = (ctx.clone(), path.to_owned(), sid.to_owned());
    let pending = tokio::spawn(async move { poll(&ctx, &path, &sid).await });
    tokio::time::sleep(SETTLE).await;
    pending
}

/// "Transports › HTTP long-polling › Receiving data": a client must not
/// have two GETs pending; the server answers the second with an error (400;
/// the public suite also accepts the reference's 500), ends the first with a
/// CLOSE packet, and closes the session.
async fn concurrent_get(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let sid = open_polling(ctx, path).await?;
    let pending = pending_poll(ctx, path, &sid).await;
    let second = get(ctx, &url(path, "polling", Some(&sid))).await?;
    if ![400, 500].contains(&second.status) {
        return Err(format!(
            "second GET: expected HTTP 400 or 500, got HTTP {} {}",
            second.status,
            quote(&second.text())
        ));
    }
    expect_pending_answer(pending, "1").await?;
    expect_session_gone(ctx, path, &sid).await
}

/// The reference refuses a polling POST larger than maxPayload with HTTP
/// 413, and the message is never delivered.
async fn max_payload_polling(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let sid = open_polling(ctx, path).await?;
    let body = oversized(ctx);
    let response = post(ctx, &url(path, "polling", Some(&sid)), &body).await?;
    expect_eq("POST status", 413, response.status)?;
    // The reference keeps the session (its next GET brings the ping);
    // closing it is as good. Either way the message must not come back.
    let next = poll(ctx, path, &sid).await?;
    let echoed = next.status == 200 && next.text().split(SEPARATOR).any(|p| p.starts_with('4'));
    if echoed {
        return Err("the message over maxPayload was echoed".to_owned());
    }
    Ok(())
}

/// A WebSocket message larger than maxPayload closes the connection.
async fn max_payload_websocket(ctx: &Ctx) -> Verdict {
    let (mut ws, _) = open_websocket(ctx, &ctx.contract.engine_path).await?;
    if ws.send_text(&oversized(ctx)).await.is_err() {
        // The server closed the connection while the message was on its way.
        return Ok(());
    }
    match next_non_ping(&mut ws, ctx.contract.answer_timeout).await {
        Ok(Frame::Closed) => Ok(()),
        Ok(frame) => Err(format!(
            "expected the connection closed, got {}",
            short(&frame)
        )),
        Err(_) => Err("expected the connection closed, still open".to_owned()),
    }
}

/// A MESSAGE packet one byte over maxPayload.
fn oversized(ctx: &Ctx) -> String {
    let len = usize::try_from(ctx.contract.max_payload).unwrap_or(usize::MAX - 1);
    format!("4{}", "x".repeat(len))
}

/// A frame as a report shows it, without quoting a megabyte.
fn short(frame: &Frame) -> String {
    match frame {
        Frame::Text(text) if text.len() > 60 => format!("a text frame of {} bytes", text.len()),
        other => other.to_string(),
    }
}

/// Opens a polling session and upgrades it ("Protocol › Upgrade") without
/// a pending GET; returns the WebSocket and the sid.
async fn upgraded(ctx: &Ctx) -> Result<(WebSocket, String), String> {
    let path = ctx.contract.engine_path.as_str();
    let within = ctx.contract.answer_timeout;
    let sid = open_polling(ctx, path).await?;
    let mut ws =
        WebSocket::connect(&ctx.target, &url(path, "websocket", Some(&sid)), within).await?;
    ws.send_text("2probe").await?;
    expect_eq(
        "probe answer",
        Frame::Text("3probe".into()),
        ws.next(within).await?,
    )?;
    ws.send_text("5").await?;
    Ok((ws, sid))
}

/// "Transports › WebSocket": one WebSocket per session. The reference
/// (engine.io 6.6, `Server#onWebSocket`) completes the handshake of a second
/// WebSocket for an upgraded session (101), then closes it with no packet;
/// the first keeps working.
async fn second_websocket(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let within = ctx.contract.answer_timeout;
    let (mut ws, sid) = upgraded(ctx).await?;
    accepted_then_closed(ctx, &url(path, "websocket", Some(&sid)), "second websocket").await?;
    ws.send_text("4still here").await?;
    let echo = next_non_ping(&mut ws, within).await?;
    expect_eq(
        "echo over the first websocket",
        Frame::Text("4still here".into()),
        echo,
    )?;
    ws.close().await;
    Ok(())
}

/// A WebSocket whose handshake the server completes (101) and that it then
/// closes before sending any packet.
async fn accepted_then_closed(ctx: &Ctx, path_and_query: &str, what: &str) -> Verdict {
    let within = ctx.contract.answer_timeout;
    let mut second = WebSocket::connect(&ctx.target, path_and_query, within)
        .await
        .map_err(|e| format!("{what}: expected it accepted (101), then closed: {e}"))?;
    match second.next(within).await {
        Ok(Frame::Closed) => Ok(()),
        Ok(frame) => Err(format!(
            "{what}: expected it closed with no packet, got {}",
            short(&frame)
        )),
        Err(_) => Err(format!("{what}: expected it closed, it stayed open")),
    }
}

/// "Protocol › Upgrade": while one WebSocket is being probed, a second one
/// for the same sid is accepted and closed (the reference: "transport has
/// already been trying to upgrade"); the first probe still completes.
async fn second_probe(ctx: &Ctx) -> Verdict {
    let path = ctx.contract.engine_path.as_str();
    let within = ctx.contract.answer_timeout;
    let sid = open_polling(ctx, path).await?;
    let ws_url = url(path, "websocket", Some(&sid));
    let mut probe = WebSocket::connect(&ctx.target, &ws_url, within).await?;
    // The probe is known to the server once it answers a frame on it.
    probe.send_text("2probe").await?;
    expect_eq(
        "probe answer",
        Frame::Text("3probe".into()),
        probe.next(within).await?,
    )?;
    accepted_then_closed(ctx, &ws_url, "second probe").await?;
    probe.send_text("5").await?;
    probe.send_text("4upgraded").await?;
    let echo = next_non_ping(&mut probe, within).await?;
    expect_eq(
        "echo over the first probe, upgraded",
        Frame::Text("4upgraded".into()),
        echo,
    )?;
    probe.close().await;
    Ok(())
}

/// The pending GET ends with HTTP 200 and exactly `body`.
async fn expect_pending_answer(
    pending: tokio::task::JoinHandle<Result<Response, String>>,
    body: &str,
) -> Verdict {
    let response = join(pending).await?;
    expect_eq("pending GET status", 200, response.status)?;
    expect_eq("pending GET body", quote(body), quote(&response.text()))
}

async fn join<T>(task: tokio::task::JoinHandle<Result<T, String>>) -> Result<T, String> {
    task.await
        .map_err(|e| format!("request task failed: {e}"))?
}
