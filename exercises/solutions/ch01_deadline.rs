//! Reference solution of `ch01_deadline`: stop a child that takes too long.

use std::time::Duration;

use ipc::Process;
use loader::load_url;

use crate::types::Ending;

// ANCHOR: load_with_deadline
/// Loads `url` in a child (exit code 0 if the page loaded, 1 if not) and waits for it at
/// most `deadline`; a child still running then is terminated.
pub fn load_with_deadline(url: &str, deadline: Duration) -> ipc::Result<Ending> {
    let url = url.to_string();
    let mut child = Process::with_exit_code(move || match load_url(&url) {
        Ok(_) => 0,
        Err(_) => 1,
    });
    child.start()?;
    // Python: `p.join(timeout)`, then `p.exitcode is None` means still running.
    if let Some(exitcode) = child.join_timeout(deadline)? {
        return Ok(Ending::Finished { exitcode });
    }
    child.terminate()?;
    // Join after terminate: it reaps the child, and tells how it ended (-15, SIGTERM).
    let exitcode = child.join()?;
    Ok(Ending::TimedOut { exitcode })
}
// ANCHOR_END: load_with_deadline
