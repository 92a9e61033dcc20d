//! `Pipe` and `Connection`: Python's two ends of a pipe, carrying length-prefixed messages.
//!
//! A message on the wire is a *frame*: a 4-byte big-endian length, then that many bytes.
//! The length comes first so that the reader knows how much to wait for, and can refuse a
//! frame over its limit before allocating anything. Both kinds of `Pipe` are Unix
//! socketpairs: a two-way one as in Python, and a one-way one shut in the other direction
//! (Python uses `pipe(2)` there). Sockets let every write say `MSG_NOSIGNAL`, so a peer
//! that is gone is an [`Error::Closed`] and never a `SIGPIPE` that kills the writer,
//! whatever the program did with that signal.

use std::io::{self, IoSlice};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use nix::sys::socket::{MsgFlags, Shutdown, shutdown};
use serde::de::{DeserializeOwned, DeserializeSeed};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::deadline::{deadline, poll_until};
use crate::descriptor::{Descriptor, Lent};

mod streamed;
use crate::error::{Error, Result};
use crate::fork::{self, Mark};

/// Bytes of the length prefix in front of every message.
const HEADER_LEN: usize = 4;
/// How much one `read` asks the kernel for, once the read buffer has grown to it: small
/// messages arrive whole in one call.
const READ_BUFFER: usize = 64 * 1024;
/// The read buffer's first size, a page. It doubles, up to [`READ_BUFFER`], each time a
/// read fills it: a connection that gets a few small messages never writes more than its
/// first page. (Made whole at once, its 16 pages were filled with zeros, and in a process
/// just forked each page so written is a page fault: a `Pool::map` of two tiny tasks,
/// with four ends of pipes, took 155 faults and 0.49 ms where it now takes 101 and 0.40.)
const FIRST_READ_BUFFER: usize = 4 * 1024;
/// The buffer of tasks queued for a `WorkerPool` worker ([`Connection::queue`]) is kept up
/// to this size once its bytes are written; a bigger one, which one big task made big,
/// goes back to the allocator (so does any other write buffer over [`READ_BUFFER`]). A
/// pool hands each worker chunks of about the same size one after another: a new buffer
/// for each was fresh memory each time, every page of it a page fault. A pool's parent so
/// keeps up to this much memory per worker.
const KEPT_TASK_BUFFER: usize = 1024 * 1024;
/// How many bytes of messages [`Connection::send_later`] keeps before it writes them.
const BATCH: usize = 16 * 1024;
/// The default largest message, in bytes (256 MiB); see [`Connection::set_max_message_size`].
///
/// ```
/// let (mut a, _b) = ipc::Pipe::new()?;
/// let too_big = vec![0u8; ipc::connection::DEFAULT_MAX_MESSAGE + 1];
/// assert!(matches!(a.send_bytes(&too_big), Err(ipc::Error::TooLarge { .. })));
/// # Ok::<(), ipc::Error>(())
/// ```
pub const DEFAULT_MAX_MESSAGE: usize = 256 * 1024 * 1024;

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
    /// A Unix socketpair, see [socketpair(2)].
    ///
    /// ```
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// a.send(&1u8)?;
    /// b.send(&2u8)?;
    /// assert_eq!((b.recv::<u8>()?, a.recv::<u8>()?), (1, 2));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    ///
    /// [socketpair(2)]: https://man7.org/linux/man-pages/man2/socketpair.2.html
    #[allow(clippy::new_ret_no_self)] // Python's `Pipe()` returns two connections, so does this
    #[doc(alias = "socketpair")]
    pub fn new() -> Result<(Connection, Connection)> {
        let (a, b) = UnixStream::pair()?;
        Ok((
            Connection::new(a.into(), true, true),
            Connection::new(b.into(), true, true),
        ))
    }

    /// A one-way pipe (Python's `duplex=False`): returns `(receiver, sender)`, in that order
    /// as in Python. A socketpair shut in the other direction ([shutdown(2)]), where Python
    /// uses [pipe(2)]: see the [module](self) for why.
    ///
    /// ```
    /// let (mut rx, mut tx) = ipc::Pipe::one_way()?;
    /// tx.send(&"one way")?;
    /// assert_eq!(rx.recv::<String>()?, "one way");
    /// assert!(rx.send(&0u8).is_err()); // the receiving end cannot send
    /// # Ok::<(), ipc::Error>(())
    /// ```
    ///
    /// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
    /// [pipe(2)]: https://man7.org/linux/man-pages/man2/pipe.2.html
    pub fn one_way() -> Result<(Connection, Connection)> {
        let (reader, writer) = UnixStream::pair()?;
        shutdown(reader.as_raw_fd(), Shutdown::Write)?;
        shutdown(writer.as_raw_fd(), Shutdown::Read)?;
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
///
/// Several processes may read one end in turn, as in Python: a copy in a forked child, or
/// an end sent to a new process or received from one, reads no further than each message,
/// so the next one stays in the pipe for whoever reads next. Two reading at the same
/// moment can split a message between them (Python's too: its `Queue` adds a lock). The
/// process that made the end reads ahead (one read can bring several small messages, and
/// a child forked then gets a copy of those too), so it should not take turns with its
/// children on one end: give each reader an end of its own.
#[derive(Debug)]
pub struct Connection {
    /// The socket.
    fd: OwnedFd,
    readable: bool,
    writable: bool,
    /// Set while children must not keep this end; see [`Connection::set_inheritable`].
    mark: Option<Arc<Mark>>,
    /// Why this end can no longer be read, once a receive left the stream mid-message.
    unreadable: Option<String>,
    /// Why this end can no longer be written, once a send stopped mid-message (and shut the
    /// stream there).
    unwritable: Option<String>,
    /// Frames encoded and not written yet: see [`Connection::send_later`] and
    /// [`Connection::queue`].
    outgoing: Vec<u8>,
    /// How many bytes at the front of `outgoing` are written already (see
    /// [`Connection::write_queued`]).
    written: usize,
    max_message: usize,
    /// Bytes read from the kernel but not handed out yet: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Whether the last frame received was big: then the next header is read alone.
    after_big: bool,
    /// Whether another process may read this end too: it went to a new process in its
    /// arguments, or came from one. Then no read goes past the end of a message, which
    /// would take the next one from whoever reads next (and lose it with this process).
    /// Atomic, so that [`Serialize`], which takes `&self`, can set it.
    shared: AtomicBool,
    /// The [`fork::generation`] of the process that made it: a copy in a forked child
    /// (captured by its closure, or borrowed by a `Pool`'s function) is shared too.
    generation: u64,
}

/// How long a read may block.
#[derive(Clone, Copy)]
pub(crate) enum Until<'a> {
    /// Until data or the end of the stream comes: a plain blocking read.
    Forever,
    /// Until data comes, or this descriptor (the writer's pidfd) says the writer has
    /// exited: after that, data that is not there will not come (a process the writer
    /// forked may still hold its end open, so the end of the stream may never come).
    WriterExits(BorrowedFd<'a>),
}

impl Connection {
    fn new(fd: OwnedFd, readable: bool, writable: bool) -> Connection {
        Connection {
            fd,
            readable,
            writable,
            mark: None,
            unreadable: None,
            unwritable: None,
            outgoing: Vec::new(),
            written: 0,
            max_message: DEFAULT_MAX_MESSAGE,
            buf: Vec::new(),
            start: 0,
            end: 0,
            after_big: false,
            shared: AtomicBool::new(false),
            generation: fork::generation(),
        }
    }

    /// A two-way end on `fd`, a socket of a socketpair.
    pub(crate) fn from_fd(fd: OwnedFd) -> Connection {
        Connection::new(fd, true, true)
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
        self.max_message = limit.min(u32::MAX as usize);
    }

    /// The longest message this end sends or receives (see
    /// [`set_max_message_size`](Self::set_max_message_size)).
    pub(crate) fn max_message_size(&self) -> usize {
        self.max_message
    }

    /// Whether processes started from now on keep a copy of this end (default: yes, as
    /// with any descriptor after `fork`). Say `false` for an end that stays in the parent:
    /// children then let go of it as they start. A child whose closure *takes* the end
    /// keeps it (it is the child's now), and its own children let go of it in turn.
    ///
    /// It matters for end-of-stream: a child waiting for [`Error::Closed`] on its own end
    /// gets it only when no process holds the other end any more, the child included.
    /// (POSIX calls this close-on-fork; Linux lacks it, so `ipc` emulates it.) A child that
    /// reaches a released end anyway, through a global, gets [`Error::NotInherited`]: the
    /// number stays taken, so no other descriptor can be mistaken for the end.
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
        match (&self.mark, inheritable) {
            (Some(mark), true) => {
                mark.remove();
                self.mark = None;
            }
            (None, false) => self.mark = Some(Mark::new(self.fd.as_fd())),
            _ => {}
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
        self.send_later(value)?;
        self.flush()
    }

    /// Encodes one message behind those not written yet; [`flush`](Self::flush) writes
    /// them all at once. A pool sends several tasks with one system call this way, and the
    /// worker wakes once for them. Once
    /// [`BATCH`] bytes wait, they are written at once: a batch is for small messages, and a
    /// big one should not wait for others.
    pub(crate) fn send_later<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.check_writable()?;
        // Encode behind a placeholder header, then fill it in.
        let start = self.outgoing.len();
        self.outgoing.extend_from_slice(&[0; HEADER_LEN]);
        let cap = start + HEADER_LEN + streamed::STREAMED_OVER;
        let ceiling = start + HEADER_LEN + self.max_message.min(streamed::BUFFERED_UP_TO);
        let encoded = undone_on_panic(&mut self.outgoing, start, |outgoing| {
            codec::encode_capped(value, outgoing, cap, BATCH, ceiling)
        });
        match encoded {
            Ok(true) => {}
            Ok(false) => {
                // Big, with a big piece, or longer than a buffer should be: write what
                // waits, then this one as it is encoded.
                self.outgoing.truncate(start);
                self.flush()?;
                return self.send_streamed(value);
            }
            Err(e) => {
                self.outgoing.truncate(start);
                return Err(e);
            }
        }
        let encoded = self.header_for(self.outgoing.len() - start - HEADER_LEN);
        match encoded {
            Ok(header) => {
                self.outgoing[start..start + HEADER_LEN].copy_from_slice(&header);
                if self.outgoing.len() >= BATCH {
                    self.flush()?;
                }
                Ok(())
            }
            Err(e) => {
                self.outgoing.truncate(start);
                Err(e)
            }
        }
    }

    /// Writes the messages [`send_later`](Self::send_later) encoded.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.outgoing.is_empty() {
            return Ok(());
        }
        let mut outgoing = std::mem::take(&mut self.outgoing);
        let begun = self.written > 0; // part of it went with `write_queued`
        let written = self.write_message(&mut [IoSlice::new(&outgoing[self.written..])], begun);
        self.written = 0;
        // Keep the buffer for the next messages, unless a big one made it big.
        if outgoing.capacity() <= READ_BUFFER {
            outgoing.clear();
            self.outgoing = outgoing;
        }
        written
    }

    /// Encodes one message, whole however long (up to the limit), behind those not written
    /// yet, for [`write_queued`](Self::write_queued) to write: for a writer that must not
    /// wait long for its reader. (A big message costs a copy in memory this way, which
    /// [`send`](Self::send) spares by encoding it into the socket as it goes.)
    pub(crate) fn queue<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.check_writable()?;
        let start = self.outgoing.len();
        self.outgoing.extend_from_slice(&[0; HEADER_LEN]);
        let framed = undone_on_panic(&mut self.outgoing, start, |outgoing| {
            codec::encode_into(value, outgoing)
        })
        .and_then(|()| self.header_for(self.outgoing.len() - start - HEADER_LEN));
        match framed {
            Ok(header) => {
                self.outgoing[start..start + HEADER_LEN].copy_from_slice(&header);
                Ok(())
            }
            Err(e) => {
                self.outgoing.truncate(start);
                Err(e)
            }
        }
    }

    /// Writes what waits (see [`queue`](Self::queue)), waiting for room in the socket until
    /// `until` at most: `true` once all is written, `false` if some is left for a later
    /// call. After a failed write (the reader is gone, say), what was not written is
    /// dropped, and if some of it had gone, the stream is cut there (see
    /// [`cut_mid_message`](Self::cut_mid_message)). After a failed wait for room, it stays
    /// for the next call, which goes on where this one stopped.
    pub(crate) fn write_queued(&mut self, until: Instant) -> Result<bool> {
        while self.written < self.outgoing.len() {
            let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
            let left = &self.outgoing[self.written..];
            match nix::sys::socket::send(self.fd.as_raw_fd(), left, flags) {
                Ok(n) => self.written += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    let mut room = [PollFd::new(self.fd.as_fd(), PollFlags::POLLOUT)];
                    if !poll_until(&mut room, Some(until))? {
                        return Ok(false);
                    }
                }
                Err(e) => {
                    let failure = peer_error(e);
                    if self.written > 0 {
                        self.cut_mid_message(&failure);
                    }
                    self.outgoing.clear();
                    self.written = 0;
                    return Err(failure);
                }
            }
        }
        self.written = 0;
        self.outgoing.clear();
        if self.outgoing.capacity() > KEPT_TASK_BUFFER {
            self.outgoing = Vec::new(); // a big message made it big
        }
        Ok(true)
    }

    /// Whether [`queue`](Self::queue)d bytes wait to be written.
    pub(crate) fn has_unwritten(&self) -> bool {
        self.written < self.outgoing.len()
    }

    /// Writes what waits, then tells the other end that nothing more will come: once it
    /// has read what was sent, its receive returns [`Error::Closed`], while this end can
    /// still receive (a half-close, [shutdown(2)]). A pool tells a worker so as soon as it
    /// has no more tasks for it, and the worker leaves right after its last answer.
    ///
    /// [shutdown(2)]: https://man7.org/linux/man-pages/man2/shutdown.2.html
    pub(crate) fn shut_writing(&mut self) -> Result<()> {
        if !self.writable {
            return Ok(());
        }
        self.flush()?;
        self.writable = false;
        shutdown(self.fd.as_raw_fd(), Shutdown::Write).map_err(peer_error)
    }

    /// Receives one value sent with [`send`](Self::send). Blocks until it arrives; if the
    /// other end is closed first, returns [`Error::Closed`]. Python: `conn.recv()`.
    ///
    /// A message that is not a `T` is an [`Error::Decode`], never a panic, and costs no
    /// more memory than its own length: see [`codec::decode`].
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
        self.recv_until(Until::Forever)
    }

    /// [`recv`](Self::recv), reading as `until` allows.
    pub(crate) fn recv_until<T: DeserializeOwned>(&mut self, until: Until<'_>) -> Result<T> {
        self.recv_seed_until(PhantomData::<T>, until)
    }

    /// [`recv_until`](Self::recv_until), decoding as `seed` says: for a value whose
    /// decoding the receiver bounds (see `codec::Append`).
    pub(crate) fn recv_seed_until<S, V>(&mut self, seed: S, until: Until<'_>) -> Result<V>
    where
        S: for<'de> DeserializeSeed<'de, Value = V>,
    {
        let len = self.recv_header(until)?;
        if self.end - self.start >= len {
            // The whole message is in the buffer already (the usual case for small ones):
            // decode it from there, with no copy.
            let frame = self.start..self.start + len;
            self.start += len;
            return codec::decode_seed(&self.buf[frame], seed);
        }
        if len > streamed::STREAMED_OVER {
            return self.recv_streamed(seed, len, until);
        }
        let mut body = Vec::new();
        self.recv_body(len, &mut body, until)?;
        codec::decode_seed(&body, seed)
    }

    /// The messages of type `T` that arrive, until the other end is closed: an iterator
    /// that ends at [`Error::Closed`]. Python's
    /// `while True: try: conn.recv() except EOFError: break`.
    ///
    /// A message that does not decode as a `T` is yielded as [`Error::Decode`], and the
    /// iterator goes on with the next one (the one refused was skipped whole). Any other
    /// error means that nothing more can be read from this end (a message over the limit,
    /// a stream cut in the middle of a message, the sending end of a one-way pipe): it is
    /// yielded once, and the iterator ends, as Python's loop ends at the exception.
    ///
    /// ```
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// for url in ["/", "/about.html"] {
    ///     a.send(url)?;
    /// }
    /// drop(a);
    /// let urls: Vec<String> = b.iter().collect::<Result<_, _>>()?;
    /// assert_eq!(urls, ["/", "/about.html"]);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn iter<T: DeserializeOwned>(&mut self) -> Messages<'_, T> {
        Messages {
            conn: self,
            message: PhantomData,
            ended: false,
        }
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
        self.check_writable()?;
        let header = self.header_for(bytes.len())?;
        // Header and body leave in one sendmsg: no copy, no extra system call.
        self.write_message(&mut [IoSlice::new(&header), IoSlice::new(bytes)], false)
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
        let len = self.recv_header(Until::Forever)?;
        self.recv_body(len, buf, Until::Forever)?;
        Ok(len)
    }

    /// Receives one message into `buf` (emptied first) and decodes a `T` that may borrow
    /// from it: its `&str` fields, and its `&[u8]` fields marked `serde_bytes`, point
    /// into `buf` instead of being copied out. With one buffer kept for many messages, a
    /// big message costs neither an allocation nor fresh memory, which the kernel must
    /// fill with zeros before the bytes are copied in: the typed form of
    /// [`recv_bytes_into`](Self::recv_bytes_into). The value borrows `buf` until it is
    /// dropped. A message that is not a `T` is an error, and the next message is read
    /// from its own beginning.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Page<'a> {
    ///     url: &'a str,
    ///     #[serde(with = "serde_bytes")]
    ///     body: &'a [u8],
    /// }
    ///
    /// let (mut a, mut b) = ipc::Pipe::new()?;
    /// a.send(&("/", serde_bytes::Bytes::new(b"<html>")))?;
    /// let mut buf = Vec::new();
    /// let page: Page = b.recv_borrowed(&mut buf)?;
    /// assert_eq!((page.url, page.body), ("/", &b"<html>"[..]));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn recv_borrowed<'b, T: Deserialize<'b>>(&mut self, buf: &'b mut Vec<u8>) -> Result<T> {
        let len = self.recv_bytes_into(buf)?;
        codec::decode(&buf[..len])
    }

    /// Reads the next frame's header and returns the body's length.
    ///
    /// A read asks the kernel for as much as the buffer holds, so that one read brings
    /// several small messages. An end that other processes may read too (sent to or from
    /// another process, or a copy in a forked child) reads the header alone, and then the
    /// body alone: what it read ahead would be lost to them. After a
    /// big one (at least [`READ_BUFFER`] bytes), the next
    /// message is likely big too, and the header is read alone: the body is then read
    /// straight into its own memory, in reads that end where it ends. Read ahead, its
    /// first 64 KiB would be copied once more, and the last read would stop a few bytes
    /// short of its end; on one core, such a stream of 64 KiB messages moves a third as
    /// fast (measured: 1.2 against 3.9 GiB/s).
    fn recv_header(&mut self, until: Until<'_>) -> Result<usize> {
        self.check(self.readable, "send")?;
        if let Some(why) = &self.unreadable {
            return Err(Error::Unreadable(why.clone()));
        }
        let shared = self.shared.load(Ordering::Relaxed) || self.generation != fork::generation();
        let read_ahead = if self.after_big || shared {
            HEADER_LEN
        } else {
            READ_BUFFER
        };
        if !self.fill(HEADER_LEN, read_ahead, until)? {
            return Err(Error::Closed);
        }
        let header: [u8; HEADER_LEN] = self.buf[self.start..self.start + HEADER_LEN]
            .try_into()
            .expect("four bytes");
        self.start += HEADER_LEN;
        let len = u32::from_be_bytes(header) as usize;
        self.after_big = len >= READ_BUFFER;
        if len > self.max_message {
            let refused = Error::TooLarge {
                len: len as u64,
                limit: self.max_message,
            };
            // Its body is still in the stream, and would be read as the next frame.
            self.unreadable = Some(format!("an earlier message was refused ({refused})"));
            return Err(refused);
        }
        Ok(len)
    }

    /// Reads a body of `len` bytes into `buf`, from the buffer first, then the kernel.
    ///
    /// Unless `buf` has room already, it grows as bytes arrive, never to more than twice
    /// what has arrived (or one read buffer): a header that claims 256 MiB and is followed
    /// by ten bytes costs ten bytes.
    fn recv_body(&mut self, len: usize, buf: &mut Vec<u8>, until: Until<'_>) -> Result<()> {
        buf.clear();
        let buffered = (self.end - self.start).min(len);
        buf.extend_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        while buf.len() < len {
            let missing = len - buf.len();
            if buf.capacity() == buf.len() {
                buf.reserve_exact(missing.min(buf.len().max(READ_BUFFER)));
            }
            let spare = buf.spare_capacity_mut();
            let room = spare.len().min(missing);
            let got = self.read_into(&mut spare[..room], until)?;
            if got == 0 {
                return Err(Error::Truncated {
                    expected: HEADER_LEN + len,
                    got: HEADER_LEN + buf.len(),
                });
            }
            // SAFETY: `read_into` initialised the first `got` bytes of the spare capacity.
            unsafe { buf.set_len(buf.len() + got) };
        }
        Ok(())
    }

    /// Whether something can be read: the beginning of a message at least (or the end of
    /// the stream), waiting at most `timeout`. Python: `conn.poll(timeout)`, which says the
    /// same. A `recv` after `true` waits for the rest of a message that is only begun: a
    /// long one still on its way, or one whose sender stopped (or was stopped) half-way.
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
        self.check(self.readable, "send")?;
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

    /// Refuses a direction this end does not have, and an end that stayed in the parent.
    fn check(&self, allowed: bool, other_way: &'static str) -> Result<()> {
        if self.mark.as_ref().is_some_and(|m| m.is_released()) {
            Err(Error::NotInherited)
        } else if allowed {
            Ok(())
        } else {
            Err(Error::WrongDirection(other_way))
        }
    }

    /// [`check`](Self::check) for a send, and [`Error::Unwritable`] once a send has stopped
    /// in the middle of a message.
    fn check_writable(&self) -> Result<()> {
        self.check(self.writable, "receive")?;
        match &self.unwritable {
            Some(why) => Err(Error::Unwritable(why.clone())),
            None => Ok(()),
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

    /// Sends every slice, in as many `sendmsg` calls as it takes (a big message fills the
    /// socket's buffer and waits for the reader). One slice goes with `send`, which does
    /// not copy a message header and a list of slices into the kernel first: a 64-byte
    /// round trip took about 0.5 µs less.
    ///
    /// `begun` says whether bytes of the message went already, and turns true as soon as
    /// some do: a failure after that leaves the message cut short in the stream, and the
    /// caller must cut the stream there ([`write_message`](Self::write_message) does).
    fn write_all(&mut self, mut slices: &mut [IoSlice<'_>], begun: &mut bool) -> Result<()> {
        let flags = MsgFlags::MSG_NOSIGNAL;
        while !slices.is_empty() {
            let sent = match &*slices {
                [one] => nix::sys::socket::send(self.fd.as_raw_fd(), one, flags),
                _ => nix::sys::socket::sendmsg::<()>(self.fd.as_raw_fd(), slices, &[], flags, None),
            };
            match sent {
                Ok(n) => {
                    IoSlice::advance_slices(&mut slices, n);
                    *begun = true;
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    // No room, in a socket someone made non-blocking: wait for room as a
                    // blocking write would.
                    let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLOUT)];
                    poll_until(&mut fds, None)?;
                }
                Err(e) => return Err(peer_error(e)),
            }
        }
        Ok(())
    }

    /// [`write_all`](Self::write_all) for messages (the rest of one if `begun`): a failure
    /// after some of their bytes went cuts the stream there (see
    /// [`cut_mid_message`](Self::cut_mid_message)). Of a batch, the failure may fall just
    /// between two messages, with none cut; the stream is cut all the same, as the rest of
    /// the batch is lost anyway. On success, this costs no system call more.
    fn write_message(&mut self, slices: &mut [IoSlice<'_>], mut begun: bool) -> Result<()> {
        let written = self.write_all(slices, &mut begun);
        if let Err(failure) = &written
            && begun
        {
            self.cut_mid_message(failure);
        }
        written
    }

    /// A send stopped in the middle of a message, for the reason `why`: the reader must see
    /// the stream end there, not read what a later send writes as the rest of the message
    /// (a message nobody sent). So the stream is shut for writing, and every later send is
    /// refused with the reason: the kernel's own refusal (`EPIPE`) would read as the other
    /// end gone. Nothing to do if the other end is gone indeed ([`Error::Closed`]): no one
    /// is left to mislead, and a later send says `Closed` too.
    fn cut_mid_message(&mut self, why: &Error) {
        if matches!(why, Error::Closed) {
            return;
        }
        let _ = shutdown(self.fd.as_raw_fd(), Shutdown::Write);
        self.unwritable = Some(format!(
            "an earlier send stopped in the middle of a message ({why})"
        ));
    }

    /// Reads what has arrived, without waiting, onto the end of the buffer (which grows
    /// as needed). `false` once nothing more can come: the other end's last byte was read,
    /// or the read failed (a write then says why).
    pub(crate) fn read_waiting(&mut self) -> bool {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else {
                let grown = (2 * self.buf.len()).max(FIRST_READ_BUFFER);
                self.buf.resize(grown, 0);
            }
        }
        let free = &mut self.buf[self.end..];
        // SAFETY: recv(2) writes at most `free.len()` bytes into `free`, which is valid for
        // writes of that many bytes, and returns how many it wrote, or -1.
        let got = unsafe {
            nix::libc::recv(
                self.fd.as_raw_fd(),
                free.as_mut_ptr().cast(),
                free.len(),
                nix::libc::MSG_DONTWAIT,
            )
        };
        match Errno::result(got) {
            Ok(0) => false,
            Ok(n) => {
                self.end += n as usize;
                true
            }
            Err(Errno::EINTR | Errno::EAGAIN) => true,
            Err(_) => false,
        }
    }

    /// Reads until at least `want` bytes are buffered, asking the kernel for no more than
    /// would make `most` (or `want`, if more). `Ok(false)`: the stream ended cleanly before
    /// the first byte; ending after some bytes is [`Error::Truncated`].
    fn fill(&mut self, want: usize, most: usize, until: Until<'_>) -> Result<bool> {
        if self.buf.is_empty() {
            self.buf = vec![0; FIRST_READ_BUFFER];
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
            if self.buf.len() > READ_BUFFER {
                // Grown by `read_waiting`: back to its usual size once emptied.
                self.buf.truncate(READ_BUFFER);
                self.buf.shrink_to_fit();
            }
        }
        while self.end - self.start < want {
            if self.buf.len() - self.start < want {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
                if self.buf.len() < want {
                    self.grow_read_buffer(want);
                }
            }
            let room = want.max(most) - (self.end - self.start);
            let to = self.buf.len().min(self.end + room);
            let (fd, free) = (self.fd.as_fd(), &mut self.buf[self.end..to]);
            // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and every byte of
            // `free` is initialised already, so nothing uninitialised can be read back.
            let free = unsafe { &mut *(free as *mut [u8] as *mut [MaybeUninit<u8>]) };
            match read(fd, free, until)? {
                0 if self.start == self.end => return Ok(false),
                0 => {
                    return Err(Error::Truncated {
                        expected: want,
                        got: self.end - self.start,
                    });
                }
                n => {
                    self.end += n;
                    if self.end == self.buf.len() && self.buf.len() < READ_BUFFER {
                        self.grow_read_buffer(0); // the next read may bring more at once
                    }
                }
            }
        }
        Ok(true)
    }

    /// Doubles the read buffer, or makes it `want` bytes long if that is more, up to
    /// [`READ_BUFFER`] (what `fill` wants is never more: a header, or up to a batch).
    fn grow_read_buffer(&mut self, want: usize) {
        let grown = (2 * self.buf.len()).max(want).min(READ_BUFFER);
        self.buf.resize(grown, 0);
    }

    /// One read into `dest`, for `recv_body`.
    fn read_into(&mut self, dest: &mut [MaybeUninit<u8>], until: Until<'_>) -> Result<usize> {
        let result = read(self.fd.as_fd(), dest, until);
        if result.is_err() {
            self.unreadable = Some("an earlier receive failed in the middle of a message".into());
        }
        result
    }

    /// Whether bytes read from the kernel wait in the buffer (a message, or part of one).
    pub(crate) fn has_buffered(&self) -> bool {
        self.start < self.end
    }

    /// Whether a receive needs no read: a whole message waits in the buffer, or a header
    /// that refuses one (longer than the limit: the receive fails at once).
    pub(crate) fn can_receive_at_once(&self) -> bool {
        let buffered = &self.buf[self.start..self.end];
        buffered.first_chunk::<HEADER_LEN>().is_some_and(|header| {
            let len = u32::from_be_bytes(*header) as usize;
            len <= buffered.len() - HEADER_LEN || len > self.max_message
        })
    }
}

