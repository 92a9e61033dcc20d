//! # Exercise `ch01_deadline`: stop a child that takes too long
//!
//! A page can take its time, and `join` waits as long as it takes. Python's
//! `p.join(timeout)` waits at most `timeout`; then `p.terminate()` stops the child. Write
//! [`load_with_deadline`] the same way:
//!
//! - start a child that loads `url` with `loader::load_url` and exits with 0 if the page
//!   loaded, 1 if not;
//! - wait for it, but at most `deadline`;
//! - if it ended by then, return `Ending::Finished` with its exit code;
//! - if not, stop it and return `Ending::TimedOut` with the exit code it ended with then.
//!
//! Return as soon as the child has ended: the deadline is a limit, not a delay. And
//! leave no process behind: a terminated child must still be joined.
//!
//! The checks use the demo site's slow page, which answers only after the delay it is
//! asked for.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use std::time::Duration;

use crate::types::Ending;

/// Loads `url` in a child (exit code 0 if the page loaded, 1 if not) and waits for it at
/// most `deadline`; a child still running then is terminated.
pub fn load_with_deadline(url: &str, deadline: Duration) -> ipc::Result<Ending> {
    // TODO 1: start a child that loads `url` and exits with 0 or 1 (`Process::with_exit_code`).
    // TODO 2: wait for it at most `deadline`; if it ended, return `Ending::Finished`.
    // TODO 3: otherwise terminate it, join it, and return `Ending::TimedOut`.
    todo!("load {url} in a child and give it {deadline:?}")
}
