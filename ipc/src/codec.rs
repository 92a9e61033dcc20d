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

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use bincode::config::{Fixint, LittleEndian};
use serde::Deserialize;
use serde::Serialize;
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use crate::error::{Error, Result};

pub use guard::{FREE_ELEMENTS, MAX_DEPTH};

/// bincode's standard configuration: little-endian, variable-length integers.
fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The configuration of a call's arguments and result ([`encode_call_into`]): the same,
/// with fixed-width integers.
fn call_config() -> bincode::config::Configuration<LittleEndian, Fixint> {
    bincode::config::standard().with_fixed_int_encoding()
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
        .map_err(encode_error)
}

/// Appends the encoding of the arguments or the result of a call in another process (a
/// pool's task, a new process's arguments) to `buf`; [`decode_call`] reads it.
///
/// Integers have a fixed width here: a `u64` is its 8 bytes, where [`encode_into`]
/// writes one byte up to 250, and above that a marker byte and 2, 4 or 8 bytes. A pool's
/// chunk is a long list of numbers as often as not, and a fixed width is a plain copy
/// where a variable one is a branch per number: 100 000 `u64`s encode about 5 times as
/// fast and decode about 3 times as fast, in bytes that go from one process of the
/// program to another and are never stored. Messages sent with `Connection::send`,
/// which people read in traces, keep the compact form.
pub(crate) fn encode_call_into<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<()> {
    bincode::serde::encode_into_std_write(value, buf, call_config())
        .map(drop)
        .map_err(encode_error)
}

/// [`encode_call_into`] a new vector, with room made once for the exact length, counted
/// first (cheap with fixed widths): a vector that doubles as it grows copies itself each
/// time, and touches up to twice the memory, each new page a fault. `value` is
/// serialized twice, so it must be a value whose serialization has no side effect (a
/// descriptor's has: see `descriptor::encode_args`).
pub(crate) fn encode_call<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, call_config()).map_err(encode_error)?;
    let mut buf = Vec::with_capacity(size.bytes_written);
    encode_call_into(value, &mut buf)?;
    Ok(buf)
}

/// Appends the encoding of `value` to `buf`, unless it holds a big piece (the contents
/// of a byte buffer or a string, at least `big` bytes) that would take `buf` past `cap`
/// bytes, or unless `buf` would grow past `ceiling`: then `buf` is left as it was and the
/// answer is `false`. A message with a big piece can then be encoded as it is sent
/// ([`encode_to`]), so that the piece goes to the kernel without a copy; a message of
/// many small pieces (a chunk of a pool's results) is copied piece by piece whatever
/// happens, and is cheapest encoded once, into `buf`.
pub(crate) fn encode_capped<T: Serialize + ?Sized>(
    value: &T,
    buf: &mut Vec<u8>,
    cap: usize,
    big: usize,
    ceiling: usize,
) -> Result<bool> {
    /// A writer into `buf` that refuses big pieces past `cap`, and anything past `ceiling`.
    struct Capped<'a> {
        buf: &'a mut Vec<u8>,
        cap: usize,
        big: usize,
        ceiling: usize,
    }
    impl bincode::enc::write::Writer for Capped<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), bincode::error::EncodeError> {
            let len = self.buf.len() + bytes.len();
            if len > self.ceiling || (bytes.len() >= self.big && len > self.cap) {
                return Err(bincode::error::EncodeError::Other("over the cap"));
            }
            self.buf.extend_from_slice(bytes);
            Ok(())
        }
    }
    let start = buf.len();
    let writer = Capped {
        buf,
        cap,
        big,
        ceiling,
    };
    match bincode::serde::encode_into_writer(value, writer, config()) {
        Ok(()) => Ok(true),
        Err(bincode::error::EncodeError::Other("over the cap")) => {
            buf.truncate(start);
            Ok(false)
        }
        Err(e) => {
            buf.truncate(start);
            Err(encode_error(e))
        }
    }
}

/// The length of the encoding of `value`, found without writing it.
pub(crate) fn encoded_len<T: Serialize + ?Sized>(value: &T) -> Result<usize> {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, config()).map_err(encode_error)?;
    Ok(size.bytes_written)
}

/// Encodes `value` into `out` as it goes: what the encoder writes in big pieces (a byte
/// buffer's contents) goes to `out` as it is, not copied.
pub(crate) fn encode_to<T: Serialize + ?Sized>(
    value: &T,
    mut out: &mut dyn io::Write,
) -> Result<()> {
    bincode::serde::encode_into_std_write(value, &mut out, config())
        .map(drop)
        .map_err(encode_error)
}

