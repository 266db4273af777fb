//! Driving the machines: Engine.IO input in, each client's
//! [`Transmit`]s out onto its connection, its [`Event`]s turned into
//! handler calls.
//!
//! Every input or command follows the same three steps:
//! 1. lock the client and give its [`Client`] machine the input;
//! 2. [`drain`](SocketIo::drain) the machine while still holding the lock:
//!    its transmits go to the connection in order, and its events become
//!    [`Work`] (what must run application code) after the bookkeeping that
//!    must happen at once (a socket that left leaves its namespace table,
//!    an answered ack finds its callback);
//! 3. release the lock and [`run`](SocketIo::run) the work: handlers,
//!    middleware, ack callbacks. An emit never runs work itself (it may be
//!    called from a handler, which must not be re-entered): it leaves it
//!    for the end of the input in progress, or for the timer task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use serde_json::Value;

use super::conn::{Conn, queue_packet};
use super::namespace::{
    AckCallback, AckError, BroadcastAckCallback, BroadcastAcks, HandlerFuture, Handlers, Handshake,
    SocketShared, refusal_later,
};
use super::observe::SocketEvent;
use super::recovery::session_asked;
use super::socket::{AckSender, Socket};
use super::{SocketIo, lock, read, write};
use crate::engineio::{CloseReason, Data, Sid};
use crate::socketio::v4::Revision;
use crate::socketio::{Args, Client, ConnectError, DisconnectReason, Encoded, Event, Transmit, v4};

/// An ack the server waits for, and what to do with its answer.
pub(super) enum PendingAck {
    /// One socket's ack ([`Socket::emit_with_ack`]).
    One(AckCallback),
    /// One answer of a broadcast's ([`Operators::emit_with_ack`](super::Operators::emit_with_ack)).
    Group(u64),
}

/// What the timer table waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// A client's [`Client::poll_timeout`].
    Client(Sid),
    /// A broadcast's ack timeout.
    Group(u64),
    /// Connection state recovery reclaims expired sessions and packets.
    Sweep,
}

/// Application code to run once no lock is held.
pub(super) enum Work {
    Connect {
        cell: Arc<ClientCell>,
        namespace: String,
        auth: Value,
    },
    Event {
        socket: Socket,
        name: String,
        args: Args,
        ack: Option<u64>,
    },
    Ack(AckCallback, Result<Args, AckError>),
    GroupDone(BroadcastAckCallback, BroadcastAcks),
    /// A socket left: fail its pending acks, then call `on_disconnect`.
    Disconnected(Socket, DisconnectReason, Vec<AckCallback>),
}

/// One client: its connection and, behind its own lock, its machine.
///
/// What [`SocketIo::open_client`] gives the transport, for it to hand back
/// to [`flush_client`](SocketIo::flush_client) and
/// [`handle_client_messages`](SocketIo::handle_client_messages): the same
/// calls as by session id, without the lookup in the table of clients.
/// Opaque.
pub struct ClientCell {
    pub(super) sid: Sid,
    pub(super) conn: Arc<dyn Conn>,
    /// Broadcast packets waiting for the connection's own task, outside the
    /// machine's lock: a broadcast touches only this (one small lock and a
    /// push) per receiver. They enter the machine whenever its lock is
    /// next taken ([`ClientCell::lock`]), before anything else does, so
    /// the client gets every packet in the order it was sent.
    held: Mutex<Held>,
    /// `held` has packets: set and cleared under its lock, read without
    /// it, so that taking the machine's lock costs no second lock when no
    /// broadcast is waiting (a packet held just after the look waits for
    /// the flush that is coming, as it would had it come after the lock).
    any_held: AtomicBool,
    /// [`Conn::wake`] was called and [`SocketIo::flush_client`] has not run
    /// since: a flush is coming, so what is sent meanwhile may wait for it
    /// (in `held`, or as transmits in the machine). Written under `held`'s
    /// lock; [`ClientCell::hold`] reads it without, under the machine's.
    woken: AtomicBool,
    state: Mutex<ClientState>,
}

/// See [`ClientCell::held`].
#[derive(Default)]
struct Held {
    /// Packets and whether each is volatile, in the order they were sent.
    packets: Vec<(Encoded, bool)>,
}

