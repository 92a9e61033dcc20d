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
mod pool;
mod process;
mod queue;

pub use connection::{Connection, Pipe};
pub use error::{Error, Result};
pub use fork::PANIC_EXIT_CODE;
pub use pool::Pool;
pub use process::{Process, describe_exitcode};
pub use queue::Queue;
