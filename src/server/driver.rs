//! One task per session: the timer, the WebSocket, and the handler calls.
//!
//! The session's core sits behind a mutex that is never held across an
//! `await`. Whoever changes the core (a POST, a GET, the application sending)
//! wakes the driver and the pending GET; the driver then drains the core's
//! outputs: events to the [`Handler`](super::Handler), frames to the
//! WebSocket, and the next deadline for its one timer.

use std::any::Any;
use std::future::pending;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use std::task::{Context, Poll, Waker};

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data as OpData, OpCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::admission::Permit;
use super::{Handler, Shared, Stats, lock};
use crate::engineio::{
    CloseReason, Data, Event, Frame, Packet, Protocol, SendError, Session, Sid, TransportKind,
};
use crate::socketio::ConnInfo;

/// A server-side WebSocket over a hyper-upgraded connection, or over a
/// tunnel from another node of the cluster.
pub(super) type WsStream = WebSocketStream<WsIo>;

/// The bytes under a [`WsStream`].
pub(super) enum WsIo {
    /// The client's own connection. Its writes are bounded by the
    /// connection's [`TimedIo`](super::timed_io::TimedIo) underneath.
    Direct(TokioIo<Upgraded>),
    /// A connection another node accepted and relays over Redis
    /// ([`redis_forward`](super::redis_forward)'s tunnels): this end of an
    /// in-memory pipe whose other end that relay feeds and drains.
    Relayed(tokio::io::DuplexStream),
}

impl tokio::io::AsyncRead for WsIo {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Direct(io) => std::pin::Pin::new(io).poll_read(cx, buf),
            WsIo::Relayed(io) => std::pin::Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for WsIo {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WsIo::Direct(io) => std::pin::Pin::new(io).poll_write(cx, buf),
            WsIo::Relayed(io) => std::pin::Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Direct(io) => std::pin::Pin::new(io).poll_flush(cx),
            WsIo::Relayed(io) => std::pin::Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Direct(io) => std::pin::Pin::new(io).poll_shutdown(cx),
            WsIo::Relayed(io) => std::pin::Pin::new(io).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WsIo::Direct(io) => std::pin::Pin::new(io).poll_write_vectored(cx, bufs),
            WsIo::Relayed(io) => std::pin::Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WsIo::Direct(io) => io.is_write_vectored(),
            WsIo::Relayed(io) => io.is_write_vectored(),
        }
    }
}

/// The session's core and the means to wake those waiting on it.
pub(super) struct SessionHandle {
    sid: Sid,
    core: Mutex<Session>,
    /// Wakes the driver task.
    driver_wake: Notify,
    /// Wakes the pending polling GET (there is at most one).
    poll_wake: Notify,
    /// A WebSocket handed over by an upgrade request, for the driver to take.
    incoming_ws: Mutex<Option<WsStream>>,
    /// [`EngineSocket::wake`] was called: the driver owes the handler an
    /// [`on_flush`](super::Handler::on_flush).
    app_flush: AtomicBool,
    /// The driver is in its turn, before the drain that takes the frames
    /// (see [`run`]): it is handing events over and flushing what the
    /// application held, so a send or a wake-up then needs no wake-up of
    /// its own. Cleared under the core's lock, so a send either sees it set
    /// and is taken by that drain, or wakes the driver; a wake-up that sees
    /// it set is seen by the driver after the drain.
    in_turn: AtomicBool,
    /// Held by whoever hands the core's events to the handler (the driver,
    /// or a POST's task in [`after_post`](Self::after_post)), so that they
    /// reach it in order, one call at a time.
    turn: Mutex<()>,
    /// The driver told the handler the session opened: from then on a
    /// POST's task may hand its messages over itself.
    opened: AtomicBool,
    /// The client's address ([`EngineSocket::address`]).
    address: IpAddr,
    /// What the handler keeps with the session ([`EngineSocket::set_handler_data`]).
    handler_data: OnceLock<Weak<dyn Any + Send + Sync>>,
    /// The request that opened the session ([`EngineSocket::request`]).
    request: Option<Arc<ConnInfo>>,
    /// The protocol the session was opened with ([`EngineSocket::protocol`]).
    protocol: Protocol,
}

