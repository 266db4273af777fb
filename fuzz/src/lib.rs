//! Input scripts of the structured fuzz targets (`eio_session`, `sio_client`,
//! `sio_server`): sequences of inputs and virtual-time steps.
//!
//! Each script is decoded from the fuzzer's bytes with `arbitrary`, in a
//! plain byte format (a tag byte per step, little-endian `u16`s, and
//! length-prefixed byte strings) that [`Encode`] writes back, so that
//! `examples/make_seeds.rs` builds the seed corpora from readable scripts of
//! the spec's examples.

pub mod client_script;
pub mod eio_script;
pub mod sio_script;

use arbitrary::{Arbitrary, Result, Unstructured};

/// Writes a script step back to the bytes it is decoded from.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// One byte (0 once the input is exhausted).
fn byte(u: &mut Unstructured<'_>) -> Result<u8> {
    u8::arbitrary(u)
}

/// A little-endian `u16` (the fuzzer's bytes run out: an error).
fn u16le(u: &mut Unstructured<'_>) -> Result<u16> {
    let b = u.bytes(2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

/// A byte string: its `u16` length, then that many bytes (fewer when the
/// input ends first).
fn blob(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let len = usize::from(u16le(u)?).min(u.len());
    Ok(u.bytes(len)?.to_vec())
}

/// A byte string as text; invalid UTF-8 is replaced, not refused, so that
/// mutations keep producing steps.
fn text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(String::from_utf8_lossy(&blob(u)?).into_owned())
}

fn put_u16(out: &mut Vec<u8>, n: u16) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_blob(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).expect("seed strings are short");
    put_u16(out, len);
    out.extend_from_slice(bytes);
}
