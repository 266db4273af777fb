//! The `siobridge` binary: the bridge profiles served over Socket.IO, with a
//! health check, metrics and the Directual HTTP API. Wiring only: the
//! protocol lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use siobridge::admin::{AdminConfig, EngineStats, UiFiles, instrument};
use siobridge::bridge::{ApiRequest, Bridge, HttpApi, Profile};
use siobridge::engineio::{CloseReason, Data, TransportKind};
use siobridge::server::{
    Cors, EngineSocket, Handler, HttpRequest, HttpResponse, PROMETHEUS_CONTENT_TYPE, Prometheus,
    Server, ServerConfig, SocketIoHandler, Tls, TrustProxy, shutdown_signal, socket_io,
};
use siobridge::socketio::{self, SocketIo};

const USAGE: &str = "\
usage: siobridge [--listen ADDR] [--profile NAMESPACE=PROFILE]... [--api-token TOKEN]
                 [--cors-origin ORIGIN]... [--parser json|msgpack]
                 [--cors-origin ORIGIN]... [--tls-cert FILE --tls-key FILE]
                 [--trust-proxy CIDR]... [--log-format text|json] [--allow-eio3]
       siobridge conform [--eio3] URL
                         check the server at URL against the protocol specs

Serves Socket.IO v5 (socket.io 3.x/4.x clients) at /socket.io/, over HTTP
long-polling and WebSocket, with a routing profile on each namespace.

  --listen ADDR             address to listen on (default 127.0.0.1:3000)
                            [env SIOBRIDGE_LISTEN]
  --profile NS=PROFILE      serve PROFILE on namespace NS; repeatable
                            (default /=digital-auto)
                            [env SIOBRIDGE_PROFILES, comma-separated]
                            PROFILE: digital-auto, hubtel, directual, chat
  --api-token TOKEN         require `Authorization: Bearer TOKEN` on the HTTP
                            API (/api/v1/sessions, /api/v1/push)
                            [env SIOBRIDGE_API_TOKEN]
  --cors-origin ORIGIN      allow only these browser origins; repeatable
                            (default: any origin)
                            [env SIOBRIDGE_CORS_ORIGINS, comma-separated]
  --max-sessions N          open sessions at most (default 100000)
                            [env SIOBRIDGE_MAX_SESSIONS]
  --max-sessions-per-ip N   open sessions per client address (default: no cap)
                            [env SIOBRIDGE_MAX_SESSIONS_PER_IP]
  --max-connections-per-ip N
                            TCP connections per client address (default: no cap)
                            [env SIOBRIDGE_MAX_CONNECTIONS_PER_IP]
  --event-rate PER_SEC/BURST
                            events a socket may send: PER_SEC on average, BURST
                            at once; over it, it is disconnected (reason: rate limited)
                            (default: no limit) [env SIOBRIDGE_EVENT_RATE]
  --parser json|msgpack     how packets are written: json (socket.io-parser,
                            the default) or msgpack (socket.io-msgpack-parser);
                            every client must use the same [env SIOBRIDGE_PARSER]
  --allow-eio3              also serve socket.io 2.x clients (Engine.IO v3,
                            Socket.IO protocol v4), as Node's allowEIO3
                            (default: off) [env SIOBRIDGE_ALLOW_EIO3=1]
  --tls-cert FILE           serve HTTPS and WSS with this PEM certificate chain
                            (needs --tls-key) [env SIOBRIDGE_TLS_CERT]
  --tls-key FILE            the PEM private key of --tls-cert
                            [env SIOBRIDGE_TLS_KEY]
  --trust-proxy CIDR        take the client address from X-Forwarded-For /
                            Forwarded when the peer is in CIDR (10.0.0.0/8, an
                            address, or loopback, linklocal, uniquelocal);
                            repeatable [env SIOBRIDGE_TRUST_PROXY, comma-separated]
  --log-format FORMAT       text (default) or json: one JSON object per line
                            [env SIOBRIDGE_LOG_FORMAT]
  --max-poll-packets N      packets per polling response at most (default: as many
                            as fit in maxPayload; 16 serves python-socketio
                            polling clients through bursts)
                            [env SIOBRIDGE_MAX_POLL_PACKETS]
  --admin USER:PASSWORD     serve the Socket.IO Admin UI: namespace /admin
                            (login USER, PASSWORD) and its page at /admin/
                            (default: off) [env SIOBRIDGE_ADMIN]
  --admin-ui-dir DIR        the UI's files (ui/dist of @socket.io/admin-ui;
                            scripts/admin-ui installs them) (default
                            admin-ui/node_modules/@socket.io/admin-ui/ui/dist)
                            [env SIOBRIDGE_ADMIN_UI_DIR]
  -h, --help                print this help

