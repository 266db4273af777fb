//! The `siobridge` command line: flags and environment variables parsed
//! into [`Options`], with the refusals (exit status 2) worded for the
//! operator. [`USAGE`] is the `--help` text; docs/limits.md says what each
//! limit stops. Parsing is pure: the environment comes in as a function, so
//! the tests need not touch the process's.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::bridge::Profile;
use crate::server::log::{Format, Level, Log};
use crate::server::redis::RedisConfig;
use crate::server::{Cors, ServerConfig, TrustProxy};
use crate::socketio;

/// The `--help` text (also printed, after the reason, when the command
/// line is refused).
pub const USAGE: &str = "\
usage: siobridge [--listen ADDR] [--profile NAMESPACE=PROFILE]... [--api-token TOKEN]
                 [--cors-origin ORIGIN]... [--parser json|msgpack]
                 [--tls-cert FILE --tls-key FILE]
                 [--trust-proxy CIDR]... [--log-format text|json] [--allow-eio3]
                 [--state-recovery SECONDS] [--redis URL [--redis-prefix PREFIX]]
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
  --tls-cert FILE           serve HTTPS and WSS with this PEM certificate chain
                            (needs --tls-key) [env SIOBRIDGE_TLS_CERT]
  --tls-key FILE            the PEM private key of --tls-cert
                            [env SIOBRIDGE_TLS_KEY]
  --trust-proxy CIDR        take the client address from X-Forwarded-For /
                            Forwarded when the peer is in CIDR (10.0.0.0/8, an
                            address, or loopback, linklocal, uniquelocal);
                            repeatable [env SIOBRIDGE_TRUST_PROXY, comma-separated]
  --allow-eio3              also serve socket.io 2.x clients (Engine.IO v3,
                            Socket.IO protocol v4), as Node's allowEIO3
                            (default: off) [env SIOBRIDGE_ALLOW_EIO3=1]
  --state-recovery SECONDS  connection state recovery, as Node's
                            connectionStateRecovery: a client that loses its
                            connection for up to SECONDS (Node: 120) comes back
                            with its id, rooms and missed events (default: off)
                            [env SIOBRIDGE_STATE_RECOVERY]
  --redis URL               join a cluster on Redis (redis://[:PASSWORD@]HOST[:PORT][/DB]):
                            broadcasts reach the clients of every node, siobridge
                            or Node's @socket.io/redis-adapter 8.3 (default: one
                            process) [env SIOBRIDGE_REDIS]
  --redis-prefix PREFIX     the cluster's channel prefix, Node's `key`
                            (default socket.io) [env SIOBRIDGE_REDIS_PREFIX]
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

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Serve, with these options.
    Serve(Box<Options>),
    /// `-h`, `--help`: print [`USAGE`] and exit with status 0.
    Help,
    /// `siobridge conform URL...`: run the conformance checks
    /// ([`crate::conform::main`]) with the arguments after `conform`.
    Conform(Vec<String>),
}

/// The command line, after defaults and environment variables. `Debug`
/// shows neither the API token nor the admin password.
pub struct Options {
    /// `--listen` (default `127.0.0.1:3000`).
    pub listen: SocketAddr,
    /// `--profile NS=PROFILE`, in order; namespaces are distinct.
    pub profiles: Vec<(String, Profile)>,
    /// `--api-token`.
    pub api_token: Option<String>,
    /// `--cors-origin`; empty: any origin.
    pub cors_origins: Vec<String>,
    /// The abuse limits.
    pub limits: Limits,
    /// `--admin` and `--admin-ui-dir`.
    pub admin: Option<Admin>,
    /// `--tls-cert` and `--tls-key`: (certificate, key) PEM files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `--trust-proxy`.
    pub trust_proxy: TrustProxy,
    /// `--log-format`.
    pub log_format: Format,
    /// `SIOBRIDGE_LOG`.
    pub log_level: Level,
    /// `--parser`.
    pub parser: socketio::Parser,
    /// `--allow-eio3`: serve Engine.IO v3 clients too.
    pub allow_eio3: bool,
    /// `--state-recovery SECONDS`: connection state recovery's window.
    pub state_recovery: Option<std::time::Duration>,
    /// `--redis URL` and `--redis-prefix`: the Redis cluster to join.
    pub redis: Option<RedisConfig>,
}

