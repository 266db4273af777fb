//! The fanout scenario: `receivers` sockets on `/` plus one sender that emits
//! `broadcast`; the server re-emits each as `msg` to every socket, the
//! sender included. The sender goes as fast as the server takes it: it keeps
//! `window` broadcasts unfinished, a broadcast being finished when every
//! socket has its `msg`. Measures `msg`s delivered per second across all
//! sockets, and delivered/expected once the sender stops (1.0 when nothing
//! was lost).
//!
//! With a second node (`--addr2`, the same cluster on Redis), half the
//! receivers connect to it: every broadcast then crosses the cluster to reach
//! them, and the server CPU is both nodes'.
//!
//! `fanout-rooms` ([`run_rooms`]) spreads the receivers over rooms, each
//! with a sender of its own.
//!
//! Each socket gets its `msg`s in order (one WebSocket), so a socket's n-th
//! `msg` is broadcast n: counting per broadcast needs no parsing, only a
//! ring of `window` counters.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{PING, PONG, Target, Ws, frame, text_of};
use crate::cpu::CpuMeter;
use crate::stats::Outcome;
use crate::{Options, connect_all};

/// How long without a finished broadcast counts as a loss (a `msg` that will
/// never come) rather than a slow server.
const STALL: Duration = Duration::from_secs(3);

/// What the receivers share with the sender.
pub(crate) struct Shared {
    /// Sockets each broadcast must reach: receivers plus the sender.
    sockets: u32,
    /// `ring[n % window]`: sockets that have broadcast n.
    ring: Vec<AtomicU32>,
    finished: AtomicU64,
    delivered: AtomicU64,
    /// Woken when a broadcast finishes.
    progress: Notify,
}

impl Shared {
    /// A socket got its `count`-th `msg` (counting from 0).
    pub(crate) fn delivered(&self, count: u64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let slot = &self.ring[(count % self.ring.len() as u64) as usize];
        if slot.fetch_add(1, Ordering::AcqRel) + 1 == self.sockets {
            // Every socket has it; broadcast `count + window` may now reuse
            // the slot, and it is not sent before `finished` moves on.
            slot.store(0, Ordering::Release);
            self.finished.fetch_add(1, Ordering::AcqRel);
            self.progress.notify_one();
        }
    }
}

/// Runs the scenario and returns delivered/s and delivered/expected.
pub async fn run(
    target: &Target,
    second: Option<&Target>,
    options: &Options,
) -> io::Result<Outcome> {
    let remote = if second.is_some() {
        options.receivers / 2
    } else {
        0
    };
    let mut sockets = match second {
        Some(second) => connect_all(second, remote, options.concurrency).await?,
        None => Vec::new(),
    };
    // The sender is the last socket, on the first node.
    sockets.extend(connect_all(target, options.receivers - remote + 1, options.concurrency).await?);
    let sender = sockets.split_off(sockets.len() - 1);
    let count = sockets.len();
    let mut outcome = run_with(sender, count, options, |shared| {
        sockets
            .into_iter()
            .map(|ws| tokio::spawn(receiver(ws, shared.clone())))
            .collect()
    })
    .await?;
    outcome.set("remote_receivers", remote);
    Ok(outcome)
}

