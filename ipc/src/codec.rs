//! How values become bytes and back: serde + bincode 2, and only here.
//!
//! bincode 3.0.0 is only a compile error (the project stopped; RUSTSEC-2025-0141), so the
//! workspace pins bincode 2. Keeping every call in this module means that moving to the
//! maintained `postcard` later touches one file.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The most memory one decoded message may claim for its strings and containers (1 GiB).
/// bincode allocates a string or vector as soon as it reads its length; without a limit a
/// corrupt length would ask for any size at all (and `Vec` panics past `isize::MAX`).
pub const DECODE_LIMIT: usize = 1 << 30;

/// bincode's standard configuration (little-endian, variable-length integers) with
/// [`DECODE_LIMIT`].
fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_LIMIT>,
> {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Appends the encoding of `value` to `buf` (appending lets a caller reserve a frame
/// header in front and send header and body with one write).
///
/// ```
/// let mut buf = Vec::new();
/// ipc::codec::encode_into(&(1u8, "hi"), &mut buf)?;
/// assert_eq!(ipc::codec::decode::<(u8, String)>(&buf)?, (1, "hi".to_string()));
/// # Ok::<(), ipc::Error>(())
/// ```
pub fn encode_into<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<()> {
    bincode::serde::encode_into_std_write(value, buf, config())
        .map(drop)
        .map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a whole message. Bytes left over mean the message was not a `T`: an error.
///
/// Corrupt input is an error, never a panic; a length inside the message that claims more
/// than [`DECODE_LIMIT`] is refused before anything is allocated.
///
/// ```
/// assert!(ipc::codec::decode::<String>(&[0xff, 0xff]).is_err());
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| Error::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(Error::Decode(format!(
            "{} bytes left over after the value",
            bytes.len() - used
        )));
    }
    Ok(value)
}