/// Reads what is there (at least one byte, or 0 at the end of the stream) into `dest`,
/// waiting as `until` allows; a signal does not interrupt it.
fn read(fd: BorrowedFd<'_>, dest: &mut [MaybeUninit<u8>], until: Until<'_>) -> Result<usize> {
    let flags = match until {
        Until::Forever => 0,
        Until::WriterExits(_) => nix::libc::MSG_DONTWAIT,
    };
    loop {
        // SAFETY: recv(2) writes at most `dest.len()` bytes into `dest`, which is valid for
        // writes of that many bytes, and returns how many it wrote, or -1.
        let got =
            unsafe { nix::libc::recv(fd.as_raw_fd(), dest.as_mut_ptr().cast(), dest.len(), flags) };
        match Errno::result(got) {
            Ok(n) => return Ok(n as usize),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                // Nothing yet (a blocking read only says so if someone made the socket
                // non-blocking): wait for data, or for the writer's exit.
                let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
                if let Until::WriterExits(writer) = until {
                    fds.push(PollFd::new(writer, PollFlags::POLLIN));
                }
                poll_until(&mut fds, None)?;
                let data = fds[0].any().unwrap_or(false);
                if !data && fds.get(1).is_some_and(|f| f.any().unwrap_or(false)) {
                    return Err(Error::Closed); // the writer is gone, and nothing came
                }
            }
            Err(e) => return Err(peer_error(e)),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Its number may be reused by the next descriptor: forget the mark.
        if let Some(mark) = &self.mark {
            mark.remove();
        }
    }
}