Also served: GET /healthz, GET /metrics (Prometheus text format).
Log level: env SIOBRIDGE_LOG = error, warn, info (default) or debug.
";

/// The command line, after defaults and environment variables.
#[derive(Debug)]
struct Options {
    listen: SocketAddr,
    profiles: Vec<(String, Profile)>,
    api_token: Option<String>,
    cors_origins: Vec<String>,
    limits: Limits,
    admin: Option<Admin>,
    /// (certificate, key) PEM files.
    tls: Option<(PathBuf, PathBuf)>,
    trust_proxy: TrustProxy,
    log_format: Format,
    parser: socketio::Parser,
    /// `--allow-eio3`: serve Engine.IO v3 clients too.
    allow_eio3: bool,
}

/// `json` or `msgpack`.
fn parse_parser(value: &str) -> Result<socketio::Parser, Refusal> {
    match value {
        "json" => Ok(socketio::Parser::Json),
        "msgpack" => Ok(socketio::Parser::Msgpack),
        _ => Err(format!("--parser {value:?}: expected json or msgpack")),
    }
}

/// `--admin USER:PASSWORD` and where the UI's files are.
#[derive(Clone, PartialEq)]
struct Admin {
    username: String,
    password: String,
    /// `--admin-ui-dir`, when given (then it must hold the UI).
    ui_dir: Option<String>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("username", &self.username)
            .field("ui_dir", &self.ui_dir)
            .finish_non_exhaustive()
    }
}

/// Where `scripts/admin-ui` installs the UI, from the working directory.
const DEFAULT_ADMIN_UI_DIR: &str = "admin-ui/node_modules/@socket.io/admin-ui/ui/dist";

/// The abuse limits the library leaves off (or at a default) and the command
/// line sets; docs/limits.md says what each stops.
#[derive(Debug, Default, PartialEq)]
struct Limits {
    max_sessions: Option<usize>,
    max_sessions_per_ip: Option<usize>,
    max_connections_per_ip: Option<usize>,
    /// (per second, burst)
    event_rate: Option<(u32, u32)>,
    max_poll_packets: Option<usize>,
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, Refusal> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value:?}: expected a whole number"))
}

/// `PER_SEC/BURST` (or `PER_SEC`, with a burst of the same size).
fn event_rate(value: &str) -> Result<(u32, u32), Refusal> {
    let (rate, burst) = value.split_once('/').unwrap_or((value, value));
    let rate: u32 = number("--event-rate", rate)?;
    let burst: u32 = number("--event-rate", burst)?;
    if rate == 0 || burst == 0 {
        return Err(format!(
            "--event-rate {value:?}: both numbers must be above 0"
        ));
    }
    Ok((rate, burst))
}

