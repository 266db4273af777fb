//! The server side of the official Socket.IO Admin UI
//! (`@socket.io/admin-ui` 0.5, <https://socket.io/docs/v4/admin-ui/>): the
//! `/admin` namespace protocol its page speaks, written from the package's
//! `instrument()` (`lib/index.ts`, `lib/typed-events.ts`), and the page's
//! static files.
//!
//! [`instrument`] adds to a [`SocketIo`]:
//!
//! - namespace `/admin`, whose middleware checks the UI's `basic` auth: the
//!   CONNECT payload `{username, password}` against [`AdminConfig`]'s (in
//!   constant time; the reference compares a bcrypt hash), or a `sessionId`
//!   it handed out before. A refusal is CONNECT_ERROR `invalid credentials`,
//!   the message the UI recognises.
//! - on connect: `session` (a new session id, after a login by password),
//!   `config` (`supportedFeatures`), `all_sockets` (every socket of every
//!   namespace, serialized as the reference's `serialize()`).
//! - `server_stats` every [`AdminConfig::stats_interval`] (2 s, the
//!   reference's): `serverId`, `hostname`, `pid`, `uptime`, `clientsCount`,
//!   `pollingClientsCount`, `aggregatedEvents`, `namespaces`.
//! - `socket_connected`, `socket_disconnected`, `room_joined`, `room_left`,
//!   and `socket_updated` with the new transport after an upgrade, as they
//!   happen, told by the server's observer
//!   ([`SocketIo::set_observer`]), for every namespace, `/admin` included.
//! - the UI's actions: `join` and `leave` (namespace, room, optional filter:
//!   a room or socket id), `_disconnect` (namespace, close, optional
//!   filter), `emit` (namespace, filter, event, arguments).
//!
//! - `event_received` and `event_sent` (the UI's event log), while at least
//!   one admin is connected: every event a socket sends, and every event
//!   emitted to one socket (`socket.emit`; broadcasts are not, as the
//!   reference's `onAnyOutgoing`), except on `/admin` itself. Each costs a
//!   message to every admin.
//!
//! Not sent: `socket_updated` for changes of `socket.data` (siobridge's
//! socket data is typed Rust values, shown as `{}`).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::server::HttpResponse;
use crate::socketio::{
    Args, ConnectError, Handshake, Operators, Socket, SocketEvent, SocketInfo, SocketIo,
};

/// Settings of the admin namespace.
///
/// # Defaults
/// Namespace `/admin`, server stats every 2 s (the reference's fixed
/// interval), server id the host name (the reference's `serverId` default),
/// at most 1,000 remembered login sessions (the reference's in-memory store
/// keeps every one forever), at most 5,000 sockets in `all_sockets` (the
/// reference lists every one).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AdminConfig {
    /// The namespace the UI connects to. Default `/admin`.
    pub namespace: String,
    /// The user name the UI must send.
    pub username: String,
    /// The password the UI must send (compared in constant time).
    pub password: String,
    /// `serverId` in the stats. Default: the host name.
    pub server_id: Option<String>,
    /// How often `server_stats` goes to the connected admins. Default 2 s.
    pub stats_interval: Duration,
    /// Session ids remembered for the UI's reconnections (`sessionId` in
    /// its CONNECT payload); the oldest is forgotten beyond this. Default
    /// 1,000. Bounds the memory an admin who logs in over and over can take.
    pub max_sessions: usize,
    /// Namespaces listed in the stats even when they have no socket (the
    /// reference lists every namespace created).
    pub namespaces: Vec<String>,
    /// Sockets listed in `all_sockets` at most (the first by namespace and
    /// id). Default 5,000. A socket takes about 1 KB there (its request
    /// headers): the whole list of a busy server would be more than an
    /// admin's connection may hold waiting (`max_buffered_bytes`, 10 MB),
    /// and the admin would be dropped as a slow consumer. Sockets that
    /// connect later are all shown; the stats count every socket.
    pub max_listed_sockets: usize,
}