/// A `Connection` can go to a process as it starts, in its arguments (see
/// [`Descriptor`]), as Python's can: the new process gets its own copy
/// of this end. Not with bytes received and not read yet, which it would not get, nor once
/// a receive or a send stopped in the middle of a message ([`Error::Unreadable`],
/// [`Error::Unwritable`]): the copy would read on from there as if at a message's start. From
/// then on, both copies read one message at a time, as Python's do: header, then body,
/// and not a byte further, so that processes that read in turn each get whole messages
/// (see [`Connection`]).
impl Serialize for Connection {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        if self.has_buffered() || !self.outgoing.is_empty() {
            return Err(S::Error::custom(
                "a connection with messages half read or not yet written cannot be given to \
                 another process",
            ));
        }
        // The other process's copy would start afresh, in the middle of a message: it
        // would read the rest of a refused or cut frame as messages nobody sent.
        if let Some(why) = self.unreadable.as_ref().or(self.unwritable.as_ref()) {
            return Err(S::Error::custom(format!(
                "a connection left in the middle of a message cannot be given to another \
                 process ({why})"
            )));
        }
        self.shared.store(true, Ordering::Relaxed);
        let end = Lent(self.fd.as_fd());
        (end, self.readable, self.writable, self.max_message as u64).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Connection {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Connection, D::Error> {
        let (fd, readable, writable, max_message) =
            <(Descriptor, bool, bool, u64)>::deserialize(deserializer)?;
        let mut conn = Connection::new(fd.into_owned(), readable, writable);
        conn.set_max_message_size(max_message.try_into().unwrap_or(usize::MAX));
        conn.shared = AtomicBool::new(true);
        Ok(conn)
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The messages arriving on a [`Connection`], until it is closed: see [`Connection::iter`].
#[derive(Debug)]
pub struct Messages<'a, T> {
    conn: &'a mut Connection,
    message: PhantomData<fn() -> T>,
    /// Set at the end of the stream, or after an error that leaves nothing to read.
    ended: bool,
}

impl<T: DeserializeOwned> Iterator for Messages<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.ended {
            return None;
        }
        match self.conn.recv() {
            Err(Error::Closed) => {
                self.ended = true;
                None
            }
            Err(e) => {
                // Every later receive would fail the same way: without an end here, a loop
                // that skips errors (`filter_map(Result::ok)`) would spin for ever.
                self.ended = !matches!(e, Error::Decode(_));
                Some(Err(e))
            }
            message => Some(message),
        }
    }
}

