//! The handshake and the routing of one HTTP request to what it asks for.
//!
//! engine.io-protocol v4, "Protocol › Handshake" and "Transports": every request carries
//! the query parameters `EIO` (protocol version, `4`), `transport` (`polling`
//! or `websocket`) and, once a session exists, `sid`. The checks and their
//! order are the reference server's (`Server.verify` then `handshake`), so
//! every bad request gets the same error code as with the Node server.

use super::config::Config;
use super::error::Rejection;
use super::sid::Sid;

/// The transports of engine.io-protocol v4, "Transports".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling: GET to receive, POST to send.
    Polling,
    /// WebSocket: one frame per packet.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter (engine.io-protocol
    /// v4, "Transports › HTTP long-polling › Query parameters").
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }

    fn from_query(value: &str) -> Option<TransportKind> {
        match value {
            "polling" => Some(TransportKind::Polling),
            "websocket" => Some(TransportKind::WebSocket),
            _ => None,
        }
    }
}

/// The HTTP methods that mean something to Engine.IO (engine.io-protocol
/// v4, "Transports › HTTP long-polling": GET receives, POST sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: a handshake, a poll, or a WebSocket upgrade.
    Get,
    /// `POST`: packets from the client over polling.
    Post,
    /// Any other method.
    Other,
}

/// What the router needs to know of a request (engine.io-protocol v4,
/// "Transports").
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The request method.
    pub method: Method,
    /// The raw query string (after `?`), if any.
    pub query: Option<&'a str>,
    /// Whether the request asks for a WebSocket upgrade
    /// (`Connection: upgrade` and `Upgrade: websocket`).
    pub websocket_upgrade: bool,
}

/// The Engine.IO query parameters of a request (engine.io-protocol v4,
/// "Transports › HTTP long-polling › Query parameters" and "Transports ›
/// WebSocket").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<'a> {
    /// `EIO`: the protocol version.
    pub eio: Option<&'a str>,
    /// `transport`: `polling` or `websocket`.
    pub transport: Option<&'a str>,
    /// `sid`: the session id, absent on a handshake.
    pub sid: Option<&'a str>,
}

impl<'a> Query<'a> {
    /// Reads `EIO`, `transport` and `sid` from a raw query string; other
    /// parameters (`t`, `b64`, application ones) are ignored. The first
    /// occurrence of a parameter wins.
    pub fn parse(query: &'a str) -> Query<'a> {
        let mut q = Query::default();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "EIO" => &mut q.eio,
                "transport" => &mut q.transport,
                "sid" => &mut q.sid,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        q
    }
}

/// What a valid request asks for: a handshake (engine.io-protocol v4,
/// "Protocol › Handshake"), a poll or a POST ("Transports › HTTP
/// long-polling › Sending and receiving data") or an upgrade ("Protocol ›
/// Upgrade").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Open a new session on this transport.
    Open(TransportKind),
    /// A polling GET on an existing session.
    Poll(Sid),
    /// A polling POST on an existing session.
    Post(Sid),
    /// A WebSocket for an existing session: the upgrade, if the session can
    /// take it ([`Session::begin_upgrade`](super::Session::begin_upgrade));
    /// otherwise the WebSocket is accepted and closed as in
    /// [`Route::AcceptAndClose`].
    Upgrade(Sid),
    /// A WebSocket handshake that the server completes (101) only to close
    /// the WebSocket at once, with no packet, as the reference does
    /// (engine.io 6.6, `Server#onWebSocket`): a WebSocket asking for the
    /// `polling` transport, or one naming a session while upgrades are off.
    AcceptAndClose,
}

