//! Runs a [`SocketIo`] server over the Engine.IO server: each Engine.IO
//! session is a Socket.IO client, and one task drives the Socket.IO timers
//! (connect and ack timeouts) at [`SocketIo::poll_timeout`].

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;

use super::{EngineSocket, Handler};
use crate::app::queue_packet;
use crate::engineio::{CloseReason, Data, SendError, Sid, TransportKind};
use crate::socketio::{self, ClientCell, Conn, ConnInfo, Encoded, SocketIo};

impl Conn for EngineSocket {
    fn sid(&self) -> Sid {
        EngineSocket::sid(self)
    }

    fn send(&self, data: Data) -> Result<(), SendError> {
        EngineSocket::send(self, data)
    }

    fn send_volatile(&self, data: Data) -> Result<(), SendError> {
        EngineSocket::send_volatile(self, data)
    }

    fn send_packets(&self, packets: &mut dyn Iterator<Item = (Encoded, bool)>) -> bool {
        EngineSocket::send_batch(self, |send| {
            let mut taken = true;
            for (packet, volatile) in packets {
                taken = taken && queue_packet(packet, volatile, &mut *send);
            }
            taken
        })
    }

    fn close(&self) {
        EngineSocket::close(self)
    }

    fn wake(&self) -> bool {
        EngineSocket::wake(self);
        true
    }

    fn info(&self) -> Option<Arc<ConnInfo>> {
        self.request()
    }

    fn transport(&self) -> Option<&'static str> {
        Some(match EngineSocket::transport(self) {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        })
    }

    fn address(&self) -> Option<std::net::IpAddr> {
        Some(EngineSocket::address(self))
    }

    fn revision(&self) -> socketio::v4::Revision {
        socketio::v4::Revision::of(self.protocol())
    }
}

/// The Socket.IO client [`SocketIoHandler::on_open`] kept with `socket`,
/// while the server holds it.
fn client_of(socket: &EngineSocket) -> Option<Arc<ClientCell>> {
    socket.handler_data()?.downcast::<ClientCell>().ok()
}

/// A Socket.IO server reading the real clock.
pub fn socket_io(config: socketio::Config) -> SocketIo {
    SocketIo::new(config, Arc::new(Instant::now))
}

/// The Engine.IO [`Handler`] that serves a [`SocketIo`]: each Engine.IO
/// message is a Socket.IO packet (socket.io-protocol v5, "Exchange
/// protocol"; engine.io-protocol v4, "Protocol › Message").
#[derive(Debug)]
pub struct SocketIoHandler {
    io: SocketIo,
}

impl SocketIoHandler {
    /// Serves `io`, and starts the task that drives its timers. Must be
    /// called within a tokio runtime.
    pub fn new(io: SocketIo) -> SocketIoHandler {
        let wake = Arc::new(Notify::new());
        let waker = wake.clone();
        io.set_timer_waker(move || waker.notify_one());
        // Async handlers run as tasks of their own.
        io.set_spawner(|future| {
            tokio::spawn(future);
        });
        let timers = io.clone();
        tokio::spawn(async move {
            loop {
                match timers.poll_timeout() {
                    Some(deadline) => tokio::select! {
                        () = tokio::time::sleep_until(deadline.into()) => {}
                        () = wake.notified() => {}
                    },
                    None => wake.notified().await,
                }
                timers.handle_timeout();
            }
        });
        SocketIoHandler { io }
    }
}

impl Handler for SocketIoHandler {
    fn on_open(&self, socket: &EngineSocket) {
        // The client rides with its session, so that a read or a flush
        // finds it without the table of clients.
        let client: Arc<dyn Any + Send + Sync> = self.io.open_client(Arc::new(socket.clone()));
        socket.set_handler_data(&client);
    }

    fn on_message(&self, socket: &EngineSocket, data: Data) {
        self.on_messages(socket, &mut std::iter::once(data));
    }

    fn on_messages(&self, socket: &EngineSocket, messages: &mut dyn Iterator<Item = Data>) {
        match client_of(socket) {
            Some(client) => self.io.handle_client_messages(&client, messages),
            None => self.io.handle_messages(socket.sid(), messages),
        }
    }

    fn on_flush(&self, socket: &EngineSocket) {
        match client_of(socket) {
            Some(client) => self.io.flush_client(&client),
            None => self.io.flush(socket.sid()),
        }
    }

    fn on_upgrade(&self, socket: &EngineSocket) {
        self.io.handle_upgrade(socket.sid());
    }

    fn on_close(&self, socket: &EngineSocket, reason: CloseReason) {
        self.io.handle_close(socket.sid(), reason);
    }
}
