//! Profile `hubtel`: Hubtel Realtime channels and rooms with presence
//! (spec §2).
//!
//! Clients send envelopes (§2.1): `{data: {message, roomId, roomChannel},
//! time, clientId, source: {..., channel}}`, forwarded unchanged. A channel
//! is named by the envelope's *channel id*; a room by its *room key*, the
//! pair (channel id, `data.roomId`). Channel and room memberships are
//! independent (R-B2).
//!
//! | event in | what happens | spec |
//! |---|---|---|
//! | `join-channel` | `join-channel` (the envelope) then `online-users` to the channel, joiner included | B-e1, B-e5, B-e7 |
//! | `<channel id>` | the payload, to the channel's members, sender included; members only | B-e2 |
//! | `leave-channel` | `leave-channel` then `online-users` to the remaining members | B-e3, B-e6, B-e7 |
//! | `join-room` | `join-room` then `room-online-users` to the room, joiner included | B-r1, B-r4, B-r6 |
//! | `notify-room` | the envelope as `notify-room` to the room's members, sender included; members only | B-r2 |
//! | `leave-room` | `leave-room` to the remaining members | B-r3, B-r5 |
//!
//! A disconnect is a leave of every channel and room, announced with the
//! envelope of the socket's last join (R-B3). Redundant joins and leaves by
//! non-members emit nothing (R-B1); invalid envelopes are ignored (R-B4).
//!
//! With a shared store ([`mount_with_store`], Redis with `--redis`), the
//! counts of B-e7 and B-r6 are the cluster's: each node keeps its own
//! sockets' memberships and envelopes (R-B1, R-B3 need nothing else) and
//! tells the store of every change, which answers the counts after it; the
//! notices then go out, to the members on every node. When the store
//! fails (Redis down) the notices still go out, counting this node's
//! members only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value, json};

use super::store::{BridgeStore, Counts, InMemoryStore, StoreError, StoreFuture, Turns};
use super::{RESERVED_EVENTS, ack, first_object, non_empty_str};
use crate::socketio::{AckSender, Args, Socket, SocketIo};

/// The profile's own event names: no channel may be named after one (§2.1).
const CONTROL_EVENTS: [&str; 7] = [
    "join-channel",
    "leave-channel",
    "join-room",
    "leave-room",
    "notify-room",
    "online-users",
    "room-online-users",
];

/// The channel id of an envelope (§2.1): `data.roomChannel`, else
/// `source.channel`; never a reserved or control name.
fn channel_id(envelope: &Map<String, Value>) -> Option<&str> {
    let from_data = envelope.get("data").and_then(|d| d.get("roomChannel"));
    let from_source = envelope.get("source").and_then(|s| s.get("channel"));
    let id = non_empty_str(from_data).or_else(|| non_empty_str(from_source))?;
    let reserved = RESERVED_EVENTS.contains(&id) || CONTROL_EVENTS.contains(&id);
    (!reserved).then_some(id)
}

/// The room key of an envelope (§2.1): (channel id, `data.roomId`).
fn room_key(envelope: &Map<String, Value>) -> Option<RoomKey> {
    let channel = channel_id(envelope)?;
    let room = non_empty_str(envelope.get("data").and_then(|d| d.get("roomId")))?;
    Some((channel.to_owned(), room.to_owned()))
}

type RoomKey = (String, String);

/// Socket.IO room names for deliveries. The prefixes keep channels, rooms
/// and the rooms named by socket ids apart (R-B2: a room-only member never
/// gets channel messages).
fn channel_room(channel: &str) -> String {
    format!("channel:{channel}")
}

fn room_room((channel, room): &RoomKey) -> String {
    // JSON quoting keeps ("a:b", "c") and ("a", "b:c") apart.
    format!("room:{}", json!([channel, room]))
}

