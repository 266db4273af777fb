//! Where the bridge profiles keep their state: in this process by default
//! ([`InMemoryStore`]), or shared by every node of a cluster (the binary's
//! Redis-backed store, `server::redis_store`, with `--redis`).
//!
//! Chat's room histories (spec §4, D-e5), hubtel's presence counts (§2,
//! B-e7 and B-r6) and digital-auto's provider registry (§1, A-e1) go
//! through the store; docs/cluster.md "Next slices" lists what directual
//! would keep.
//! A store never blocks: every call returns a future, and a store that can
//! fail (Redis down) answers [`StoreError`] within its own timeout, so a
//! handler never hangs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// What a store call returns: a future of the answer.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store call that failed (the shared store unreachable, a bad reply);
/// the profile logs nothing itself and handles the one event locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bridge store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// The state of the bridge profiles.
pub trait BridgeStore: Send + Sync + fmt::Debug {
    /// Whether every future this store returns is ready when first polled
    /// (the in-memory store): the profiles then handle the event inline,
    /// in the order its events came, exactly as without a store.
    fn is_local(&self) -> bool {
        false
    }

    /// Chat (D-e5): appends `value` to the history `key` (namespace and
    /// room), keeps only the last `max` entries and answers the whole
    /// history, oldest first.
    fn history_push(&self, key: &str, value: Value, max: usize) -> StoreFuture<'_, Vec<Value>>;

    /// Chat: forgets history `key` (its room has no members).
    fn history_forget(&self, key: &str) -> StoreFuture<'_, ()>;

    /// Whether the histories are shared with other nodes, so that a room
    /// with no member on this node may still have members elsewhere (its
    /// history is then bounded by `max` and the store's own expiry, not
    /// forgotten when this node's members leave).
    fn shared(&self) -> bool {
        false
    }

    /// Hubtel (B-e1, B-e7): adds `socket` to `channel` of `namespace` and
    /// answers the counts after the change: the channel's members and the
    /// distinct sockets in at least one channel of the namespace (R-B5).
    fn channel_join(
        self: Arc<Self>,
        namespace: &str,
        channel: &str,
        socket: &str,
    ) -> StoreFuture<'static, Counts>;

    /// Hubtel (B-e3, B-e7, R-B3): takes `socket` out of `channel` and
    /// answers the counts after the change.
    fn channel_leave(
        self: Arc<Self>,
        namespace: &str,
        channel: &str,
        socket: &str,
    ) -> StoreFuture<'static, Counts>;

    /// Hubtel (B-r1, B-r6): adds `socket` to room `room` (its key, channel
    /// and room id, as one string) and answers the room's member count.
    fn room_join(
        self: Arc<Self>,
        namespace: &str,
        room: &str,
        socket: &str,
    ) -> StoreFuture<'static, usize>;

    /// Hubtel (B-r3, R-B3): takes `socket` out of room `room`.
    fn room_leave(
        self: Arc<Self>,
        namespace: &str,
        room: &str,
        socket: &str,
    ) -> StoreFuture<'static, ()>;

    /// Digital-auto (A-e1, R-A2): `provider` of `namespace` is now held by
    /// `socket`, whoever held it before.
    fn provider_register(
        self: Arc<Self>,
        namespace: &str,
        provider: &str,
        socket: &str,
    ) -> StoreFuture<'static, ()>;

    /// Digital-auto (A-e3, R-A6): the socket holding each of `providers`,
    /// in order (`None` for an id nobody holds).
    fn provider_holders(
        self: Arc<Self>,
        namespace: &str,
        providers: &[String],
    ) -> StoreFuture<'static, Vec<Option<String>>>;

    /// Digital-auto (R-A2, on disconnect): forgets each of `providers` that
    /// is still held by `socket` (compare and delete: an id taken over by
    /// another socket stays).
    fn provider_release(
        self: Arc<Self>,
        namespace: &str,
        socket: &str,
        providers: &[String],
    ) -> StoreFuture<'static, ()>;

    /// Runs `work` to its end without anyone awaiting it (what a
    /// disconnect leaves to do with a shared store). The in-memory store
    /// runs it in place: its futures are ready at once.
    fn detach(&self, work: StoreFuture<'static, ()>) {
        let _ = now(work);
    }

