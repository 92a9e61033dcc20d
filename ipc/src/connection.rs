//! `Pipe` and `Connection`: Python's two ends of a pipe, carrying length-prefixed messages.
//!
//! A message on the wire is a *frame*: a 4-byte big-endian length, then that many bytes.
//! The length comes first so that the reader knows how much to wait for, and can refuse a
//! frame over its limit before allocating anything. A two-way `Pipe` is a Unix socketpair
//! (as in Python); a one-way one is a plain `pipe(2)`.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::error::{Error, Result};

/// Bytes of the length prefix in front of every message.
const HEADER_LEN: usize = 4;
/// How much one `read` asks the kernel for: small messages arrive whole in one call.
const READ_BUFFER: usize = 64 * 1024;
/// The default largest message, in bytes (256 MiB); see [`Connection::set_max_message_size`].
///
/// ```
/// let (mut a, _b) = ipc::Pipe::new()?;
/// let too_big = vec![0u8; ipc::connection::DEFAULT_MAX_MESSAGE + 1];
/// assert!(matches!(a.send_bytes(&too_big), Err(ipc::Error::TooLarge { .. })));
/// # Ok::<(), ipc::Error>(())
/// ```
pub const DEFAULT_MAX_MESSAGE: usize = 256 * 1024 * 1024;
/// A header no message can have: it stands for "no more messages" (see `Queue::close`).
const END_MARKER: u32 = u32::MAX;

/// Makes the two ends of a new pipe, like Python's `multiprocessing.Pipe()`.
///
/// Create the pipe *before* starting the process that uses it: the child inherits both ends.
///
/// ```
/// use ipc::Pipe;
///
/// let (mut parent_conn, mut child_conn) = Pipe::new()?;
/// child_conn.send(&"hello")?;
/// assert_eq!(parent_conn.recv::<String>()?, "hello");
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Debug)]
pub struct Pipe;

impl Pipe {
    /// A two-way pipe (Python's default, `duplex=True`): both ends can send and receive.
    ///
    /// ```
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// a.send(&1u8)?;
    /// b.send(&2u8)?;
    /// assert_eq!((b.recv::<u8>()?, a.recv::<u8>()?), (1, 2));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    #[allow(clippy::new_ret_no_self)] // Python's `Pipe()` returns two connections, so does this
    pub fn new() -> Result<(Connection, Connection)> {
        let (a, b) = UnixStream::pair()?;
        Ok((
            Connection::new(a.into(), true, true),
            Connection::new(b.into(), true, true),
        ))
    }

    /// A one-way pipe (Python's `duplex=False`): returns `(receiver, sender)`, in that order
    /// as in Python.
    ///
    /// ```
    /// let (mut rx, mut tx) = ipc::Pipe::one_way()?;
    /// tx.send(&"one way")?;
    /// assert_eq!(rx.recv::<String>()?, "one way");
    /// assert!(rx.send(&0u8).is_err()); // the receiving end cannot send
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn one_way() -> Result<(Connection, Connection)> {
        let (reader, writer) = io::pipe()?;
        Ok((
            Connection::new(reader.into(), true, false),
            Connection::new(writer.into(), false, true),
        ))
    }
}

