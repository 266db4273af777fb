//! Profile `digital-auto`: the digital.auto provider/client bridge
//! (spec §1).
//!
//! Providers register ids; clients subscribe to a provider id; a client's
//! request goes to the one provider holding the id, with the requester's
//! socket id in `request_from`, and the provider's reply goes back to that
//! socket only. A provider's broadcast reaches the subscribers of the ids it
//! holds.
//!
//! | event in | from | what happens | spec |
//! |---|---|---|---|
//! | `register_provider {provider_id, name?}` | provider | the id now routes to this socket (last registration wins) | A-e1, R-A2 |
//! | `register_client {master_provider_id}` | client | subscribes to the id's broadcasts (additive) | A-e2, R-A3 |
//! | `request_provider {to_provider_id, cmd, ...}` | client | `new_request` with `request_from` to the provider | A-e3/e4, R-A4 |
//! | `provider_reply {request_from, ...}` | anyone | `provider_reply`, unchanged, to socket `request_from` | A-e5/e6, R-A5 |
//! | `sent_to_my_clients` / `send_to_all_clients` | provider | `message_from_provider`, unchanged, to the subscribers of each id it holds | A-e7/e8, R-A6 |
//!
//! Anything malformed is dropped silently (R-A1); nothing is ever sent back.
//!
//! With a shared store ([`mount_with_store`], Redis with `--redis`), the
//! registry is the cluster's: a registration on any node replaces the
//! holder everywhere (R-A2), a request on any node reaches the holder's
//! socket through the room of its id, which crosses nodes, and so does a
//! reply to a socket of another node (R-A5). Each node remembers which ids
//! its own sockets registered, to release them on disconnect (only while
//! they still name the socket) and for the broadcasts of R-A6 that name no
//! id. When the store fails (Redis down), the one registration, request
//! or broadcast is dropped with a log line.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use super::store::{BridgeStore, InMemoryStore, StoreFuture, Turns};
use super::{ack, first_object, non_empty_str, truthy};
use crate::socketio::{Args, Socket, SocketIo};

/// The Socket.IO room holding the subscribers of provider id `id`. The
/// prefix keeps subscription groups apart from the rooms named by socket ids,
/// so that no provider id can reach a socket that did not subscribe.
fn subscribers(id: &str) -> String {
    format!("{SUBSCRIBERS}{id}")
}

/// The prefix of the subscription rooms.
const SUBSCRIBERS: &str = "subscribers:";

/// One registry entry (spec §1.1): the socket holding a provider id.
#[derive(Debug, Clone, PartialEq)]
struct Provider {
    socket_id: String,
    name: Option<String>,
}

/// The provider registry of one namespace: provider id → its socket.
#[derive(Debug, Default)]
struct Registry {
    providers: HashMap<String, Provider>,
}

impl Registry {
    /// R-A2: the last registration wins; re-registering from the same socket
    /// only updates the name.
    fn register(&mut self, provider_id: &str, socket_id: &str, name: Option<String>) {
        self.providers.insert(
            provider_id.to_owned(),
            Provider {
                socket_id: socket_id.to_owned(),
                name,
            },
        );
    }

    fn socket_of(&self, provider_id: &str) -> Option<&str> {
        self.providers
            .get(provider_id)
            .map(|p| p.socket_id.as_str())
    }

