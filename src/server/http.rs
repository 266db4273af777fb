//! HTTP requests in, core calls, HTTP responses out.
//!
//! Every way a request can fail maps to a response in one place,
//! [`rejection`]: the reference server's status and JSON body.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::admission::Permit;
use super::driver::{self, SessionHandle};
use super::{Cors, Shared};
use crate::cluster::forward::ForwardMethod;
use crate::engineio::Sid;
use crate::engineio::{
    CloseReason, Method, PostError, Protocol, Rejection, RequestHead, Route, Session,
    TransportKind, route,
};
use crate::socketio::ConnInfo;

/// The response body type of every answer.
pub(super) type Body = Full<Bytes>;

/// Serves one HTTP request.
pub(super) async fn handle(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path();
    let base = shared.config.path.trim_end_matches('/');
    if path != shared.config.path && path != base {
        return match shared.next.get() {
            Some(next) => Box::pin(handle(next.clone(), req, peer)).await,
            None => match shared.fallback.get() {
                Some(fallback) => Ok(answer_fallback(&shared, fallback, req).await),
                None => Ok(plain(StatusCode::NOT_FOUND, "text/plain", "Not Found")),
            },
        };
    }

    let origin = match allowed_origin(&shared.config.cors, req.headers()) {
        Ok(origin) => origin,
        Err(rejection) => return Ok(rejected(rejection, None)),
    };
    if req.method() == hyper::Method::OPTIONS && shared.config.cors != Cors::Disabled {
        return Ok(preflight(req.headers(), origin));
    }

    let websocket_upgrade = is_websocket_upgrade(req.headers());
    let head = RequestHead {
        method: match *req.method() {
            hyper::Method::GET => Method::Get,
            hyper::Method::POST => Method::Post,
            _ => Method::Other,
        },
        query: req.uri().query(),
        websocket_upgrade,
    };
    let route = route(&head, &shared.config.engine, |sid| {
        shared.session(sid).map(|s| s.transport())
    });
    let mut response = match route {
        // Another node's session, maybe: its owner answers, if forwarding
        // is on (`redis_forward`); an upgrade goes through a tunnel to it.
        Err(Rejection::UnknownSid) if shared.forward.get().is_some() => {
            if websocket_upgrade {
                tunnel_to_owner(&shared, &mut req).await
            } else {
                forward_to_owner(&shared, req).await
            }
        }
        Err(rejection) => rejected(rejection, None),
        // Shutting down: the sessions still open may fetch their CLOSE, but
        // no new one starts.
        Ok(Route::Open(_)) if shared.draining.load(Ordering::Relaxed) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "Server shutting down",
        ),
        Ok(Route::Open(transport)) => {
            let client = shared
                .config
                .trust_proxy
                .client_address(peer.ip(), req.headers());
            match shared.admission.admit(client) {
                Err(rejection) => rejected(rejection, None),
                Ok(permit) if transport == TransportKind::Polling => {
                    let now = Instant::now();
                    let sid = shared.new_sid();
                    let session =
                        Session::new(now, sid, TransportKind::Polling, &shared.config.engine)
                            .with_protocol(Protocol::from_query(req.uri().query()));
                    let request = shared
                        .config
                        .keep_requests
                        .then(|| request_info(&req, client, shared.config.tls.is_some()));
                    let handle = SessionHandle::new(session, request, permit.ip());
                    driver::spawn(shared.clone(), handle.clone(), None, permit);
                    poll(handle).await
                }
                Ok(permit) => {
                    let request = shared
                        .config
                        .keep_requests
                        .then(|| request_info(&req, client, shared.config.tls.is_some()));
                    accept_websocket(&shared, &mut req, Upgrade::Open(permit, request))
                }
            }
        }
        Ok(Route::Upgrade(sid)) => match shared.session(&sid) {
            None => rejected(Rejection::UnknownSid, None),
            Some(handle) => accept_websocket(&shared, &mut req, Upgrade::Probe(handle)),
        },
        Ok(Route::AcceptAndClose) => accept_websocket(&shared, &mut req, Upgrade::Close),
        Ok(Route::Poll(sid)) => match shared.session(&sid) {
            None => rejected(Rejection::UnknownSid, None),
            Some(handle) => poll(handle).await,
        },
        Ok(Route::Post(sid)) => match shared.session(&sid) {
            None => rejected(Rejection::UnknownSid, None),
            Some(handle) => post(&shared, handle, req).await,
        },
    };
    add_cors_headers(response.headers_mut(), origin);
    Ok(response)
}

