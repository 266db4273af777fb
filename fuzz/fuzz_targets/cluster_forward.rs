//! The forwarding messages of sticky sessions (`cluster::forward`: a
//! polling request passed to the node owning its session, its acceptance
//! and its answer), from any bytes.
//!
//! Expectation: never panics; what decodes encodes to exactly the input
//! (the format has one encoding per message) and decodes again to the same
//! message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siobridge::cluster::forward;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = forward::decode(data) {
        let bytes = forward::encode(&message);
        assert_eq!(bytes, data, "one encoding per message");
        assert_eq!(forward::decode(&bytes), Ok(message));
    }
});