/// Who is where, with the envelope each member joined with (R-B3 announces a
/// disconnect with it).
#[derive(Debug, Default)]
struct Presence {
    /// channel → member socket → its last `join-channel` envelope.
    channels: HashMap<String, BTreeMap<String, Value>>,
    /// room key → member socket → its last `join-room` envelope.
    rooms: HashMap<RoomKey, BTreeMap<String, Value>>,
    /// socket → how many channels it is in (for `total`, R-B5).
    channels_of: HashMap<String, usize>,
}

impl Presence {
    /// Adds `socket` to `channel`; false when it already was a member.
    fn join_channel(&mut self, channel: &str, socket: &str, envelope: Value) -> bool {
        let members = self.channels.entry(channel.to_owned()).or_default();
        if members.contains_key(socket) {
            return false;
        }
        members.insert(socket.to_owned(), envelope);
        *self.channels_of.entry(socket.to_owned()).or_default() += 1;
        true
    }

    /// Removes `socket` from `channel`; its join envelope, if it was in.
    fn leave_channel(&mut self, channel: &str, socket: &str) -> Option<Value> {
        let members = self.channels.get_mut(channel)?;
        let envelope = members.remove(socket)?;
        if members.is_empty() {
            self.channels.remove(channel);
        }
        if let Some(n) = self.channels_of.get_mut(socket) {
            *n -= 1;
            if *n == 0 {
                self.channels_of.remove(socket);
            }
        }
        Some(envelope)
    }

    fn join_room(&mut self, key: &RoomKey, socket: &str, envelope: Value) -> bool {
        let members = self.rooms.entry(key.clone()).or_default();
        if members.contains_key(socket) {
            return false;
        }
        members.insert(socket.to_owned(), envelope);
        true
    }

    fn leave_room(&mut self, key: &RoomKey, socket: &str) -> Option<Value> {
        let members = self.rooms.get_mut(key)?;
        let envelope = members.remove(socket)?;
        if members.is_empty() {
            self.rooms.remove(key);
        }
        Some(envelope)
    }

    fn in_channel(&self, channel: &str, socket: &str) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|m| m.contains_key(socket))
    }

    fn in_room(&self, key: &RoomKey, socket: &str) -> bool {
        self.rooms.get(key).is_some_and(|m| m.contains_key(socket))
    }

    /// B-e7: `{roomChannel, count, total}`; `total` counts distinct sockets
    /// in at least one channel (R-B5).
    fn online_users(&self, channel: &str) -> Value {
        let count = self.channels.get(channel).map_or(0, BTreeMap::len);
        json!({"roomChannel": channel, "count": count, "total": self.channels_of.len()})
    }

    /// B-r6: `{roomChannel, roomId, count}`.
    fn room_online_users(&self, key: &RoomKey) -> Value {
        let count = self.rooms.get(key).map_or(0, BTreeMap::len);
        json!({"roomChannel": key.0, "roomId": key.1, "count": count})
    }

    /// Every channel and room `socket` is in.
    fn memberships(&self, socket: &str) -> (Vec<String>, Vec<RoomKey>) {
        let mut channels: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, m)| m.contains_key(socket))
            .map(|(c, _)| c.clone())
            .collect();
        let mut rooms: Vec<RoomKey> = self
            .rooms
            .iter()
            .filter(|(_, m)| m.contains_key(socket))
            .map(|(k, _)| k.clone())
            .collect();
        channels.sort();
        rooms.sort();
        (channels, rooms)
    }
}

/// One mounted instance: its presence state and the server to emit with.
///
/// The presence lock is held while a change is announced, so that the
/// announcements of concurrent joins and leaves reach every member in the
/// order the changes happened. An emit only queues (it never calls back into
/// handlers), so this cannot deadlock.
struct Hubtel {
    io: SocketIo,
    namespace: String,
    presence: Mutex<Presence>,
    /// Where the cluster-wide counts are, when the store is shared.
    store: Arc<dyn BridgeStore>,
    /// With a shared store: the announcements go out in the order of the
    /// changes they announce.
    turns: Arc<Turns>,
}