    fn held_by(&self, socket_id: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .providers
            .iter()
            .filter(|(_, p)| p.socket_id == socket_id)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// R-A2: on disconnect every entry of the socket goes; entries taken over
    /// by another socket stay.
    fn forget_socket(&mut self, socket_id: &str) {
        self.providers.retain(|_, p| p.socket_id != socket_id);
    }
}

/// Serves the profile on `namespace` of `io`, its registry in this
/// process.
pub fn mount(io: &SocketIo, namespace: &str) {
    mount_with_store(io, namespace, Arc::new(InMemoryStore::new()));
}

/// Serves the profile on `namespace` of `io`. With a store that is not
/// local (shared by the nodes of a cluster), the registry of A-e1 is the
/// store's; an in-memory store changes nothing.
pub fn mount_with_store(io: &SocketIo, namespace: &str, store: Arc<dyn BridgeStore>) {
    if !store.is_local() {
        mount_shared(io, namespace, store);
        return;
    }
    let registry = Arc::new(Mutex::new(Registry::default()));
    let ns = io.namespace(namespace);

    let reg = registry.clone();
    ns.on("register_provider", move |socket, args, reply| {
        register_provider(&reg, socket, &args);
        ack(reply);
    });
    ns.on("register_client", |socket, args, reply| {
        register_client(socket, &args);
        ack(reply);
    });
    let (reg, server) = (registry.clone(), io.clone());
    ns.on("request_provider", move |socket, args, reply| {
        request_provider(&reg, &server, socket, &args);
        ack(reply);
    });
    let server = io.clone();
    ns.on("provider_reply", move |socket, args, reply| {
        provider_reply(&server, socket, &args);
        ack(reply);
    });
    // Spec §5 #1: the code's name and the documentation's alias.
    for event in ["sent_to_my_clients", "send_to_all_clients"] {
        let (reg, server) = (registry.clone(), io.clone());
        ns.on(event, move |socket, args, reply| {
            provider_broadcast(&reg, &server, socket, &args);
            ack(reply);
        });
    }
    // With connection state recovery on, a provider that lost its
    // connection keeps its ids while it may come back (its requests wait in
    // the recovery log for it), and loses them when its session ends.
    let reg = registry.clone();
    ns.on_disconnect(move |socket, reason| {
        if !socket.may_recover(reason) {
            lock(&reg).forget_socket(socket.id());
        }
    });
    let reg = registry;
    ns.on_session_end(move |id| lock(&reg).forget_socket(id));
}

/// A-e1, R-A1, R-A2.
fn register_provider(registry: &Mutex<Registry>, socket: &Socket, args: &Args) {
    let Some(payload) = first_object(args) else {
        return;
    };
    let Some(provider_id) = non_empty_str(payload.get("provider_id")) else {
        return;
    };
    let name = payload
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    lock(registry).register(provider_id, socket.id(), name);
}

/// A-e2, R-A1, R-A3: a room join, so idempotent and additive; it lasts until
/// the client disconnects, whatever the provider does.
fn register_client(socket: &Socket, args: &Args) {
    let Some(payload) = first_object(args) else {
        return;
    };
    if let Some(id) = non_empty_str(payload.get("master_provider_id")) {
        socket.join(&subscribers(id));
    }
}

/// A-e3, A-e4, R-A1, R-A4: every key kept, `request_from` set by the server
/// (its value always wins), to the provider's socket only; an unknown id
/// drops the request.
fn request_provider(registry: &Mutex<Registry>, io: &SocketIo, socket: &Socket, args: &Args) {
    let Some(payload) = first_object(args) else {
        return;
    };
    let Some(provider_id) = non_empty_str(payload.get("to_provider_id")) else {
        return;
    };
    if !truthy(payload.get("cmd")) {
        return;
    }
    let Some(provider_socket) = lock(registry).socket_of(provider_id).map(str::to_owned) else {
        return;
    };
    let mut request = payload.clone();
    request.insert("request_from".into(), Value::from(socket.id()));
    // The room of the provider's own socket id reaches that socket only;
    // with connection state recovery on, also while it is away.
    io.of(socket.namespace())
        .to(&provider_socket)
        .emit("new_request", Value::Object(request));
}

/// A-e5, A-e6, R-A1, R-A5: unchanged, to the socket named by `request_from`
/// (socket ids only, never rooms); the sender is not checked.
fn provider_reply(io: &SocketIo, socket: &Socket, args: &Args) {
    let Some(payload) = first_object(args) else {
        return;
    };
    let Some(requester) = non_empty_str(payload.get("request_from")) else {
        return;
    };
    if let Some(requester) = io.socket(socket.namespace(), requester) {
        requester.emit("provider_reply", Value::Object(payload.clone()));
    }
}

/// A-e7, A-e8, R-A6: to the subscribers of `provider_id`, or of every id the
/// sender holds when it names none; only ids the sender holds; once per id.
fn provider_broadcast(registry: &Mutex<Registry>, io: &SocketIo, socket: &Socket, args: &Args) {
    let Some(payload) = first_object(args) else {
        return;
    };
    let targets = {
        let registry = lock(registry);
        match non_empty_str(payload.get("provider_id")) {
            Some(id) if registry.socket_of(id) == Some(socket.id()) => vec![id.to_owned()],
            Some(_) => Vec::new(),
            None => registry.held_by(socket.id()),
        }
    };
    let message = Value::Object(payload.clone());
    for id in targets {
        io.of(socket.namespace())
            .to(&subscribers(&id))
            .emit("message_from_provider", message.clone());
    }
}

/// The profile with a shared registry.
struct Shared {
    io: SocketIo,
    namespace: String,
    store: Arc<dyn BridgeStore>,
    /// Socket of this node → the ids it registered (it may have lost some
    /// to later registrations since: the store says).
    registered: Mutex<HashMap<String, BTreeSet<String>>>,
    /// The emits of the events awaiting the store go out in their order
    /// (R-A7).
    turns: Arc<Turns>,
}

fn mount_shared(io: &SocketIo, namespace: &str, store: Arc<dyn BridgeStore>) {
    type Handler = fn(&Arc<Shared>, &Socket, &Map<String, Value>) -> Option<Work>;
    let shared = Arc::new(Shared {
        io: io.clone(),
        namespace: namespace.to_owned(),
        store,
        registered: Mutex::new(HashMap::new()),
        turns: Arc::default(),
    });
    let ns = io.namespace(namespace);
    let on_async = |event: &str, f: Handler| {
        let shared = shared.clone();
        ns.on_async(event, move |socket, args, reply| {
            let work = first_object(&args).and_then(|p| f(&shared, &socket, p));
            async move {
                if let Some(work) = work {
                    let _ = work.await;
                }
                ack(reply);
            }
        });
    };
    on_async("register_provider", Shared::register_provider);
    on_async("request_provider", Shared::request_provider);
    for event in ["sent_to_my_clients", "send_to_all_clients"] {
        on_async(event, Shared::provider_broadcast);
    }
    ns.on("register_client", |socket, args, reply| {
        register_client(socket, &args);
        ack(reply);
    });
    let s = shared.clone();
    ns.on("provider_reply", move |socket, args, reply| {
        s.provider_reply(socket, &args);
        ack(reply);
    });
    let s = shared.clone();
    ns.on_disconnect(move |socket, reason| {
        if !socket.may_recover(reason) {
            s.release(socket.id());
        }
    });
    ns.on_session_end(move |id| shared.release(id));
}

/// What an event leaves to do once the store has answered.
type Work = StoreFuture<'static, ()>;

impl Shared {
    /// A-e1, R-A1, R-A2 across the cluster: the id's holder is now this
    /// socket, on every node.
    fn register_provider(
        self: &Arc<Self>,
        socket: &Socket,
        payload: &Map<String, Value>,
    ) -> Option<Work> {
        let provider_id = non_empty_str(payload.get("provider_id"))?;
        lock(&self.registered)
            .entry(socket.id().to_owned())
            .or_default()
            .insert(provider_id.to_owned());
        let store = self.store.clone();
        Some(store.provider_register(&self.namespace, provider_id, socket.id()))
    }