/// One end of a [`Pipe`]: sends and receives whole messages.
///
/// Typed messages go through serde ([`send`](Self::send), [`recv`](Self::recv)); raw ones
/// skip it ([`send_bytes`](Self::send_bytes), [`recv_bytes`](Self::recv_bytes)). Both ends
/// must agree on the type of each message, as with Python's pickle.
///
/// Dropping a `Connection` (or calling [`close`](Self::close)) closes this process's copy
/// of the descriptor. The other end sees [`Error::Closed`] only when *every* process has
/// closed its copy. A [`Process`](crate::Process) drops the parent's copy of everything
/// its closure captured; for the other direction, see
/// [`set_inheritable`](Self::set_inheritable).
#[derive(Debug)]
pub struct Connection {
    /// The descriptor (socket or pipe). `File` is std's plain owned descriptor with
    /// `read`/`write`, which work the same on both.
    file: File,
    readable: bool,
    writable: bool,
    inheritable: bool,
    /// Read no byte past the current message, so that several processes can share one
    /// reading end (a `Queue`): a byte in our buffer is a byte the others never see.
    exact_reads: bool,
    max_message: usize,
    /// Bytes read from the kernel but not handed out yet: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Connection {
    fn new(fd: OwnedFd, readable: bool, writable: bool) -> Connection {
        Connection {
            file: File::from(fd),
            readable,
            writable,
            inheritable: true,
            exact_reads: false,
            max_message: DEFAULT_MAX_MESSAGE,
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// Sets the largest message this end will send or accept (default
    /// [`DEFAULT_MAX_MESSAGE`]). A longer frame is [`Error::TooLarge`], found from its
    /// header alone.
    ///
    /// ```
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// a.set_max_message_size(16);
    /// assert!(a.send_bytes(&[0; 17]).is_err());
    /// b.send_bytes(&[0; 17])?;
    /// assert!(matches!(a.recv_bytes(), Err(ipc::Error::TooLarge { len: 17, limit: 16 })));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn set_max_message_size(&mut self, limit: usize) {
        self.max_message = limit.min(END_MARKER as usize - 1);
    }

    /// Whether processes started from now on keep a copy of this end (default: yes, as
    /// with any descriptor after `fork`). Say `false` for an end that stays in the parent:
    /// the children close it as soon as they start.
    ///
    /// It matters for end-of-stream: a child waiting for [`Error::Closed`] on its own end
    /// gets it only when no process holds the other end any more, the child included.
    ///
    /// ```
    /// use ipc::{Pipe, Process};
    ///
    /// let (mut parent_conn, mut child_conn) = Pipe::new()?;
    /// parent_conn.set_inheritable(false); // or the child would hold it open itself
    /// let mut p = Process::with_exit_code(move || {
    ///     let mut count = 0;
    ///     while child_conn.recv::<String>().is_ok() {
    ///         count += 1; // until the parent closes its end
    ///     }
    ///     count
    /// });
    /// p.start()?;
    /// parent_conn.send("/")?;
    /// parent_conn.send("/about.html")?;
    /// parent_conn.close();
    /// assert_eq!(p.join()?, 2);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn set_inheritable(&mut self, inheritable: bool) {
        if inheritable != self.inheritable {
            let mut list = not_inherited();
            if inheritable {
                list.retain(|&fd| fd != self.file.as_raw_fd());
            } else {
                list.push(self.file.as_raw_fd());
            }
            self.inheritable = inheritable;
        }
    }