/// A request outside the Engine.IO paths, for the fallback function: its
/// body is read up to `max_payload` bytes (413 beyond).
async fn answer_fallback(
    shared: &Shared,
    fallback: &super::Fallback,
    req: Request<Incoming>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let limit = shared.config.engine.max_payload;
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                "Payload Too Large",
            );
        }
    };
    let answer = fallback(super::HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        headers: &parts.headers,
        body,
    })
    .await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    plain(status, answer.content_type, answer.body)
}

/// A polling GET: answered at once when the core has data, otherwise held
/// until it has (a message, a PING, a NOOP during upgrade, a CLOSE).
async fn poll(handle: Arc<SessionHandle>) -> Response<Body> {
    let first = {
        let mut core = handle.core();
        let before = core.poll_timeout();
        let first = core
            .handle_poll(Instant::now())
            .map(|()| core.take_poll_body());
        handle.changed_since(core, before);
        first
    };
    let body = match first {
        Err(rejection) => return rejected(rejection, None),
        Ok(Some(body)) => body,
        Ok(None) => {
            // If this future is dropped (the client went away), the guard
            // tells the core, which closes the session as the reference does.
            let guard = AbortGuard(Some(handle.clone()));
            loop {
                handle.poll_changed().await;
                let mut core = handle.core();
                let before = core.poll_timeout();
                if let Some(body) = core.take_poll_body() {
                    // Taking the response can end the session (a CLOSE was
                    // in it) or move its timers: the driver looks again then.
                    handle.changed_since(core, before);
                    break guard.disarm(body);
                }
            }
        }
    };
    plain(StatusCode::OK, body.content_type(), body.into_bytes())
}

struct AbortGuard(Option<Arc<SessionHandle>>);

impl AbortGuard {
    fn disarm<T>(mut self, value: T) -> T {
        self.0 = None;
        value
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.core().handle_poll_aborted(Instant::now());
            handle.changed();
        }
    }
}

/// A polling POST: the body is read up to `maxPayload`, within
/// `body_read_timeout`, and handed to the core.
async fn post(
    shared: &Shared,
    handle: Arc<SessionHandle>,
    req: Request<Incoming>,
) -> Response<Body> {
    let max = shared.config.engine.max_payload;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Refuse by the declared size before buffering anything.
    let body = match declared {
        Some(len) if len > max as u64 => BodyRead::TooLarge,
        _ => read_body(req, max, shared.config.body_read_timeout).await,
    };
    post_answer(shared, &handle, body, declared, max)
}

/// A POST whose body was read (or failed to be): handed to the core.
fn post_answer(
    shared: &Shared,
    handle: &Arc<SessionHandle>,
    body: BodyRead,
    declared: Option<u64>,
    max: usize,
) -> Response<Body> {
    let result = match body {
        BodyRead::Complete(body) => {
            let mut core = handle.core();
            let before = core.poll_timeout();
            let result = core.handle_post(Instant::now(), &body);
            drop(core);
            if result.is_ok() {
                // Its messages, handed to the application from this task.
                handle.after_post(shared, before);
                return plain(StatusCode::OK, "text/html", "ok");
            }
            result
        }
        BodyRead::TimedOut => {
            // A body trickled slower than allowed: the session ends, as for
            // any transport failure, and the client is told 408 (as Node
            // answers a request over its `requestTimeout`).
            handle.core().handle_post_too_large(Instant::now());
            handle.changed();
            return plain(StatusCode::REQUEST_TIMEOUT, "text/plain", "");
        }
        BodyRead::TooLarge => {
            // Over the limit (or the body failed mid-way): the session ends.
            handle.core().handle_post_too_large(Instant::now());
            Err(PostError::PayloadTooLarge {
                size: declared.unwrap_or(0) as usize,
                max,
            })
        }
    };
    handle.changed();
    match result {
        Ok(()) => plain(StatusCode::OK, "text/html", "ok"),
        Err(PostError::Rejected(rejection)) => rejected(rejection, None),
        // The reference answers 413 with an empty body.
        Err(PostError::PayloadTooLarge { .. }) => {
            plain(StatusCode::PAYLOAD_TOO_LARGE, "text/plain", "")
        }
        Err(PostError::Malformed(_)) => rejected(Rejection::BadRequest, None),
    }
}

