//! A sans-IO Engine.IO v4 core.
//!
//! Implements engine.io-protocol v4 (<https://github.com/socketio/engine.io-protocol>,
//! published as <https://socket.io/docs/v4/engine-io-protocol/>; its sections
//! are cited by name, e.g. "Protocol › Heartbeat" or "Packet encoding › HTTP
//! long-polling"):
//! packets and polling payloads ([`packet`], [`payload`]), the handshake and the
//! routing of each HTTP request ([`handshake`]), and the per-session state
//! machine ([`Session`]) with heartbeat, upgrade and close. With
//! [`Config::allow_eio3`], sessions opened by socket.io 2.x clients speak
//! engine.io-protocol v3 instead ([`v3`], chosen per session by [`Protocol`]).
//!
//! Nothing here reads the clock, sleeps, spawns or touches a socket: time and
//! bytes are arguments, packets and events are return values. The `server`
//! module drives these types over tokio and hyper; tests drive them on a
//! virtual clock.

pub mod config;
pub mod error;
pub mod handshake;
pub mod packet;
pub mod payload;
pub mod session;
pub mod sid;
pub mod v3;

pub use config::{Config, Transports};
pub use error::{CloseReason, DecodeError, ProbeRefused, Rejection, SendError};
pub use handshake::{Method, Query, RequestHead, Route, TransportKind, route};
pub use packet::{Data, Frame, Packet, PacketType, Text};
pub use session::{Event, PostError, QUEUED_PACKET_OVERHEAD, Session};
pub use sid::{Sid, SidGenerator};
pub use v3::{Body as PollBody, Protocol};
