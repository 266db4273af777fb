//! The tokio / hyper / tokio-tungstenite adapter: the only code that touches
//! sockets, spawns tasks or reads the clock.
//!
//! It translates and nothing more: an HTTP request becomes a call on the
//! sans-IO [`engineio`] core, and what the core returns
//! becomes an HTTP response or a WebSocket frame. Each session has one driver
//! task that arms a single timer at the core's
//! [`poll_timeout`](crate::engineio::Session::poll_timeout), owns the
//! session's WebSocket (if any), and hands the core's events to the
//! [`Handler`].
//!
//! With [`ServerConfig::tls`] the same listener serves HTTPS and WSS
//! (rustls); with [`ServerConfig::trust_proxy`] the client's address comes
//! from the forwarding headers of trusted reverse proxies.
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

mod admission;
mod driver;
mod http;
pub mod log;
mod metrics;
mod proxy;
pub mod redis;
pub mod redis_forward;
pub mod redis_store;
mod rfc3339;
mod socketio;
mod timed_io;
mod tls;

use crate::id_hash::IdMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::engineio::{self, CloseReason, Data, Sid, SidGenerator, TransportKind};

pub use driver::EngineSocket;
pub use metrics::{PROMETHEUS_CONTENT_TYPE, Prometheus, ServerMetrics, Stats, StatsSnapshot};
pub use proxy::{Cidr, CidrError, TrustProxy};
pub use socketio::{SocketIoHandler, socket_io};
pub use tls::{Tls, TlsError};
/// The rustls crate the server's TLS is made with, for
/// [`Tls::from_rustls`].
pub use tokio_rustls::rustls;

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
///
/// Every field that bounds a resource says its default, the reference Node
/// server's (engine.io 6 on Node's `http` module), and the attack it stops;
/// `docs/limits.md` lists them all.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The Engine.IO settings and limits.
    pub engine: engineio::Config,
    /// The request path served, with its trailing slash. Default
    /// `/engine.io/` (the Socket.IO layer uses `/socket.io/`):
    /// engine.io-protocol v4, "Transports › HTTP long-polling › Request
    /// path".
    pub path: String,
    /// Cross-origin policy. Default [`Cors::Disabled`], as the reference.
    pub cors: Cors,
    /// Size of the read buffer of each WebSocket, in bytes. Default 1 KiB:
    /// tokio-tungstenite's own default (128 KiB, allocated up front) would
    /// cost that much per idle connection, and the buffer is also zeroed up
    /// to this size before each read attempt. Socket.IO messages are mostly
    /// small; a larger message takes more reads, not more memory up front.
    /// (benches/PROFILING.md: 9.6 KiB per idle connection at 4 KiB, 6.7 at
    /// 1 KiB.)
    pub ws_read_buffer_size: usize,
    /// Most time the server waits for the client's answer to its WebSocket
    /// Close frame, reading and discarding what still arrives, before it
    /// drops the connection. Default 5 s (reference: the `ws` package's
    /// `closeTimeout`, 30 s). Closing at once would make the kernel reset the
    /// connection if the client is still sending, and the client would lose
    /// the last messages and the Close itself; the bound stops a client from
    /// holding a closed session's connection open by never answering.
    pub ws_close_timeout: Duration,
    /// Most time a client may take to send its request headers, and most
    /// time a kept-alive connection may sit idle between requests. Default
    /// 10 s (reference: Node's `headersTimeout`, 60 s). Stops slowloris:
    /// clients that trickle header bytes, or open connections and send
    /// nothing, to exhaust the server's connections. The connection is
    /// dropped without an answer (Node answers 408 first).
    pub header_read_timeout: Duration,
    /// Most time a POST may take to deliver its body. Default 60 s
    /// (reference: Node's `requestTimeout`, 300 s, for the whole request).
    /// Stops slow-body attacks (a POST that declares a body and trickles
    /// it). Over time, the answer is 408 and the session closes with
    /// "transport error".
    pub body_read_timeout: Duration,
    /// Most time one write to a client may make no progress. Default 30 s
    /// (reference: none). Stops clients that never read: without it, a
    /// polling response or WebSocket frame the client does not take would
    /// hold its connection, buffers and session forever (TCP flow control
    /// blocks the write). Over time, the connection is dropped and its
    /// session closes with "transport error".
    pub write_timeout: Duration,
    /// Largest request head (request line and headers) accepted, in bytes.
    /// Default 16 KiB (hyper's floor is 8 KiB; reference: Node's
    /// `maxHeaderSize`, 16 KiB). Bounds memory per connection before any
    /// routing; a larger head is answered 431.
    pub max_header_size: usize,
    /// Most sessions open at once. Default 100,000 (reference: unbounded).
    /// Stops handshake floods from exhausting memory and file descriptors:
    /// each session holds at least its buffers and a connection. A
    /// handshake over the cap is refused, as the reference refuses one that
    /// its `allowRequest` hook turns down: HTTP 403
    /// `{"code":4,"message":"Too many sessions"}` (WebSocket handshakes
    /// included). Counts this server's path only (see [`Server::and`]).
    pub max_sessions: usize,
    /// Most TCP connections open at once from one client IP address.
    /// Default `None`, no cap (reference: unbounded), for the same reason as
    /// `max_sessions_per_ip`. Stops one host from exhausting the server's
    /// file descriptors with connections, which the session caps do not
    /// count (slowloris from one address, idle connections reopened as fast
    /// as `header_read_timeout` reaps them). A connection over the cap is
    /// closed at once, before any byte is read. A polling client uses up to
    /// two connections at a time (a pending GET and a POST), a WebSocket
    /// client one; browsers open up to six per host.
    pub max_connections_per_ip: Option<usize>,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers give the
    /// client's address. Default: none (the headers are ignored, the client
    /// is the TCP peer), as the reference, which never reads them. When the
    /// peer is trusted, the headers are walked right to left past trusted
    /// addresses (Express's `trust proxy` rule, [`TrustProxy::client_address`]);
    /// the address found is the one `max_sessions_per_ip` counts and
    /// [`EngineSocket::address`] reports. `max_connections_per_ip` still
    /// counts TCP peers: behind a proxy, the proxy's connections.
    pub trust_proxy: TrustProxy,
    /// Most sessions open at once from one client IP address. Default
    /// `None`, no cap (reference: unbounded), because behind a proxy every
    /// client has the proxy's address unless `trust_proxy` names the proxy
    /// (the cap then counts the forwarded client). Stops one host from
    /// taking the whole `max_sessions`. Over the cap: HTTP 403
    /// `{"code":4,"message":"Too many sessions from this address"}`. IPv6
    /// clients are counted per full address, so a host with a /64 is many
    /// addresses to this cap.
    pub max_sessions_per_ip: Option<usize>,
    /// How long shutdown waits for sessions to deliver their CLOSE before the
    /// server returns anyway. Default 5 s.
    pub shutdown_grace: Duration,
    /// Whether each session keeps the request that opened it (headers,
    /// address, URL: [`EngineSocket::request`], which the admin UI shows).
    /// Default `false`: the headers cost about 1 KB per session.
    pub keep_requests: bool,
    /// Serve HTTPS and WSS with this certificate, instead of plain HTTP and
    /// WS, on the same listener. Default `None`.
    pub tls: Option<Tls>,
    /// Most time a client may take to complete its TLS handshake. Default
    /// 10 s (reference: Node's `tls.Server` `handshakeTimeout`, 120 s).
    /// Stops connections that open and never finish the handshake from
    /// holding a connection (the HTTP timeouts start after it). Over time,
    /// the connection is dropped.
    pub tls_handshake_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            engine: engineio::Config::default(),
            path: "/engine.io/".to_owned(),
            cors: Cors::Disabled,
            ws_read_buffer_size: 1024,
            ws_close_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_header_size: 16 * 1024,
            max_sessions: 100_000,
            max_sessions_per_ip: None,
            max_connections_per_ip: None,
            shutdown_grace: Duration::from_secs(5),
            keep_requests: false,
            trust_proxy: TrustProxy::default(),
            tls: None,
            tls_handshake_timeout: Duration::from_secs(10),
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

    /// Sets `max_sessions` and `max_sessions_per_ip`.
    pub fn with_session_caps(mut self, total: usize, per_ip: Option<usize>) -> Self {
        self.max_sessions = total;
        self.max_sessions_per_ip = per_ip;
        self
    }

    /// Serves HTTPS and WSS with `tls`.
    pub fn with_tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Takes the client's address from the forwarding headers of these
    /// proxies.
    pub fn with_trust_proxy(mut self, trust: TrustProxy) -> Self {
        self.trust_proxy = trust;
        self
    }

    /// Sets `header_read_timeout`, `body_read_timeout` and `write_timeout`.
    pub fn with_io_timeouts(mut self, header: Duration, body: Duration, write: Duration) -> Self {
        self.header_read_timeout = header;
        self.body_read_timeout = body;
        self.write_timeout = write;
        self
    }
}

