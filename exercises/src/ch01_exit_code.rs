//! # Exercise `ch01_exit_code`: say how the child ended
//!
//! In chapter 1 a child has one way to tell its parent how things went: its exit code,
//! which `join` hands to the parent. Write both sides.
//!
//! 1. [`load_exit_code`] runs in the child. It loads the page with `loader::load_url` and
//!    returns the exit code that says how it went:
//!
//!    | outcome                         | exit code |
//!    |---------------------------------|-----------|
//!    | the page loaded                 | 0         |
//!    | `Err(LoadError::Malformed)`     | 2         |
//!    | `Err(LoadError::Unreachable)`   | 3         |
//!    | `Err(LoadError::Timeout)`       | 4         |
//!    | `Err(LoadError::Status)`        | 5         |
//!    | `Err(LoadError::NotUtf8)`       | 6         |
//!    | any other `Err` (not HTTP, TLS…) | 7         |
//!
//! 2. [`describe_child`] runs in the parent. It starts the process it is given, waits for
//!    it to end, and returns one sentence: the child's pid, then what
//!    `ipc::describe_exitcode` says of its exit code. For example
//!    `process 4242 ended: exit code 3`, or `process 4242 ended: killed by SIGKILL`.
//!
//! The checks give `describe_child` processes that return an exit code, panic, kill
//! themselves, or run your `load_exit_code` on pages of the demo site.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use ipc::Process;

/// The child's work: load `url`, and return the exit code of the table above.
pub fn load_exit_code(url: &str) -> i32 {
    // TODO: call `loader::load_url(url)` and `match` on the result: `Ok(_)` gives 0, and
    // each `Err(LoadError::...)` its own code from the table above.
    todo!("load {url} and choose the exit code")
}

/// Starts `process`, waits for it, and says how it ended:
/// `process PID ended: DESCRIPTION`.
pub fn describe_child(process: Process) -> ipc::Result<String> {
    // TODO: start the process (the parameter must be `mut process` for that), note its
    // pid, join it, and build the sentence with `ipc::describe_exitcode`.
    drop(process);
    todo!("start the process, join it and describe how it ended")
}
