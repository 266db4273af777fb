//! Profile `directual`: pushes to one user or to every user of an app,
//! triggered over HTTP (spec §3).
//!
//! Sessions are created over HTTP (`POST /api/v1/sessions`, C-h1); a socket
//! connects with handshake `auth = {app_id, session_id}` (C-s1) and is bound
//! to that session's (app, user) (R-C1). `POST /api/v1/push` (C-h2) emits an
//! event to the sockets of one user, or of every user with `user_id: "*"`,
//! never across apps (R-C2, R-C3). Clients send nothing that matters:
//! their events are ignored (C-c1).
//!
//! The HTTP side is in [`super::http_api`]; this module keeps the sessions
//! and does the deliveries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use super::non_empty_str;
use super::store::{BridgeStore, InMemoryStore};
use crate::engineio::SidGenerator;
use crate::socketio::{Args, ConnectError, Handshake, SocketIo};

/// What a session names: a user of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    app_id: String,
    user_id: String,
}

impl Binding {
    /// The form the shared store keeps: `{app_id, user_id}`.
    fn to_json(&self) -> Value {
        json!({"app_id": self.app_id, "user_id": self.user_id})
    }

    fn from_json(value: &Value) -> Option<Binding> {
        Some(Binding {
            app_id: non_empty_str(value.get("app_id"))?.to_owned(),
            user_id: non_empty_str(value.get("user_id"))?.to_owned(),
        })
    }
}

/// A refused session or push: the HTTP status and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The request breaks a rule of C-h1 or R-C5: 400.
    Invalid(&'static str),
    /// The shared store did not answer (Redis down): 503, and nothing was
    /// created or pushed.
    Unavailable,
}

impl Refused {
    /// The HTTP status of this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refused::Invalid(_) => 400,
            Refused::Unavailable => 503,
        }
    }

    /// The `message` of the answer.
    pub fn message(&self) -> &'static str {
        match self {
            Refused::Invalid(message) => message,
            Refused::Unavailable => "the session store is unreachable",
        }
    }
}

/// The sessions and the Directual namespaces of one server. Cheap to clone;
/// every mount of the profile shares it (sessions are not per namespace).
///
/// With a [`shared`](BridgeStore::shared) store (Redis, across nodes) the
/// store holds every session and `sessions` here is this node's cache of
/// the ones it has seen; otherwise `sessions` is the only copy.
#[derive(Clone)]
pub struct Directual {
    io: SocketIo,
    shared: Arc<Mutex<Shared>>,
    store: Arc<dyn BridgeStore>,
}

impl std::fmt::Debug for Directual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directual").finish_non_exhaustive()
    }
}

struct Shared {
    /// session id → its user. Bounded by `max_sessions`.
    sessions: HashMap<String, Binding>,
    /// Where the profile is mounted.
    namespaces: Vec<String>,
    ids: SidGenerator,
}

/// The most sessions kept. Creating one more evicts none: it is refused, so
/// that a flood of `POST /api/v1/sessions` cannot grow memory without bound.
/// With a shared store the bound is the store's (the whole cluster's), and
/// this node's cache of it forgets an old entry to make room.
pub const MAX_SESSIONS: usize = 100_000;

/// The delivery room of every socket of an app.
fn app_room(app_id: &str) -> String {
    format!("app:{}", json!(app_id))
}

/// The delivery room of every socket of one user of an app.
fn user_room(app_id: &str, user_id: &str) -> String {
    format!("user:{}", json!([app_id, user_id]))
}

/// C-s1: the `(app_id, session_id)` of a handshake's `auth`.
fn credentials(handshake: &Handshake) -> Option<(&str, &str)> {
    Some((
        non_empty_str(handshake.auth.get("app_id"))?,
        non_empty_str(handshake.auth.get("session_id"))?,
    ))
}

impl Directual {
    /// No sessions, mounted nowhere yet; sessions in this process only.
    pub fn new(io: &SocketIo) -> Directual {
        Directual::with_store(io, Arc::new(InMemoryStore::new()))
    }

