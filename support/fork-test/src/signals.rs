//! Signal actions set for a test, and put back as they were when it ends: what happens
//! when the kernel reaps children itself (`SIGCHLD` ignored), or when a ^C comes
//! (`SIGINT`'s default action, whatever the test was started with: a shell starts
//! background jobs with `SIGINT` ignored).

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// `signal`'s action while it lives, and the one before once dropped.
struct ActionWhile {
    signal: Signal,
    before: SigAction,
}

impl ActionWhile {
    /// `handler` is the default action, or ignored: never a function of ours.
    fn set(signal: Signal, handler: SigHandler) -> ActionWhile {
        assert!(
            matches!(handler, SigHandler::SigDfl | SigHandler::SigIgn),
            "ActionWhile sets the default action or ignores, and installs no handler"
        );
        let action = SigAction::new(handler, SaFlags::empty(), SigSet::empty());
        // SAFETY: the default action and "ignore" (checked above) install no handler: no
        // code of ours runs in a signal.
        let before = unsafe { sigaction(signal, &action) }.expect("sigaction");
        ActionWhile { signal, before }
    }
}

impl Drop for ActionWhile {
    fn drop(&mut self) {
        // SAFETY: the action put back is the one this process had before `set`.
        unsafe { sigaction(self.signal, &self.before) }.expect("sigaction");
    }
}

/// `SIGCHLD` ignored until dropped, then its action as before. While it is ignored, the
/// kernel reaps this process's children as they exit, and their exit statuses are lost.
pub struct SigchldIgnored {
    _ignored: ActionWhile,
}

impl SigchldIgnored {
    /// Ignores `SIGCHLD`.
    pub fn new() -> SigchldIgnored {
        SigchldIgnored {
            _ignored: ActionWhile::set(Signal::SIGCHLD, SigHandler::SigIgn),
        }
    }
}

impl Default for SigchldIgnored {
    fn default() -> Self {
        SigchldIgnored::new()
    }
}

/// `SIGINT`'s default action (the process dies of it) until dropped, then its action as
/// before, for tests of what a ^C does.
pub struct SigintDefault {
    _default: ActionWhile,
}

impl SigintDefault {
    /// Gives `SIGINT` its default action.
    pub fn new() -> SigintDefault {
        SigintDefault {
            _default: ActionWhile::set(Signal::SIGINT, SigHandler::SigDfl),
        }
    }
}

impl Default for SigintDefault {
    fn default() -> Self {
        SigintDefault::new()
    }
}
