//! A stream of signals at this process, for tests of waits that a signal must not cut short.

use std::time::Duration;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, getpid};

/// A child process that sends `SIGUSR1` to this one at a steady pace until dropped, with a
/// handler installed here that does nothing and does not restart system calls: every
/// blocking call of this process is interrupted (`EINTR`), often.
pub struct SignalStorm {
    child: Pid,
}

impl SignalStorm {
    /// Starts one that sends a signal every `every`.
    pub fn start(every: Duration) -> SignalStorm {
        extern "C" fn nothing(_: nix::libc::c_int) {}
        let action = SigAction::new(
            SigHandler::Handler(nothing),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handler does nothing at all, so it is safe whenever it runs.
        unsafe { sigaction(Signal::SIGUSR1, &action) }.expect("a handler for SIGUSR1");
        let target = getpid();
        // SAFETY: the child calls only `kill` and `nanosleep` (through `thread::sleep`),
        // which are async-signal-safe, so it needs no lock that another thread of this
        // process might have held at the fork; it never returns, and ends when it is killed.
        match unsafe { fork() }.expect("fork a signal storm") {
            ForkResult::Child => loop {
                let _ = kill(target, Signal::SIGUSR1);
                std::thread::sleep(every);
            },
            ForkResult::Parent { child } => SignalStorm { child },
        }
    }
}

impl Drop for SignalStorm {
    fn drop(&mut self) {
        let _ = kill(self.child, Signal::SIGKILL);
        let _ = waitpid(self.child, None);
    }
}
