//! A lifeline: how a process that is not this one's child by `fork` (a spawned copy of the
//! program, a process of the forkserver) dies with this process all the same.
//!
//! `PR_SET_PDEATHSIG`, which a forked child uses, does not fit them. It fires when the
//! *thread* that started the child ends, and a program with threads may start one from a
//! short-lived thread; and a forkserver's process is the server's child, not the program's,
//! while it must die with the program and may outlive the server.
//!
//! A lifeline is a socketpair: this process keeps one end, the child gets the other. The
//! child asks the kernel for a `SIGKILL` when its end reports a hang-up (`O_ASYNC` with
//! `F_SETSIG`), which happens when this process's end is closed: when the process ends,
//! however it ends, or drops the child.
//!
//! The child's end is close-on-exec, so that the programs the child starts do not inherit
//! it. The price: a child that replaces itself with another program (`exec`) lets go of
//! its lifeline, and from then on no longer dies with this process.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use nix::libc;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::unistd::getpid;

use crate::error::Result;
use crate::fork::Mark;

/// `fcntl(2)`'s command to choose the signal `O_ASYNC` sends (Linux's `F_SETSIG`, which the
/// `libc` crate does not name for this target).
const F_SETSIG: libc::c_int = 10;

/// This process's end of a child's lifeline, kept by the child's
/// [`Child`](crate::child::Child): while it is open, the child lives. Marked so that this
/// process's forked children let go of it.
#[derive(Debug)]
pub(crate) struct Lifeline {
    _end: UnixStream,
    mark: Arc<Mark>,
}

impl Drop for Lifeline {
    fn drop(&mut self) {
        self.mark.remove();
    }
}

/// A new lifeline: this process's end, and the end for the child.
pub(crate) fn pair() -> Result<(Lifeline, OwnedFd)> {
    let (ours, theirs) = UnixStream::pair()?;
    let lifeline = Lifeline {
        mark: Mark::new(ours.as_fd()),
        _end: ours,
    };
    Ok((lifeline, theirs.into()))
}

/// Run by the child: asks the kernel to kill this process when the other end of `lifeline`
/// is closed; fails if it is closed already.
pub(crate) fn hold_on_to(lifeline: &OwnedFd) -> std::io::Result<()> {
    let fd = lifeline.as_raw_fd();
    // SAFETY: fcntl(2) on a descriptor this process owns; F_SETOWN and F_SETSIG take plain
    // integers, F_GETFL/F_SETFL the file's status flags.
    let set = unsafe {
        libc::fcntl(fd, libc::F_SETOWN, getpid().as_raw()) == 0
            && libc::fcntl(fd, F_SETSIG, libc::SIGKILL) == 0
            && libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_ASYNC,
            ) == 0
    };
    if !set {
        return Err(std::io::Error::last_os_error());
    }
    // A hang-up before O_ASYNC was set sent no signal: look for one now.
    let mut fds = [PollFd::new(lifeline.as_fd(), PollFlags::POLLIN)];
    nix::poll::poll(&mut fds, PollTimeout::ZERO)?;
    match fds[0].revents() {
        Some(events) if !events.is_empty() => Err(std::io::Error::other("the parent has gone")),
        _ => Ok(()),
    }
}