impl AdminConfig {
    /// The admin namespace with these credentials and the defaults.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> AdminConfig {
        AdminConfig {
            namespace: "/admin".into(),
            username: username.into(),
            password: password.into(),
            server_id: None,
            stats_interval: Duration::from_secs(2),
            max_sessions: 1000,
            namespaces: Vec::new(),
            max_listed_sockets: 5000,
        }
    }
}

/// Engine.IO figures for `server_stats`, read at each interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Open Engine.IO sessions (`clientsCount`).
    pub clients: usize,
    /// Those on HTTP long-polling (`pollingClientsCount`).
    pub polling_clients: usize,
    /// Engine.IO messages received since start.
    pub packets_in: u64,
    /// Engine.IO messages sent since start.
    pub packets_out: u64,
    /// Their bytes, received.
    pub bytes_in: u64,
    /// Their bytes, sent.
    pub bytes_out: u64,
    /// Sessions opened since start.
    pub connections: u64,
    /// Sessions closed since start.
    pub disconnections: u64,
}

/// The features the UI enables: every action, the aggregated charts and
/// the socket list ("development mode" in the reference).
const FEATURES: [&str; 9] = [
    "EMIT",
    "JOIN",
    "LEAVE",
    "DISCONNECT",
    "MJOIN",
    "MLEAVE",
    "MDISCONNECT",
    "AGGREGATED_EVENTS",
    "ALL_EVENTS",
];

/// Session ids handed to logged-in admins, oldest first.
#[derive(Debug, Default)]
struct Sessions {
    ids: VecDeque<String>,
}

