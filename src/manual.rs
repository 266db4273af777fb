//! The siobridge manual: how the server is built, and how the Engine.IO and
//! Socket.IO protocols run through it, for someone who learns the protocols
//! from this code.
//!
//! This module holds no code, only chapters (as rustls's `manual`). Read
//! them in order:
//!
//! 1. [`architecture`]: the layers, from the bytes of a socket to an
//!    application's handler, and why each boundary is where it is.
//! 2. [`journey`]: one HTTP long-polling request and one WebSocket frame,
//!    step by step through [`server`](crate::server) into
//!    [`engineio::Session`](crate::engineio::Session), naming each
//!    function.
//! 3. [`engineio_state_machine`]: the Engine.IO session's states and its
//!    timers (ping interval and timeout, upgrade timeout, the close drain,
//!    the slow-consumer stall).
//! 4. [`socketio_core`]: the Socket.IO machine over Engine.IO.
//! 5. [`application_layer`]: namespaces, sockets and handlers over the
//!    Socket.IO machine.
//! 6. [`limits`]: every bound on what a client can make the server hold,
//!    with the reference server's default and why it is there.
//! 7. [`conformance`]: how the server is checked against the specs and the
//!    reference: the suites, the matrix, `siobridge conform`, the fuzzers.
//!
//! The specs are cited by section name: engine.io-protocol v4
//! (<https://socket.io/docs/v4/engine-io-protocol/>, source
//! <https://github.com/socketio/engine.io-protocol>) and socket.io-protocol
//! v5 (<https://socket.io/docs/v4/socket-io-protocol/>). Where a spec is
//! silent, the reference Node server (the `engine.io` and `socket.io`
//! packages) decides, and the chapters say so.
//!
//! Public functions are links; private ones (most of
//! [`server`](crate::server)) are named with their file, e.g.
//! `server/http.rs: handle`, and `cargo doc --document-private-items` shows
//! them too.

pub mod application_layer;
pub mod architecture;
pub mod conformance;
pub mod engineio_state_machine;
pub mod journey;
pub mod limits;
pub mod socketio_core;