    /// As [`new`](Self::new), with the sessions also in `store` when it is
    /// shared by several nodes, so that a client may connect to any node.
    pub fn with_store(io: &SocketIo, store: Arc<dyn BridgeStore>) -> Directual {
        Directual {
            io: io.clone(),
            shared: Arc::new(Mutex::new(Shared {
                sessions: HashMap::new(),
                namespaces: Vec::new(),
                ids: SidGenerator::new(None),
            })),
            store,
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves the profile on `namespace`: C-s1 (auth) and R-C1 (binding).
    pub fn mount(&self, namespace: &str) {
        self.shared().namespaces.push(namespace.to_owned());
        let ns = self.io.namespace(namespace);
        let sessions = self.clone();
        if self.store.shared() {
            // Another node may have created the session: the store is asked,
            // and the CONNECT answered when it has said.
            ns.use_async_middleware(move |handshake| {
                let sessions = sessions.clone();
                let handshake = handshake.clone();
                Box::pin(async move {
                    match sessions.authenticate_shared(&handshake).await {
                        Some(_) => Ok(()),
                        None => Err(ConnectError::new("unauthorized")),
                    }
                })
            });
        } else {
            ns.use_middleware(move |handshake| {
                sessions
                    .authenticate(handshake)
                    .map(|_| ())
                    .ok_or_else(|| ConnectError::new("unauthorized"))
            });
        }
        let sessions = self.clone();
        ns.on_connect(move |socket| {
            // The session may have been replaced since the middleware ran;
            // a socket that no longer authenticates is sent away. (With a
            // shared store, the middleware left the session in the cache.)
            match sessions.authenticate(socket.handshake()) {
                Some(user) => {
                    socket.join(&app_room(&user.app_id));
                    socket.join(&user_room(&user.app_id, &user.user_id));
                }
                None => socket.disconnect(),
            }
        });
        // C-c1: client events are ignored; no handler is registered.
    }

    /// C-s1: `auth` must be `{app_id, session_id}` naming an existing session
    /// of that app, known to this node.
    fn authenticate(&self, handshake: &Handshake) -> Option<Binding> {
        let (app_id, session_id) = credentials(handshake)?;
        self.shared()
            .sessions
            .get(session_id)
            .filter(|b| b.app_id == app_id)
            .cloned()
    }

    /// C-s1 across nodes: this node's cache, else the shared store (the
    /// session may come from another node's C-h1), which then fills the
    /// cache. The store unreachable: refused, as an unknown session is.
    async fn authenticate_shared(&self, handshake: &Handshake) -> Option<Binding> {
        if let Some(known) = self.authenticate(handshake) {
            return Some(known);
        }
        let (app_id, session_id) = credentials(handshake)?;
        let stored = self.store.session_get(session_id).await.ok()??;
        let binding = Binding::from_json(&stored).filter(|b| b.app_id == app_id)?;
        self.cache(session_id.to_owned(), binding.clone());
        Some(binding)
    }

    /// Keeps `binding` in this node's cache of the shared store, forgetting
    /// some other entry when it is full.
    fn cache(&self, session_id: String, binding: Binding) {
        let mut shared = self.shared();
        if !shared.sessions.contains_key(&session_id)
            && shared.sessions.len() >= MAX_SESSIONS
            && let Some(old) = shared.sessions.keys().next().cloned()
        {
            shared.sessions.remove(&old);
        }
        shared.sessions.insert(session_id, binding);
    }

    /// C-h1: creates a session for `{app_id, user_id, session_id?}` and
    /// returns its id (the given one, or a new random one). With a shared
    /// store, the session is in the store (for every node) before the
    /// answer.
    pub async fn create_session(&self, body: &Value) -> Result<String, Refused> {
        let app_id = non_empty_str(body.get("app_id"))
            .ok_or(Refused::Invalid("app_id must be a non-empty string"))?;
        let user_id = non_empty_str(body.get("user_id"))
            .ok_or(Refused::Invalid("user_id must be a non-empty string"))?;
        let given = match body.get("session_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                non_empty_str(Some(v))
                    .ok_or(Refused::Invalid("session_id must be a non-empty string"))?,
            ),
        };
        let binding = Binding {
            app_id: app_id.to_owned(),
            user_id: user_id.to_owned(),
        };
        let session_id = match given {
            Some(id) => id.to_owned(),
            None => self.shared().ids.next_sid().as_str().to_owned(),
        };
        if self.store.shared() {
            let stored = self
                .store
                .session_put(&session_id, binding.to_json(), MAX_SESSIONS)
                .await;
            return match stored {
                Ok(true) => {
                    self.cache(session_id.clone(), binding);
                    Ok(session_id)
                }
                Ok(false) => Err(Refused::Invalid("too many sessions")),
                Err(_) => Err(Refused::Unavailable),
            };
        }
        let mut shared = self.shared();
        if !shared.sessions.contains_key(&session_id) && shared.sessions.len() >= MAX_SESSIONS {
            return Err(Refused::Invalid("too many sessions"));
        }
        shared.sessions.insert(session_id.clone(), binding);
        Ok(session_id)
    }

    /// C-h2, R-C3 to R-C7: emits `event` with `message` (or no argument) to
    /// the user's sockets, or the app's with `user_id: "*"`, on every
    /// Directual namespace; the number of sockets reached.
    pub async fn push(&self, body: &Value) -> Result<usize, Refused> {
        let app_id = non_empty_str(body.get("app_id"))
            .ok_or(Refused::Invalid("app_id must be a non-empty string"))?;
        let user_id = non_empty_str(body.get("user_id"))
            .ok_or(Refused::Invalid("user_id must be a non-empty string"))?;
        let event = non_empty_str(body.get("event"))
            .ok_or(Refused::Invalid("event must be a non-empty string"))?;
        if super::RESERVED_EVENTS.contains(&event) {
            return Err(Refused::Invalid("event is a reserved name"));
        }
        let room = match user_id {
            "*" => app_room(app_id),
            user => user_room(app_id, user),
        };
        let args = match body.get("message") {
            Some(message) => Args::from(message.clone()),
            None => Args::new(),
        };
        let namespaces = self.shared().namespaces.clone();
        let mut delivered = 0;
        for ns in &namespaces {
            let target = self.io.of(ns).to(&room);
            let here = match self.io.cluster() {
                // In a cluster, R-C4's count is the cluster's: the sockets
                // in the room on every node, asked just before the emit
                // (the reference's `fetchSockets`), which reaches them all.
                Some(_) => {
                    let reached = target.fetch_sockets().await.len();
                    target.emit(event, args.clone());
                    reached
                }
                None => target.emit(event, args.clone()),
            };
            delivered += here;
        }
        Ok(delivered)
    }
}

#[cfg(test)]
mod tests {
    //! The spec's §3.4 scenarios on the in-memory test kit.

