//! A sans-IO Socket.IO v5 core, over the Engine.IO core.
//!
//! Implements socket.io-protocol v5 (<https://github.com/socketio/socket.io-protocol>),
//! the wire protocol of socket.io 3.x and 4.x: the packet grammar
//! ([`parse`], with nom), the encoder ([`packet`]), and binary attachments
//! with their reassembly as an explicit state ([`binary`]); and the msgpack
//! parser of `socket.io-msgpack-parser` ([`msgpack`]), chosen for a whole
//! server by [`Config::parser`](server::Config::parser).

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

pub mod ack_future;
pub mod adapter;
pub mod args;
mod outbox;
pub mod rate;
pub mod server;
pub mod testing;
pub mod v4;

pub use ack_future::AckFuture;
pub use adapter::{Adapter, BroadcastOptions, InMemoryAdapter};
pub use args::Args;
pub use rate::RateLimit;
pub use server::{
    AckError, AckSender, BroadcastAcks, Clock, Config, Conn, ConnInfo, ConnectError,
    DisconnectReason, Handshake, Namespace, Operators, Parser, Socket, SocketEvent, SocketInfo,
    SocketIo,
};
