//! # 3. The Engine.IO state machine
//!
//! One [`Session`](crate::engineio::Session) is one Engine.IO session, from
//! the OPEN packet to its end. Its state is three small machines side by
//! side, plus a queue and a clock-free notion of time: every deadline is an
//! `Instant` computed from a `now` the caller passed in.
//!
//! ## The lifecycle: `Open`, `Closing`, `Closed`
//!
//! ```text
//!             Session::new (OPEN queued)
//!                      │
//!                      ▼
//!                 ┌─────────┐  close(now) / shutdown(now)  ┌──────────────────────────┐
//!                 │  Open   │ ───────────────────────────► │ Closing { deadline, why } │
//!                 └─────────┘                              └──────────────────────────┘
//!                      │ client CLOSE, ping timeout,          │ CLOSE taken by a GET, or
//!                      │ transport error, parse error,        │ the WebSocket closed, or
//!                      │ slow consumer                        │ `deadline` passed
//!                      ▼                                      ▼
//!                 ┌──────────────────────────────────────────────┐
//!                 │ Closed(reason): Event::Closed(reason) queued │
//!                 └──────────────────────────────────────────────┘
//! ```
//!
//! - **Open**: messages flow both ways, the heartbeat runs, an upgrade may
//!   start.
//! - **Closing** (the server ends the session:
//!   [`Session::close`](crate::engineio::Session::close),
//!   [`Session::shutdown`](crate::engineio::Session::shutdown)): what is
//!   queued is still delivered, then CLOSE. Over polling the client must
//!   fetch it; it has `ping_timeout` to do so (the *drain*), after which
//!   the session closes anyway. Over WebSocket the reference server sends
//!   no CLOSE packet but closes the WebSocket itself, so the CLOSE in the
//!   queue becomes [`Session::take_ws_close`](crate::engineio::Session::take_ws_close).
//! - **Closed**: the queue is dropped; a GET still pending gets CLOSE (NOOP
//!   when the client was the one that closed, as the reference answers);
//!   [`Event::Closed`](crate::engineio::Event::Closed) carries the typed
//!   [`CloseReason`](crate::engineio::CloseReason) whose
//!   [`as_str`](crate::engineio::CloseReason::as_str) is the reference's
//!   name ("ping timeout", "transport close", "transport error", "parse
//!   error", "forced close", "server shutting down", and "slow consumer",
//!   which the reference lacks because it buffers without bound).
//!
//! ## The heartbeat: `Idle` and `AwaitingPong`
//!
//! engine.io-protocol v4, "Protocol › Heartbeat": the server pings every
//! `pingInterval`; a client that does not answer within `pingTimeout` is
//! gone.
//!
//! - `Idle { ping_at }`: at `ping_at`,
//!   [`Session::handle_timeout`](crate::engineio::Session::handle_timeout)
//!   queues a PING (never a second unread one: a client may PONG blindly,
//!   and one is enough) and moves to `AwaitingPong`.
//! - `AwaitingPong { deadline }`: a PONG moves back to `Idle` with
//!   `ping_at = now + ping_interval`; at `deadline` the session closes with
//!   "ping timeout".
//!
//! The first PING is due `ping_interval` after the handshake. The
//! heartbeat is also what reclaims abandoned sessions: a client that
//! vanished is gone within `ping_interval + ping_timeout`, with no separate
//! reaper. A v4 client never sends PING outside a probe: one on the active
//! transport is a "transport error".
//!
//! ## The upgrade: `None` and `Probing`
//!
//! engine.io-protocol v4, "Protocol › Upgrade":
//!
//! ```text
//!  None ──begin_upgrade──► Probing { probed: false } ──"2probe"──► Probing { probed: true } ──"5"──► None, on WebSocket
//!                                 │                                     │                          (Event::Upgraded)
//!                                 └──── anything else, the probe's ─────┴──► None, still on polling
//!                                       WebSocket closing, or the           (the probe WebSocket is closed)
//!                                       upgrade deadline
//! ```
//!
//! [`Session::begin_upgrade`](crate::engineio::Session::begin_upgrade)
//! starts the probe with a deadline of
//! [`upgrade_timeout`](crate::engineio::Config::upgrade_timeout) (the
//! reference's `upgradeTimeout`; the spec names no bound). `2probe` is
//! answered `3probe` on the new WebSocket; from then on a pending or new GET
//! is answered NOOP so the client can pause polling; `5` switches the
//! transport, and the queue (which polling did not take) now leaves over the
//! WebSocket. While a probe is under way the pong deadline is suspended
//! (the PING may sit in a paused transport) and gets a fresh `ping_timeout`
//! when the probe ends. A second WebSocket for the same session, or one for
//! a session already on WebSocket, is refused
//! ([`ProbeRefused`](crate::engineio::ProbeRefused), "Transports ›
//! WebSocket": one WebSocket per session) without touching the session.
//!
//! ## The backlog: the stall timer
//!
//! What waits for the client is bounded by bytes and by progress, never by
//! a packet count:
//!
//! - [`Session::send`](crate::engineio::Session::send) refuses a message
//!   that would take the queue over
//!   [`max_buffered_bytes`](crate::engineio::Config::max_buffered_bytes)
//!   ([`SendError::Full`](crate::engineio::SendError::Full)); each message
//!   counts its data plus
//!   [`QUEUED_PACKET_OVERHEAD`](crate::engineio::QUEUED_PACKET_OVERHEAD).
//! - While messages wait, `handle_timeout` arms a stall deadline of
//!   [`stall_timeout`](crate::engineio::Config::stall_timeout); any taking
//!   (a GET's response, the WebSocket writer taking frames) clears it. If
//!   it passes, the session closes as a slow consumer.
//!
//! ## One timer for all of it
//!
//! [`Session::poll_timeout`](crate::engineio::Session::poll_timeout) is the
//! earliest of the closing deadline, the heartbeat's (`ping_at` or the pong
//! deadline, unless suspended by a probe), the upgrade deadline and the
//! stall deadline; `None` once closed. The driver (`server/driver.rs: run`)
//! arms one tokio timer at it, and calls `handle_timeout(now)` at every turn
//! of its loop: the core decides what is due, so a timer that fires late or
//! early is harmless. Because sending reads no clock, the caller calls
//! `handle_timeout` after sending too; that is where a new backlog gets its
//! stall deadline.
//!
//! Every state has a deadline: a session whose client vanished always ends
//! by itself. The unit tests (`engineio/session/tests.rs`) run each of these
//! paths on a virtual clock, millisecond by millisecond.
//!
//! ## Inputs and outputs
//!
//! | input | from | what it can do |
//! | --- | --- | --- |
//! | [`handle_poll`](crate::engineio::Session::handle_poll) | a GET | marks a GET pending; a second one is a transport error |
//! | [`handle_poll_aborted`](crate::engineio::Session::handle_poll_aborted) | the GET's connection closed | transport error |
//! | [`handle_post`](crate::engineio::Session::handle_post) | a POST body | packets, in order; a bad payload is a parse error, an oversized one a transport error |
//! | [`handle_ws_text`](crate::engineio::Session::handle_ws_text), [`handle_ws_binary`](crate::engineio::Session::handle_ws_binary) | a WebSocket frame | a packet, or the probe |
//! | [`handle_ws_closed`](crate::engineio::Session::handle_ws_closed) | the WebSocket closed or failed | the end of the session, or of the probe |
//! | [`begin_upgrade`](crate::engineio::Session::begin_upgrade) | a WebSocket for a polling session | the probe |
//! | [`send`](crate::engineio::Session::send), [`send_volatile`](crate::engineio::Session::send_volatile), [`close`](crate::engineio::Session::close), [`shutdown`](crate::engineio::Session::shutdown) | the application | a MESSAGE queued, or the closing |
//! | [`handle_timeout`](crate::engineio::Session::handle_timeout) | the timer | PING, ping timeout, upgrade timeout, drain end, stall |
//!
//! | output | to | when to pull it |
//! | --- | --- | --- |
//! | [`take_poll_response`](crate::engineio::Session::take_poll_response) | the pending GET | after every input while a GET waits |
//! | [`poll_ws_frame`](crate::engineio::Session::poll_ws_frame), [`take_ws_close`](crate::engineio::Session::take_ws_close) | the WebSocket | after every input while a WebSocket is attached |
//! | [`poll_event`](crate::engineio::Session::poll_event) | the application | after every input, until `None` |
//! | [`poll_timeout`](crate::engineio::Session::poll_timeout) | the timer | after every input |
