//! The one error type of the crate, so that callers can tell a closed peer (Python's
//! `EOFError`) from a broken message, a dead worker, or a fork that was refused.

use std::io;
use std::sync::Arc;

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
///
/// It can be cloned (an operating system's error is shared, in an [`Arc`]): a pool's
/// result asked for twice gives the same error twice.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The other end of the connection was closed (or its process died) before a message
    /// began, or the queue was closed. Python raises `EOFError` here.
    #[doc(alias = "EOFError")]
    #[error("the other end of the connection is closed (for a queue: the queue was closed)")]
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
    /// A refused incoming message stays in the pipe: the connection is
    /// [`Unreadable`](Self::Unreadable) from then on, as in Python.
    #[error("a message of {len} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The announced or attempted length.
        len: u64,
        /// The connection's limit, see [`Connection::set_max_message_size`](crate::Connection::set_max_message_size).
        limit: usize,
    },
    /// An earlier receive left the stream in the middle of a message (a message refused as
    /// too large): what follows would be read as a message when it is not one. Python:
    /// "the connection will no longer be readable".
    #[error("this connection can no longer be read: {0}")]
    Unreadable(String),
    /// An earlier send stopped in the middle of a message, after part of it had gone: a big
    /// value whose encoding failed (or panicked) half-way, or came out shorter than it was
    /// counted, or any message whose write failed half-way for a reason other than the
    /// other end being gone (that is [`Closed`](Self::Closed)): no memory for the socket,
    /// say. The stream was shut there, so that the reader sees it end instead of reading
    /// what follows as the rest of that message. Every send after it is refused with this;
    /// the other end reads [`Truncated`](Self::Truncated).
    #[error("this connection can no longer be written: {0}")]
    Unwritable(String),
    /// A value could not be turned into bytes.
    #[error("could not encode the message: {0}")]
    Encode(String),
    /// The bytes of a message are not a value of the expected type (corrupt, hostile or
    /// mismatched).
    #[error("could not decode the message: {0}")]
    Decode(String),
    /// The wrong end of a one-way pipe was used, e.g. `send` on the receiving end.
    #[error("this end of a one-way pipe can only {0}")]
    WrongDirection(&'static str),
    /// This end of a pipe stays with the process that called
    /// [`set_inheritable(false)`](crate::Connection::set_inheritable) on it: a child process
    /// reached its copy anyway (through a global, say), and the child has no such end.
    #[error(
        "this end of the pipe stays in the process that called set_inheritable(false) on it; \
         this child process has no copy (move the end into the child's closure to give it one)"
    )]
    NotInherited,
    /// Nothing arrived within the time given, e.g. to [`Queue::get_timeout`](crate::Queue::get_timeout).
    /// Python raises `queue.Empty` here.
    #[error("nothing arrived in time")]
    Timeout,
    /// `start` was called twice on a [`Process`](crate::Process), or again after a start
    /// whose child began at once and then had to be killed (no pidfd could be opened for
    /// it: the error of that start says so), taking the target with it.
    #[error("the process was already started (or its target went with a child that was killed)")]
    AlreadyStarted,
    /// `join` or a signal was asked of a [`Process`](crate::Process) that was never started.
    #[error("the process was not started")]
    NotStarted,
    /// A [`Process`](crate::Process) was joined or signalled from a process that did not
    /// start it (a copy made by `fork`). Python: "can only join a child process".
    #[error("process {pid} was started by another process: only its parent can join or signal it")]
    NotOurChild {
        /// The child's process id.
        pid: i32,
    },
    /// The child's exit status was collected by someone else, so it is lost (with
    /// `SIGCHLD` ignored the kernel discards it; a `SIGCHLD` handler may have called
    /// `waitpid`; the forkserver that started it died or was stopped before it could say,
    /// and the child's adopter reaped it).
    #[error(
        "the exit status of process {pid} was collected elsewhere and is lost \
         (is SIGCHLD ignored, does a SIGCHLD handler call waitpid, or did the forkserver \
         that started it stop?)"
    )]
    ExitStatusLost {
        /// The child's process id.
        pid: i32,
    },
    /// Forking was refused because other threads run in this process. `fork` copies only
    /// the calling thread: a lock that another thread held at that moment (stdout's, the
    /// allocator's) would stay locked forever in the child.
    #[error(
        "refusing to fork: this process runs {threads} threads, and a forked child gets only \
         the calling one, so it could wait forever for a lock another thread held; start \
         processes before starting any thread (or after joining them all)"
    )]
    ThreadsRunning {
        /// Threads in this process, the caller's included.
        threads: usize,
    },
    /// A function given to a start method other than fork cannot be called in another
    /// process: it lies outside the program's own code (in a shared library), or the other
    /// process runs another program file (rebuilt since this one started).
    #[error(
        "the function cannot be called in another process: it is not in this program's own \
         code (a shared library?), or the other process runs another program file"
    )]
    NotInProgram,
    /// A process started with the spawn method cannot run its function: its program does
    /// not call [`spawn::init`](crate::spawn::init) first thing in `main`, so it ran the
    /// program instead (or exited before it answered).
    #[error(
        "the spawned process did not run its function: call ipc::spawn::init() first thing \
         in main, so that a spawned copy of the program runs the function instead of the \
         program"
    )]
    SpawnNotInitialized,
    /// Starting a copy of the program for the spawn method failed.
    #[error("could not start a copy of the program (/proc/self/exe): {0}")]
    Spawn(Arc<io::Error>),
    /// The forkserver could not be started: it must be forked while this process has one
    /// thread, so that it copies no lock another thread holds.
    #[error(
        "the forkserver is not running, and this process runs {threads} threads, so it \
         cannot start now: call ipc::forkserver::start() first thing in main, before any \
         thread starts"
    )]
    ForkserverNotStarted {
        /// Threads in this process, the caller's included.
        threads: usize,
    },
    /// The forkserver went away (killed) while it was starting a process, or its
    /// replacement did too. A server found gone before a request is replaced at once,
    /// as Python's is, if this process can still fork (no other thread runs: otherwise
    /// [`Error::ForkserverNotStarted`]).
    #[error("the forkserver has gone; ipc::forkserver::start() starts another")]
    ForkserverGone,
    /// The forkserver took a request and did not answer it within `waited`: it is stopped
    /// (`SIGSTOP`), or the machine is that overloaded. The process was not started; if the
    /// server goes on later, the child it forks for this request finds nobody at the other
    /// end of its connection, and leaves without running anything.
    #[error(
        "the forkserver did not answer within {} s: is it stopped? (its pid: \
         ipc::forkserver::pid())",
        waited.as_secs()
    )]
    ForkserverNotAnswering {
        /// How long this process waited.
        waited: std::time::Duration,
    },
    /// A child started with the forkserver or spawn method could not run what it was asked
    /// to: the reason it gave.
    #[error("the child process refused: {0}")]
    Refused(String),
    /// A task was handed to a [`WorkerPool`](crate::WorkerPool) after
    /// [`close`](crate::WorkerPool::close). Python raises `ValueError("Pool not running")`.
    #[error("the pool is closed: it takes no new tasks")]
    PoolClosed,
    /// [`WorkerPool::join`](crate::WorkerPool::join) was called before
    /// [`close`](crate::WorkerPool::close) or [`terminate`](crate::WorkerPool::terminate),
    /// as Python forbids: it would wait forever.
    #[error("join a pool after closing or terminating it, or the wait would have no end")]
    PoolRunning,
    /// The [`WorkerPool`](crate::WorkerPool) was terminated: it takes no task, and the
    /// results of those it had not finished are lost. Python: "Pool not running".
    #[error("the pool was terminated: it runs no task, and unfinished tasks' results are lost")]
    PoolTerminated,
    /// `fork` itself failed.
    #[error("could not fork a new process: {}", fork_failure(.0))]
    Fork(Arc<io::Error>),
    /// The function given to a [`Pool`](crate::Pool) panicked on the item at `index`.
    #[error("task {index} panicked: {message}")]
    TaskPanicked {
        /// Position of the item in the input.
        index: usize,
        /// The panic message, and where it happened.
        message: String,
    },
    /// The result of the item at `index` is longer than the [`Pool`](crate::Pool)'s
    /// message limit (see [`Pool::with_max_message_size`](crate::Pool::with_max_message_size)).
    #[error("the result of task {index} is {len} bytes, over the limit of {limit} bytes")]
    ResultTooLarge {
        /// Position of the item in the input.
        index: usize,
        /// The length of the message that would have carried it: the result's encoding,
        /// and 3 bytes that frame it.
        len: u64,
        /// The pool's limit.
        limit: usize,
    },
    /// A pool's worker process ([`Pool`](crate::Pool) or [`WorkerPool`](crate::WorkerPool)) died
    /// (exit, signal) while it held the item at `index`. A `Pool` worker that sent an
    /// answer the parent could not read is ended too, and this is the error of each item
    /// it held: the item may have run, but never runs a second time in another worker.
    #[error("worker process {pid} died ({}) while it held task {index}", describe_death(*.exitcode))]
    WorkerDied {
        /// Position of the item in the input. A worker that held a chunk of several items
        /// says which it had not answered, not which it was running when it died: `map`
        /// names the first of those (a [`WorkerPool`](crate::WorkerPool) chunk is answered
        /// whole, so its first item), `imap` gives this error for each of them.
        index: usize,
        /// The worker's process id.
        pid: i32,
        /// The worker's exit code, in [`Process::exitcode`](crate::Process::exitcode)'s
        /// meaning; `None` if its exit status was lost (see [`Error::ExitStatusLost`]; a
        /// forkserver killed before it could send it loses it too).
        exitcode: Option<i32>,
    },
    /// This thread already holds the lock it asked for (a [`Lock`](crate::Lock), or the
    /// lock of a `Value` or `Array`): waiting would be waiting for itself, for ever, which
    /// is what Python's `Lock` does. Drop the guard first, or use an [`RLock`](crate::RLock).
    #[error("this thread already holds the lock: drop its guard before acquiring it again")]
    AlreadyHeld,
    /// A process died (or panicked) while it held the lock of a [`Value`](crate::Value)
    /// or [`Array`](crate::Array), which may be half-written, and no holder has repaired
    /// it since. Take it with `lock()`, which says so with `owner_died()`, repair it, and
    /// drop the guard.
    #[error(
        "a process died while it held this value's lock, and the value may be half-written: \
         repair it through lock() (its guard's owner_died() is true) before reading it"
    )]
    OwnerDied,
    /// A [`Barrier`](crate::Barrier) was broken (a wait timed out, or `abort` was called)
    /// or reset while waiting. Python: `threading.BrokenBarrierError`.
    #[doc(alias = "BrokenBarrierError")]
    #[error("the barrier is broken (a wait timed out, or it was aborted or reset)")]
    BrokenBarrier,
    /// A [`Semaphore`](crate::Semaphore) was released past its limit: for a
    /// [`BoundedSemaphore`](crate::BoundedSemaphore), the value it was made with. Python
    /// raises `ValueError: semaphore or lock released too many times`.
    #[error("the semaphore was released too many times: it cannot count above {limit}")]
    SemaphoreFull {
        /// The most permits it can hold.
        limit: u32,
    },
    /// An operating-system error (pipe, read, write, waitid, poll...).
    #[error(transparent)]
    Io(Arc<io::Error>),
}

