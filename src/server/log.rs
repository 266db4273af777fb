//! The server's log: one line per event on stderr, as text
//! (`siobridge INFO message`) or as one JSON object per line, with the
//! event's named fields. [`Logged`] logs the Engine.IO sessions of any
//! [`Handler`] and [`log_sockets`] the Socket.IO sockets of a [`SocketIo`]
//! (docs/deploy.md shows the lines).
//!
//! The session lines name the Engine.IO protocol v4 close reasons
//! ("Heartbeat", "Upgrade" sections; [`CloseReason::as_str`]); the socket
//! lines name the Socket.IO disconnect reasons (the reference server's
//! `disconnect` reasons).

use super::{EngineSocket, Handler, rfc3339};
use crate::engineio::{CloseReason, Data, TransportKind};
use crate::socketio::{self, SocketIo};

/// How much is logged: a line is written when its level is at or above
/// (more severe than, or as severe as) the log's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The server cannot go on.
    Error,
    /// Something is wrong but the server goes on.
    Warn,
    /// Start-up and shut-down (the default).
    Info,
    /// Every session and socket opening and closing.
    Debug,
}

impl Level {
    /// The level named `name` (`error`, `warn`, `info`, `debug`; `trace`
    /// is `debug`), as `SIOBRIDGE_LOG` gives it; no name or another name is
    /// [`Level::Info`].
    pub fn from_name(name: Option<&str>) -> Level {
        match name {
            Some("error") => Level::Error,
            Some("warn") => Level::Warn,
            Some("debug" | "trace") => Level::Debug,
            _ => Level::Info,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// How log lines look (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `siobridge LEVEL message`.
    Text,
    /// One JSON object per line: `time`, `level`, `event`, the event's
    /// fields (`sid`, `socket`, `namespace`, `address`, `reason`, ...) and
    /// `message`, the text line's words.
    Json,
}

/// The named values of a log line (`address`, `reason`, ...).
pub type Fields = Vec<(&'static str, String)>;

/// Writes one line to stderr for each event at or above its level.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    level: Level,
    format: Format,
}

impl Log {
    /// A log of events at `level` and above, written as `format`.
    pub fn new(level: Level, format: Format) -> Log {
        Log { level, format }
    }

    /// Whether lines at `level` are written.
    pub fn enabled(self, level: Level) -> bool {
        level <= self.level
    }

    /// A line with no fields, under event `event`.
    pub fn at(self, level: Level, event: &str, message: impl FnOnce() -> String) {
        self.event(level, event, || (message(), Vec::new()));
    }

    /// A line for `event`: `line` gives its text and its fields, and is
    /// only called when `level` is enabled.
    pub fn event(self, level: Level, event: &str, line: impl FnOnce() -> (String, Fields)) {
        if !self.enabled(level) {
            return;
        }
        let (message, fields) = line();
        let time = match self.format {
            Format::Text => String::new(),
            Format::Json => rfc3339::now(),
        };
        eprintln!("{}", self.render(level, event, &time, message, fields));
    }

    /// The line for an event at `time` (RFC 3339; only JSON lines show it).
    fn render(
        self,
        level: Level,
        event: &str,
        time: &str,
        message: String,
        fields: Fields,
    ) -> String {
        match self.format {
            Format::Text => format!("siobridge {} {message}", level.tag()),
            Format::Json => {
                let mut object = serde_json::Map::new();
                object.insert("time".into(), time.into());
                object.insert("level".into(), level.name().into());
                object.insert("event".into(), event.into());
                for (name, value) in fields {
                    object.insert(name.into(), value.into());
                }
                object.insert("message".into(), message.into());
                serde_json::Value::Object(object).to_string()
            }
        }
    }
}

/// A [`Handler`] that logs each session's open, upgrade and close at
/// [`Level::Debug`] (events `session_open`, `session_upgrade`,
/// `session_close`), then hands the call to the inner handler.
#[derive(Debug)]
pub struct Logged<H> {
    inner: H,
    log: Log,
}

impl<H: Handler> Logged<H> {
    /// Logs the sessions of `inner` to `log`.
    pub fn new(inner: H, log: Log) -> Logged<H> {
        Logged { inner, log }
    }
}

/// The fields of a session's log lines.
fn session_fields(socket: &EngineSocket) -> Fields {
    vec![
        ("sid", socket.sid().as_str().to_owned()),
        ("address", socket.address().to_string()),
    ]
}

impl<H: Handler> Handler for Logged<H> {
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
        self.inner.on_open(socket);
    }

    fn on_message(&self, socket: &EngineSocket, data: Data) {
        self.inner.on_message(socket, data);
    }

    fn on_messages(&self, socket: &EngineSocket, messages: &mut dyn Iterator<Item = Data>) {
        self.inner.on_messages(socket, messages);
    }

    fn on_flush(&self, socket: &EngineSocket) {
        self.inner.on_flush(socket);
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
/// at [`Level::Debug`] (events `connect` and `disconnect`).
pub fn log_sockets(io: &SocketIo, log: Log) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_names() {
        assert_eq!(Level::from_name(None), Level::Info);
        assert_eq!(Level::from_name(Some("error")), Level::Error);
        assert_eq!(Level::from_name(Some("warn")), Level::Warn);
        assert_eq!(Level::from_name(Some("trace")), Level::Debug);
        assert_eq!(Level::from_name(Some("loud")), Level::Info);
        let log = Log::new(Level::Warn, Format::Text);
        assert!(log.enabled(Level::Error) && log.enabled(Level::Warn));
        assert!(!log.enabled(Level::Info));
    }

    #[test]
    fn text_lines() {
        let log = Log::new(Level::Info, Format::Text);
        let line = log.render(
            Level::Warn,
            "x",
            "",
            "hello".into(),
            vec![("a", "b".into())],
        );
        assert_eq!(line, "siobridge WARN hello");
    }

    #[test]
    fn json_lines_carry_time_level_event_fields_and_message() {
        let log = Log::new(Level::Info, Format::Json);
        let line = log.render(
            Level::Info,
            "session_close",
            "2026-01-31T12:00:00.123Z",
            "session s closed: ping timeout".into(),
            vec![("sid", "s".into()), ("reason", "ping timeout".into())],
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "time": "2026-01-31T12:00:00.123Z",
                "level": "info",
                "event": "session_close",
                "sid": "s",
                "reason": "ping timeout",
                "message": "session s closed: ping timeout",
            })
        );
    }
}