impl SessionHandle {
    pub(super) fn new(
        session: Session,
        request: Option<Arc<ConnInfo>>,
        address: IpAddr,
    ) -> Arc<SessionHandle> {
        Arc::new(SessionHandle {
            sid: session.sid(),
            protocol: session.protocol(),
            core: Mutex::new(session),
            driver_wake: Notify::new(),
            poll_wake: Notify::new(),
            incoming_ws: Mutex::new(None),
            app_flush: AtomicBool::new(false),
            in_turn: AtomicBool::new(false),
            turn: Mutex::new(()),
            opened: AtomicBool::new(false),
            address,
            handler_data: OnceLock::new(),
            request,
        })
    }

    /// Locks the core. Callers must call [`changed`](Self::changed) after any
    /// input they give it.
    pub(super) fn core(&self) -> MutexGuard<'_, Session> {
        lock(&self.core)
    }

    /// Something changed in the core: its outputs must be drained.
    pub(super) fn changed(&self) {
        self.driver_wake.notify_one();
        self.poll_wake.notify_one();
    }

    /// [`changed`](Self::changed) after an input whose only outputs may
    /// be the pending GET's answer (a GET coming, a GET answered): the
    /// driver is woken only when the input left it something, events to
    /// hand over, a timer that moved (`before` is the core's
    /// [`poll_timeout`](Session::poll_timeout) from before the input) or
    /// the end of the session. Two wake-ups fewer per polling round trip.
    pub(super) fn changed_since(&self, core: MutexGuard<'_, Session>, before: Option<Instant>) {
        let driver = core.has_events() || core.is_closed() || core.poll_timeout() != before;
        drop(core);
        if driver {
            self.driver_wake.notify_one();
        }
        self.poll_wake.notify_one();
    }

    /// A POST's payload is in the core (`before` is the core's
    /// [`poll_timeout`](Session::poll_timeout) from before it): its
    /// messages go to the handler from the POST's own task when the driver
    /// is not handing events over itself, so that a message over polling
    /// costs no wake-up of the driver (which is woken only when the POST
    /// moved a timer or ended the session); otherwise as
    /// [`changed`](Self::changed).
    pub(super) fn after_post(self: &Arc<Self>, shared: &Shared, before: Option<Instant>) {
        let turn = match self.turn.try_lock() {
            Ok(turn) => Some(turn),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        let Some(_turn) = turn.filter(|_| self.opened.load(Ordering::Acquire)) else {
            return self.changed();
        };
        let mut events = Vec::new();
        let driver = {
            let mut core = self.core();
            events.extend(std::iter::from_fn(|| core.poll_event()));
            core.is_closed() || core.poll_timeout() != before
        };
        if driver {
            self.driver_wake.notify_one();
        }
        let socket = EngineSocket {
            handle: self.clone(),
            stats: shared.stats.clone(),
            address: self.address,
        };
        hand_events(shared, &socket, &mut events, &mut Vec::new());
        self.poll_wake.notify_one();
    }

    pub(super) fn transport(&self) -> TransportKind {
        self.core().transport()
    }

    /// Waits until the core may have a response for the pending GET.
    pub(super) async fn poll_changed(&self) {
        self.poll_wake.notified().await;
    }

    pub(super) fn shutdown(&self, now: Instant) {
        self.core().shutdown(now);
        self.changed();
    }

    /// Hands the driver a WebSocket to probe for an upgrade.
    pub(super) fn attach_ws(&self, ws: WsStream) {
        *lock(&self.incoming_ws) = Some(ws);
        self.changed();
    }

    fn send(&self, data: Data, volatile: bool) -> Result<(), SendError> {
        self.send_batch(|send| send(data, volatile))
    }

    /// Runs `batch`, whose sends (a message, and whether it is volatile)
    /// are queued under one lock of the core, then wakes the driver and the
    /// pending GET as one send would, if anything was queued.
    fn send_batch<R>(
        &self,
        batch: impl FnOnce(&mut dyn FnMut(Data, bool) -> Result<(), SendError>) -> R,
    ) -> R {
        let (result, sent, poll_pending, driver) = {
            let mut core = self.core();
            let websocket = core.transport() == TransportKind::WebSocket;
            let before = if websocket { None } else { core.poll_timeout() };
            let mut sent = false;
            let result = batch(&mut |data, volatile| {
                let result = if volatile {
                    core.send_volatile(data)
                } else {
                    core.send(data)
                };
                sent |= result.is_ok();
                result
            });
            // The driver writes a WebSocket's frames; over polling the GET
            // takes what is sent, and the driver cares only when a timer
            // moved (a client slow to fetch) or the session ended. A flush
            // from the driver's own turn is drained by that turn: waking it
            // would only cost an empty turn. (The handlers' sends still
            // wake it: the turn they cause also reads what came in
            // meanwhile, so that more answers share a write.)
            let driver = !self.in_turn.load(Ordering::Relaxed)
                && (websocket || core.poll_timeout() != before);
            (result, sent, core.is_poll_pending(), driver)
        };
        if sent {
            if driver {
                self.driver_wake.notify_one();
            }
            // Only a waiting GET cares; a WebSocket session never has one
            // (and a broadcast calls this once per receiver).
            if poll_pending {
                self.poll_wake.notify_one();
            }
        }
        result
    }

    fn close(&self) {
        self.core().close(Instant::now());
        self.changed();
    }
}