/// Serves the profile on `namespace` of `io`, counting this process's
/// sockets.
pub fn mount(io: &SocketIo, namespace: &str) {
    mount_with_store(io, namespace, Arc::new(InMemoryStore::new()));
}

/// Serves the profile on `namespace` of `io`. With a store that is not
/// local (shared by the nodes of a cluster), the counts of B-e7 and B-r6
/// are the store's; an in-memory store changes nothing.
pub fn mount_with_store(io: &SocketIo, namespace: &str, store: Arc<dyn BridgeStore>) {
    let hubtel = Arc::new(Hubtel {
        io: io.clone(),
        namespace: namespace.to_owned(),
        presence: Mutex::new(Presence::default()),
        store,
        turns: Arc::default(),
    });
    if !hubtel.store.is_local() {
        mount_shared(io, hubtel);
        return;
    }
    let ns = io.namespace(namespace);
    let on = |event: &str, f: fn(&Hubtel, &Socket, &Map<String, Value>)| {
        let hubtel = hubtel.clone();
        ns.on(event, move |socket, args, reply| {
            if let Some(envelope) = first_object(&args) {
                f(&hubtel, socket, envelope);
            }
            ack(reply);
        });
    };
    on("join-channel", Hubtel::join_channel);
    on("leave-channel", Hubtel::leave_channel);
    on("join-room", Hubtel::join_room);
    on("leave-room", Hubtel::leave_room);
    on("notify-room", Hubtel::notify_room);
    let h = hubtel.clone();
    ns.on_any(move |socket, event, args, reply| h.post(socket, event, &args, reply));
    // With connection state recovery on, a member that lost its connection
    // stays present while it may come back: its leave notices are sent
    // when its session ends, and never if it recovers.
    let present = hubtel.clone();
    ns.on_disconnect(move |socket, reason| {
        if !socket.may_recover(reason) {
            present.disconnected(socket.id());
        }
    });
    ns.on_session_end(move |id| hubtel.disconnected(id));
}

/// The handlers with a shared store: the changes of membership await the
/// store (in the order the events came: the store takes their turns
/// before the handlers await), the rest is as with local counts.
fn mount_shared(io: &SocketIo, hubtel: Arc<Hubtel>) {
    type Change = fn(&Arc<Hubtel>, &Socket, &Map<String, Value>) -> Option<Work>;
    let ns = io.namespace(&hubtel.namespace);
    let on_change = |event: &str, f: Change| {
        let hubtel = hubtel.clone();
        ns.on_async(event, move |socket, args, reply| {
            let work = first_object(&args).and_then(|e| f(&hubtel, &socket, e));
            async move {
                if let Some(work) = work {
                    let _ = work.await;
                }
                ack(reply);
            }
        });
    };
    on_change("join-channel", Hubtel::join_channel_shared);
    on_change("leave-channel", Hubtel::leave_channel_shared);
    on_change("join-room", Hubtel::join_room_shared);
    on_change("leave-room", Hubtel::leave_room_shared);
    let h = hubtel.clone();
    ns.on("notify-room", move |socket, args, reply| {
        if let Some(envelope) = first_object(&args) {
            h.notify_room(socket, envelope);
        }
        ack(reply);
    });
    let h = hubtel.clone();
    ns.on_any(move |socket, event, args, reply| h.post(socket, event, &args, reply));
    let present = hubtel.clone();
    ns.on_disconnect(move |socket, reason| {
        if !socket.may_recover(reason) {
            present.disconnected_shared(socket.id());
        }
    });
    ns.on_session_end(move |id| hubtel.disconnected_shared(id));
}

/// What a change leaves to do once the store has answered.
type Work = StoreFuture<'static, ()>;