/// Decides what a request asks for, or why it is refused (engine.io-protocol
/// v4, "Transports": a missing mandatory query parameter is HTTP 400, an
/// unknown `sid` is HTTP 400).
///
/// `transport_of` tells the transport a live session currently uses, or
/// `None` when the sid names no open session.
///
/// The checks follow the reference server's order: the transport first
/// (code 0), then for a request with a sid, the session (code 1) and, for
/// a request that is not a WebSocket, the transport it uses (code 3); for a
/// handshake, the method (code 2), a WebSocket transport without an upgrade
/// (code 3), then the protocol version (code 5). As in the reference, a
/// WebSocket that passes these checks is accepted even when it cannot be
/// used; it is then closed ([`Route::AcceptAndClose`], and
/// [`Route::Upgrade`] for a session that cannot take it).
pub fn route(
    head: &RequestHead<'_>,
    config: &Config,
    transport_of: impl FnOnce(&Sid) -> Option<TransportKind>,
) -> Result<Route, Rejection> {
    let query = Query::parse(head.query.unwrap_or(""));
    let transport = query
        .transport
        .and_then(TransportKind::from_query)
        .filter(|t| match t {
            TransportKind::Polling => config.transports.polling,
            TransportKind::WebSocket => config.transports.websocket,
        })
        .ok_or(Rejection::UnknownTransport)?;

    if let Some(sid) = query.sid {
        let sid = Sid::parse(sid).ok_or(Rejection::UnknownSid)?;
        let current = transport_of(&sid).ok_or(Rejection::UnknownSid)?;
        return match (transport, head.websocket_upgrade, head.method) {
            // A WebSocket naming a session: the upgrade. The session decides
            // whether it can take one (not while on WebSocket already, or
            // probing another); the reference checks no transport here.
            (TransportKind::WebSocket, true, Method::Get) if config.allow_upgrades => {
                Ok(Route::Upgrade(sid))
            }
            // `transport=polling` cannot take a WebSocket; neither can a
            // server whose upgrades are off.
            (_, true, Method::Get) => Ok(Route::AcceptAndClose),
            (TransportKind::Polling, false, method) if current == TransportKind::Polling => {
                match method {
                    Method::Get => Ok(Route::Poll(sid)),
                    Method::Post => Ok(Route::Post(sid)),
                    // The reference answers 500 with no body; the protocol
                    // test suite prefers 400 and so do we.
                    Method::Other => Err(Rejection::BadRequest),
                }
            }
            // Polling on an upgraded session, or a mismatched transport.
            _ => Err(Rejection::BadRequest),
        };
    }

    if head.method != Method::Get {
        return Err(Rejection::BadHandshakeMethod);
    }
    if transport == TransportKind::WebSocket && !head.websocket_upgrade {
        return Err(Rejection::BadRequest);
    }
    if transport == TransportKind::Polling && head.websocket_upgrade {
        // The reference hands every upgrade to `ws` before it looks at the
        // transport, then closes a WebSocket whose transport is polling.
        return Ok(Route::AcceptAndClose);
    }
    // engine.io 6.6 `handshake`: anything but `EIO=4` is v3, served only
    // with `allowEIO3`.
    if query.eio != Some("4") && !config.allow_eio3 {
        return Err(Rejection::UnsupportedProtocolVersion);
    }
    Ok(Route::Open(transport))
}