/// Serves the admin UI's protocol on `io` (see the module documentation).
/// `engine` is read for the Engine.IO part of `server_stats`. Spawns the
/// stats task, which runs as long as the tokio runtime (call within one)
/// and keeps `io` alive. Sets `io`'s observer.
pub fn instrument(
    io: &SocketIo,
    config: AdminConfig,
    engine: impl Fn() -> EngineStats + Send + Sync + 'static,
) {
    let config = Arc::new(config);
    let sessions = Arc::new(Mutex::new(Sessions::default()));
    let admin = io.namespace(&config.namespace);
    // Connected admins: with none, changes are not serialized at all.
    let admins = Arc::new(AtomicUsize::new(0));
    // The handlers reach the server through their socket: a handler that
    // held a `SocketIo` would keep it alive forever.
    let count = admins.clone();
    admin.on_disconnect(move |socket, _| {
        if count.fetch_sub(1, Ordering::Relaxed) == 1 {
            socket.server().set_observe_events(false);
        }
    });

    let (cfg, known) = (config.clone(), sessions.clone());
    admin.use_middleware(move |hs| match login(&cfg, &known, hs) {
        Some(_) => Ok(()),
        None => Err(ConnectError::new("invalid credentials")),
    });

    let (cfg, known, count) = (config.clone(), sessions.clone(), admins.clone());
    admin.on_connect(move |socket| {
        let io = socket.server();
        if count.fetch_add(1, Ordering::Relaxed) == 0 {
            io.set_observe_events(true);
        }
        if login(&cfg, &known, socket.handshake()) == Some(Login::Password) {
            let id = new_session_id();
            let mut known = lock(&known);
            known.ids.push_back(id.clone());
            while known.ids.len() > cfg.max_sessions.max(1) {
                known.ids.pop_front();
            }
            drop(known);
            socket.emit("session", json!(id));
        }
        socket.emit("config", json!({ "supportedFeatures": FEATURES }));
        let sockets: Vec<Value> = io
            .socket_infos()
            .iter()
            .take(cfg.max_listed_sockets)
            .map(serialize)
            .collect();
        socket.emit("all_sockets", Value::Array(sockets));
    });

    admin.on("join", |socket, args, _| {
        if let (Some(ops), Some(room)) = (target(socket, &args, 0, 2), string(&args, 1)) {
            ops.join(room);
        }
    });
    admin.on("leave", |socket, args, _| {
        if let (Some(ops), Some(room)) = (target(socket, &args, 0, 2), string(&args, 1)) {
            ops.leave(room);
        }
    });
    admin.on("_disconnect", |socket, args, _| {
        let close = args
            .values()
            .get(1)
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(ops) = target(socket, &args, 0, 2) {
            ops.disconnect_sockets(close);
        }
    });
    admin.on("emit", |socket, args, _| {
        if let (Some(ops), Some(event)) = (target(socket, &args, 0, 1), string(&args, 2)) {
            let rest: Vec<Value> = args.values().iter().skip(3).cloned().collect();
            ops.emit(event, Args::from(rest));
        }
    });

    let name = config.namespace.clone();
    let count = admins.clone();
    io.set_observer(move |io, event| {
        if count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let admins = io.of(&name);
        let now = iso_time(SystemTime::now());
        match event {
            SocketEvent::Connected(info) => {
                admins.emit("socket_connected", vec![serialize(&info), json!(now)]);
            }
            SocketEvent::Disconnected {
                namespace,
                id,
                reason,
            } => {
                let args = vec![
                    json!(&*namespace),
                    json!(&*id),
                    json!(reason.as_str()),
                    json!(now),
                ];
                admins.emit("socket_disconnected", args);
            }
            SocketEvent::Joined {
                namespace,
                id,
                room,
            } => {
                let args = vec![json!(&*namespace), json!(room), json!(&*id), json!(now)];
                admins.emit("room_joined", args);
            }
            SocketEvent::Left {
                namespace,
                id,
                room,
            } => {
                let args = vec![json!(&*namespace), json!(room), json!(&*id), json!(now)];
                admins.emit("room_left", args);
            }
            SocketEvent::Upgraded {
                namespace,
                id,
                transport,
            } => {
                let update = json!({ "id": &*id, "nsp": &*namespace, "transport": transport });
                admins.emit("socket_updated", update);
            }
            // The admins' own traffic is not logged, as in the reference.
            SocketEvent::EventReceived { namespace, .. }
            | SocketEvent::EventSent { namespace, .. }
                if *namespace == *name => {}
            SocketEvent::EventReceived {
                namespace,
                id,
                args,
            } => {
                let args = vec![
                    json!(&*namespace),
                    json!(&*id),
                    Value::Array(args),
                    json!(now),
                ];
                admins.emit("event_received", args);
            }
            SocketEvent::EventSent {
                namespace,
                id,
                args,
            } => {
                let args = vec![
                    json!(&*namespace),
                    json!(&*id),
                    Value::Array(args),
                    json!(now),
                ];
                admins.emit("event_sent", args);
            }
        }
    });

    let io = io.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let hostname = hostname();
        let server_id = config.server_id.clone().unwrap_or_else(|| hostname.clone());
        let mut last = engine();
        let mut ticks = tokio::time::interval(config.stats_interval);
        loop {
            ticks.tick().await;
            let now = engine();
            let stats = server_stats(
                &io,
                &config,
                &server_id,
                &hostname,
                started.elapsed(),
                &now,
                &last,
            );
            last = now;
            if admins.load(Ordering::Relaxed) > 0 {
                io.of(&config.namespace).emit("server_stats", stats);
            }
        }
    });
}

#[derive(Debug, PartialEq, Eq)]
enum Login {
    Password,
    Session,
}

/// How the handshake logs in, if it does.
fn login(config: &AdminConfig, sessions: &Mutex<Sessions>, hs: &Handshake) -> Option<Login> {
    if let Some(id) = hs.auth["sessionId"].as_str()
        && lock(sessions).ids.iter().any(|known| same(known, id))
    {
        return Some(Login::Session);
    }
    let user = hs.auth["username"].as_str()?;
    let password = hs.auth["password"].as_str()?;
    // Both compared, whatever the first gives: no timing tells which failed.
    let user_ok = same(user, &config.username);
    let password_ok = same(password, &config.password);
    (user_ok & password_ok).then_some(Login::Password)
}

/// Compares two strings in time that depends on their lengths only.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

fn new_session_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn string(args: &Args, i: usize) -> Option<&str> {
    args.values().get(i).and_then(Value::as_str)
}

/// The sockets of namespace `args[ns]`, in the room or socket id
/// `args[filter]` when it is a non-empty string (`io.of(nsp).in(filter)`).
fn target(socket: &Socket, args: &Args, ns: usize, filter: usize) -> Option<Operators> {
    let ops = socket.server().of(string(args, ns)?);
    Some(match string(args, filter) {
        Some(filter) if !filter.is_empty() => ops.to(filter),
        _ => ops,
    })
}