    /// Directual (C-h1): records session `id` naming `binding` (`{app_id,
    /// user_id}`) for every node, unless the store already holds `max`
    /// sessions and `id` is not one of them; says whether it was recorded.
    /// A store that is not [`shared`](Self::shared) keeps nothing and says
    /// yes: the profile keeps its sessions in memory itself.
    fn session_put(&self, id: &str, binding: Value, max: usize) -> StoreFuture<'_, bool> {
        let _ = (id, binding, max);
        Box::pin(std::future::ready(Ok(true)))
    }

    /// Directual (C-s1): the binding of session `id`, when any node
    /// recorded it (never, for a store that is not shared).
    fn session_get(&self, id: &str) -> StoreFuture<'_, Option<Value>> {
        let _ = id;
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// Hubtel's counts after a channel change (B-e7): the channel's members
/// and the distinct sockets in at least one channel of the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Sockets in the channel (`count`).
    pub count: usize,
    /// Sockets in at least one channel (`total`).
    pub total: usize,
}

/// Turns, taken synchronously and served in the order they were taken: a
/// FIFO lock whose place in line is held before anything awaits. A shared
/// store sends its commands in the order its calls were made with one; a
/// profile emits the answers of its events in their order with another.
#[derive(Debug, Default)]
pub struct Turns {
    state: std::sync::Mutex<TurnState>,
}

#[derive(Debug, Default)]
struct TurnState {
    next: u64,
    serving: u64,
    /// Turns given up before they were served (their call was dropped).
    skipped: std::collections::BTreeSet<u64>,
    waiting: Vec<std::task::Waker>,
}

/// One place in line; dropping it ends the turn (or gives it up, when it
/// was never served: the next ones are not held up).
#[derive(Debug)]
pub struct Turn {
    turns: Arc<Turns>,
    number: u64,
}

impl Turns {
    fn state(&self) -> std::sync::MutexGuard<'_, TurnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many turns were taken so far (the number the next one gets).
    pub fn taken(&self) -> u64 {
        self.state().next
    }

    /// The next place in line.
    pub fn take(self: &Arc<Self>) -> Turn {
        let mut state = self.state();
        let number = state.next;
        state.next += 1;
        Turn {
            turns: self.clone(),
            number,
        }
    }
}

impl Turn {
    /// Its place in line: 0 for the first turn taken, then 1, 2...
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Waits until every earlier turn has ended.
    pub async fn wait(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.turns.state();
            if state.serving == self.number {
                std::task::Poll::Ready(())
            } else {
                state.waiting.push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut guard = self.turns.state();
        let state = &mut *guard;
        if state.serving != self.number {
            state.skipped.insert(self.number);
            return;
        }
        state.serving += 1;
        while state.skipped.remove(&state.serving) {
            state.serving += 1;
        }
        for waker in std::mem::take(&mut state.waiting) {
            waker.wake();
        }
    }
}

/// The store of a single process: everything in memory, every answer
/// ready at once. The default.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    histories: Mutex<HashMap<String, VecDeque<Value>>>,
    /// Hubtel: set key → members; `online` key → socket → its channels.
    sets: Mutex<HashMap<String, HashSet<String>>>,
    online: Mutex<HashMap<String, HashMap<String, usize>>>,
    /// Digital-auto: namespace → provider id → socket.
    providers: Mutex<HashMap<String, HashMap<String, String>>>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> InMemoryStore {
        InMemoryStore::default()
    }

