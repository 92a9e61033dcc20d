//! Where the processes run: round trips and throughput measured with everything on one
//! core.
//!
//! A 64-byte round trip is two wake-ups. When the child sleeps on the parent's core, a
//! wake-up is a context switch, a few microseconds; when it sleeps on another core, the
//! waker must interrupt that core, and on a virtual machine that interrupt goes through
//! the hypervisor: tens of microseconds. The scheduler picks a core for each child, so
//! unpinned samples jump between the two costs, and a contender whose children happened
//! to share a core could beat one that does less work (the Performance page shows it).
//! A stream of big messages wakes the other side each time the socket's buffer fills or
//! empties, so the same holds for throughput: unpinned, the samples of one contender at
//! one size ranged over five times. On one core, every contender pays the same for
//! placement, and the rows compare the work.

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

use crate::harness::Result;

/// Runs `f` with this process, and every child it starts meanwhile (a fork inherits the
/// mask), allowed on one core only: the first it may use now. Then allows the cores again.
pub fn on_one_core<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let this = Pid::from_raw(0);
    let allowed = sched_getaffinity(this)?;
    let first = (0..CpuSet::count())
        .find(|&cpu| allowed.is_set(cpu).unwrap_or(false))
        .ok_or("no core allowed")?;
    let mut one = CpuSet::new();
    one.set(first)?;
    sched_setaffinity(this, &one)?;
    let result = f();
    sched_setaffinity(this, &allowed)?;
    result
}
