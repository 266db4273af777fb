//! The tokio / hyper / tokio-tungstenite adapter: the only code that touches
//! sockets, spawns tasks or reads the clock.
//!
//! It translates and nothing more: an HTTP request becomes a call on the
//! sans-IO [`engineio`](crate::engineio) core, and what the core returns
//! becomes an HTTP response or a WebSocket frame. Each session has one driver
//! task that arms a single timer at the core's
//! [`poll_timeout`](crate::engineio::Session::poll_timeout), owns the
//! session's WebSocket (if any), and hands the core's events to the
//! [`Handler`].
//!
//! ```no_run
//! use siobridge::engineio::Data;
//! use siobridge::server::{EngineSocket, Handler, Server, ServerConfig, shutdown_signal};
//!
//! struct Echo;
//! impl Handler for Echo {
//!     fn on_message(&self, socket: &EngineSocket, data: Data) {
//!         let _ = socket.send(data);
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! Server::new(ServerConfig::default(), Echo)
//!     .serve(listener, shutdown_signal())
//!     .await
//! # }
//! ```

mod driver;
mod http;
mod metrics;
mod socketio;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::engineio::{self, CloseReason, Data, Sid, SidGenerator, TransportKind};

pub use driver::EngineSocket;
pub use metrics::{PROMETHEUS_CONTENT_TYPE, Prometheus, Stats, StatsSnapshot};
pub use socketio::{SocketIoHandler, socket_io};

/// Which cross-origin requests are allowed (HTTP long-polling from a browser
/// page on another origin needs CORS headers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cors {
    /// No CORS headers are sent (the reference server's default). Browsers
    /// then refuse cross-origin polling; same-origin pages and non-browser
    /// clients work.
    #[default]
    Disabled,
    /// Any origin: the request's `Origin` is echoed back, with credentials
    /// allowed.
    AnyOrigin,
    /// Only these origins (e.g. `https://app.example.com`). A request whose
    /// `Origin` is not listed is refused with 403 `{"code":4,"message":"Forbidden"}`,
    /// WebSocket requests included.
    Origins(Vec<String>),
}

/// Settings of the HTTP server around the Engine.IO core.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The Engine.IO settings and limits.
    pub engine: engineio::Config,
    /// The request path served, with its trailing slash. Default
    /// `/engine.io/` (the Socket.IO layer uses `/socket.io/`).
    pub path: String,
    /// Cross-origin policy. Default [`Cors::Disabled`], as the reference.
    pub cors: Cors,
    /// Size of the read buffer of each WebSocket, in bytes. Default 4 KiB:
    /// tokio-tungstenite's own default (128 KiB, allocated up front) would
    /// cost that much per idle connection.
    pub ws_read_buffer_size: usize,
    /// Most time a client may take to send its request headers. Default
    /// 10 s. Bounds slow clients that trickle headers to hold a connection.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) accepted, in bytes.
    /// Default 16 KiB (hyper's floor is 8 KiB). Bounds memory per connection
    /// before any routing.
    pub max_header_size: usize,
    /// How long shutdown waits for sessions to deliver their CLOSE before the
    /// server returns anyway. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            engine: engineio::Config::default(),
            path: "/engine.io/".to_owned(),
            cors: Cors::Disabled,
            ws_read_buffer_size: 4 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_header_size: 16 * 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl ServerConfig {
    /// Sets the Engine.IO settings.
    pub fn with_engine(mut self, engine: engineio::Config) -> Self {
        self.engine = engine;
        self
    }

    /// Sets the path served (a trailing slash is added when missing).
    pub fn with_path(mut self, path: &str) -> Self {
        self.path = if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        };
        self
    }

    /// Sets the CORS policy.
    pub fn with_cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }
}

/// What the application does with sessions. Called from the session's driver
/// task, in order, one call at a time per session; calls must not block
/// (spawn a task for slow work). A handler may call back into the socket
/// (send, close) from within a call.
pub trait Handler: Send + Sync + 'static {
    /// A session opened.
    fn on_open(&self, _socket: &EngineSocket) {}
    /// The client sent a message.
    fn on_message(&self, socket: &EngineSocket, data: Data);
    /// The session moved from polling to WebSocket.
    fn on_upgrade(&self, _socket: &EngineSocket) {}
    /// The session ended; no other call follows for it.
    fn on_close(&self, _socket: &EngineSocket, _reason: CloseReason) {}
}

/// State shared by the accept loop, the request handlers and the drivers.
struct Shared {
    config: ServerConfig,
    handler: Box<dyn Handler>,
    sessions: Mutex<HashMap<Sid, Arc<driver::SessionHandle>>>,
    sids: Mutex<SidGenerator>,
    /// Signalled whenever a session leaves the table (for shutdown).
    session_removed: Notify,
    /// The server for requests outside `config.path`, if any.
    next: OnceLock<Arc<Shared>>,
    /// What answers requests no server of the chain serves.
    fallback: OnceLock<Fallback>,
    stats: Arc<Stats>,
}

