//! # 1. Architecture
//!
//! ```text
//!   bin/siobridge ── cli ─┐                 application code
//!        │                │                        │
//!        ▼                ▼                        ▼
//!     bridge/ ───────► application layer (namespaces, Socket, handlers)
//!                              │  commands ▲ events
//!                              ▼           │
//!                       Socket.IO core (socketio/)      sans-IO
//!                              │  Engine.IO messages ▲
//!                              ▼                     │
//!                       Engine.IO core (engineio/)      sans-IO
//!                              │  bytes, `now` ▲ packets, deadlines
//!                              ▼               │
//!   TCP/TLS ◄──────────► server/ (hyper, tokio-tungstenite, tokio timers)
//! ```
//!
//! ## The two sans-IO cores
//!
//! [`engineio`](crate::engineio) and [`socketio`](crate::socketio) never
//! read the clock, sleep, spawn a task or touch a socket. Time comes in as
//! an `Instant` argument (`now`), bytes come in as slices, and what the
//! protocol wants done comes out as values the caller pulls: packets to
//! write, events for the application, the next deadline. This is the shape
//! of quinn-proto: the core is a plain state machine, the I/O lives in a
//! thin driver around it. Three things follow:
//!
//! - every protocol rule is tested on a virtual clock, with no sockets and
//!   no sleeps (the unit tests of `engineio/session/tests.rs` advance time
//!   by millisecond arithmetic on an `Instant`);
//! - the fuzzers drive the same machines with arbitrary inputs and time
//!   steps ([`conformance`](super::conformance));
//! - `cargo check --lib --no-default-features` proves the boundary: without
//!   the `server` feature there is no tokio, hyper or tungstenite to call.
//!
//! The Engine.IO core is [`engineio::Session`](crate::engineio::Session)
//! (one session's state machine), [`engineio::route`](crate::engineio::route)
//! (what an HTTP request asks for, or the reference server's refusal),
//! [`engineio::Packet`](crate::engineio::Packet) and
//! [`engineio::payload`](crate::engineio::payload) (the wire encodings),
//! and [`engineio::Config`](crate::engineio::Config) (every limit a session
//! enforces). Chapter 3 walks through the session.
//!
//! The Socket.IO core parses and writes Socket.IO packets inside Engine.IO
//! messages and keeps the namespaces, sockets, rooms and acknowledgements
//! (chapter 4, [`socketio_core`](super::socketio_core)); the application
//! layer turns its events into handler calls (chapter 5,
//! [`application_layer`](super::application_layer)).
//!
//! ## `server/`: the only code that does I/O
//!
//! [`server`](crate::server) is a translator. An HTTP request becomes a call
//! on the Engine.IO core, and what the core returns becomes an HTTP response
//! or a WebSocket frame. Its parts:
//!
//! | file | job |
//! | --- | --- |
//! | `server/mod.rs` | [`Server`](crate::server::Server), [`ServerConfig`](crate::server::ServerConfig), the [`Handler`](crate::server::Handler) trait; the accept loop ([`Server::serve`](crate::server::Server::serve)) and graceful shutdown |
//! | `server/http.rs` | the hyper service: one function per kind of request (handshake, poll, POST, WebSocket handshake), and the one mapping from a refusal to its HTTP answer |
//! | `server/driver.rs` | one task per session: its timer, its WebSocket, and the handler calls ([`EngineSocket`](crate::server::EngineSocket) is the application's handle) |
//! | `server/timed_io.rs` | the write timeout under hyper and tungstenite alike |
//! | `server/admission.rs` | the session and connection caps |
//! | `server/proxy.rs`, `server/tls.rs` | [`TrustProxy`](crate::server::TrustProxy) (client addresses behind proxies), [`Tls`](crate::server::Tls) (rustls) |
//! | `server/socketio.rs` | [`SocketIoHandler`](crate::server::SocketIoHandler): the Socket.IO layer as an Engine.IO handler, and the task that drives its timers |
//! | `server/redis.rs` | [`RedisCluster`](crate::server::redis::RedisCluster) and [`RedisAdapter`](crate::server::redis::RedisAdapter): a cluster on Redis (below, "Scale-out on Redis") |
//! | `server/metrics.rs`, `server/log.rs` | [`ServerMetrics`](crate::server::ServerMetrics) (the `/metrics` page), [`server::log`](crate::server::log) (text or JSON log lines) |
//!
//! ## State and locks (Engine.IO side)
//!
//! Each session's core sits in its own `Mutex<Session>` inside a
//! `SessionHandle` (`server/driver.rs`); the server's table of sessions is a
//! map from [`Sid`](crate::engineio::Sid) to handle. No lock is held across
//! an `await`, and a session's lock is never taken under another session's:
//! sessions proceed in parallel on a multi-thread runtime. The only locks
//! shared by all sessions are the table (taken at a handshake, for each
//! request's sid lookup, and when a session ends) and the sid generator
//! (at a handshake). Whoever gives the core an input (a POST, a GET, the
//! application sending) wakes the session's driver task when the input left
//! it something to do (events, frames to write, a timer that moved); the
//! driver drains the core's outputs under the session's lock, then lets go
//! of it before it calls the handler or writes to the socket: a handler may
//! call back into the session (send, close) without deadlock. A POST hands
//! its messages to the handler from its own task when the driver is not
//! doing so, which saves a wake-up per message over polling.
//!
//! ## `bridge/` and the binary
//!
//! [`bridge`](crate::bridge) holds the routing profiles (digital.auto,
//! Hubtel, Directual, chat) as plain code over the Socket.IO API; it never
//! imports `server/`, so it is unit-tested without sockets. The
//! `siobridge` binary (`src/bin/siobridge.rs`) is wiring only: the command
//! line is parsed by [`cli`](crate::cli) into [`cli::Options`](crate::cli::Options),
//! which give the Socket.IO and server settings; the binary mounts the
//! profiles, wraps the Socket.IO handler in
//! [`log::Logged`](crate::server::log::Logged), and answers `/healthz`,
//! `/metrics` ([`ServerMetrics`](crate::server::ServerMetrics)) and the
//! Directual HTTP API through [`Server::with_fallback`](crate::server::Server::with_fallback).
//! [`admin`](crate::admin) serves the Socket.IO Admin UI and
//! [`conform`](crate::conform) is `siobridge conform URL`, a checker of any
//! Engine.IO v4 / Socket.IO v5 server over the wire.
//!
//! ## Scale-out on Redis
//!
//! With `--redis URL` ([`server::redis`](crate::server::redis)), several
//! processes serve one set of clients, sharing a Redis with Node socket.io
//! servers that use `@socket.io/redis-adapter` 8.3 and with back ends that
//! use `@socket.io/redis-emitter` 5.1. Where each part sits:
//!
//! - the wire format is pure, like the protocol cores:
//!   [`cluster::codec`](crate::cluster::codec) turns the adapter's notepack
//!   broadcasts `[uid, packet, {rooms, except, flags}]` and its JSON or
//!   msgpack requests into typed values and back (known-answer tests on
//!   bytes Node really published; the fuzz target `cluster_message`), and
//!   [`cluster::resp`](crate::cluster::resp) is the Redis protocol as
//!   bytes, with bounded lengths;
//! - the namespace's [`Adapter`](crate::socketio::Adapter) is a
//!   [`RedisAdapter`](crate::server::redis::RedisAdapter): rooms in memory,
//!   as without Redis, and every broadcast delivered here that is not
//!   `local` queued for publishing. [`Adapter::publish`](crate::socketio::Adapter::publish)
//!   is called with the namespace's lock held, so it only encodes and
//!   queues; it never waits for Redis;
//! - the connections are two tasks of [`RedisCluster`](crate::server::redis::RedisCluster)
//!   under `server/`: one publishes, one subscribes (per namespace, the
//!   pattern `socket.io#/ns#*` and the request and response channels) and
//!   delivers what other nodes publish through the namespace's ordinary
//!   operators (`io.of(ns).to(..).except(..).local().emit(..)`: marked
//!   local, so it is not published back), and answers their requests
//!   (`fetchSockets`, `socketsJoin`, `serverSideEmit`, broadcasts with
//!   acks...) from this node's sockets, with local operators too;
//! - it is also the server's [`Cluster`](crate::app::Cluster)
//!   ([`SocketIo::set_cluster`](crate::app::SocketIo::set_cluster)): the
//!   application's operators that are not `local` (`join`, `leave`,
//!   `disconnect_sockets`, `fetch_sockets`, `emit_with_ack`) and
//!   `server_side_emit` hand it their requests for the other nodes.
//!   `bridge/`, `app/` and `socketio/` know nothing of Redis (`app/` knows
//!   the trait only);
//! - the bridge profiles' own state (chat histories, hubtel presence,
//!   digital-auto's registry, directual's sessions) goes through
//!   [`BridgeStore`](crate::bridge::store::BridgeStore), in memory by
//!   default and in Redis with `--redis`
//!   ([`RedisStore`](crate::server::redis_store::RedisStore), its own
//!   command connection);
//! - a polling request, or a WebSocket upgrade, for a session another node
//!   holds is passed to that node over Redis (`server/redis_forward.rs`,
//!   the messages in [`cluster::forward`](crate::cluster::forward)): the
//!   request with its answer, the upgrade as a tunnel of the connection's
//!   bytes to the owner, which runs the WebSocket over an in-memory pipe.
//!   A round-robin balancer then works (docs/cluster.md, "Sticky
//!   sessions").
//!
//! **During a Redis outage**, each node goes on serving its own clients:
//! connections, emits, rooms, acks and broadcasts among its own sockets are
//! untouched (nothing local passes through Redis). Across nodes, pub/sub
//! has no replay: what other nodes publish while this node's subscriber is
//! disconnected never reaches it, and a request (`fetchSockets`...) made
//! meanwhile gets no answer from it. Broadcasts this node makes while its
//! publisher is down wait in a bounded queue
//! ([`RedisConfig::publish_queue`](crate::server::redis::RedisConfig::publish_queue),
//! 4,096 messages; beyond, they are dropped and counted) and are published
//! when the connection is back, as ioredis's offline queue does for a Node
//! node; they reach only the nodes already subscribed again by then. Both
//! connections are tried again every 50 ms more, at most every 2 s, and the
//! subscriber subscribes every namespace again. `/healthz` says
//! `"reconnecting"` meanwhile, and `siobridge_redis_up{connection}` is 0.
