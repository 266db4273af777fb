//! Tests over real sockets against the real server, in Rust.
//!
//! The official clients (Node, browser, Python) live in `protocol-tests/node/`
//! and are run by `scripts/test`; this harness holds the Rust-side tests.

mod conform;