/// Why the command line was refused: printed, then exit status 2.
type Refusal = String;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `NS=PROFILE`, with NS starting with `/`.
fn parse_profile(spec: &str) -> Result<(String, Profile), Refusal> {
    let Some((namespace, profile)) = spec.split_once('=') else {
        return Err(format!(
            "--profile {spec:?}: expected NAMESPACE=PROFILE, e.g. /=digital-auto"
        ));
    };
    if !namespace.starts_with('/') || namespace.contains(',') {
        return Err(format!(
            "--profile {spec:?}: the namespace must start with '/' and contain no ','"
        ));
    }
    let profile = profile
        .parse::<Profile>()
        .map_err(|e| format!("--profile {spec:?}: {e}"))?;
    Ok((namespace.to_owned(), profile))
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, Refusal> {
    let mut listen = env("SIOBRIDGE_LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into());
    let mut profiles: Vec<String> = env("SIOBRIDGE_PROFILES")
        .map(|v| list(&v).collect())
        .unwrap_or_default();
    let mut api_token = env("SIOBRIDGE_API_TOKEN");
    let mut admin = env("SIOBRIDGE_ADMIN");
    let mut admin_ui_dir = env("SIOBRIDGE_ADMIN_UI_DIR");
    let mut parser = env("SIOBRIDGE_PARSER");
    let mut allow_eio3 = match env("SIOBRIDGE_ALLOW_EIO3").as_deref() {
        None | Some("" | "0" | "false") => false,
        Some("1" | "true") => true,
        Some(other) => return Err(format!("SIOBRIDGE_ALLOW_EIO3 {other:?}: expected 1 or 0")),
    };
    let mut cors_origins: Vec<String> = env("SIOBRIDGE_CORS_ORIGINS")
        .map(|v| list(&v).collect())
        .unwrap_or_default();
    let (mut cli_profiles, mut cli_origins) = (Vec::new(), Vec::new());
    let mut tls_cert = env("SIOBRIDGE_TLS_CERT");
    let mut tls_key = env("SIOBRIDGE_TLS_KEY");
    let mut trust_proxy: Vec<String> = env("SIOBRIDGE_TRUST_PROXY")
        .map(|v| list(&v).collect())
        .unwrap_or_default();
    let mut cli_trust_proxy = Vec::new();
    let mut log_format = env("SIOBRIDGE_LOG_FORMAT").unwrap_or_else(|| "text".into());
    let mut limit_values: Vec<(&str, String)> = [
        ("--max-sessions", "SIOBRIDGE_MAX_SESSIONS"),
        ("--max-sessions-per-ip", "SIOBRIDGE_MAX_SESSIONS_PER_IP"),
        (
            "--max-connections-per-ip",
            "SIOBRIDGE_MAX_CONNECTIONS_PER_IP",
        ),
        ("--event-rate", "SIOBRIDGE_EVENT_RATE"),
        ("--max-poll-packets", "SIOBRIDGE_MAX_POLL_PACKETS"),
    ]
    .into_iter()
    .filter_map(|(flag, var)| env(var).map(|v| (flag, v)))
    .collect();

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--profile" => cli_profiles.push(value()?),
            "--api-token" => api_token = Some(value()?).filter(|t| !t.is_empty()),
            "--cors-origin" => cli_origins.push(value()?),
            "--admin" => admin = Some(value()?),
            "--admin-ui-dir" => admin_ui_dir = Some(value()?),
            "--parser" => parser = Some(value()?),
            "--allow-eio3" if inline.is_none() => allow_eio3 = true,
            "--max-sessions" => limit_values.push(("--max-sessions", value()?)),
            "--max-sessions-per-ip" => limit_values.push(("--max-sessions-per-ip", value()?)),
            "--max-connections-per-ip" => limit_values.push(("--max-connections-per-ip", value()?)),
            "--event-rate" => limit_values.push(("--event-rate", value()?)),
            "--tls-cert" => tls_cert = Some(value()?),
            "--tls-key" => tls_key = Some(value()?),
            "--trust-proxy" => cli_trust_proxy.push(value()?),
            "--log-format" => log_format = value()?,
            "--max-poll-packets" => limit_values.push(("--max-poll-packets", value()?)),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    // The command line wins over the environment.
    if !cli_profiles.is_empty() {
        profiles = cli_profiles;
    }
    if !cli_origins.is_empty() {
        cors_origins = cli_origins;
    }
    if profiles.is_empty() {
        profiles.push("/=digital-auto".into());
    }
    if !cli_trust_proxy.is_empty() {
        trust_proxy = cli_trust_proxy;
    }
    let tls = match (tls_cert, tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
        (Some(_), None) => {
            return Err("--tls-cert needs --tls-key (the certificate's private key)".into());
        }
        (None, Some(_)) => {
            return Err("--tls-key needs --tls-cert (the certificate it goes with)".into());
        }
    };
    let mut ranges = Vec::new();
    for item in &trust_proxy {
        ranges.extend(TrustProxy::parse_item(item).map_err(|e| format!("--trust-proxy {e}"))?);
    }
    let log_format = match log_format.as_str() {
        "text" => Format::Text,
        "json" => Format::Json,
        other => return Err(format!("--log-format {other:?}: expected text or json")),
    };

    let listen = listen
        .parse()
        .map_err(|_| format!("--listen {listen:?}: not an address like 127.0.0.1:3000"))?;
    let mut mounted: Vec<(String, Profile)> = Vec::new();
    for spec in &profiles {
        let (namespace, profile) = parse_profile(spec)?;
        if mounted.iter().any(|(ns, _)| *ns == namespace) {
            return Err(format!("--profile: namespace {namespace} is mounted twice"));
        }
        mounted.push((namespace, profile));
    }
    // Later values (the command line) override earlier ones (the environment).
    let mut limits = Limits::default();
    for (flag, value) in &limit_values {
        match *flag {
            "--max-sessions" => limits.max_sessions = Some(number(flag, value)?),
            "--max-sessions-per-ip" => limits.max_sessions_per_ip = Some(number(flag, value)?),
            "--max-connections-per-ip" => {
                limits.max_connections_per_ip = Some(number(flag, value)?)
            }
            "--max-poll-packets" => match number(flag, value)? {
                0 => return Err(format!("{flag} {value:?}: at least 1")),
                n => limits.max_poll_packets = Some(n),
            },
            _ => limits.event_rate = Some(event_rate(value)?),
        }
    }
    let admin = match admin {
        None if admin_ui_dir.is_some() => {
            return Err("--admin-ui-dir needs --admin USER:PASSWORD".into());
        }
        None => None,
        Some(credentials) => match credentials.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Some(Admin {
                username: user.to_owned(),
                password: password.to_owned(),
                ui_dir: admin_ui_dir,
            }),
            _ => return Err("--admin: expected USER:PASSWORD, both non-empty".into()),
        },
    };
    if admin.is_some() && mounted.iter().any(|(ns, _)| ns == "/admin") {
        return Err("--admin serves namespace /admin: it cannot also have a --profile".into());
    }
    let parser = match parser {
        Some(name) => parse_parser(&name)?,
        None => socketio::Parser::Json,
    };
    let options = Options {
        listen,
        profiles: mounted,
        api_token,
        cors_origins,
        limits,
        admin,
        parser,
        allow_eio3,
        tls,
        trust_proxy: TrustProxy::new(ranges),
        log_format,
    };
    check_safety(&options)?;
    Ok(options)
}

/// The HTTP API pushes to any user: without a token it is only served on a
/// loopback address, where only this machine can reach it.
fn check_safety(options: &Options) -> Result<(), Refusal> {
    let directual = options
        .profiles
        .iter()
        .any(|(_, p)| *p == Profile::Directual);
    if directual && options.api_token.is_none() && !options.listen.ip().is_loopback() {
        return Err(format!(
            "refusing to serve the directual HTTP API on {} without a token: anyone who \
             can reach it could push to every user. Pass --api-token TOKEN (or set \
             SIOBRIDGE_API_TOKEN), or listen on a loopback address.",
            options.listen
        ));
    }
    Ok(())
}

// ----- logging --------------------------------------------------------------

/// Log levels, from SIOBRIDGE_LOG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

fn log_level() -> Level {
    match env("SIOBRIDGE_LOG").as_deref() {
        Some("error") => Level::Error,
        Some("warn") => Level::Warn,
        Some("debug" | "trace") => Level::Debug,
        _ => Level::Info,
    }
}

/// How log lines look, from `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `siobridge LEVEL message`.
    Text,
    /// One JSON object per line: `time`, `level`, `event`, the event's
    /// fields (`sid`, `socket`, `namespace`, `address`, `reason`, ...) and
    /// `message`, the text line's words.
    Json,
}