/// What one client's lock guards.
struct ClientState {
    machine: Client,
    /// The callbacks of the acks this client's sockets owe, by socket id and
    /// ack id.
    acks: HashMap<(Arc<str>, u64), PendingAck>,
    /// The client's sockets: a handful at most, so a list.
    sockets: Vec<Arc<SocketShared>>,
    /// The deadline the timer table holds for this client, if any.
    scheduled: Option<Instant>,
}

/// Packets a woken connection may hold in its machine before they are
/// queued anyway: bounds what one batch of broadcasts leaves waiting per
/// receiver (the session's own limits then apply as usual).
pub(super) const MAX_HELD: usize = 1024;

impl ClientCell {
    /// Locks the machine, after moving the held broadcast packets into it.
    fn lock(&self) -> MutexGuard<'_, ClientState> {
        let mut state = lock(&self.state);
        if self.any_held.load(Ordering::Acquire) {
            let mut held = lock(&self.held);
            for (packet, volatile) in held.packets.drain(..) {
                state.machine.send_resolved(packet, volatile);
            }
            self.any_held.store(false, Ordering::Release);
        }
        state
    }

    /// Whether what is sent now may wait for a flush from the connection's
    /// own task: one is coming, or the connection was just asked for one.
    /// Called under the machine's lock, after a send into it.
    ///
    /// `woken` is read first without `held`'s lock: if it is set, a flush
    /// is coming that takes this send. [`flush_client`](SocketIo::flush_client)
    /// clears it before it takes the machine's lock, so a clear that the
    /// read misses belongs to a flush that has not yet drained the
    /// machine.
    fn hold(&self) -> bool {
        if self.woken.load(Ordering::Acquire) {
            return true;
        }
        let _held = lock(&self.held);
        self.wake_locked()
    }

    /// Asks the connection for a flush unless one is coming; whether one
    /// is. The caller holds `held`'s lock.
    fn wake_locked(&self) -> bool {
        if !self.woken.load(Ordering::Relaxed) && self.conn.wake() {
            self.woken.store(true, Ordering::Release);
        }
        self.woken.load(Ordering::Relaxed)
    }
}

/// Runs a handler's future on the current thread until it completes: the
/// spawner of a server with no runtime ([`SocketIo::set_spawner`]).
fn block_on(future: HandlerFuture) {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = future;
    while future.as_mut().poll(&mut context) == Poll::Pending {
        std::thread::park();
    }
}

impl SocketIo {
    /// Sets how async handlers ([`Namespace::on_async`](super::Namespace::on_async))
    /// run: the `server` module passes `tokio::spawn`. Without one, each
    /// runs to completion on the thread that handled its event.
    pub fn set_spawner(&self, spawn: impl Fn(HandlerFuture) + Send + Sync + 'static) {
        *write(&self.inner.spawner) = Some(Box::new(spawn));
    }

    pub(super) fn spawn(&self, future: HandlerFuture) {
        match &*read(&self.inner.spawner) {
            Some(spawn) => spawn(future),
            None => block_on(future),
        }
    }

    // ----- engine side -----------------------------------------------------------

    /// An Engine.IO connection opened: it has
    /// [`Config::connect_timeout`](crate::socketio::Config::connect_timeout)
    /// to join a namespace.
    pub fn handle_open(&self, conn: Arc<dyn Conn>) {
        self.open_client(conn);
    }

    /// [`handle_open`](Self::handle_open), which also returns the client, for
    /// the transport to keep beside its connection.
    pub fn open_client(&self, conn: Arc<dyn Conn>) -> Arc<ClientCell> {
        let sid = conn.sid();
        let revision = conn.revision();
        let cell = Arc::new(ClientCell {
            sid,
            conn,
            held: Mutex::new(Held::default()),
            any_held: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            state: Mutex::new(ClientState {
                machine: Client::new(self.inner.config.clone(), self.now()).with_revision(revision),
                acks: HashMap::new(),
                sockets: Vec::new(),
                scheduled: None,
            }),
        });
        write(&self.inner.clients).insert(sid, cell.clone());
        let mut work = Vec::new();
        self.drain(&cell, &mut cell.lock(), &mut work);
        // A v4 client's implicit CONNECT to `/` runs now.
        self.run(work);
        self.run_deferred();
        cell
    }

    /// An Engine.IO message from client `sid`.
    pub fn handle_message(&self, sid: Sid, data: Data) {
        self.handle_messages(sid, [data]);
    }

