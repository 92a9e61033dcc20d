//! `Child`: a child process, named by a pidfd and reaped exactly once.
//! [`Process`](crate::Process) and the pools' workers are built on it.
//!
//! A pid is only a number, and the kernel hands it out again once the process is reaped:
//! by `waitpid` here, or by the kernel itself when `SIGCHLD` is ignored. A signal sent to
//! a stale pid hits whichever process has it now. A *pidfd* (`pidfd_open(2)`, Linux 5.3)
//! names one process for good: signals go through it (`pidfd_send_signal(2)`), waits go
//! through it (`waitid(P_PIDFD)`), and `poll` on it says when the process has exited, with
//! a timeout and no sleeping loop.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::Signal;
use nix::sys::socket::MsgFlags;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{Pid, getpid};

use crate::deadline::{deadline, poll_until};
use crate::error::{Error, Result};

/// A process started by this one, until it has been reaped.
#[derive(Debug)]
pub(crate) struct Child {
    pid: Pid,
    pidfd: OwnedFd,
    /// The process that started it: a copy of this value in any other process (made by a
    /// later fork) must neither wait for the child nor signal it.
    parent: Pid,
    state: State,
    reaper: Reaper,
    /// Whatever must live as long as the child (a spawned child's lifeline).
    _keep: Option<Box<dyn std::fmt::Debug + Send>>,
}

/// Who reaps the child, and so learns its exit code.
#[derive(Debug)]
enum Reaper {
    /// This process, its parent: `waitid` on the pidfd.
    Parent,
    /// The forkserver, its parent: it sends the exit code over `status` once it has
    /// reaped the child (and closes it if it dies first). `server` is the server's pidfd.
    Forkserver {
        status: OwnedFd,
        server: Arc<OwnedFd>,
    },
    /// Nobody here: the forkserver died first, and the child, which runs on, was adopted by
    /// the nearest subreaper (see `PR_SET_CHILD_SUBREAPER`), or by init. Its exit code is
    /// lost, unless this process is that subreaper.
    Adopter,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Running,
    /// Reaped, with its exit code in [`Process::exitcode`](crate::Process::exitcode)'s meaning.
    Exited(i32),
    /// Reaped by someone else: the exit code is lost, and the pid may be reused.
    Lost,
}

impl Child {
    /// Takes charge of `pid`, a child just forked and not reaped: its pid cannot have been
    /// reused (an exited child stays a zombie until reaped, or waits for its parent where
    /// it would not), so the pidfd names it and no other process. `parent` is this
    /// process's pid (the caller has it already: one system call less on the way to the
    /// child's start).
    pub(crate) fn adopt(pid: Pid, parent: Pid) -> Result<Child> {
        match pidfd_open(pid) {
            Ok(pidfd) => Ok(Child {
                pid,
                pidfd,
                parent,
                state: State::Running,
                reaper: Reaper::Parent,
                _keep: None,
            }),
            Err(e) => {
                // No pidfd (a kernel older than 5.3, or no descriptor left): end the child,
                // which nothing could watch (see `fork` for what it may have run).
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(pid, None);
                Err(io::Error::new(e.kind(), format!("pidfd_open: {e}")).into())
            }
        }
    }

    /// A child of the forkserver: its pidfd (opened by the server, which reaps the child,
    /// so the pid cannot have been reused), the socket on which its exit code comes, and
    /// the server's own pidfd (see [`reap`](Self::reap): a server that dies hands the
    /// child over to its adopter only a moment after the socket closes).
    pub(crate) fn served(pid: Pid, pidfd: OwnedFd, status: OwnedFd, server: Arc<OwnedFd>) -> Child {
        Child {
            pid,
            pidfd,
            parent: getpid(),
            state: State::Running,
            reaper: Reaper::Forkserver { status, server },
            _keep: None,
        }
    }

