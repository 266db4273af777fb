//! # 5. The application layer
//!
//! [`app`](crate::app) (re-exported as [`socketio`](crate::socketio)'s
//! [`SocketIo`](crate::socketio::SocketIo), [`Socket`](crate::socketio::Socket),
//! ...) is what an application programs against: namespaces, connect
//! middleware, handlers, sockets with their rooms and data, emit operators,
//! acks with timeouts. It owns one [`Client`](crate::socketio::Client)
//! machine per connection and everything shared between them, and it is
//! the only part of the Socket.IO side that locks.
//!
//! ## The files
//!
//! | file | job |
//! |---|---|
//! | `app/mod.rs` | [`SocketIo`](crate::app::SocketIo): the tables, registration, statistics, the observer |
//! | `app/dispatch.rs` | driving the machines: input in, transmits onto connections, events into handler calls |
//! | `app/namespace.rs` | [`Namespace`](crate::app::Namespace) (handlers, middleware, async and typed handlers) and a live namespace's members and rooms |
//! | `app/socket.rs` | [`Socket`](crate::app::Socket) and [`AckSender`](crate::app::AckSender) |
//! | `app/operators.rs` | [`Operators`](crate::app::Operators): `to`, `except`, `volatile`, broadcasts with acks |
//! | `app/cluster.rs` | [`Cluster`](crate::app::Cluster): what the operators ask of the other nodes of a cluster; [`RemoteSocket`](crate::app::RemoteSocket), what `fetch_sockets` answers |
//! | `app/observe.rs`, `app/conn.rs` | what tools see ([`SocketInfo`](crate::app::SocketInfo), [`SocketEvent`](crate::app::SocketEvent)) and the [`Conn`](crate::app::Conn) a client's transmits go to |
//! | `app/recovery.rs` | connection state recovery over the pure log ([`socketio::recovery`](crate::socketio::recovery)): replayable emits, kept sessions, recovering CONNECTs, the sweep |
//! | `app/testing.rs` | the test kit: [`MemoryConn`](crate::app::testing::MemoryConn), [`TestClient`](crate::app::testing::TestClient), [`ManualClock`](crate::app::testing::ManualClock) |
//!
//! ## One event, from the machine to the handler and back
//!
//! Every input follows three steps (`app/dispatch.rs`):
//!
//! 1. **Lock the client, give the input.**
//!    [`SocketIo::handle_client_messages`](crate::app::SocketIo::handle_client_messages)
//!    gets the client the transport keeps with its session (what
//!    [`SocketIo::open_client`](crate::app::SocketIo::open_client)
//!    returned; [`SocketIo::handle_messages`](crate::app::SocketIo::handle_messages)
//!    finds it by Engine.IO session id in the client table instead, under
//!    a read lock let go at once), locks that client's mutex and calls
//!    [`Client::handle_message`](crate::socketio::Client::handle_message).
//! 2. **Drain, still locked** (`SocketIo::drain`): every
//!    [`Transmit`](crate::socketio::Transmit) goes to the connection
//!    ([`Conn::send`](crate::app::Conn::send); a full queue makes the client
//!    a slow consumer: [`Client::drop_client`](crate::socketio::Client::drop_client)),
//!    and every [`Event`](crate::socketio::Event) does its bookkeeping at
//!    once: an answered ack finds its callback, a socket that left leaves
//!    its namespace's table, a message finds its socket's handle. What must
//!    run application code becomes `Work`. The client's next deadline goes
//!    to the timer table.
//! 3. **Unlock, run the work** (`SocketIo::run`): the handler registered
//!    with [`Namespace::on`](crate::app::Namespace::on) for `hello` is
//!    called with the [`Socket`](crate::app::Socket), the
//!    [`Args`](crate::socketio::Args) and, when the client asked for one,
//!    an [`AckSender`](crate::app::AckSender). Handlers run with no lock
//!    held, so they may call back into the server freely.
//!
//! The handler answers with [`Socket::emit`](crate::app::Socket::emit):
//! the packet is encoded once ([`Encoded`](crate::socketio::Encoded)), the
//! client is locked again, [`Client::send`](crate::socketio::Client::send)
//! queues it and the drain puts it on the connection, where
//! [`Session::send`](crate::engineio::Session::send) queues the MESSAGE and
//! wakes the driver (chapter 2, "The answer back").
//!
//! A CONNECT runs the same way: `Work::Connect` finds the namespace's
//! handlers (by name, or a dynamic family's predicate), runs its middleware
//! ([`Namespace::use_middleware`](crate::app::Namespace::use_middleware)),
//! then [`accept`](crate::socketio::Client::accept)s with a fresh id; the
//! socket enters its namespace's table while its client is still locked,
//! so it is there exactly while the machine has it, and `on_connect` runs
//! after the answer left.
//!
//! ## One broadcast, to its receivers
//!
//! `io.to("room").emit("news", args)` ([`Operators::emit`](crate::app::Operators::emit)):
//! 1. the packet is encoded once;
//! 2. the namespace's read lock is taken while its
//!    [`Adapter`](crate::socketio::Adapter) resolves the rooms into sockets
//!    and each socket's handle is copied out, then let go;
//! 3. for each receiver, `SocketIo::broadcast_to_client` pushes the shared
//!    packet onto the client's *held* packets, a small list beside its
//!    machine under a lock of its own, and on the first one asks the
//!    connection to flush itself ([`Conn::wake`](crate::app::Conn::wake)):
//!    one small lock and a push per receiver, never two clients at once,
//!    and the receiver's machine and session stay untouched (cold memory
//!    is what a broadcast to many costs);
//! 4. the receiver's own driver, woken, calls
//!    [`SocketIo::flush_client`](crate::app::SocketIo::flush_client) with
//!    the [`ClientCell`](crate::app::ClientCell) it keeps with its session
//!    ([`EngineSocket::handler_data`](crate::server::EngineSocket::handler_data),
//!    no lookup), which queues every held packet on the session in one go
//!    (`SocketIo::send_held`) and writes them in one flush.
//!
//! Held packets enter the machine whenever anything else takes the
//! client's lock (`ClientCell::lock`), before that thing does, so a client
//! gets its packets in the order they were sent: a broadcast before the
//! ack or the DISCONNECT that follows it. A connection that cannot flush
//! itself (the test kit's [`MemoryConn`](crate::app::testing::MemoryConn)
//! by default) gets each packet through the machine at once.
//!
//! What the receivers' drains find (a slow consumer to disconnect) would
//! run `on_disconnect` handlers; an emit may itself be running inside a
//! handler, so that work is deferred to the end of the input in progress,
//! or to the timer task ([`SocketIo::poll_timeout`](crate::app::SocketIo::poll_timeout)
//! says "now" while any waits).
//!
//! ## Where the locks are, and why
//!
//! The state is partitioned by who touches it (the table at the top of
//! [`app`](crate::app)): one mutex per client (its machine, its ack
//! callbacks), one read-write lock per namespace (members, rooms, data),
//! read-mostly tables of clients and namespaces, and a timer table. A
//! message locks its own client only; a broadcast reads its namespace and
//! locks receivers one at a time. So different clients are handled in
//! parallel on tokio's multi-thread runtime, and nothing holds a lock over
//! every socket. One order, client then namespace then the tables, rules
//! out deadlocks.
//!
//! ## Acks, async handlers, typed arguments
//!
//! - [`Socket::emit_with_ack`](crate::app::Socket::emit_with_ack) keeps its
//!   callback beside the machine, keyed by socket and ack id; the machine
//!   keeps the deadline. [`Socket::ack`](crate::app::Socket::ack) is the
//!   same as a future. A broadcast's acks ([`Operators::emit_with_ack`](crate::app::Operators::emit_with_ack))
//!   are one group in the timer table: every answer, or the timeout with
//!   those that came.
//!
//! ## Operators across a cluster
//!
//! With a [`Cluster`](crate::app::Cluster) installed
//! ([`SocketIo::set_cluster`](crate::app::SocketIo::set_cluster); the Redis
//! one's [`attach`](crate::server::redis::RedisCluster::attach) does it),
//! the operators reach the sockets of every node, as the reference's do on
//! `@socket.io/redis-adapter`, unless made
//! [`local`](crate::app::Operators::local) (a socket's own `join`, `leave`
//! and one-socket emits always stay on its node). Each does this node's
//! part itself, at once, and hands the rest to the cluster, with the
//! rooms and except rooms it targets (`socket.broadcast` excepts the
//! sender's id room), never holding a lock over the call:
//!
//! | operator | this node | the other nodes (spec `redis-adapter.md`) |
//! |---|---|---|
//! | [`emit`](crate::app::Operators::emit) | delivered | published by the namespace's [`Adapter`](crate::socketio::Adapter) |
//! | [`join`](crate::app::Operators::join), [`leave`](crate::app::Operators::leave) | applied | REMOTE_JOIN / REMOTE_LEAVE, not answered |
//! | [`disconnect_sockets`](crate::app::Operators::disconnect_sockets) | applied, counted (the count returned) | REMOTE_DISCONNECT, not answered |
//! | [`fetch_sockets`](crate::app::Operators::fetch_sockets) | this node's sockets, sorted by id | REMOTE_FETCH; on a timeout, the sockets that came ([`try_fetch_sockets`](crate::app::Operators::try_fetch_sockets) says so) |
//! | [`emit_with_ack`](crate::app::Operators::emit_with_ack), [`ack`](crate::app::Operators::ack) | a group in the timer table | BROADCAST: each node's client count, then each ack; the future the cluster returns is run on the spawner |
//! | [`SocketIo::server_side_emit`](crate::app::SocketIo::server_side_emit) (`_with_ack`) | none (as in the reference) | SERVER_SIDE_EMIT, with the other nodes' answers |
//!
//! The broadcast's two halves are joined: the callback runs once both are
//! in, with this node's acks then the others', each cut to its first
//! argument (what the reference keeps of a broadcast's ack, and all the
//! other nodes send); it is the timeout with every ack that came when
//! either half timed out, both halves having the same `timeout` from the
//! call.
//! - [`Namespace::on_async`](crate::app::Namespace::on_async): the handler's
//!   future runs on the spawner ([`SocketIo::set_spawner`](crate::app::SocketIo::set_spawner);
//!   `tokio::spawn` under [`SocketIoHandler`](crate::server::SocketIoHandler)),
//!   so awaiting holds up neither its client nor others.
//! - [`Namespace::on_typed`](crate::app::Namespace::on_typed): arguments
//!   are deserialised with serde ([`Args::parse`](crate::socketio::Args::parse)),
//!   straight from the JSON text they came in when nothing parsed them yet;
//!   ones that do not fit get `{"error": ...}` in the ack, never a panic.
//!
//! ## Connection state recovery
//!
//! With [`Config::state_recovery`](crate::socketio::Config::state_recovery)
//! on, each live namespace also holds a recovery log
//! ([`Recovery`](crate::socketio::recovery::Recovery), pure, on `now`
//! arguments) and an `order` lock, and three paths change (`app/recovery.rs`,
//! `app/dispatch.rs`):
//!
//! - **An emit that can be replayed** (no ack, not volatile; a socket's
//!   own [`Socket::emit`](crate::app::Socket::emit) too, logged to the room
//!   of its id as the reference's adapter sees it) takes `order`, resolves
//!   its receivers, has the log give it an offset (`<tag>-<n>`) which
//!   becomes its last argument, is logged encoded, and is queued on every
//!   receiver before `order` is let go. So every receiver gets a
//!   namespace's replayable packets in offset order, and the last offset a
//!   client saw means "everything before it arrived".
//! - **A socket that leaves** for a reason the reference keeps sessions for
//!   (a lost or closed connection) leaves its id, rooms and data in the log
//!   as it leaves its namespace's table, still under its client's lock.
//!   Handlers learn of it with [`Socket::may_recover`](crate::app::Socket::may_recover)
//!   in `on_disconnect`, and of a session that ended without recovering
//!   with [`Namespace::on_session_end`](crate::app::Namespace::on_session_end).
//! - **A CONNECT with `pid`** (and `offset`, or none when its client had
//!   received nothing) first closes any socket still holding that `pid`,
//!   then takes `order`, restores the session (before the middleware, which
//!   is skipped, or after it), accepts the socket with its old id (the
//!   answer carries `pid` again), puts it back in its rooms with its data,
//!   and queues what it missed right after the answer, all before `order`
//!   is let go: no replayable packet falls between the replay and the
//!   socket's membership.
//!
//! Expired sessions and packets are reclaimed by a sweep in the timer
//! table (`Timer::Sweep`), at the log's own
//! [`poll_timeout`](crate::socketio::recovery::Recovery::poll_timeout).
//! The `order` lock serialises a namespace's replayable emits with each
//! other (never with anything else), and only when recovery is on.
//!
//! ## On top
//!
//! [`bridge`](crate::bridge) is routing over this API alone (it never
//! imports [`server`](crate::server)): each profile registers namespaces
//! and handlers and emits to rooms. [`admin`](crate::admin) serves the
//! Admin UI's `/admin` namespace from [`SocketIo::set_observer`](crate::app::SocketIo::set_observer)
//! and [`SocketIo::socket_infos`](crate::app::SocketIo::socket_infos).