/// The application's handle on one Engine.IO session (engine.io-protocol v4,
/// "Protocol": from the handshake to the close). Cheap to clone.
#[derive(Clone)]
pub struct EngineSocket {
    handle: Arc<SessionHandle>,
    stats: Arc<Stats>,
    address: IpAddr,
}

impl EngineSocket {
    /// The session id.
    pub fn sid(&self) -> Sid {
        self.handle.sid
    }

    /// The client's IP address: the TCP peer's, or behind a trusted proxy
    /// the one its forwarding headers give
    /// ([`ServerConfig::trust_proxy`](super::ServerConfig::trust_proxy)),
    /// as seen at the handshake. IPv4 clients of a dual-stack listener show
    /// as IPv4 addresses.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The transport the session currently uses.
    pub fn transport(&self) -> TransportKind {
        self.handle.transport()
    }

    /// The engine.io-protocol revision the session was opened with (v3 for
    /// socket.io 2.x clients, with `allow_eio3`).
    pub fn protocol(&self) -> Protocol {
        self.handle.protocol
    }

    /// The HTTP request that opened the session (its headers, the client's
    /// address, the URL), as the reference keeps it in `socket.request`;
    /// kept only with [`ServerConfig::keep_requests`](super::ServerConfig::keep_requests).
    pub fn request(&self) -> Option<Arc<ConnInfo>> {
        self.handle.request.clone()
    }

    /// Queues a message for the client (engine.io-protocol v4, "Protocol ›
    /// Message"); see [`Session::send`](crate::engineio::Session::send) for
    /// the errors.
    pub fn send(&self, data: Data) -> Result<(), SendError> {
        self.stats.sent(&data);
        self.handle.send(data, false)
    }

    /// Queues what `batch` sends (a message, and whether it is volatile, as
    /// [`send_volatile`](Self::send_volatile) is) under one lock of the
    /// session, and wakes its driver once: for a broadcast's held packets,
    /// several per receiver.
    pub(crate) fn send_batch<R>(
        &self,
        batch: impl FnOnce(&mut dyn FnMut(Data, bool) -> Result<(), SendError>) -> R,
    ) -> R {
        let (mut packets, mut bytes) = (0u64, 0u64);
        let result = self.handle.send_batch(|send| {
            batch(&mut |data: Data, volatile| {
                let len = data.len() as u64;
                let sent = send(data, volatile);
                if sent.is_ok() {
                    packets += 1;
                    bytes += len;
                }
                sent
            })
        });
        if packets > 0 {
            self.stats.sent_many(packets, bytes);
        }
        result
    }

    /// Queues a message only if the client can take it now; see
    /// [`Session::send_volatile`](crate::engineio::Session::send_volatile).
    pub fn send_volatile(&self, data: Data) -> Result<(), SendError> {
        // Counted only when it goes; a clone of `Data` shares its buffer.
        let counted = data.clone();
        let sent = self.handle.send(data, true);
        if sent.is_ok() {
            self.stats.sent(&counted);
        }
        sent
    }

    /// Closes the session: queued messages are delivered, then CLOSE
    /// (engine.io-protocol v4, "Protocol": the `close` packet; over
    /// WebSocket the reference closes the WebSocket instead, and so do we).
    pub fn close(&self) {
        self.handle.close();
    }

