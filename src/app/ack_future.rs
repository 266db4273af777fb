//! Acks as futures: `socket.ack(...).await` instead of a callback.
//!
//! [`Socket::emit_with_ack`](super::Socket::emit_with_ack) takes a callback
//! because the core is sans-IO and runs no executor. An [`AckFuture`] wraps
//! that callback in a one-shot slot any executor can wait on: the callback
//! fills the slot and wakes the task. It needs nothing from tokio.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A value that arrives once, from a callback.
struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The answer to an emit-with-ack, as a future. Made by
/// [`Socket::ack`](super::Socket::ack) and
/// [`Operators::ack`](super::Operators::ack).
pub struct AckFuture<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> std::fmt::Debug for AckFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckFuture").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A future and the callback that completes it.
pub(super) fn ack_future<T: Send + 'static>() -> (AckFuture<T>, impl FnOnce(T) + Send + 'static) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
    }));
    let filler = slot.clone();
    let complete = move |value: T| {
        let waker = {
            let mut slot = lock(&filler);
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    };
    (AckFuture { slot }, complete)
}

impl<T> Future for AckFuture<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = lock(&self.slot);
        match slot.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