    fn histories(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Value>>> {
        lock(&self.histories)
    }

    fn counts(&self, namespace: &str, channel_key: &str) -> Counts {
        Counts {
            count: lock(&self.sets).get(channel_key).map_or(0, HashSet::len),
            total: lock(&self.online).get(namespace).map_or(0, HashMap::len),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl BridgeStore for InMemoryStore {
    fn is_local(&self) -> bool {
        true
    }

    fn history_push(&self, key: &str, value: Value, max: usize) -> StoreFuture<'_, Vec<Value>> {
        let mut histories = self.histories();
        let history = histories.entry(key.to_owned()).or_default();
        history.push_back(value);
        while history.len() > max {
            history.pop_front();
        }
        let all: Vec<Value> = history.iter().cloned().collect();
        Box::pin(std::future::ready(Ok(all)))
    }

    fn history_forget(&self, key: &str) -> StoreFuture<'_, ()> {
        self.histories().remove(key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn channel_join(
        self: Arc<Self>,
        namespace: &str,
        channel: &str,
        socket: &str,
    ) -> StoreFuture<'static, Counts> {
        let key = format!("{namespace}#channel#{channel}");
        let added = lock(&self.sets)
            .entry(key.clone())
            .or_default()
            .insert(socket.to_owned());
        if added {
            *lock(&self.online)
                .entry(namespace.to_owned())
                .or_default()
                .entry(socket.to_owned())
                .or_default() += 1;
        }
        ready(self.counts(namespace, &key))
    }

    fn channel_leave(
        self: Arc<Self>,
        namespace: &str,
        channel: &str,
        socket: &str,
    ) -> StoreFuture<'static, Counts> {
        let key = format!("{namespace}#channel#{channel}");
        let removed = lock(&self.sets)
            .get_mut(&key)
            .is_some_and(|m| m.remove(socket));
        if removed {
            let mut online = lock(&self.online);
            let of = online.entry(namespace.to_owned()).or_default();
            if let Some(n) = of.get_mut(socket) {
                *n -= 1;
                if *n == 0 {
                    of.remove(socket);
                }
            }
        }
        lock(&self.sets).retain(|_, m| !m.is_empty());
        ready(self.counts(namespace, &key))
    }

    fn room_join(
        self: Arc<Self>,
        namespace: &str,
        room: &str,
        socket: &str,
    ) -> StoreFuture<'static, usize> {
        let mut sets = lock(&self.sets);
        let members = sets.entry(format!("{namespace}#room#{room}")).or_default();
        members.insert(socket.to_owned());
        ready(members.len())
    }

    fn room_leave(
        self: Arc<Self>,
        namespace: &str,
        room: &str,
        socket: &str,
    ) -> StoreFuture<'static, ()> {
        let mut sets = lock(&self.sets);
        let key = format!("{namespace}#room#{room}");
        if let Some(members) = sets.get_mut(&key) {
            members.remove(socket);
            if members.is_empty() {
                sets.remove(&key);
            }
        }
        ready(())
    }

    fn provider_register(
        self: Arc<Self>,
        namespace: &str,
        provider: &str,
        socket: &str,
    ) -> StoreFuture<'static, ()> {
        lock(&self.providers)
            .entry(namespace.to_owned())
            .or_default()
            .insert(provider.to_owned(), socket.to_owned());
        ready(())
    }

    fn provider_holders(
        self: Arc<Self>,
        namespace: &str,
        providers: &[String],
    ) -> StoreFuture<'static, Vec<Option<String>>> {
        let all = lock(&self.providers);
        let holders = providers
            .iter()
            .map(|id| all.get(namespace).and_then(|m| m.get(id)).cloned())
            .collect();
        ready(holders)
    }

    fn provider_release(
        self: Arc<Self>,
        namespace: &str,
        socket: &str,
        providers: &[String],
    ) -> StoreFuture<'static, ()> {
        if let Some(held) = lock(&self.providers).get_mut(namespace) {
            for id in providers {
                if held.get(id).is_some_and(|s| s == socket) {
                    held.remove(id);
                }
            }
        }
        ready(())
    }
}

/// The answer of a future that is ready at once (an [`InMemoryStore`]'s),
/// `None` when it is not.
pub(crate) fn now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(answer) => Some(answer),
        std::task::Poll::Pending => None,
    }
}

/// For the profiles' unit tests: the in-memory store posing as a shared
/// one (not local, shared), so that two servers over one of these behave
/// as two nodes over one Redis, minus the broadcasts between them.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct SharedForTests(pub(crate) Arc<InMemoryStore>);