    /// Engine.IO messages from client `sid` that arrived together (one read
    /// of its WebSocket, one polling POST), in order: each is given to the
    /// client's machine and its events handled before the next.
    pub fn handle_messages(&self, sid: Sid, messages: impl IntoIterator<Item = Data>) {
        if let Some(cell) = self.client(sid) {
            self.handle_client_messages(&cell, messages);
        }
    }

    /// [`handle_messages`](Self::handle_messages) for the client
    /// [`open_client`](Self::open_client) returned.
    pub fn handle_client_messages(
        &self,
        cell: &Arc<ClientCell>,
        messages: impl IntoIterator<Item = Data>,
    ) {
        let now = self.now();
        let mut work = Vec::new();
        for data in messages {
            {
                let mut state = cell.lock();
                if state.machine.is_closed() {
                    break;
                }
                state.machine.handle_message(now, data);
                self.drain(cell, &mut state, &mut work);
            }
            // Drained, not taken: the batch's next message reuses the buffer.
            self.run(work.drain(..));
        }
        self.run_deferred();
    }

    /// The Engine.IO connection of client `sid` moved to another transport
    /// (Engine.IO's upgrade): the observer is told, socket by socket.
    pub fn handle_upgrade(&self, sid: Sid) {
        if !self.observing() {
            return;
        }
        let Some(cell) = self.client(sid) else {
            return;
        };
        let transport = cell.conn.transport();
        let events: Vec<SocketEvent> = cell
            .lock()
            .machine
            .sockets()
            .map(|(namespace, id)| SocketEvent::Upgraded {
                namespace: namespace.clone(),
                id: id.clone(),
                transport,
            })
            .collect();
        self.record(events);
        self.tell();
    }

    /// The Engine.IO connection of client `sid` ended with `reason`. Its
    /// sockets leave with [`DisconnectReason::Transport`], except after
    /// [`CloseReason::SlowConsumer`] (the session stalled with a backlog),
    /// where they leave with [`DisconnectReason::SlowConsumer`].
    pub fn handle_close(&self, sid: Sid, reason: CloseReason) {
        let Some(cell) = self.client(sid) else {
            return;
        };
        if reason == CloseReason::SlowConsumer {
            self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
        }
        let mut work = Vec::new();
        {
            let mut state = cell.lock();
            state.machine.handle_close(reason);
            self.drain(&cell, &mut state, &mut work);
        }
        self.run(work);
        self.run_deferred();
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let due = lock(&self.inner.timers).due.first().map(|(at, _)| *at);
        if lock(&self.inner.deferred).is_empty() {
            due
        } else {
            Some(self.now())
        }
    }

    /// Runs the timers due now (connect timeouts, ack timeouts) and the work
    /// that emits left for later.
    pub fn handle_timeout(&self) {
        let now = self.now();
        loop {
            let timer = {
                let mut timers = lock(&self.inner.timers);
                match timers.due.first() {
                    Some((at, _)) if *at <= now => timers.due.pop_first(),
                    _ => None,
                }
            };
            let Some((at, timer)) = timer else { break };
            match timer {
                Timer::Client(sid) => {
                    let Some(cell) = self.client(sid) else {
                        continue;
                    };
                    let mut work = Vec::new();
                    {
                        let mut state = cell.lock();
                        if state.scheduled == Some(at) {
                            state.scheduled = None;
                        }
                        state.machine.handle_timeout(now);
                        self.drain(&cell, &mut state, &mut work);
                    }
                    self.run(work);
                }
                Timer::Group(group) => {
                    let done = lock(&self.inner.timers).groups.remove(&group);
                    if let Some(g) = done {
                        (g.callback)(Err((AckError::Timeout, g.replies)));
                    }
                }
                Timer::Sweep => self.sweep(),
            }
        }
        self.run_deferred();
    }

    // ----- the application's commands ------------------------------------------

    /// Queues `packet` for socket `to`. Work this finds (a slow consumer)
    /// is deferred: an emit never runs application code.
    pub(super) fn send_to(&self, to: &SocketShared, packet: Encoded, volatile: bool) {
        if let Some(cell) = to.client.upgrade() {
            self.send_to_client(&cell, &to.id, packet, volatile);
        }
    }

