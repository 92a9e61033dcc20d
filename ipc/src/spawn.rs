//! The spawn start method: a fresh copy of the program runs the function. Python:
//! `get_context("spawn")`.
//!
//! The child is `/proc/self/exe`, the very file this process runs, started anew with
//! `exec` (by `std::process::Command`, which is safe to use from a process with threads).
//! Its `main` must begin with [`init`]: in a spawned child, `init` runs the function it is
//! asked to, and exits, instead of returning to the program; everywhere else it returns at
//! once. Python's `if __name__ == "__main__":` guard plays the same part.
//!
//! A spawned child must not outlive its parent either, and `PR_SET_PDEATHSIG` cannot be
//! trusted here: it fires when the *thread* that started the child ends, and a program with
//! threads may spawn from a short-lived one. So the child gets a *lifeline* (see
//! `ipc/src/lifeline.rs`): one end of a socketpair whose other end only the parent holds,
//! and which kills the child when it hangs up.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::libc;
use nix::unistd::{Pid, getpid};

use crate::child::Child;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::lifeline;
use crate::remote;

/// The variable that tells a spawned child what it is: `PARENT:CONNECTION:LIFELINE:ARGS`,
/// the parent's pid, the numbers of two inherited descriptors, and those of the descriptors
/// its arguments hold (separated by commas).
const VARIABLE: &str = "IPC_SPAWNED";

/// Set once [`init`] has taken this process's request, so that it never runs twice.
static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// The hook of the spawn start method: call it first thing in `main`.
///
/// In a process started by the spawn method it runs the function the parent asked for, then
/// exits with its exit code; it does not return. In any other process it does nothing. A
/// program whose `main` lacks it cannot use spawn: its children would run the program
/// instead, so starting one is refused with [`Error::SpawnNotInitialized`] (a pool's
/// worker: by the pool's first wait).
///
/// ```no_run
/// // First thing in `main`: a spawned child runs its function here, and exits.
/// ipc::spawn::init();
/// // ...the program
/// ```
pub fn init() {
    let Some(spawned) = Spawned::from_environment() else {
        return;
    };
    if INITIALIZED.swap(true, Ordering::SeqCst) {
        return;
    }
    // The kernel names a process after the file it runs, here `exe` (of /proc/self/exe):
    // `ps -o comm`, `top` and `pstree` show the program's name instead, as the parent's.
    if let Some(name) = program_name() {
        let _ = nix::sys::prctl::set_name(&name);
    }
    // SAFETY: the parent passed these descriptors to this process across `exec`, and
    // nothing has taken them since: this is the first call of `init` (checked above), which
    // runs first thing in `main`.
    let (connection, lifeline, descriptors) = unsafe {
        (
            OwnedFd::from_raw_fd(spawned.connection),
            OwnedFd::from_raw_fd(spawned.lifeline),
            spawned
                .descriptors
                .iter()
                .map(|&fd| OwnedFd::from_raw_fd(fd))
                .collect(),
        )
    };
    // `exec` needed them inheritable; a program this process runs must not get them (the
    // connection would keep the parent from seeing this process end, a pipe end held open
    // would keep its reader from the end, a memfd would keep its memory).
    for fd in std::iter::once(&connection)
        .chain([&lifeline])
        .chain(&descriptors)
    {
        // It fails only for a descriptor that is not open, which an `OwnedFd` always is.
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    let code = match lifeline::hold_on_to(&lifeline) {
        Ok(()) => remote::child_main(Connection::from_fd(connection), descriptors),
        Err(_) => 1, // the parent is gone already
    };
    std::process::exit(code)
}

/// The name of the program file this process runs, as the kernel would have named it
/// (its first 15 bytes).
fn program_name() -> Option<CString> {
    let path = std::env::current_exe().ok()?;
    let name = path.file_name()?.as_encoded_bytes();
    CString::new(&name[..name.len().min(15)]).ok()
}

/// Whether this process was spawned and has not called [`init`]: it would run the whole
/// program, and spawn again, without end.
pub(crate) fn missing_init() -> bool {
    Spawned::from_environment().is_some() && !INITIALIZED.load(Ordering::SeqCst)
}

/// What the environment says of a spawned child.
struct Spawned {
    connection: RawFd,
    lifeline: RawFd,
    descriptors: Vec<RawFd>,
}

impl Spawned {
    /// The descriptors, if this process is the one that was spawned.
    ///
    /// The programs this process starts inherit the variable (a `Command` keeps the
    /// environment), and must not take it for their own. What only the spawned process
    /// holds is its lifeline, a socket the parent made ([`init`] makes it close-on-exec at
    /// once): the variable counts if the descriptor it names is a socket made by the
    /// process it names. Not the parent pid alone: a child whose parent dies between its
    /// `exec` and `init` is adopted, and would run the whole program as a program of its
    /// own, which nothing ends; found by its lifeline instead, it exits in `init`, which
    /// finds the lifeline cut.
    fn from_environment() -> Option<Spawned> {
        let value = std::env::var(VARIABLE).ok()?;
        let mut fields = value.split(':');
        let mut number = || fields.next()?.parse::<i32>().ok();
        let (parent, connection, lifeline) = (number()?, number()?, number()?);
        let descriptors = match fields.next().unwrap_or_default() {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(str::parse::<RawFd>)
                .collect::<std::result::Result<_, _>>()
                .ok()?,
        };
        made_by(lifeline, parent).then_some(Spawned {
            connection,
            lifeline,
            descriptors,
        })
    }
}

/// Whether descriptor `fd` is a Unix socket made by process `pid`: `socketpair(2)`
/// records its caller as the peer of both ends (`SO_PEERCRED`, see [unix(7)]), and no
/// exit or adoption changes that.
///
/// [unix(7)]: https://man7.org/linux/man-pages/man7/unix.7.html
fn made_by(fd: RawFd, pid: i32) -> bool {
    let mut peer = MaybeUninit::<libc::ucred>::uninit();
    let size = size_of::<libc::ucred>() as libc::socklen_t;
    let mut len = size;
    // SAFETY: getsockopt(2) writes at most `len` bytes into `peer`, which has room for
    // them. It only reads the socket's credentials, on a descriptor that may be anyone's
    // (or none: then it fails with EBADF, as with ENOTSOCK for a file that is not a
    // socket), and changes nothing.
    let read = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            peer.as_mut_ptr().cast(),
            &mut len,
        )
    };
    // SAFETY: a getsockopt that succeeded with the whole size filled the whole struct.
    read == 0 && len == size && unsafe { peer.assume_init() }.pid == pid
}

