//! A fast hasher for tables keyed by what the server makes itself.
//!
//! std's `HashMap` hashes with SipHash under a random key, which keeps an
//! attacker who chooses the keys from making every key collide. Most of the
//! hot tables here are keyed by values no client chooses: session and socket
//! ids drawn from a CSPRNG, ack ids counted up by the server, event names
//! registered by the application. A client can only look such keys up, and
//! a lookup costs one probe sequence whatever the key, so these tables use
//! this cheaper, unkeyed hash. Tables a client can fill with keys of its
//! choosing (room names, for instance) keep SipHash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` hashed with [`IdHasher`]; make one with `IdMap::default()`.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Multiply-rotate hashing of 8 bytes at a time, with a final mix so that
/// the table's low bits (the bucket) and high bits (its control byte) both
/// depend on every input byte. Not keyed: see the module documentation for
/// where it may be used.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(23) ^ word).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 32;
        h = h.wrapping_mul(K);
        h ^ (h >> 29)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    fn hash(bytes: &[u8]) -> u64 {
        BuildHasherDefault::<IdHasher>::default().hash_one(bytes)
    }

    #[test]
    fn every_byte_counts_and_buckets_spread() {
        let base = hash(b"abcdefghijklmnopqrst");
        for i in 0..20 {
            let mut changed = *b"abcdefghijklmnopqrst";
            changed[i] ^= 1;
            assert_ne!(hash(&changed), base, "byte {i} ignored");
        }
        // Sequential ack ids land in distinct buckets of a small table, and
        // in distinct control bytes (the top 7 bits) often enough.
        let hashes: Vec<u64> = (0u64..64)
            .map(|n| BuildHasherDefault::<IdHasher>::default().hash_one(n))
            .collect();
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 127).collect();
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() > 40, "{} buckets of 64", buckets.len());
        assert!(tags.len() > 40, "{} tags of 64", tags.len());
    }

    #[test]
    fn an_id_map_is_a_map() {
        let mut map: IdMap<String, u32> = IdMap::default();
        for n in 0..1000 {
            map.insert(format!("id{n}"), n);
        }
        assert!((0..1000).all(|n| map[&format!("id{n}")] == n));
    }
}