    /// Queues `packet` for socket `socket` of client `cell`: [`send_to`](Self::send_to)
    /// for a broadcast, whose receivers come with their clients.
    ///
    /// When the connection can wake its own task ([`Conn::wake`]), the packet
    /// waits in the machine and the connection is woken once, on the first
    /// packet waiting: its driver then calls [`flush`](Self::flush), which
    /// moves everything that waits in one go. So a batch of `b` broadcasts
    /// to `n` sockets touches each session once, not `b` times, and the
    /// session's cache lines are warm while it takes all of its packets.
    /// Otherwise (and past [`MAX_HELD`] waiting) it is queued now.
    pub(super) fn send_to_client(
        &self,
        cell: &Arc<ClientCell>,
        socket: &str,
        packet: Encoded,
        volatile: bool,
    ) {
        let mut state = cell.lock();
        let held = state.machine.transmits_queued();
        if !state.machine.send(socket, packet, volatile) {
            return;
        }
        if held < MAX_HELD && cell.hold() {
            return;
        }
        self.move_transmits(cell, &mut state);
    }

    /// Queues `packet` for client `cell`, one of whose sockets a broadcast
    /// resolved to just now (under its namespace's lock): the hot path of
    /// [`Operators::emit`](super::Operators::emit), which touches only the
    /// client's held packets when the connection can flush them itself
    /// ([`send_to_client`](Self::send_to_client) says why), and the
    /// machine otherwise.
    ///
    /// The socket is not checked again: if it leaves before the flush, its
    /// client gets the packet before the DISCONNECT (the machine's lock
    /// takes held packets first) or, in a race with a disconnect on
    /// another thread, just after it, for a namespace it no longer has a
    /// socket in, which clients drop.
    pub(super) fn broadcast_to_client(
        &self,
        cell: &Arc<ClientCell>,
        packet: Encoded,
        volatile: bool,
    ) {
        {
            let mut held = lock(&cell.held);
            if held.packets.len() < MAX_HELD && cell.wake_locked() {
                held.packets.push((packet, volatile));
                cell.any_held.store(true, Ordering::Release);
                return;
            }
        }
        let mut state = cell.lock();
        if state.machine.send_resolved(packet, volatile) {
            self.move_transmits(cell, &mut state);
        }
    }

    /// Moves what waits in client `sid`'s machine onto its connection: the
    /// transport's answer to [`Conn::wake`], from the connection's own task.
    pub fn flush(&self, sid: Sid) {
        if let Some(cell) = self.client(sid) {
            self.flush_client(&cell);
        }
    }

    /// [`flush`](Self::flush) for the client [`open_client`](Self::open_client)
    /// returned: the driver of a broadcast's receiver calls this once per
    /// wake-up, so it skips the lookup.
    pub fn flush_client(&self, cell: &Arc<ClientCell>) {
        // Cleared before the packets are taken: what is sent after this
        // asks for a flush of its own.
        {
            let _held = lock(&cell.held);
            cell.woken.store(false, Ordering::Release);
        }
        let mut work = Vec::new();
        {
            let mut state = lock(&cell.state);
            self.send_held(cell, &mut state);
            self.drain(cell, &mut state, &mut work);
        }
        self.run(work);
        self.run_deferred();
    }

    /// Queues client `cell`'s held broadcast packets on its connection,
    /// straight from where they wait when nothing waits in the machine
    /// before them (otherwise into the machine, as [`ClientCell::lock`]
    /// does). A packet the connection cannot take makes the client a slow
    /// consumer, as in [`move_transmits`](Self::move_transmits).
    fn send_held(&self, cell: &Arc<ClientCell>, state: &mut ClientState) {
        if !cell.any_held.load(Ordering::Acquire) {
            return;
        }
        let mut held = lock(&cell.held);
        cell.any_held.store(false, Ordering::Release);
        if state.machine.transmits_queued() > 0 || state.machine.is_closed() {
            for (packet, volatile) in held.packets.drain(..) {
                state.machine.send_resolved(packet, volatile);
            }
            return;
        }
        let refused = !cell.conn.send_packets(&mut held.packets.drain(..));
        drop(held);
        if refused {
            self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
            state.machine.drop_client(DisconnectReason::SlowConsumer);
        }
    }

