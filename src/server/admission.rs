//! Session caps: how many sessions the server holds at once, in total and
//! per client IP address. (The same counts, with no total, cap connections
//! per address.)
//!
//! A handshake takes a [`Permit`] before its session exists; the permit lives
//! as long as the session (it moves into the session's driver task) and gives
//! its place back when dropped. Taking the place at the handshake, not when
//! the session is finally registered, means a burst of WebSocket handshakes
//! cannot overshoot the cap while their upgrades are still in flight.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::lock;
use crate::engineio::Rejection;

/// The counts behind the caps, and how often each cap refused a handshake.
#[derive(Debug)]
pub(super) struct Admission {
    max_sessions: usize,
    max_per_ip: Option<usize>,
    counts: Mutex<Counts>,
    refused_total: AtomicU64,
    refused_per_ip: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only addresses holding at least one session are present.
    per_ip: HashMap<IpAddr, usize>,
}

/// One session's place under the caps, given back on drop.
#[derive(Debug)]
pub(super) struct Permit {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    pub(super) fn new(max_sessions: usize, max_per_ip: Option<usize>) -> Arc<Admission> {
        Arc::new(Admission {
            max_sessions,
            max_per_ip,
            counts: Mutex::default(),
            refused_total: AtomicU64::new(0),
            refused_per_ip: AtomicU64::new(0),
        })
    }

    /// A place for a new session from `ip`, or the refusal to answer with.
    /// The per-address cap is checked first: a client over its own share is
    /// told so even when the server is also full.
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Rejection> {
        // An IPv4 client reaching a dual-stack socket shows up as
        // ::ffff:a.b.c.d; count it under a.b.c.d.
        let ip = ip.to_canonical();
        let mut counts = lock(&self.counts);
        let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if self.max_per_ip.is_some_and(|max| from_ip >= max) {
            self.refused_per_ip.fetch_add(1, Ordering::Relaxed);
            return Err(Rejection::TooManySessionsFromAddress);
        }
        if counts.total >= self.max_sessions {
            self.refused_total.fetch_add(1, Ordering::Relaxed);
            return Err(Rejection::TooManySessions);
        }
        counts.total += 1;
        // Without a per-address cap there is no need to track addresses.
        if self.max_per_ip.is_some() {
            counts.per_ip.insert(ip, from_ip + 1);
        }
        Ok(Permit {
            admission: self.clone(),
            ip,
        })
    }

    /// Handshakes refused because the server held `max_sessions`.
    pub(super) fn refused_total(&self) -> u64 {
        self.refused_total.load(Ordering::Relaxed)
    }

    /// Handshakes refused because their address held `max_sessions_per_ip`.
    pub(super) fn refused_per_ip(&self) -> u64 {
        self.refused_per_ip.load(Ordering::Relaxed)
    }
}

impl Permit {
    /// The client address this place is counted under.
    pub(super) fn ip(&self) -> IpAddr {
        self.ip
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = lock(&self.admission.counts);
        counts.total -= 1;
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn caps_per_address_then_in_total_and_gives_places_back() {
        let admission = Admission::new(3, Some(2));
        let a1 = admission.admit(A).unwrap();
        let _a2 = admission.admit(A).unwrap();
        assert_eq!(
            admission.admit(A).unwrap_err(),
            Rejection::TooManySessionsFromAddress
        );
        let _b1 = admission.admit(B).unwrap();
        assert_eq!(admission.admit(B).unwrap_err(), Rejection::TooManySessions);
        assert_eq!(
            (admission.refused_per_ip(), admission.refused_total()),
            (1, 1)
        );
        drop(a1);
        let _a3 = admission.admit(A).unwrap();
        assert_eq!(lock(&admission.counts).total, 3);
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_their_ipv4_address() {
        let admission = Admission::new(10, Some(1));
        let _a = admission.admit(A).unwrap();
        let mapped = IpAddr::V6(std::net::Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(
            admission.admit(mapped).unwrap_err(),
            Rejection::TooManySessionsFromAddress
        );
    }

    #[test]
    fn without_a_per_address_cap_no_address_is_tracked() {
        let admission = Admission::new(2, None);
        let _a = admission.admit(A).unwrap();
        let _b = admission.admit(A).unwrap();
        assert!(lock(&admission.counts).per_ip.is_empty());
        assert_eq!(admission.admit(A).unwrap_err(), Rejection::TooManySessions);
    }
}