/// The measurement, whatever the receivers' transport: `sender` (one
/// WebSocket) and `receivers` receivers, which `spawn` starts, each calling
/// [`Shared::delivered`] on its `msg`s in order.
pub(crate) async fn run_with(
    mut sender: Vec<Ws>,
    receivers: usize,
    options: &Options,
    spawn: impl FnOnce(&Arc<Shared>) -> Vec<tokio::task::JoinHandle<io::Result<()>>>,
) -> io::Result<Outcome> {
    let shared = Arc::new(Shared {
        sockets: receivers as u32 + 1,
        ring: (0..options.window).map(|_| AtomicU32::new(0)).collect(),
        finished: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        progress: Notify::new(),
    });
    let (sink, stream) = sender.pop().expect("a sender").split();
    let mut tasks = spawn(&shared);
    tasks.push(tokio::spawn(sender_receiver(stream, shared.clone())));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sender = tokio::spawn(send(
        sink,
        options.window,
        shared.clone(),
        stop_rx,
        broadcast_packet,
    ));

    tokio::time::sleep(options.warmup).await;
    let (start, before) = (Instant::now(), shared.delivered.load(Ordering::SeqCst));
    let cpu = CpuMeter::start_all(&[options.server_pid, options.server_pid2]);
    tokio::time::sleep(options.duration).await;
    let (elapsed, during) = (
        start.elapsed(),
        shared.delivered.load(Ordering::SeqCst) - before,
    );
    let mut outcome = Outcome::default();
    cpu.finish(&mut outcome, elapsed, during);
    let _ = stop_tx.send(true);
    let sent = sender.await.map_err(io::Error::other)??;
    drain(&shared, sent).await;
    for task in &tasks {
        task.abort();
    }

    let expected = sent * u64::from(shared.sockets);
    let delivered = shared.delivered.load(Ordering::SeqCst);
    outcome
        .set("sockets", shared.sockets)
        .set("window", options.window)
        .rate("delivered_per_s", during, elapsed)
        .set("broadcasts", sent)
        .set(
            "delivered_ratio",
            format!("{:.4}", delivered as f64 / expected.max(1) as f64),
        );
    Ok(outcome)
}

/// `fanout-rooms`: `--receivers` sockets spread evenly over `--rooms` rooms,
/// each room with one sender of its own (also in the room) that emits
/// `to-room`, which the server re-emits as `msg` to that room only; each
/// sender keeps `--window` of its room's broadcasts unfinished. Delivered
/// msgs/s across all rooms, and delivered/expected of all rooms together.
pub async fn run_rooms(target: &Target, options: &Options) -> io::Result<Outcome> {
    let rooms = options.rooms.max(1);
    let mut sockets = connect_all(target, options.receivers + rooms, options.concurrency).await?;
    // Socket i goes to room i % rooms; sockets 0..rooms are the senders.
    for (i, ws) in sockets.iter_mut().enumerate() {
        tokio::time::timeout(STALL, join(ws, i % rooms))
            .await
            .map_err(|_| {
                io::Error::other("no ack to join: the server lacks the rooms contract")
            })??;
    }
    let mut groups: Vec<Vec<Ws>> = (0..rooms).map(|_| Vec::new()).collect();
    for (i, ws) in sockets.into_iter().enumerate() {
        groups[i % rooms].push(ws);
    }
    let mut all = Vec::new();
    let mut senders = Vec::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for (room, mut members) in groups.into_iter().enumerate() {
        // The first member of each room was connected first: the sender.
        let sender = members.remove(0);
        let shared = Arc::new(Shared {
            sockets: members.len() as u32 + 1,
            ring: (0..options.window).map(|_| AtomicU32::new(0)).collect(),
            finished: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            progress: Notify::new(),
        });
        for ws in members {
            tasks.push(tokio::spawn(receiver(ws, shared.clone())));
        }
        let (sink, stream) = sender.split();
        tasks.push(tokio::spawn(sender_receiver(stream, shared.clone())));
        senders.push(tokio::spawn(send(
            sink,
            options.window,
            shared.clone(),
            stop_rx.clone(),
            move |seq| room_packet(room, seq),
        )));
        all.push(shared);
    }
    let delivered = |all: &[Arc<Shared>]| -> u64 {
        all.iter()
            .map(|shared| shared.delivered.load(Ordering::SeqCst))
            .sum()
    };

    tokio::time::sleep(options.warmup).await;
    let (start, before) = (Instant::now(), delivered(&all));
    let cpu = CpuMeter::start(options.server_pid);
    tokio::time::sleep(options.duration).await;
    let (elapsed, during) = (start.elapsed(), delivered(&all) - before);
    let mut outcome = Outcome::default();
    cpu.finish(&mut outcome, elapsed, during);
    let _ = stop_tx.send(true);
    let mut expected = 0;
    let mut broadcasts = 0;
    for (sender, shared) in senders.into_iter().zip(&all) {
        let sent = sender.await.map_err(io::Error::other)??;
        drain(shared, sent).await;
        expected += sent * u64::from(shared.sockets);
        broadcasts += sent;
    }
    for task in &tasks {
        task.abort();
    }
    outcome
        .set("sockets", options.receivers + rooms)
        .set("rooms", rooms)
        .set("window", options.window)
        .rate("delivered_per_s", during, elapsed)
        .set("broadcasts", broadcasts)
        .set(
            "delivered_ratio",
            format!("{:.4}", delivered(&all) as f64 / expected.max(1) as f64),
        );
    Ok(outcome)
}