impl<T: DeserializeOwned> std::iter::FusedIterator for Messages<'_, T> {}

/// Runs `encode` on `outgoing`, and if it panics (a value's `Serialize` may, and the caller
/// may catch it), cuts `outgoing` back to `len` as the panic goes by: the half-encoded
/// message, and the placeholder header in front of it, must not go out with the next
/// send, which would write them ahead of its own message (a message nobody sent).
fn undone_on_panic<R>(
    outgoing: &mut Vec<u8>,
    len: usize,
    encode: impl FnOnce(&mut Vec<u8>) -> R,
) -> R {
    struct Undo<'a> {
        outgoing: &'a mut Vec<u8>,
        len: usize,
        done: bool,
    }
    impl Drop for Undo<'_> {
        fn drop(&mut self) {
            if !self.done {
                self.outgoing.truncate(self.len);
            }
        }
    }
    let mut undo = Undo {
        outgoing,
        len,
        done: false,
    };
    let encoded = encode(undo.outgoing);
    undo.done = true;
    encoded
}

/// A vanished peer shows up as one of several errors; they all mean [`Error::Closed`].
fn peer_error(errno: Errno) -> Error {
    match errno {
        Errno::EPIPE | Errno::ECONNRESET => Error::Closed,
        e => Error::from(io::Error::from(e)),
    }
}

