//! Python's `multiprocessing`, in Rust idiom, on Unix `fork` and sockets.
//!
//! | Python | here |
//! |---|---|
//! | `Process(target=f, args=...)` | [`Process::new`] with a closure |
//! | `p.start()`, `p.join()`, `p.join(timeout)` | [`start`](Process::start), [`join`](Process::join), [`join_timeout`](Process::join_timeout) |
//! | `p.exitcode`, `p.terminate()`, `p.kill()` | [`exitcode`](Process::exitcode), [`terminate`](Process::terminate), [`kill`](Process::kill) |
//! | `Pipe()` / `Pipe(duplex=False)` | [`Pipe::new`] / [`Pipe::one_way`] |
//! | `conn.send` / `recv` / `poll` | [`Connection::send`] / [`recv`](Connection::recv) / [`poll`](Connection::poll) |
//! | `conn.send_bytes` / `recv_bytes` | [`send_bytes`](Connection::send_bytes) / [`recv_bytes`](Connection::recv_bytes) |
//! | `multiprocessing.connection.wait` | [`connection::wait`] |
//! | `Pool(n).map(f, items)` | [`Pool::new`]`(n)`[`.map(f, items)`](Pool::map) |
//! | `pool.imap`, `pool.imap_unordered` | [`Pool::imap`], [`Pool::imap_unordered`] |
//! | `Queue()`, `put`, `get`, `get(timeout=)` | [`Queue::new`], [`put`](Queue::put), [`get`](Queue::get), [`get_timeout`](Queue::get_timeout) |
//! | `get_context("fork" \| "forkserver" \| "spawn")` | [`get_context`]`(`[`StartMethod`]`)` |
//! | `ctx.Process(target=f, args=(a,))` | [`Context::process`]`(f, a)` |
//! | `ctx.Pool(n, initializer, initargs, maxtasksperchild)` | [`Context::pool`]`(n)` → [`WorkerPool`] |
//! | `pool.apply`, `apply_async`, `map_async`, `starmap` | [`WorkerPool::apply`], [`apply_async`](WorkerPool::apply_async), [`map_async`](WorkerPool::map_async), [`starmap`](WorkerPool::starmap) |
//! | `if __name__ == "__main__":` (for spawn) | [`spawn::init`] first in `main` |
//! | `EOFError` | [`Error::Closed`] |
//! | `queue.Empty` | [`Error::Timeout`] |
//! | `Value('q', 0)`, `Array('d', n)` | [`Value::new`]`(0u64)`, [`Array::new`]`(n)`: see [`sharedctypes`] |
//! | `RawValue`, `RawArray` | [`RawValue`], [`RawArray`] |
//! | (none) | [`SharedAtomic`]: an atomic in shared memory |
//! | `Lock()`, `RLock()`, `Semaphore(n)`, `BoundedSemaphore(n)` | [`Lock`], [`RLock`], [`Semaphore`], [`BoundedSemaphore`]: see [`synchronize`] |
//! | `Event()`, `Condition()`, `Barrier(n)` | [`Event`], [`Condition`], [`Barrier`] |
//! | `shared_memory.SharedMemory(name, create, size)` | [`SharedMemory`] |
//! | a `Lock` whose holder was killed: locked for ever | [`LockGuard::owner_died`]: the next holder is told |
//!
//! ```
//! use ipc::{Pipe, Process};
//!
//! let (mut parent_conn, mut child_conn) = Pipe::new()?;
//! let mut p = Process::new(move || child_conn.send(&"hello from the child").unwrap());
//! p.start()?;
//! assert_eq!(parent_conn.recv::<String>()?, "hello from the child");
//! assert_eq!(p.join()?, 0);
//! # Ok::<(), ipc::Error>(())
//! ```
//!
//! # Where it differs from Python, on purpose
//!
//! - **A closure, not a pickled function.** A child is forked with the closure already in
//!   memory: what it captures is what the child gets. A `Pool` forks its workers per call,
//!   for the same reason.
//! - **Fork refuses while other threads run** ([`Error::ThreadsRunning`]): a forked child has
//!   only the calling thread, and would wait forever for a lock another thread held. Python
//!   forks anyway (3.12 with a `DeprecationWarning`, hidden by default). The [forkserver]
//!   and [spawn] methods work from any process.
//! - **Targets of forkserver and spawn are plain functions of this program**, sent by their
//!   place in it (see `ipc/src/call.rs`), with arguments that serde can encode: Python
//!   pickles them by name. Pipe ends and queues go as descriptors in a process's arguments
//!   or a pool's initializer's, as in Python; a pool task's arguments cannot hold them
//!   (Python refuses a queue there, and sends a pipe end through a thread of its own).
//! - **No process outlives its owner.** Dropping a running [`Process`] kills and reaps it,
//!   and every child dies with its parent (`PR_SET_PDEATHSIG`), or with the process that
//!   asked the forkserver or spawn for it (a lifeline), so no zombie and no orphan is left,
//!   even when the parent is killed. One exception: a process of the forkserver or spawn
//!   that replaces itself with another program (`exec`) lets go of its lifeline (it is
//!   close-on-exec, so that the programs it runs do not get it), and may outlive the
//!   program from then on; a child of `Process` or `Pool` keeps `PR_SET_PDEATHSIG`
//!   across `exec`.
//! - **A dead worker is an error, not a hang.** A `Pool` worker that panics, exits or is
//!   killed turns into an error for its task ([`Error::TaskPanicked`],
//!   [`Error::WorkerDied`]); Python's pool waits forever.
//! - **A killed process never wedges a [`Queue`]**, whose messages arrive whole or not at
//!   all; Python's queue can stay locked for good.
//! - **Messages are typed and checked.** Both ends name the type (serde); a corrupt,
//!   oversized or hostile message is an error, never a panic or an abort. Memory is taken
//!   as a message's bytes arrive, so a length that lies costs nothing; a message that
//!   really is bigger than the memory left ends the process, as any Rust allocation that
//!   fails does ([`Connection::set_max_message_size`] bounds what a peer may send).
//! - **A panicking child exits with [`PANIC_EXIT_CODE`]** (101, Rust's), where Python's
//!   uncaught exception gives 1.
#![warn(missing_docs)]

mod call;
mod child;
pub mod codec;
pub mod connection;
mod context;
mod deadline;
mod descriptor;
mod error;
mod fork;
pub mod forkserver;
mod heap;
mod lifeline;
mod mapping;
mod panics;
mod pool;
mod process;
pub mod queue;
mod remote;
mod rights;
pub mod shared_memory;
pub mod sharedctypes;
pub mod spawn;
pub mod synchronize;
pub mod worker_pool;

pub use connection::{Connection, Pipe};
pub use context::{Context, StartMethod, get_context};
pub use descriptor::Descriptor;
pub use error::{Error, Result};
pub use fork::PANIC_EXIT_CODE;
pub use pool::Pool;
pub use process::{Process, Sentinel, describe_exitcode};
pub use queue::Queue;
pub use shared_memory::SharedMemory;
pub use sharedctypes::{Array, RawArray, RawValue, SharedAtomic, Value};
pub use synchronize::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, LockGuard, RLock, Semaphore,
};
pub use worker_pool::WorkerPool;
