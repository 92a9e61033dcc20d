//! `Queue`: many producers and many consumers in different processes. Python:
//! `multiprocessing.Queue`.
//!
//! A queue is one pipe that every process writes messages into and reads them from, plus
//! two locks: one for the writers, so that a message longer than the pipe's buffer is never
//! interleaved with another, and one for the readers, so that each message is read whole by
//! exactly one of them. Each lock is itself a pipe holding one byte, the token: taking the
//! lock reads the byte, giving it back writes it. That works across `fork` with no shared
//! memory, and `poll` gives the waits a timeout.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connection::{Connection, Pipe, poll_timeout};
use crate::error::{Error, Result};

/// A queue of messages shared by processes. Python: `multiprocessing.Queue()`.
///
/// Make it before starting the processes that use it, and give each one its own handle
/// with [`try_clone`](Self::try_clone).
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
    rx: Connection,
    tx: Connection,
    readers: TokenLock,
    writers: TokenLock,
}

impl Queue {
    /// A new, empty queue.
    ///
    /// ```
    /// let queue = ipc::Queue::new()?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn new() -> Result<Queue> {
        let (mut rx, tx) = Pipe::one_way()?;
        rx.set_exact_reads();
        Ok(Queue {
            rx,
            tx,
            readers: TokenLock::new()?,
            writers: TokenLock::new()?,
        })
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
            rx: self.rx.try_clone()?,
            tx: self.tx.try_clone()?,
            readers: self.readers.try_clone()?,
            writers: self.writers.try_clone()?,
        })
    }

    /// Adds a message. Blocks while the pipe is full, until a consumer makes room.
    /// Python: `queue.put(obj)`.
    ///
    /// ```
    /// let mut queue = ipc::Queue::new()?;
    /// queue.put("http://127.0.0.1/")?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let _held = self.writers.take(None)?;
        self.tx.send(value)
    }

    /// Takes the next message, waiting as long as it takes. After [`close`](Self::close),
    /// and once the messages put before it are taken, returns [`Error::Closed`].
    /// Python: `queue.get()`.
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
        self.get_until(Some(Instant::now() + timeout))
    }

    /// Closes the queue for reading: every consumer, once it has taken the messages put
    /// before, gets [`Error::Closed`] instead of waiting forever. Call it when all producers
    /// are done (join them first): a message put after it may never be read.
    ///
    /// ```
    /// let mut queue = ipc::Queue::new()?;
    /// queue.put(&7u8)?;
    /// queue.close()?;
    /// assert_eq!(queue.get::<u8>()?, 7);
    /// assert!(matches!(queue.get::<u8>(), Err(ipc::Error::Closed)));
    /// assert!(matches!(queue.get::<u8>(), Err(ipc::Error::Closed))); // for every consumer
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn close(&mut self) -> Result<()> {
        let _held = self.writers.take(None)?;
        self.tx.send_end_marker()
    }

    fn get_until<T: DeserializeOwned>(&mut self, deadline: Option<Instant>) -> Result<T> {
        let _held = self.readers.take(deadline)?;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.rx.poll(left)? {
                return Err(Error::Timeout);
            }
        }
        match self.rx.recv() {
            // The end marker was for every consumer: put it back for the next one.
            Err(Error::Closed) => {
                let _held = self.writers.take(None)?;
                self.tx.send_end_marker()?;
                Err(Error::Closed)
            }
            other => other,
        }
    }
}

/// A lock shared by processes: a pipe that holds one byte when the lock is free.
#[derive(Debug)]
struct TokenLock {
    rx: File,
    tx: File,
}

/// Gives the token back when dropped.
struct Held<'a>(&'a TokenLock);

impl TokenLock {
    fn new() -> Result<TokenLock> {
        // Non-blocking: several processes may see the byte and race for it; the losers
        // get `WouldBlock` and wait again, with their timeout intact.
        let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        let lock = TokenLock {
            rx: rx.into(),
            tx: tx.into(),
        };
        (&lock.tx).write_all(&[1])?;
        Ok(lock)
    }

    fn try_clone(&self) -> Result<TokenLock> {
        Ok(TokenLock {
            rx: self.rx.try_clone()?,
            tx: self.tx.try_clone()?,
        })
    }

    /// Takes the token, waiting until `deadline` at most ([`Error::Timeout`] then).
    fn take(&self, deadline: Option<Instant>) -> Result<Held<'_>> {
        loop {
            match (&self.rx).read(&mut [0]) {
                Ok(1) => return Ok(Held(self)),
                Ok(_) => return Err(Error::Closed),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Err(Error::Timeout);
            }
            let mut fds = [PollFd::new(self.rx.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, poll_timeout(left)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // A pipe with room for 64 KiB always takes one byte: this write cannot block or fail
        // while the lock's read end is open, and this handle holds it.
        let _ = (&self.0.tx).write_all(&[1]);
    }
}