/// Waits until some of `objects` are ready, at most `timeout` (`None`: no limit), and
/// returns their positions. A [`Connection`] is ready when something can be read from
/// it (the beginning of a message at least, or the end of the stream: see
/// [`Connection::poll`]); a process's [`Sentinel`](crate::Sentinel) once the process
/// has ended. Python: `multiprocessing.connection.wait`, which takes
/// connections and sentinels alike. See [poll(2)].
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
///
/// [poll(2)]: https://man7.org/linux/man-pages/man2/poll.2.html
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let fds = objects
        .iter()
        .map(|object| object.readable_fd())
        .collect::<Result<Vec<_>>>()?;
    // Ready now, whatever the kernel says: bytes already in a connection's buffer. Then
    // the kernel is still asked about every object, without waiting: Python's `wait`
    // returns every object that is ready, and a connection read ahead must not hide the
    // others (a caller that serves only what `wait` returns would serve it alone).
    let ready_now: Vec<bool> = objects.iter().map(|object| object.ready_now()).collect();
    if !ready_now.is_empty() && !ready_now.contains(&false) {
        return Ok((0..objects.len()).collect()); // all of them: no need to ask
    }
    let mut fds: Vec<PollFd> = fds
        .into_iter()
        .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
        .collect();
    let until = if ready_now.contains(&true) {
        Some(Instant::now()) // polled once, with no wait
    } else {
        deadline(timeout)
    };
    poll_until(&mut fds, until)?;
    Ok((0..fds.len())
        .filter(|&i| ready_now[i] || fds[i].any().unwrap_or(false))
        .collect())
}

