//! Waiting with a deadline.
//!
//! `poll(2)` takes a relative timeout, and a signal can cut it short (`EINTR`). Restarting
//! it with the full timeout would stretch the wait by one timeout per signal, without end
//! if signals keep coming. So every wait in `ipc` turns its timeout into a deadline once,
//! and after an interruption polls again for what is left of it.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollTimeout};

use crate::error::Result;

/// The moment `timeout` from now; `None` (no deadline) for no timeout, or for one so long
/// that it has no `Instant` (such as `Duration::MAX`).
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Polls `fds` until one is ready (`true`) or the deadline passes (`false`). With the
/// deadline already past, it still polls once, so a descriptor that is ready now counts.
pub(crate) fn poll_until(fds: &mut [PollFd], deadline: Option<Instant>) -> Result<bool> {
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match nix::poll::poll(fds, poll_timeout(left)) {
            Ok(0) if left.is_some_and(|l| l.is_zero()) => return Ok(false),
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
}

/// `poll(2)` counts whole milliseconds: round up, so that a short timeout still waits.
fn poll_timeout(timeout: Option<Duration>) -> PollTimeout {
    match timeout {
        None => PollTimeout::NONE,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        }
    }
}
