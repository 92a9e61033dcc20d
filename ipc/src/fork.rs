//! The rules of `fork`, in one place: every process `ipc` starts is made by [`fork`] here.
//!
//! `fork` copies the whole process (its memory, its descriptors) but only the thread that
//! called it. Each rule below keeps that copy from doing harm:
//!
//! 1. **One thread only.** A lock held by another thread at the moment of the fork (the
//!    stdout lock, the allocator's) is locked forever in the child, which has no such
//!    thread to release it. So `fork` refuses while other threads run
//!    ([`Error::ThreadsRunning`]): glibc says so for a program that never started one,
//!    and otherwise they are counted in `/proc/self/task`.
//! 2. **Flush first.** Text still in stdout's buffer would be printed by both processes.
//! 3. **Close-on-fork.** Linux has no `O_CLOFORK` flag, so the ends of pipes marked with
//!    [`Connection::set_inheritable(false)`](crate::Connection::set_inheritable) are handled
//!    here (see [`Mark`]): the child releases the ones that stay in the parent, and keeps
//!    the ones its closure took.
//! 4. **No orphans.** The child asks the kernel to kill it when its parent dies
//!    (`PR_SET_PDEATHSIG`), so a parent killed with `SIGKILL` leaves nothing running.
//! 5. **The child's way out.** The child runs its target, catches a panic, flushes its
//!    output and leaves with `_exit`: it never returns into the caller's code, and no
//!    destructor of the caller's stack runs twice.
//! 6. **A name that cannot be reused.** The parent opens a pidfd for the child before its
//!    pid can be reused: an exited child stays a zombie until its parent reaps it, and when
//!    `SIGCHLD` is ignored (the kernel then reaps children itself), the child waits for its
//!    parent's word before it runs anything; see [`Child`].

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Pid, getpid, getppid};

use crate::child::Child;
use crate::error::{Error, Result};
use crate::panics;

/// The exit code of a child whose closure panicked (Rust's own code for a panicking
/// `main`; Python uses 1 for an uncaught exception).
///
/// ```
/// let mut p = ipc::Process::new(|| panic!("no page today"));
/// p.start()?;
/// assert_eq!(p.join()?, ipc::PANIC_EXIT_CODE);
/// # Ok::<(), ipc::Error>(())
/// ```
pub const PANIC_EXIT_CODE: i32 = 101;

/// Forks a child that runs the target and leaves with `_exit(code)`, never returning here.
///
/// What the target captured is the child's: the parent drops its own copy (sets `target`
/// to `None`) right after the fork, so that, say, its copy of the child's pipe end is
/// closed. If the fork is refused, or fails, `target` is left as it was, for another try;
/// if the child cannot be watched (no pidfd), it is killed, and the target goes with it
/// unless the child was still waiting for its parent, having run nothing.
pub(crate) fn fork<T: FnOnce() -> i32>(target: &mut Option<T>) -> Result<Child> {
    refuse_if_threaded()?;
    // Looked up here, once: the child's flush then runs no code that looks it up again.
    // (A fork does not copy the page-table entries of the program's code: each page of
    // code the child runs first is a page fault, on the child's way to its target.)
    let stdout = io::stdout();
    flush(&stdout);
    let marked_before = marked_ids();
    // The child waits on this socket until the parent has a pidfd for it and has said which
    // marked ends it must release. Without marks, and with SIGCHLD's default action (an
    // exited child stays a zombie until we reap it, so its pid cannot be reused), the
    // child has nothing to wait for: it starts at once, which saves two context switches.
    let handshake = if marked_before.is_empty() && children_wait_to_be_reaped() {
        None
    } else {
        Some(UnixStream::pair()?)
    };
    let parent = getpid();
    // SAFETY: this process has one thread (checked above, and no other thread can start
    // one meanwhile), so no lock can be held by a thread that the child would lack. The
    // child leaves through `run_child`, which ends in `_exit`.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::Fork(Arc::new(e.into())))? {
        ForkResult::Child => {
            GENERATION.fetch_add(1, Ordering::Relaxed);
            let from_parent = handshake.map(|(parent_side, child_side)| {
                drop(parent_side);
                child_side
            });
            run_child(parent, from_parent, target.take(), &stdout)
        }
        ForkResult::Parent { child } => {
            let to_child = handshake.map(|(parent_side, child_side)| {
                drop(child_side);
                parent_side
            });
            let adopted = Child::adopt(child, parent);
            // A child that waits for its parent runs nothing before it is told to, and
            // one that could not be watched was killed: the target stays for another try.
            // One that did not wait may have begun its target: it was the child's.
            if to_child.is_some() && adopted.is_err() {
                return adopted;
            }
            // The parent's copy of the target goes now, with every pipe end it captured:
            // the child has its own, and the end of a stream needs every copy closed.
            *target = None;
            let child = adopted.map_err(|e| {
                Error::from(io::Error::other(format!(
                    "{e}; the child had started at once, and was killed: it may have begun \
                     its target, which is gone with it"
                )))
            })?;
            if let Some(to_child) = to_child {
                let released: Vec<u64> = marked_before
                    .into_iter()
                    .filter(|id| is_marked(*id))
                    .collect();
                // If the child is already dead, it needs no list: ignore a failed send.
                let _ = send_ids(&to_child, &released);
            }
            Ok(child)
        }
    }
}