impl Error {
    /// The error of each item a pool worker held when it sent an answer that cannot be
    /// read (`why`): not a death, though the worker is ended, since it may run on.
    pub(crate) fn unreadable_answer(pid: i32, why: impl std::fmt::Display) -> Error {
        Error::Decode(format!(
            "worker {pid} sent an answer that cannot be read ({why}): it was ended, and the \
             results of the items it held are lost"
        ))
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

impl From<nix::errno::Errno> for Error {
    fn from(errno: nix::errno::Errno) -> Self {
        io::Error::from(errno).into()
    }
}

/// How a pool's worker ended: its exit code in words, or why it is not known.
fn describe_death(exitcode: Option<i32>) -> String {
    match exitcode {
        Some(code) => describe_exitcode(code),
        None => "its exit status is lost: SIGCHLD ignored, or its forkserver gone".to_string(),
    }
}

/// The reason `fork` failed, with the usual cause of `EAGAIN` spelled out.
fn fork_failure(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(nix::libc::EAGAIN) => format!(
            "{e}: the limit on processes is reached (the user's RLIMIT_NPROC, `ulimit -u`, \
             or the cgroup's pids.max)"
        ),
        Some(nix::libc::ENOMEM) => format!("{e}: not enough memory for a copy of this process"),
        _ => e.to_string(),
    }
}

/// `Result` with [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
