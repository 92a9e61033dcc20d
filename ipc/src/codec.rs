//! How values become bytes and back: serde + bincode 2, and only here.
//!
//! bincode 3.0.0 is only a compile error (the project stopped; RUSTSEC-2025-0141), so the
//! workspace pins bincode 2. Keeping every call in this module means that moving to the
//! maintained `postcard` later touches one file.
//!
//! A message from another process is untrusted input: it may be corrupt, or written by a
//! process that means harm. [`decode`] turns any bytes into a value or an error, never a
//! panic, never a stack overflow, and never reserves memory out of proportion to the
//! message's length (see the rules in `guard`).

mod guard;

use std::cell::Cell;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

pub use guard::MAX_DEPTH;

/// bincode's standard configuration: little-endian, variable-length integers.
fn config() -> bincode::config::Configuration {
    bincode::config::standard()
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
/// Corrupt or hostile input is an error, never a panic: a length inside the message is
/// checked against the bytes that are there before anything is allocated, values nested
/// deeper than [`MAX_DEPTH`] are refused, and collections reserve room for at most one
/// element per byte of the message.
///
/// ```
/// assert!(ipc::codec::decode::<String>(&[0xff, 0xff]).is_err());
/// // A string that claims a billion bytes, in a 5-byte message:
/// assert!(ipc::codec::decode::<String>(&[0xfc, 0x00, 0xca, 0x9a, 0x3b]).is_err());
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let budget = Cell::new(bytes.len());
    let message = guard::Message::new(PhantomData::<T>, &budget);
    let (value, used) = bincode::serde::seed_decode_from_slice(message, bytes, config())
        .map_err(|e| Error::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(Error::Decode(format!(
            "{} bytes left over after the value",
            bytes.len() - used
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    /// A recursive type: one level of nesting per link.
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    enum Chain {
        End,
        Link(Box<Chain>),
    }

    fn chain(links: usize) -> Vec<u8> {
        [vec![1u8; links], vec![0]].concat() // Link(Link(…End))
    }

    #[test]
    fn nesting_up_to_the_limit_decodes_and_deeper_is_refused() {
        // `End` is a level too: a chain of n links nests n + 1 enums.
        assert!(decode::<Chain>(&chain(MAX_DEPTH - 1)).is_ok());
        let refused = decode::<Chain>(&chain(MAX_DEPTH)).unwrap_err().to_string();
        assert!(refused.contains("deeper than 256 levels"), "{refused}");
    }

    #[test]
    fn the_deepest_message_decodes_on_a_quarter_of_a_threads_stack() {
        // Spawned threads get 2 MiB by default; a fresh thread of a debug build needs
        // about 300 KiB here, a release build far less.
        let decoded = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| decode::<Chain>(&chain(MAX_DEPTH - 1)).is_ok())
            .unwrap()
            .join()
            .unwrap();
        assert!(decoded);
    }
}
