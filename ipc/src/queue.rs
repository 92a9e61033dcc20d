//! `Queue`: many producers and many consumers in different processes. Python:
//! `multiprocessing.Queue`.
//!
//! Python's queue is a pipe with two locks: one so that writers do not interleave their
//! messages, one so that each message goes to one reader. Its locks are semaphores that
//! nobody releases when their holder dies: a process killed in the middle of `put` or
//! `get` leaves the queue wedged for everyone, or leaves half a message in the pipe.
//!
//! This queue needs no lock at all. It is a socketpair of type `SOCK_SEQPACKET`: every
//! `sendmsg` is one *record*, which the kernel queues whole or not at all, and every
//! `recvmsg` takes one whole record, for exactly one reader. So a process killed at any
//! moment holds nothing: its message was queued whole, or not at all. A message too big
//! for one record (the socket's buffer bounds a record) goes into a *sealed memfd*, a file
//! in memory that nobody can change any more, and the record carries its descriptor
//! (`SCM_RIGHTS`): still one record, still whole or nothing.
//!
//! Closing is `shutdown(2)` of the writing side: the kernel then refuses every `put`, in
//! every process, and every `get` finds the end of the stream once the records before it
//! are taken.

use std::fs::File;
use std::io::{IoSlice, Write};
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::poll::{PollFd, PollFlags};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, Shutdown, SockFlag, SockType, sendmsg, shutdown,
    socketpair,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::connection::DEFAULT_MAX_MESSAGE;
use crate::deadline::{deadline, poll_until};
use crate::descriptor::{Descriptor, Lent};
use crate::error::{Error, Result};
use crate::rights;

/// The first byte of a record: the message follows in the record.
const INLINE: u8 = 0;
/// The first byte of a record: the message is in the memfd that travels with the record,
/// and its length follows (8 bytes, little-endian).
const IN_MEMFD: u8 = 1;
/// The longest message that travels in the record itself. A record must fit the socket's
/// send buffer (about 200 KiB by default); longer ones go through a memfd.
const INLINE_MAX: usize = 32 * 1024;
/// The seals a memfd must carry: nobody can write to it, shrink it or grow it any more.
const SEALED: SealFlag = SealFlag::F_SEAL_WRITE
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW);

/// A queue of messages shared by processes. Python: `multiprocessing.Queue()`.
///
/// Make it before starting the processes that use it, and give each one its own handle
/// with [`try_clone`](Self::try_clone). A process killed at any moment (in the middle of
/// `put` or `get` included) never wedges the queue for the others, and a message is
/// received whole or not at all: see the [module](self) for how.
///
/// ```
/// use ipc::{Process, Queue};
///
/// let mut queue = Queue::new()?;
/// let mut producer_queue = queue.try_clone()?;
/// let mut producer = Process::new(move || {
///     for url in ["/", "/about.html"] {
///         producer_queue.put(url).unwrap();
///     }
/// });
/// producer.start()?;
/// assert_eq!(queue.get::<String>()?, "/");
/// assert_eq!(queue.get::<String>()?, "/about.html");
/// producer.join()?;
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Debug)]
pub struct Queue {
    /// Records are sent here...
    tx: OwnedFd,
    /// ...and received here.
    rx: OwnedFd,
}