/// The JSON text of the OPEN packet.
///
/// engine.io-protocol v4, "Protocol › Handshake": exactly `sid`, `upgrades`,
/// `pingInterval`, `pingTimeout` (milliseconds) and `maxPayload` (bytes).
/// `upgrades` lists `websocket` only for a polling session that may upgrade.
pub fn open_json(sid: &Sid, transport: TransportKind, config: &Config) -> String {
    let upgrades = if transport == TransportKind::Polling
        && config.allow_upgrades
        && config.transports.websocket
    {
        "[\"websocket\"]"
    } else {
        "[]"
    };
    format!(
        "{{\"sid\":\"{sid}\",\"upgrades\":{upgrades},\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
        config.ping_interval.as_millis(),
        config.ping_timeout.as_millis(),
        config.max_payload
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "AAAAAAAAAAAAAAAAAAAA";

    fn head(method: Method, query: &str, ws: bool) -> RequestHead<'_> {
        RequestHead {
            method,
            query: Some(query),
            websocket_upgrade: ws,
        }
    }

    fn route_with(
        head: RequestHead<'_>,
        session: Option<TransportKind>,
    ) -> Result<Route, Rejection> {
        route(&head, &Config::default(), |_| session)
    }

    #[test]
    fn opens_polling_and_websocket_sessions() {
        assert_eq!(
            route_with(
                head(Method::Get, "EIO=4&transport=polling&t=abc", false),
                None
            ),
            Ok(Route::Open(TransportKind::Polling))
        );
        assert_eq!(
            route_with(head(Method::Get, "EIO=4&transport=websocket", true), None),
            Ok(Route::Open(TransportKind::WebSocket))
        );
    }

    #[test]
    fn allow_eio3_opens_any_eio_but_4_as_the_reference() {
        let config = Config::default().with_allow_eio3(true);
        for query in [
            "EIO=3&transport=polling",
            "transport=polling",
            "EIO=2&transport=polling",
        ] {
            assert_eq!(
                route(&head(Method::Get, query, false), &config, |_| None),
                Ok(Route::Open(TransportKind::Polling)),
                "{query}"
            );
        }
        assert_eq!(
            route(&head(Method::Get, "EIO=3", false), &config, |_| None),
            Err(Rejection::UnknownTransport)
        );
    }

    #[test]
    fn rejects_like_the_reference_server() {
        use Rejection::*;
        let polling = Some(TransportKind::Polling);
        let ws = Some(TransportKind::WebSocket);
        let sid_q = format!("EIO=4&transport=polling&sid={SID}");
        let ws_sid_q = format!("EIO=4&transport=websocket&sid={SID}");
        let cases: Vec<(RequestHead<'_>, Option<TransportKind>, Rejection)> = vec![
            (head(Method::Get, "EIO=4", false), None, UnknownTransport),
            (
                head(Method::Get, "EIO=4&transport=abc", false),
                None,
                UnknownTransport,
            ),
            (
                head(Method::Get, "transport=polling", false),
                None,
                UnsupportedProtocolVersion,
            ),
            (
                head(Method::Get, "EIO=abc&transport=polling", false),
                None,
                UnsupportedProtocolVersion,
            ),
            (
                head(Method::Get, "EIO=3&transport=polling", false),
                None,
                UnsupportedProtocolVersion,
            ),
            (
                head(Method::Post, "EIO=4&transport=polling", false),
                None,
                BadHandshakeMethod,
            ),
            (
                head(Method::Other, "EIO=4&transport=polling", false),
                None,
                BadHandshakeMethod,
            ),
            (
                head(Method::Get, "EIO=4&transport=websocket", false),
                None,
                BadRequest,
            ),
            (head(Method::Get, &sid_q, false), None, UnknownSid),
            (
                head(Method::Get, "EIO=4&transport=polling&sid=nope", false),
                polling,
                UnknownSid,
            ),
            (head(Method::Get, &sid_q, false), ws, BadRequest),
            (head(Method::Post, &sid_q, false), ws, BadRequest),
            (head(Method::Other, &sid_q, false), polling, BadRequest),
            (head(Method::Get, &ws_sid_q, true), None, UnknownSid),
            (head(Method::Get, &ws_sid_q, false), polling, BadRequest),
        ];
        for (h, session, expected) in cases {
            assert_eq!(route_with(h, session), Err(expected), "{:?}", h.query);
        }
    }

    #[test]
    fn routes_requests_of_existing_sessions() {
        let polling = Some(TransportKind::Polling);
        let sid = Sid::parse(SID).unwrap();
        let q = format!("EIO=4&transport=polling&sid={SID}");
        assert_eq!(
            route_with(head(Method::Get, &q, false), polling),
            Ok(Route::Poll(sid))
        );
        assert_eq!(
            route_with(head(Method::Post, &q, false), polling),
            Ok(Route::Post(sid))
        );
        let q = format!("EIO=4&transport=websocket&sid={SID}");
        assert_eq!(
            route_with(head(Method::Get, &q, true), polling),
            Ok(Route::Upgrade(sid))
        );
    }

    /// engine.io 6.6, `Server#onWebSocket`: these WebSockets are accepted,
    /// then closed; the session they name (if any) is left alone.
    #[test]
    fn websockets_the_reference_accepts_only_to_close() {
        let polling = Some(TransportKind::Polling);
        let ws = Some(TransportKind::WebSocket);
        let sid = Sid::parse(SID).unwrap();
        let ws_sid_q = format!("EIO=4&transport=websocket&sid={SID}");
        let polling_sid_q = format!("EIO=4&transport=polling&sid={SID}");
        // A second WebSocket for a session already on one: the session says no.
        assert_eq!(
            route_with(head(Method::Get, &ws_sid_q, true), ws),
            Ok(Route::Upgrade(sid))
        );
        // A WebSocket asking for the polling transport, with or without a sid
        // (the protocol version is not looked at then).
        for (q, session) in [
            (polling_sid_q.as_str(), polling),
            (polling_sid_q.as_str(), ws),
            ("EIO=4&transport=polling", None),
            ("EIO=3&transport=polling", None),
        ] {
            assert_eq!(
                route_with(head(Method::Get, q, true), session),
                Ok(Route::AcceptAndClose),
                "{q}"
            );
        }
        // Upgrades off.
        let config = Config {
            allow_upgrades: false,
            ..Config::default()
        };
        assert_eq!(
            route(&head(Method::Get, &ws_sid_q, true), &config, |_| polling),
            Ok(Route::AcceptAndClose)
        );
    }

    #[test]
    fn transports_not_served_are_unknown() {
        let config = Config::default().with_transports(false, true);
        let h = head(Method::Get, "EIO=4&transport=polling", false);
        assert_eq!(
            route(&h, &config, |_| None),
            Err(Rejection::UnknownTransport)
        );
    }

    #[test]
    fn open_json_has_exactly_the_five_fields() {
        let sid = Sid::parse(SID).unwrap();
        let config = Config::default();
        let json: serde_json::Value =
            serde_json::from_str(&open_json(&sid, TransportKind::Polling, &config)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "sid": SID, "upgrades": ["websocket"], "pingInterval": 25000,
                "pingTimeout": 20000, "maxPayload": 1000000
            })
        );
        let json: serde_json::Value =
            serde_json::from_str(&open_json(&sid, TransportKind::WebSocket, &config)).unwrap();
        assert_eq!(json["upgrades"], serde_json::json!([]));
    }
}
