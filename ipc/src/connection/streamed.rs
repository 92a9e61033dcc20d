//! Big typed messages, encoded as they are sent and decoded as they arrive.
//!
//! A small message is encoded into a buffer and sent with one write, and received whole
//! into the connection's buffer before it is decoded. For a big one (a page, a file's
//! bytes) each of those steps would copy every byte once more. So a message past
//! [`STREAMED_OVER`] bytes that holds a big piece (a byte buffer or a string of
//! [`BATCH`] bytes or more) is encoded as it is sent: the sender first counts the
//! encoding's length (for the frame's header), then encodes straight into the socket, and
//! the piece goes from the value to the kernel as it is. (A big message of small values
//! is copied value by value whatever happens: it is encoded into a buffer, once, up to
//! [`BUFFERED_UP_TO`] bytes.) The
//! receiver decodes any frame past [`STREAMED_OVER`] bytes from the socket as the bytes
//! come: a byte buffer or a string is read straight into the memory that becomes the
//! value (see [`buffer_for`]), small values are read from the connection's buffer.

use std::cell::RefCell;
use std::ffi::c_void;
use std::io::{self, IoSlice, Write};
use std::ptr::NonNull;

use nix::sys::mman::{MmapAdvise, madvise};
use serde::Serialize;
use serde::de::DeserializeSeed;

use super::{BATCH, Connection, HEADER_LEN, Until};
use crate::codec::{self, Source};
use crate::error::{Error, Result};

/// Messages longer than this are encoded as they are sent if they hold a big piece, and
/// are decoded as they arrive.
pub(super) const STREAMED_OVER: usize = 64 * 1024;
/// Messages of small values up to this length are encoded into a buffer, once; longer
/// ones are encoded as they are sent too, so that the copy never costs more memory than
/// this.
pub(super) const BUFFERED_UP_TO: usize = 4 * 1024 * 1024;

impl Connection {
    /// Sends `value`, whose encoding is longer than [`STREAMED_OVER`] and holds a big piece
    /// (or is too long to send), encoding it into the socket as it goes.
    pub(super) fn send_streamed<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let len = codec::encoded_len(value)?;
        let header = self.header_for(len)?;
        let mut frame = FrameWriter {
            conn: self,
            buf: Vec::with_capacity(BATCH),
            left: len,
            begun: false,
            finished: false,
            failure: None,
        };
        frame.buf.extend_from_slice(&header);
        let sent = codec::encode_to(value, &mut frame).and_then(|()| frame.finish());
        // A failed write's own error (the codec passes on only its text): `Closed` stays
        // `Closed`, the reader gone. Kept in the frame, which says it as it is dropped.
        sent.map_err(|e| {
            let e = frame.failure.take().unwrap_or(e);
            frame.failure = Some(e.clone());
            e
        })
    }

    /// Receives a frame of `len` bytes and decodes it as it arrives.
    pub(super) fn recv_streamed<S: for<'de> DeserializeSeed<'de, Value = V>, V>(
        &mut self,
        seed: S,
        len: usize,
        until: Until<'_>,
    ) -> Result<V> {
        let frame = RefCell::new(FrameReader {
            conn: self,
            until,
            len,
            left: len,
            failure: None,
        });
        let decoded = codec::decode_from(seed, &frame);
        let mut frame = frame.into_inner();
        if let Some(failure) = frame.failure.take() {
            // The bytes stopped coming: the stream is cut, or the socket failed.
            return Err(failure);
        }
        if decoded.is_err() && frame.left > 0 {
            // It did not decode: skip the rest of its frame, so that the next message is
            // read from its own beginning.
            frame.skip_rest()?;
        }
        decoded
    }
}

/// Writes one frame's encoding into the socket: small pieces are gathered in `buf`, big
/// ones go out as they are. Refuses to write more than the header announced.
struct FrameWriter<'a> {
    conn: &'a mut Connection,
    buf: Vec<u8>,
    /// Bytes of the body the header announced and not written yet.
    left: usize,
    /// Whether bytes of the frame went: then a frame not finished is cut short.
    begun: bool,
    /// Whether all of it was written.
    finished: bool,
    /// Why a write failed, if one did (then why the frame stopped).
    failure: Option<Error>,
}

