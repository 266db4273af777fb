//! The per-socket event rate limit: a token bucket on the caller's clock.
//!
//! The bucket holds up to `burst` tokens and gains `per_second` tokens a
//! second; each event takes one, and an event that finds the bucket empty is
//! over the limit. It is kept as a single instant, the time at which the
//! bucket will be full again (the "theoretical arrival time" of the generic
//! cell rate algorithm, which is this token bucket written without a
//! counter): no floating point, no refill ticks, and time only ever comes in
//! as an argument, so tests run on a virtual clock.

use std::time::{Duration, Instant};

/// How many events a socket may send: `burst` at once, then `per_second` on
/// average. Not part of the Socket.IO protocol (the reference server has no
/// such limit); see [`Config::event_rate_limit`](super::Config::event_rate_limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained events per second (at least 1).
    pub per_second: u32,
    /// Events accepted at once from a socket that was quiet (at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` events a second on average, `burst` at once; zeros are
    /// raised to 1.
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second: per_second.max(1),
            burst: burst.max(1),
        }
    }

    /// Time to earn one token.
    fn interval(&self) -> Duration {
        Duration::from_secs(1) / self.per_second.max(1)
    }
}

/// One socket's bucket.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    interval: Duration,
    /// How far ahead of `now` the bucket may be drawn: `burst - 1` intervals.
    tolerance: Duration,
    /// When the bucket is next full; at or before `now`, it is full.
    full_at: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub(crate) fn new(limit: RateLimit, now: Instant) -> TokenBucket {
        let interval = limit.interval();
        TokenBucket {
            interval,
            tolerance: interval * (limit.burst.max(1) - 1),
            full_at: now,
        }
    }

    /// Takes a token for an event at `now`; `false` when none is left (the
    /// bucket is then unchanged).
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let full_at = self.full_at.max(now);
        if full_at > now + self.tolerance {
            return false;
        }
        self.full_at = full_at + self.interval;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_burst_passes_then_the_sustained_rate() {
        let t0 = Instant::now();
        // 10 a second (one per 100 ms), 3 at once.
        let mut bucket = TokenBucket::new(RateLimit::new(10, 3), t0);
        assert!((0..3).all(|_| bucket.take(t0)));
        assert!(!bucket.take(t0));
        assert!(!bucket.take(ms(t0, 99)));
        assert!(bucket.take(ms(t0, 100)));
        assert!(!bucket.take(ms(t0, 150)));
        assert!(bucket.take(ms(t0, 200)));
    }

    #[test]
    fn a_quiet_socket_earns_back_its_burst_and_no_more() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RateLimit::new(10, 3), t0);
        assert!((0..3).all(|_| bucket.take(t0)));
        // A long silence refills the bucket to `burst`, not beyond.
        let later = ms(t0, 10_000);
        assert!((0..3).all(|_| bucket.take(later)));
        assert!(!bucket.take(later));
    }

    #[test]
    fn steady_events_at_the_rate_never_trip() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RateLimit::new(50, 1), t0);
        assert!((0..1000).all(|i| bucket.take(ms(t0, i * 20))));
        assert!(!bucket.take(ms(t0, 999 * 20 + 1)));
    }

    #[test]
    fn zeros_are_raised_to_one() {
        let limit = RateLimit::new(0, 0);
        assert_eq!((limit.per_second, limit.burst), (1, 1));
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(limit, t0);
        assert!(bucket.take(t0));
        assert!(!bucket.take(ms(t0, 999)));
        assert!(bucket.take(ms(t0, 1000)));
    }
}
