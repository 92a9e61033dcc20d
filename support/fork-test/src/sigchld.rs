//! `SIGCHLD` ignored, for tests of what happens when the kernel reaps children itself.

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// `SIGCHLD` ignored until dropped, then its action as before. While it is ignored, the
/// kernel reaps this process's children as they exit, and their exit statuses are lost.
pub struct SigchldIgnored {
    before: SigAction,
}

impl SigchldIgnored {
    /// Ignores `SIGCHLD`.
    pub fn new() -> SigchldIgnored {
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: ignoring a signal installs no handler: no code of ours runs in a signal.
        let before = unsafe { sigaction(Signal::SIGCHLD, &ignore) }.expect("sigaction");
        SigchldIgnored { before }
    }
}

impl Default for SigchldIgnored {
    fn default() -> Self {
        SigchldIgnored::new()
    }
}

impl Drop for SigchldIgnored {
    fn drop(&mut self) {
        // SAFETY: the action put back is the one this process had before `new`.
        unsafe { sigaction(Signal::SIGCHLD, &self.before) }.expect("sigaction");
    }
}