/// A polling request for a session this node does not hold, passed to the
/// node that holds it (a POST with its body, read here within the usual
/// bounds); 400 `Session ID unknown` when none answers in time.
async fn forward_to_owner(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let Some(forwarder) = shared.forward.get() else {
        return rejected(Rejection::UnknownSid, None);
    };
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let query = crate::engineio::Query::parse(&raw_query);
    let Some(sid) = query.sid.and_then(Sid::parse) else {
        return rejected(Rejection::UnknownSid, None);
    };
    let (method, body) = match *req.method() {
        hyper::Method::GET => (ForwardMethod::Get, Bytes::new()),
        hyper::Method::POST => {
            let max = shared.config.engine.max_payload;
            match read_body(req, max, shared.config.body_read_timeout).await {
                BodyRead::Complete(body) => (ForwardMethod::Post, body),
                BodyRead::TooLarge => {
                    return plain(StatusCode::PAYLOAD_TOO_LARGE, "text/plain", "");
                }
                BodyRead::TimedOut => return plain(StatusCode::REQUEST_TIMEOUT, "text/plain", ""),
            }
        }
        _ => return rejected(Rejection::UnknownSid, None),
    };
    match forwarder.forward(&sid, method, &raw_query, body).await {
        None => rejected(Rejection::UnknownSid, None),
        Some((status, content_type, body)) => forwarded_answer(status, &content_type, body),
    }
}

/// A polling request another node forwarded for a session of this one
/// (`redis_forward`): routed and answered as if it had come here.
pub(super) async fn answer_forwarded(
    shared: &Shared,
    method: ForwardMethod,
    query: &str,
    body: Bytes,
) -> Response<Body> {
    let head = RequestHead {
        method: match method {
            ForwardMethod::Get => Method::Get,
            ForwardMethod::Post => Method::Post,
        },
        query: Some(query),
        websocket_upgrade: false,
    };
    let route = route(&head, &shared.config.engine, |sid| {
        shared.session(sid).map(|s| s.transport())
    });
    match route {
        Err(rejection) => rejected(rejection, None),
        Ok(Route::Poll(sid)) => match shared.session(&sid) {
            None => rejected(Rejection::UnknownSid, None),
            Some(handle) => poll(handle).await,
        },
        Ok(Route::Post(sid)) => match shared.session(&sid) {
            None => rejected(Rejection::UnknownSid, None),
            Some(handle) => {
                let max = shared.config.engine.max_payload;
                let declared = Some(body.len() as u64);
                let read = if body.len() > max {
                    BodyRead::TooLarge
                } else {
                    BodyRead::Complete(body)
                };
                post_answer(shared, &handle, read, declared, max)
            }
        },
        // A handshake or an upgrade is never forwarded.
        Ok(_) => rejected(Rejection::BadRequest, None),
    }
}

/// What became of a POST body.
enum BodyRead {
    Complete(Bytes),
    /// Over `maxPayload` (or the connection failed mid-way).
    TooLarge,
    /// Not all there within `body_read_timeout`.
    TimedOut,
}

async fn read_body(req: Request<Incoming>, max: usize, timeout: std::time::Duration) -> BodyRead {
    let collect = Limited::new(req.into_body(), max).collect();
    match tokio::time::timeout(timeout, collect).await {
        Ok(Ok(collected)) => BodyRead::Complete(collected.to_bytes()),
        Ok(Err(_)) => BodyRead::TooLarge,
        Err(_) => BodyRead::TimedOut,
    }
}

/// Whom a WebSocket handshake is for.
enum Upgrade {
    /// A new session, with its place under the session caps, and the
    /// request that opens it.
    Open(Permit, Option<Arc<ConnInfo>>),
    /// A polling session that probes an upgrade.
    Probe(Arc<SessionHandle>),
    /// A WebSocket the reference accepts only to close at once
    /// ([`Route::AcceptAndClose`], or a session that cannot take a probe).
    Close,
}