/// Starts a fresh copy of the program that runs [`remote::child_main`] over `connection`,
/// with `descriptors` (the same numbers: an `exec` keeps the descriptors it is not told
/// to close).
pub(crate) fn start_child(connection: OwnedFd, descriptors: &[OwnedFd]) -> Result<Child> {
    if missing_init() {
        return Err(Error::SpawnNotInitialized);
    }
    let (lifeline, child_end) = lifeline::pair()?;
    let mut inherited = vec![connection.as_raw_fd(), child_end.as_raw_fd()];
    inherited.extend(descriptors.iter().map(AsRawFd::as_raw_fd));
    let mut command = Command::new("/proc/self/exe");
    if let Some(name) = std::env::args_os().next() {
        command.arg0(name); // `ps` shows the program's name, not /proc/self/exe
    }
    let arguments: Vec<String> = inherited[2..].iter().map(RawFd::to_string).collect();
    command.env(
        VARIABLE,
        format!(
            "{}:{}:{}:{}",
            getpid(),
            inherited[0],
            inherited[1],
            arguments.join(",")
        ),
    );
    // SAFETY: the closure runs in the child between fork and exec, and only calls fcntl(2),
    // which is async-signal-safe, on descriptors this process owns (they stay open until
    // `spawn` returns); it allocates nothing (the list was made before the fork).
    unsafe {
        command.pre_exec(move || {
            for &fd in &inherited {
                // The descriptors are close-on-exec, so that no other program gets them:
                // this one must.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        })
    };
    let spawned = command.spawn().map_err(|e| Error::Spawn(Arc::new(e)))?;
    drop((connection, child_end));
    Ok(Child::adopt(Pid::from_raw(spawned.id() as i32), getpid())?.keep(lifeline))
}
