//! # 4. The Socket.IO core
//!
//! **To be written (the lead's chapter, with the rewrite of
//! `src/socketio/` of issue 13).** It will follow one Socket.IO packet
//! (socket.io-protocol v5, "Packet encoding") from an Engine.IO MESSAGE
//! into the pure Socket.IO machine: the namespaces and sockets it keeps,
//! CONNECT and its handshake ("Exchange protocol › Connection to a
//! namespace"), events and acknowledgements ("Sending and receiving data",
//! "Acknowledgement"), binary attachments, DISCONNECT ("Disconnection from
//! a namespace"), rooms and the adapter interface behind broadcasts, what
//! the machine outputs (`poll_transmit`, `poll_event`, `poll_timeout`) and
//! when to pull each, and how the state is partitioned so that no global
//! lock sits on the hot path.
//!
//! Until then, the Engine.IO side of the boundary is in
//! [`journey`](super::journey) (a message reaches
//! [`Handler::on_messages`](crate::server::Handler::on_messages) of
//! [`SocketIoHandler`](crate::server::SocketIoHandler)), and the current
//! Socket.IO API in [`socketio`](crate::socketio).