impl Drop for FrameWriter<'_> {
    /// A frame begun and not finished (a write or the value's encoding failed, or the
    /// encoding panicked and the caller caught it) is cut short: the connection cuts the
    /// stream there (see [`Connection::cut_mid_message`]). Nothing to do if nothing of the
    /// frame went: the stream is as it was.
    fn drop(&mut self) {
        if !self.begun || self.finished {
            return;
        }
        let panicked = || Error::Encode("the value's encoding panicked".into());
        let why = self.failure.take().unwrap_or_else(panicked);
        self.conn.cut_mid_message(&why);
    }
}

impl FrameWriter<'_> {
    /// Writes `slices` whole; a failure is kept as the connection's error, and passed on
    /// to the codec as text. Once a write has failed, nothing more of the frame goes, even
    /// if the value's `Serialize` drops the error and writes on: what went of the frame
    /// (maybe nothing, not even its header) is all the reader gets of it.
    fn write_all(&mut self, slices: &mut [IoSlice<'_>]) -> io::Result<()> {
        if let Some(failure) = &self.failure {
            return Err(io::Error::other(failure.to_string()));
        }
        self.conn.write_all(slices, &mut self.begun).map_err(|e| {
            let text = e.to_string();
            self.failure = Some(e);
            io::Error::other(text)
        })
    }

    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let sent = self.write_all(&mut [IoSlice::new(&buf)]);
        self.buf = buf;
        self.buf.clear();
        sent
    }

    /// Sends what is gathered; the encoding must have been exactly as long as announced.
    fn finish(&mut self) -> Result<()> {
        if self.left != 0 {
            return Err(Error::Encode(format!(
                "the value encoded {} bytes shorter the second time",
                self.left
            )));
        }
        self.send_buf()
            .map_err(|e| Error::from(io::Error::other(e)))?;
        self.finished = true;
        Ok(())
    }
}

impl Write for FrameWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(failure) = &self.failure {
            return Err(io::Error::other(failure.to_string()));
        }
        if bytes.len() > self.left {
            // A value whose encoding changed between the count and now.
            return Err(io::Error::other("the value encoded longer the second time"));
        }
        self.left -= bytes.len();
        if bytes.len() >= self.buf.capacity() {
            // Big: from the value to the kernel, with no copy, in one `sendmsg` with what
            // was gathered before it.
            let buf = std::mem::take(&mut self.buf);
            let sent = self.write_all(&mut [IoSlice::new(&buf), IoSlice::new(bytes)]);
            self.buf = buf;
            self.buf.clear();
            return sent.map(|()| bytes.len());
        }
        if self.buf.len() + bytes.len() > self.buf.capacity() {
            self.send_buf()?;
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

/// Reads one frame's body, for [`codec::decode_from`]: from the connection's buffer first,
/// then from the socket.
struct FrameReader<'a, 'u> {
    conn: &'a mut Connection,
    until: Until<'u>,
    len: usize,
    /// Bytes of the body not read yet.
    left: usize,
    /// Why the bytes stopped coming, if they did.
    failure: Option<Error>,
}

impl FrameReader<'_, '_> {
    /// Keeps `error` as the reason, and turns it into one the codec passes on. `taken`:
    /// the bytes of the body read into the piece being read when it failed.
    fn fail(&mut self, error: Error, taken: usize) -> io::Error {
        let error = match error {
            // The stream ended inside this frame: what came is the body decoded so far,
            // the piece begun, and what waits in the buffer.
            Error::Closed | Error::Truncated { .. } => {
                let waiting = self.conn.end - self.conn.start;
                let came = self.len - self.left + (taken + waiting).min(self.left);
                Error::Truncated {
                    expected: HEADER_LEN + self.len,
                    got: HEADER_LEN + came,
                }
            }
            e => e,
        };
        let text = error.to_string();
        self.failure = Some(error);
        self.conn.unreadable = Some(format!(
            "an earlier receive failed in the middle of a message: {text}"
        ));
        io::Error::other(text)
    }

    /// Reads and drops what is left of the body.
    fn skip_rest(&mut self) -> Result<()> {
        while self.left > 0 {
            let chunk = self.left.min(BATCH);
            if self.read_owned(chunk).is_err() {
                return Err(self.failure.take().expect("a failed read says why"));
            }
        }
        Ok(())
    }
}

impl Source for FrameReader<'_, '_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if buf.len() > self.left {
            return Err(io::Error::other("past the end of the message"));
        }
        let conn = &mut *self.conn;
        if let Some(buffered) = conn.buf[conn.start..conn.end].get(..buf.len()) {
            // The usual case for a small value: its bytes are in the buffer already.
            buf.copy_from_slice(buffered);
            conn.start += buf.len();
            self.left -= buf.len();
            return Ok(());
        }
        let mut filled = 0;
        while filled < buf.len() {
            let want = (buf.len() - filled).min(BATCH);
            // Small values are read a batch at a time, and never past the frame's end: a
            // big piece is read into its own memory, in reads that end where it ends.
            match self.conn.fill(want, self.left.min(BATCH), self.until) {
                Ok(true) => {}
                Ok(false) => return Err(self.fail(Error::Closed, filled)),
                Err(e) => return Err(self.fail(e, filled)),
            }
            let conn = &mut *self.conn;
            buf[filled..filled + want].copy_from_slice(&conn.buf[conn.start..conn.start + want]);
            conn.start += want;
            filled += want;
        }
        self.left -= buf.len();
        Ok(())
    }

    fn read_owned(&mut self, len: usize) -> io::Result<Vec<u8>> {
        if len > self.left {
            return Err(io::Error::other("past the end of the message"));
        }
        let mut bytes = buffer_for(len);
        match self.conn.recv_body(len, &mut bytes, self.until) {
            Ok(()) => {
                self.left -= len;
                Ok(bytes)
            }
            Err(e) => {
                let taken = bytes.len();
                Err(self.fail(e, taken))
            }
        }
    }

    fn remaining(&self) -> usize {
        self.left
    }

    fn peek(&self, buf: &mut [u8]) -> bool {
        let conn = &*self.conn;
        let buffered = conn.buf[conn.start..conn.end].get(..buf.len());
        match buffered {
            Some(bytes) if buf.len() <= self.left => {
                buf.copy_from_slice(bytes);
                true
            }
            _ => false,
        }
    }

    fn consume(&mut self, n: usize) {
        // bincode takes no more than it was shown: within the buffer, and the frame.
        let n = n.min(self.conn.end - self.conn.start).min(self.left);
        self.conn.start += n;
        self.left -= n;
    }
}

