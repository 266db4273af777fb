//! HTTP requests in, core calls, HTTP responses out.
//!
//! Every way a request can fail maps to a response in one place,
//! [`rejection`]: the reference server's status and JSON body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
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

use super::driver::{self, SessionHandle};
use super::{Cors, Shared};
use crate::engineio::{
    CloseReason, Method, PostError, Rejection, RequestHead, Route, Session, TransportKind, route,
};

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
        Err(rejection) => rejected(rejection, None),
        Ok(Route::Open(TransportKind::Polling)) => {
            let now = Instant::now();
            let sid = shared.new_sid();
            let session = Session::new(now, sid, TransportKind::Polling, &shared.config.engine);
            let handle = SessionHandle::new(session);
            driver::spawn(shared.clone(), handle.clone(), None);
            poll(handle).await
        }
        Ok(Route::Open(TransportKind::WebSocket)) => accept_websocket(&shared, &mut req, None),
        Ok(Route::Upgrade(sid)) => match shared.session(&sid) {
            None => rejected(Rejection::UnknownSid, None),
            Some(handle) => accept_websocket(&shared, &mut req, Some(handle)),
        },
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
    });
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    plain(status, answer.content_type, answer.body)
}

/// A polling GET: answered at once when the core has data, otherwise held
/// until it has (a message, a PING, a NOOP during upgrade, a CLOSE).
async fn poll(handle: Arc<SessionHandle>) -> Response<Body> {
    let first = {
        let mut core = handle.core();
        core.handle_poll(Instant::now())
            .map(|()| core.take_poll_response())
    };
    handle.changed();
    let body = match first {
        Err(rejection) => return rejected(rejection, None),
        Ok(Some(body)) => body,
        Ok(None) => {
            // If this future is dropped (the client went away), the guard
            // tells the core, which closes the session as the reference does.
            let guard = AbortGuard(Some(handle.clone()));
            loop {
                handle.poll_changed().await;
                if let Some(body) = handle.core().take_poll_response() {
                    break guard.disarm(body);
                }
            }
        }
    };
    plain(StatusCode::OK, "text/plain; charset=UTF-8", body)
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

/// A polling POST: the body is read up to `maxPayload` and handed to the core.
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
        Some(len) if len > max as u64 => None,
        _ => Limited::new(req.into_body(), max)
            .collect()
            .await
            .ok()
            .map(|collected| collected.to_bytes()),
    };
    let result = match body {
        Some(body) => handle.core().handle_post(Instant::now(), &body),
        None => {
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

/// Answers a WebSocket handshake with 101 and hands the upgraded connection
/// to a new session (`upgrade_of` is `None`) or to a polling session that
/// probes an upgrade.
fn accept_websocket(
    shared: &Arc<Shared>,
    req: &mut Request<Incoming>,
    upgrade_of: Option<Arc<SessionHandle>>,
) -> Response<Body> {
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return rejected(Rejection::BadRequest, None);
    };
    let accept = derive_accept_key(key.as_bytes());
    if let Some(handle) = &upgrade_of {
        let begun = handle.core().begin_upgrade(Instant::now());
        handle.changed();
        if let Err(rejection) = begun {
            return rejected(rejection, None);
        }
    }
    let on_upgrade = hyper::upgrade::on(req);
    let shared = shared.clone();
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(shared.config.ws_read_buffer_size)
        .max_message_size(Some(shared.config.engine.max_payload))
        .max_frame_size(Some(shared.config.engine.max_payload));
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(_) => {
                if let Some(handle) = upgrade_of {
                    handle
                        .core()
                        .handle_ws_closed(Instant::now(), CloseReason::TransportClose);
                    handle.changed();
                }
                return;
            }
        };
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config))
                .await;
        match upgrade_of {
            Some(handle) => handle.attach_ws(ws),
            None => {
                let now = Instant::now();
                let sid = shared.new_sid();
                let session =
                    Session::new(now, sid, TransportKind::WebSocket, &shared.config.engine);
                driver::spawn(shared.clone(), SessionHandle::new(session), Some(ws));
            }
        }
    });
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
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
