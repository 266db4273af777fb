//! Engine.IO v3 HTTP long-polling payload decoding (engine.io-protocol v3,
//! "Payload"), `v3::decode_payload`, checked against a model.
//!
//! Expectation: never panics; a body over `max_payload` is refused before
//! parsing; a text body (one that does not start with the byte 0 or 1)
//! decodes exactly when an independent model of the framing, which slices
//! the body as UTF-16 code units the way JavaScript does, accepts it and
//! every record it cuts is a valid v3 packet, and then to the same packets;
//! whatever decodes re-encodes, as a text payload and as a binary one, to
//! bodies that decode to equal packets and re-encode to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siobridge::engineio::v3::{Body, decode_packet_text, decode_payload, encode_payload};
use siobridge::engineio::{DecodeError, Packet};

/// The reference default `maxHttpBufferSize`.
const MAX_PAYLOAD: usize = 1_000_000;

/// The text framing as engine.io-parser 2.2 reads it: `<digits>:` then that
/// many UTF-16 code units; empty records are skipped. `None` for a bad
/// length, a cut-short record, or a record that splits a surrogate pair.
fn model_records(body: &str) -> Option<Vec<String>> {
    let units: Vec<u16> = body.encode_utf16().collect();
    let mut records = Vec::new();
    let mut i = 0;
    while i < units.len() {
        let start = i;
        let mut n: usize = 0;
        while i < units.len() && units[i] != u16::from(b':') {
            let digit = char::from_u32(u32::from(units[i]))?.to_digit(10)?;
            n = n.checked_mul(10)?.checked_add(digit as usize)?;
            i += 1;
        }
        if i == start || i == units.len() {
            return None;
        }
        i += 1;
        let end = i.checked_add(n).filter(|&end| end <= units.len())?;
        let record = String::from_utf16(&units[i..end]).ok()?;
        if !record.is_empty() {
            records.push(record);
        }
        i = end;
    }
    Some(records)
}

fn check_round_trip(packets: &[Packet], binary: bool) {
    let body = encode_payload(packets, binary);
    let bytes = body.clone().into_bytes();
    let again = decode_payload(&bytes, usize::MAX).expect("an encoded payload decodes");
    assert_eq!(again, packets, "round trip (binary: {binary})");
    assert_eq!(encode_payload(&again, binary), body, "re-encoding");
    if let Body::Text(text) = &body {
        assert_eq!(
            model_records(text).map(|r| r.len()),
            Some(packets.len()),
            "the model reads the encoder's text"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(max) = data.len().checked_sub(1) {
        assert_eq!(
            decode_payload(data, max),
            Err(DecodeError::PayloadTooLarge {
                size: data.len(),
                max
            })
        );
    }
    let decoded = decode_payload(data, MAX_PAYLOAD);
    if !matches!(data.first(), None | Some(0 | 1))
        && let Ok(text) = std::str::from_utf8(data)
    {
        let model: Option<Result<Vec<Packet>, DecodeError>> = model_records(text)
            .map(|records| records.iter().map(|r| decode_packet_text(r)).collect());
        match (&decoded, model) {
            (Ok(packets), Some(Ok(expected))) => assert_eq!(packets, &expected),
            (Err(_), None | Some(Err(_))) => {}
            (ours, model) => panic!("decoder {ours:?} and model {model:?} disagree"),
        }
    }
    let Ok(packets) = decoded else {
        return;
    };
    check_round_trip(&packets, false);
    check_round_trip(&packets, true);
});
