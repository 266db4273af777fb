//! The connection scenarios.
//!
//! - idle: opens `connections` sockets on `/` and holds them; the server's
//!   resident memory growth divided by the count is its cost per connection,
//!   and the count over the time to open them all (`concurrency` at once)
//!   the connect rate as connections pile up.
//! - connect: `concurrency` loops each open a WebSocket, connect to `/` and
//!   drop the connection, over and over; measures full connects per second
//!   and the time of each (TCP + WebSocket upgrade + Engine.IO OPEN +
//!   Socket.IO CONNECT and its reply).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, PING, PONG, Target, Ws, frame, text_of};
use crate::cpu::CpuMeter;
use crate::stats::{Latencies, Outcome};
use crate::{Options, connect_all};

/// Time left to the server between the last connect and the memory reading,
/// so that per-connection work still in flight is counted.
const SETTLE: Duration = Duration::from_secs(2);

/// The resident set size of process `pid`, in KiB (`VmRSS` of
/// `/proc/PID/status`).
fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS in /proc/PID/status"))
}

/// Runs the idle scenario and returns KiB per connection.
pub async fn idle(target: &Target, options: &Options) -> io::Result<Outcome> {
    let pid = options
        .server_pid
        .ok_or_else(|| io::Error::other("idle needs --server-pid"))?;
    let before = rss_kib(pid)?;
    let start = Instant::now();
    let sockets = connect_all(target, options.connections, options.concurrency).await?;
    let opening = start.elapsed();
    let alive = Arc::new(AtomicUsize::new(sockets.len()));
    let holders: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::spawn(hold(ws, alive.clone())))
        .collect();
    tokio::time::sleep(SETTLE).await;
    let after = rss_kib(pid)?;
    let still_open = alive.load(Ordering::SeqCst);
    for holder in &holders {
        holder.abort();
    }
    if still_open != options.connections {
        return Err(io::Error::other(format!(
            "only {still_open} of {} connections stayed open",
            options.connections
        )));
    }
    let per_connection = after.saturating_sub(before) as f64 / options.connections as f64;
    let mut outcome = Outcome::default();
    outcome
        .set("connections", options.connections)
        .set("rss_before_kib", before)
        .set("rss_after_kib", after)
        .set("kib_per_conn", format!("{per_connection:.2}"))
        .rate("opened_per_s", options.connections as u64, opening);
    Ok(outcome)
}

/// Keeps one idle connection open until it fails or the task is aborted.
async fn hold(ws: Ws, alive: Arc<AtomicUsize>) {
    let _ = answer_heartbeats(ws).await;
    alive.fetch_sub(1, Ordering::SeqCst);
}

/// Answers the server's PINGs; returns only on an error.
async fn answer_heartbeats(mut ws: Ws) -> io::Result<()> {
    loop {
        if let Some(text) = text_of(frame(ws.next().await)?)?
            && text.as_str() == PING
        {
            ws.send(Message::text(PONG))
                .await
                .map_err(io::Error::other)?;
        }
    }
}

/// What the connect loops share with the clock keeper.
#[derive(Default)]
struct Shared {
    measuring: AtomicBool,
    stop: AtomicBool,
    connects: AtomicU64,
}

/// Runs the connect scenario and returns connects/s, p50 and p99.
pub async fn connect(target: &Target, options: &Options) -> io::Result<Outcome> {
    let shared = Arc::new(Shared::default());
    let loops: Vec<_> = (0..options.concurrency)
        .map(|_| tokio::spawn(connect_loop(target.clone(), shared.clone())))
        .collect();
    tokio::time::sleep(options.warmup).await;
    shared.measuring.store(true, Ordering::SeqCst);
    let (start, cpu) = (Instant::now(), CpuMeter::start(options.server_pid));
    tokio::time::sleep(options.duration).await;
    let connects = shared.connects.load(Ordering::SeqCst);
    let elapsed = start.elapsed();
    let mut outcome = Outcome::default();
    cpu.finish(&mut outcome, elapsed, connects);
    shared.measuring.store(false, Ordering::SeqCst);
    shared.stop.store(true, Ordering::SeqCst);

    let mut latencies = Latencies::default();
    for task in loops {
        latencies.merge(task.await.map_err(io::Error::other)??);
    }
    outcome
        .set("concurrency", options.concurrency)
        .rate("connects_per_s", connects, elapsed)
        .latencies(&mut latencies);
    Ok(outcome)
}

/// Connects and drops, until told to stop.
async fn connect_loop(target: Target, shared: Arc<Shared>) -> io::Result<Latencies> {
    let mut latencies = Latencies::default();
    while !shared.stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let ws = client::connect(&target).await?;
        if shared.measuring.load(Ordering::Relaxed) {
            latencies.record(start.elapsed());
            shared.connects.fetch_add(1, Ordering::Relaxed);
        }
        drop(ws);
    }
    Ok(latencies)
}
