//! The adapter: where a namespace keeps its room memberships and how a
//! broadcast finds its receivers.
//!
//! In the reference server every namespace has an adapter
//! (`socket.io-adapter`'s in-memory `Adapter`, or the Redis, Postgres... ones
//! that share broadcasts between server processes). siobridge draws the same
//! line: the [`SocketIo`](super::SocketIo) server calls only this trait to
//! record who is in which room and to resolve a broadcast's receivers, so a
//! shared adapter can replace [`InMemoryAdapter`] without touching handlers.
//!
//! An adapter answers for the sockets of this process. One that also serves
//! other processes (a remote adapter: Redis, as `@socket.io/redis-adapter`)
//! sits behind the same trait:
//! - **local targets**: [`Adapter::targets`] resolves a broadcast among this
//!   process's sockets, as now;
//! - **remote publish**: after a broadcast was delivered here, the layer
//!   above calls [`Adapter::publish`] with the packet and its full
//!   [`BroadcastOptions`] (the sender's own id already among `except` for
//!   `socket.broadcast`), unless the emit was marked local; a shared adapter
//!   sends it to the other nodes, and delivers what the other nodes publish
//!   through the namespace's ordinary emit operators
//!   ([`SocketIo::of`](crate::app::SocketIo::of));
//! - **remote requests** (the reference's `fetchSockets`, `serverSideEmit`,
//!   `socketsJoin`, broadcasts with acks across nodes) are requests and
//!   answers between adapters: they need a way to wait for answers, which
//!   belongs to the adapter itself (it owns its connection and tasks), not
//!   to this trait's synchronous methods; the application layer will ask
//!   them through its own async calls when a remote adapter exists.
//!
//! The adapter is called with its namespace's lock held (for reading in
//! [`targets`](Adapter::targets), [`rooms_of`](Adapter::rooms_of) and
//! [`publish`](Adapter::publish), for writing otherwise): it must not call
//! back into the server, and [`publish`](Adapter::publish) must only queue.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::packet::Packet;

/// Which sockets of a namespace a broadcast reaches: the rooms it goes to
/// (none means every socket of the namespace) and the rooms it skips.
///
/// These are the `rooms` and `except` of the reference adapter's
/// `BroadcastOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Reach the sockets in any of these rooms; empty means every socket.
    pub rooms: Vec<String>,
    /// Leave out the sockets in any of these rooms.
    pub except: Vec<String>,
}

/// Room membership and broadcast resolution for one namespace.
///
/// Socket ids are shared `Arc<str>` so that an adapter can keep them without
/// copying.
pub trait Adapter: Send + Sync + 'static {
    /// A socket joined the namespace. It is also put in the room named by its
    /// own id by a following [`join`](Adapter::join), as the reference does.
    fn add_socket(&mut self, id: &Arc<str>);

    /// A socket left the namespace: forget it and every room it was in.
    fn remove_socket(&mut self, id: &str);

    /// Puts socket `id` in `room` (a no-op when it already is).
    fn join(&mut self, id: &Arc<str>, room: &str);

    /// Takes socket `id` out of `room` (a no-op when it is not in it).
    fn leave(&mut self, id: &str, room: &str);

    /// The rooms socket `id` is in, in no particular order.
    fn rooms_of(&self, id: &str) -> Vec<String>;

    /// The sockets a broadcast with `options` reaches, each once, in no
    /// particular order.
    fn targets(&self, options: &BroadcastOptions) -> Vec<Arc<str>>;

    /// A broadcast of this process, delivered to its own sockets: an adapter
    /// shared by several processes publishes it to the others (the reference
    /// adapter's `broadcast`, which delivers locally and publishes). It must
    /// only queue, never block. By default nothing: one process.
    fn publish(&self, packet: &Packet, options: &BroadcastOptions) {
        let _ = (packet, options);
    }

    /// Whether [`publish`](Adapter::publish) does anything. An adapter of
    /// one process says no, and a broadcast then skips building the
    /// [`Packet`] it would be given. By default yes.
    fn publishes(&self) -> bool {
        true
    }

    /// [`publish`](Adapter::publish) of a broadcast that was `volatile`
    /// (the reference's `BroadcastFlags.volatile`, which travels with the
    /// broadcast to the other nodes). By default the same as `publish`.
    fn publish_volatile(&self, packet: &Packet, options: &BroadcastOptions, volatile: bool) {
        let _ = volatile;
        self.publish(packet, options);
    }
}