/// The store's room key of `key`: channel and room id, JSON-quoted.
fn store_room(key: &RoomKey) -> String {
    json!([key.0, key.1]).to_string()
}

impl Hubtel {
    fn presence(&self) -> MutexGuard<'_, Presence> {
        self.presence.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn to(&self, room: &str, event: &str, payload: Value) {
        self.io.of(&self.namespace).to(room).emit(event, payload);
    }

    /// B-e1: join, then `join-channel` and `online-users` to the members.
    fn join_channel(&self, socket: &Socket, envelope: &Map<String, Value>) {
        let Some(channel) = channel_id(envelope) else {
            return;
        };
        let envelope = Value::Object(envelope.clone());
        let mut presence = self.presence();
        if !presence.join_channel(channel, socket.id(), envelope.clone()) {
            return; // R-B1
        }
        let room = channel_room(channel);
        socket.join(&room);
        self.to(&room, "join-channel", envelope);
        self.to(&room, "online-users", presence.online_users(channel));
    }

    /// B-e3: leave, then `leave-channel` (this envelope) and `online-users`
    /// to the remaining members.
    fn leave_channel(&self, socket: &Socket, envelope: &Map<String, Value>) {
        let Some(channel) = channel_id(envelope) else {
            return;
        };
        let mut presence = self.presence();
        if presence.leave_channel(channel, socket.id()).is_none() {
            return; // R-B1
        }
        let room = channel_room(channel);
        socket.leave(&room);
        self.to(&room, "leave-channel", Value::Object(envelope.clone()));
        self.to(&room, "online-users", presence.online_users(channel));
    }

    /// B-r1: join, then `join-room` and `room-online-users` to the members.
    fn join_room(&self, socket: &Socket, envelope: &Map<String, Value>) {
        let Some(key) = room_key(envelope) else {
            return;
        };
        let envelope = Value::Object(envelope.clone());
        let mut presence = self.presence();
        if !presence.join_room(&key, socket.id(), envelope.clone()) {
            return; // R-B1
        }
        let room = room_room(&key);
        socket.join(&room);
        self.to(&room, "join-room", envelope);
        self.to(&room, "room-online-users", presence.room_online_users(&key));
    }

    /// B-r3: leave, then `leave-room` to the remaining members (no count:
    /// B-r6 is sent only after a join).
    fn leave_room(&self, socket: &Socket, envelope: &Map<String, Value>) {
        let Some(key) = room_key(envelope) else {
            return;
        };
        let mut presence = self.presence();
        if presence.leave_room(&key, socket.id()).is_none() {
            return; // R-B1
        }
        let room = room_room(&key);
        socket.leave(&room);
        self.to(&room, "leave-room", Value::Object(envelope.clone()));
    }

    /// B-r2: members only, sender included.
    fn notify_room(&self, socket: &Socket, envelope: &Map<String, Value>) {
        let Some(key) = room_key(envelope) else {
            return;
        };
        let presence = self.presence();
        if presence.in_room(&key, socket.id()) {
            self.to(
                &room_room(&key),
                "notify-room",
                Value::Object(envelope.clone()),
            );
        }
    }

    /// B-e2: an event named after a channel is a post to it: the first
    /// argument (any JSON value) to its members, sender included, when the
    /// sender is one.
    fn post(&self, socket: &Socket, event: &str, args: &Args, reply: Option<AckSender>) {
        let reserved = RESERVED_EVENTS.contains(&event) || CONTROL_EVENTS.contains(&event);
        if let Some(payload) = args.first().filter(|_| !reserved) {
            let presence = self.presence();
            if presence.in_channel(event, socket.id()) {
                self.to(&channel_room(event), event, payload.clone());
            }
        }
        ack(reply);
    }

    /// B-e7 from the store's counts, or this node's when the store failed.
    fn counted(channel: &str, counts: Result<Counts, StoreError>, local: Value) -> Value {
        match counts {
            Ok(c) => json!({"roomChannel": channel, "count": c.count, "total": c.total}),
            Err(_) => local,
        }
    }