    /// A-e3, A-e4, R-A4 across the cluster: to the room of the holder's
    /// socket id, wherever it is connected.
    fn request_provider(
        self: &Arc<Self>,
        socket: &Socket,
        payload: &Map<String, Value>,
    ) -> Option<Work> {
        let provider_id = non_empty_str(payload.get("to_provider_id"))?;
        if !truthy(payload.get("cmd")) {
            return None;
        }
        let mut request = payload.clone();
        request.insert("request_from".into(), Value::from(socket.id()));
        let holders = (self.store.clone()).provider_holders(&self.namespace, &[provider_id.into()]);
        let (this, turn) = (self.clone(), self.turns.take());
        Some(Box::pin(async move {
            let holder = holders.await?.pop().flatten();
            turn.wait().await;
            if let Some(holder) = holder {
                this.io
                    .of(&this.namespace)
                    .to(&holder)
                    .emit("new_request", Value::Object(request));
            }
            Ok(())
        }))
    }

    /// A-e5, A-e6, R-A5 across the cluster: to the socket of this node
    /// named `request_from`, else to the room of that name on the other
    /// nodes, where only a socket can have it [CHOICE: the subscription
    /// rooms, the only other rooms of the profile, are never a target].
    fn provider_reply(&self, socket: &Socket, args: &Args) {
        let Some(payload) = first_object(args) else {
            return;
        };
        let Some(requester) = non_empty_str(payload.get("request_from")) else {
            return;
        };
        let reply = Value::Object(payload.clone());
        if let Some(requester) = self.io.socket(socket.namespace(), requester) {
            requester.emit("provider_reply", reply);
        } else if !requester.starts_with(SUBSCRIBERS) {
            self.io
                .of(&self.namespace)
                .to(requester)
                .emit("provider_reply", reply);
        }
    }

