//! The scenarios over HTTP long-polling (Engine.IO v4, "Polling"):
//! `echo-polling` and `fanout-polling`, the WebSocket scenarios' work with
//! every client packet carried by HTTP requests instead of frames.
//!
//! Each client is one keep-alive HTTP/1.1 connection used one request at a
//! time: a POST with what it sends, then a GET for what the server has for
//! it (a long poll, held until there is something). A browser keeps a GET
//! open while it POSTs on a second connection; one connection in turn does
//! the same server work per packet (parse a request, answer it) with half
//! the sockets, and the generator stays simple. The HTTP client is written
//! here, just enough for Engine.IO: `Content-Length` or chunked bodies.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::client::Target;
use crate::cpu::CpuMeter;
use crate::fanout;
use crate::stats::{Latencies, Outcome};
use crate::{Options, connect_all};

/// The record separator between the packets of a polling payload
/// (Engine.IO v4, "Payload").
const SEPARATOR: char = '\u{1e}';

/// A keep-alive HTTP/1.1 connection to the server.
struct Http {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Http {
    async fn open(target: &Target) -> io::Result<Http> {
        let tcp = TcpStream::connect(target.addr).await?;
        tcp.set_nodelay(true)?;
        tcp.set_zero_linger()?;
        Ok(Http {
            stream: BufReader::with_capacity(8 * 1024, tcp),
            host: target.addr.to_string(),
        })
    }