fn server_stats(
    io: &SocketIo,
    config: &AdminConfig,
    server_id: &str,
    hostname: &str,
    uptime: Duration,
    now: &EngineStats,
    last: &EngineStats,
) -> Value {
    let mut counts: HashMap<String, usize> = config
        .namespaces
        .iter()
        .chain([&config.namespace])
        .map(|ns| (ns.clone(), 0))
        .collect();
    counts.extend(io.sockets_by_namespace());
    let mut namespaces: Vec<(String, usize)> = counts.into_iter().collect();
    namespaces.sort();
    let namespaces: Vec<Value> = namespaces
        .into_iter()
        .map(|(name, n)| json!({ "name": name, "socketsCount": n }))
        .collect();
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let second = millis - millis % 1000;
    let aggregated: Vec<Value> = [
        ("rawConnection", now.connections, last.connections),
        ("rawDisconnection", now.disconnections, last.disconnections),
        ("packetsIn", now.packets_in, last.packets_in),
        ("packetsOut", now.packets_out, last.packets_out),
        ("bytesIn", now.bytes_in, last.bytes_in),
        ("bytesOut", now.bytes_out, last.bytes_out),
    ]
    .into_iter()
    .filter(|(_, now, last)| now > last)
    .map(|(kind, now, last)| json!({ "timestamp": second, "type": kind, "count": now - last }))
    .collect();
    json!({
        "serverId": server_id,
        "hostname": hostname,
        "pid": std::process::id(),
        "uptime": uptime.as_secs_f64(),
        "clientsCount": now.clients,
        "pollingClientsCount": now.polling_clients,
        "aggregatedEvents": aggregated,
        "namespaces": namespaces,
    })
}

/// A socket as the reference's `serialize()` shows it. The CONNECT payload
/// is left out, as the reference does (it holds credentials: the admins'
/// own password among them).
fn serialize(info: &SocketInfo) -> Value {
    let sid = info.client.as_str();
    let client_id: String = sid.chars().take(12).collect();
    let mut handshake = Map::new();
    if let Some(request) = &info.request {
        let mut headers = Map::new();
        for (name, value) in &request.headers {
            // Repeated headers are joined, as Node's `req.headers` does.
            match headers.get_mut(name) {
                Some(Value::String(earlier)) => {
                    earlier.push_str(", ");
                    earlier.push_str(value);
                }
                _ => {
                    headers.insert(name.clone(), json!(value));
                }
            }
        }
        let issued = UNIX_EPOCH + Duration::from_millis(request.issued_ms);
        let xdomain = headers.contains_key("origin");
        handshake.insert("address".into(), json!(request.address));
        handshake.insert("headers".into(), Value::Object(headers));
        handshake.insert("query".into(), query(&request.url));
        handshake.insert("issued".into(), json!(request.issued_ms));
        handshake.insert("secure".into(), json!(request.secure));
        handshake.insert("time".into(), json!(date_string(issued)));
        handshake.insert("url".into(), json!(request.url));
        handshake.insert("xdomain".into(), json!(xdomain));
    }
    json!({
        "id": &*info.id,
        "clientId": client_id,
        "transport": info.transport,
        "nsp": &*info.namespace,
        "data": {},
        "handshake": handshake,
        "rooms": info.rooms,
    })
}

/// The query of `url` as an object of strings (a repeated key keeps its
/// last value).
fn query(url: &str) -> Value {
    let mut map = Map::new();
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(percent_decode(key), json!(percent_decode(value)));
        }
    }
    Value::Object(map)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Year, month (1-12), day, hours, minutes, seconds, milliseconds and day of