/// Answers a WebSocket handshake with 101 and hands the upgraded connection
/// to a new session, to a polling session that probes an upgrade, or to a
/// closing handshake at once (engine.io 6.6 `Server#onWebSocket` closes a
/// second WebSocket for a session that is upgrading or upgraded this way: the
/// client sees a Close with no status, code 1005, and no packet).
fn accept_websocket(
    shared: &Arc<Shared>,
    req: &mut Request<Incoming>,
    upgrade: Upgrade,
) -> Response<Body> {
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return rejected(Rejection::BadRequest, None);
    };
    let accept = derive_accept_key(key.as_bytes());
    // The revision (and, for v3, `b64`) of this WebSocket's own request.
    let protocol = Protocol::from_query(req.uri().query());
    let upgrade = match upgrade {
        Upgrade::Probe(handle) => begin_probe(handle, protocol),
        other => other,
    };
    let on_upgrade = hyper::upgrade::on(req);
    let shared = shared.clone();
    let ws_config = ws_config(&shared);
    tokio::spawn(Box::pin(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(_) => {
                // A new session's permit is dropped here: its place is free.
                if let Upgrade::Probe(handle) = upgrade {
                    handle
                        .core()
                        .handle_ws_closed(Instant::now(), CloseReason::TransportClose);
                    handle.changed();
                }
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(
            driver::WsIo::Direct(TokioIo::new(upgraded)),
            Role::Server,
            Some(ws_config),
        )
        .await;
        match upgrade {
            Upgrade::Close => driver::close_gracefully(ws, None, shared.config.ws_close_timeout),
            Upgrade::Probe(handle) => handle.attach_ws(ws),
            Upgrade::Open(permit, request) => {
                let now = Instant::now();
                let sid = shared.new_sid();
                let session =
                    Session::new(now, sid, TransportKind::WebSocket, &shared.config.engine)
                        .with_protocol(protocol);
                let address = permit.ip();
                driver::spawn(
                    shared.clone(),
                    SessionHandle::new(session, request, address),
                    Some(ws),
                    permit,
                );
            }
        }
    }));
    switching_protocols(&accept)
}

/// The 101 answer of a WebSocket handshake (RFC 6455 §4.2.2).
fn switching_protocols(accept: &str) -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// The WebSocket settings of this server's connections.
fn ws_config(shared: &Shared) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(shared.config.ws_read_buffer_size)
        .max_message_size(Some(shared.config.engine.max_payload))
        .max_frame_size(Some(shared.config.engine.max_payload))
}

/// Starts the upgrade probe of a polling session for a WebSocket of
/// `protocol`: [`Upgrade::Probe`] when its core takes it,
/// [`Upgrade::Close`] when it cannot (already upgrading or upgraded).
fn begin_probe(handle: Arc<SessionHandle>, protocol: Protocol) -> Upgrade {
    let begun = {
        let mut core = handle.core();
        let begun = core.begin_upgrade(Instant::now());
        if begun.is_ok() {
            core.set_probe_protocol(protocol);
        }
        begun
    };
    handle.changed();
    match begun {
        Ok(_) => Upgrade::Probe(handle),
        Err(_) => Upgrade::Close,
    }
}

/// A WebSocket upgrade for a session this node does not hold, with
/// forwarding on: the owner is asked to take it through a tunnel
/// (`redis_forward`); when it does, this node answers the handshake and
/// relays the connection's bytes. No owner in time: 400 `Session ID
/// unknown`, as without forwarding; the owner's refusal: its answer.
async fn tunnel_to_owner(shared: &Shared, req: &mut Request<Incoming>) -> Response<Body> {
    let Some(forwarder) = shared.forward.get().cloned() else {
        return rejected(Rejection::UnknownSid, None);
    };
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return rejected(Rejection::BadRequest, None);
    };
    let accept = derive_accept_key(key.as_bytes());
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let query = crate::engineio::Query::parse(&raw_query);
    let Some(sid) = query.sid.and_then(Sid::parse) else {
        return rejected(Rejection::UnknownSid, None);
    };
    match forwarder.tunnel(&sid, &raw_query).await {
        None => rejected(Rejection::UnknownSid, None),
        Some(Err((status, content_type, body))) => forwarded_answer(status, &content_type, body),
        Some(Ok(link)) => {
            let on_upgrade = hyper::upgrade::on(req);
            tokio::spawn(async move {
                let io = on_upgrade.await.ok().map(TokioIo::new);
                forwarder.relay_client(link, io).await;
            });
            switching_protocols(&accept)
        }
    }
}