/// Where a message's bytes come from when it is decoded as it arrives ([`decode_from`]),
/// rather than first read whole into a buffer.
pub(crate) trait Source {
    /// Fills `buf` from the message; an error if the message has fewer bytes left.
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()>;
    /// The next `len` bytes of the message, in a vector of their own, which takes memory
    /// only as they arrive (so that a false length costs only what really comes).
    fn read_owned(&mut self, len: usize) -> io::Result<Vec<u8>>;
    /// How many bytes of the message are not read yet.
    fn remaining(&self) -> usize;
    /// Copies the next `buf.len()` bytes into `buf` without taking them, if they have
    /// arrived already; `false` if not.
    fn peek(&self, buf: &mut [u8]) -> bool;
    /// Takes `n` bytes that [`peek`](Self::peek) showed.
    fn consume(&mut self, n: usize);
}

/// Reads a length as bincode writes it with its standard configuration: one byte up to
/// 250; after 251, 252 or 253, a `u16`, `u32` or `u64`, little-endian.
pub(crate) fn read_length(source: &mut dyn Source) -> io::Result<u64> {
    let mut first = [0u8; 1];
    source.read_exact(&mut first)?;
    let mut wide = [0u8; 8];
    let width = match first[0] {
        small @ 0..=250 => return Ok(u64::from(small)),
        251 => 2,
        252 => 4,
        253 => 8,
        _ => return Err(io::Error::other("a length wider than 64 bits")),
    };
    source.read_exact(&mut wide[..width])?;
    Ok(u64::from_le_bytes(wide))
}

/// Decodes a message from `source` as its bytes arrive, as `seed` says (a
/// `PhantomData<T>` decodes a `T`), with the same rules as [`decode`]:
/// a string or a byte buffer is read straight into the buffer that becomes the value, with
/// no copy. Bytes left over are an error; the caller skips them.
///
/// Generic over the source, so that the many small reads of a message of small values
/// (a length, a number) are direct calls; the guard, which reads only the big pieces,
/// sees the source as a `dyn Source`.
pub(crate) fn decode_from<D, V, S>(seed: D, source: &RefCell<S>) -> Result<V>
where
    D: for<'de> DeserializeSeed<'de, Value = V>,
    S: Source,
{
    /// bincode's reader over the shared source, with a copy of the next few bytes for
    /// bincode to look at before it takes them (a number's first byte says its length).
    struct Reader<'a, S> {
        source: &'a RefCell<S>,
        peeked: [u8; PEEK],
    }
    const PEEK: usize = 32;
    impl<S: Source> bincode::de::read::Reader for Reader<'_, S> {
        fn read(
            &mut self,
            bytes: &mut [u8],
        ) -> std::result::Result<(), bincode::error::DecodeError> {
            self.source
                .borrow_mut()
                .read_exact(bytes)
                .map_err(|e| bincode::error::DecodeError::OtherString(e.to_string()))
        }

        fn peek_read(&mut self, n: usize) -> Option<&[u8]> {
            let peeked = self.peeked.get_mut(..n)?;
            self.source.borrow().peek(peeked).then_some(peeked)
        }

        fn consume(&mut self, n: usize) {
            self.source.borrow_mut().consume(n);
        }
    }
    let budget = guard::Budget::streamed(source.borrow().remaining());
    let message = guard::Message::streamed(seed, &budget, source);
    let mut decoder = bincode::serde::OwnedSerdeDecoder::from_reader(
        Reader {
            source,
            peeked: [0; PEEK],
        },
        config(),
    );
    let value = serde::de::DeserializeSeed::deserialize(message, decoder.as_deserializer())
        .map_err(decode_error)?;
    let left = source.borrow().remaining();
    if left > 0 {
        return Err(Error::Decode(format!(
            "{left} bytes left over after the value"
        )));
    }
    Ok(value)
}

/// Decodes a whole message. Bytes left over mean the message was not a `T`: an error.
///
/// Corrupt or hostile input is an error, never a panic: a length inside the message is
/// checked against the bytes that are there before anything is allocated, values nested
/// deeper than [`MAX_DEPTH`] are refused, collections reserve room for at most one
/// element per byte of the message, and the elements of its sequences and maps number at
/// most its length plus [`FREE_ELEMENTS`] (an element of `()` takes no byte).
///
/// ```
/// assert!(ipc::codec::decode::<String>(&[0xff, 0xff]).is_err());
/// // A string that claims a billion bytes, in a 5-byte message:
/// assert!(ipc::codec::decode::<String>(&[0xfc, 0x00, 0xca, 0x9a, 0x3b]).is_err());
/// ```
///
/// A `T` may borrow its strings and byte slices from `bytes` (`&str`, `&[u8]` marked
/// `serde_bytes`), with no copy:
///
/// ```
/// let mut buf = Vec::new();
/// ipc::codec::encode_into(&(7u8, "borrowed"), &mut buf)?;
/// let (n, text): (u8, &str) = ipc::codec::decode(&buf)?;
/// assert_eq!((n, text), (7, "borrowed"));
/// # Ok::<(), ipc::Error>(())
/// ```
pub fn decode<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    decode_seed(bytes, PhantomData::<T>)
}

