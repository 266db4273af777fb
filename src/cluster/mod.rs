//! Scale-out: several servers sharing their broadcasts and requests over
//! Redis, in the format of Node's `@socket.io/redis-adapter` 8.3 (and
//! `@socket.io/redis-emitter` 5.1), so that siobridge nodes, Node socket.io
//! servers and emitters can share one cluster.
//!
//! This module is pure, like the protocol cores: [`codec`] turns the
//! adapter's messages into typed values and back, [`resp`] speaks the Redis
//! wire protocol as bytes, [`forward`] encodes the polling requests one node
//! passes to the owner of their session. The connections, their tasks and reconnection
//! live in [`server::redis`](crate::server::redis) (the `server` feature),
//! which is the [`Adapter`](crate::socketio::Adapter) the namespaces use.

pub mod codec;
pub mod forward;
pub mod resp;