/// The named values of a log line (`address`, `reason`, ...).
type Fields = Vec<(&'static str, String)>;

/// Writes one line to stderr when `level` is enabled.
#[derive(Debug, Clone, Copy)]
struct Log {
    level: Level,
    format: Format,
}

impl Log {
    /// A line with no fields, under event `event`.
    fn at(self, level: Level, event: &str, message: impl FnOnce() -> String) {
        self.event(level, event, || (message(), Vec::new()));
    }

    /// A line for `event`: `line` gives its text and its fields, and is
    /// only called when `level` is enabled.
    fn event(self, level: Level, event: &str, line: impl FnOnce() -> (String, Fields)) {
        if level > self.level {
            return;
        }
        let (message, fields) = line();
        let text = match self.format {
            Format::Text => {
                let tag = match level {
                    Level::Error => "ERROR",
                    Level::Warn => "WARN",
                    Level::Info => "INFO",
                    Level::Debug => "DEBUG",
                };
                format!("siobridge {tag} {message}")
            }
            Format::Json => {
                let level = match level {
                    Level::Error => "error",
                    Level::Warn => "warn",
                    Level::Info => "info",
                    Level::Debug => "debug",
                };
                let mut object = serde_json::Map::new();
                object.insert("time".into(), rfc3339_now().into());
                object.insert("level".into(), level.into());
                object.insert("event".into(), event.into());
                for (name, value) in fields {
                    object.insert(name.into(), value.into());
                }
                object.insert("message".into(), message.into());
                serde_json::Value::Object(object).to_string()
            }
        };
        eprintln!("{text}");
    }
}

/// The time now as RFC 3339 in UTC with milliseconds, e.g.
/// `2026-01-31T12:00:00.123Z`.
fn rfc3339_now() -> String {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since_epoch.as_millis() as i64)
}