/// An answer that came from another node: its status, type and body.
fn forwarded_answer(status: u16, content_type: &str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// A WebSocket upgrade another node tunnels here for a session of this
/// one (`redis_forward`): routed as if it had come here, then run over
/// `io`, the pipe the tunnel feeds. `Err` with the answer a local upgrade
/// would get when it is refused.
pub(super) fn accept_forwarded_upgrade(
    shared: &Arc<Shared>,
    query: &str,
    io: tokio::io::DuplexStream,
) -> Result<(), Box<Response<Body>>> {
    let head = RequestHead {
        method: Method::Get,
        query: Some(query),
        websocket_upgrade: true,
    };
    let route = route(&head, &shared.config.engine, |sid| {
        shared.session(sid).map(|s| s.transport())
    });
    let protocol = Protocol::from_query(Some(query));
    let upgrade = match route {
        Err(rejection) => return Err(Box::new(rejected(rejection, None))),
        Ok(Route::Upgrade(sid)) => match shared.session(&sid) {
            None => return Err(Box::new(rejected(Rejection::UnknownSid, None))),
            Some(handle) => begin_probe(handle, protocol),
        },
        Ok(Route::AcceptAndClose) => Upgrade::Close,
        // A handshake is never tunnelled.
        Ok(_) => return Err(Box::new(rejected(Rejection::BadRequest, None))),
    };
    let shared = shared.clone();
    let config = ws_config(&shared);
    tokio::spawn(async move {
        let io = driver::WsIo::Relayed(io);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        match upgrade {
            Upgrade::Close => driver::close_gracefully(ws, None, shared.config.ws_close_timeout),
            Upgrade::Probe(handle) => handle.attach_ws(ws),
            // Not made above: a tunnel always names a session.
            Upgrade::Open(..) => {}
        }
    });
    Ok(())
}

/// What the admin UI and other tools show of the request that opened a
/// session ([`ConnInfo`]): headers, the client's address (behind a trusted
/// proxy, the forwarded one), the URL, whether it came over TLS, the time.
fn request_info(req: &Request<Incoming>, client: IpAddr, secure: bool) -> Arc<ConnInfo> {
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let url = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned());
    let issued_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Arc::new(ConnInfo {
        headers,
        address: client.to_canonical().to_string(),
        url,
        secure,
        issued_ms,
    })
}

/// `Connection: upgrade` (a token in a list) and `Upgrade: websocket`.
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    has_token(header::CONNECTION, "upgrade") && has_token(header::UPGRADE, "websocket")
}

/// The origin to allow in the response, or a refusal for a listed policy.
fn allowed_origin(cors: &Cors, headers: &HeaderMap) -> Result<Option<HeaderValue>, Rejection> {
    let origin = headers.get(header::ORIGIN);
    match cors {
        Cors::Disabled => Ok(None),
        Cors::AnyOrigin => Ok(origin.cloned()),
        Cors::Origins(list) => match origin {
            None => Ok(None),
            Some(o)
                if list
                    .iter()
                    .any(|allowed| allowed.as_bytes() == o.as_bytes()) =>
            {
                Ok(Some(o.clone()))
            }
            Some(_) => Err(Rejection::Forbidden),
        },
    }
}

fn add_cors_headers(headers: &mut HeaderMap, origin: Option<HeaderValue>) {
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The answer to a CORS preflight (`OPTIONS`).
fn preflight(request: &HeaderMap, origin: Option<HeaderValue>) -> Response<Body> {
    let mut response = plain(StatusCode::NO_CONTENT, "text/plain", "");
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
    );
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        headers.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Headers"),
        );
    }
    add_cors_headers(headers, origin);
    response
}

/// The one mapping from a refusal to its HTTP answer:
/// `{"code":N,"message":"..."}` with status 400 (403 for Forbidden).
pub(super) fn rejected(rejection: Rejection, origin: Option<HeaderValue>) -> Response<Body> {
    let status = StatusCode::from_u16(rejection.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = plain(status, "application/json", rejection.json_body());
    add_cors_headers(response.headers_mut(), origin);
    response
}

fn plain(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
