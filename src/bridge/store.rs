//! Where the bridge profiles keep their state: in this process by default
//! ([`InMemoryStore`]), or shared by every node of a cluster (the binary's
//! Redis-backed store, `server::redis_store`, with `--redis`).
//!
//! Only chat's room histories (spec §4, D-e5) go through the store so far;
//! docs/cluster.md "Next slices" lists what the other profiles would keep.
//! A store never blocks: every call returns a future, and a store that can
//! fail (Redis down) answers [`StoreError`] within its own timeout, so a
//! handler never hangs.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

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

/// The store of a single process: everything in memory, every answer
/// ready at once. The default.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    histories: Mutex<HashMap<String, VecDeque<Value>>>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> InMemoryStore {
        InMemoryStore::default()
    }

    fn histories(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Value>>> {
        self.histories.lock().unwrap_or_else(|e| e.into_inner())
    }
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
}
