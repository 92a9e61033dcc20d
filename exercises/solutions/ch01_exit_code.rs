//! Reference solution of `ch01_exit_code`: say how the child ended.

use ipc::{Process, describe_exitcode};
use loader::{LoadError, load_url};

// ANCHOR: load_exit_code
/// The child's work: load `url`, and tell the parent how it went with the exit code alone.
pub fn load_exit_code(url: &str) -> i32 {
    match load_url(url) {
        Ok(_) => 0,
        Err(LoadError::Malformed { .. }) => 2,
        Err(LoadError::Unreachable { .. }) => 3,
        Err(LoadError::Timeout { .. }) => 4,
        Err(LoadError::Status { .. }) => 5,
        Err(LoadError::NotUtf8 { .. }) => 6,
        // `LoadError` is `#[non_exhaustive]`: the loader may learn new kinds of failure.
        Err(_) => 7,
    }
}
// ANCHOR_END: load_exit_code

// ANCHOR: describe_child
/// Starts `process`, waits for it, and says how it ended.
pub fn describe_child(mut process: Process) -> ipc::Result<String> {
    process.start()?;
    // Read the pid now: it names the child even after it is gone.
    let pid = process.pid().expect("a started process has a pid");
    let exitcode = process.join()?;
    Ok(format!(
        "process {pid} ended: {}",
        describe_exitcode(exitcode)
    ))
}
// ANCHOR_END: describe_child