/// the week (0 = Sunday) of `t`, in UTC.
fn civil(t: SystemTime) -> (i64, u32, u32, u64, u64, u64, u64, usize) {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (days, rest) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    // Days to civil date (the proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 4).rem_euclid(7) as usize;
    let (h, m, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    (year, month, day, h, m, s, milli, weekday)
}

/// `t` as JSON.stringify writes a JavaScript `Date`:
/// `2026-12-02T18:27:21.123Z`.
fn iso_time(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms, _) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// `t` as the reference's `handshake.time` (`new Date().toString()` on a
/// server set to UTC): `Wed Dec 02 2026 18:27:21 GMT+0000 (Coordinated
/// Universal Time)`.
fn date_string(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _, wd) = civil(t);
    format!(
        "{} {} {d:02} {y} {h:02}:{mi:02}:{s:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[wd],
        MONTHS[mo as usize - 1]
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The admin UI's page: the files of the `ui/dist` folder of the npm
/// package `@socket.io/admin-ui`, read once at start and served under a
/// path prefix (`/admin/`).
#[derive(Debug, Clone)]
pub struct UiFiles {
    /// path inside the folder (`index.html`, `js/app.….js`) → its type and bytes.
    files: HashMap<String, (&'static str, bytes::Bytes)>,
}

/// At most this many files are read from the UI folder (the package has 10).
const MAX_UI_FILES: usize = 1000;
/// At most this many bytes in all (the package's folder has about 5 MB).
const MAX_UI_BYTES: u64 = 64 << 20;

impl UiFiles {
    /// Reads every file under `dir`, which must hold `index.html`. Refuses
    /// more than 1,000 files or 64 MiB.
    pub fn load(dir: &Path) -> io::Result<UiFiles> {
        let mut files = HashMap::new();
        let mut pending: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), String::new())];
        let mut total = 0u64;
        while let Some((folder, prefix)) = pending.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = format!("{prefix}{name}");
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    pending.push((entry.path(), format!("{path}/")));
                } else if kind.is_file() {
                    let bytes = std::fs::read(entry.path())?;
                    total += bytes.len() as u64;
                    if files.len() >= MAX_UI_FILES || total > MAX_UI_BYTES {
                        return Err(io::Error::other("more files than an admin UI has"));
                    }
                    files.insert(path.clone(), (content_type(&path), bytes.into()));
                }
            }
        }
        if !files.contains_key("index.html") {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no index.html in {}", dir.display()),
            ));
        }
        Ok(UiFiles { files })
    }

    /// The answer to a GET of `path` when it is under `prefix` (`/admin/`,
    /// with its trailing slash): the file, `index.html` for the prefix
    /// itself, 404 for a missing file; `None` for other paths. The prefix
    /// without its slash gets a page that sends the browser to it (the
    /// page's links are relative).
    pub fn answer(&self, prefix: &str, path: &str) -> Option<HttpResponse> {
        if path == prefix.trim_end_matches('/') {
            let body = format!(
                "<!DOCTYPE html><meta http-equiv=\"refresh\" content=\"0; url={prefix}\">\
                 <a href=\"{prefix}\">{prefix}</a>"
            );
            return Some(HttpResponse {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: body.into(),
            });
        }
        let file = path.strip_prefix(prefix)?;
        let file = if file.is_empty() { "index.html" } else { file };
        Some(match self.files.get(file) {
            Some((content_type, body)) => HttpResponse {
                status: 200,
                content_type,
                body: body.clone(),
            },
            None => HttpResponse {
                status: 404,
                content_type: "text/plain",
                body: "Not Found".into(),
            },
        })
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("json" | "map") => "application/json",
        Some("woff2") => "font/woff2",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(same("s3cret", "s3cret"));
        assert!(!same("s3cret", "s3cres"));
        assert!(!same("s3cret", "s3cret!"));
        assert!(!same("", "x"));
        assert!(same("", ""));
    }

    #[test]
    fn dates_as_javascript_writes_them() {
        // 2026-12-02T18:27:21.123Z, a Wednesday.
        let t = UNIX_EPOCH + Duration::from_millis(1_796_236_041_123);
        assert_eq!(iso_time(t), "2026-12-02T18:27:21.123Z");
        assert_eq!(
            date_string(t),
            "Wed Dec 02 2026 18:27:21 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(iso_time(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(iso_time(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn query_strings() {
        assert_eq!(
            query("/socket.io/?EIO=4&transport=polling&t=a%20b&x"),
            json!({"EIO": "4", "transport": "polling", "t": "a b", "x": ""})
        );
        assert_eq!(query("/socket.io/"), json!({}));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