    use super::*;
    use crate::socketio::Config;
    use crate::socketio::testing::{ManualClock, TestClient};

    /// The answer of a future that is ready at once (every one of an
    /// in-memory store's).
    fn ready<F: std::future::Future>(future: F) -> F::Output {
        crate::bridge::store::now(future).expect("ready at once")
    }

    fn setup() -> (SocketIo, Directual) {
        let io = SocketIo::new(Config::default(), ManualClock::new().clock());
        let directual = Directual::new(&io);
        directual.mount("/");
        for (app, user, session) in [
            ("app1", "u1", "s1"),
            ("app1", "u1", "s1b"),
            ("app1", "u2", "s2"),
            ("app2", "u1", "s3"),
        ] {
            let body = json!({"app_id": app, "user_id": user, "session_id": session});
            assert_eq!(
                ready(directual.create_session(&body)),
                Ok(session.to_owned())
            );
        }
        (io, directual)
    }

    fn user(io: &SocketIo, app: &str, session: &str) -> TestClient {
        let client = TestClient::open(io);
        let auth = json!({"app_id": app, "session_id": session});
        client.connect("/", Some(auth)).expect("authenticated");
        client
    }

    #[test]
    fn auth_needs_a_session_of_the_same_app() {
        let (io, _) = setup();
        let client = TestClient::open(&io);
        for auth in [
            None,
            Some(json!({"app_id": "app1", "session_id": "bogus"})),
            Some(json!({"app_id": "app1", "session_id": "s3"})),
            Some(json!({"session_id": "s1"})),
        ] {
            let refused = client.connect("/", auth).unwrap_err();
            assert_eq!(refused["message"], "unauthorized");
        }
        assert!(
            client
                .connect("/", Some(json!({"app_id": "app1", "session_id": "s1"})))
                .is_ok()
        );
    }