/// Memory from this size up is mapped afresh for each allocation, and given back when it
/// is freed (glibc's allocator maps anything over its threshold, which it raises as big
/// blocks are freed, up to 32 MiB), so each of its pages costs a fault on first touch.
const FRESH_FROM: usize = 32 * 1024 * 1024;
/// The size of a huge page (x86-64, aarch64 with 4 KiB pages).
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// An empty vector with room for a byte buffer or a string of `len` bytes, which the frame
/// has room for (the caller checked).
///
/// All of it is reserved at once, so that it is never moved or copied as it fills, but
/// this only reserves address space: memory is taken page by page as the bytes are
/// written into it, so a length that lies costs what arrives. Where address space is
/// short (`ulimit -v`), the vector starts empty and grows as the bytes come.
///
/// From [`FRESH_FROM`] up, the memory is new for each message, and faulting it in 4 KiB
/// pages costs more than the copy from the kernel: the kernel is asked for 2 MiB pages
/// instead ([`MADV_HUGEPAGE`]), 512 times fewer faults. A frame that stops early then holds
/// at most one huge page that is not full.
///
/// [`MADV_HUGEPAGE`]: https://man7.org/linux/man-pages/man2/madvise.2.html
fn buffer_for(len: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    if buf.try_reserve_exact(len).is_err() {
        return Vec::new();
    }
    if len >= FRESH_FROM {
        // The huge pages that fit whole inside the vector's memory.
        let start = (buf.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
        let end = (buf.as_ptr() as usize + len) / HUGE_PAGE * HUGE_PAGE;
        if let Some(start) = NonNull::new(start as *mut c_void)
            && end > start.as_ptr() as usize
        {
            // SAFETY: `start..end` lies inside the vector's memory, which it owns and no
            // one else uses; the advice changes how the kernel backs those pages, never
            // their contents. Advice refused (a kernel without huge pages) changes nothing.
            let _ = unsafe {
                madvise(
                    start,
                    end - start.as_ptr() as usize,
                    MmapAdvise::MADV_HUGEPAGE,
                )
            };
        }
    }
    buf
}
