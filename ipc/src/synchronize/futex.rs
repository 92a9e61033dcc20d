//! Sleeping until another process changes a word of shared memory: `futex(2)`.
//!
//! A futex is a 32-bit word in memory and a queue in the kernel. `wait` sleeps only if the
//! word still holds the value the caller last saw (checked by the kernel, atomically with
//! going to sleep, so a change just before cannot be missed); `wake` wakes sleepers. For a
//! `MAP_SHARED` mapping the kernel names the word by its file and offset, so processes that
//! map the file at different addresses share the queue.
//!
//! Every change that must wake sleepers here goes through [`add_and_wake`]: the kernel adds
//! to the word *and* wakes, in one system call (`FUTEX_WAKE_OP`). A process killed between
//! a change made in user space and the system call that wakes would leave the sleepers
//! asleep for good; one system call is done whole or not at all.
//!
//! Deadlines are absolute times on `CLOCK_MONOTONIC`, which setting the wall clock does
//! not move; a signal that interrupts a wait does not stretch it.

use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc::{self, c_int, timespec};
use nix::time::{ClockId, clock_gettime};

/// A moment on `CLOCK_MONOTONIC`: when a wait gives up.
pub(crate) type Deadline = timespec;

/// The moment `timeout` from now; `None` (no deadline) for a timeout so long that the
/// clock cannot hold it, such as `Duration::MAX`.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Deadline> {
    let now = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC always works");
    let now = Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32);
    let at = now.checked_add(timeout)?;
    Some(timespec {
        tv_sec: libc::time_t::try_from(at.as_secs()).ok()?,
        tv_nsec: at.subsec_nanos().into(),
    })
}

/// Whether `deadline` has passed.
pub(crate) fn passed(deadline: Option<&Deadline>) -> bool {
    deadline.is_some_and(|d| deadline_after(Duration::ZERO).is_some_and(|now| later(&now, d)))
}

fn later(a: &timespec, b: &timespec) -> bool {
    (a.tv_sec, a.tv_nsec) >= (b.tv_sec, b.tv_nsec)
}

/// How a [`wait`] ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Woken {
    /// Woken, or the word no longer held `seen`: look again.
    Changed,
    /// A signal ended the sleep (`EINTR`): the word may hold `seen` still.
    Interrupted,
    /// The deadline passed first.
    TimedOut,
}

/// Sleeps while `word` holds `seen`, until a [`add_and_wake`] on it or `deadline`. Callers
/// look at the word again whatever it returns.
pub(crate) fn wait(word: &AtomicU32, seen: u32, deadline: Option<&Deadline>) -> Woken {
    let timeout = deadline.map_or(std::ptr::null(), |d| d as *const timespec);
    // SAFETY: FUTEX_WAIT_BITSET reads the 4 bytes at `word` (an AtomicU32, valid while
    // borrowed) and the timespec if any (valid for this call), and writes no memory. Not
    // FUTEX_PRIVATE_FLAG: the word is shared by processes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET,
            seen,
            timeout,
            std::ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    match Errno::result(r) {
        Err(Errno::ETIMEDOUT) => Woken::TimedOut,
        Err(Errno::EINTR) => Woken::Interrupted,
        // 0: woken; EAGAIN: the word had changed already. (Any other error is a bad address
        // or operation, a bug here: the caller looks again, as after a spurious wake-up.)
        _ => Woken::Changed,
    }
}

/// Adds 1 to `word` (wrapping) and wakes up to `n` of the processes and threads sleeping on
/// it, in one system call.
pub(crate) fn add_and_wake(word: &AtomicU32, n: u32) {
    add_and_wake_by(word, 1, n);
}

/// Adds `add` (below 4096) to `word`, wrapping, and wakes up to `n` sleepers on it, in one
/// system call: `FUTEX_WAKE_OP` with the same word as both of its words.
///
/// `n` is at least 1: asked to wake none, the kernel wakes one. If nothing else changes
/// `word` meanwhile (the caller makes every change under one lock, which it holds now),
/// at most `n` wake; otherwise the kernel may wake one more, which a caller that wakes
/// every sleeper (`u32::MAX`) does not mind.
pub(crate) fn add_and_wake_by(word: &AtomicU32, add: u32, n: u32) {
    debug_assert!(add < 4096, "FUTEX_WAKE_OP takes a 12-bit operand");
    debug_assert!(n > 0, "the kernel wakes one sleeper when asked for none");
    // The operation, as futex(2) packs it: op, comparison, operand, comparison operand.
    // If the comparison of the word's old value holds, the kernel also wakes sleepers of
    // the second word (this one), and at least one of them whatever number it is given:
    // a `notify(2)` would wake three. So compare with a value the word does not hold: the
    // old value is the one read here, as every change is made under the caller's lock.
    let unlike_old = c_int::from(word.load(Ordering::Relaxed) == 0);
    let op = (libc::FUTEX_OP_ADD << 28)
        | (libc::FUTEX_OP_CMP_EQ << 24)
        | ((add as c_int) << 12)
        | unlike_old;
    let n = c_int::try_from(n).unwrap_or(c_int::MAX);
    // What this thread wrote before is visible to a sleeper that sees the word change.
    fence(Ordering::SeqCst);
    // SAFETY: FUTEX_WAKE_OP adds to the 4 bytes at `word` atomically (an AtomicU32, valid
    // while borrowed, so a concurrent atomic access is no data race) and reads nothing
    // else; the fourth argument is a count, not a pointer, for this operation.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE_OP,
            n,
            0usize,
            word.as_ptr(),
            op,
        )
    };
    // It fails only for a bad address or operation, which would be a bug here.
    debug_assert!(r >= 0, "FUTEX_WAKE_OP failed: {}", Errno::last());
}
