//! Connection state recovery, as socket.io 4.6+ offers it: a client that
//! lost its connection for a moment comes back with its socket id, its rooms
//! and its data, and receives every event it missed meanwhile.
//!
//! The socket.io-protocol documents do not describe it; the reference's code
//! does (socket.io `lib/socket.ts` and `lib/namespace.ts`, socket.io-adapter
//! `lib/in-memory-adapter.ts`, socket.io-client `lib/socket.ts`). On the
//! wire:
//! - the CONNECT answer carries a private session id beside the socket id:
//!   `{"sid": "...", "pid": "..."}`; the `pid` is secret, the `sid` public;
//! - every EVENT the server sends that can be replayed (no ack id, not
//!   volatile) carries an **offset** as its last argument, a string the
//!   client keeps when it receives the event;
//! - after a drop, socket.io-client reconnects with `{pid, offset}` merged
//!   into its CONNECT payload; the server answers with the old `sid` (and
//!   the same `pid`), and replays every logged event after `offset` that
//!   reached the session's rooms.
//!
//! [`Recovery`] is that bookkeeping for one namespace, as a pure structure:
//! the log of replayable packets, the sessions of connected sockets, and the
//! sessions kept for sockets that left. Time comes in as `now` arguments;
//! [`Recovery::poll_timeout`] says when expired entries must be reclaimed by
//! [`Recovery::handle_timeout`].
//!
//! # Where siobridge does better than the reference
//! - **Every blip recovers**: a recovered socket gets a fresh connect point,
//!   so it recovers again the next time it drops within the window (the
//!   reference keeps one session per `pid` and can fail the second time,
//!   socket.io#4880).
//! - **No offset yet**: a client that received no event yet has no offset
//!   and sends `pid` alone; the reference then refuses to recover. Here the
//!   session remembers the log position at which its socket connected, and
//!   everything after it is replayed. socket.io-client accepts this as is.
//! - **Bounded**: the reference keeps every packet of the window; here the
//!   log and the kept sessions have limits ([`RecoveryConfig`]). A session
//!   whose missed packets fell out of the log is not recoverable: its client
//!   gets an ordinary new connection rather than a partial replay.
//! - **Offsets from elsewhere are never trusted**: offsets start with a tag
//!   of the server that made them, so a string argument of another event
//!   (socket.io-client takes the last string argument of *every* event as
//!   its offset) is not mistaken for a position in the log.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::adapter::BroadcastOptions;
use super::encode::Encoded;

/// Connection state recovery settings (the reference server's
/// `connectionStateRecovery` option, plus the bounds it lacks).
///
/// # Defaults
/// `maxDisconnectionDuration` 2 minutes and `skipMiddlewares` true, as the
/// reference; at most 10,000 packets and 16 MiB logged per namespace, and
/// 10,000 sessions kept per namespace (the reference: unbounded).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryConfig {
    /// How long a socket that lost its connection can come back and recover
    /// (`maxDisconnectionDuration`). Default 120 s. Also how long a packet
    /// stays in the log.
    pub max_disconnection_duration: Duration,
    /// Whether a socket that recovers skips the namespace's connect
    /// middleware (`skipMiddlewares`). Default true.
    pub skip_middlewares: bool,
    /// Most packets kept in one namespace's log; the oldest go first.
    /// Default 10,000. Bounds memory on a busy server, where the reference
    /// keeps every packet of the window.
    pub max_packets: usize,
    /// Most bytes of encoded packets kept in one namespace's log. Default
    /// 16 MiB.
    pub max_bytes: usize,
    /// Most sessions kept for sockets that left, per namespace; the oldest
    /// go first. Default 10,000.
    pub max_sessions: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_bytes: 16 << 20,
            max_sessions: 10_000,
        }
    }
}

impl RecoveryConfig {
    /// The defaults with a window of `window`.
    pub fn with_window(window: Duration) -> RecoveryConfig {
        RecoveryConfig {
            max_disconnection_duration: window,
            ..RecoveryConfig::default()
        }
    }
}

/// What a socket leaves behind for its recovery: its id, its rooms (its own
/// id's room among them) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session<D> {
    /// The socket id, given back to the socket that recovers.
    pub id: Arc<str>,
    /// The rooms it was in.
    pub rooms: Vec<String>,
    /// Whatever else the application keeps per socket.
    pub data: D,
}

/// A session restored by [`Recovery::restore`]: the socket to make again,
/// and the packets it missed, in the order they were sent.
#[derive(Debug)]
pub struct Restored<D> {
    /// The session.
    pub session: Session<D>,
    /// Every logged packet it missed, oldest first, already encoded.
    pub missed: Vec<Encoded>,
}

