//! Session ids, drawn from an injected, seedable generator.
//!
//! engine.io-protocol v4, "Protocol › Handshake": the `sid` is an opaque string; the
//! reference server uses 15 random bytes written as 20 URL-safe base64
//! characters, and so do we.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Number of characters in a session id.
pub const SID_LEN: usize = 20;

/// A session id: 20 URL-safe base64 characters. `Copy`, cheap to hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; SID_LEN]);

impl Sid {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from URL-safe base64 output, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// Parses an id from a query parameter; `None` unless it has the exact
    /// shape of an id we issue (so any other string is "Session ID unknown").
    pub fn parse(s: &str) -> Option<Sid> {
        let bytes: [u8; SID_LEN] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(Sid(bytes))
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

/// Generates session ids from a `StdRng`, seeded from the OS or from a seed.
#[derive(Debug)]
pub struct SidGenerator {
    rng: StdRng,
}

impl SidGenerator {
    /// A generator seeded with `seed`, or from the OS when `None`.
    pub fn new(seed: Option<[u8; 32]>) -> Self {
        let rng = match seed {
            Some(seed) => StdRng::from_seed(seed),
            None => {
                let mut seed = [0u8; 32];
                rand::rng().fill_bytes(&mut seed);
                StdRng::from_seed(seed)
            }
        };
        SidGenerator { rng }
    }

    /// The next id.
    pub fn next_sid(&mut self) -> Sid {
        let mut raw = [0u8; 15];
        self.rng.fill_bytes(&mut raw);
        let mut out = [0u8; SID_LEN];
        // 15 bytes encode to exactly 20 base64 characters.
        let written = URL_SAFE_NO_PAD
            .encode_slice(raw, &mut out)
            .unwrap_or_default();
        debug_assert_eq!(written, SID_LEN);
        Sid(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_repeat_and_ids_parse_back() {
        let mut a = SidGenerator::new(Some([7; 32]));
        let mut b = SidGenerator::new(Some([7; 32]));
        for _ in 0..100 {
            let sid = a.next_sid();
            assert_eq!(sid, b.next_sid());
            assert_eq!(sid.as_str().len(), SID_LEN);
            assert_eq!(Sid::parse(sid.as_str()), Some(sid));
        }
    }

    #[test]
    fn rejects_ids_of_another_shape() {
        assert_eq!(Sid::parse(""), None);
        assert_eq!(Sid::parse("short"), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaa="), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaaaa"), None);
    }
}