    /// A-e7, A-e8, R-A6 across the cluster: only the ids the store says
    /// this socket holds.
    fn provider_broadcast(
        self: &Arc<Self>,
        socket: &Socket,
        payload: &Map<String, Value>,
    ) -> Option<Work> {
        let candidates: Vec<String> = match non_empty_str(payload.get("provider_id")) {
            Some(id) => vec![id.to_owned()],
            None => lock(&self.registered)
                .get(socket.id())
                .map(|ids| ids.iter().cloned().collect())
                .unwrap_or_default(),
        };
        if candidates.is_empty() {
            return None;
        }
        let holders = (self.store.clone()).provider_holders(&self.namespace, &candidates);
        let (this, turn) = (self.clone(), self.turns.take());
        let (me, message) = (socket.id().to_owned(), Value::Object(payload.clone()));
        Some(Box::pin(async move {
            let holders = holders.await?;
            turn.wait().await;
            for (id, holder) in candidates.iter().zip(holders) {
                if holder.as_deref() == Some(me.as_str()) {
                    this.io
                        .of(&this.namespace)
                        .to(&subscribers(id))
                        .emit("message_from_provider", message.clone());
                }
            }
            Ok(())
        }))
    }

    /// R-A2 on disconnect: the ids this socket registered go from the
    /// store, each only if it still names the socket (work left to the
    /// store: nobody awaits a disconnect).
    fn release(&self, socket: &str) {
        let Some(ids) = lock(&self.registered).remove(socket) else {
            return;
        };
        let ids: Vec<String> = ids.into_iter().collect();
        let store = self.store.clone();
        let release = store.provider_release(&self.namespace, socket, &ids);
        self.store.detach(release);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    //! The spec's §1.5 scenarios, on the in-memory test kit. The black-box
    //! versions over real sockets are in `protocol-tests/`.

    use serde_json::{Value, json};

    use super::*;
    use crate::socketio::Config;
    use crate::socketio::testing::{ManualClock, TestClient};

    struct Net {
        io: SocketIo,
    }

    impl Net {
        fn new() -> Net {
            let io = SocketIo::new(
                Config::default().with_rng_seed([7; 32]),
                ManualClock::new().clock(),
            );
            mount(&io, "/");
            Net { io }
        }

        fn socket(&self) -> (TestClient, String) {
            let client = TestClient::open(&self.io);
            let id = client.connect("/", None).expect("connects");
            (client, id)
        }
    }

    fn emit(client: &TestClient, event: &str, payload: Value) {
        client.emit("/", event, json!([payload]));
    }

    fn events(client: &TestClient) -> Vec<(String, Vec<Value>)> {
        client.events("/")
    }

    fn one(event: &str, payload: Value) -> Vec<(String, Vec<Value>)> {
        vec![(event.to_owned(), vec![payload])]
    }

    #[test]
    fn round_trip_reaches_only_the_requester() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (c1, c1_id) = net.socket();
        let (c2, _) = net.socket();
        emit(
            &p,
            "register_provider",
            json!({"provider_id": "P1", "name": "Prov"}),
        );
        emit(&c1, "register_client", json!({"master_provider_id": "P1"}));
        emit(&c2, "register_client", json!({"master_provider_id": "P1"}));
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": "P1", "cmd": "double_me", "data": 21}),
        );
        let request =
            json!({"request_from": c1_id, "to_provider_id": "P1", "cmd": "double_me", "data": 21});
        assert_eq!(events(&p), one("new_request", request.clone()));
        let mut reply = request;
        reply["result"] = json!(42);
        emit(&p, "provider_reply", reply.clone());
        assert_eq!(events(&c1), one("provider_reply", reply));
        assert!(events(&c2).is_empty());
        assert!(events(&p).is_empty());
    }