/// Whether a socket that left for `reason` (the reference's disconnect
/// reason names) keeps a session: only when its connection was lost or
/// closed under it, never when either side left the namespace on purpose
/// (socket.io's `RECOVERABLE_DISCONNECT_REASONS`).
pub fn is_recoverable(reason: &str) -> bool {
    matches!(
        reason,
        "transport error"
            | "transport close"
            | "forced close"
            | "ping timeout"
            | "server shutting down"
            | "forced server close"
    )
}

/// One replayable packet of the log.
#[derive(Debug)]
struct Logged {
    offset: u64,
    at: Instant,
    options: BroadcastOptions,
    packet: Encoded,
}

/// A connected socket's session: its id and where in the log it connected.
#[derive(Debug)]
struct Live {
    id: Arc<str>,
    since: u64,
}

/// The session of a socket that left.
#[derive(Debug)]
struct Away<D> {
    session: Session<D>,
    left: Instant,
    since: u64,
}

/// The recovery state of one namespace: its packet log and its sessions.
/// See the [module documentation](self).
///
/// `D` is what the application keeps per socket beside its rooms.
#[derive(Debug)]
pub struct Recovery<D> {
    config: RecoveryConfig,
    /// Starts every offset this log makes.
    tag: String,
    /// The offset of the next packet. Offsets start at 1: a socket that
    /// connected before any packet has `since` 0.
    next: u64,
    packets: VecDeque<Logged>,
    bytes: usize,
    live: HashMap<String, Live>,
    away: HashMap<String, Away<D>>,
    /// The sessions of `away` by when they left, oldest first.
    away_order: BTreeSet<(Instant, String)>,
    /// Socket ids of kept sessions that ended without recovering, for
    /// [`poll_ended`](Recovery::poll_ended).
    ended: VecDeque<Arc<str>>,
}