/// How many of `ipc`'s forks made this process: 0 in the program as it started, one more
/// in each child. A value made before a fork can tell that it is a copy: a `Connection`
/// then reads no further than each message, since another copy may read the next.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// This process's [`GENERATION`].
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// The child's side of [`fork`]: never returns.
fn run_child(
    parent: Pid,
    from_parent: Option<UnixStream>,
    target: Option<impl FnOnce() -> i32>,
    stdout: &io::Stdout,
) -> ! {
    let ready = die_with(parent).and_then(|()| match &from_parent {
        Some(socket) => {
            let released = receive_ids(socket)?;
            release_in_child(&released, socket.as_fd());
            Ok(())
        }
        None => Ok(()),
    });
    drop(from_parent);
    let code = match (ready, target) {
        (Ok(()), Some(target)) => panics::catch(target).unwrap_or(PANIC_EXIT_CODE),
        // The parent is gone, or failed half-way: run nothing.
        _ => 1,
    };
    flush(stdout);
    // SAFETY: `_exit` ends the process at once: nothing of the parent's code runs again in
    // the child, and no destructor of the caller's stack runs a second time.
    unsafe { nix::libc::_exit(code) }
}

/// Whether an exited child stays a zombie until its parent reaps it: `SIGCHLD` has its
/// default action, without `SA_NOCLDWAIT`. (Ignored, the kernel reaps children itself; a
/// handler may call `waitpid`.)
fn children_wait_to_be_reaped() -> bool {
    let mut current = std::mem::MaybeUninit::<nix::libc::sigaction>::uninit();
    // SAFETY: with a null new action, sigaction(2) only writes the current one into
    // `current`, which is valid for that write.
    let read =
        unsafe { nix::libc::sigaction(nix::libc::SIGCHLD, std::ptr::null(), current.as_mut_ptr()) };
    if read != 0 {
        return false;
    }
    // SAFETY: sigaction returned 0, so it filled `current`.
    let current = unsafe { current.assume_init() };
    current.sa_sigaction == nix::libc::SIG_DFL && current.sa_flags & nix::libc::SA_NOCLDWAIT == 0
}

/// Asks the kernel to kill this process when `parent` dies, then checks that it had not
/// died already (in which case this process was adopted and nobody would kill it).
fn die_with(parent: Pid) -> io::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    if getppid() == parent {
        Ok(())
    } else {
        Err(io::Error::other("the parent died before the child started"))
    }
}

/// Whether this process surely runs one thread, by glibc's word: `__libc_single_threaded`
/// is set at the start and cleared when a second thread is created, which is what
/// [`refuse_if_threaded`] needs to know, at the cost of reading a byte (counting threads
/// in `/proc/self/task` walks a path through procfs, a few microseconds at every fork).
/// Once cleared, it stays cleared (glibc 2.36: even after every thread is joined, and in
/// a fork's child); and other C libraries have no such flag: then the count decides.
///
/// glibc counts the threads it made: a thread of a second C library loaded with
/// `dlmopen`, or made with a bare `clone`, leaves the flag set, and then fork's first rule
/// holds only as far as the program keeps to glibc's threads (both need `unsafe` code,
/// and glibc's own allocator would not be safe from such a thread either).
fn surely_single_threaded() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc 2.32 and later (`<sys/single_threaded.h>`). A byte that glibc changes as
        // the program runs: read atomically, as the byte of an `AtomicU8` (its only
        // writes store 0: at a thread's creation, before the new thread exists, and, from
        // glibc 2.36, again in `pthread_cancel`).
        unsafe extern "C" {
            safe static __libc_single_threaded: std::sync::atomic::AtomicU8;
        }
        __libc_single_threaded.load(Ordering::Relaxed) != 0
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// How many threads this process runs: `/proc/self/task` has a link per thread, plus two.
fn threads() -> Result<usize> {
    let task = std::fs::metadata("/proc/self/task").map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot count this process's threads in /proc/self/task: {e}"),
        )
    })?;
    Ok(task.nlink().saturating_sub(2) as usize)
}

