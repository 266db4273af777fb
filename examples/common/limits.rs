//! Limits the example servers take from the environment, so that tests can
//! start them with caps that the library leaves off by default (or with
//! timeouts short enough to observe). Unset variables keep the defaults; a
//! value that does not parse stops the server with an error.
//!
//! | variable | setting |
//! | --- | --- |
//! | `SIOBRIDGE_MAX_SESSIONS` | `ServerConfig::max_sessions` |
//! | `SIOBRIDGE_MAX_SESSIONS_PER_IP` | `ServerConfig::max_sessions_per_ip` |
//! | `SIOBRIDGE_MAX_CONNECTIONS_PER_IP` | `ServerConfig::max_connections_per_ip` |
//! | `SIOBRIDGE_HEADER_READ_TIMEOUT_MS` | `ServerConfig::header_read_timeout` |
//! | `SIOBRIDGE_BODY_READ_TIMEOUT_MS` | `ServerConfig::body_read_timeout` |
//! | `SIOBRIDGE_WRITE_TIMEOUT_MS` | `ServerConfig::write_timeout` |
//! | `SIOBRIDGE_EVENT_RATE` | `socketio::Config::event_rate_limit`, as `PER_SECOND/BURST` |
//! | `SIOBRIDGE_PARSER` | `socketio::Config::parser`: `json` or `msgpack` |
//! | `SIOBRIDGE_STATE_RECOVERY` | `socketio::Config::state_recovery`: its window in seconds (decimals allowed) |
//! | `SIOBRIDGE_TLS_CERT`, `SIOBRIDGE_TLS_KEY` | `ServerConfig::tls`, from these PEM files |
//! | `SIOBRIDGE_TLS_HANDSHAKE_TIMEOUT_MS` | `ServerConfig::tls_handshake_timeout` |
//! | `SIOBRIDGE_TRUST_PROXY` | `ServerConfig::trust_proxy`, comma-separated ranges |
//! | `SIOBRIDGE_STALL_TIMEOUT_MS` | `engineio::Config::stall_timeout` |
//! | `SIOBRIDGE_MAX_BUFFERED_BYTES` | `engineio::Config::max_buffered_bytes` |
//! | `SIOBRIDGE_MAX_POLL_PACKETS` | `engineio::Config::max_poll_packets` |
//! | `SIOBRIDGE_ALLOW_EIO3` | `engineio::Config::allow_eio3`: `1` serves socket.io 2.x clients |
//! | `TESTAPP_PING_INTERVAL_MS`, `TESTAPP_PING_TIMEOUT_MS` | `engineio::Config::ping_interval`, `ping_timeout` |
//! | `SIOBRIDGE_REDIS`, `SIOBRIDGE_REDIS_PREFIX` | a Redis cluster (`server::redis::RedisConfig`): its URL and key prefix |

use std::io::{Error, ErrorKind};
use std::str::FromStr;
use std::time::Duration;

use siobridge::engineio;
use siobridge::server::redis::{RedisCluster, RedisConfig};
use siobridge::server::{ServerConfig, Tls, TrustProxy};
use siobridge::socketio;

fn var<T: FromStr>(name: &str) -> std::io::Result<Option<T>> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(value) => value.parse().map(Some).map_err(|_| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{name}: cannot parse {value:?}"),
            )
        }),
    }
}

fn millis(name: &str) -> std::io::Result<Option<Duration>> {
    Ok(var::<u64>(name)?.map(Duration::from_millis))
}

/// The HTTP server's limits, from the environment.
pub fn server_limits(mut config: ServerConfig) -> std::io::Result<ServerConfig> {
    if let Some(max) = var("SIOBRIDGE_MAX_SESSIONS")? {
        config.max_sessions = max;
    }
    if let Some(max) = var("SIOBRIDGE_MAX_SESSIONS_PER_IP")? {
        config.max_sessions_per_ip = Some(max);
    }
    if let Some(max) = var("SIOBRIDGE_MAX_CONNECTIONS_PER_IP")? {
        config.max_connections_per_ip = Some(max);
    }
    if let Some(timeout) = millis("SIOBRIDGE_HEADER_READ_TIMEOUT_MS")? {
        config.header_read_timeout = timeout;
    }
    if let Some(timeout) = millis("SIOBRIDGE_BODY_READ_TIMEOUT_MS")? {
        config.body_read_timeout = timeout;
    }
    if let Some(timeout) = millis("SIOBRIDGE_WRITE_TIMEOUT_MS")? {
        config.write_timeout = timeout;
    }
    if let Some(timeout) = millis("SIOBRIDGE_TLS_HANDSHAKE_TIMEOUT_MS")? {
        config.tls_handshake_timeout = timeout;
    }
    let invalid = |e: String| Error::new(ErrorKind::InvalidInput, e);
    match (
        var::<String>("SIOBRIDGE_TLS_CERT")?,
        var::<String>("SIOBRIDGE_TLS_KEY")?,
    ) {
        (None, None) => {}
        (Some(cert), Some(key)) => {
            let tls = Tls::from_pem_files(cert.as_ref(), key.as_ref())
                .map_err(|e| invalid(e.to_string()))?;
            config = config.with_tls(tls);
        }
        _ => {
            return Err(invalid(
                "SIOBRIDGE_TLS_CERT and SIOBRIDGE_TLS_KEY go together".into(),
            ));
        }
    }
    if let Some(list) = var::<String>("SIOBRIDGE_TRUST_PROXY")? {
        let mut ranges = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            ranges.extend(
                TrustProxy::parse_item(item)
                    .map_err(|e| invalid(format!("SIOBRIDGE_TRUST_PROXY: {e}")))?,
            );
        }
        config = config.with_trust_proxy(TrustProxy::new(ranges));
    }
    Ok(config)
}