/// The default adapter: memberships in two maps, room to sockets and socket
/// to rooms, kept in step.
#[derive(Debug, Default)]
pub struct InMemoryAdapter {
    /// room → the sockets in it. Empty rooms are removed.
    rooms: HashMap<Arc<str>, HashSet<Arc<str>>>,
    /// socket → the rooms it is in; every socket of the namespace has an
    /// entry, so this is also the namespace's member list.
    sockets: HashMap<Arc<str>, HashSet<Arc<str>>>,
}

impl InMemoryAdapter {
    /// An adapter with no sockets.
    pub fn new() -> InMemoryAdapter {
        InMemoryAdapter::default()
    }
}

impl Adapter for InMemoryAdapter {
    /// One process: nothing to publish.
    fn publishes(&self) -> bool {
        false
    }

    fn add_socket(&mut self, id: &Arc<str>) {
        self.sockets.entry(id.clone()).or_default();
    }

    fn remove_socket(&mut self, id: &str) {
        let Some(rooms) = self.sockets.remove(id) else {
            return;
        };
        for room in rooms {
            if let Some(members) = self.rooms.get_mut(&room) {
                members.remove(id);
                if members.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
    }

    fn join(&mut self, id: &Arc<str>, room: &str) {
        let Some(rooms) = self.sockets.get_mut(id) else {
            return; // not (or no longer) in this namespace
        };
        let room: Arc<str> = match self.rooms.get_key_value(room) {
            Some((name, _)) => name.clone(),
            None => Arc::from(room),
        };
        rooms.insert(room.clone());
        self.rooms.entry(room).or_default().insert(id.clone());
    }

    fn leave(&mut self, id: &str, room: &str) {
        if let Some(rooms) = self.sockets.get_mut(id) {
            rooms.remove(room);
        }
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    fn rooms_of(&self, id: &str) -> Vec<String> {
        self.sockets
            .get(id)
            .map(|rooms| rooms.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    fn targets(&self, options: &BroadcastOptions) -> Vec<Arc<str>> {
        let excluded: HashSet<&Arc<str>> = options
            .except
            .iter()
            .filter_map(|room| self.rooms.get(room.as_str()))
            .flatten()
            .collect();
        if options.rooms.is_empty() {
            return self
                .sockets
                .keys()
                .filter(|id| !excluded.contains(id))
                .cloned()
                .collect();
        }
        let mut seen = HashSet::new();
        options
            .rooms
            .iter()
            .filter_map(|room| self.rooms.get(room.as_str()))
            .flatten()
            .filter(|id| !excluded.contains(id) && seen.insert(*id))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(mut v: Vec<Arc<str>>) -> Vec<String> {
        v.sort();
        v.into_iter().map(|s| s.to_string()).collect()
    }

    fn options(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|s| s.to_string()).collect(),
            except: except.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn rooms_are_unions_and_except_removes() {
        let mut adapter = InMemoryAdapter::new();
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        for id in [&a, &b, &c] {
            adapter.add_socket(id);
        }
        adapter.join(&a, "r1");
        adapter.join(&b, "r1");
        adapter.join(&b, "r2");
        adapter.join(&c, "r2");
        assert_eq!(ids(adapter.targets(&options(&[], &[]))), ["a", "b", "c"]);
        assert_eq!(
            ids(adapter.targets(&options(&["r1", "r2"], &[]))),
            ["a", "b", "c"]
        );
        assert_eq!(ids(adapter.targets(&options(&["r1"], &["r2"]))), ["a"]);
        assert_eq!(ids(adapter.targets(&options(&[], &["r1"]))), ["c"]);
        assert!(adapter.targets(&options(&["nope"], &[])).is_empty());
    }

    #[test]
    fn leaving_and_removing_forget_the_socket() {
        let mut adapter = InMemoryAdapter::new();
        let a: Arc<str> = "a".into();
        adapter.add_socket(&a);
        adapter.join(&a, "r");
        adapter.leave(&a, "r");
        assert!(adapter.rooms_of("a").is_empty());
        assert!(adapter.rooms.is_empty(), "an empty room is dropped");
        adapter.join(&a, "r");
        adapter.remove_socket("a");
        assert!(adapter.rooms.is_empty() && adapter.sockets.is_empty());
        adapter.join(&a, "r");
        assert!(adapter.rooms.is_empty(), "a removed socket cannot join");
    }
}