    #[test]
    fn pushes_reach_a_user_or_an_app_never_another_app() {
        let (io, directual) = setup();
        let (u1a, u1b, u2, x) = (
            user(&io, "app1", "s1"),
            user(&io, "app1", "s1b"),
            user(&io, "app1", "s2"),
            user(&io, "app2", "s3"),
        );
        let alert = json!({"message": "Hello", "parameters": {"position": "top-right"}});
        let push = json!({"app_id": "app1", "user_id": "u1", "event": "alert", "message": alert});
        assert_eq!(ready(directual.push(&push)), Ok(2));
        for client in [&u1a, &u1b] {
            assert_eq!(
                client.events("/"),
                [("alert".to_owned(), vec![alert.clone()])]
            );
        }
        assert!(u2.events("/").is_empty() && x.events("/").is_empty());

        let all =
            json!({"app_id": "app1", "user_id": "*", "event": "refresh_orders", "message": "x"});
        assert_eq!(ready(directual.push(&all)), Ok(3));
        assert!(x.events("/").is_empty());
        assert_eq!(
            u2.events("/"),
            [("refresh_orders".to_owned(), vec![json!("x")])]
        );

        // R-C6, R-C7: strings stay strings; no message means no argument.
        let raw =
            json!({"app_id": "app1", "user_id": "u2", "event": "message", "message": "{\"a\":1}"});
        ready(directual.push(&raw)).unwrap();
        let bare = json!({"app_id": "app1", "user_id": "u2", "event": "ping"});
        ready(directual.push(&bare)).unwrap();
        assert_eq!(
            u2.events("/"),
            [
                ("message".to_owned(), vec![json!("{\"a\":1}")]),
                ("ping".to_owned(), vec![])
            ]
        );
        let offline = json!({"app_id": "app1", "user_id": "u404", "event": "x"});
        assert_eq!(ready(directual.push(&offline)), Ok(0));

        u1b.close();
        assert_eq!(ready(directual.push(&push)), Ok(1));
    }

    #[test]
    fn bad_pushes_and_sessions_are_refused() {
        let (_, directual) = setup();
        for bad in [
            json!({"app_id": "app1", "user_id": "u1"}),
            json!({"app_id": "app1", "user_id": "u1", "event": "connect"}),
            json!({"app_id": "app1", "user_id": "u1", "event": ""}),
            json!({"app_id": "app1", "event": "x"}),
            json!({"app_id": "app1", "user_id": "", "event": "x"}),
            json!({"user_id": "u1", "event": "x"}),
            json!({"app_id": "app1", "user_id": "u1", "event": 5}),
            json!("not an object"),
        ] {
            assert!(ready(directual.push(&bad)).is_err(), "{bad}");
        }
        for bad in [
            json!({"user_id": "u1"}),
            json!({"app_id": "app1"}),
            json!({"app_id": "app1", "user_id": "u1", "session_id": 5}),
        ] {
            assert!(ready(directual.create_session(&bad)).is_err(), "{bad}");
        }
        let generated =
            ready(directual.create_session(&json!({"app_id": "a", "user_id": "u"}))).unwrap();
        assert!(!generated.is_empty());
    }

    #[test]
    fn client_events_go_nowhere() {
        let (io, _) = setup();
        let (u1a, u1b) = (user(&io, "app1", "s1"), user(&io, "app1", "s1b"));
        u1a.emit("/", "alert", json!([{"message": "spoof"}]));
        assert!(u1b.events("/").is_empty());
        assert!(!u1a.is_closed());
    }
}
