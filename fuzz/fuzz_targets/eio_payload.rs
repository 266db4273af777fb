//! Engine.IO HTTP long-polling payload decoding (engine.io-protocol v4,
//! "Protocol › Payload"), `payload::decode`.
//!
//! Expectation: never panics; a body over `max_payload` is refused before
//! parsing; every body that decodes re-encodes to exactly the same bytes
//! and decodes again to equal packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siobridge::engineio::DecodeError;
use siobridge::engineio::payload::{decode, encode};

/// The reference default `maxHttpBufferSize`.
const MAX_PAYLOAD: usize = 1_000_000;

fuzz_target!(|data: &[u8]| {
    // One byte short of the body: always refused, whatever the body holds.
    if let Some(max) = data.len().checked_sub(1) {
        assert_eq!(
            decode(data, max),
            Err(DecodeError::PayloadTooLarge {
                size: data.len(),
                max
            })
        );
    }
    let Ok(packets) = decode(data, MAX_PAYLOAD) else {
        return;
    };
    assert!(!packets.is_empty(), "a decoded payload holds a packet");
    let encoded = encode(&packets);
    assert_eq!(encoded.as_bytes(), data, "re-encoding is not the input");
    assert_eq!(decode(encoded.as_bytes(), MAX_PAYLOAD), Ok(packets));
});