/// Joins room `r<room>` with `42<n>["join","r<room>"]` and waits for its
/// ack (answering heartbeats on the way).
async fn join(ws: &mut Ws, room: usize) -> io::Result<()> {
    ws.send(Message::text(format!(r#"420["join","r{room}"]"#)))
        .await
        .map_err(io::Error::other)?;
    loop {
        let Some(text) = text_of(frame(ws.next().await)?)? else {
            continue;
        };
        if text.starts_with("430[") {
            return Ok(());
        }
        if text.as_str() == PING {
            ws.send(Message::text(PONG))
                .await
                .map_err(io::Error::other)?;
        } else {
            return Err(io::Error::other(format!(
                "join: unexpected {:?}",
                text.as_str()
            )));
        }
    }
}

/// `42["to-room",{"room":"r<room>",...}]`.
fn room_packet(room: usize, seq: u64) -> Message {
    Message::text(format!(
        r#"42["to-room",{{"room":"r{room}","seq":{seq},"text":"the quick brown fox jumps over the lazy dog"}}]"#
    ))
}

/// Waits until every broadcast sent is finished, or a stall.
async fn drain(shared: &Shared, sent: u64) {
    while shared.finished.load(Ordering::Acquire) < sent {
        let progress = shared.progress.notified();
        if shared.finished.load(Ordering::Acquire) >= sent {
            break;
        }
        if tokio::time::timeout(STALL, progress).await.is_err() {
            break;
        }
    }
}

/// `42["broadcast",{...}]`.
fn broadcast_packet(seq: u64) -> Message {
    Message::text(format!(
        r#"42["broadcast",{{"seq":{seq},"text":"the quick brown fox jumps over the lazy dog"}}]"#
    ))
}

/// Keeps `window` broadcasts unfinished until told to stop (or until no
/// broadcast finishes for [`STALL`]: one was lost). Returns how many it sent.
async fn send(
    mut sink: futures_util::stream::SplitSink<Ws, Message>,
    window: usize,
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Receiver<bool>,
    packet: impl Fn(u64) -> Message,
) -> io::Result<u64> {
    let mut sent = 0u64;
    while !*stop.borrow() {
        let progress = shared.progress.notified();
        let unfinished = sent - shared.finished.load(Ordering::Acquire);
        let room = window as u64 - unfinished;
        if room == 0 {
            if tokio::time::timeout(STALL, progress).await.is_err() {
                break;
            }
            continue;
        }
        for _ in 0..room {
            sink.feed(packet(sent)).await.map_err(io::Error::other)?;
            sent += 1;
        }
        sink.flush().await.map_err(io::Error::other)?;
    }
    Ok(sent)
}

/// Whether a text frame is a `msg` EVENT.
pub(crate) fn is_msg(text: &str) -> bool {
    text.starts_with(r#"42["msg","#)
}

/// Counts the `msg`s of one socket, answering heartbeats.
async fn receiver(mut ws: Ws, shared: Arc<Shared>) -> io::Result<()> {
    let mut count = 0u64;
    loop {
        let Some(text) = text_of(frame(ws.next().await)?)? else {
            continue;
        };
        if is_msg(&text) {
            shared.delivered(count);
            count += 1;
        } else if text.as_str() == PING {
            ws.send(Message::text(PONG))
                .await
                .map_err(io::Error::other)?;
        }
    }
}

/// Counts the `msg`s the sender gets back. It cannot answer heartbeats (the
/// sender owns the write half); a run is far shorter than the reference
/// ping interval plus timeout (25 s + 20 s).
async fn sender_receiver(mut stream: SplitStream<Ws>, shared: Arc<Shared>) -> io::Result<()> {
    let mut count = 0u64;
    loop {
        let Some(text) = text_of(frame(stream.next().await)?)? else {
            continue;
        };
        if is_msg(&text) {
            shared.delivered(count);
            count += 1;
        }
    }
}
