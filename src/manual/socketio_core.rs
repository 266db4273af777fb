//! # 4. The Socket.IO core
//!
//! Socket.IO (socket.io-protocol v5) runs inside Engine.IO MESSAGE packets:
//! one Engine.IO connection carries one Socket.IO *client*, which may join
//! several *namespaces*; each joined namespace is a *socket*. The core is
//! the exchange of one client, written as a pure state machine,
//! [`socketio::Client`](crate::socketio::Client), in the shape of
//! [`engineio::Session`](crate::engineio::Session): it takes bytes and
//! `now` as arguments, you pull its output, and it never locks, spawns,
//! sleeps or reads the clock. It holds no handler and knows no other
//! client: everything shared lives in the application layer (chapter 5).
//!
//! ## The files
//!
//! | file | job |
//! |---|---|
//! | `socketio/parse.rs` | the packet grammar, with nom: [`decode_text`](crate::socketio::decode_text) ("Packet encoding") |
//! | `socketio/parse/plain.rs` | its fast path: a plain EVENT or ACK whose arguments are checked but kept as text ([`decode_plain`](crate::socketio::parse::decode_plain)) |
//! | `socketio/args.rs` | [`Args`](crate::socketio::Args): arguments as values or as the JSON text they came in, parsed when asked for |
//! | `socketio/binary.rs` | binary attachments: the [`Decoder`](crate::socketio::Decoder) keeps a BINARY_EVENT until its attachments came, as an explicit state |
//! | `socketio/msgpack.rs` | the `socket.io-msgpack-parser` format, chosen by [`Config::parser`](crate::socketio::Config::parser) |
//! | `socketio/packet.rs` | [`Packet`](crate::socketio::Packet) and its text encoding |
//! | `socketio/encode.rs` | [`Encoded`](crate::socketio::Encoded): a packet as the Engine.IO messages that carry it, encoded once and shared by every receiver |
//! | `socketio/client.rs` | the machine: [`Client`](crate::socketio::Client), its [`Event`](crate::socketio::Event)s and [`Transmit`](crate::socketio::Transmit)s |
//! | `socketio/config.rs` | [`Config`](crate::socketio::Config): the limits of one client, with the reference's defaults |
//! | `socketio/adapter.rs` | the [`Adapter`](crate::socketio::Adapter) interface: rooms and who a broadcast reaches |
//!
//! ## Driving the machine
//!
//! Input, each with the time as an argument where time matters:
//! - [`Client::handle_message`](crate::socketio::Client::handle_message):
//!   one Engine.IO message (text or binary) of the connection;
//! - [`Client::handle_close`](crate::socketio::Client::handle_close): the
//!   connection ended, with its typed [`CloseReason`](crate::engineio::CloseReason);
//! - [`Client::handle_timeout`](crate::socketio::Client::handle_timeout):
//!   at [`Client::poll_timeout`](crate::socketio::Client::poll_timeout);
//! - the application's commands: [`accept`](crate::socketio::Client::accept)
//!   or [`refuse`](crate::socketio::Client::refuse) a CONNECT,
//!   [`send`](crate::socketio::Client::send) a packet to a socket,
//!   [`send_with_ack`](crate::socketio::Client::send_with_ack),
//!   [`disconnect`](crate::socketio::Client::disconnect) a socket,
//!   [`drop_client`](crate::socketio::Client::drop_client) (a slow consumer),
//!   [`close`](crate::socketio::Client::close).
//!
//! Output, pulled after every input, each until it gives `None`:
//! - [`poll_transmit`](crate::socketio::Client::poll_transmit): what to put
//!   on the connection, in order: an encoded packet (maybe volatile), or
//!   the order to close it;
//! - [`poll_event`](crate::socketio::Client::poll_event): what the
//!   application must hear;
//! - [`poll_timeout`](crate::socketio::Client::poll_timeout): when to call
//!   `handle_timeout` next.
//!
//! ## One EVENT, from the Engine.IO message to the application
//!
//! Chapter 2 left the message `2["hello","world"]` at
//! [`Handler::on_messages`](crate::server::Handler::on_messages) of
//! [`SocketIoHandler`](crate::server::SocketIoHandler), which hands it to
//! [`SocketIo::handle_messages`](crate::app::SocketIo::handle_messages).
//! That locks this client alone and calls
//! [`Client::handle_message`](crate::socketio::Client::handle_message):
//!
//! 1. The decoder's fast path ([`decode_plain`](crate::socketio::parse::decode_plain))
//!    reads the packet type `2` (EVENT), the namespace (none written: `/`),
//!    no ack id, and the JSON array, within [`Limits`](crate::socketio::Limits)
//!    checked before anything is allocated. It checks every element
//!    without building anything: a small scanner takes the JSON that
//!    serde_json cannot refuse (strings without control characters or
//!    surrogate escapes, scanned eight bytes a step; integers of up to 18
//!    digits; decimals without an exponent; literals; nesting within the
//!    limit), and serde_json, checking each token as strictly as when a
//!    `Value` is built, takes any element the scanner leaves. It keeps only
//!    the name (`"hello"`) and the arguments' text
//!    (`["world"]`) in an [`Args`](crate::socketio::Args): no `Value` tree
//!    is built unless a handler asks for one, and arguments passed on
//!    unchanged (an echo, a relay) are written out as that very text. What
//!    the fast path does not take (a binary packet, a number as the name,
//!    anything that does not decode) goes to
//!    [`Decoder::decode_text`](crate::socketio::Decoder::decode_text), over
//!    [`decode_text`](crate::socketio::decode_text), which builds the
//!    `Value` and gives every error its name; the two accept exactly the
//!    same packets (unit tests and the `sio_packet` fuzz target check it on
//!    every input). A BINARY_EVENT (`51-["file",{"_placeholder":true,"num":0}]`)
//!    waits in the decoder for its attachment, the next binary message
//!    ("Packet encoding › Binary"); a packet that does not decode ends the
//!    client with "parse error", as the reference does.
//! 2. `Client::on_plain` (or `Client::on_packet`, for a packet decoded in
//!    full) checks it against the state: an EVENT is valid
//!    only on a namespace the client joined ("Exchange protocol"). If the
//!    socket's event budget ([`Config::event_rate_limit`](crate::socketio::Config::event_rate_limit))
//!    is spent, the socket gets DISCONNECT instead.
//! 3. The machine queues [`Event::Message`](crate::socketio::Event::Message)
//!    `{socket, namespace "/", name "hello", args ["world"], ack None}`.
//! 4. The application layer pulls it and calls the handler (chapter 5).
//!    A handler's answer to an ack id goes back in through
//!    [`Client::send`](crate::socketio::Client::send), encoded by
//!    [`Encoded::ack`](crate::socketio::Encoded::ack), and comes out of
//!    [`poll_transmit`](crate::socketio::Client::poll_transmit).
//!
//! ## The other packets
//!
//! - **CONNECT** ("Exchange protocol › Connection to a namespace"): the
//!   machine checks the cap ([`Config::max_namespaces_per_client`](crate::socketio::Config::max_namespaces_per_client);
//!   over it: CONNECT_ERROR "Too many namespaces") and queues
//!   [`Event::Connect`](crate::socketio::Event::Connect) with the `auth`
//!   payload. The application answers: [`accept`](crate::socketio::Client::accept)
//!   queues CONNECT `{"sid": id}` and creates the socket;
//!   [`refuse`](crate::socketio::Client::refuse) queues CONNECT_ERROR
//!   `{message, data}` and the client stays. A client that joins nothing
//!   within [`Config::connect_timeout`](crate::socketio::Config::connect_timeout)
//!   (45 s, the reference's) is closed by `handle_timeout`.
//! - **ACK** ("Acknowledgement"): the server's own acks are asked with
//!   [`send_with_ack`](crate::socketio::Client::send_with_ack), which numbers
//!   them per socket from 0, as socket.io does, and keeps each one's
//!   deadline. The client's ACK becomes [`Event::Ack`](crate::socketio::Event::Ack);
//!   a deadline passed becomes [`Event::AckTimedOut`](crate::socketio::Event::AckTimedOut);
//!   a late or unknown ack id is ignored, as the reference does.
//! - **DISCONNECT** ("Disconnection from a namespace"): the socket leaves
//!   with [`DisconnectReason::ClientNamespaceDisconnect`](crate::socketio::DisconnectReason::ClientNamespaceDisconnect);
//!   [`Event::Disconnected`](crate::socketio::Event::Disconnected) carries
//!   the ids of its acks still awaited. The server's
//!   [`disconnect`](crate::socketio::Client::disconnect) sends DISCONNECT.
//! - **Out of place** (CONNECT on a joined namespace, anything but CONNECT
//!   on one that is not, CONNECT_ERROR from a client): the client ends with
//!   "parse error" and the connection closes, as in the reference.
//!
//! ## States and timers
//!
//! A client is *open*, then *closing* (it asked its connection to close:
//! [`Transmit::Close`](crate::socketio::Transmit::Close); its input is
//! ignored), then *ended* ([`Event::Closed`](crate::socketio::Event::Closed),
//! after every socket's `Disconnected`). Its timers are the connect timeout,
//! each ack's deadline and each socket's event budget, a token bucket kept
//! as one instant (`socketio/rate.rs`). All run on the `now` given in, so
//! `socketio/client/tests.rs` tests them on a virtual clock in
//! milliseconds, and `fuzz/fuzz_targets/sio_client.rs` checks the machine
//! against a model of it.
//!
//! ## Rooms and the adapter
//!
//! Rooms belong to a namespace, not to one client, so the machine has none:
//! the application layer keeps each namespace's memberships in an
//! [`Adapter`](crate::socketio::Adapter), which answers
//! [`targets`](crate::socketio::Adapter::targets) for a broadcast's
//! [`BroadcastOptions`](crate::socketio::BroadcastOptions) (`rooms`,
//! `except`, as the reference adapter's). The trait documents where a
//! remote adapter (Redis) plugs in: it publishes what it resolves and
//! injects what it receives through the ordinary emit operators.