    /// The hot path of every emit: a plain send changes no timer and tells
    /// nothing, so only the transmits are pulled; the full drain (deferred
    /// work included) runs when the connection could not take one.
    fn move_transmits(&self, cell: &Arc<ClientCell>, state: &mut ClientState) {
        while let Some(transmit) = state.machine.poll_transmit() {
            match transmit {
                Transmit::Packet { packet, volatile } => {
                    if !self.queue(&*cell.conn, packet, volatile) {
                        self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
                        state.machine.drop_client(DisconnectReason::SlowConsumer);
                        let mut work = Vec::new();
                        self.drain(cell, state, &mut work);
                        return self.defer(work);
                    }
                }
                Transmit::Close => cell.conn.close(),
            }
        }
    }

    /// Queues a packet asking socket `to` for an ack, `pending` waiting for
    /// the answer; gives `pending` back when the socket is gone.
    pub(super) fn send_with_ack(
        &self,
        to: &SocketShared,
        deadline: Instant,
        volatile: bool,
        encode: impl FnOnce(u64) -> Encoded,
        pending: PendingAck,
    ) -> Result<(), PendingAck> {
        let Some(cell) = to.client.upgrade() else {
            return Err(pending);
        };
        let mut work = Vec::new();
        {
            let mut state = cell.lock();
            let Some(ack) = state
                .machine
                .send_with_ack(&to.id, Some(deadline), volatile, encode)
            else {
                return Err(pending);
            };
            state.acks.insert((to.id.clone(), ack), pending);
            self.drain(&cell, &mut state, &mut work);
        }
        self.defer(work);
        Ok(())
    }

    /// Every receiver of broadcast `group` was asked: it is done when every
    /// answer came, which may be now.
    pub(super) fn seal_group(&self, group: u64) {
        let done = {
            let mut timers = lock(&self.inner.timers);
            match timers.groups.get_mut(&group) {
                Some(g) => {
                    g.sealed = true;
                    g.waiting == 0
                }
                None => false,
            }
        };
        if done && let Some(g) = lock(&self.inner.timers).groups.remove(&group) {
            (g.callback)(Ok(g.replies));
        }
    }

    /// Makes socket `socket` leave its namespace (DISCONNECT sent); its
    /// `on_disconnect` runs before this returns.
    pub(super) fn disconnect_socket(&self, socket: &SocketShared) {
        let Some(cell) = socket.client.upgrade() else {
            return;
        };
        let mut work = Vec::new();
        {
            let mut state = cell.lock();
            state.machine.disconnect(&socket.id);
            self.drain(&cell, &mut state, &mut work);
        }
        self.run(work);
        self.tell();
    }

    /// Closes the connection of `socket`'s client.
    pub(super) fn close_client(&self, socket: &SocketShared) {
        let Some(cell) = socket.client.upgrade() else {
            return;
        };
        let mut work = Vec::new();
        {
            let mut state = cell.lock();
            state.machine.close();
            self.drain(&cell, &mut state, &mut work);
        }
        self.defer(work);
    }

    // ----- internals -------------------------------------------------------------

    fn client(&self, sid: Sid) -> Option<Arc<ClientCell>> {
        read(&self.inner.clients).get(&sid).cloned()
    }

    /// Drains `cell`'s machine: transmits onto the connection, events into
    /// bookkeeping and `work`; then keeps the timer table in step.
    fn drain(&self, cell: &Arc<ClientCell>, state: &mut ClientState, work: &mut Vec<Work>) {
        loop {
            while let Some(transmit) = state.machine.poll_transmit() {
                match transmit {
                    Transmit::Packet { packet, volatile } => {
                        if !self.queue(&*cell.conn, packet, volatile) {
                            self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
                            state.machine.drop_client(DisconnectReason::SlowConsumer);
                        }
                    }
                    Transmit::Close => cell.conn.close(),
                }
            }
            let mut any = false;
            while let Some(event) = state.machine.poll_event() {
                any = true;
                self.on_event(cell, state, event, work);
            }
            if !any {
                break;
            }
        }
        let next = state.machine.poll_timeout();
        if let Some(at) = next
            && state.scheduled.is_none_or(|s| at < s)
        {
            state.scheduled = Some(at);
            lock(&self.inner.timers)
                .due
                .insert((at, Timer::Client(cell.sid)));
            self.wake_timer();
        }
    }