/// `millis` since 1970-01-01T00:00:00Z as RFC 3339 (the days-to-date step
/// is the proleptic Gregorian calendar's arithmetic, in 400-year eras).
fn rfc3339(millis: i64) -> String {
    let (days, ms_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let secs = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    )
}

/// The Socket.IO handler, with sessions logged at debug level.
struct Logged {
    inner: SocketIoHandler,
    log: Log,
    /// Sessions opened and closed, for the admin UI's charts.
    opened: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
}

/// The fields of a session's log lines.
fn session_fields(socket: &EngineSocket) -> Fields {
    vec![
        ("sid", socket.sid().as_str().to_owned()),
        ("address", socket.address().to_string()),
    ]
}

impl Handler for Logged {
    fn on_open(&self, socket: &EngineSocket) {
        self.log.event(Level::Debug, "session_open", || {
            let transport = match socket.transport() {
                TransportKind::Polling => "polling",
                TransportKind::WebSocket => "websocket",
            };
            let mut fields = session_fields(socket);
            fields.push(("transport", transport.to_owned()));
            (
                format!(
                    "session {} opened over {:?} from {}",
                    socket.sid().as_str(),
                    socket.transport(),
                    socket.address()
                ),
                fields,
            )
        });
        self.opened.fetch_add(1, Ordering::Relaxed);
        self.inner.on_open(socket);
    }

    fn on_message(&self, socket: &EngineSocket, data: Data) {
        self.inner.on_message(socket, data);
    }

    fn on_messages(&self, socket: &EngineSocket, messages: &mut dyn Iterator<Item = Data>) {
        self.inner.on_messages(socket, messages);
    }

    fn on_upgrade(&self, socket: &EngineSocket) {
        self.log.event(Level::Debug, "session_upgrade", || {
            (
                format!("session {} upgraded", socket.sid().as_str()),
                session_fields(socket),
            )
        });
        self.inner.on_upgrade(socket);
    }

    fn on_close(&self, socket: &EngineSocket, reason: CloseReason) {
        self.log.event(Level::Debug, "session_close", || {
            let mut fields = session_fields(socket);
            fields.push(("reason", reason.as_str().to_owned()));
            (
                format!(
                    "session {} closed: {}",
                    socket.sid().as_str(),
                    reason.as_str()
                ),
                fields,
            )
        });
        self.closed.fetch_add(1, Ordering::Relaxed);
        self.inner.on_close(socket, reason);
    }
}

/// The fields of a socket's log lines.
fn socket_fields(socket: &socketio::Socket) -> Fields {
    let mut fields = vec![
        ("socket", socket.id().to_owned()),
        ("namespace", socket.namespace().to_owned()),
    ];
    if let Some(address) = socket.handshake().address {
        fields.push(("address", address.to_string()));
    }
    fields
}

/// Logs every socket's connect and disconnect, with its Socket.IO reason,
/// at debug level.
fn log_sockets(io: &SocketIo, log: Log) {
    io.on_every_connect(move |socket| {
        log.event(Level::Debug, "connect", || {
            (
                format!("socket {} connected to {}", socket.id(), socket.namespace()),
                socket_fields(socket),
            )
        });
    });
    io.on_every_disconnect(move |socket, reason| {
        log.event(Level::Debug, "disconnect", || {
            let mut fields = socket_fields(socket);
            fields.push(("reason", reason.as_str().to_owned()));
            (
                format!(
                    "socket {} disconnected from {}: {}",
                    socket.id(),
                    socket.namespace(),
                    reason
                ),
                fields,
            )
        });
    });
}

