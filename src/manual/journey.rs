//! # 2. The journey of one request and of one frame
//!
//! Two trips through every layer: a polling POST that carries a message
//! from the client, with the pending GET that carries the answer back, and
//! a WebSocket frame. Each step names the function that does it; the
//! private ones are given with their file under `src/`.
//!
//! ## Before any request: the connection
//!
//! 1. [`Server::serve`](crate::server::Server::serve) accepts a TCP
//!    connection and sets `TCP_NODELAY` (small packets leave at once).
//! 2. `server/mod.rs: spawn_connection` wraps the stream in
//!    `server/timed_io.rs: TimedIo` (every write that makes no progress for
//!    [`write_timeout`](crate::server::ServerConfig::write_timeout) fails:
//!    a client that stops reading cannot hold the connection), checks
//!    [`max_connections_per_ip`](crate::server::ServerConfig::max_connections_per_ip),
//!    and with [`tls`](crate::server::ServerConfig::tls) runs the rustls
//!    handshake within
//!    [`tls_handshake_timeout`](crate::server::ServerConfig::tls_handshake_timeout).
//! 3. `server/mod.rs: serve_http` serves HTTP/1.1 on it with hyper
//!    ([`header_read_timeout`](crate::server::ServerConfig::header_read_timeout),
//!    [`max_header_size`](crate::server::ServerConfig::max_header_size),
//!    upgrades allowed); each request goes to `server/http.rs: handle`.
//!
//! ## One HTTP long-polling round trip
//!
//! engine.io-protocol v4, "Transports › HTTP long-polling": the client
//! sends with POST and receives with a long-running GET, at most one of
//! each at a time.
//!
//! ### The handshake GET
//!
//! `GET /socket.io/?EIO=4&transport=polling`
//!
//! 1. `server/http.rs: handle` checks the path
//!    ([`ServerConfig::path`](crate::server::ServerConfig::path); other
//!    paths go to the next server of [`Server::and`](crate::server::Server::and)
//!    or to [`Server::with_fallback`](crate::server::Server::with_fallback)),
//!    then the CORS policy ([`Cors`](crate::server::Cors); `OPTIONS` gets a
//!    preflight answer).
//! 2. It builds a [`RequestHead`](crate::engineio::RequestHead) (method,
//!    raw query, whether it asks for a WebSocket) and calls
//!    [`engineio::route`](crate::engineio::route), which reads the query
//!    ([`Query::parse`](crate::engineio::Query::parse)) and answers
//!    [`Route::Open`](crate::engineio::Route::Open), or a
//!    [`Rejection`](crate::engineio::Rejection) that
//!    `server/http.rs: rejected` turns into the reference server's HTTP 400
//!    and `{"code":N,"message":"..."}` ("Transports › HTTP long-polling ›
//!    Query parameters").
//! 3. The session caps admit the client (`server/admission.rs`; the client
//!    address is [`TrustProxy::client_address`](crate::server::TrustProxy::client_address)).
//! 4. [`Session::new`](crate::engineio::Session::new) creates the core with a
//!    fresh [`Sid`](crate::engineio::Sid) and queues the OPEN packet
//!    ([`handshake::open_json`](crate::engineio::handshake::open_json):
//!    `sid`, `upgrades`, `pingInterval`, `pingTimeout`, `maxPayload`;
//!    "Protocol › Handshake").
//! 5. `server/driver.rs: spawn` puts the session in the table and starts
//!    its driver task (`server/driver.rs: run`), which calls
//!    [`Handler::on_open`](crate::server::Handler::on_open).
//! 6. `server/http.rs: poll` treats the handshake as the session's first
//!    GET: [`Session::handle_poll`](crate::engineio::Session::handle_poll)
//!    marks a GET pending, and
//!    [`Session::take_poll_response`](crate::engineio::Session::take_poll_response)
//!    returns `0{"sid":...}`: the 200 answer.
//!
//! ### The waiting GET
//!
//! `GET /socket.io/?EIO=4&transport=polling&sid=...`
//!
//! 1. [`engineio::route`](crate::engineio::route) answers
//!    [`Route::Poll`](crate::engineio::Route::Poll) (after looking the sid up
//!    in the session table: an unknown one is code 1, "Session ID unknown").
//! 2. `server/http.rs: poll` calls `handle_poll`; with nothing queued,
//!    `take_poll_response` returns `None` and the request waits on the
//!    session's poll notifier (`SessionHandle::poll_changed`). An
//!    `AbortGuard` watches the request: if the client goes away, dropping the
//!    future calls
//!    [`Session::handle_poll_aborted`](crate::engineio::Session::handle_poll_aborted)
//!    and the session ends with "transport error", as the reference's.
//!
//! ### The POST with a message
//!
//! `POST /socket.io/?EIO=4&transport=polling&sid=...`, body
//! `42["hello","world"]`
//!
//! 1. [`engineio::route`](crate::engineio::route) answers
//!    [`Route::Post`](crate::engineio::Route::Post).
//! 2. `server/http.rs: post` refuses a declared `Content-Length` over
//!    [`max_payload`](crate::engineio::Config::max_payload) before reading
//!    a byte (413), then `read_body` reads at most that many bytes within
//!    [`body_read_timeout`](crate::server::ServerConfig::body_read_timeout).
//! 3. [`Session::handle_post`](crate::engineio::Session::handle_post) takes
//!    the body: [`payload::decode`](crate::engineio::payload::decode) splits
//!    it at `\x1e` and decodes each record with
//!    [`Packet::decode_text`](crate::engineio::Packet::decode_text) ("Packet
//!    encoding › HTTP long-polling"). The `4` makes it a MESSAGE; the
//!    session queues
//!    [`Event::Message`](crate::engineio::Event::Message) with the data
//!    `2["hello","world"]` (a PONG would re-arm the heartbeat instead,
//!    a CLOSE end the session).
//! 4. `SessionHandle::after_post` hands the message over from the POST's
//!    own task: it takes the session's *turn* (the lock whoever hands the
//!    core's events to the handler holds, so that they arrive in order),
//!    drains every [`Session::poll_event`](crate::engineio::Session::poll_event)
//!    under the core's lock and, out of it, counts the message in
//!    [`Stats`](crate::server::Stats) and hands the messages gathered in a
//!    row to [`Handler::on_messages`](crate::server::Handler::on_messages)
//!    as one batch (`server/driver.rs: hand_events`). The driver is woken
//!    only if the POST moved a timer (a PONG re-arms the heartbeat) or
//!    ended the session. When the driver holds the turn (or has not told
//!    the handler the session opened yet), `SessionHandle::changed` wakes
//!    it instead and it does the same in its loop (`server/driver.rs: run`,
//!    after [`Session::handle_timeout`](crate::engineio::Session::handle_timeout)
//!    with the time now).
//! 5. The POST is answered `ok` ("Sending data").
//! 6. With the Socket.IO layer, the handler is
//!    [`SocketIoHandler`](crate::server::SocketIoHandler): the message is a
//!    Socket.IO EVENT packet (`2`, socket.io-protocol v5, "Exchange
//!    protocol › Sending and receiving data") for the Socket.IO core and,
//!    from there, the application's handler for `hello` (chapters 4 and 5).
//!
//! ### The answer back
//!
//! 1. The application sends: [`EngineSocket::send`](crate::server::EngineSocket::send)
//!    calls [`Session::send`](crate::engineio::Session::send), which queues
//!    the MESSAGE (or refuses it: [`SendError`](crate::engineio::SendError)),
//!    then wakes the GET, if one is pending. Over polling the driver is
//!    woken only when the send moved a timer (the stall deadline of a
//!    client slow to fetch); over WebSocket it is, to write the frame.
//! 2. The waiting `server/http.rs: poll` wakes and calls
//!    [`Session::take_poll_response`](crate::engineio::Session::take_poll_response):
//!    the queued packets from the front, as many as fit in about
//!    `max_payload` bytes (and
//!    [`max_poll_packets`](crate::engineio::Config::max_poll_packets)),
//!    joined by [`payload::encode`](crate::engineio::payload::encode). The
//!    GET is answered 200 with `4...`; whatever did not fit waits for the
//!    next GET.
//!
//! The heartbeat goes the same way: when the driver's one timer fires at
//! [`Session::poll_timeout`](crate::engineio::Session::poll_timeout),
//! `handle_timeout` queues a PING (`2`), the pending GET carries it, and the
//! client's PONG (`3`) comes back in a POST.
//!
//! ## One WebSocket frame
//!
//! engine.io-protocol v4, "Transports › WebSocket" and "Packet encoding ›
//! WebSocket": one packet per frame; a binary frame is a binary MESSAGE.
//!
//! ### Getting a WebSocket
//!
//! `GET /socket.io/?EIO=4&transport=websocket` with `Upgrade: websocket`
//! (or `&sid=...` for an upgrade from polling):
//!
//! 1. [`engineio::route`](crate::engineio::route) answers
//!    [`Route::Open`](crate::engineio::Route::Open) with the WebSocket
//!    transport, or [`Route::Upgrade`](crate::engineio::Route::Upgrade) for a
//!    polling session ("Protocol › Upgrade"), or
//!    [`Route::AcceptAndClose`](crate::engineio::Route::AcceptAndClose) for a
//!    WebSocket the reference accepts only to close.
//! 2. `server/http.rs: accept_websocket` answers 101 with the
//!    `Sec-WebSocket-Accept` key. For an upgrade it first calls
//!    [`Session::begin_upgrade`](crate::engineio::Session::begin_upgrade):
//!    refused ([`ProbeRefused`](crate::engineio::ProbeRefused)), the
//!    WebSocket is closed at once and the polling session goes on.
//! 3. A task awaits the upgraded connection and wraps it in a
//!    tokio-tungstenite `WebSocketStream` (a read buffer of
//!    [`ws_read_buffer_size`](crate::server::ServerConfig::ws_read_buffer_size),
//!    messages and frames at most `max_payload`). A new session gets a
//!    driver with the WebSocket (`server/driver.rs: spawn`); an upgrade
//!    hands it to the running driver (`SessionHandle::attach_ws`).
//!
//! ### A text frame in
//!
//! Frame `42["hello","world"]` on an open WebSocket session:
//!
//! 1. The driver (`server/driver.rs: run`) waits in one `select!` on its
//!    timer, its wake-up notifier and the next WebSocket message
//!    (`next_message`).
//! 2. `server/driver.rs: feed_ready_messages` takes that message and up to
//!    63 more that tungstenite already read (`READ_BATCH`), under one lock
//!    of the core and one reading of the clock, and
//!    `server/driver.rs: feed_ws_message` gives each to the core:
//!    [`Session::handle_ws_text`](crate::engineio::Session::handle_ws_text)
//!    (or [`handle_ws_binary`](crate::engineio::Session::handle_ws_binary),
//!    or [`handle_ws_closed`](crate::engineio::Session::handle_ws_closed) for
//!    a Close or an error: 1009 for a message over `max_payload`, 1007 for
//!    invalid UTF-8, as the reference's `ws`).
//! 3. `handle_ws_text` decodes the frame with
//!    [`Packet::decode_text`](crate::engineio::Packet::decode_text) and
//!    queues [`Event::Message`](crate::engineio::Event::Message), exactly as
//!    a POST record would.
//! 4. Back at the top of its loop, the driver drains the events and hands
//!    the batch to [`Handler::on_messages`](crate::server::Handler::on_messages),
//!    as for polling; then, if the application asked for it
//!    ([`EngineSocket::wake`](crate::server::EngineSocket::wake)), it calls
//!    [`Handler::on_flush`](crate::server::Handler::on_flush), which moves
//!    what the handlers left waiting (answers, held broadcast packets) onto
//!    the session. Sends and wake-ups in this part of the turn notify no
//!    one: the drain that follows takes them, and a wake-up that comes
//!    after the flush is seen when the drain is done.
//!
//! During an upgrade the same frames reach the core, which reads them as
//! the probe: `2probe` is answered `3probe` (from
//! [`Session::poll_ws_frame`](crate::engineio::Session::poll_ws_frame)),
//! pending GETs get a NOOP so the client can pause polling, and `5`
//! completes the upgrade
//! ([`Event::Upgraded`](crate::engineio::Event::Upgraded),
//! [`Handler::on_upgrade`](crate::server::Handler::on_upgrade)).
//!
//! ### Frames out
//!
//! 1. After the events and the flush, the driver collects
//!    [`Session::poll_ws_frame`](crate::engineio::Session::poll_ws_frame)
//!    until it returns `None`: every packet queued by the handlers of that
//!    batch, so the answers leave in the turn that read their requests.
//! 2. `server/driver.rs: write_frames` feeds them all to tungstenite, a text
//!    MESSAGE straight from its shared buffer
//!    ([`Packet::shared_text_frame`](crate::engineio::Packet::shared_text_frame):
//!    one broadcast is encoded once, not once per receiver), and flushes
//!    once: a burst leaves in one write.
//! 3. The write goes through `TimedIo`: a client that does not read makes
//!    it fail after `write_timeout`, and the session closes as a slow
//!    consumer ([`CloseReason::SlowConsumer`](crate::engineio::CloseReason::SlowConsumer)).
//! 4. If the core says the WebSocket must close
//!    ([`Session::take_ws_close`](crate::engineio::Session::take_ws_close)),
//!    `server/driver.rs: close_gracefully` runs the closing handshake in a
//!    task of its own, for at most
//!    [`ws_close_timeout`](crate::server::ServerConfig::ws_close_timeout).
//! 5. The driver sleeps until
//!    [`Session::poll_timeout`](crate::engineio::Session::poll_timeout), a
//!    wake-up or the next frame, and the loop goes round. When the session
//!    is closed it calls [`Handler::on_close`](crate::server::Handler::on_close)
//!    with the typed [`CloseReason`](crate::engineio::CloseReason), leaves the
//!    table, and the task ends.
