//! # 6. Limits, and why
//!
//! Bad network input gets the reference server's answer, never a panic, a
//! hang or unbounded memory. Every bound lives in a documented config
//! struct, with the reference Node server's default where it has one; the
//! full catalogue, Socket.IO and admin UI included, with the attack each
//! stops and the tests that prove it, is `docs/limits.md`.
//!
//! ## Engine.IO: [`engineio::Config`](crate::engineio::Config)
//!
//! | field | default | reference | why |
//! | --- | --- | --- | --- |
//! | [`max_payload`](crate::engineio::Config::max_payload) | 1,000,000 bytes | `maxHttpBufferSize`, 1,000,000 | memory per request: a POST body or a WebSocket message (and frame). Advertised to the client as `maxPayload` ("Protocol › Handshake"), so a conforming client splits its payloads to fit. Over it the session closes: a POST is answered 413 (by its declared length, before a byte is read), a WebSocket is closed with 1009. |
//! | [`ping_interval`](crate::engineio::Config::ping_interval), [`ping_timeout`](crate::engineio::Config::ping_timeout) | 25 s, 20 s | the same | "Protocol › Heartbeat": dead clients. They also reclaim abandoned sessions: nothing outlives `ping_interval + ping_timeout` without its client. |
//! | [`upgrade_timeout`](crate::engineio::Config::upgrade_timeout) | 10 s | `upgradeTimeout`, 10 s | a probe WebSocket that never completes "Protocol › Upgrade". |
//! | [`max_buffered_bytes`](crate::engineio::Config::max_buffered_bytes) | 10,000,000 bytes | unbounded | memory per session for a client that does not take what it is sent. Counted in bytes, each message with its place in the queue ([`QUEUED_PACKET_OVERHEAD`](crate::engineio::QUEUED_PACKET_OVERHEAD)), never in packets: a burst of any length reaches a client that keeps reading. |
//! | [`stall_timeout`](crate::engineio::Config::stall_timeout) | 30 s | none | a client that has messages waiting and takes none: closed as a slow consumer. |
//! | [`max_poll_packets`](crate::engineio::Config::max_poll_packets) | none (about `max_payload` bytes per response) | none (everything at once) | not an attack: python-engineio clients refuse payloads of more than 16 packets. |
//!
//! ## HTTP server: [`ServerConfig`](crate::server::ServerConfig)
//!
//! | field | default | reference | why |
//! | --- | --- | --- | --- |
//! | [`max_sessions`](crate::server::ServerConfig::max_sessions) | 100,000 | unbounded | handshake floods: memory and file descriptors. Over it, 403 `{"code":4,"message":"Too many sessions"}`, as the reference answers a handshake its `allowRequest` refuses. |
//! | [`max_sessions_per_ip`](crate::server::ServerConfig::max_sessions_per_ip) | off | unbounded | one host taking all the sessions; off by default because behind a proxy every client has the proxy's address (unless [`trust_proxy`](crate::server::ServerConfig::trust_proxy) names it). |
//! | [`max_connections_per_ip`](crate::server::ServerConfig::max_connections_per_ip) | off | unbounded | one host exhausting file descriptors with connections the session caps do not count. |
//! | [`header_read_timeout`](crate::server::ServerConfig::header_read_timeout) | 10 s | `headersTimeout`, 60 s | slowloris: trickled or silent request heads. |
//! | [`max_header_size`](crate::server::ServerConfig::max_header_size) | 16 KiB | `maxHeaderSize`, 16 KiB | memory per connection before any routing (431). |
//! | [`body_read_timeout`](crate::server::ServerConfig::body_read_timeout) | 60 s | `requestTimeout`, 300 s | a POST body trickled byte by byte (408). |
//! | [`write_timeout`](crate::server::ServerConfig::write_timeout) | 30 s | none | a client that never reads: TCP flow control would block the write, and with it the connection and the session, forever. |
//! | [`ws_close_timeout`](crate::server::ServerConfig::ws_close_timeout) | 5 s | `ws` `closeTimeout`, 30 s | a client that never answers the closing handshake. |
//! | [`ws_read_buffer_size`](crate::server::ServerConfig::ws_read_buffer_size) | 1 KiB | n/a | memory per idle WebSocket (tungstenite's own default allocates 128 KiB up front). |
//! | [`tls_handshake_timeout`](crate::server::ServerConfig::tls_handshake_timeout) | 10 s | `handshakeTimeout`, 120 s | connections that never finish the TLS handshake. |
//! | [`shutdown_grace`](crate::server::ServerConfig::shutdown_grace) | 5 s | n/a | how long a shutdown waits for clients to take their CLOSE. |
//!
//! The Socket.IO layer adds its own bounds (connect timeout, namespaces per
//! client, attachments, JSON depth, name lengths, an optional event rate
//! limit) in `socketio::Config`; chapter 4 and `docs/limits.md` list them.
//!
//! ## Where each bound is enforced
//!
//! Bounds on what the protocol defines live in the sans-IO core and are
//! tested on a virtual clock: `max_payload` in
//! [`payload::decode`](crate::engineio::payload::decode) and
//! [`Session::handle_post`](crate::engineio::Session::handle_post), the
//! backlog in [`Session::send`](crate::engineio::Session::send), every
//! timer in [`Session::handle_timeout`](crate::engineio::Session::handle_timeout).
//! Bounds on the transport live in `server/`: the per-request timeouts in
//! hyper's builder and `server/http.rs`, the write timeout in
//! `server/timed_io.rs` (under hyper and tungstenite alike, since neither
//! has one), the caps in `server/admission.rs`. The counters of refusals
//! ([`Server::refused_by_session_cap`](crate::server::Server::refused_by_session_cap)
//! and its siblings) are on the `/metrics` page
//! ([`ServerMetrics`](crate::server::ServerMetrics)).
//!
//! Per-session bounds multiply by `max_sessions`: with the defaults, a
//! server that must survive `max_sessions` slow consumers needs
//! `max_sessions × max_buffered_bytes` of memory. Lower one of them to fit
//! the machine.