impl Queue {
    /// A new, empty queue.
    ///
    /// ```
    /// let queue = ipc::Queue::new()?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn new() -> Result<Queue> {
        let (tx, rx) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok(Queue { tx, rx })
    }

    /// Another handle on the same queue, for another process (or the same one).
    ///
    /// ```
    /// let mut a = ipc::Queue::new()?;
    /// let mut b = a.try_clone()?;
    /// a.put(&1u8)?;
    /// assert_eq!(b.get::<u8>()?, 1);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Queue> {
        Ok(Queue {
            tx: self.tx.try_clone()?,
            rx: self.rx.try_clone()?,
        })
    }

    /// Adds a message. Blocks while the queue is full (its socket's buffer, a few hundred
    /// small messages), until a consumer makes room. After [`close`](Self::close), by any
    /// process, returns [`Error::Closed`]. Python: `queue.put(obj)`.
    ///
    /// A message over 32 KiB travels as a memfd's descriptor, and the kernel lets a user
    /// have only so many descriptors on their way through sockets at once (as many as
    /// the limit of open files, `ulimit -n`; root is not limited): past that, this is an
    /// [`Error::Io`] (`ETOOMANYREFS`, "too many references") until consumers take some.
    ///
    /// ```
    /// let mut queue = ipc::Queue::new()?;
    /// queue.put("http://127.0.0.1/")?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let mut record = vec![INLINE];
        codec::encode_into(value, &mut record)?;
        let len = record.len() - 1;
        if len > DEFAULT_MAX_MESSAGE {
            return Err(Error::TooLarge {
                len: len as u64,
                limit: DEFAULT_MAX_MESSAGE,
            });
        }
        if len <= INLINE_MAX {
            return self.send_record(&record, None);
        }
        let memfd = sealed_memfd(&record[1..])?;
        let mut head = [IN_MEMFD; 9];
        head[1..].copy_from_slice(&(len as u64).to_le_bytes());
        self.send_record(&head, Some(memfd.as_fd()))
    }

    /// Takes the next message, waiting as long as it takes. After [`close`](Self::close),
    /// and once the messages put before it are taken, returns [`Error::Closed`].
    /// Python: `queue.get()`.
    ///
    /// A process at its limit of open files cannot take a message over 32 KiB, which
    /// comes as a memfd's descriptor: the kernel drops the descriptor, the message is lost
    /// for every consumer, and this returns an [`Error::Io`] that says so.
    ///
    /// ```
    /// let mut queue = ipc::Queue::new()?;
    /// queue.put(&(1u8, "one"))?;
    /// assert_eq!(queue.get::<(u8, String)>()?, (1, "one".to_string()));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&mut self) -> Result<T> {
        self.get_until(None)
    }

    /// Like [`get`](Self::get), but waits at most `timeout`, then returns
    /// [`Error::Timeout`]. Python: `queue.get(timeout=…)`, which raises `queue.Empty`.
    /// Signals that arrive meanwhile do not stretch the wait.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut queue = ipc::Queue::new()?;
    /// let nothing = queue.get_timeout::<u8>(Duration::from_millis(10));
    /// assert!(matches!(nothing, Err(ipc::Error::Timeout)));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn get_timeout<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<T> {
        match deadline(Some(timeout)) {
            Some(deadline) => self.get_until(Some(deadline)),
            None => self.get(), // a timeout past the end of time is no timeout
        }
    }

    /// The messages of type `T` that this handle takes, until the queue is closed and empty:
    /// an iterator that ends at [`Error::Closed`] and yields every other error. A consumer's
    /// loop; Python's `for item in iter(queue.get, None)`, with the close instead of a `None`.
    ///
    /// ```
    /// let mut queue = ipc::Queue::new()?;
    /// for url in ["/", "/about.html"] {
    ///     queue.put(url)?;
    /// }
    /// queue.close()?;
    /// let urls: Vec<String> = queue.iter().collect::<Result<_, _>>()?;
    /// assert_eq!(urls, ["/", "/about.html"]);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn iter<T: DeserializeOwned>(&mut self) -> Messages<'_, T> {
        Messages {
            queue: self,
            message: PhantomData,
        }
    }

    /// Closes the queue, for every process: every later [`put`](Self::put) is an
    /// [`Error::Closed`], and every consumer, once it has taken the messages put before,
    /// gets [`Error::Closed`] instead of waiting forever. Call it when all producers are
    /// done. (Python's `close` only stops the calling process from putting.)
    ///
    /// ```
    /// let mut queue = ipc::Queue::new()?;
    /// queue.put(&7u8)?;
    /// queue.close()?;
    /// assert!(queue.put(&8u8).is_err()); // refused, not lost
    /// assert_eq!(queue.get::<u8>()?, 7);
    /// assert!(matches!(queue.get::<u8>(), Err(ipc::Error::Closed)));
    /// assert!(matches!(queue.get::<u8>(), Err(ipc::Error::Closed))); // for every consumer
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn close(&mut self) -> Result<()> {
        shutdown(self.tx.as_raw_fd(), Shutdown::Write)?;
        Ok(())
    }

    /// Sends one record: whole, or not at all.
    fn send_record(&self, record: &[u8], fd: Option<BorrowedFd<'_>>) -> Result<()> {
        let fds: Vec<RawFd> = fd.iter().map(AsRawFd::as_raw_fd).collect();
        let rights = [ControlMessage::ScmRights(&fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
        loop {
            let iov = [IoSlice::new(record)];
            match sendmsg::<()>(
                self.tx.as_raw_fd(),
                &iov,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => {} // interrupted before anything was queued
                Err(Errno::EPIPE) => return Err(Error::Closed),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives one record, waiting until `deadline` at most, and decodes its message.
    fn get_until<T: DeserializeOwned>(&mut self, deadline: Option<Instant>) -> Result<T> {
        let mut buf = vec![0u8; 1 + INLINE_MAX];
        loop {
            if deadline.is_some() {
                let mut fds = [PollFd::new(self.rx.as_fd(), PollFlags::POLLIN)];
                if !poll_until(&mut fds, deadline)? {
                    return Err(Error::Timeout);
                }
            }
            // None: another consumer took the record that woke us, or a signal came: again.
            if let Some(record) = self.receive_record(&mut buf, deadline.is_some())? {
                return record.decode(&buf);
            }
        }
    }

    /// One `recvmsg` into `buf`: what arrived, with the descriptor that came with it;
    /// `None` if nothing did (interrupted by a signal, or nothing there when `nonblocking`).
    fn receive_record(&self, buf: &mut [u8], nonblocking: bool) -> Result<Option<Record>> {
        let flags = if nonblocking {
            MsgFlags::MSG_DONTWAIT
        } else {
            MsgFlags::empty()
        };
        // Room for the one descriptor a record carries: more come from no `put`, and the
        // kernel installs only those that fit (each owned in `received.fds`).
        let received = match rights::receive(self.rx.as_fd(), buf, 1, flags) {
            Ok(received) => received,
            Err(Errno::EAGAIN | Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // Nothing read is the end of the stream, if the queue was closed; otherwise it was
        // an empty record, which no `put` sends, and must not pass for the end.
        let ended = received.len == 0 && received.fds.is_empty() && self.is_closed()?;
        Ok(Some(Record {
            len: received.len,
            cut: received.flags.contains(MsgFlags::MSG_TRUNC),
            rights_cut: received.cut(),
            ended,
            fds: received.fds,
        }))
    }

    /// Whether the queue was closed: the sending side shut down, which the receiving
    /// socket reads as its peer's hang-up.
    fn is_closed(&self) -> Result<bool> {
        // nix has no POLLRDHUP (Linux's own flag), so poll(2) is called directly.
        let mut fd = nix::libc::pollfd {
            fd: self.rx.as_raw_fd(),
            events: nix::libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for a descriptor this queue owns; no wait (timeout 0).
        Errno::result(unsafe { nix::libc::poll(&mut fd, 1, 0) })?;
        Ok(fd.revents & nix::libc::POLLRDHUP != 0)
    }
}

/// A `Queue` can go to a process as it starts, in its arguments (see
/// [`Descriptor`]), as Python's can: the new process gets a handle of
/// its own on the same queue.
impl Serialize for Queue {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        (Lent(self.tx.as_fd()), Lent(self.rx.as_fd())).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Queue {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Queue, D::Error> {
        let (tx, rx) = <(Descriptor, Descriptor)>::deserialize(deserializer)?;
        Ok(Queue {
            tx: tx.into_owned(),
            rx: rx.into_owned(),
        })
    }
}

/// The messages a [`Queue`] handle takes, until the queue is closed: see [`Queue::iter`].
#[derive(Debug)]
pub struct Messages<'a, T> {
    queue: &'a mut Queue,
    message: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Iterator for Messages<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        match self.queue.get() {
            Err(Error::Closed) => None,
            other => Some(other),
        }
    }
}

/// What one `recvmsg` brought.
struct Record {
    len: usize,
    /// The record did not fit: it is not one of this queue's.
    cut: bool,
    /// Not every descriptor sent came: more than a record carries (a forged one), or this
    /// process is at its limit of open files (its message is then lost).
    rights_cut: bool,
    /// Nothing came because the queue was closed and is empty.
    ended: bool,
    fds: Vec<OwnedFd>,
}

impl Record {
    /// The message in this record, whose bytes are `buf[..len]`. A record that no `put`
    /// could have made is a [`Error::Decode`]: reported, never delivered as data.
    fn decode<T: DeserializeOwned>(mut self, buf: &[u8]) -> Result<T> {
        let bytes = &buf[..self.len];
        if self.cut {
            return Err(foreign("longer than any record of this queue"));
        }
        if self.rights_cut && !self.fds.is_empty() {
            return Err(foreign("more descriptors than a put sends"));
        }
        if self.rights_cut {
            return Err(Error::from(std::io::Error::other(
                "a message was lost: it came in a memfd (as every message over 32 KiB does), \
                 and this process could not take the memfd's descriptor; is it at its limit \
                 of open files (ulimit -n)?",
            )));
        }
        let memfd = self.fds.pop();
        match (bytes.split_first(), memfd, self.fds.is_empty()) {
            // The end of the stream: the queue was closed, and is empty.
            (None, None, _) if self.ended => Err(Error::Closed),
            (None, None, _) => Err(foreign("an empty record")),
            (Some((&INLINE, message)), None, _) => codec::decode(message),
            (Some((&IN_MEMFD, len)), Some(memfd), true) => match <[u8; 8]>::try_from(len) {
                Ok(len) => codec::decode(&read_sealed(memfd, u64::from_le_bytes(len))?),
                Err(_) => Err(foreign("a memfd record of the wrong length")),
            },
            _ => Err(foreign(
                "an unknown kind, or descriptors that do not belong",
            )),
        }
    }
}

/// A memfd holding `bytes`, sealed so that nobody can change it any more.
fn sealed_memfd(bytes: &[u8]) -> Result<OwnedFd> {
    let memfd = memfd_create(
        c"ipc-queue-message",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )?;
    let mut file = File::from(memfd);
    file.write_all(bytes)?;
    fcntl(&file, FcntlArg::F_ADD_SEALS(SEALED | SealFlag::F_SEAL_SEAL))?;
    Ok(file.into())
}

/// The `len` bytes of a memfd that came with a record, if it is sealed and holds exactly
/// that many (at most [`DEFAULT_MAX_MESSAGE`]).
fn read_sealed(memfd: OwnedFd, len: u64) -> Result<Vec<u8>> {
    let seals = SealFlag::from_bits_truncate(fcntl(&memfd, FcntlArg::F_GET_SEALS)?);
    if !seals.contains(SEALED) {
        return Err(foreign("its memfd is not sealed"));
    }
    let stat = nix::sys::stat::fstat(&memfd)?;
    let size = stat.st_size as u64;
    if size != len || len > DEFAULT_MAX_MESSAGE as u64 {
        return Err(foreign(&format!("a memfd of {size} bytes for {len}")));
    }
    // `put` writes every byte, and memory is taken for each page written (`st_blocks`
    // counts it, in 512-byte units). A memfd only made long costs its sender nothing, and
    // would cost this process all of its length.
    if (stat.st_blocks as u64).saturating_mul(512) < size {
        return Err(foreign("a memfd that nobody wrote"));
    }
    // The sender's file offset travelled with the descriptor: read from the start.
    let mut bytes = vec![0; len as usize];
    File::from(memfd).read_exact_at(&mut bytes, 0)?;
    Ok(bytes)
}

/// The error for a record that no `put` could have made: reported, never delivered as data.
fn foreign(why: &str) -> Error {
    Error::Decode(format!("a record not made by put: {why}"))
}

#[cfg(test)]
mod tests {
    use nix::fcntl::OFlag;

    use super::*;

    /// A record that no `put` made, with `copies` copies of one descriptor: every copy that
    /// reaches the consumer must be closed, whatever the record is refused for.
    fn forged_record_leaves_no_copy(copies: usize) {
        let mut queue = Queue::new().unwrap();
        let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_NONBLOCK).unwrap();
        let fds = vec![write_end.as_raw_fd(); copies];
        let iov = [IoSlice::new(&[IN_MEMFD, 0, 0, 0, 0, 0, 0, 0, 0])];
        let rights = [ControlMessage::ScmRights(&fds)];
        sendmsg::<()>(queue.tx.as_raw_fd(), &iov, &rights, MsgFlags::empty(), None).unwrap();
        drop(write_end);
        let refused = queue.get::<u8>().unwrap_err().to_string();
        assert!(refused.contains("not made by put"), "{refused}");
        // With no copy of the write end left open, the pipe reads as ended; a copy left in
        // this process would make the read say "nothing yet" (EAGAIN) instead.
        assert_eq!(nix::unistd::read(&read_end, &mut [0; 1]), Ok(0));
    }

    #[test]
    fn a_record_with_two_descriptors_leaves_none_open() {
        forged_record_leaves_no_copy(2);
    }

    #[test]
    fn a_record_with_more_descriptors_than_fit_leaves_none_open() {
        forged_record_leaves_no_copy(5);
    }

    /// A sealed memfd of 100 MiB that nobody wrote costs its sender nothing: it must not
    /// cost the reader 100 MiB either. No `put` sends one.
    #[test]
    fn a_memfd_nobody_wrote_is_not_read() {
        let mut queue = Queue::new().unwrap();
        let len: u64 = 100 << 20;
        let memfd = memfd_create(c"forged", MFdFlags::MFD_ALLOW_SEALING).unwrap();
        nix::unistd::ftruncate(&memfd, len as i64).unwrap();
        fcntl(&memfd, FcntlArg::F_ADD_SEALS(SEALED)).unwrap();
        let mut record = vec![IN_MEMFD];
        record.extend_from_slice(&len.to_le_bytes());
        let fds = [memfd.as_raw_fd()];
        let rights = [ControlMessage::ScmRights(&fds)];
        let iov = [IoSlice::new(&record)];
        sendmsg::<()>(queue.tx.as_raw_fd(), &iov, &rights, MsgFlags::empty(), None).unwrap();
        let refused = queue.get::<Vec<u8>>().unwrap_err().to_string();
        assert!(refused.contains("nobody wrote"), "{refused}");
    }

    /// An empty record is not the end of the queue, which only `close` makes: no `put`
    /// sends one, and the messages after it still come.
    #[test]
    fn an_empty_record_is_not_the_end_of_the_queue() {
        let mut queue = Queue::new().unwrap();
        let iov = [IoSlice::new(&[])];
        sendmsg::<()>(queue.tx.as_raw_fd(), &iov, &[], MsgFlags::empty(), None).unwrap();
        queue.put(&5u8).unwrap();
        let refused = queue.get::<u8>().unwrap_err().to_string();
        assert!(refused.contains("not made by put"), "{refused}");
        assert_eq!(queue.get::<u8>().unwrap(), 5);
        queue.close().unwrap();
        let end = queue.get::<u8>();
        assert!(matches!(end, Err(Error::Closed)), "{end:?}");
    }
}
