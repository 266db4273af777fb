//! The echo scenarios: every client emits `echo` with an ack id and waits
//! for the ack, keeping `depth` acks in flight (1 for `echo`, more for
//! `echo-pipelined`). Measures acks per second and the round trip of each.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{PING, PONG, Target, Ws, frame, text_of};
use crate::cpu::CpuMeter;
use crate::stats::{Latencies, Outcome};
use crate::{Options, connect_all};

/// What the clients share with the clock keeper.
#[derive(Default)]
struct Shared {
    /// Acks are counted and timed only while this is set (after warm-up).
    measuring: AtomicBool,
    /// Clients stop at their next ack once this is set.
    stop: AtomicBool,
    acks: AtomicU64,
}

/// Runs the scenario and returns acks/s, p50 and p99.
pub async fn run(target: &Target, options: &Options, depth: usize) -> io::Result<Outcome> {
    let sockets = connect_all(target, options.clients, options.concurrency).await?;
    let shared = Arc::new(Shared::default());
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::spawn(client(ws, depth, shared.clone())))
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
        .set("depth", depth)
        .rate("acks_per_s", acks, elapsed)
        .latencies(&mut latencies);
    Ok(outcome)
}

/// `42<id>["echo",{...}]`: an EVENT with an ack id (Socket.IO v5, "EVENT").
fn echo_packet(id: u64) -> Message {
    Message::text(format!(
        r#"42{id}["echo",{{"seq":{id},"text":"the quick brown fox jumps over the lazy dog"}}]"#
    ))
}

/// The ack id of an ACK packet `43<id>[...]`.
fn ack_id(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("43")?;
    let end = digits.find('[')?;
    digits[..end].parse().ok()
}

/// One client: `depth` echoes in flight; each ack sends the next. Frames
/// already buffered are handled together and their replies flushed once.
async fn client(mut ws: Ws, depth: usize, shared: Arc<Shared>) -> io::Result<Latencies> {
    let mut latencies = Latencies::default();
    let mut in_flight: HashMap<u64, Instant> = HashMap::with_capacity(depth);
    let mut next_id = 0u64;
    for _ in 0..depth {
        in_flight.insert(next_id, Instant::now());
        ws.feed(echo_packet(next_id))
            .await
            .map_err(io::Error::other)?;
        next_id += 1;
    }
    ws.flush().await.map_err(io::Error::other)?;

    while !shared.stop.load(Ordering::Relaxed) {
        let mut message = ws.next().await;
        loop {
            if let Some(text) = text_of(frame(message)?)? {
                if text.as_str() == PING {
                    ws.feed(Message::text(PONG))
                        .await
                        .map_err(io::Error::other)?;
                } else if let Some(sent) = ack_id(&text).and_then(|id| in_flight.remove(&id)) {
                    if shared.measuring.load(Ordering::Relaxed) {
                        latencies.record(sent.elapsed());
                        shared.acks.fetch_add(1, Ordering::Relaxed);
                    }
                    in_flight.insert(next_id, Instant::now());
                    ws.feed(echo_packet(next_id))
                        .await
                        .map_err(io::Error::other)?;
                    next_id += 1;
                } else {
                    return Err(io::Error::other(format!("unexpected packet {text:?}")));
                }
            }
            match ws.next().now_or_never() {
                Some(next) => message = next,
                None => break,
            }
        }
        ws.flush().await.map_err(io::Error::other)?;
    }
    Ok(latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_ids() {
        assert_eq!(ack_id(r#"4312["x"]"#), Some(12));
        assert_eq!(ack_id(r#"430[]"#), Some(0));
        assert_eq!(ack_id(r#"42["msg"]"#), None);
        assert_eq!(ack_id("43"), None);
    }
}