/// `json` or `msgpack`.
fn parse_parser(value: &str) -> Result<socketio::Parser, Refusal> {
    match value {
        "json" => Ok(socketio::Parser::Json),
        "msgpack" => Ok(socketio::Parser::Msgpack),
        _ => Err(format!("--parser {value:?}: expected json or msgpack")),
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("listen", &self.listen)
            .field("profiles", &self.profiles)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("cors_origins", &self.cors_origins)
            .field("limits", &self.limits)
            .field("admin", &self.admin)
            .field("tls", &self.tls)
            .field("trust_proxy", &self.trust_proxy)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("parser", &self.parser)
            .field("allow_eio3", &self.allow_eio3)
            .field("state_recovery", &self.state_recovery)
            // The URL may hold a password.
            .field("redis_prefix", &self.redis.as_ref().map(|r| &r.prefix))
            .finish()
    }
}

/// `--admin USER:PASSWORD` and where the UI's files are.
#[derive(Clone, PartialEq)]
pub struct Admin {
    /// The login.
    pub username: String,
    /// The password (never shown by `Debug`).
    pub password: String,
    /// `--admin-ui-dir`, when given (then it must hold the UI).
    pub ui_dir: Option<String>,
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
pub const DEFAULT_ADMIN_UI_DIR: &str = "admin-ui/node_modules/@socket.io/admin-ui/ui/dist";

/// The abuse limits the library leaves off (or at a default) and the command
/// line sets; docs/limits.md says what each stops.
#[derive(Debug, Default, PartialEq)]
pub struct Limits {
    /// `--max-sessions` ([`ServerConfig::max_sessions`]).
    pub max_sessions: Option<usize>,
    /// `--max-sessions-per-ip` ([`ServerConfig::max_sessions_per_ip`]).
    pub max_sessions_per_ip: Option<usize>,
    /// `--max-connections-per-ip`
    /// ([`ServerConfig::max_connections_per_ip`]).
    pub max_connections_per_ip: Option<usize>,
    /// `--event-rate`: (per second, burst)
    /// ([`socketio::Config::with_event_rate_limit`]).
    pub event_rate: Option<(u32, u32)>,
    /// `--max-poll-packets` ([`crate::engineio::Config::max_poll_packets`]).
    pub max_poll_packets: Option<usize>,
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
pub type Refusal = String;

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

/// Parses the command line (without the program name) with the process's
/// environment variables.
pub fn from_env(args: impl IntoIterator<Item = String>) -> Result<Command, Refusal> {
    parse(args, |name| std::env::var(name).ok())
}

/// Parses the command line `args` (without the program name), with `env`
/// looking up environment variables: [`USAGE`] lists both. An empty
/// variable counts as unset; the command line wins over the environment.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, Refusal> {
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("conform") {
        return Ok(Command::Conform(args.skip(1).collect()));
    }
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let log_level = Level::from_name(env("SIOBRIDGE_LOG").as_deref());
    let mut listen = env("SIOBRIDGE_LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into());
    let mut profiles: Vec<String> = env("SIOBRIDGE_PROFILES")
        .map(|v| list(&v).collect())
        .unwrap_or_default();
    let mut api_token = env("SIOBRIDGE_API_TOKEN");
    let mut admin = env("SIOBRIDGE_ADMIN");
    let mut admin_ui_dir = env("SIOBRIDGE_ADMIN_UI_DIR");
    let mut parser = env("SIOBRIDGE_PARSER");
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
    let mut allow_eio3 = match env("SIOBRIDGE_ALLOW_EIO3").as_deref() {
        None | Some("0" | "false") => false,
        Some("1" | "true") => true,
        Some(other) => return Err(format!("SIOBRIDGE_ALLOW_EIO3 {other:?}: expected 1 or 0")),
    };
    let mut state_recovery = env("SIOBRIDGE_STATE_RECOVERY");
    let mut redis_url = env("SIOBRIDGE_REDIS").filter(|u| !u.is_empty());
    let mut redis_prefix = env("SIOBRIDGE_REDIS_PREFIX").filter(|p| !p.is_empty());
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
            "--max-sessions" => limit_values.push(("--max-sessions", value()?)),
            "--max-sessions-per-ip" => limit_values.push(("--max-sessions-per-ip", value()?)),
            "--max-connections-per-ip" => limit_values.push(("--max-connections-per-ip", value()?)),
            "--event-rate" => limit_values.push(("--event-rate", value()?)),
            "--tls-cert" => tls_cert = Some(value()?),
            "--tls-key" => tls_key = Some(value()?),
            "--trust-proxy" => cli_trust_proxy.push(value()?),
            "--log-format" => log_format = value()?,
            "--allow-eio3" if inline.is_none() => allow_eio3 = true,
            "--state-recovery" => state_recovery = Some(value()?),
            "--redis" => redis_url = Some(value()?),
            "--redis-prefix" => redis_prefix = Some(value()?),
            "--max-poll-packets" => limit_values.push(("--max-poll-packets", value()?)),
            "-h" | "--help" => return Ok(Command::Help),
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
    let state_recovery = match state_recovery {
        None => None,
        Some(value) => match value.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds < 1e9 => {
                Some(std::time::Duration::from_secs_f64(seconds))
            }
            _ => {
                return Err(format!(
                    "--state-recovery {value:?}: expected the window in seconds, above 0 (Node's default is 120)"
                ));
            }
        },
    };
    let redis = match (redis_url, redis_prefix) {
        (None, Some(_)) => return Err("--redis-prefix needs --redis URL".into()),
        (None, None) => None,
        (Some(url), prefix) => {
            let mut config = RedisConfig::new(url);
            if let Some(prefix) = prefix {
                config = config.with_prefix(prefix);
            }
            config.validate().map_err(|e| format!("--redis: {e}"))?;
            Some(config)
        }
    };
    let options = Options {
        redis,
        state_recovery,
        listen,
        profiles: mounted,
        api_token,
        cors_origins,
        limits,
        admin,
        parser,
        tls,
        trust_proxy: TrustProxy::new(ranges),
        log_format,
        log_level,
        allow_eio3,
    };
    check_safety(&options)?;
    Ok(Command::Serve(Box::new(options)))
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

impl Options {
    /// The Socket.IO settings: `--parser`, `--state-recovery` and `--event-rate`.
    pub fn socketio_config(&self) -> socketio::Config {
        let mut config = socketio::Config::default().with_parser(self.parser);
        if let Some(window) = self.state_recovery {
            config = config.with_state_recovery(socketio::RecoveryConfig::with_window(window));
        }
        if let Some((per_second, burst)) = self.limits.event_rate {
            config = config.with_event_rate_limit(per_second, burst);
        }
        config
    }

