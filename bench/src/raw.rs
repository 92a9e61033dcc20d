//! The baseline: `fork`, `_exit` and `waitpid` straight from `nix`, with nothing in between.
//! The raw contenders use this, so that they do the least work the job needs.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::harness::Result;

/// A forked child; dropping it unjoined kills and reaps it, so an error never leaves a
/// zombie behind.
#[derive(Debug)]
pub struct RawChild(Option<Pid>);

impl RawChild {
    /// Forks a child that runs `body` and leaves with `_exit(0)` (`_exit(1)` if it panics).
    pub fn spawn(body: impl FnOnce()) -> Result<RawChild> {
        // Text still in the buffer would otherwise be printed by both processes.
        io::stdout().flush()?;
        // SAFETY: the bench never starts a thread, so no lock can be held at the fork; the
        // child runs `body` and `_exit`s, never returning into the caller.
        match unsafe { fork() }? {
            ForkResult::Child => {
                let code = i32::from(panic::catch_unwind(AssertUnwindSafe(body)).is_err());
                // SAFETY: ends the child at once; no destructor of the parent's runs twice.
                unsafe { nix::libc::_exit(code) }
            }
            ForkResult::Parent { child } => Ok(RawChild(Some(child))),
        }
    }

    /// Waits for the child; an exit other than `_exit(0)` is an error.
    pub fn join(mut self) -> Result {
        let pid = self.0.take().expect("joined once");
        match waitpid(pid, None)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            status => Err(format!("raw child ended with {status:?}").into()),
        }
    }
}

impl Drop for RawChild {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}