/// What [`wait`] waits for: a [`Connection`], or a process's
/// [`Sentinel`](crate::Sentinel). (Sealed: only `ipc`'s types are.)
pub trait Waitable: sealed::Sealed {
    /// The descriptor that poll(2) reports readable when this is ready; an error for a
    /// connection that cannot be received from.
    #[doc(hidden)]
    fn readable_fd(&self) -> Result<BorrowedFd<'_>>;
    /// Whether this is ready without asking the kernel.
    #[doc(hidden)]
    fn ready_now(&self) -> bool;
}

pub(crate) mod sealed {
    /// Keeps [`Waitable`](super::Waitable) to `ipc`'s own types.
    pub trait Sealed {}
}

impl sealed::Sealed for Connection {}

impl Waitable for Connection {
    fn readable_fd(&self) -> Result<BorrowedFd<'_>> {
        self.check(self.readable, "send")?;
        Ok(self.fd.as_fd())
    }

    fn ready_now(&self) -> bool {
        self.has_buffered()
    }
}

#[cfg(test)]
mod tests {
    use super::{FIRST_READ_BUFFER, Pipe, READ_BUFFER};

    #[test]
    fn a_few_small_messages_use_one_page_of_read_buffer() {
        let (mut a, mut b) = Pipe::new().unwrap();
        for n in 0..3u64 {
            a.send(&n).unwrap();
            assert_eq!(b.recv::<u64>().unwrap(), n);
        }
        assert_eq!(b.buf.len(), FIRST_READ_BUFFER);
    }

    #[test]
    fn the_read_buffer_grows_for_what_comes_at_once_and_takes_values_longer_than_itself() {
        let (mut a, mut b) = Pipe::new().unwrap();
        // Many small messages written before the first read: each read fills the buffer.
        let many: Vec<String> = (0..6000).map(|n| format!("message {n}")).collect();
        for message in &many {
            a.send_later(message).unwrap();
        }
        a.flush().unwrap();
        for message in &many {
            assert_eq!(&b.recv::<String>().unwrap(), message);
        }
        assert_eq!(b.buf.len(), READ_BUFFER);
        // A value longer than the first buffer.
        let (mut a, mut b) = Pipe::new().unwrap();
        let long = "x".repeat(3 * FIRST_READ_BUFFER);
        a.send(&(1u8, long.clone())).unwrap();
        assert_eq!(b.recv::<(u8, String)>().unwrap(), (1, long));
    }
}