/// What the application does with sessions. Called from the session's driver
/// task, in order, one call at a time per session; calls must not block
/// (spawn a task for slow work). A handler may call back into the socket
/// (send, close) from within a call.
pub trait Handler: Send + Sync + 'static {
    /// A session opened (engine.io-protocol v4, "Protocol › Handshake").
    fn on_open(&self, _socket: &EngineSocket) {}
    /// The client sent a message (engine.io-protocol v4, "Protocol ›
    /// Message").
    fn on_message(&self, socket: &EngineSocket, data: Data);
    /// The client sent these messages together (one WebSocket read, one
    /// polling POST), in order. By default each goes to
    /// [`on_message`](Self::on_message); a handler may rather treat them as
    /// one batch (the Socket.IO handler then queues the answers of the whole
    /// batch receiver by receiver).
    fn on_messages(&self, socket: &EngineSocket, messages: &mut dyn Iterator<Item = Data>) {
        for data in messages {
            self.on_message(socket, data);
        }
    }
    /// The session moved from polling to WebSocket (engine.io-protocol v4,
    /// "Protocol › Upgrade").
    fn on_upgrade(&self, _socket: &EngineSocket) {}
    /// The session ended; no other call follows for it. `reason` is the
    /// reference server's close reason ([`CloseReason::as_str`]).
    fn on_close(&self, _socket: &EngineSocket, _reason: CloseReason) {}
    /// The application asked, with [`EngineSocket::wake`], to put what it
    /// holds for this session on it now: called from the session's driver
    /// before it writes, once for any number of wakes since the last call.
    /// A handler that wraps another must forward it. By default nothing.
    fn on_flush(&self, _socket: &EngineSocket) {}
}

