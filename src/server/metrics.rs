//! Traffic counters of a [`Server`], a writer for the Prometheus text
//! exposition format (version 0.0.4) to publish them, and
//! [`ServerMetrics`], the `/metrics` page of a server and its Socket.IO
//! layer.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{HttpResponse, Server};
use crate::engineio::Data;
use crate::socketio::SocketIo;

/// What went through a server since it started. Engine.IO messages are
/// counted (engine.io-protocol v4, "Protocol › Message"; a Socket.IO packet
/// with attachments is several), not the protocol's own PING/PONG/NOOP.
#[derive(Debug, Default)]
pub struct Stats {
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    upgrades: AtomicU64,
    sessions_opened: AtomicU64,
    sessions_closed: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Messages received from clients.
    pub packets_in: u64,
    /// Their payload bytes.
    pub bytes_in: u64,
    /// Messages queued for clients.
    pub packets_out: u64,
    /// Their payload bytes.
    pub bytes_out: u64,
    /// Sessions upgraded from polling to WebSocket.
    pub upgrades: u64,
    /// Sessions opened (handshakes that succeeded), a counter.
    pub sessions_opened: u64,
    /// Sessions that ended, whatever the reason, a counter.
    pub sessions_closed: u64,
}

fn size(data: &Data) -> u64 {
    match data {
        Data::Text(text) => text.len() as u64,
        Data::Binary(bytes) => bytes.len() as u64,
    }
}

impl Stats {
    pub(super) fn received(&self, data: &Data) {
        self.packets_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(size(data), Ordering::Relaxed);
    }

    pub(super) fn sent(&self, data: &Data) {
        self.sent_many(1, size(data));
    }