    /// Sends one value, encoded with serde + bincode. Python: `conn.send(obj)`.
    ///
    /// ```
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// a.send(&vec![1, 2, 3])?;
    /// assert_eq!(b.recv::<Vec<i32>>()?, [1, 2, 3]);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.check_direction(self.writable, "receive")?;
        // Encode behind a placeholder header, then fill it in: one buffer, one write.
        let mut frame = vec![0; HEADER_LEN];
        codec::encode_into(value, &mut frame)?;
        let header = self.header_for(frame.len() - HEADER_LEN)?;
        frame[..HEADER_LEN].copy_from_slice(&header);
        self.write_all(&mut [IoSlice::new(&frame)])
    }

    /// Receives one value sent with [`send`](Self::send). Blocks until it arrives; if the
    /// other end is closed first, returns [`Error::Closed`]. Python: `conn.recv()`.
    ///
    /// ```
    /// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    /// struct Page { url: String, status: u16 }
    ///
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// a.send(&Page { url: "/".into(), status: 200 })?;
    /// assert_eq!(b.recv::<Page>()?.status, 200);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T> {
        let len = self.recv_header()?;
        if self.end - self.start >= len {
            // The whole message is in the buffer already (the usual case for small ones):
            // decode it from there, with no copy.
            let frame = self.start..self.start + len;
            self.start += len;
            return codec::decode(&self.buf[frame]);
        }
        let mut body = Vec::new();
        self.recv_body(len, &mut body)?;
        codec::decode(&body)
    }

    /// Sends raw bytes as one message. Python: `conn.send_bytes(buf)`.
    ///
    /// ```
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// a.send_bytes(b"<html>")?;
    /// assert_eq!(b.recv_bytes()?, b"<html>");
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_direction(self.writable, "receive")?;
        let header = self.header_for(bytes.len())?;
        // Header and body leave in one writev: no copy, no extra system call.
        self.write_all(&mut [IoSlice::new(&header), IoSlice::new(bytes)])
    }

    /// Receives one message's raw bytes. Python: `conn.recv_bytes()`.
    ///
    /// ```
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// a.send_bytes(&[7; 3])?;
    /// drop(a);
    /// assert_eq!(b.recv_bytes()?, [7, 7, 7]);
    /// assert!(matches!(b.recv_bytes(), Err(ipc::Error::Closed)));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.recv_bytes_into(&mut body)?;
        Ok(body)
    }

    /// Receives one message's raw bytes into `buf` (emptied first) and returns their
    /// number. Reusing one buffer for many messages saves an allocation, and the page
    /// faults of fresh memory, per message. Python: `conn.recv_bytes_into(buf)`.
    ///
    /// ```
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// let mut buf = Vec::new();
    /// for text in ["first", "second"] {
    ///     a.send_bytes(text.as_bytes())?;
    ///     assert_eq!(b.recv_bytes_into(&mut buf)?, text.len());
    ///     assert_eq!(buf, text.as_bytes());
    /// }
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn recv_bytes_into(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        let len = self.recv_header()?;
        self.recv_body(len, buf)?;
        Ok(len)
    }

    /// Reads the next frame's header and returns the body's length.
    fn recv_header(&mut self) -> Result<usize> {
        self.check_direction(self.readable, "send")?;
        if !self.fill(HEADER_LEN)? {
            return Err(Error::Closed);
        }
        let header: [u8; HEADER_LEN] = self.buf[self.start..self.start + HEADER_LEN]
            .try_into()
            .expect("four bytes");
        self.start += HEADER_LEN;
        let len = u32::from_be_bytes(header);
        if len == END_MARKER {
            return Err(Error::Closed);
        }
        let len = len as usize;
        if len > self.max_message {
            return Err(Error::TooLarge {
                len: len as u64,
                limit: self.max_message,
            });
        }
        Ok(len)
    }

    /// Reads a body of `len` bytes into `buf`, from the buffer first, then the kernel.
    fn recv_body(&mut self, len: usize, buf: &mut Vec<u8>) -> Result<()> {
        buf.clear();
        buf.reserve_exact(len);
        let buffered = (self.end - self.start).min(len);
        buf.extend_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        // The rest goes straight from the kernel into `buf`'s spare capacity: no copy,
        // and no zero-filling first (`read_to_end` tracks what is initialised).
        let rest = (len - buffered) as u64;
        (&mut self.file)
            .take(rest)
            .read_to_end(buf)
            .map_err(peer_error)?;
        if buf.len() < len {
            return Err(Error::Truncated {
                expected: HEADER_LEN + len,
                got: HEADER_LEN + buf.len(),
            });
        }
        Ok(())
    }

    /// Whether a message (or the end of the stream) can be received without blocking,
    /// waiting at most `timeout`. Python: `conn.poll(timeout)`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (mut a, b) = ipc::Pipe::new()?;
    /// assert!(!a.poll(Duration::ZERO)?);
    /// drop(b);
    /// assert!(a.poll(Duration::ZERO)?); // readable: recv would return Closed at once
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn poll(&self, timeout: Duration) -> Result<bool> {
        Ok(!wait(&[self], Some(timeout))?.is_empty())
    }

    /// Closes this end. Same as dropping it; here for readers coming from Python.
    ///
    /// ```
    /// let (a, mut b) = ipc::Pipe::new()?;
    /// a.close();
    /// assert!(matches!(b.recv::<u8>(), Err(ipc::Error::Closed)));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn close(self) {}

    /// Sends the end marker: the receiver's `recv` says [`Error::Closed`], as at the end
    /// of the stream, though the pipe stays open.
    pub(crate) fn send_end_marker(&mut self) -> Result<()> {
        self.check_direction(self.writable, "receive")?;
        self.write_all(&mut [IoSlice::new(&END_MARKER.to_be_bytes())])
    }

    /// Reads stop at the end of each message; see the field.
    pub(crate) fn set_exact_reads(&mut self) {
        self.exact_reads = true;
    }

    /// Another `Connection` on a duplicate of the descriptor (`dup`), with its own buffer.
    pub(crate) fn try_clone(&self) -> Result<Connection> {
        let mut clone =
            Connection::new(self.file.try_clone()?.into(), self.readable, self.writable);
        clone.exact_reads = self.exact_reads;
        clone.max_message = self.max_message;
        Ok(clone)
    }

    fn check_direction(&self, allowed: bool, other_way: &'static str) -> Result<()> {
        if allowed {
            Ok(())
        } else {
            Err(Error::WrongDirection(other_way))
        }
    }

    fn header_for(&self, len: usize) -> Result<[u8; HEADER_LEN]> {
        if len > self.max_message {
            return Err(Error::TooLarge {
                len: len as u64,
                limit: self.max_message,
            });
        }
        let len = u32::try_from(len).expect("max_message fits in u32");
        Ok(len.to_be_bytes())
    }

    fn write_all(&mut self, mut slices: &mut [IoSlice<'_>]) -> Result<()> {
        while !slices.is_empty() {
            match self.file.write_vectored(slices) {
                Ok(0) => return Err(Error::Closed),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(peer_error(e)),
            }
        }
        Ok(())
    }

    /// Reads until at least `want` bytes are buffered. `Ok(false)`: the stream ended cleanly
    /// before the first byte; ending after some bytes is [`Error::Truncated`].
    fn fill(&mut self, want: usize) -> Result<bool> {
        if self.buf.is_empty() {
            self.buf = vec![0; READ_BUFFER];
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        while self.end - self.start < want {
            if self.buf.len() - self.start < want {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            }
            let room = if self.exact_reads {
                self.end + want - (self.end - self.start)
            } else {
                self.buf.len()
            };
            match self.file.read(&mut self.buf[self.end..room]) {
                Ok(0) if self.start == self.end => return Ok(false),
                Ok(0) => {
                    return Err(Error::Truncated {
                        expected: want,
                        got: self.end - self.start,
                    });
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(peer_error(e)),
            }
        }
        Ok(true)
    }

    fn has_buffered(&self) -> bool {
        self.start < self.end
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Its number may be reused by the next descriptor: forget it.
        self.set_inheritable(true);
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Descriptors that children must not keep; see [`Connection::set_inheritable`].
static NOT_INHERITED: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

fn not_inherited() -> MutexGuard<'static, Vec<RawFd>> {
    NOT_INHERITED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The list of descriptors children must close, locked across a `fork` (so that no other
/// thread can hold the lock at that moment and leave it locked forever in the child).
pub(crate) struct ForkGuard(MutexGuard<'static, Vec<RawFd>>);

impl ForkGuard {
    /// Take this just before `fork`; drop it in the parent after.
    pub(crate) fn lock() -> ForkGuard {
        ForkGuard(not_inherited())
    }

    /// In the child: close the descriptors, and forget them, since their numbers are free
    /// for new descriptors now.
    pub(crate) fn close_in_child(mut self) {
        for fd in self.0.drain(..) {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// A vanished peer shows up as one of several errors; they all mean [`Error::Closed`].
fn peer_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Error::Closed,
        _ => Error::Io(e),
    }
}

/// Waits until some of `connections` can be received from (a message or the end of the
/// stream), at most `timeout` (`None`: no limit), and returns their positions.
/// Python: `multiprocessing.connection.wait`.
///
/// ```
/// use std::time::Duration;
///
/// let (a, mut b) = ipc::Pipe::new()?;
/// let (c, _d) = ipc::Pipe::new()?;
/// b.send(&"ready")?;
/// assert_eq!(ipc::connection::wait(&[&c, &a], Some(Duration::from_secs(1)))?, [1]);
/// # Ok::<(), ipc::Error>(())
/// ```
pub fn wait(connections: &[&Connection], timeout: Option<Duration>) -> Result<Vec<usize>> {
    // Bytes already in a buffer are ready now, whatever the kernel says.
    let buffered: Vec<usize> = (0..connections.len())
        .filter(|&i| connections[i].has_buffered())
        .collect();
    if !buffered.is_empty() {
        return Ok(buffered);
    }
    let mut fds: Vec<PollFd> = connections
        .iter()
        .map(|c| PollFd::new(c.as_fd(), PollFlags::POLLIN))
        .collect();
    loop {
        match nix::poll::poll(&mut fds, poll_timeout(timeout)) {
            Err(nix::errno::Errno::EINTR) => continue,
            result => result?,
        };
        break;
    }
    Ok((0..fds.len())
        .filter(|&i| fds[i].any().unwrap_or(false))
        .collect())
}

/// `poll(2)` counts whole milliseconds: round up, so that a short timeout still waits.
pub(crate) fn poll_timeout(timeout: Option<Duration>) -> PollTimeout {
    match timeout {
        None => PollTimeout::NONE,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        }
    }
}
