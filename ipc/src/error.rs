//! The one error type of the crate, so that callers can tell a closed peer (Python's
//! `EOFError`) from a broken message or a dead worker.

use std::io;

use crate::process::describe_exitcode;

/// Everything that can go wrong in `ipc`.
///
/// ```
/// use ipc::{Error, Pipe};
///
/// let (mut a, b) = Pipe::new()?;
/// drop(b); // the other end is gone...
/// assert!(matches!(a.recv::<u32>(), Err(Error::Closed))); // ...so recv says so at once
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The other end of the connection was closed (or its process died) before a message
    /// began. Python raises `EOFError` here.
    #[error("the other end of the connection is closed")]
    Closed,
    /// The other end went away in the middle of a message.
    #[error("the connection closed in the middle of a message ({got} of {expected} bytes arrived)")]
    Truncated {
        /// Bytes the frame announced (header included).
        expected: usize,
        /// Bytes that arrived before the end.
        got: usize,
    },
    /// A message is longer than the connection's limit; refused before anything is allocated.
    /// Its bytes are still in the pipe, so the connection cannot be trusted afterwards.
    #[error("a message of {len} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The announced or attempted length.
        len: u64,
        /// The connection's limit, see [`Connection::set_max_message_size`](crate::Connection::set_max_message_size).
        limit: usize,
    },
    /// A value could not be turned into bytes.
    #[error("could not encode the message: {0}")]
    Encode(String),
    /// The bytes of a message are not a value of the expected type (corrupt or mismatched).
    #[error("could not decode the message: {0}")]
    Decode(String),
    /// The wrong end of a one-way pipe was used, e.g. `send` on the receiving end.
    #[error("this end of a one-way pipe can only {0}")]
    WrongDirection(&'static str),
    /// Nothing arrived within the time given, e.g. to [`Queue::get_timeout`](crate::Queue::get_timeout).
    /// Python raises `queue.Empty` here.
    #[error("nothing arrived in time")]
    Timeout,
    /// `start` was called twice on a [`Process`](crate::Process).
    #[error("the process was already started")]
    AlreadyStarted,
    /// `join` or a signal was asked of a [`Process`](crate::Process) that was never started.
    #[error("the process was not started")]
    NotStarted,
    /// The function given to a [`Pool`](crate::Pool) panicked on the item at `index`.
    #[error("task {index} panicked: {message}")]
    TaskPanicked {
        /// Position of the item in the input.
        index: usize,
        /// The panic message.
        message: String,
    },
    /// A [`Pool`](crate::Pool) worker process died (exit, signal) while it held the item at `index`.
    #[error("worker process {pid} died ({}) while it held task {index}", describe_exitcode(*.exitcode))]
    WorkerDied {
        /// Position of the item in the input.
        index: usize,
        /// The worker's process id.
        pid: i32,
        /// The worker's exit code, in [`Process::exitcode`](crate::Process::exitcode)'s meaning.
        exitcode: i32,
    },
    /// An operating-system error (fork, pipe, read, write, waitpid, kill...).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<nix::errno::Errno> for Error {
    fn from(errno: nix::errno::Errno) -> Self {
        Error::Io(errno.into())
    }
}

/// `Result` with [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