    /// Sends one request and reads its answer's body; anything but 200 is
    /// an error.
    async fn request(&mut self, method: &str, uri: &str, body: &str) -> io::Result<String> {
        let mut head = format!("{method} {uri} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if method == "POST" {
            head.push_str("Content-Type: text/plain;charset=UTF-8\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body);
        self.stream.get_mut().write_all(head.as_bytes()).await?;

        let mut line = String::new();
        self.read_line(&mut line).await?;
        let status = line.split(' ').nth(1).unwrap_or("").to_owned();
        let (mut length, mut chunked) = (None, false);
        loop {
            line.clear();
            self.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        let body = if chunked {
            self.read_chunked().await?
        } else {
            let mut body = vec![0; length.unwrap_or(0)];
            self.stream.read_exact(&mut body).await?;
            body
        };
        let body = String::from_utf8(body).map_err(io::Error::other)?;
        if status != "200" {
            return Err(io::Error::other(format!(
                "{method} answered {status}: {body}"
            )));
        }
        Ok(body)
    }

    async fn read_line(&mut self, line: &mut String) -> io::Result<()> {
        if self.stream.read_line(line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    async fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            self.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim_end().split(';').next().unwrap_or(""), 16)
                .map_err(io::Error::other)?;
            let start = body.len();
            body.resize(start + size, 0);
            self.stream.read_exact(&mut body[start..]).await?;
            line.clear();
            self.read_line(&mut line).await?;
            if size == 0 {
                return Ok(body);
            }
        }
    }
}

/// A Socket.IO client on `/` over long-polling.
struct Polling {
    http: Http,
    /// `PATH?EIO=4&transport=polling&sid=SID`.
    uri: String,
    /// Packets read but not handled yet.
    pending: std::collections::VecDeque<String>,
}

impl Polling {
    /// The handshake GET (OPEN), the CONNECT POST, and the GET with the
    /// CONNECT answer (Engine.IO v4, "Handshake"; Socket.IO v5, "Connection
    /// to a namespace").
    async fn connect(target: &Target, path: &str) -> io::Result<Polling> {
        let mut http = Http::open(target).await?;
        let open = http
            .request("GET", &format!("{path}?EIO=4&transport=polling"), "")
            .await?;
        let sid = open
            .strip_prefix("0")
            .and_then(|json| json.split("\"sid\":\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .ok_or_else(|| io::Error::other(format!("not an OPEN packet: {open:?}")))?
            .to_owned();
        let mut socket = Polling {
            http,
            uri: format!("{path}?EIO=4&transport=polling&sid={sid}"),
            pending: Default::default(),
        };
        socket.post("40").await?;
        let answer = socket.next().await?;
        if !answer.starts_with("40") {
            return Err(io::Error::other(format!(
                "expected CONNECT, got {answer:?}"
            )));
        }
        Ok(socket)
    }

    async fn post(&mut self, payload: &str) -> io::Result<()> {
        let uri = std::mem::take(&mut self.uri);
        let answer = self.http.request("POST", &uri, payload).await;
        self.uri = uri;
        match answer?.as_str() {
            "ok" => Ok(()),
            other => Err(io::Error::other(format!("POST answered {other:?}"))),
        }
    }

    /// The next packet: from the last GET's payload, or a new GET. A PING
    /// is answered with a PONG on the way.
    async fn next(&mut self) -> io::Result<String> {
        loop {
            if let Some(packet) = self.pending.pop_front() {
                if packet == "2" {
                    self.post("3").await?;
                    continue;
                }
                return Ok(packet);
            }
            let uri = std::mem::take(&mut self.uri);
            let payload = self.http.request("GET", &uri, "").await;
            self.uri = uri;
            self.pending
                .extend(payload?.split(SEPARATOR).map(str::to_owned));
        }
    }
}

/// Opens `count` polling clients, `concurrency` at a time.
async fn connect_polling(
    target: &Target,
    options: &Options,
    count: usize,
) -> io::Result<Vec<Polling>> {
    futures_util::stream::iter(0..count)
        .map(|_| Polling::connect(target, &options.path))
        .buffer_unordered(options.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

#[derive(Default)]
struct EchoShared {
    measuring: AtomicBool,
    stop: AtomicBool,
    acks: AtomicU64,
}

/// `echo-polling`: `--clients` clients, each emitting `echo` with an ack id
/// and waiting for its ack (one in flight): acks/s, p50, p99.
pub async fn echo(target: &Target, options: &Options) -> io::Result<Outcome> {
    let sockets = connect_polling(target, options, options.clients).await?;
    let shared = Arc::new(EchoShared::default());
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(echo_client(socket, shared.clone())))
        .collect();
    tokio::time::sleep(options.warmup).await;
    shared.measuring.store(true, Ordering::SeqCst);
    let (start, cpu) = (Instant::now(), CpuMeter::start(options.server_pid));
    tokio::time::sleep(options.duration).await;
    let acks = shared.acks.load(Ordering::SeqCst);
    let elapsed = start.elapsed();
    let mut outcome = Outcome::default();
    cpu.finish(&mut outcome, elapsed, acks);
    shared.measuring.store(false, Ordering::SeqCst);
    shared.stop.store(true, Ordering::SeqCst);
    let mut latencies = Latencies::default();
    for task in tasks {
        latencies.merge(task.await.map_err(io::Error::other)??);
    }
    outcome
        .set("clients", options.clients)
        .rate("acks_per_s", acks, elapsed)
        .latencies(&mut latencies);
    Ok(outcome)
}

async fn echo_client(mut socket: Polling, shared: Arc<EchoShared>) -> io::Result<Latencies> {
    let mut latencies = Latencies::default();
    let mut id = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        socket
            .post(&format!(
                r#"42{id}["echo",{{"seq":{id},"text":"the quick brown fox jumps over the lazy dog"}}]"#
            ))
            .await?;
        let prefix = format!("43{id}[");
        let packet = socket.next().await?;
        if !packet.starts_with(&prefix) {
            return Err(io::Error::other(format!("unexpected packet {packet:?}")));
        }
        if shared.measuring.load(Ordering::Relaxed) {
            latencies.record(sent.elapsed());
            shared.acks.fetch_add(1, Ordering::Relaxed);
        }
        id += 1;
    }
    Ok(latencies)
}

/// `fanout-polling`: the fanout scenario with its `--receivers` on
/// long-polling; the sender (and its own `msg`s) stays on a WebSocket, so
/// the window is driven exactly as in `fanout`.
pub async fn fanout(target: &Target, options: &Options) -> io::Result<Outcome> {
    let receivers = connect_polling(target, options, options.receivers).await?;
    let sender = connect_all(target, 1, 1).await?;
    fanout::run_with(sender, receivers.len(), options, |shared| {
        receivers
            .into_iter()
            .map(|socket| tokio::spawn(receiver(socket, shared.clone())))
            .collect()
    })
    .await
}

/// Counts the `msg`s of one polling receiver.
async fn receiver(mut socket: Polling, shared: Arc<fanout::Shared>) -> io::Result<()> {
    let mut count = 0u64;
    loop {
        let packet = socket.next().await?;
        if fanout::is_msg(&packet) {
            shared.delivered(count);
            count += 1;
        }
    }
}