/// How long the accept loop pauses after a failed accept (typically: out of
/// file descriptors, which only closing connections cures).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// State shared by the accept loop, the request handlers and the drivers.
struct Shared {
    config: ServerConfig,
    handler: Box<dyn Handler>,
    sessions: Mutex<IdMap<Sid, Arc<driver::SessionHandle>>>,
    sids: Mutex<SidGenerator>,
    /// The session caps.
    admission: Arc<admission::Admission>,
    /// The connection cap per address (no total: the OS bounds that).
    connections: Arc<admission::Admission>,
    /// Signalled whenever a session leaves the table (for shutdown).
    session_removed: Notify,
    /// The server for requests outside `config.path`, if any.
    next: OnceLock<Arc<Shared>>,
    /// What answers requests no server of the chain serves.
    fallback: OnceLock<Fallback>,
    stats: Arc<Stats>,
    /// Set once shutdown begins: new sessions are refused while the open
    /// ones are closed.
    draining: AtomicBool,
    /// Passes polling requests for other nodes' sessions to them
    /// ([`Server::with_redis_forward`]).
    forward: OnceLock<Arc<redis_forward::Forwarder>>,
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

/// What a [`Server::with_async_fallback`] function returns: the answer, to
/// come.
pub type FallbackFuture = std::pin::Pin<Box<dyn Future<Output = HttpResponse> + Send + 'static>>;

type Fallback = Box<dyn Fn(HttpRequest<'_>) -> FallbackFuture + Send + Sync>;

impl Shared {
    fn sessions(&self) -> MutexGuard<'_, IdMap<Sid, Arc<driver::SessionHandle>>> {
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
/// [`Handler`], over both transports of engine.io-protocol v4 ("Transports":
/// HTTP long-polling and WebSocket, and the "Protocol › Upgrade" between
/// them).
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

impl Server {
    /// A server with these settings, handing sessions to `handler`.
    pub fn new(config: ServerConfig, handler: impl Handler) -> Server {
        let sids = SidGenerator::new(config.engine.rng_seed);
        let admission = admission::Admission::new(config.max_sessions, config.max_sessions_per_ip);
        let connections = admission::Admission::new(usize::MAX, config.max_connections_per_ip);
        Server {
            shared: Arc::new(Shared {
                config,
                handler: Box::new(handler),
                sessions: Mutex::new(IdMap::default()),
                sids: Mutex::new(sids),
                admission,
                connections,
                session_removed: Notify::new(),
                next: OnceLock::new(),
                fallback: OnceLock::new(),
                stats: Arc::default(),
                draining: AtomicBool::new(false),
                forward: OnceLock::new(),
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
        let _ = last.fallback.set(Box::new(move |request| {
            Box::pin(std::future::ready(f(request)))
        }));
        self
    }

    /// As [`with_fallback`](Self::with_fallback), for an answer that takes
    /// waiting for (a store, another service): `f` reads the request and
    /// returns the future of its answer, awaited on the connection's task.
    pub fn with_async_fallback(
        self,
        f: impl Fn(HttpRequest<'_>) -> FallbackFuture + Send + Sync + 'static,
    ) -> Server {
        let mut last = self.shared.clone();
        while let Some(next) = last.next.get().cloned() {
            last = next;
        }
        let _ = last.fallback.set(Box::new(f));
        self
    }

    /// Passes a polling request for a session this node does not hold to
    /// the node of the Redis cluster at `redis` that holds it, and its
    /// answer back (issue 17, sticky sessions; see
    /// [`redis_forward`]). Only for this server's path, not the ones added
    /// with [`and`](Self::and). Call inside a tokio runtime, before
    /// serving; a second call is ignored.
    pub fn with_redis_forward(
        self,
        redis: &redis::RedisConfig,
        config: redis_forward::ForwardConfig,
    ) -> Result<Server, String> {
        if self.shared.forward.get().is_none() {
            let f = redis_forward::Forwarder::start(&self.shared, redis, config)?;
            let _ = self.shared.forward.set(f);
        }
        Ok(self)
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

    /// Handshakes refused because the server held `max_sessions` (a
    /// counter, for metrics).
    pub fn refused_by_session_cap(&self) -> u64 {
        self.shared.admission.refused_total()
    }

    /// Handshakes refused because their client address held
    /// `max_sessions_per_ip` (a counter, for metrics).
    pub fn refused_by_ip_cap(&self) -> u64 {
        self.shared.admission.refused_per_ip()
    }

    /// Connections closed on arrival because their client address held
    /// `max_connections_per_ip` (a counter, for metrics).
    pub fn refused_connections_by_ip_cap(&self) -> u64 {
        self.shared.connections.refused_per_ip()
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
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        self.spawn_connection(stream, peer, stop_rx.clone());
                    }
                    // Accept errors (e.g. too many open files) are per
                    // connection: keep serving. But out of file descriptors,
                    // accept fails at once every time: pause before trying
                    // again rather than spin a core until one is freed.
                    Err(_) => tokio::time::sleep(ACCEPT_ERROR_PAUSE).await,
                },
                () = &mut shutdown => break,
            }
        }
        // Close every session, still accepting connections meanwhile: a
        // polling client fetches its CLOSE with a new request, which a closed
        // listener would refuse (its session would then linger until the
        // grace ran out).
        let closing = self.close_all_sessions();
        tokio::pin!(closing);
        loop {
            tokio::select! {
                () = &mut closing => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        self.spawn_connection(stream, peer, stop_rx.clone());
                    }
                    Err(_) => tokio::time::sleep(ACCEPT_ERROR_PAUSE).await,
                },
            }
        }
        drop(listener);
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
        let stream = timed_io::TimedIo::new(stream, shared.config.write_timeout);
        let stream = match shared.config.max_connections_per_ip {
            None => stream,
            Some(_) => match shared.connections.admit(peer.ip()) {
                Ok(slot) => stream.holding(slot),
                // Over the cap: dropping the stream closes the connection.
                Err(_) => return,
            },
        };
        // Boxed, as the session drivers are: the connection's future is
        // large (hyper's, and a TLS stream's), and tokio moves it.
        tokio::spawn(Box::pin(async move {
            match shared.config.tls.clone() {
                None => serve_http(shared, stream, peer, stop).await,
                Some(tls) => {
                    let handshake = tls.acceptor().accept(stream);
                    let timeout = shared.config.tls_handshake_timeout;
                    let stream = tokio::select! {
                        done = tokio::time::timeout(timeout, handshake) => match done {
                            Ok(Ok(stream)) => stream,
                            // A failed or unfinished handshake: drop the connection.
                            Ok(Err(_)) | Err(_) => return,
                        },
                        () = async { let _ = stop.wait_for(|stopped| *stopped).await; } => return,
                    };
                    serve_http(shared, stream, peer, stop).await;
                }
            }
        }));
    }

    async fn close_all_sessions(&self) {
        let now = std::time::Instant::now();
        let mut servers = vec![self.shared.clone()];
        while let Some(next) = servers.last().and_then(|s| s.next.get().cloned()) {
            servers.push(next);
        }
        for shared in &servers {
            shared.draining.store(true, Ordering::Relaxed);
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

/// Serves HTTP/1.1 on one connection (TCP, or TLS over TCP) until it ends or
/// the server stops.
async fn serve_http<S>(
    shared: Arc<Shared>,
    stream: S,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let header_read_timeout = shared.config.header_read_timeout;
    // hyper refuses a read buffer under 8 KiB.
    let max_buf_size = shared.config.max_header_size.max(8192);
    let service = hyper::service::service_fn(move |req| http::handle(shared.clone(), req, peer));
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