// ----- operations endpoints -------------------------------------------------

fn json_response(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        content_type: "application/json",
        body: body.to_string().into(),
    }
}

/// GET /metrics: the Prometheus page.
fn metrics(server: &Server, io: &SocketIo, mounts: &[(String, Profile)]) -> String {
    let mut page = Prometheus::new();
    let (polling, websocket) = server.sessions_by_transport();
    page.metric(
        "siobridge_connections",
        "gauge",
        "Open Engine.IO sessions, by transport.",
    );
    page.sample(
        "siobridge_connections",
        &[("transport", "polling")],
        polling as u64,
    );
    page.sample(
        "siobridge_connections",
        &[("transport", "websocket")],
        websocket as u64,
    );

    let sockets = io.sockets_by_namespace();
    page.metric(
        "siobridge_sockets",
        "gauge",
        "Connected Socket.IO sockets, by namespace and profile.",
    );
    for (namespace, profile) in mounts {
        let count = sockets
            .iter()
            .find(|(ns, _)| ns == namespace)
            .map_or(0, |(_, n)| *n);
        page.sample(
            "siobridge_sockets",
            &[("namespace", namespace), ("profile", profile.name())],
            count as u64,
        );
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
        "Sockets disconnected for sending events faster than --event-rate.",
    );
    page.sample("siobridge_rate_limited_total", &[], io.rate_limited());
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
    page.finish()
}

/// Everything outside /socket.io/.
fn operations(
    request: HttpRequest<'_>,
    server: &Server,
    io: &SocketIo,
    mounts: &[(String, Profile)],
    api: &HttpApi,
    admin_ui: Option<&UiFiles>,
) -> HttpResponse {
    if request.method == "GET"
        && let Some(ui) = admin_ui
        && let Some(answer) = ui.answer("/admin/", request.path)
    {
        return answer;
    }
    match (request.method, request.path) {
        ("GET", "/healthz") => json_response(200, json!({"status": "ok"})),
        ("GET", "/metrics") => HttpResponse {
            status: 200,
            content_type: PROMETHEUS_CONTENT_TYPE,
            body: metrics(server, io, mounts).into(),
        },
        (method, path) if HttpApi::owns(path) => {
            let authorization = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            let answer = api.handle(ApiRequest {
                method,
                path,
                authorization,
                body: &request.body,
            });
            json_response(answer.status, answer.body)
        }
        _ => json_response(404, json!({"status": "ERR", "message": "not found"})),
    }
}

// ----- main -----------------------------------------------------------------

/// The admin UI's files, when `--admin` is given: read before the server
/// starts. A `--admin-ui-dir` that does not hold them is a bad flag; the
/// default folder missing is only a warning (`serve`).
fn load_admin_ui(admin: &Admin) -> Result<std::io::Result<UiFiles>, Refusal> {
    let dir = admin.ui_dir.as_deref().unwrap_or(DEFAULT_ADMIN_UI_DIR);
    match UiFiles::load(std::path::Path::new(dir)) {
        Err(e) if admin.ui_dir.is_some() => Err(format!("--admin-ui-dir {dir}: {e}")),
        loaded => Ok(loaded),
    }
}