    /// Keeps `value` as long as the child runs (dropped when the child is).
    pub(crate) fn keep(mut self, value: impl std::fmt::Debug + Send + 'static) -> Child {
        self._keep = Some(Box::new(value));
        self
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The pidfd: readable once the child has ended, for good, whoever reaps it (to `poll`
    /// beside other descriptors); the forkserver hands it on to the process that asked for
    /// the child.
    pub(crate) fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Blocks until the child exits; reaps it.
    pub(crate) fn wait(&mut self) -> Result<i32> {
        loop {
            if let Some(code) = self.reap(WaitPidFlag::empty())? {
                return Ok(code);
            }
        }
    }

    /// Ends a pool's worker: waits up to `grace` for it to exit, kills it if it has not, and
    /// reaps it. Its exit code, or `None` if its status was collected elsewhere
    /// ([`Error::ExitStatusLost`]) or a forkserver does not send it (stopped, say): the
    /// worker is gone either way, which is what a pool needs to know, and its answers
    /// stand. Bounded: `grace`, then [`SERVER_REPORTS_WITHIN`] for a forkserver's child.
    pub(crate) fn end_within(&mut self, grace: Duration) -> Result<Option<i32>> {
        let ended = match self.wait_timeout(grace) {
            Ok(Some(code)) => Ok(code),
            Ok(None) => self
                .signal(Signal::SIGKILL)
                .and_then(|()| self.wait_killed()),
            Err(e) => Err(e),
        };
        match ended {
            Ok(code) => Ok(Some(code)),
            Err(Error::ExitStatusLost { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reaps the child, which was sent `SIGKILL`: at once if this process or an adopter
    /// reaps it; a forkserver's child is waited for [`SERVER_REPORTS_WITHIN`], and then
    /// given up ([`Error::ExitStatusLost`]): the server that should report it does not run.
    fn wait_killed(&mut self) -> Result<i32> {
        if let Reaper::Parent | Reaper::Adopter = self.reaper {
            return self.wait();
        }
        match self.wait_timeout(SERVER_REPORTS_WITHIN)? {
            Some(code) => Ok(code),
            None => {
                self.state = State::Lost;
                Err(Error::ExitStatusLost { pid: self.pid() })
            }
        }
    }

    /// Reaps the child if it has exited, without blocking (a forkserver child that has
    /// ended waits for the server to send its code, see [`SERVER_REPORTS_WITHIN`]).
    pub(crate) fn try_wait(&mut self) -> Result<Option<i32>> {
        self.reap(WaitPidFlag::WNOHANG)
    }

    /// Whether the child has ended, reaped or not: its pidfd is readable for good from then.
    fn has_ended(&self) -> Result<bool> {
        let mut fds = [PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN)];
        poll_until(&mut fds, deadline(Some(Duration::ZERO)))
    }

    /// Whether the child still runs. A child reaped elsewhere does not.
    pub(crate) fn is_alive(&mut self) -> Result<bool> {
        self.check_parent()?;
        // The pidfd says so without waiting, whoever reaps the child (a forkserver that is
        // slow to send the exit code, stopped say, does not keep an ended child alive).
        Ok(self.state == State::Running && !self.has_ended()?)
    }

    /// Waits at most `timeout` for the child to exit: `poll` on the pidfd, which becomes
    /// readable when it does (then a forkserver child's code is waited for, see
    /// [`try_wait`](Self::try_wait)). A signal that interrupts the wait does not restart
    /// the full timeout: the deadline stays where it was.
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<i32>> {
        self.check_parent()?;
        let deadline = deadline(Some(timeout));
        let mut fds = [PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN)];
        if poll_until(&mut fds, deadline)? {
            self.try_wait()
        } else {
            Ok(None)
        }
    }

    /// Sends `signal` through the pidfd; nothing once the child is reaped.
    pub(crate) fn signal(&mut self, signal: Signal) -> Result<()> {
        self.check_parent()?;
        if self.state != State::Running {
            return Ok(());
        }
        // SAFETY: pidfd_send_signal(2) takes a pidfd, a signal number, an optional siginfo
        // (none here) and flags (none); it touches no memory of ours.
        let sent = unsafe {
            nix::libc::syscall(
                nix::libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                signal as nix::libc::c_int,
                std::ptr::null::<nix::libc::siginfo_t>(),
                0,
            )
        };
        match Errno::result(sent) {
            // ESRCH: it has exited already (and may be reaped by someone else): nothing to do.
            Ok(_) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn reap(&mut self, flags: WaitPidFlag) -> Result<Option<i32>> {
        self.check_parent()?;
        loop {
            match self.state {
                State::Exited(code) => return Ok(Some(code)),
                State::Lost => return Err(Error::ExitStatusLost { pid: self.pid() }),
                State::Running => {}
            }
            if let Reaper::Forkserver { status, server } = &self.reaper {
                // The server sends the code once it has reaped the child, a moment after
                // the pidfd (the sentinel) says that the child has ended: from then on, the
                // code is worth waiting for, so that an ended child is never "running".
                let wait = if !flags.contains(WaitPidFlag::WNOHANG) {
                    None
                } else if self.has_ended()? {
                    Some(SERVER_REPORTS_WITHIN)
                } else {
                    Some(Duration::ZERO)
                };
                match receive_exit_code(status.as_fd(), wait)? {
                    Some(Some(code)) => self.state = State::Exited(code),
                    // The server died before it could say: the child may run on. Its socket
                    // closes before the kernel hands the server's children over (to the
                    // nearest subreaper, maybe this process): wait until it has, which its
                    // pidfd says, or a wait here would find an ended child not yet ours
                    // (ECHILD), and leave it a zombie once it is. (Bounded: a server that
                    // closed the socket and lives on has lost the child's code anyway.)
                    Some(None) => {
                        let mut fds = [PollFd::new(server.as_fd(), PollFlags::POLLIN)];
                        poll_until(&mut fds, deadline(Some(SERVER_REPORTS_WITHIN)))?;
                        self.reaper = Reaper::Adopter;
                    }
                    None => return Ok(None),
                }
                continue;
            }
            if let Reaper::Adopter = self.reaper {
                // Whoever adopted the child reaps it: wait for its end, then reap it here
                // if this process is the adopter (else the wait says ECHILD: lost).
                if flags.contains(WaitPidFlag::WNOHANG) && !self.has_ended()? {
                    return Ok(None);
                }
                let mut fds = [PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN)];
                poll_until(&mut fds, None)?;
            }
            match waitid(Id::PIDFd(self.pidfd.as_fd()), WaitPidFlag::WEXITED | flags) {
                Ok(WaitStatus::Exited(_, code)) => self.state = State::Exited(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => self.state = State::Exited(-(sig as i32)),
                Ok(_) => return Ok(None), // WNOHANG, and still running
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => self.state = State::Lost,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn check_parent(&self) -> Result<()> {
        if getpid() == self.parent {
            Ok(())
        } else {
            Err(Error::NotOurChild { pid: self.pid() })
        }
    }
}

impl Drop for Child {
    /// Kills and reaps a child still running, so that no zombie or stray process is left;
    /// a copy in another process (made by a later fork) leaves the child alone.
    fn drop(&mut self) {
        if self.state == State::Running && self.check_parent().is_ok() {
            let _ = self.signal(Signal::SIGKILL);
            match self.reaper {
                // A killed child ends at once, and is reaped here (or by its adopter).
                Reaper::Parent | Reaper::Adopter => drop(self.wait()),
                // The server reaps it; if the server is stopped, its code is given up.
                Reaper::Forkserver { .. } => drop(self.wait_timeout(SERVER_REPORTS_WITHIN)),
            }
        }
    }
}

/// How long a served child's exit code may take to come once the child has ended: the
/// server reaps a child as soon as its pidfd says so, in microseconds, unless the server
/// is stopped or starved of time.
const SERVER_REPORTS_WITHIN: Duration = Duration::from_secs(1);

/// The exit code the forkserver sends: `Some(Some(code))`; `Some(None)` if the server
/// closed the socket first (it died); `None` if nothing came within `wait` (for ever if
/// `None`).
fn receive_exit_code(
    status: BorrowedFd<'_>,
    wait: Option<Duration>,
) -> Result<Option<Option<i32>>> {
    let mut code = [0u8; 4];
    let flags = match wait {
        Some(wait) => {
            let mut fds = [PollFd::new(status, PollFlags::POLLIN)];
            if !poll_until(&mut fds, deadline(Some(wait)))? {
                return Ok(None);
            }
            MsgFlags::MSG_DONTWAIT
        }
        None => MsgFlags::empty(),
    };
    loop {
        match nix::sys::socket::recv(status.as_raw_fd(), &mut code, flags) {
            Ok(4) => return Ok(Some(Some(i32::from_le_bytes(code)))),
            Ok(_) => return Ok(Some(None)),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Opens a pidfd for `pid`. `nix` has no wrapper for it yet.
fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor, or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just made this descriptor for us (with O_CLOEXEC), and nothing
    // else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
