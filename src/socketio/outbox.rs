//! Write combining: the emits made while one batch of incoming messages is
//! handled are queued per receiver when the batch ends.
//!
//! A driver hands the server every message that one read of a connection
//! brought ([`SocketIo::handle_messages`](super::SocketIo::handle_messages)).
//! Queueing a packet on a receiver's connection costs little in itself, but
//! it touches that receiver's queue, lock and wake-up, which are cold in the
//! cache when a broadcast walks a thousand receivers. So while the batch is
//! handled, its emits wait in the [`Outbox`]; at its end each receiver is
//! visited once and gets all of its packets in a row. A batch of `b`
//! broadcasts to `n` sockets visits `n` receivers instead of `b × n`.
//!
//! Consecutive emits to the same [`Target`], while no membership changed in
//! between, share one [`Group`]: its receivers are resolved once, at the
//! first emit. Groups are queued in the order they were made, so each
//! receiver gets its packets in the order they were emitted, as without the
//! outbox. Whatever sends or closes a connection directly (a CONNECT answer,
//! a close) first flushes the outbox, so it cannot overtake an emit.
//!
//! Only the thread handling the batch combines its emits: an emit from
//! anywhere else (another task, another thread) is queued at once, as are
//! emits made when no batch is open. The outbox is bounded by
//! [`MAX_RECEIVERS`] and [`MAX_PACKETS`]: past them it is flushed early.

use std::sync::Arc;
use std::thread::{self, ThreadId};

use super::adapter::BroadcastOptions;
use super::server::Conn;
use crate::engineio::{Data, Sid};

/// Receivers held by the outbox, over all its groups, before it is flushed
/// early. Bounds its memory (a receiver costs 24 bytes) however the handlers
/// of a batch emit.
pub(super) const MAX_RECEIVERS: usize = 65_536;

/// Packets held by one group before a new group is started.
pub(super) const MAX_PACKETS: usize = 1_024;

/// Which sockets of a namespace an emit reaches (see
/// [`Operators`](super::Operators)): the sockets in `options`' rooms, less
/// `except_socket`, or only `only_socket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) namespace: Arc<str>,
    pub(super) options: BroadcastOptions,
    pub(super) except_socket: Option<Arc<str>>,
    pub(super) only_socket: Option<Arc<str>>,
}

impl Target {
    /// Every socket of `namespace`.
    pub(super) fn namespace(namespace: Arc<str>) -> Target {
        Target {
            namespace,
            options: BroadcastOptions::default(),
            except_socket: None,
            only_socket: None,
        }
    }

    /// The socket with this id only.
    pub(super) fn socket(namespace: Arc<str>, id: Arc<str>) -> Target {
        Target {
            only_socket: Some(id),
            ..Target::namespace(namespace)
        }
    }
}

/// One socket reached: its client and the client's connection.
pub(super) type Receiver = (Sid, Arc<dyn Conn>);

/// One packet as queued: its Engine.IO messages (the text, then each
/// attachment), and whether it may be dropped for a client that is behind.
pub(super) struct Queued {
    pub(super) messages: Vec<Data>,
    pub(super) volatile: bool,
}

/// Packets for the same receivers, in the order they were emitted.
pub(super) struct Group {
    target: Target,
    /// The server's membership count when `receivers` were resolved.
    membership: u64,
    pub(super) receivers: Vec<Receiver>,
    pub(super) packets: Vec<Queued>,
}

/// The emits of the batch in progress, waiting to be queued.
#[derive(Default)]
pub(super) struct Outbox {
    /// The thread handling the batch, and how deep its batches are nested.
    owner: Option<(ThreadId, usize)>,
    groups: Vec<Group>,
    /// Receivers over all `groups`.
    receivers: usize,
}

impl Outbox {
    /// Opens a batch on this thread, or nests one in the batch it already
    /// has open. Returns false, and opens nothing, when another thread has a
    /// batch open: this thread's emits are then queued at once.
    pub(super) fn open(&mut self) -> bool {
        let me = thread::current().id();
        match &mut self.owner {
            None => {
                self.owner = Some((me, 1));
                true
            }
            Some((owner, depth)) if *owner == me => {
                *depth += 1;
                true
            }
            Some(_) => false,
        }
    }

