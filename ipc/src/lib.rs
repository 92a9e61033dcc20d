//! Python's `multiprocessing`, in Rust idiom, on Unix `fork` and pipes.
//!
//! | Python | here |
//! |---|---|
//! | `Process(target=f, args=...)` | [`Process::new`] with a closure |
//! | `Pipe()` / `Pipe(duplex=False)` | [`Pipe::new`] / [`Pipe::one_way`] |
//! | `conn.send` / `recv` / `poll` | [`Connection::send`] / [`recv`](Connection::recv) / [`poll`](Connection::poll) |
//! | `Pool(n).map(f, items)` | [`Pool::new`]`(n)`[`.map(f, items)`](Pool::map) |
//! | `Queue()`, `put`, `get` | [`Queue::new`], [`put`](Queue::put), [`get`](Queue::get) |
//! | `EOFError` | [`Error::Closed`] |
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
//! Fork copies only the calling thread. Fork from a process with one thread (the chapters
//! do; this crate's fork tests run in single-threaded test binaries), or make sure the
//! child needs no lock another thread might hold.
#![warn(missing_docs)]

mod child;
pub mod codec;
pub mod connection;
mod deadline;
mod error;
mod fork;
mod mapping;
mod pool;
mod process;
mod queue;
pub mod shared_memory;
pub mod sharedctypes;
pub mod synchronize;

pub use connection::{Connection, Pipe};
pub use error::{Error, Result};
pub use fork::PANIC_EXIT_CODE;
pub use pool::Pool;
pub use process::{Process, describe_exitcode};
pub use queue::Queue;
pub use shared_memory::SharedMemory;
pub use sharedctypes::{Array, RawArray, RawValue, SharedAtomic, Value};
pub use synchronize::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, LockGuard, RLock, Semaphore,
};
