//! A connection whose writes fail when they make no progress for too long.
//!
//! A client that stops reading makes TCP flow control block the server's
//! writes: a polling response or a WebSocket frame then waits forever, and
//! with it the connection, its buffers, and (for a WebSocket) the session's
//! driver, which cannot even run its ping timeout. Neither hyper nor
//! tungstenite has a write timeout, so it lives here, under both: one wrapper
//! around the TCP stream covers HTTP responses and upgraded WebSockets alike.
//! Reads are left alone: waiting for a client to speak is normal (a long
//! poll, an idle WebSocket) and is bounded by the protocol's own timers.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::admission::Permit;

/// An I/O stream whose writes give up after `timeout` without progress.
#[derive(Debug)]
pub(super) struct TimedIo<S> {
    inner: S,
    timeout: Duration,
    /// Armed when a write first returns `Pending`; cleared by any progress.
    stall: Option<Pin<Box<Sleep>>>,
    /// The connection's place under `max_connections_per_ip`, if capped.
    /// Held here because this wrapper is what lives exactly as long as the
    /// TCP connection, through a WebSocket upgrade too.
    _slot: Option<Permit>,
}

impl<S> TimedIo<S> {
    pub(super) fn new(inner: S, timeout: Duration) -> TimedIo<S> {
        TimedIo {
            inner,
            timeout,
            stall: None,
            _slot: None,
        }
    }

    /// Holds `slot` until the connection is gone.
    pub(super) fn holding(mut self, slot: Permit) -> TimedIo<S> {
        self._slot = Some(slot);
        self
    }

    /// Passes a ready write result through (progress: the stall timer is
    /// cleared); on `Pending`, fails once the stall has lasted `timeout`.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stall = None;
            return poll;
        }
        let timeout = self.timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no data within the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A peer that never reads: the write fails after the timeout instead of
    /// waiting forever. (The timeout is paused time: no real waiting.)
    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_takes_fails_after_the_timeout() {
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut io = TimedIo::new(ours, Duration::from_secs(5));
        let error = io.write_all(&[0; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    /// A peer that reads slowly but steadily is never cut off: each bit of
    /// progress restarts the clock.
    #[tokio::test(start_paused = true)]
    async fn progress_restarts_the_clock() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut io = TimedIo::new(ours, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut buf = [0; 64];
            let mut total = 0;
            while total < 1024 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                total += theirs.read(&mut buf).await.unwrap();
            }
            total
        });
        io.write_all(&[0; 1024]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 1024);
    }
}