impl<D> Recovery<D> {
    /// An empty log whose offsets start with `tag` (a few random characters
    /// per server, so offsets of another server or a restarted one are not
    /// positions here).
    pub fn new(config: RecoveryConfig, tag: impl Into<String>) -> Recovery<D> {
        Recovery {
            config,
            tag: tag.into(),
            next: 1,
            packets: VecDeque::new(),
            bytes: 0,
            live: HashMap::new(),
            away: HashMap::new(),
            away_order: BTreeSet::new(),
            ended: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    // ----- sessions ----------------------------------------------------------

    /// Socket `id` connected (or recovered) with private id `pid`: it will
    /// be owed every packet logged from now on.
    pub fn connected(&mut self, pid: &str, id: Arc<str>) {
        let since = self.next - 1;
        self.live.insert(pid.to_owned(), Live { id, since });
    }

    /// The socket connected now with private id `pid`, if any: a CONNECT
    /// recovering it comes from a client whose old connection the server
    /// has not seen end yet.
    pub fn live_socket(&self, pid: &str) -> Option<&Arc<str>> {
        self.live.get(pid).map(|live| &live.id)
    }

    /// The socket of `pid` left at `now` for a recoverable reason
    /// ([`is_recoverable`]): keep `session` for the window. Past
    /// [`RecoveryConfig::max_sessions`], the session kept longest goes.
    pub fn left(&mut self, now: Instant, pid: &str, session: Session<D>) {
        let Some(live) = self.live.remove(pid) else {
            return;
        };
        if self.config.max_sessions == 0 {
            self.ended.push_back(session.id);
            return;
        }
        if let Some(old) = self.away.remove(pid) {
            self.away_order.remove(&(old.left, pid.to_owned()));
            self.ended.push_back(old.session.id);
        }
        while self.away.len() >= self.config.max_sessions {
            let Some((_, oldest)) = self.away_order.pop_first() else {
                break;
            };
            if let Some(gone) = self.away.remove(&oldest) {
                self.ended.push_back(gone.session.id);
            }
        }
        self.away_order.insert((now, pid.to_owned()));
        self.away.insert(
            pid.to_owned(),
            Away {
                session,
                left: now,
                since: live.since,
            },
        );
    }

    /// The socket of `pid` left for a reason that keeps no session.
    pub fn forget(&mut self, pid: &str) {
        self.live.remove(pid);
    }

    /// A CONNECT at `now` asks to recover session `pid` from `offset` (the
    /// last offset its client received; `None` when it received none).
    /// Gives the session and what it missed, and forgets the session (a
    /// recovered socket calls [`connected`](Self::connected) again); `None`
    /// when there is no such session, it expired, `offset` is not one of
    /// this log's, or a packet it missed is no longer in the log. A session
    /// that fails to recover is forgotten.
    pub fn restore(
        &mut self,
        now: Instant,
        pid: &str,
        offset: Option<&str>,
    ) -> Option<Restored<D>> {
        let away = self.away.remove(pid)?;
        self.away_order.remove(&(away.left, pid.to_owned()));
        let restored = self.replay(now, away, offset);
        if let Err(id) = &restored {
            self.ended.push_back(id.clone());
        }
        restored.ok()
    }

    /// What session `away` missed after `offset`, or its socket id when it
    /// cannot recover.
    fn replay(
        &self,
        now: Instant,
        away: Away<D>,
        offset: Option<&str>,
    ) -> Result<Restored<D>, Arc<str>> {
        if away.left + self.config.max_disconnection_duration < now {
            return Err(away.session.id);
        }
        // What the client received last, but never before its socket's
        // connect point: packets before it were delivered or replayed then.
        let from = match offset.map(|offset| self.parse(offset)) {
            None => away.since,
            Some(Some(offset)) => offset.max(away.since),
            Some(None) => return Err(away.session.id),
        };
        let first = self.packets.front().map_or(self.next, |p| p.offset);
        if from + 1 < first {
            return Err(away.session.id); // a missed packet left the log
        }
        let start = (from + 1 - first) as usize;
        let rooms = &away.session.rooms;
        let missed = self
            .packets
            .iter()
            .skip(start)
            .filter(|p| reaches(rooms, &p.options))
            .map(|p| p.packet.clone())
            .collect();
        Ok(Restored {
            session: away.session,
            missed,
        })
    }

    /// The next socket whose kept session ended without recovering (its
    /// window passed, it was pushed out past
    /// [`RecoveryConfig::max_sessions`], or a CONNECT failed to recover it):
    /// what the application kept for it while it was away can go. Call
    /// after [`handle_timeout`](Self::handle_timeout), [`left`](Self::left)
    /// and [`restore`](Self::restore), until `None`.
    pub fn poll_ended(&mut self) -> Option<Arc<str>> {
        self.ended.pop_front()
    }

    /// The log position `offset` names, when it is one of this log's and
    /// not in the future.
    fn parse(&self, offset: &str) -> Option<u64> {
        let n: u64 = offset.strip_prefix(self.tag.as_str())?.parse().ok()?;
        (n < self.next).then_some(n)
    }

    // ----- the log -----------------------------------------------------------

    /// Logs a replayable packet sent at `now` to `options` (a socket's own
    /// emit is sent to the room of its id; `socket.broadcast` excepts that
    /// room): `encode` gets the packet's offset, to add as its last
    /// argument, and returns the packet, which is logged and returned.
    /// Past the log's limits the oldest packets go.
    pub fn record(
        &mut self,
        now: Instant,
        options: BroadcastOptions,
        encode: impl FnOnce(&str) -> Encoded,
    ) -> Encoded {
        let offset = self.next;
        self.next += 1;
        let packet = encode(&format!("{}{offset}", self.tag));
        self.bytes += packet.len();
        self.packets.push_back(Logged {
            offset,
            at: now,
            options,
            packet: packet.clone(),
        });
        while self.packets.len() > self.config.max_packets || self.bytes > self.config.max_bytes {
            let Some(oldest) = self.packets.pop_front() else {
                break;
            };
            self.bytes -= oldest.packet.len();
        }
        packet
    }

    /// Packets in the log.
    pub fn packets(&self) -> usize {
        self.packets.len()
    }

    /// Bytes of the packets in the log.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Sessions kept for sockets that left.
    pub fn sessions_kept(&self) -> usize {
        self.away.len()
    }

    // ----- time --------------------------------------------------------------

    /// When [`handle_timeout`](Self::handle_timeout) has something to
    /// reclaim, if ever: the first instant past an entry's window (which
    /// includes its last instant, as the reference's). Call again after
    /// every change.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let window = self.config.max_disconnection_duration + Duration::from_nanos(1);
        let packet = self.packets.front().map(|p| p.at + window);
        let session = self.away_order.first().map(|(left, _)| *left + window);
        match (packet, session) {
            (Some(p), Some(s)) => Some(p.min(s)),
            (p, s) => p.or(s),
        }
    }

    /// Reclaims the packets and sessions older than the window at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let window = self.config.max_disconnection_duration;
        while let Some(p) = self.packets.front() {
            if p.at + window >= now {
                break;
            }
            self.bytes -= p.packet.len();
            self.packets.pop_front();
        }
        while let Some((left, pid)) = self.away_order.first() {
            if *left + window >= now {
                break;
            }
            if let Some(gone) = self.away.remove(pid) {
                self.ended.push_back(gone.session.id);
            }
            self.away_order.pop_first();
        }
    }
}

/// Whether a packet sent to `options` reached a socket in `rooms`: as the
/// reference's `shouldIncludePacket`.
fn reaches(rooms: &[String], options: &BroadcastOptions) -> bool {
    let included = options.rooms.is_empty() || rooms.iter().any(|r| options.rooms.contains(r));
    included && !rooms.iter().any(|r| options.except.contains(r))
}

#[cfg(test)]
mod tests;