    #[test]
    fn the_server_sets_request_from_and_keeps_extra_keys() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (c1, c1_id) = net.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": "P1", "cmd": "set", "vss": [1, 2], "request_from": "evil"}),
        );
        assert_eq!(
            events(&p),
            one(
                "new_request",
                json!({"to_provider_id": "P1", "cmd": "set", "vss": [1, 2], "request_from": c1_id})
            )
        );
    }

    #[test]
    fn invalid_requests_and_unknown_providers_are_dropped() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (c1, _) = net.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        for bad in [
            json!({"cmd": "x"}),
            json!({"to_provider_id": "P1"}),
            json!({"to_provider_id": "P1", "cmd": ""}),
            json!({"to_provider_id": "P1", "cmd": 0}),
            json!({"to_provider_id": "", "cmd": "x"}),
            json!("P1"),
            json!({"to_provider_id": "NOPE", "cmd": "x"}),
        ] {
            emit(&c1, "request_provider", bad);
        }
        c1.emit("/", "request_provider", json!([]));
        assert!(events(&p).is_empty());
        assert!(!c1.is_closed());
    }

    #[test]
    fn replies_go_to_socket_ids_only() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (c1, _) = net.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        emit(&c1, "register_client", json!({"master_provider_id": "P1"}));
        for bad in [
            json!({"result": 1}),
            json!({"request_from": "not-a-socket", "result": 1}),
            json!({"request_from": "P1", "result": 1}),
            json!({"request_from": "subscribers:P1", "result": 1}),
        ] {
            emit(&p, "provider_reply", bad);
        }
        assert!(events(&c1).is_empty());
    }

    #[test]
    fn broadcasts_reach_subscribers_of_ids_the_sender_holds() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (p2, _) = net.socket();
        let (c1, _) = net.socket();
        let (c3, _) = net.socket();
        let (x, _) = net.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        emit(&p2, "register_provider", json!({"provider_id": "P2"}));
        emit(&c1, "register_client", json!({"master_provider_id": "P1"}));
        emit(&c3, "register_client", json!({"master_provider_id": "P2"}));

        let message = json!({"provider_id": "P1", "cmd": "showSpeed", "data": 7});
        emit(&p, "sent_to_my_clients", message.clone());
        assert_eq!(events(&c1), one("message_from_provider", message));
        // The documented alias, with no provider_id: every id P holds.
        emit(&p, "send_to_all_clients", json!({"cmd": "b", "data": 2}));
        assert_eq!(
            events(&c1),
            one("message_from_provider", json!({"cmd": "b", "data": 2}))
        );
        // Ownership: X holds nothing, P does not hold P2.
        emit(
            &x,
            "sent_to_my_clients",
            json!({"provider_id": "P1", "cmd": "x"}),
        );
        emit(
            &p,
            "sent_to_my_clients",
            json!({"provider_id": "P2", "cmd": "x"}),
        );
        assert!(events(&c1).is_empty());
        assert!(events(&c3).is_empty());
        assert!(events(&p).is_empty() && events(&p2).is_empty() && events(&x).is_empty());
    }

    #[test]
    fn last_registration_wins_and_survives_the_old_socket() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (pb, _) = net.socket();
        let (c1, _) = net.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        emit(&pb, "register_provider", json!({"provider_id": "P1"}));
        emit(&c1, "register_client", json!({"master_provider_id": "P1"}));
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": "P1", "cmd": "x"}),
        );
        assert!(events(&p).is_empty());
        assert_eq!(events(&pb).len(), 1);
        emit(
            &p,
            "sent_to_my_clients",
            json!({"provider_id": "P1", "cmd": "x"}),
        );
        assert!(events(&c1).is_empty());
        p.close();
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": "P1", "cmd": "x"}),
        );
        assert_eq!(events(&pb).len(), 1);
    }

    #[test]
    fn a_disconnect_removes_every_id_of_the_socket_but_not_subscriptions() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (c1, _) = net.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        emit(&p, "register_provider", json!({"provider_id": "P2"}));
        emit(&c1, "register_client", json!({"master_provider_id": "P1"}));
        p.close();
        let (pb, _) = net.socket();
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": "P2", "cmd": "x"}),
        );
        assert!(events(&pb).is_empty());
        emit(&pb, "register_provider", json!({"provider_id": "P1"}));
        emit(
            &pb,
            "sent_to_my_clients",
            json!({"provider_id": "P1", "cmd": "c", "data": 0}),
        );
        assert_eq!(events(&c1).len(), 1, "the subscription outlived P");
    }

    #[test]
    fn subscriptions_are_additive_and_idempotent() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (p2, _) = net.socket();
        let (c1, _) = net.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        emit(&p2, "register_provider", json!({"provider_id": "P2"}));
        for id in ["P1", "P2", "P1"] {
            emit(&c1, "register_client", json!({"master_provider_id": id}));
        }
        emit(&c1, "register_client", json!({}));
        emit(&p, "sent_to_my_clients", json!({"provider_id": "P1"}));
        emit(&p2, "sent_to_my_clients", json!({"provider_id": "P2"}));
        assert_eq!(events(&c1).len(), 2);
    }

    #[test]
    fn a_provider_subscribed_to_itself_hears_its_broadcast_in_order() {
        let net = Net::new();
        let (p, _) = net.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        emit(&p, "register_client", json!({"master_provider_id": "P1"}));
        for i in 0..10 {
            emit(
                &p,
                "sent_to_my_clients",
                json!({"provider_id": "P1", "data": i}),
            );
        }
        let data: Vec<Value> = events(&p)
            .into_iter()
            .map(|(_, args)| args[0]["data"].clone())
            .collect();
        assert_eq!(data, (0..10).map(Value::from).collect::<Vec<_>>());
    }

    /// Two servers over one shared store: a registration on either
    /// replaces the other's (R-A2), and only the holder releases an id.
    #[test]
    fn a_shared_registry_has_one_holder_across_nodes() {
        use crate::bridge::store::{InMemoryStore, SharedForTests};
        let memory = Arc::new(InMemoryStore::new());
        let store: Arc<dyn BridgeStore> = Arc::new(SharedForTests(memory.clone()));
        let node = |seed| {
            let io = SocketIo::new(
                Config::default().with_rng_seed([seed; 32]),
                ManualClock::new().clock(),
            );
            mount_with_store(&io, "/", store.clone());
            Net { io }
        };
        let (n1, n2) = (node(1), node(2));
        let holder = |id: &str| {
            crate::bridge::store::now(memory.clone().provider_holders("/", &[id.to_owned()]))
                .unwrap()
                .unwrap()
                .pop()
                .flatten()
        };
        let (p, p_id) = n1.socket();
        let (c1, c1_id) = n1.socket();
        let (pb, pb_id) = n2.socket();
        emit(&p, "register_provider", json!({"provider_id": "P1"}));
        emit(&p, "register_provider", json!({"provider_id": "P2"}));
        emit(&c1, "register_client", json!({"master_provider_id": "P1"}));
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": "P1", "cmd": "x"}),
        );
        let request = json!({"to_provider_id": "P1", "cmd": "x", "request_from": c1_id});
        assert_eq!(events(&p), one("new_request", request.clone()));
        let reply = json!({"request_from": c1_id, "result": 1});
        emit(&pb, "provider_reply", reply.clone());
        assert!(events(&c1).is_empty(), "c1 is not on node two");
        emit(&p, "provider_reply", reply.clone());
        assert_eq!(events(&c1), one("provider_reply", reply));

        emit(&pb, "register_provider", json!({"provider_id": "P1"}));
        assert_eq!(holder("P1").as_deref(), Some(pb_id.as_str()));
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": "P1", "cmd": "x"}),
        );
        assert!(events(&p).is_empty(), "P1 is node two's now");
        emit(&p, "send_to_all_clients", json!({"cmd": "b"}));
        assert!(
            events(&c1).is_empty(),
            "P holds P2 only, with no subscriber"
        );
        p.close();
        assert_eq!(holder("P1").as_deref(), Some(pb_id.as_str()));
        assert_eq!(holder("P2"), None, "released with P ({p_id})");
        pb.close();
        assert_eq!(holder("P1"), None);
    }

    #[test]
    fn invalid_registrations_register_nothing() {
        let net = Net::new();
        let (p, _) = net.socket();
        let (c1, _) = net.socket();
        for bad in [
            json!({"name": "x"}),
            json!({"provider_id": ""}),
            json!({"provider_id": 5}),
        ] {
            emit(&p, "register_provider", bad);
        }
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": "", "cmd": "x"}),
        );
        emit(
            &c1,
            "request_provider",
            json!({"to_provider_id": 5, "cmd": "x"}),
        );
        assert!(events(&p).is_empty());
    }
}