#[cfg(test)]
impl BridgeStore for SharedForTests {
    fn shared(&self) -> bool {
        true
    }
    fn history_push(&self, key: &str, value: Value, max: usize) -> StoreFuture<'_, Vec<Value>> {
        self.0.history_push(key, value, max)
    }
    fn history_forget(&self, key: &str) -> StoreFuture<'_, ()> {
        self.0.history_forget(key)
    }
    fn channel_join(self: Arc<Self>, ns: &str, c: &str, s: &str) -> StoreFuture<'static, Counts> {
        self.0.clone().channel_join(ns, c, s)
    }
    fn channel_leave(self: Arc<Self>, ns: &str, c: &str, s: &str) -> StoreFuture<'static, Counts> {
        self.0.clone().channel_leave(ns, c, s)
    }
    fn room_join(self: Arc<Self>, ns: &str, r: &str, s: &str) -> StoreFuture<'static, usize> {
        self.0.clone().room_join(ns, r, s)
    }
    fn room_leave(self: Arc<Self>, ns: &str, r: &str, s: &str) -> StoreFuture<'static, ()> {
        self.0.clone().room_leave(ns, r, s)
    }
    fn provider_register(self: Arc<Self>, ns: &str, p: &str, s: &str) -> StoreFuture<'static, ()> {
        self.0.clone().provider_register(ns, p, s)
    }
    fn provider_holders(
        self: Arc<Self>,
        ns: &str,
        p: &[String],
    ) -> StoreFuture<'static, Vec<Option<String>>> {
        self.0.clone().provider_holders(ns, p)
    }
    fn provider_release(
        self: Arc<Self>,
        ns: &str,
        s: &str,
        p: &[String],
    ) -> StoreFuture<'static, ()> {
        self.0.clone().provider_release(ns, s, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn histories_are_bounded_and_forgotten() {
        let store = InMemoryStore::new();
        assert!(store.is_local() && !store.shared());
        let push = |k: &str, v| now(store.history_push(k, json!(v), 2)).unwrap().unwrap();
        assert_eq!(push("a", 1), [json!(1)]);
        assert_eq!(push("a", 2), [json!(1), json!(2)]);
        assert_eq!(push("a", 3), [json!(2), json!(3)]);
        assert_eq!(push("b", 9), [json!(9)]);
        now(store.history_forget("a")).unwrap().unwrap();
        assert_eq!(push("a", 4), [json!(4)]);
    }

    #[test]
    fn turns_are_served_in_order_and_a_dropped_one_holds_nobody_up() {
        let turns = Arc::new(Turns::default());
        let ready = |turn: &Turn| {
            let mut wait = Box::pin(turn.wait());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            wait.as_mut().poll(&mut cx).is_ready()
        };
        let (t0, t1, t2) = (turns.take(), turns.take(), turns.take());
        assert!(ready(&t0) && !ready(&t1) && !ready(&t2));
        drop(t2);
        let t3 = turns.take();
        drop(t0);
        assert!(ready(&t1) && !ready(&t3));
        drop(t1);
        assert!(ready(&t3), "t2 was given up");
    }

    #[test]
    fn presence_counts_channels_and_distinct_sockets() {
        let store = Arc::new(InMemoryStore::new());
        let join = |c: &str, s: &str| now(store.clone().channel_join("/", c, s)).unwrap().unwrap();
        let leave = |c: &str, s: &str| {
            now(store.clone().channel_leave("/", c, s))
                .unwrap()
                .unwrap()
        };
        let counts = |count, total| Counts { count, total };
        assert_eq!(join("a", "s1"), counts(1, 1));
        assert_eq!(join("a", "s1"), counts(1, 1), "idempotent");
        assert_eq!(join("b", "s1"), counts(1, 1));
        assert_eq!(join("b", "s2"), counts(2, 2));
        assert_eq!(leave("a", "s1"), counts(0, 2));
        assert_eq!(leave("a", "s1"), counts(0, 2), "idempotent");
        assert_eq!(leave("b", "s1"), counts(1, 1));
        assert_eq!(
            now(store.clone().channel_join("/x", "b", "s3"))
                .unwrap()
                .unwrap(),
            counts(1, 1)
        );
        assert_eq!(
            now(store.clone().room_join("/", "r", "s1"))
                .unwrap()
                .unwrap(),
            1
        );
        assert_eq!(
            now(store.clone().room_join("/", "r", "s2"))
                .unwrap()
                .unwrap(),
            2
        );
        now(store.clone().room_leave("/", "r", "s1"))
            .unwrap()
            .unwrap();
        assert_eq!(
            now(store.clone().room_join("/", "r", "s3"))
                .unwrap()
                .unwrap(),
            2
        );
    }

    #[test]
    fn providers_are_replaced_and_released_only_by_their_holder() {
        let store = Arc::new(InMemoryStore::new());
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let holders = |v: &[&str]| {
            now(store.clone().provider_holders("/", &ids(v)))
                .unwrap()
                .unwrap()
        };
        now(store.clone().provider_register("/", "P1", "a"))
            .unwrap()
            .unwrap();
        now(store.clone().provider_register("/", "P2", "a"))
            .unwrap()
            .unwrap();
        now(store.clone().provider_register("/", "P1", "b"))
            .unwrap()
            .unwrap();
        assert_eq!(
            holders(&["P1", "P2", "P3"]),
            [Some("b".into()), Some("a".into()), None]
        );
        now(store
            .clone()
            .provider_release("/", "a", &ids(&["P1", "P2"])))
        .unwrap()
        .unwrap();
        assert_eq!(holders(&["P1", "P2"]), [Some("b".into()), None]);
    }
}
