//! A sans-IO Socket.IO v5 core, over the Engine.IO core.
//!
//! Implements socket.io-protocol v5 (<https://github.com/socketio/socket.io-protocol>),
//! the wire protocol of socket.io 3.x and 4.x: the packet grammar
//! ([`parse`], with nom), the encoder ([`packet`]), and binary attachments
//! with their reassembly as an explicit state ([`binary`]); and the msgpack
//! parser of `socket.io-msgpack-parser` ([`msgpack`]), chosen for a whole
//! server by [`Config::parser`](config::Config::parser).

pub mod binary;
pub mod msgpack;
pub mod packet;
pub mod parse;

pub use binary::{
    Decoder, count_placeholders, placeholder, placeholder_num, replace_placeholders,
    validate_placeholders,
};
pub use packet::{MAIN_NAMESPACE, Packet, PacketType};
pub use parse::{DecodeError, Header, Limits, MAX_ACK_ID, RESERVED_EVENTS, decode_text};

pub mod adapter;
pub mod args;
pub mod client;
pub mod config;
pub mod encode;
pub mod rate;
pub mod recovery;
pub mod v4;

pub use adapter::{Adapter, BroadcastOptions, InMemoryAdapter};
pub use args::{Args, ArgsError};
pub use client::{Client, ConnectError, DisconnectReason, Event, Transmit};
pub use config::{Config, Parser};
pub use encode::Encoded;
pub use rate::RateLimit;
pub use recovery::RecoveryConfig;
// The application layer, under the names it has always had here.
pub use crate::app::{
    AckError, AckFuture, AckSender, BroadcastAcks, ClientCell, Clock, Cluster, ClusterFuture,
    ClusterTimeout, Conn, ConnInfo, Handshake, MiddlewareFuture, Namespace, Operators,
    RemoteSocket, Socket, SocketEvent, SocketInfo, SocketIo, testing,
};