    /// B-e1 with a shared store: joined here at once, announced with the
    /// cluster's counts.
    fn join_channel_shared(
        self: &Arc<Self>,
        socket: &Socket,
        envelope: &Map<String, Value>,
    ) -> Option<Work> {
        let channel = channel_id(envelope)?.to_owned();
        let envelope = Value::Object(envelope.clone());
        let mut presence = self.presence();
        if !presence.join_channel(&channel, socket.id(), envelope.clone()) {
            return None; // R-B1
        }
        let room = channel_room(&channel);
        socket.join(&room);
        let local = presence.online_users(&channel);
        drop(presence);
        let counts = (self.store.clone()).channel_join(&self.namespace, &channel, socket.id());
        let (this, turn) = (self.clone(), self.turns.take());
        Some(Box::pin(async move {
            let counts = counts.await;
            turn.wait().await;
            this.to(&room, "join-channel", envelope);
            this.to(
                &room,
                "online-users",
                Self::counted(&channel, counts, local),
            );
            Ok(())
        }))
    }

    /// B-e3 with a shared store.
    fn leave_channel_shared(
        self: &Arc<Self>,
        socket: &Socket,
        envelope: &Map<String, Value>,
    ) -> Option<Work> {
        let channel = channel_id(envelope)?.to_owned();
        let mut presence = self.presence();
        presence.leave_channel(&channel, socket.id())?; // R-B1
        let room = channel_room(&channel);
        socket.leave(&room);
        let local = presence.online_users(&channel);
        drop(presence);
        let counts = (self.store.clone()).channel_leave(&self.namespace, &channel, socket.id());
        let (this, envelope) = (self.clone(), Value::Object(envelope.clone()));
        let turn = self.turns.take();
        Some(Box::pin(async move {
            let counts = counts.await;
            turn.wait().await;
            this.to(&room, "leave-channel", envelope);
            this.to(
                &room,
                "online-users",
                Self::counted(&channel, counts, local),
            );
            Ok(())
        }))
    }

    /// B-r1 with a shared store.
    fn join_room_shared(
        self: &Arc<Self>,
        socket: &Socket,
        envelope: &Map<String, Value>,
    ) -> Option<Work> {
        let key = room_key(envelope)?;
        let envelope = Value::Object(envelope.clone());
        let mut presence = self.presence();
        if !presence.join_room(&key, socket.id(), envelope.clone()) {
            return None; // R-B1
        }
        let room = room_room(&key);
        socket.join(&room);
        let local = presence.room_online_users(&key);
        drop(presence);
        let count = (self.store.clone()).room_join(&self.namespace, &store_room(&key), socket.id());
        let (this, turn) = (self.clone(), self.turns.take());
        Some(Box::pin(async move {
            let users = match count.await {
                Ok(count) => json!({"roomChannel": key.0, "roomId": key.1, "count": count}),
                Err(_) => local,
            };
            turn.wait().await;
            this.to(&room, "join-room", envelope);
            this.to(&room, "room-online-users", users);
            Ok(())
        }))
    }

    /// B-r3 with a shared store: announced at once (no count), the store
    /// told.
    fn leave_room_shared(
        self: &Arc<Self>,
        socket: &Socket,
        envelope: &Map<String, Value>,
    ) -> Option<Work> {
        let key = room_key(envelope)?;
        let mut presence = self.presence();
        presence.leave_room(&key, socket.id())?; // R-B1
        let room = room_room(&key);
        socket.leave(&room);
        self.to(&room, "leave-room", Value::Object(envelope.clone()));
        drop(presence);
        Some((self.store.clone()).room_leave(&self.namespace, &store_room(&key), socket.id()))
    }