    /// Keeps `data` with the session for the handler, set once (in
    /// [`on_open`](super::Handler::on_open)): what the handler needs on every
    /// later call, found without a lookup by session id. Kept weakly, so
    /// that data holding this socket makes no cycle: the handler owns it.
    /// `false` when data was set already.
    pub fn set_handler_data(&self, data: &Arc<dyn Any + Send + Sync>) -> bool {
        self.handle.handler_data.set(Arc::downgrade(data)).is_ok()
    }

    /// The data [`set_handler_data`](Self::set_handler_data) kept, while the
    /// handler still holds it.
    pub fn handler_data(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        self.handle.handler_data.get()?.upgrade()
    }

    /// Asks the session's driver to call the handler's
    /// [`on_flush`](super::Handler::on_flush) soon, before it next writes:
    /// an application that holds packets for many sessions (a broadcast)
    /// hands each session all it holds in one go, from that session's own
    /// task, instead of touching every session once per packet. Wakes in a
    /// row before the driver runs cost one call.
    pub fn wake(&self) {
        // The driver's turn flushes before its drain, and looks again
        // after it: a wake-up in between needs no notification (see `run`).
        if !self.handle.app_flush.swap(true, Ordering::SeqCst)
            && !self.handle.in_turn.load(Ordering::SeqCst)
        {
            self.handle.driver_wake.notify_one();
        }
    }
}

impl std::fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSocket")
            .field("sid", &self.handle.sid)
            .finish()
    }
}

/// Adds a new session to the table and starts its driver, which holds the
/// session's place under the session caps until it ends.
pub(super) fn spawn(
    shared: Arc<Shared>,
    handle: Arc<SessionHandle>,
    ws: Option<WsStream>,
    permit: Permit,
) {
    shared.sessions().insert(handle.sid, handle.clone());
    // Boxed: tokio moves a task's future (and writes its whole size again
    // when it ends), and the driver's is large (the WebSocket inline).
    tokio::spawn(Box::pin(async move {
        run(shared, handle, ws).await;
        drop(permit);
    }));
}