/// [`Error::ThreadsRunning`] unless this process has one thread. A thread that was just
/// joined can still be counted for a few microseconds while the kernel finishes its exit,
/// so a count above one is checked again for up to about 25 ms before it is believed.
fn refuse_if_threaded() -> Result<()> {
    if surely_single_threaded() {
        return Ok(());
    }
    let mut nap = Duration::from_micros(50);
    loop {
        let threads = threads()?;
        if threads <= 1 {
            return Ok(());
        }
        if nap > Duration::from_millis(13) {
            return Err(Error::ThreadsRunning { threads });
        }
        std::thread::sleep(nap);
        nap *= 2;
    }
}

/// Writes out what Rust's stdout buffer holds. (Rust's stderr has no buffer: flushing it
/// would only take its lock, and in a child just forked, that write to the lock's memory is
/// a page fault that copies the page.) Errors are ignored: a closed stdout must not stop a
/// fork or an exit.
fn flush(mut stdout: &io::Stdout) {
    let _ = stdout.flush();
}

/// A descriptor that children must not keep: one end of a pipe marked with
/// [`Connection::set_inheritable(false)`](crate::Connection::set_inheritable).
///
/// Linux has no close-on-fork flag, and closing the number in the child would be wrong if
/// the child's closure took the end: the object would then own a number that the next
/// `open` reuses (Rust's I/O safety forbids exactly that). So the parent decides after the
/// fork: the marks its copy of the target dropped went to the child; the others stay in
/// the parent, and the child *releases* them: `dup3` puts a dead socket on the number, so
/// that the pipe end is let go while the number stays owned by its object, and the flag
/// makes every use of that object an [`Error::NotInherited`].
#[derive(Debug)]
pub(crate) struct Mark {
    id: u64,
    fd: RawFd,
    released: AtomicBool,
}

/// Every live mark of this process.
static MARKED: Mutex<Vec<Arc<Mark>>> = Mutex::new(Vec::new());

/// Locks [`MARKED`]. Only `fork`'s caller forks, and only when it is the one thread, so no
/// fork can happen while another thread holds this lock.
fn marked() -> MutexGuard<'static, Vec<Arc<Mark>>> {
    MARKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Mark {
    /// Marks `fd` as one that children must not keep.
    pub(crate) fn new(fd: BorrowedFd<'_>) -> Arc<Mark> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let mark = Arc::new(Mark {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            fd: fd.as_raw_fd(),
            released: AtomicBool::new(false),
        });
        marked().push(Arc::clone(&mark));
        mark
    }

    /// Forgets the mark: the end will be inherited again, or is being closed.
    pub(crate) fn remove(&self) {
        marked().retain(|m| m.id != self.id);
    }

    /// Whether this process released the end at its start: it belongs to the parent.
    pub(crate) fn is_released(&self) -> bool {
        self.released.load(Ordering::Relaxed)
    }
}

fn marked_ids() -> Vec<u64> {
    marked().iter().map(|m| m.id).collect()
}

fn is_marked(id: u64) -> bool {
    marked().iter().any(|m| m.id == id)
}

/// In the child: releases the marked ends the parent kept, putting `dead` (a socket whose
/// peer is about to close) on their numbers.
fn release_in_child(ids: &[u64], dead: BorrowedFd<'_>) {
    marked().retain(|mark| {
        if !ids.contains(&mark.id) {
            return true; // the child's closure took this end: it stays marked, for its own children
        }
        // SAFETY: `mark.fd` is open (its Connection is alive: it removes its mark when
        // dropped) and `dead` is open; dup3 replaces the descriptor at that number
        // atomically, so the number stays owned by its Connection.
        unsafe { nix::libc::dup3(dead.as_raw_fd(), mark.fd, nix::libc::O_CLOEXEC) };
        mark.released.store(true, Ordering::Relaxed);
        false
    });
}

/// The parent's message to the child: a count, then that many ids (little-endian).
fn send_ids(socket: &UnixStream, ids: &[u64]) -> io::Result<()> {
    let mut message = Vec::with_capacity(8 * (ids.len() + 1));
    message.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    for id in ids {
        message.extend_from_slice(&id.to_le_bytes());
    }
    nix::sys::socket::send(
        socket.as_raw_fd(),
        &message,
        nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
    )
    .map(drop)
    .map_err(io::Error::from)
}

/// The child's side of [`send_ids`]: waits for the whole list, then the parent's close.
fn receive_ids(mut socket: &UnixStream) -> io::Result<Vec<u64>> {
    let mut message = Vec::new();
    socket.read_to_end(&mut message)?;
    let words: Vec<u64> = message
        .chunks_exact(8)
        .map(|word| u64::from_le_bytes(word.try_into().expect("8 bytes")))
        .collect();
    match words.split_first() {
        Some((&count, ids)) if message.len() % 8 == 0 && ids.len() as u64 == count => {
            Ok(ids.to_vec())
        }
        _ => Err(io::Error::other("the parent's message was cut short")),
    }
}