    /// Closes the batch [`open`](Self::open)ed. Returns true when it was
    /// the outermost one: the outbox must then be flushed.
    pub(super) fn close(&mut self) -> bool {
        match &mut self.owner {
            Some((_, depth)) if *depth > 1 => {
                *depth -= 1;
                false
            }
            _ => {
                self.owner = None;
                true
            }
        }
    }

    /// Whether emits made on this thread wait here.
    pub(super) fn is_open_here(&self) -> bool {
        matches!(self.owner, Some((owner, _)) if owner == thread::current().id())
    }

    /// Adds a packet to the last group when it has the same target and no
    /// membership changed since its receivers were resolved; returns how many
    /// receivers it has. Gives the packet back otherwise: the caller then
    /// resolves the receivers and calls [`push`](Self::push).
    pub(super) fn append(
        &mut self,
        target: &Target,
        membership: u64,
        packet: Queued,
    ) -> Result<usize, Queued> {
        match self.groups.last_mut() {
            Some(group)
                if group.membership == membership
                    && group.packets.len() < MAX_PACKETS
                    && group.target == *target =>
            {
                group.packets.push(packet);
                Ok(group.receivers.len())
            }
            _ => Err(packet),
        }
    }

    /// Whether `receivers` more would take the outbox past [`MAX_RECEIVERS`]:
    /// it must be flushed first.
    pub(super) fn is_full_for(&self, receivers: usize) -> bool {
        self.receivers > 0 && self.receivers + receivers > MAX_RECEIVERS
    }

    /// Starts a group with its receivers resolved now.
    pub(super) fn push(
        &mut self,
        target: Target,
        membership: u64,
        receivers: Vec<Receiver>,
        packet: Queued,
    ) {
        self.receivers += receivers.len();
        self.groups.push(Group {
            target,
            membership,
            receivers,
            packets: vec![packet],
        });
    }

    /// Takes every group, in order, for queueing; the batch stays open.
    /// Hand the emptied list back with [`recycle`](Self::recycle).
    pub(super) fn take(&mut self) -> Vec<Group> {
        self.receivers = 0;
        std::mem::take(&mut self.groups)
    }

    /// Keeps the list [`take`](Self::take) gave, emptied, for the next
    /// batch: one allocation the less per batch.
    pub(super) fn recycle(&mut self, mut groups: Vec<Group>) {
        groups.clear();
        if self.groups.is_empty() && groups.capacity() <= 64 {
            self.groups = groups;
        }
    }

    /// Whether nothing waits.
    pub(super) fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet() -> Queued {
        Queued {
            messages: vec![Data::from("2[\"e\"]".to_owned())],
            volatile: false,
        }
    }

    #[test]
    fn emits_to_the_same_target_share_a_group_until_a_membership_changes() {
        let mut outbox = Outbox::default();
        let all = Target::namespace("/".into());
        assert!(outbox.append(&all, 0, packet()).is_err());
        outbox.push(all.clone(), 0, Vec::new(), packet());
        assert_eq!(outbox.append(&all, 0, packet()).ok(), Some(0));
        // Another target, or the same after a join: a new group.
        let one = Target::socket("/".into(), "a".into());
        assert!(outbox.append(&one, 0, packet()).is_err());
        assert!(outbox.append(&all, 1, packet()).is_err());
        let groups = outbox.take();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].packets.len(), 2);
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_group_holds_at_most_max_packets() {
        let mut outbox = Outbox::default();
        let all = Target::namespace("/".into());
        outbox.push(all.clone(), 0, Vec::new(), packet());
        for _ in 1..MAX_PACKETS {
            assert!(outbox.append(&all, 0, packet()).is_ok());
        }
        assert!(outbox.append(&all, 0, packet()).is_err());
    }

    #[test]
    fn batches_nest_on_one_thread_and_exclude_others() {
        let outbox = std::sync::Mutex::new(Outbox::default());
        let mut here = outbox.lock().unwrap();
        assert!(!here.is_open_here());
        assert!(here.open());
        assert!(here.open());
        assert!(here.is_open_here());
        drop(here);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut there = outbox.lock().unwrap();
                assert!(!there.is_open_here());
                assert!(!there.open(), "another thread's batch is open");
            });
        });
        let mut here = outbox.lock().unwrap();
        assert!(!here.close(), "the inner batch ends, the outer goes on");
        assert!(here.is_open_here());
        assert!(here.close());
        assert!(!here.is_open_here());
    }
}