/// The driver loop: drain the core, write, then wait for the next input,
/// timer or wake-up. Ends when the session is closed.
async fn run(shared: Arc<Shared>, handle: Arc<SessionHandle>, mut ws: Option<WsStream>) {
    let socket = EngineSocket {
        handle: handle.clone(),
        stats: shared.stats.clone(),
        address: handle.address,
    };
    shared.stats.opened();
    {
        let _turn = lock(&handle.turn);
        shared.handler.on_open(&socket);
        handle.opened.store(true, Ordering::Release);
    }
    let mut frames = Vec::new();
    let mut events = Vec::new();
    let mut messages = Vec::new();
    // The session's one timer, kept across turns and moved only when the
    // deadline moves: tokio enters a sleep into its timer wheel when it is
    // first polled and takes it out when it is dropped, so a new sleep per
    // turn would cost two updates of the wheel on every message.
    let far = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let mut timer = std::pin::pin!(tokio::time::sleep_until(far));
    let mut armed: Option<Instant> = None;
    loop {
        // Handler calls from here to the write are this turn's.
        let turn = lock(&handle.turn);
        // Sends and wake-ups from here to the drain of step 3 wake no one:
        // that drain takes them.
        handle.in_turn.store(true, Ordering::SeqCst);
        if let Some(incoming) = lock(&handle.incoming_ws).take() {
            // Only one WebSocket per session: a newer probe replaces nothing
            // live, because the core refuses a second upgrade.
            ws = Some(incoming);
        }

        // 1. Take the core's events.
        {
            let mut core = handle.core();
            core.handle_timeout(Instant::now());
            events.extend(std::iter::from_fn(|| core.poll_event()));
        }

        // 2. Hand them to the application, outside the core's lock; then
        // ask it for what it held back for this session (a broadcast's
        // packets, the handlers' answers), so that this turn writes it
        // with the answers.
        hand_events(&shared, &socket, &mut events, &mut messages);
        if handle.app_flush.swap(false, Ordering::SeqCst) {
            shared.handler.on_flush(&socket);
        }

        // 3. Drain the core.
        let (deadline, close_ws, closed, poll_pending, protocol) = {
            let mut core = handle.core();
            handle.in_turn.store(false, Ordering::SeqCst);
            if ws.is_some() {
                frames.extend(std::iter::from_fn(|| core.poll_ws_frame()));
            }
            // What the handlers did may have ended the session, and taking
            // the last frames may too (a CLOSE sent at shutdown): its Closed
            // event goes out this turn.
            events.extend(std::iter::from_fn(|| core.poll_event()));
            (
                core.poll_timeout(),
                core.take_ws_close(),
                core.is_closed(),
                core.is_poll_pending(),
                core.protocol(),
            )
        };
        if poll_pending {
            handle.poll_wake.notify_one();
        }
        hand_events(&shared, &socket, &mut events, &mut messages);
        drop(turn);

        // 3. Write to the WebSocket.
        if let Some(socket_ws) = ws.as_mut()
            && !frames.is_empty()
            && let Err(error) = write_frames(socket_ws, &mut frames, protocol).await
        {
            frames.clear();
            ws = None;
            handle
                .core()
                .handle_ws_closed(Instant::now(), write_failure(&error));
            continue;
        }
        if close_ws && let Some(socket_ws) = ws.take() {
            close_gracefully(socket_ws, None, shared.config.ws_close_timeout);
        }
        if closed {
            break;
        }

        // 4. Wait for something to happen.
        if deadline != armed {
            if let Some(at) = deadline {
                timer.as_mut().reset(at.into());
            }
            armed = deadline;
        }
        // A wake-up that came after step 2 and before step 3's drain
        // notified no one (`in_turn`): this turn's drain may not have
        // taken what it asked for.
        if handle.app_flush.load(Ordering::SeqCst) {
            continue;
        }
        tokio::select! {
            () = timer.as_mut(), if armed.is_some() => armed = None,
            () = handle.driver_wake.notified() => {}
            message = next_message(&mut ws) => {
                let outcome = feed_ready_messages(&mut ws, &mut handle.core(), message);
                handle.poll_wake.notify_one();
                match outcome {
                    WsOutcome::Open => {}
                    WsOutcome::Gone => ws = None,
                    WsOutcome::Refused(frame) => {
                        if let Some(socket_ws) = ws.take() {
                            let timeout = shared.config.ws_close_timeout;
                            close_gracefully(socket_ws, Some(frame), timeout);
                        }
                    }
                }
            }
        }
    }
    shared.sessions().remove(&handle.sid);
    shared.session_removed.notify_waiters();
}

/// Why a WebSocket write failed, for the session: a write that made no
/// progress for `write_timeout` (the connection's
/// [`TimedIo`](super::timed_io::TimedIo) gave up) is a client that stopped
/// reading, a slow consumer; anything else is a transport error.
fn write_failure(error: &WsError) -> CloseReason {
    match error {
        WsError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => CloseReason::SlowConsumer,
        _ => CloseReason::TransportError,
    }
}

/// Hands the core's events to the handler, in order; messages in a row go
/// as one batch. The caller holds the session's `turn`.
fn hand_events(
    shared: &Shared,
    socket: &EngineSocket,
    events: &mut Vec<Event>,
    messages: &mut Vec<Data>,
) {
    for event in events.drain(..) {
        match event {
            Event::Message(data) => {
                shared.stats.received(&data);
                messages.push(data);
            }
            Event::Upgraded => {
                hand_over(&*shared.handler, socket, messages);
                shared.stats.upgraded();
                shared.handler.on_upgrade(socket);
            }
            Event::Closed(reason) => {
                hand_over(&*shared.handler, socket, messages);
                shared.stats.closed();
                shared.handler.on_close(socket, reason);
            }
        }
    }
    hand_over(&*shared.handler, socket, messages);
}

/// Hands the messages gathered so far to the handler, as one batch.
fn hand_over(handler: &dyn Handler, socket: &EngineSocket, messages: &mut Vec<Data>) {
    if !messages.is_empty() {
        handler.on_messages(socket, &mut messages.drain(..));
    }
}

/// What became of the WebSocket after one read.
enum WsOutcome {
    /// Still open.
    Open,
    /// Closed by the peer or failed: drop it.
    Gone,
    /// A message the WebSocket layer refused: close it with this frame.
    Refused(CloseFrame),
}

