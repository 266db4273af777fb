//! Connection state recovery in the application layer: where the pure log
//! ([`socketio::recovery`](crate::socketio::recovery)) meets namespaces,
//! emits, connects and disconnects.
//!
//! With [`Config::state_recovery`](crate::socketio::Config::state_recovery)
//! set, each namespace has a [`NspRecovery`]:
//! - **an emit** that can be replayed (an event with no ack, not volatile;
//!   a socket's own `emit` too, sent to the room of its id, as the
//!   reference does) gets its offset, is logged, and is delivered, all
//!   under the namespace's `order` lock, so every receiver gets the
//!   namespace's replayable packets in offset order and a replay never
//!   skips one it did not get;
//! - **a socket that leaves** for a recoverable reason leaves its rooms and
//!   data in the log's sessions (from the client's lock, in
//!   [`Nsp::remove`](super::namespace::Nsp));
//! - **a CONNECT** with `pid` (and `offset`) in its payload is restored
//!   under the `order` lock too: the socket is accepted with its old id,
//!   rejoins its rooms, gets its data back, and is sent what it missed
//!   right after its CONNECT answer, before any newer packet. (The
//!   reference writes the missed packets before its answer; socket.io-client
//!   buffers events that come before the answer and fires them after
//!   `connect`, so it sees the same either way.)
//!
//! Lock order: `order`, then a client, then the namespace's state, then the
//! log; the log is never held while a client is locked by the same thread
//! in the other order.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::dispatch::Timer;
use super::namespace::{Nsp, Receivers};
use super::{SocketIo, lock, read};
use crate::socketio::encode::event_packet;
use crate::socketio::recovery::{Recovery, RecoveryConfig};
use crate::socketio::{Args, BroadcastOptions, Encoded, Packet};

/// What a socket keeps beside its rooms: [`Socket::set_data`](super::Socket::set_data)'s values.
pub(super) type SocketData = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;

/// What connection state recovery keeps ([`SocketIo::recovery_kept`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryKept {
    /// Sessions kept for sockets that lost their connection.
    pub sessions: usize,
    /// Replayable packets in the logs.
    pub packets: usize,
    /// Bytes of those packets, encoded.
    pub bytes: usize,
}

/// One namespace's recovery state.
pub(super) struct NspRecovery {
    /// Held from a replayable packet's offset to its delivery, and while a
    /// socket connects: see the [module documentation](self).
    pub(super) order: Mutex<()>,
    pub(super) log: Mutex<Recovery<SocketData>>,
}

impl NspRecovery {
    pub(super) fn new(config: RecoveryConfig, tag: String) -> NspRecovery {
        NspRecovery {
            order: Mutex::new(()),
            log: Mutex::new(Recovery::new(config, tag)),
        }
    }
}

/// A CONNECT payload's recovery fields: `pid`, and `offset` when the client
/// received an event. `None` unless `pid` is a string and `offset` a string
/// or absent.
pub(super) fn session_asked(auth: &Value) -> Option<(String, Option<String>)> {
    let pid = auth.get("pid")?.as_str()?.to_owned();
    let offset = match auth.get("offset") {
        None | Some(Value::Null) => None,
        Some(Value::String(offset)) => Some(offset.clone()),
        Some(_) => return None,
    };
    Some((pid, offset))
}

impl SocketIo {
    /// Emits a replayable event to `options` of `nsp`: logged with its
    /// offset as its last argument, then delivered to `receivers` (resolved
    /// under the order lock). Returns the receivers and the packet sent.
    pub(super) fn emit_replayable(
        &self,
        nsp: &Nsp,
        recovery: &NspRecovery,
        options: BroadcastOptions,
        receivers: impl FnOnce() -> Receivers,
        event: &str,
        args: Args,
    ) -> (usize, Packet) {
        let _order = lock(&recovery.order);
        let receivers = receivers();
        let now = self.now();
        let parser = self.inner.config.parser;
        let mut packet = None;
        let encoded = lock(&recovery.log).record(now, options, |offset| {
            let mut args = args;
            args.values_mut().push(Value::from(offset));
            let built = event_packet(&nsp.name, event, args, None);
            let encoded = Encoded::new(parser, &built);
            packet = Some(built);
            encoded
        });
        self.ensure_sweep(now, recovery);
        for (socket, client) in receivers.iter() {
            self.send_to_client(client, &socket.id, encoded.clone(), false);
        }
        let packet = packet.unwrap_or_else(|| Packet::event(&*nsp.name, Vec::new(), None));
        (receivers.len(), packet)
    }

    /// Makes sure the recovery sweep will run: at the latest the log's own
    /// deadline (set when the first entry of an empty table goes in).
    pub(super) fn ensure_sweep(&self, now: std::time::Instant, recovery: &NspRecovery) {
        if self.inner.sweep_scheduled.load(Ordering::Relaxed) {
            return;
        }
        if self.inner.sweep_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let window = lock(&recovery.log).config().max_disconnection_duration;
        lock(&self.inner.timers)
            .due
            .insert((now + window, Timer::Sweep));
        self.wake_timer();
    }

    /// What connection state recovery keeps now, over every namespace:
    /// sessions of sockets that left, and logged packets with their bytes
    /// (each bounded per namespace by [`RecoveryConfig`]).
    pub fn recovery_kept(&self) -> RecoveryKept {
        let mut kept = RecoveryKept::default();
        for nsp in self.live_namespaces() {
            if let Some(recovery) = &nsp.recovery {
                let log = lock(&recovery.log);
                kept.sessions += log.sessions_kept();
                kept.packets += log.packets();
                kept.bytes += log.bytes();
            }
        }
        kept
    }

    /// Tells `nsp`'s `on_session_end` of every kept session that ended
    /// without recovering. Called with no lock held.
    pub(super) fn end_sessions(&self, nsp: &Nsp) {
        let Some(recovery) = &nsp.recovery else {
            return;
        };
        loop {
            let Some(id) = lock(&recovery.log).poll_ended() else {
                break;
            };
            if let Some(f) = &read(&nsp.handlers).on_session_end {
                f(&id);
            }
        }
    }

    /// The recovery sweep: every namespace's log reclaims what expired, and
    /// the sweep is scheduled again for the earliest deadline left.
    pub(super) fn sweep(&self) {
        let now = self.now();
        let mut next = None;
        for nsp in self.live_namespaces() {
            let Some(recovery) = &nsp.recovery else {
                continue;
            };
            let due = {
                let mut log = lock(&recovery.log);
                log.handle_timeout(now);
                log.poll_timeout()
            };
            next = next.into_iter().chain(due).min();
            self.end_sessions(&nsp);
        }
        match next {
            Some(at) => {
                lock(&self.inner.timers).due.insert((at, Timer::Sweep));
            }
            None => self.inner.sweep_scheduled.store(false, Ordering::Release),
        }
    }
}

#[cfg(test)]
mod tests;