    /// The server settings: Socket.IO's path, `--cors-origin`, the caps,
    /// `--trust-proxy`, `--max-poll-packets`, and the requests kept for the
    /// admin UI. TLS is added by the caller, once the files are read.
    pub fn server_config(&self) -> ServerConfig {
        let cors = if self.cors_origins.is_empty() {
            Cors::AnyOrigin
        } else {
            Cors::Origins(self.cors_origins.clone())
        };
        let mut config = ServerConfig::default()
            .with_path("/socket.io/")
            .with_cors(cors);
        if let Some(max) = self.limits.max_sessions {
            config.max_sessions = max;
        }
        config.max_sessions_per_ip = self.limits.max_sessions_per_ip;
        config.max_connections_per_ip = self.limits.max_connections_per_ip;
        config.trust_proxy = self.trust_proxy.clone();
        config.engine.max_poll_packets = self.limits.max_poll_packets;
        config.engine.allow_eio3 = self.allow_eio3;
        // The admin UI shows each socket's request.
        config.keep_requests = self.admin.is_some();
        config
    }

    /// The log: `SIOBRIDGE_LOG` and `--log-format`.
    pub fn log(&self) -> Log {
        Log::new(self.log_level, self.log_format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `args` with `vars` as the whole environment.
    fn parse_with(args: &[&str], vars: &[(&str, &str)]) -> Result<Options, Refusal> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        match super::parse(args.iter().map(|s| s.to_string()), env)? {
            Command::Serve(options) => Ok(*options),
            other => panic!("{args:?} is not a serve command: {other:?}"),
        }
    }

    fn parse(args: &[&str]) -> Result<Options, Refusal> {
        parse_with(args, &[])
    }

    fn refusal(args: &[&str]) -> Refusal {
        parse(args).expect_err("refused")
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
    fn debug_hides_secrets() {
        let options = parse(&["--api-token", "tok-123", "--admin", "ops:pw-456"]).unwrap();
        let shown = format!("{options:?}");
        assert!(
            !shown.contains("tok-123") && !shown.contains("pw-456"),
            "{shown}"
        );
        assert!(
            shown.contains("<redacted>") && shown.contains("ops"),
            "{shown}"
        );
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
        assert!(
            parse_with(&[], &[("SIOBRIDGE_ALLOW_EIO3", "1")])
                .unwrap()
                .allow_eio3
        );
        assert!(parse_with(&[], &[("SIOBRIDGE_ALLOW_EIO3", "yes")]).is_err());
    }

    #[test]
    fn redis() {
        assert_eq!(parse(&[]).unwrap().redis, None);
        let redis = parse(&["--redis", "redis://127.0.0.1:6380"])
            .unwrap()
            .redis
            .unwrap();
        assert_eq!(
            (redis.url.as_str(), redis.prefix.as_str()),
            ("redis://127.0.0.1:6380", "socket.io")
        );
        let redis = parse_with(
            &["--redis-prefix", "app"],
            &[("SIOBRIDGE_REDIS", "redis://h")],
        )
        .unwrap()
        .redis
        .unwrap();
        assert_eq!(
            (redis.url.as_str(), redis.prefix.as_str()),
            ("redis://h", "app")
        );
        assert!(parse(&["--redis", "http://h"]).is_err());
        assert!(parse(&["--redis-prefix", "app"]).is_err());
        let shown = format!("{:?}", parse(&["--redis", "redis://:secret@h"]).unwrap());
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn state_recovery() {
        use std::time::Duration;
        assert_eq!(parse(&[]).unwrap().state_recovery, None);
        let options = parse(&["--state-recovery", "120"]).unwrap();
        assert_eq!(options.state_recovery, Some(Duration::from_secs(120)));
        let recovery = options.socketio_config().state_recovery.unwrap();
        assert_eq!(
            recovery.max_disconnection_duration,
            Duration::from_secs(120)
        );
        assert!(recovery.skip_middlewares);
        assert_eq!(
            parse_with(&[], &[("SIOBRIDGE_STATE_RECOVERY", "1.5")])
                .unwrap()
                .state_recovery,
            Some(Duration::from_millis(1500))
        );
        for bad in ["0", "-1", "soon", "inf"] {
            assert!(parse(&["--state-recovery", bad]).is_err(), "{bad}");
        }
        assert!(
            parse(&[])
                .unwrap()
                .socketio_config()
                .state_recovery
                .is_none()
        );
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

    #[test]
    fn help_and_conform() {
        let command = |args: &[&str]| super::parse(args.iter().map(|s| s.to_string()), |_| None);
        assert!(matches!(command(&["--help"]), Ok(Command::Help)));
        assert!(matches!(
            command(&["--listen", "127.0.0.1:1", "-h"]),
            Ok(Command::Help)
        ));
        // Help stops the parse: what follows it is not read.
        assert!(matches!(command(&["-h", "--nope"]), Ok(Command::Help)));
        match command(&["conform", "http://127.0.0.1:1", "--eio"]) {
            Ok(Command::Conform(rest)) => assert_eq!(rest, ["http://127.0.0.1:1", "--eio"]),
            other => panic!("{other:?}"),
        }
        // `conform` is a command only in first place.
        assert!(command(&["--listen", "127.0.0.1:1", "conform"]).is_err());
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert_eq!(refusal(&["--nope"]), "unknown argument \"--nope\"");
        assert_eq!(refusal(&["--listen"]), "--listen needs a value");
        assert_eq!(
            refusal(&["--listen", "localhost"]),
            "--listen \"localhost\": not an address like 127.0.0.1:3000"
        );
        assert_eq!(
            refusal(&["--profile", "chat"]),
            "--profile \"chat\": expected NAMESPACE=PROFILE, e.g. /=digital-auto"
        );
        assert_eq!(
            refusal(&["--profile", "nsp=chat"]),
            "--profile \"nsp=chat\": the namespace must start with '/' and contain no ','"
        );
        assert_eq!(
            refusal(&["--profile", "/=chat", "--profile", "/=hubtel"]),
            "--profile: namespace / is mounted twice"
        );
        assert_eq!(
            refusal(&["--event-rate", "0/5"]),
            "--event-rate \"0/5\": both numbers must be above 0"
        );
        assert_eq!(
            refusal(&["--max-sessions=many"]),
            "--max-sessions \"many\": expected a whole number"
        );
        assert_eq!(
            refusal(&["--max-poll-packets", "0"]),
            "--max-poll-packets \"0\": at least 1"
        );
        assert_eq!(
            refusal(&["--parser", "cbor"]),
            "--parser \"cbor\": expected json or msgpack"
        );
        assert_eq!(
            refusal(&["--log-format", "xml"]),
            "--log-format \"xml\": expected text or json"
        );
        assert_eq!(
            refusal(&["--tls-cert", "c.pem"]),
            "--tls-cert needs --tls-key (the certificate's private key)"
        );
        assert_eq!(
            refusal(&["--tls-key", "k.pem"]),
            "--tls-key needs --tls-cert (the certificate it goes with)"
        );
        assert_eq!(
            refusal(&["--admin-ui-dir", "ui"]),
            "--admin-ui-dir needs --admin USER:PASSWORD"
        );
        assert_eq!(
            refusal(&["--admin", "user:"]),
            "--admin: expected USER:PASSWORD, both non-empty"
        );
        assert_eq!(
            refusal(&["--admin", "a:b", "--profile", "/admin=chat"]),
            "--admin serves namespace /admin: it cannot also have a --profile"
        );
        let unsafe_api = refusal(&["--listen", "0.0.0.0:0", "--profile", "/d=directual"]);
        assert!(
            unsafe_api.starts_with("refusing to serve the directual HTTP API on 0.0.0.0:0"),
            "{unsafe_api}"
        );
        assert!(refusal(&["--trust-proxy", "10.0.0.0/40"]).starts_with("--trust-proxy "));
    }

    #[test]
    fn environment_variables() {
        let options = parse_with(
            &[],
            &[
                ("SIOBRIDGE_LISTEN", "127.0.0.1:4000"),
                ("SIOBRIDGE_PROFILES", "/=hubtel, /chat=chat"),
                ("SIOBRIDGE_API_TOKEN", "secret"),
                (
                    "SIOBRIDGE_CORS_ORIGINS",
                    "https://a.example,https://b.example",
                ),
                ("SIOBRIDGE_MAX_SESSIONS", "10"),
                ("SIOBRIDGE_EVENT_RATE", "5"),
                ("SIOBRIDGE_PARSER", "msgpack"),
                ("SIOBRIDGE_TRUST_PROXY", "loopback"),
                ("SIOBRIDGE_LOG_FORMAT", "json"),
                ("SIOBRIDGE_LOG", "debug"),
                ("SIOBRIDGE_ADMIN", "ops:pw"),
                ("SIOBRIDGE_ADMIN_UI_DIR", "ui"),
            ],
        )
        .unwrap();
        assert_eq!(options.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(
            options.profiles,
            [
                ("/".to_owned(), Profile::Hubtel),
                ("/chat".to_owned(), Profile::Chat)
            ]
        );
        assert_eq!(options.api_token.as_deref(), Some("secret"));
        assert_eq!(
            options.cors_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(options.limits.max_sessions, Some(10));
        assert_eq!(options.limits.event_rate, Some((5, 5)));
        assert_eq!(options.parser, socketio::Parser::Msgpack);
        assert!(options.trust_proxy.trusts("127.0.0.1".parse().unwrap()));
        assert_eq!(options.log_format, Format::Json);
        assert_eq!(options.log_level, Level::Debug);
        assert_eq!(options.admin.unwrap().ui_dir.as_deref(), Some("ui"));
        assert_eq!(parse(&[]).unwrap().log_level, Level::Info);
    }

    #[test]
    fn the_command_line_wins_over_the_environment() {
        let vars = [
            ("SIOBRIDGE_LISTEN", "127.0.0.1:4000"),
            ("SIOBRIDGE_PROFILES", "/=hubtel"),
            ("SIOBRIDGE_CORS_ORIGINS", "https://env.example"),
            ("SIOBRIDGE_MAX_SESSIONS", "10"),
            ("SIOBRIDGE_API_TOKEN", "env"),
        ];
        let options = parse_with(
            &[
                "--listen=127.0.0.1:5000",
                "--profile",
                "/x=chat",
                "--cors-origin",
                "https://cli.example",
                "--max-sessions",
                "20",
                "--api-token",
                "",
            ],
            &vars,
        )
        .unwrap();
        assert_eq!(options.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(options.profiles, [("/x".to_owned(), Profile::Chat)]);
        assert_eq!(options.cors_origins, ["https://cli.example"]);
        assert_eq!(options.limits.max_sessions, Some(20));
        // An empty --api-token clears the environment's.
        assert_eq!(options.api_token, None);
        // An empty variable counts as unset.
        let options = parse_with(&[], &[("SIOBRIDGE_LISTEN", "")]).unwrap();
        assert_eq!(options.listen.to_string(), "127.0.0.1:3000");
        // A bad variable is refused like the flag it stands for.
        assert_eq!(
            parse_with(&[], &[("SIOBRIDGE_MAX_SESSIONS_PER_IP", "x")]).unwrap_err(),
            "--max-sessions-per-ip \"x\": expected a whole number"
        );
    }

    #[test]
    fn configs_carry_the_options() {
        let options = parse(&[
            "--cors-origin",
            "https://a.example",
            "--max-sessions",
            "7",
            "--max-sessions-per-ip",
            "3",
            "--max-poll-packets",
            "16",
            "--admin",
            "a:b",
        ])
        .unwrap();
        let config = options.server_config();
        assert_eq!(config.max_sessions, 7);
        assert_eq!(config.max_sessions_per_ip, Some(3));
        assert_eq!(config.engine.max_poll_packets, Some(16));
        assert!(config.keep_requests);
        assert!(matches!(&config.cors, Cors::Origins(o) if o == &["https://a.example"]));
        assert!(matches!(
            parse(&[]).unwrap().server_config().cors,
            Cors::AnyOrigin
        ));
        assert!(!parse(&[]).unwrap().server_config().keep_requests);
        assert_eq!(
            parse(&[]).unwrap().server_config().max_sessions,
            ServerConfig::default().max_sessions
        );
    }

    #[test]
    fn usage_names_every_flag() {
        for flag in [
            "--listen",
            "--profile",
            "--api-token",
            "--cors-origin",
            "--max-sessions ",
            "--max-sessions-per-ip",
            "--max-connections-per-ip",
            "--event-rate",
            "--parser",
            "--tls-cert",
            "--tls-key",
            "--trust-proxy",
            "--log-format",
            "--max-poll-packets",
            "--admin ",
            "--admin-ui-dir",
            "--help",
            "SIOBRIDGE_LOG",
        ] {
            assert!(USAGE.contains(flag), "{flag}");
        }
    }
}
