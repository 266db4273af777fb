//! # 7. Conformance, and how it is tested
//!
//! The rule is that the reference Node server decides where a behaviour is
//! in doubt, and that a test is proved against the reference before it is
//! trusted. Most suites therefore run twice: against siobridge, and, with
//! the `SIOBRIDGE_*` variables unset, against Node oracles
//! (`protocol-tests/node/reference/`) built on the official `engine.io` and
//! `socket.io` packages. Every test uses real clients over real sockets on
//! 127.0.0.1, port 0; no sleep stands in for an assertion.
//!
//! ## The layers of tests
//!
//! | what | where | how it runs |
//! | --- | --- | --- |
//! | unit tests of the sans-IO cores, on a virtual clock | `src/**` (`engineio/session/tests.rs` for the session's states and timers) | `cargo test` |
//! | known answers of the specs' examples | `engineio/packet.rs`, `engineio/payload.rs`, `socketio/` | `cargo test` |
//! | the binary's command line (flags, environment, refusals) | [`cli`](crate::cli) | `cargo test --lib cli::` |
//! | Rust tests over real sockets | `protocol-tests/main.rs` (e.g. `protocol-tests/conform.rs`: the conformance runner against siobridge and against a deliberately broken server, which must fail exactly the planted checks) | `cargo test` |
//! | official Node clients (`engine.io-client`, `socket.io-client` 4.7 and 4.8, msgpack parser) and raw wire tests (`fetch`, `ws`, raw TCP) | `protocol-tests/node/test/*.test.mjs` | `node --test test/<file>` from `protocol-tests/node` |
//! | the bad-input catalogue of `docs/limits.md`, table-driven | `protocol-tests/node/test/bad-input.test.mjs` | the same |
//! | the official browser client and the Admin UI page, in headless Chromium | `protocol-tests/browser/` | `scripts/test` |
//! | python-socketio `Client` and `AsyncClient` | `protocol-tests/python/` | `scripts/test` (pytest, pinned with hashes) |
//! | the binary's process contract: JSON logs, TLS, trusted proxies, nginx and HAProxy in front, the bridge profiles | `json-logs`, `tls`, `trust-proxy`, `reverse-proxy`, `server-lifecycle`, `bridge-*` suites | the same |
//!
//! `scripts/test` runs all of it on a fresh machine, installing the pinned
//! clients and the Debian tools it needs; it also checks that the cores
//! build without the `server` feature (sans-IO), formatting, clippy, and
//! `cargo doc` with warnings as errors (so every link of this manual
//! resolves), and compiles the README's examples as doctests.
//!
//! ## The matrix
//!
//! Each client suite appends its results (client × transport × feature) to
//! a directory named by `SIOBRIDGE_MATRIX_DIR`; at the end of
//! `scripts/test`, `protocol-tests/matrix.mjs` folds them into
//! `protocol-tests/MATRIX.md`, which is committed. A changed cell fails the
//! run until the file is committed again: a regression on one client and
//! one transport cannot pass unnoticed.
//!
//! ## `siobridge conform`
//!
//! [`conform`](crate::conform) checks any server over the wire against
//! engine.io-protocol v4 and socket.io-protocol v5, speaking the raw
//! protocols by hand (polling requests, WebSocket frames) and printing one
//! line per check. The server must serve the contract of the specs' public
//! test suites (`examples/conformance.rs` does;
//! [`conform::Contract`](crate::conform::Contract) describes other paths and
//! timings). It passes against the reference packages serving the same
//! contract (`protocol-tests/node/test/conform.test.mjs`), which is what
//! makes its checks trustworthy.
//!
//! ## Fuzzing
//!
//! `fuzz/` (cargo-fuzz, its own workspace) has one target per decoder of the
//! cores (Engine.IO packets and payloads, Socket.IO packets, binary
//! attachments, msgpack) with round-trip checks (what decodes re-encodes to
//! the same bytes), and structured targets that drive the state machines
//! with scripts of inputs and virtual-time steps: `eio_session` drives
//! [`engineio::Session`](crate::engineio::Session) and checks its
//! invariants (a closed session stays closed, an open one always has a
//! deadline and closes by itself when its client goes silent, every GET
//! body is a valid payload). `scripts/fuzz-smoke` runs each target from its
//! seeds (the specs' examples) for a few seconds in `scripts/test`;
//! `fuzz/README.md` lists the targets and every finding, each of which
//! became a fix and a regression test.