/// The Close frame answering a read error, when the error is the client's
/// doing and has a close code (RFC 6455, section 7.4.1). As the reference
/// server (`ws`): 1009 for a message over `maxPayload`, 1007 for a text
/// message that is not UTF-8.
fn close_frame_for(error: &WsError) -> Option<CloseFrame> {
    let (code, reason) = match error {
        WsError::Capacity(_) => (CloseCode::Size, "message too big"),
        WsError::Utf8(_) => (CloseCode::Invalid, "invalid UTF-8"),
        _ => return None,
    };
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

/// The most WebSocket messages handed to the core in one turn of the driver
/// loop. Bounds the time one busy client holds its driver before writing.
const READ_BATCH: usize = 64;

/// Hands `first` to the core, then the messages the WebSocket already holds
/// (read from the socket with it), up to [`READ_BATCH`]: their answers then
/// leave together, in one write and one flush, instead of one flush each.
fn feed_ready_messages(
    ws: &mut Option<WsStream>,
    core: &mut Session,
    first: Option<Result<Message, WsError>>,
) -> WsOutcome {
    // One reading of the clock for the batch: its messages arrived together.
    let now = Instant::now();
    let mut outcome = feed_ws_message(core, now, first);
    for _ in 1..READ_BATCH {
        let Some(socket) = ws.as_mut() else { break };
        if !matches!(outcome, WsOutcome::Open) {
            break;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match socket.poll_next_unpin(&mut cx) {
            Poll::Ready(message) => outcome = feed_ws_message(core, now, message),
            // Nothing buffered: the driver's `select!` polls again with its
            // own waker, so no wake-up is lost.
            Poll::Pending => break,
        }
    }
    outcome
}

/// Hands one read from the WebSocket to the core.
fn feed_ws_message(
    core: &mut Session,
    now: Instant,
    message: Option<Result<Message, WsError>>,
) -> WsOutcome {
    match message {
        Some(Ok(Message::Text(text))) => core.handle_ws_text(now, text.as_str()),
        Some(Ok(Message::Binary(bytes))) => core.handle_ws_binary(now, bytes),
        // tungstenite answers pings itself on the next write.
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
        Some(Ok(Message::Close(_))) | None => {
            core.handle_ws_closed(now, CloseReason::TransportClose);
            return WsOutcome::Gone;
        }
        Some(Err(error)) => {
            core.handle_ws_closed(now, CloseReason::TransportError);
            return match close_frame_for(&error) {
                Some(frame) => WsOutcome::Refused(frame),
                None => WsOutcome::Gone,
            };
        }
    }
    WsOutcome::Open
}

/// The WebSocket closing handshake (RFC 6455, section 7.1.1), in a task of
/// its own so that the session's driver goes on (a failed upgrade probe
/// leaves a live polling session behind): send Close, then read and discard
/// until the client's Close comes back, for at most `timeout`. Dropping the
/// TCP connection straight away while the client still sends would make the
/// kernel answer with a reset, and a reset makes the client's kernel discard
/// what it had not read yet: the last messages and the Close frame itself.
pub(super) fn close_gracefully(mut ws: WsStream, frame: Option<CloseFrame>, timeout: Duration) {
    tokio::spawn(async move {
        if ws.close(frame).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(timeout, async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    });
}

/// Writes every frame already queued, then flushes once: one syscall for a
/// burst of packets, not one per packet.
async fn write_frames(
    ws: &mut WsStream,
    frames: &mut Vec<Packet>,
    protocol: Protocol,
) -> Result<(), WsError> {
    for packet in frames.drain(..) {
        // A text MESSAGE goes out of its shared buffer, as the text frame
        // tungstenite would make of it, without its check that the bytes
        // are UTF-8: an `engineio::Text` is UTF-8 by construction, and the
        // check of every receiver's copy of a broadcast was a tenth of the
        // work of a fanout. Other packets are encoded.
        let message = match packet.into_shared_text_frame() {
            Ok(bytes) => Message::Frame(WsFrame::message(bytes, OpCode::Data(OpData::Text), true)),
            Err(packet) => match protocol.ws_frame(&packet) {
                Frame::Text(text) => Message::text(text),
                Frame::Binary(bytes) => Message::Binary(bytes),
            },
        };
        ws.feed(message).await?;
    }
    ws.flush().await
}

async fn next_message(ws: &mut Option<WsStream>) -> Option<Result<Message, WsError>> {
    match ws {
        Some(ws) => ws.next().await,
        None => pending().await,
    }
}