/// [`decode`], decoding as `seed` says.
pub(crate) fn decode_seed<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    seed: S,
) -> Result<S::Value> {
    decode_seed_with(bytes, seed, config())
}

/// Decodes a call's arguments or result, encoded with [`encode_call`], by the same rules
/// as [`decode`].
pub(crate) fn decode_call<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    decode_with(bytes, call_config())
}

/// Decodes a list that is a call's result (a chunk's results, encoded with
/// [`encode_call`]) onto the end of `out`, and returns how many values it added: the
/// values go where they will stay, with no list of their own to be copied from. A list of
/// more than `most` values is an error. By the rules of [`decode`]; after an error, `out`
/// may hold some of the values.
pub(crate) fn decode_call_appending<T: DeserializeOwned>(
    bytes: &[u8],
    out: &mut Vec<T>,
    most: usize,
) -> Result<usize> {
    decode_call_seed(bytes, Append { out, most }, most)
}

/// Decodes a call's result (encoded with [`encode_call`]) as `seed` says, by the rules of
/// [`decode`]: for a result whose parts go where they will stay (see [`Append`]). The
/// caller vouches for a list of `vouched` values, which may take no byte each, beyond the
/// [`FREE_ELEMENTS`] a message may hold: its seed refuses more than that itself.
pub(crate) fn decode_call_seed<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    seed: S,
    vouched: usize,
) -> Result<S::Value> {
    decode_seed_vouched(bytes, seed, call_config(), vouched)
}

/// A seed that decodes a sequence onto the end of a vector, and says how many values it
/// added: at most `most`, or it is an error. The bound is the caller's to give, since a
/// message's length bounds nothing here: a value may take no bytes at all (`()`), and a
/// list of 2^40 of them is 12 bytes long.
pub(crate) struct Append<'a, T> {
    pub(crate) out: &'a mut Vec<T>,
    pub(crate) most: usize,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Append<'_, T> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> std::result::Result<usize, D::Error> {
        inner.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Append<'_, T> {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a sequence of at most {} values", self.most)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<usize, A::Error> {
        let mut added = 0;
        while let Some(value) = seq.next_element()? {
            if added == self.most {
                // Refused before it joins `out`: a caller may have made room for `most`
                // values and no more (see the pool's `Answer`).
                return Err(serde::de::Error::invalid_length(added + 1, &self));
            }
            self.out.push(value);
            added += 1;
        }
        Ok(added)
    }
}

/// A seed that decodes a sequence into `slots`, in order, and says how many values it
/// wrote: at most `slots.len()`, or it is an error (the value past them is refused before
/// it is written). The values written are the `Fill`'s until [`keep`](Self::keep): if it is
/// dropped first (an error, a list too short), it drops them.
pub(crate) struct Fill<'a, T> {
    slots: &'a mut [MaybeUninit<T>],
    written: usize,
}

impl<'a, T> Fill<'a, T> {
    pub(crate) fn new(slots: &'a mut [MaybeUninit<T>]) -> Fill<'a, T> {
        Fill { slots, written: 0 }
    }

    /// Leaves the values written in their slots, for the caller to own.
    pub(crate) fn keep(mut self) {
        self.written = 0;
    }
}

impl<T> Drop for Fill<'_, T> {
    fn drop(&mut self) {
        let written = std::mem::take(&mut self.written);
        let values =
            std::ptr::slice_from_raw_parts_mut(self.slots.as_mut_ptr().cast::<T>(), written);
        // SAFETY: the first `written` slots were written by `visit_seq`, each once, and
        // nothing else owns their values until `keep`, which sets `written` to 0; they
        // are no longer counted, so dropped once, here (`drop_in_place` on a slice goes on
        // with the others if one panics).
        unsafe { std::ptr::drop_in_place(values) };
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for &mut Fill<'_, T> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> std::result::Result<usize, D::Error> {
        inner.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for &mut Fill<'_, T> {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a sequence of at most {} values", self.slots.len())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<usize, A::Error> {
        while let Some(value) = seq.next_element()? {
            let Some(slot) = self.slots.get_mut(self.written) else {
                let most = self.slots.len();
                return Err(serde::de::Error::custom(format!(
                    "a list of more than the {most} values expected"
                )));
            };
            slot.write(value);
            self.written += 1;
        }
        Ok(self.written)
    }
}