    /// R-B3 with a shared store: the room notices at once, the channel
    /// notices when the store has the cluster's counts after each leave
    /// (work left to the store: nobody awaits a disconnect).
    fn disconnected_shared(self: &Arc<Self>, socket: &str) {
        let mut presence = self.presence();
        let (channels, rooms) = presence.memberships(socket);
        let mut left = Vec::new();
        for channel in channels {
            if let Some(envelope) = presence.leave_channel(&channel, socket) {
                let local = presence.online_users(&channel);
                let counts = (self.store.clone()).channel_leave(&self.namespace, &channel, socket);
                left.push((channel, envelope, local, counts));
            }
        }
        let mut room_leaves = Vec::new();
        for key in rooms {
            if let Some(envelope) = presence.leave_room(&key, socket) {
                self.to(&room_room(&key), "leave-room", envelope);
                let store_key = store_room(&key);
                room_leaves.push((self.store.clone()).room_leave(
                    &self.namespace,
                    &store_key,
                    socket,
                ));
            }
        }
        drop(presence);
        let (this, turn) = (self.clone(), self.turns.take());
        self.store.detach(Box::pin(async move {
            let mut answers = Vec::new();
            for (channel, envelope, local, counts) in left {
                answers.push((channel, envelope, local, counts.await));
            }
            turn.wait().await;
            for (channel, envelope, local, counts) in answers {
                let room = channel_room(&channel);
                this.to(&room, "leave-channel", envelope);
                this.to(
                    &room,
                    "online-users",
                    Self::counted(&channel, counts, local),
                );
            }
            for leave in room_leaves {
                let _ = leave.await;
            }
            Ok(())
        }));
    }