    /// Queues one packet's messages on `conn`; `false` when its queue is
    /// full for a packet that may not be dropped (a slow consumer). A
    /// volatile packet is dropped whole when the client cannot take its
    /// first message now; once its first message is queued, the rest must
    /// follow, or its attachments would be missing.
    fn queue(&self, conn: &dyn Conn, packet: Encoded, volatile: bool) -> bool {
        queue_packet(packet, volatile, |data, volatile| {
            if volatile {
                conn.send_volatile(data)
            } else {
                conn.send(data)
            }
        })
    }

    fn on_event(
        &self,
        cell: &Arc<ClientCell>,
        state: &mut ClientState,
        event: Event,
        work: &mut Vec<Work>,
    ) {
        match event {
            Event::Connect { namespace, auth } => work.push(Work::Connect {
                cell: cell.clone(),
                namespace,
                auth,
            }),
            Event::Message {
                socket,
                name,
                args,
                ack,
                ..
            } => {
                if let Some(shared) = state.sockets.iter().find(|s| s.id == socket) {
                    work.push(Work::Event {
                        socket: Socket::new(self.clone(), shared.clone()),
                        name,
                        args,
                        ack,
                    });
                }
            }
            Event::Ack { socket, ack, args } => match state.acks.remove(&(socket, ack)) {
                Some(PendingAck::One(callback)) => work.push(Work::Ack(callback, Ok(args))),
                Some(PendingAck::Group(group)) => {
                    let mut timers = lock(&self.inner.timers);
                    let done = match timers.groups.get_mut(&group) {
                        Some(g) => {
                            g.replies.push(args);
                            g.waiting = g.waiting.saturating_sub(1);
                            g.sealed && g.waiting == 0
                        }
                        None => false,
                    };
                    if done && let Some(g) = timers.groups.remove(&group) {
                        work.push(Work::GroupDone(g.callback, Ok(g.replies)));
                    }
                }
                None => {}
            },
            Event::AckTimedOut { socket, ack } => {
                // A broadcast's answers time out with their group's timer.
                if let Some(PendingAck::One(callback)) = state.acks.remove(&(socket, ack)) {
                    work.push(Work::Ack(callback, Err(AckError::Timeout)));
                }
            }
            Event::Disconnected {
                socket,
                reason,
                unanswered,
                ..
            } => {
                let failed = unanswered
                    .into_iter()
                    .filter_map(|ack| match state.acks.remove(&(socket.clone(), ack)) {
                        Some(PendingAck::One(callback)) => Some(callback),
                        // A broadcast simply misses this answer.
                        _ => None,
                    })
                    .collect();
                // A socket whose CONNECT answer never left has no handle:
                // it was never connected for the application.
                let Some(at) = state.sockets.iter().position(|s| s.id == socket) else {
                    return;
                };
                let shared = state.sockets.swap_remove(at);
                if reason == DisconnectReason::RateLimited {
                    self.inner.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                *lock(&self.inner.disconnects)
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1;
                let observed = shared
                    .nsp
                    .remove(self.now(), &socket, &reason, self.observing());
                self.record(observed);
                work.push(Work::Disconnected(
                    Socket::new(self.clone(), shared),
                    reason,
                    failed,
                ));
            }
            Event::Closed { .. } => {
                write(&self.inner.clients).remove(&cell.sid);
            }
        }
    }

    /// Runs application code, in order, with no lock held.
    fn run(&self, work: impl IntoIterator<Item = Work>) {
        for item in work {
            match item {
                Work::Connect {
                    cell,
                    namespace,
                    auth,
                } => self.connect(&cell, namespace, auth),
                Work::Event {
                    socket,
                    name,
                    args,
                    ack,
                } => {
                    self.observe_event(|| {
                        let mut values = Vec::with_capacity(args.values().len() + 1);
                        values.push(Value::from(name.as_str()));
                        values.extend(args.values().iter().cloned());
                        SocketEvent::EventReceived {
                            namespace: socket.shared.namespace.clone(),
                            id: socket.shared.id.clone(),
                            args: values,
                        }
                    });
                    let ack = ack.map(|id| AckSender::new(socket.clone(), id));
                    Handlers::call(&socket.shared.nsp.handlers, &socket, &name, args, ack);
                }
                Work::Ack(callback, result) => callback(result),
                Work::GroupDone(callback, result) => callback(result),
                Work::Disconnected(socket, reason, failed) => {
                    for callback in failed {
                        callback(Err(AckError::Disconnected));
                    }
                    if let Some(f) = &read(&socket.shared.nsp.handlers).on_disconnect {
                        f(&socket, &reason);
                    }
                    for f in &read(&self.inner.observers).disconnect {
                        f(&socket, &reason);
                    }
                    if let Some(recovery) = &socket.shared.nsp.recovery {
                        // A session kept (or pushed out) here.
                        self.ensure_sweep(self.now(), recovery);
                        self.end_sessions(&socket.shared.nsp);
                    }
                }
            }
        }
    }

    /// A CONNECT to decide: the namespace must exist and its middleware
    /// accept; then the socket is made, answered, and `on_connect` runs.
    ///
    /// With connection state recovery on, a CONNECT whose payload asks for
    /// a session (`pid`, `offset`) first ends the socket that still holds
    /// it, if any (its client lost the connection and the server has not
    /// seen it end yet: one session never has two live sockets); then, when
    /// middleware is skipped for recovery, the session is restored before
    /// any middleware runs, and after it otherwise.
    fn connect(&self, cell: &Arc<ClientCell>, namespace: String, auth: Value) {
        let mut work = Vec::new();
        let Some(handlers) = self.find_handlers(&namespace) else {
            let mut state = cell.lock();
            state.machine.refuse_unknown(&namespace);
            self.drain(cell, &mut state, &mut work);
            drop(state);
            return self.run(work);
        };
        let recovery = self
            .inner
            .config
            .state_recovery
            .as_ref()
            .filter(|_| cell.conn.revision() == Revision::V5);
        let mut asked = recovery.and_then(|_| session_asked(&auth));
        let mut handshake = Handshake {
            namespace,
            auth,
            address: cell.conn.address(),
        };
        if let Some((pid, _)) = &asked {
            self.take_over(cell, &handshake.namespace, pid);
        }
        if recovery.is_some_and(|r| r.skip_middlewares)
            && let Some(asked) = asked.take()
        {
            match self.admit(cell, &handlers, handshake, Some(asked), true) {
                Some(not_restored) => handshake = not_restored,
                None => return,
            }
        }
        let refusal = read(&handlers).refusal(&handshake);
        match refusal {
            Ok(Some(error)) => self.refuse(cell, &handshake.namespace, &error),
            Ok(None) => {
                self.admit(cell, &handlers, handshake, asked, false);
            }
            Err(chain) => {
                let (io, cell) = (self.clone(), cell.clone());
                self.spawn(Box::pin(async move {
                    match refusal_later(chain, &handshake).await {
                        Some(error) => io.refuse(&cell, &handshake.namespace, &error),
                        None => {
                            io.admit(&cell, &handlers, handshake, asked, false);
                        }
                    }
                    io.run_deferred();
                }));
            }
        }
    }

    /// Answers a CONNECT to `namespace` with CONNECT_ERROR `error` (a
    /// middleware refused it).
    fn refuse(&self, cell: &Arc<ClientCell>, namespace: &str, error: &ConnectError) {
        let mut work = Vec::new();
        let mut state = cell.lock();
        state.machine.refuse(namespace, error);
        self.drain(cell, &mut state, &mut work);
        drop(state);
        self.run(work);
    }

    /// Makes the socket of a CONNECT that was let in: restores the session
    /// `asked` for when it can, else (unless `only_restored`, which gives
    /// the handshake back) makes a new socket; answers the CONNECT, sends a
    /// restored socket what it missed, and runs `on_connect`.
    fn admit(
        &self,
        cell: &Arc<ClientCell>,
        handlers: &Arc<std::sync::RwLock<Handlers>>,
        handshake: Handshake,
        asked: Option<(String, Option<String>)>,
        only_restored: bool,
    ) -> Option<Handshake> {
        let nsp = self.live_namespace_or_make(&handshake.namespace, handlers);
        let recovery = nsp
            .recovery
            .as_ref()
            .filter(|_| cell.conn.revision() == Revision::V5);
        // Held until the socket is in its namespace and owed its packets:
        // no replayable packet falls between its replay and its membership.
        let order = recovery.map(|r| lock(&r.order));
        let now = self.now();
        let restored = match (recovery, asked) {
            (Some(r), Some((pid, offset))) => lock(&r.log)
                .restore(now, &pid, offset.as_deref())
                .map(|restored| (pid, restored)),
            _ => None,
        };
        if restored.is_none() && only_restored {
            drop(order);
            self.end_sessions(&nsp);
            return Some(handshake);
        }
        let (id, pid, session) = match restored {
            Some((pid, restored)) => (
                restored.session.id.clone(),
                Some(Arc::<str>::from(pid)),
                Some(restored),
            ),
            // v4 clients compute their socket ids from the Engine.IO id.
            None => {
                let id = match v4::socket_id(cell.conn.revision(), &handshake.namespace, cell.sid) {
                    Some(id) => Arc::from(id),
                    None => Arc::from(lock(&self.inner.ids).next_sid().as_str()),
                };
                let pid = recovery.map(|_| Arc::from(lock(&self.inner.ids).next_sid().as_str()));
                (id, pid, None)
            }
        };
        let shared = Arc::new(SocketShared {
            id: id.clone(),
            namespace: nsp.name.clone(),
            handshake: Arc::new(handshake),
            nsp: nsp.clone(),
            sid: cell.sid,
            client: Arc::downgrade(cell),
            pid: pid.clone(),
            recovered: session.is_some(),
        });
        let mut work = Vec::new();
        {
            let mut state = cell.lock();
            if !state
                .machine
                .accept_session(now, &shared.namespace, id.clone(), pid.as_deref())
            {
                return None;
            }
            // The answer goes first: a socket whose CONNECT was lost would
            // get events its client never asked for.
            self.drain(cell, &mut state, &mut work);
            if state.machine.socket_id(&shared.namespace).is_none() {
                drop(state);
                drop(order);
                self.run(work);
                return None;
            }
            state.sockets.reserve_exact(1);
            state.sockets.push(shared.clone());
            // In its namespace while the client is locked: a socket is in
            // its namespace table exactly while its machine has it.
            let (data, rooms, missed) = match session {
                Some(restored) => (
                    restored.session.data,
                    restored.session.rooms,
                    restored.missed,
                ),
                None => Default::default(),
            };
            let observed = nsp.add(shared.clone(), data, &rooms, self.observing());
            self.record(observed);
            if let (Some(recovery), Some(pid)) = (recovery, &pid) {
                lock(&recovery.log).connected(pid, id.clone());
            }
            for packet in missed {
                state.machine.send(&id, packet, false);
            }
            self.drain(cell, &mut state, &mut work);
        }
        drop(order);
        self.run(work);
        // A session that failed to recover ended.
        self.end_sessions(&nsp);
        let socket = Socket::new(self.clone(), shared);
        if let Some(f) = &read(&nsp.handlers).on_connect {
            f(&socket);
        }
        for f in &read(&self.inner.observers).connect {
            f(&socket);
        }
        None
    }

    /// Ends the socket of namespace `namespace` that holds session `pid`
    /// now, if another client has it: that client lost its connection (its
    /// owner reconnected) and the server has not seen it end yet. Its whole
    /// connection closes, its sockets leave with "forced close" (a
    /// recoverable reason: the session is kept, to be restored at once).
    fn take_over(&self, cell: &Arc<ClientCell>, namespace: &str, pid: &str) {
        let Some(nsp) = self.live_namespace(namespace) else {
            return;
        };
        let Some(recovery) = &nsp.recovery else {
            return;
        };
        let Some(id) = lock(&recovery.log).live_socket(pid).cloned() else {
            return;
        };
        let Some(old) = nsp.member(&id).and_then(|shared| shared.client.upgrade()) else {
            return;
        };
        if Arc::ptr_eq(&old, cell) {
            return;
        }
        let mut work = Vec::new();
        {
            let mut state = old.lock();
            state
                .machine
                .drop_client(DisconnectReason::Transport(CloseReason::ForcedClose));
            self.drain(&old, &mut state, &mut work);
        }
        self.run(work);
    }

    /// Keeps `work` for after the emit in progress: the end of the current
    /// input, or the timer task, which is woken.
    fn defer(&self, work: Vec<Work>) {
        if work.is_empty() {
            return;
        }
        lock(&self.inner.deferred).extend(work);
        self.wake_timer();
    }

    fn run_deferred(&self) {
        loop {
            let work = std::mem::take(&mut *lock(&self.inner.deferred));
            if work.is_empty() {
                break;
            }
            self.run(work);
        }
        self.tell();
    }
}