async fn serve(
    options: Options,
    tls: Option<Tls>,
    log: Log,
    admin_ui: std::io::Result<UiFiles>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    // Before the announcement: a SIGTERM right after it is a clean stop.
    let shutdown = shutdown_signal();
    // The first stdout line: tests and scripts read the port from it.
    println!("listening on {}", listener.local_addr()?);

    let mut sio_config = socketio::Config::default().with_parser(options.parser);
    if let Some((per_second, burst)) = options.limits.event_rate {
        sio_config = sio_config.with_event_rate_limit(per_second, burst);
    }
    let io = socket_io(sio_config);
    let mut bridge = Bridge::new(&io);
    for (namespace, profile) in &options.profiles {
        bridge.mount(namespace, *profile);
        log.event(Level::Info, "mount", || {
            (
                format!("serving {profile} on namespace {namespace}"),
                vec![
                    ("namespace", namespace.clone()),
                    ("profile", profile.name().to_owned()),
                ],
            )
        });
    }
    log_sockets(&io, log);
    let api = bridge.http_api(options.api_token.clone());
    if bridge.serves_http_api() {
        let guard = if options.api_token.is_some() {
            "bearer token required"
        } else {
            "no token: loopback only"
        };
        log.at(Level::Info, "http_api", || {
            format!("HTTP API at /api/v1/sessions and /api/v1/push ({guard})")
        });
    }

    let cors = if options.cors_origins.is_empty() {
        Cors::AnyOrigin
    } else {
        Cors::Origins(options.cors_origins.clone())
    };
    let mut config = ServerConfig::default()
        .with_path("/socket.io/")
        .with_cors(cors);
    if let Some(max) = options.limits.max_sessions {
        config.max_sessions = max;
    }
    config.max_sessions_per_ip = options.limits.max_sessions_per_ip;
    config.max_connections_per_ip = options.limits.max_connections_per_ip;
    if !options.trust_proxy.is_empty() {
        log.at(Level::Info, "trust_proxy", || {
            "client addresses from X-Forwarded-For / Forwarded of trusted proxies".into()
        });
    }
    config.trust_proxy = options.trust_proxy.clone();
    if let Some(tls) = tls {
        log.at(Level::Info, "tls", || "serving HTTPS and WSS".into());
        config.tls = Some(tls);
    }
    config.engine.max_poll_packets = options.limits.max_poll_packets;
    config.engine.allow_eio3 = options.allow_eio3;
    // The admin UI shows each socket's request.
    config.keep_requests = options.admin.is_some();
    let (opened, closed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let handler = Logged {
        inner: SocketIoHandler::new(io.clone()),
        log,
        opened: opened.clone(),
        closed: closed.clone(),
    };
    let server = Server::new(config, handler);
    let mounts: Arc<[(String, Profile)]> = bridge.mounts().into();
    let admin_ui = match &options.admin {
        None => None,
        Some(admin) => {
            let mut config = AdminConfig::new(&admin.username, &admin.password);
            config.namespaces = mounts.iter().map(|(ns, _)| ns.clone()).collect();
            let observed = server.clone();
            instrument(&io, config, move || {
                let stats = observed.stats();
                let (polling, _) = observed.sessions_by_transport();
                EngineStats {
                    clients: observed.session_count(),
                    polling_clients: polling,
                    packets_in: stats.packets_in,
                    packets_out: stats.packets_out,
                    bytes_in: stats.bytes_in,
                    bytes_out: stats.bytes_out,
                    connections: opened.load(Ordering::Relaxed),
                    disconnections: closed.load(Ordering::Relaxed),
                }
            });
            let dir = admin.ui_dir.as_deref().unwrap_or(DEFAULT_ADMIN_UI_DIR);
            match admin_ui {
                Ok(files) => {
                    log.at(Level::Info, "admin_ui", || {
                        format!("admin UI at /admin/ (files from {dir}), namespace /admin")
                    });
                    Some(files)
                }
                Err(e) => {
                    log.at(Level::Warn, "admin_ui", || {
                        format!(
                            "admin namespace /admin served, but not the UI's page: {dir}: {e} \
                             (run scripts/admin-ui, or pass --admin-ui-dir)"
                        )
                    });
                    None
                }
            }
        }
    };
    let observed = server.clone();
    let server = server.with_fallback(move |request| {
        operations(request, &observed, &io, &mounts, &api, admin_ui.as_ref())
    });
    let result = server.serve(listener, shutdown).await;
    log.at(Level::Info, "stopped", || "stopped".into());
    result
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("conform") {
        return siobridge::conform::main(std::env::args().skip(2));
    }
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(refusal) => {
            eprintln!("siobridge: {refusal}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let log = Log {
        level: log_level(),
        format: options.log_format,
    };
    // A certificate that cannot be used is a mistake of the command line:
    // said before anything starts, with status 2.
    let tls = match &options.tls {
        None => None,
        Some((cert, key)) => match Tls::from_pem_files(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("siobridge: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("siobridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let admin_ui = match options.admin.as_ref().map(load_admin_ui) {
        Some(Err(refusal)) => {
            eprintln!("siobridge: {refusal}");
            return ExitCode::from(2);
        }
        Some(Ok(loaded)) => loaded,
        None => Err(std::io::Error::other("no --admin")),
    };
    match runtime.block_on(serve(options, tls, log, admin_ui)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log.at(Level::Error, "error", || e.to_string());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, Refusal> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_to_digital_auto_on_loopback() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(options.profiles, [("/".to_owned(), Profile::DigitalAuto)]);
    }

    #[test]
    fn profiles_and_flags() {
        let options = parse(&[
            "--listen=127.0.0.1:0",
            "--profile",
            "/=hubtel",
            "--profile",
            "/chat=chat",
            "--cors-origin",
            "https://a.example",
        ])
        .unwrap();
        assert_eq!(options.profiles.len(), 2);
        assert_eq!(options.cors_origins, ["https://a.example"]);
    }

    #[test]
    fn refusals() {
        for bad in [
            &["--nope"][..],
            &["--listen"],
            &["--listen", "localhost"],
            &["--profile", "/=pubsub"],
            &["--profile", "chat"],
            &["--profile", "nsp=chat"],
            &["--profile", "/=chat", "--profile", "/=hubtel"],
            &["--listen", "0.0.0.0:0", "--profile", "/d=directual"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse(&[
                "--listen",
                "0.0.0.0:0",
                "--profile",
                "/d=directual",
                "--api-token",
                "t"
            ])
            .is_ok()
        );
        for bad in [
            &["--event-rate", "0/5"][..],
            &["--event-rate", "ten"],
            &["--max-sessions-per-ip", "-1"],
            &["--parser", "cbor"],
            &["--max-poll-packets", "0"],
            &["--admin", "nocolon"],
            &["--admin", ":pw"],
            &["--admin", "user:"],
            &["--admin-ui-dir", "ui"],
            &["--admin", "a:b", "--profile", "/admin=chat"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn admin_credentials() {
        let options = parse(&["--admin", "ops:pa:ss word"]).unwrap();
        let admin = options.admin.unwrap();
        assert_eq!((&*admin.username, &*admin.password), ("ops", "pa:ss word"));
        assert_eq!(admin.ui_dir, None);
        assert!(
            !format!("{admin:?}").contains("pa:ss"),
            "the password is not logged"
        );
        assert!(parse(&[]).unwrap().admin.is_none());
    }

    #[test]
    fn allow_eio3() {
        assert!(!parse(&[]).unwrap().allow_eio3);
        assert!(parse(&["--allow-eio3"]).unwrap().allow_eio3);
        assert!(parse(&["--allow-eio3=yes"]).is_err());
    }

    #[test]
    fn parser() {
        assert_eq!(parse(&[]).unwrap().parser, socketio::Parser::Json);
        let options = parse(&["--parser", "msgpack"]).unwrap();
        assert_eq!(options.parser, socketio::Parser::Msgpack);
        assert_eq!(
            parse(&["--parser=json"]).unwrap().parser,
            socketio::Parser::Json
        );
    }

    #[test]
    fn tls_trust_proxy_and_log_format() {
        let options = parse(&[
            "--tls-cert",
            "c.pem",
            "--tls-key=k.pem",
            "--trust-proxy",
            "10.0.0.0/8",
            "--trust-proxy",
            "loopback",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(
            options.tls,
            Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
        );
        assert!(options.trust_proxy.trusts("10.1.2.3".parse().unwrap()));
        assert!(options.trust_proxy.trusts("::1".parse().unwrap()));
        assert!(!options.trust_proxy.trusts("192.168.1.1".parse().unwrap()));
        assert_eq!(options.log_format, Format::Json);
        assert_eq!(parse(&[]).unwrap().log_format, Format::Text);
        for bad in [
            &["--tls-cert", "c.pem"][..],
            &["--tls-key", "k.pem"],
            &["--trust-proxy", "10.0.0.0/40"],
            &["--trust-proxy", "localhost"],
            &["--log-format", "xml"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_767_225_599_999), "2025-12-31T23:59:59.999Z");
    }

    #[test]
    fn limits() {
        let options = parse(&[
            "--max-sessions-per-ip",
            "4",
            "--event-rate",
            "20/40",
            "--max-connections-per-ip=8",
            "--max-poll-packets",
            "16",
        ])
        .unwrap();
        assert_eq!(
            options.limits,
            Limits {
                max_sessions: None,
                max_sessions_per_ip: Some(4),
                max_connections_per_ip: Some(8),
                event_rate: Some((20, 40)),
                max_poll_packets: Some(16),
            }
        );
    }
}
