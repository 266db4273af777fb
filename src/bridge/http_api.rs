//! The bridge's HTTP API (spec §3.2), as a function from a request to an
//! answer: the server module reads the request and writes the answer.
//!
//! | request | answer |
//! |---|---|
//! | `POST /api/v1/sessions` `{app_id, user_id, session_id?}` | 200 `{"status":"OK","session_id":…}` (C-h1) |
//! | `POST /api/v1/push` `{app_id, user_id, event, message?}` | 200 `{"status":"OK","delivered":N}` (C-h2) |
//! | a body that is not JSON, or fails the rules of R-C5 | 400 `{"status":"ERR","message":…}` |
//! | a token is configured and the request lacks `Authorization: Bearer <token>` | 401 `{"status":"ERR","message":"unauthorized"}` (R-C9) |
//! | another method on those paths | 405 |
//! | another path under `/api/`, or no Directual profile mounted | 404 |

use serde_json::{Value, json};

use super::directual::Directual;

/// The parts of an HTTP request the API reads.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The body (already bounded by the server).
    pub body: &'a [u8],
}

/// An answer: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl ApiResponse {
    fn ok(fields: Value) -> ApiResponse {
        let mut body = json!({"status": "OK"});
        if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
            body.extend(fields);
        }
        ApiResponse { status: 200, body }
    }

    fn error(status: u16, message: &str) -> ApiResponse {
        ApiResponse {
            status,
            body: json!({"status": "ERR", "message": message}),
        }
    }
}

/// The paths the API answers: everything under this prefix.
pub const API_PREFIX: &str = "/api/";

/// The HTTP API of a [`super::Bridge`].
#[derive(Debug, Clone)]
pub struct HttpApi {
    directual: Directual,
    enabled: bool,
    token: Option<String>,
}

impl HttpApi {
    pub(super) fn new(directual: Directual, enabled: bool, token: Option<String>) -> HttpApi {
        HttpApi {
            directual,
            enabled,
            token,
        }
    }

    /// Whether `path` belongs to the API (the server sends those requests
    /// to [`handle`](Self::handle)).
    pub fn owns(path: &str) -> bool {
        path.starts_with(API_PREFIX)
    }

    /// Answers one request. The answer is ready at once unless the
    /// sessions are in a shared store (Redis), which is then awaited.
    pub async fn handle(&self, request: ApiRequest<'_>) -> ApiResponse {
        if !self.enabled {
            return ApiResponse::error(404, "not found");
        }
        if !self.authorized(request.authorization) {
            return ApiResponse::error(401, "unauthorized");
        }
        let route = match request.path {
            "/api/v1/sessions" => Route::Sessions,
            "/api/v1/push" => Route::Push,
            _ => return ApiResponse::error(404, "not found"),
        };
        if request.method != "POST" {
            return ApiResponse::error(405, "method not allowed");
        }
        let Ok(body) = serde_json::from_slice::<Value>(request.body) else {
            return ApiResponse::error(400, "the body is not JSON");
        };
        let result = match route {
            Route::Sessions => self
                .directual
                .create_session(&body)
                .await
                .map(|id| json!({"session_id": id})),
            Route::Push => self
                .directual
                .push(&body)
                .await
                .map(|n| json!({"delivered": n})),
        };
        match result {
            Ok(fields) => ApiResponse::ok(fields),
            Err(refused) => ApiResponse::error(refused.status(), refused.message()),
        }
    }

    /// R-C9: with a token, `Authorization: Bearer <token>` is required. The
    /// comparison looks at every byte, so its time does not tell how much of
    /// a guess was right.
    fn authorized(&self, header: Option<&str>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        let (a, b) = (given.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

enum Route {
    Sessions,
    Push,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::{Bridge, Profile};
    use crate::socketio::testing::ManualClock;
    use crate::socketio::{Config, SocketIo};

    fn handle(api: &HttpApi, request: ApiRequest<'_>) -> ApiResponse {
        crate::bridge::store::now(api.handle(request)).expect("ready at once")
    }

    fn api(token: Option<&str>, directual: bool) -> HttpApi {
        let io = SocketIo::new(Config::default(), ManualClock::new().clock());
        let mut bridge = Bridge::new(&io);
        bridge.mount("/", Profile::DigitalAuto);
        if directual {
            bridge.mount("/d", Profile::Directual);
        }
        bridge.http_api(token.map(str::to_owned))
    }

    fn post<'a>(path: &'a str, body: &'a str, auth: Option<&'a str>) -> ApiRequest<'a> {
        ApiRequest {
            method: "POST",
            path,
            authorization: auth,
            body: body.as_bytes(),
        }
    }

    #[test]
    fn sessions_then_push() {
        let api = api(None, true);
        let r = handle(
            &api,
            post(
                "/api/v1/sessions",
                r#"{"app_id":"a","user_id":"u","session_id":"s"}"#,
                None,
            ),
        );
        assert_eq!(
            r,
            ApiResponse {
                status: 200,
                body: json!({"status": "OK", "session_id": "s"})
            }
        );
        let r = handle(
            &api,
            post(
                "/api/v1/push",
                r#"{"app_id":"a","user_id":"u","event":"e"}"#,
                None,
            ),
        );
        assert_eq!(r.body, json!({"status": "OK", "delivered": 0}));
    }

    #[test]
    fn bad_requests_get_their_status() {
        let api = api(None, true);
        assert_eq!(
            handle(&api, post("/api/v1/push", "{nope", None)).status,
            400
        );
        assert_eq!(
            handle(
                &api,
                post(
                    "/api/v1/push",
                    r#"{"app_id":"a","user_id":"u","event":"connect"}"#,
                    None
                )
            )
            .status,
            400
        );
        assert_eq!(handle(&api, post("/api/v2/push", "{}", None)).status, 404);
        let get = ApiRequest {
            method: "GET",
            ..post("/api/v1/push", "", None)
        };
        assert_eq!(handle(&api, get).status, 405);
        let r = handle(&api, post("/api/v1/sessions", "{}", None));
        assert_eq!(r.body["status"], "ERR");
    }

    #[test]
    fn a_token_is_required_when_set() {
        let api = api(Some("t0ken"), true);
        let body = r#"{"app_id":"a","user_id":"u"}"#;
        for auth in [
            None,
            Some("Bearer nope"),
            Some("t0ken"),
            Some("Bearer t0ken2"),
        ] {
            let r = handle(&api, post("/api/v1/sessions", body, auth));
            assert_eq!(r, ApiResponse::error(401, "unauthorized"), "{auth:?}");
        }
        assert_eq!(
            handle(&api, post("/api/v1/sessions", body, Some("Bearer t0ken"))).status,
            200
        );
    }

    #[test]
    fn no_directual_profile_no_api() {
        let api = api(None, false);
        assert_eq!(
            handle(&api, post("/api/v1/sessions", "{}", None)).status,
            404
        );
    }
}