    /// R-B3: a disconnect leaves every channel and room, announced to the
    /// remaining members with the socket's last join envelope. The Socket.IO
    /// server has already taken the socket out of its delivery rooms.
    fn disconnected(&self, socket: &str) {
        let mut presence = self.presence();
        let (channels, rooms) = presence.memberships(socket);
        let mut left = Vec::new();
        for channel in channels {
            if let Some(envelope) = presence.leave_channel(&channel, socket) {
                left.push((channel, envelope));
            }
        }
        // `total` in these notices already counts the socket as gone.
        for (channel, envelope) in left {
            let room = channel_room(&channel);
            self.to(&room, "leave-channel", envelope);
            self.to(&room, "online-users", presence.online_users(&channel));
        }
        let mut seen = HashSet::new();
        for key in rooms {
            if seen.insert(key.clone())
                && let Some(envelope) = presence.leave_room(&key, socket)
            {
                self.to(&room_room(&key), "leave-room", envelope);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The spec's §2.4 scenarios on the in-memory test kit.

    use super::*;
    use crate::socketio::Config;
    use crate::socketio::testing::{ManualClock, TestClient};

    fn server() -> SocketIo {
        let io = SocketIo::new(
            Config::default().with_rng_seed([9; 32]),
            ManualClock::new().clock(),
        );
        mount(&io, "/");
        io
    }

    fn socket(io: &SocketIo) -> (TestClient, String) {
        let client = TestClient::open(io);
        let id = client.connect("/", None).expect("connects");
        (client, id)
    }

    /// `env(S, ch, room, msg, user)` of §2.4.
    fn env(id: &str, ch: &str, room: Option<&str>, msg: &str, user: &str) -> Value {
        json!({
            "data": {"message": msg, "roomId": room, "roomChannel": ch},
            "time": "2021-09-01T12:00:00.000Z",
            "clientId": id,
            "source": {"platform": "web", "appName": "Sample App Name", "appVersion": "1.0.0",
                       "clientId": id, "userName": user, "channel": ch},
        })
    }

    fn send(client: &TestClient, event: &str, payload: Value) {
        client.emit("/", event, json!([payload]));
    }

    fn ev(name: &str, payload: Value) -> (String, Value) {
        (name.to_owned(), payload)
    }

    #[test]
    fn channel_join_post_leave_and_disconnect() {
        let io = server();
        let (a, a_id) = socket(&io);
        let (b, b_id) = socket(&io);
        let (c, c_id) = socket(&io);
        let (d, _) = socket(&io);

        let ea = env(&a_id, "ch1", None, "", "a");
        send(&a, "join-channel", ea.clone());
        assert_eq!(
            a.messages("/"),
            [
                ev("join-channel", ea),
                ev(
                    "online-users",
                    json!({"roomChannel": "ch1", "count": 1, "total": 1})
                )
            ]
        );
        let eb = env(&b_id, "ch1", None, "", "b");
        send(&b, "join-channel", eb.clone());
        let both = [
            ev("join-channel", eb.clone()),
            ev(
                "online-users",
                json!({"roomChannel": "ch1", "count": 2, "total": 2}),
            ),
        ];
        assert_eq!(a.messages("/"), both);
        assert_eq!(b.messages("/"), both);
        send(&c, "join-channel", env(&c_id, "ch2", None, "", "c"));
        c.messages("/");
        assert!(a.messages("/").is_empty(), "ch2 news stays in ch2");

        let hello = env(&a_id, "ch1", None, "hello", "a");
        send(&a, "ch1", hello.clone());
        assert_eq!(a.messages("/"), [ev("ch1", hello.clone())]);
        assert_eq!(b.messages("/"), [ev("ch1", hello)]);
        assert!(c.messages("/").is_empty() && d.messages("/").is_empty());
        send(&d, "ch1", env("d", "ch1", None, "spoof", "d"));
        assert!(a.messages("/").is_empty(), "non-members cannot post");

        let leave = env(&b_id, "ch1", None, "", "b");
        send(&b, "leave-channel", leave.clone());
        assert_eq!(
            a.messages("/"),
            [
                ev("leave-channel", leave),
                ev(
                    "online-users",
                    json!({"roomChannel": "ch1", "count": 1, "total": 2})
                )
            ]
        );
        assert!(b.messages("/").is_empty());

        send(&b, "join-channel", eb.clone());
        a.messages("/");
        b.messages("/");
        send(&a, "join-channel", env(&a_id, "ch1", None, "", "a"));
        send(&a, "leave-channel", env(&a_id, "ch9", None, "", "a"));
        assert!(
            a.messages("/").is_empty() && b.messages("/").is_empty(),
            "no-ops emit nothing"
        );
        b.close();
        assert_eq!(
            a.messages("/"),
            [
                ev("leave-channel", eb),
                ev(
                    "online-users",
                    json!({"roomChannel": "ch1", "count": 1, "total": 2})
                )
            ]
        );
    }

    #[test]
    fn rooms_are_separate_from_channels() {
        let io = server();
        let (a, a_id) = socket(&io);
        let (b, b_id) = socket(&io);
        let (c, c_id) = socket(&io);
        let ra = env(&a_id, "ch1", Some("r1"), "", "a");
        send(&a, "join-room", ra.clone());
        assert_eq!(
            a.messages("/"),
            [
                ev("join-room", ra),
                ev(
                    "room-online-users",
                    json!({"roomChannel": "ch1", "roomId": "r1", "count": 1})
                )
            ]
        );
        let rb = env(&b_id, "ch1", Some("r1"), "", "b");
        send(&b, "join-room", rb.clone());
        assert_eq!(a.messages("/").len(), 2);
        b.messages("/");
        send(&c, "join-room", env(&c_id, "ch2", Some("r1"), "", "c"));
        c.messages("/");

        let hi = env(&a_id, "ch1", Some("r1"), "hi", "a");
        send(&a, "notify-room", hi.clone());
        assert_eq!(a.messages("/"), [ev("notify-room", hi.clone())]);
        assert_eq!(b.messages("/"), [ev("notify-room", hi)]);
        assert!(c.messages("/").is_empty(), "same roomId, other channel");

        // B is in channel ch1, A only in its room: channel posts skip A.
        send(&b, "join-channel", env(&b_id, "ch1", None, "", "b"));
        b.messages("/");
        send(&b, "ch1", env(&b_id, "ch1", None, "x", "b"));
        assert!(a.messages("/").is_empty());
        b.messages("/");

        b.close();
        assert_eq!(a.messages("/"), [ev("leave-room", rb)]);
    }

    /// Two servers over one shared store: the counts are both servers'.
    #[test]
    fn a_shared_store_counts_the_members_of_every_node() {
        use crate::bridge::store::{InMemoryStore, SharedForTests};
        let store: Arc<dyn BridgeStore> = Arc::new(SharedForTests(Arc::new(InMemoryStore::new())));
        let node = |seed| {
            let io = SocketIo::new(
                Config::default().with_rng_seed([seed; 32]),
                ManualClock::new().clock(),
            );
            mount_with_store(&io, "/", store.clone());
            io
        };
        let (one, two) = (node(1), node(2));
        let (a, a_id) = socket(&one);
        let (b, b_id) = socket(&two);
        let (c, c_id) = socket(&two);
        let ea = env(&a_id, "ch1", None, "", "a");
        send(&a, "join-channel", ea.clone());
        let online = |count, total| {
            ev(
                "online-users",
                json!({"roomChannel": "ch1", "count": count, "total": total}),
            )
        };
        assert_eq!(a.messages("/"), [ev("join-channel", ea), online(1, 1)]);
        let eb = env(&b_id, "ch1", None, "", "b");
        send(&b, "join-channel", eb.clone());
        assert_eq!(
            b.messages("/"),
            [ev("join-channel", eb.clone()), online(2, 2)]
        );
        send(&b, "join-channel", eb.clone());
        assert!(b.messages("/").is_empty(), "R-B1 still holds");
        send(&c, "join-channel", env(&c_id, "ch2", None, "", "c"));
        assert_eq!(c.messages("/")[1].1["total"], 3);
        let ra = env(&a_id, "ch1", Some("r1"), "", "a");
        send(&a, "join-room", ra.clone());
        a.messages("/");
        let rb = env(&b_id, "ch1", Some("r1"), "", "b");
        send(&b, "join-room", rb.clone());
        assert_eq!(
            b.messages("/"),
            [
                ev("join-room", rb),
                ev(
                    "room-online-users",
                    json!({"roomChannel": "ch1", "roomId": "r1", "count": 2})
                )
            ]
        );
        // c's disconnect on node two: b's next join on node one counts without it.
        c.close();
        send(&a, "leave-channel", env(&a_id, "ch1", None, "", "a"));
        assert_eq!(a.messages("/"), []);
        b.close();
        let (d, d_id) = socket(&one);
        let ed = env(&d_id, "ch1", None, "", "d");
        send(&d, "join-channel", ed.clone());
        assert_eq!(d.messages("/"), [ev("join-channel", ed), online(1, 1)]);
    }

    #[test]
    fn invalid_envelopes_are_ignored() {
        let io = server();
        let (a, a_id) = socket(&io);
        send(&a, "join-channel", json!({"data": {"roomChannel": ""}}));
        send(&a, "join-channel", env(&a_id, "join-room", None, "", "a"));
        send(
            &a,
            "join-channel",
            env(&a_id, "online-users", None, "", "a"),
        );
        send(&a, "join-room", env(&a_id, "ch1", None, "", "a"));
        send(&a, "join-channel", json!("ch1"));
        assert!(a.messages("/").is_empty());
        assert!(!a.is_closed());
        // §2.4 #14: falls back to source.channel.
        let mut e = env(&a_id, "ch3", None, "", "a");
        e["data"]["roomChannel"] = json!("");
        send(&a, "join-channel", e);
        let events = a.messages("/");
        assert_eq!(events[1].1["roomChannel"], "ch3");
    }
}