/// An HTTP request outside the Engine.IO paths, for a [`Server::with_fallback`]
/// function.
#[derive(Debug)]
pub struct HttpRequest<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a hyper::HeaderMap,
    /// The body, at most the engine's `max_payload` bytes (longer bodies are
    /// answered 413 before the function runs).
    pub body: bytes::Bytes,
}

/// The answer of a [`Server::with_fallback`] function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: bytes::Bytes,
}

type Fallback = Box<dyn Fn(HttpRequest<'_>) -> HttpResponse + Send + Sync>;

impl Shared {
    fn sessions(&self) -> MutexGuard<'_, HashMap<Sid, Arc<driver::SessionHandle>>> {
        lock(&self.sessions)
    }

    fn session(&self, sid: &Sid) -> Option<Arc<driver::SessionHandle>> {
        self.sessions().get(sid).cloned()
    }

    fn new_sid(&self) -> Sid {
        lock(&self.sids).next_sid()
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: no
/// state here is left half-updated across a panic point.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An Engine.IO server: accepts connections and runs sessions for a
/// [`Handler`].
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

impl Server {
    /// A server with these settings, handing sessions to `handler`.
    pub fn new(config: ServerConfig, handler: impl Handler) -> Server {
        let sids = SidGenerator::new(config.engine.rng_seed);
        Server {
            shared: Arc::new(Shared {
                config,
                handler: Box::new(handler),
                sessions: Mutex::new(HashMap::new()),
                sids: Mutex::new(sids),
                session_removed: Notify::new(),
                next: OnceLock::new(),
                fallback: OnceLock::new(),
                stats: Arc::default(),
            }),
        }
    }

    /// Serves `other` on the same listener, for requests outside this
    /// server's path (e.g. `/engine.io/` beside `/socket.io/`). Call before
    /// serving; a second call is ignored.
    pub fn and(self, other: Server) -> Server {
        let _ = self.shared.next.set(other.shared);
        self
    }

    /// Answers the requests that no server of the chain serves (health
    /// checks, metrics, an HTTP API) with `f`; without it they get 404.
    /// Call after [`and`](Self::and); a second call is ignored.
    pub fn with_fallback(
        self,
        f: impl Fn(HttpRequest<'_>) -> HttpResponse + Send + Sync + 'static,
    ) -> Server {
        let mut last = self.shared.clone();
        while let Some(next) = last.next.get().cloned() {
            last = next;
        }
        let _ = last.fallback.set(Box::new(f));
        self
    }

    /// What went through this server (not the ones added with
    /// [`and`](Self::and)) since it started.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.shared.sessions().len()
    }

    /// Number of open sessions on each transport: (polling, websocket).
    pub fn sessions_by_transport(&self) -> (usize, usize) {
        let sessions: Vec<_> = self.shared.sessions().values().cloned().collect();
        sessions
            .iter()
            .fold((0, 0), |(p, w), s| match s.transport() {
                TransportKind::Polling => (p + 1, w),
                TransportKind::WebSocket => (p, w + 1),
            })
    }

    /// Serves connections from `listener` until `shutdown` completes, then
    /// closes every session (each client gets a CLOSE packet), waits up to
    /// `shutdown_grace` for them to go, and returns.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    // Accept errors (e.g. too many open files) are per
                    // connection: keep serving.
                    if let Ok((stream, peer)) = accepted {
                        let _ = stream.set_nodelay(true);
                        self.spawn_connection(stream, peer, stop_rx.clone());
                    }
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        self.close_all_sessions().await;
        let _ = stop_tx.send(true);
        Ok(())
    }

    fn spawn_connection(
        &self,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        mut stop: watch::Receiver<bool>,
    ) {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let header_read_timeout = shared.config.header_read_timeout;
            // hyper refuses a read buffer under 8 KiB.
            let max_buf_size = shared.config.max_header_size.max(8192);
            let service =
                hyper::service::service_fn(move |req| http::handle(shared.clone(), req, peer));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Some(header_read_timeout))
                .max_buf_size(max_buf_size)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = async { let _ = stop.wait_for(|stopped| *stopped).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }

    async fn close_all_sessions(&self) {
        let now = std::time::Instant::now();
        let mut servers = vec![self.shared.clone()];
        while let Some(next) = servers.last().and_then(|s| s.next.get().cloned()) {
            servers.push(next);
        }
        for shared in &servers {
            let sessions: Vec<_> = shared.sessions().values().cloned().collect();
            for session in sessions {
                session.shutdown(now);
            }
        }
        let grace = self.shared.config.shutdown_grace;
        let _ = tokio::time::timeout(grace, async {
            for shared in &servers {
                loop {
                    let removed = shared.session_removed.notified();
                    if shared.sessions().is_empty() {
                        break;
                    }
                    removed.await;
                }
            }
        })
        .await;
    }
}

/// Completes when the process receives SIGTERM or SIGINT (Ctrl-C).
///
/// The handlers are installed by this call, not when the future is first
/// polled: call it before announcing that the server listens, so that a
/// signal sent right after the announcement is a graceful shutdown and not
/// the default (the process killed). Must be called within a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("sessions", &self.session_count())
            .finish()
    }
}