fn decode_with<T: DeserializeOwned>(
    bytes: &[u8],
    config: impl bincode::config::Config,
) -> Result<T> {
    decode_seed_with(bytes, PhantomData::<T>, config)
}

/// Decodes `bytes` as `seed` says, through the guard; bytes left over are an error.
fn decode_seed_with<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    seed: S,
    config: impl bincode::config::Config,
) -> Result<S::Value> {
    decode_seed_vouched(bytes, seed, config, 0)
}

/// [`decode_seed_with`], for a caller that vouches for `vouched` elements more (see
/// [`decode_call_seed`]).
fn decode_seed_vouched<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    seed: S,
    config: impl bincode::config::Config,
    vouched: usize,
) -> Result<S::Value> {
    let budget = guard::Budget::in_slice(bytes.len(), vouched);
    let message = guard::Message::new(seed, &budget);
    let (value, used) =
        bincode::serde::seed_decode_from_slice(message, bytes, config).map_err(decode_error)?;
    if used != bytes.len() {
        return Err(Error::Decode(format!(
            "{} bytes left over after the value",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Why bytes did not decode, in words. bincode 2 displays its errors in their debug form,
/// so a reason given by a type's own `Deserialize` (a shared object refused, and why)
/// would read `OtherString("…")`: that reason is taken as it is.
/// A value that did not encode, in the words of its `Serialize` when it gave some.
fn encode_error(e: bincode::error::EncodeError) -> Error {
    match e {
        bincode::error::EncodeError::OtherString(why) => Error::Encode(why),
        e => Error::Encode(e.to_string()),
    }
}

fn decode_error(e: bincode::error::DecodeError) -> Error {
    match e {
        bincode::error::DecodeError::OtherString(why) => Error::Decode(why),
        e => Error::Decode(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

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

    /// A pool's parent vouches for the results of a chunk, whose number it knows: they
    /// take no byte each if they are `()`, and go whatever their count; the same list
    /// that no one vouches for is refused past [`FREE_ELEMENTS`].
    #[test]
    fn a_list_the_caller_vouches_for_goes_past_the_free_elements() {
        let n = FREE_ELEMENTS + 1000;
        let forged = (n as u64).to_le_bytes(); // a list of `()`, as a call's result
        let mut out = Vec::<()>::new();
        assert_eq!(decode_call_appending(&forged, &mut out, n).unwrap(), n);
        assert!(decode_call::<Vec<()>>(&forged).is_err());
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

    #[test]
    fn a_list_longer_than_its_bound_adds_no_value_past_the_bound() {
        let five = encode_call(&[1u64, 2, 3, 4, 5][..]).unwrap();
        let mut out: Vec<u64> = Vec::with_capacity(3);
        let refused = decode_call_appending(&five, &mut out, 3)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("at most 3"), "{refused}");
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(out.capacity(), 3, "the room made for the bound was enough");
        assert_eq!(
            decode_call_appending(&five, &mut Vec::<u64>::new(), 5).unwrap(),
            5
        );
    }

    #[test]
    fn a_fill_writes_each_slot_once_and_drops_what_it_wrote_unless_kept() {
        thread_local!(static DROPS: Cell<usize> = const { Cell::new(0) });
        #[derive(Deserialize)]
        struct Counted(#[allow(dead_code)] u64);
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.with(|drops| drops.set(drops.get() + 1));
            }
        }
        let five = encode_call(&[1u64, 2, 3, 4, 5][..]).unwrap();
        let mut slots: Vec<MaybeUninit<Counted>> = (0..5).map(|_| MaybeUninit::uninit()).collect();
        let mut fill = Fill::new(&mut slots[..3]);
        let refused = decode_call_seed(&five, &mut fill, 0)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("more than the 3 values"), "{refused}");
        assert_eq!(
            DROPS.with(Cell::get),
            1,
            "the value past the slots, refused"
        );
        drop(fill);
        assert_eq!(DROPS.with(Cell::get), 4, "and the three it wrote");
        let mut fill = Fill::new(&mut slots[..]);
        assert_eq!(decode_call_seed(&five, &mut fill, 0).unwrap(), 5);
        fill.keep();
        let before = DROPS.with(Cell::get);
        // SAFETY: all five slots were written, and kept.
        let values: Vec<Counted> = slots
            .into_iter()
            .map(|slot| unsafe { slot.assume_init() })
            .collect();
        assert_eq!(DROPS.with(Cell::get), before, "kept, not dropped");
        assert_eq!(values.iter().map(|v| v.0).sum::<u64>(), 15);
    }
}