/// `SIOBRIDGE_ALLOW_EIO3=1`: serve Engine.IO v3 (socket.io 2.x) clients too.
#[allow(dead_code)] // not every example serves Engine.IO v3
pub fn allow_eio3() -> std::io::Result<bool> {
    Ok(var::<u8>("SIOBRIDGE_ALLOW_EIO3")? == Some(1))
}

/// The Engine.IO layer's limits and heartbeat, from the environment.
#[allow(dead_code)] // not every example has an Engine.IO config of its own
pub fn engine_limits(mut config: engineio::Config) -> std::io::Result<engineio::Config> {
    if let Some(timeout) = millis("SIOBRIDGE_STALL_TIMEOUT_MS")? {
        config.stall_timeout = timeout;
    }
    if let Some(max) = var("SIOBRIDGE_MAX_BUFFERED_BYTES")? {
        config.max_buffered_bytes = max;
    }
    if let Some(max) = var("SIOBRIDGE_MAX_POLL_PACKETS")? {
        config.max_poll_packets = Some(max);
    }
    config.allow_eio3 = allow_eio3()?;
    if let Some(interval) = millis("TESTAPP_PING_INTERVAL_MS")? {
        config.ping_interval = interval;
    }
    if let Some(timeout) = millis("TESTAPP_PING_TIMEOUT_MS")? {
        config.ping_timeout = timeout;
    }
    Ok(config)
}

/// The Socket.IO layer's limits and parser, from the environment.
pub fn socketio_limits(config: socketio::Config) -> std::io::Result<socketio::Config> {
    let config = match var::<String>("SIOBRIDGE_PARSER")?.as_deref() {
        None | Some("json") => config,
        Some("msgpack") => config.with_parser(socketio::Parser::Msgpack),
        Some(other) => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("SIOBRIDGE_PARSER: expected json or msgpack, got {other:?}"),
            ));
        }
    };
    let config = match var::<f64>("SIOBRIDGE_STATE_RECOVERY")? {
        None => config,
        Some(seconds) if seconds.is_finite() && seconds > 0.0 => config.with_state_recovery(
            socketio::RecoveryConfig::with_window(Duration::from_secs_f64(seconds)),
        ),
        Some(other) => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("SIOBRIDGE_STATE_RECOVERY: expected seconds above 0, got {other}"),
            ));
        }
    };
    let Some(rate) = var::<String>("SIOBRIDGE_EVENT_RATE")? else {
        return Ok(config);
    };
    let parsed = rate
        .split_once('/')
        .and_then(|(per_second, burst)| Some((per_second.parse().ok()?, burst.parse().ok()?)));
    match parsed {
        Some((per_second, burst)) => Ok(config.with_event_rate_limit(per_second, burst)),
        None => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("SIOBRIDGE_EVENT_RATE: expected PER_SECOND/BURST, got {rate:?}"),
        )),
    }
}

/// The Socket.IO server of `config`: alone, or in the Redis cluster that
/// `SIOBRIDGE_REDIS` (a `redis://` URL) names, with key prefix
/// `SIOBRIDGE_REDIS_PREFIX` (default `socket.io`), with that cluster.
#[allow(dead_code)] // not every example joins a cluster
pub fn socket_io(
    config: socketio::Config,
) -> std::io::Result<(socketio::SocketIo, Option<RedisCluster>)> {
    let Some(url) = var::<String>("SIOBRIDGE_REDIS")? else {
        return Ok((siobridge::server::socket_io(config), None));
    };
    let mut redis = RedisConfig::new(url);
    if let Some(prefix) = var::<String>("SIOBRIDGE_REDIS_PREFIX")? {
        redis = redis.with_prefix(prefix);
    }
    let cluster = RedisCluster::start(redis)
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("SIOBRIDGE_REDIS: {e}")))?;
    Ok((cluster.socket_io(config), Some(cluster)))
}
