//! # siobridge
//!
//! A Socket.IO v5 / Engine.IO v4 server written from the wire up.
//!
//! ```text
//!  bin/siobridge ─► bridge/ ──► socketio/ ──► engineio/
//!       │  (cli)                   ▲             ▲
//!       └─────────► server/ ───────┴─────────────┘
//! ```
//!
//! - [`engineio`]: a sans-IO Engine.IO v4 core (packets, payloads, handshake,
//!   sessions with heartbeat and upgrade).
//! - [`socketio`]: a sans-IO Socket.IO v5 core (packet grammar with nom,
//!   binary attachments).
//! - [`bridge`]: the routing profiles (digital.auto, Hubtel, Directual,
//!   chat), plain code over the Socket.IO API.
//! - [`server`]: the only module that touches sockets, tasks and the clock
//!   (tokio, hyper, tokio-tungstenite), behind the default `server` feature.
//! - [`conform`]: `siobridge conform URL`, a conformance runner that checks
//!   any Engine.IO v4 / Socket.IO v5 server over the wire (`server` feature).
//! - [`cli`]: the `siobridge` binary's command line (`server` feature).
//! - [`cluster`]: the wire format of Node's Redis adapter (pure); the
//!   adapter itself is [`server::redis`] (`server` feature).
//! - [`manual`]: how it all fits together and how the protocols run through
//!   it, chapter by chapter (`server` feature).
//!
//! The protocol cores never read the clock, sleep, spawn or do I/O: they take
//! bytes and time as arguments and return packets and events. Building with
//! `--no-default-features` proves it: the cores compile without tokio.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

#[cfg(feature = "server")]
pub mod admin;
pub mod app;
pub mod bridge;
#[cfg(feature = "server")]
pub mod cli;
pub mod cluster;
#[cfg(feature = "server")]
pub mod conform;
pub mod engineio;
mod id_hash;
#[cfg(feature = "server")]
pub mod manual;
mod rfc3339;
#[cfg(feature = "server")]
pub mod server;
pub mod socketio;

/// The README's Rust examples, compiled as doctests (`no_run`: they would
/// serve forever).
#[cfg(all(doctest, feature = "server"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