    /// `packets` messages of `bytes` in all went out, counted at once.
    pub(super) fn sent_many(&self, packets: u64, bytes: u64) {
        self.packets_out.fetch_add(packets, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(super) fn upgraded(&self) {
        self.upgrades.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn opened(&self) {
        self.sessions_opened.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn closed(&self) {
        self.sessions_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            packets_in: self.packets_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            packets_out: self.packets_out.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            upgrades: self.upgrades.load(Ordering::Relaxed),
            sessions_opened: self.sessions_opened.load(Ordering::Relaxed),
            sessions_closed: self.sessions_closed.load(Ordering::Relaxed),
        }
    }
}

/// The content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Builds a page in the Prometheus text format: for each metric a `# HELP`
/// and `# TYPE` line, then its samples.
///
/// ```
/// use siobridge::server::Prometheus;
///
/// let mut page = Prometheus::new();
/// page.metric("requests_total", "counter", "Requests served.");
/// page.sample("requests_total", &[("method", "GET")], 3);
/// let lines: Vec<String> = page.finish().lines().map(String::from).collect();
/// assert_eq!(lines, [
///     "# HELP requests_total Requests served.",
///     "# TYPE requests_total counter",
///     "requests_total{method=\"GET\"} 3",
/// ]);
/// ```
#[derive(Debug, Default)]
pub struct Prometheus {
    text: String,
}

impl Prometheus {
    /// An empty page.
    pub fn new() -> Prometheus {
        Prometheus::default()
    }

    /// Starts metric `name` of `kind` (`counter`, `gauge`).
    pub fn metric(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample of metric `name`, with its labels.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// The page.
    pub fn finish(self) -> String {
        self.text
    }
}

/// The `/metrics` page of a running [`Server`] and, when given, of the
/// [`SocketIo`] it serves: open sessions by transport, sockets by namespace,
/// traffic, upgrades, disconnects by reason, slow consumers, rate-limited
/// sockets and refusals by cap, in the Prometheus text format.
///
/// The metric names start with `siobridge_`; README.md lists them. Engine.IO
/// metrics count what the protocol defines (sessions of the Engine.IO
/// protocol v4, "Protocol › Handshake", messages of "Protocol › Message",
/// upgrades of "Protocol › Upgrade"); Socket.IO metrics count sockets of the
/// Socket.IO protocol v5, "Exchange protocol › Connection to a namespace".
///
/// ```no_run
/// # async fn example() {
/// use siobridge::server::{Server, ServerConfig, ServerMetrics, SocketIoHandler, socket_io};
///
/// let io = socket_io(Default::default());
/// let server = Server::new(ServerConfig::default(), SocketIoHandler::new(io.clone()));
/// let metrics = ServerMetrics::new(&server).with_socket_io(&io);
/// let server = server.with_fallback(move |request| match request.path {
///     "/metrics" => metrics.response(),
///     _ => siobridge::server::HttpResponse {
///         status: 404,
///         content_type: "text/plain",
///         body: "not found".into(),
///     },
/// });
/// # let _ = server;
/// # }
/// ```
#[derive(Clone)]
pub struct ServerMetrics {
    server: Server,
    io: Option<SocketIo>,
    /// The namespaces listed in `siobridge_sockets`, each with its extra
    /// labels; empty: every namespace that has sockets.
    namespaces: Vec<(String, Vec<(String, String)>)>,
    /// The Redis adapter, when the process is in a cluster.
    redis: Option<super::redis::RedisCluster>,
}

impl std::fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerMetrics")
            .field("namespaces", &self.namespaces)
            .finish_non_exhaustive()
    }
}

impl ServerMetrics {
    /// The Engine.IO metrics of `server` (sessions, traffic, upgrades,
    /// refusals).
    pub fn new(server: &Server) -> ServerMetrics {
        ServerMetrics {
            server: server.clone(),
            io: None,
            namespaces: Vec::new(),
            redis: None,
        }
    }

    /// Adds the state and traffic of the Redis adapter
    /// (`siobridge_redis_*`).
    pub fn with_redis(mut self, cluster: &super::redis::RedisCluster) -> ServerMetrics {
        self.redis = Some(cluster.clone());
        self
    }

    /// Adds the Socket.IO metrics of `io` (sockets by namespace,
    /// disconnects by reason, slow consumers, rate-limited sockets).
    pub fn with_socket_io(mut self, io: &SocketIo) -> ServerMetrics {
        self.io = Some(io.clone());
        self
    }

    /// Lists `namespace` in `siobridge_sockets` with these extra labels
    /// (e.g. `[("profile", "chat")]`), with a sample even while it has no
    /// socket. Once a namespace is declared, only the declared ones are
    /// listed; without any, every namespace that has sockets is.
    pub fn with_namespace(mut self, namespace: &str, labels: &[(&str, &str)]) -> ServerMetrics {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.namespaces.push((namespace.to_owned(), labels));
        self
    }

    /// The page now, in the Prometheus text format.
    pub fn render(&self) -> String {
        let server = &self.server;
        let mut page = Prometheus::new();
        let (polling, websocket) = server.sessions_by_transport();
        page.metric(
            "siobridge_connections",
            "gauge",
            "Open Engine.IO sessions, by transport.",
        );
        for (transport, count) in [("polling", polling), ("websocket", websocket)] {
            page.sample(
                "siobridge_connections",
                &[("transport", transport)],
                count as u64,
            );
        }

        if let Some(io) = &self.io {
            self.sockets(&mut page, io);
        }

        let stats = server.stats();
        page.metric(
            "siobridge_packets_total",
            "counter",
            "Engine.IO messages, by direction.",
        );
        page.sample(
            "siobridge_packets_total",
            &[("direction", "in")],
            stats.packets_in,
        );
        page.sample(
            "siobridge_packets_total",
            &[("direction", "out")],
            stats.packets_out,
        );
        page.metric(
            "siobridge_bytes_total",
            "counter",
            "Engine.IO message bytes, by direction.",
        );
        page.sample(
            "siobridge_bytes_total",
            &[("direction", "in")],
            stats.bytes_in,
        );
        page.sample(
            "siobridge_bytes_total",
            &[("direction", "out")],
            stats.bytes_out,
        );
        page.metric(
            "siobridge_upgrades_total",
            "counter",
            "Sessions upgraded from polling to WebSocket.",
        );
        page.sample("siobridge_upgrades_total", &[], stats.upgrades);

        if let Some(io) = &self.io {
            page.metric(
                "siobridge_disconnects_total",
                "counter",
                "Sockets that left, by reason.",
            );
            for (reason, count) in io.disconnects_by_reason() {
                page.sample("siobridge_disconnects_total", &[("reason", &reason)], count);
            }
            page.metric(
                "siobridge_slow_consumers_total",
                "counter",
                "Clients disconnected because they did not read fast enough.",
            );
            page.sample(
                "siobridge_slow_consumers_total",
                &[],
                io.slow_consumers_dropped(),
            );
            page.metric(
                "siobridge_rate_limited_total",
                "counter",
                "Sockets disconnected for sending events faster than the event rate limit.",
            );
            page.sample("siobridge_rate_limited_total", &[], io.rate_limited());
        }
        page.metric(
            "siobridge_refused_total",
            "counter",
            "Handshakes and connections refused by a cap, by cap.",
        );
        for (cap, count) in [
            ("sessions", server.refused_by_session_cap()),
            ("sessions_per_ip", server.refused_by_ip_cap()),
            ("connections_per_ip", server.refused_connections_by_ip_cap()),
        ] {
            page.sample("siobridge_refused_total", &[("cap", cap)], count);
        }
        if let Some(redis) = &self.redis {
            redis_metrics(&mut page, &redis.stats());
        }
        page.finish()
    }

    /// `siobridge_sockets`: the declared namespaces with their labels, or
    /// every namespace with sockets.
    fn sockets(&self, page: &mut Prometheus, io: &SocketIo) {
        let sockets = io.sockets_by_namespace();
        page.metric(
            "siobridge_sockets",
            "gauge",
            "Connected Socket.IO sockets, by namespace and profile.",
        );
        if self.namespaces.is_empty() {
            for (namespace, count) in &sockets {
                page.sample(
                    "siobridge_sockets",
                    &[("namespace", namespace)],
                    *count as u64,
                );
            }
            return;
        }
        for (namespace, extra) in &self.namespaces {
            let count = sockets
                .iter()
                .find(|(ns, _)| ns == namespace)
                .map_or(0, |(_, n)| *n);
            let mut labels = vec![("namespace", namespace.as_str())];
            labels.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            page.sample("siobridge_sockets", &labels, count as u64);
        }
    }

    /// The page as the answer to `GET /metrics`, with
    /// [`PROMETHEUS_CONTENT_TYPE`].
    pub fn response(&self) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: PROMETHEUS_CONTENT_TYPE,
            body: self.render().into(),
        }
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `siobridge_redis_*`: whether each connection is up, and the cross-node
/// traffic.
fn redis_metrics(page: &mut Prometheus, stats: &super::redis::RedisStats) {
    page.metric(
        "siobridge_redis_up",
        "gauge",
        "Whether the Redis adapter's connection is up (1) or being retried (0), by connection.",
    );
    for (connection, up) in [
        ("publisher", stats.publisher_up),
        ("subscriber", stats.subscriber_up),
    ] {
        page.sample(
            "siobridge_redis_up",
            &[("connection", connection)],
            u64::from(up),
        );
    }
    for (name, help, value) in [
        (
            "siobridge_redis_published_total",
            "Messages published to the other nodes.",
            stats.published,
        ),
        (
            "siobridge_redis_publish_dropped_total",
            "Broadcasts not published: the queue to Redis was full.",
            stats.publish_dropped,
        ),
        (
            "siobridge_redis_received_total",
            "Messages received from the other nodes.",
            stats.received,
        ),
        (
            "siobridge_redis_malformed_total",
            "Messages from Redis that could not be decoded, dropped.",
            stats.malformed,
        ),
        (
            "siobridge_redis_connects_total",
            "Connections to Redis established (first ones and reconnections).",
            stats.connects,
        ),
    ] {
        page.metric(name, "counter", help);
        page.sample(name, &[], value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::Data;
    use crate::server::{EngineSocket, Handler, ServerConfig, socket_io};

    struct Ignore;
    impl Handler for Ignore {
        fn on_message(&self, _socket: &EngineSocket, _data: Data) {}
    }

    fn samples(page: &str, name: &str) -> Vec<String> {
        page.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .map(String::from)
            .collect()
    }

    #[test]
    fn a_new_server_renders_every_metric_at_zero() {
        let server = Server::new(ServerConfig::default(), Ignore);
        let io = socket_io(Default::default());
        let page = ServerMetrics::new(&server)
            .with_socket_io(&io)
            .with_namespace("/", &[("profile", "chat")])
            .with_namespace("/x", &[])
            .render();
        assert_eq!(
            samples(&page, "siobridge_connections"),
            [
                "siobridge_connections{transport=\"polling\"} 0",
                "siobridge_connections{transport=\"websocket\"} 0"
            ]
        );
        assert_eq!(
            samples(&page, "siobridge_sockets"),
            [
                "siobridge_sockets{namespace=\"/\",profile=\"chat\"} 0",
                "siobridge_sockets{namespace=\"/x\"} 0"
            ]
        );
        for name in [
            "siobridge_packets_total",
            "siobridge_bytes_total",
            "siobridge_upgrades_total",
            "siobridge_disconnects_total",
            "siobridge_slow_consumers_total",
            "siobridge_rate_limited_total",
            "siobridge_refused_total",
        ] {
            assert!(page.contains(&format!("# TYPE {name} ")), "{name}");
        }
        assert_eq!(samples(&page, "siobridge_refused_total").len(), 3);
        let response = ServerMetrics::new(&server).response();
        assert_eq!(response.status, 200);
        assert_eq!(response.content_type, PROMETHEUS_CONTENT_TYPE);
    }

    #[test]
    fn without_socket_io_only_engine_io_metrics() {
        let server = Server::new(ServerConfig::default(), Ignore);
        let page = ServerMetrics::new(&server).render();
        assert!(page.contains("# TYPE siobridge_connections gauge"));
        assert!(page.contains("# TYPE siobridge_refused_total counter"));
        assert!(!page.contains("siobridge_sockets"));
        assert!(!page.contains("siobridge_disconnects_total"));
        // Without declared namespaces, only namespaces that have sockets
        // are listed: none yet.
        let io = socket_io(Default::default());
        let page = ServerMetrics::new(&server).with_socket_io(&io).render();
        assert!(page.contains("# TYPE siobridge_sockets gauge"));
        assert_eq!(samples(&page, "siobridge_sockets{"), Vec::<String>::new());
    }

    #[test]
    fn label_values_are_escaped() {
        let mut page = Prometheus::new();
        page.sample("m", &[("reason", "a \"b\"\\\n")], 1);
        assert_eq!(page.finish(), "m{reason=\"a \\\"b\\\"\\\\\\n\"} 1\n");
    }
}
