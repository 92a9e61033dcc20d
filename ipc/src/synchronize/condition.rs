//! `Condition`: a lock, and a way to wait under it until another process says that
//! something changed. Python: `multiprocessing.Condition`.

use std::ffi::CStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::futex::{self, Deadline, Woken, deadline_after, passed};
use super::lock::LockGuard;
use super::robust::SharedBlock;
use crate::error::Result;

/// The name of a condition's memfd, which says what made the file.
const CONDITION_FILE: &CStr = c"ipc-condition";

/// A condition variable shared by processes, with its own lock. Python:
/// `multiprocessing.Condition()`.
///
/// [`acquire`](Self::acquire) takes the lock and returns a [`ConditionGuard`], whose
/// [`wait`](ConditionGuard::wait) releases the lock, sleeps until another process calls
/// [`notify`](ConditionGuard::notify) or [`notify_all`](ConditionGuard::notify_all), and
/// takes the lock again. The state that the waiters wait for lives in shared memory too
/// (a [`SharedAtomic`](crate::SharedAtomic) below); read and change it while holding the
/// guard.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// use ipc::{Condition, Process, SharedAtomic};
///
/// let pages_ready = SharedAtomic::new(AtomicU32::new(0))?;
/// let condition = Condition::new()?;
/// let mut consumer = Process::with_exit_code({
///     let (pages_ready, condition) = (pages_ready.clone(), condition.clone());
///     move || {
///         let mut guard = condition.acquire().unwrap();
///         guard.wait_for(|| pages_ready.load(Ordering::Relaxed) >= 3);
///         pages_ready.load(Ordering::Relaxed) as i32
///     }
/// });
/// consumer.start()?;
/// for _ in 0..3 {
///     let guard = condition.acquire()?;
///     pages_ready.fetch_add(1, Ordering::Relaxed);
///     guard.notify_all();
/// }
/// assert_eq!(consumer.join()?, 3);
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// As with [`std::sync::Condvar`], a wait may end although nobody notified this waiter
/// (a *spurious* wake-up, say a notify meant for another waiter that came while this one
/// was on its way to sleep; a signal does not end a wait): wait in a loop that checks
/// what you wait for, as [`wait_for`](ConditionGuard::wait_for) does. Its lock is a [`Lock`](crate::Lock), not
/// Python's default `RLock`, and robust in the same way: see
/// [`ConditionGuard::owner_died`].
#[derive(Clone)]
pub struct Condition {
    block: Arc<SharedBlock<ConditionState>>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition").finish_non_exhaustive()
    }
}

struct ConditionState {
    /// Changed by every notify that finds waiters: they sleep on it. Read under the lock
    /// before sleeping, so a notify after that read wakes the waiter, or keeps it from
    /// falling asleep.
    notifies: AtomicU32,
    /// How many wait, or are about to: a notify with none makes no system call.
    waiters: AtomicU32,
}

impl Condition {
    /// A new condition, with a new lock.
    pub fn new() -> Result<Condition> {
        Ok(Condition {
            block: Arc::new(SharedBlock::new(CONDITION_FILE, 0, 1, |_| {})?),
        })
    }

    /// Takes the condition's lock. Python: `cond.acquire()`, or `with cond:`.
    pub fn acquire(&self) -> Result<ConditionGuard<'_>> {
        Ok(self.acquire_until(None)?.expect("no deadline"))
    }

    /// Like [`acquire`](Self::acquire), but waits at most `timeout`: `None` if the lock
    /// was still held by then.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<ConditionGuard<'_>>> {
        self.acquire_until(deadline_after(timeout).as_ref())
    }

    fn acquire_until(&self, deadline: Option<&Deadline>) -> Result<Option<ConditionGuard<'_>>> {
        let guard = LockGuard::acquire(self.block.mutex(), deadline)?;
        Ok(guard.map(|guard| ConditionGuard {
            guard,
            state: self.block.state(),
        }))
    }
}

/// A `Condition` can go to a process as it starts, in its arguments (see
/// [`Descriptor`](crate::Descriptor)) or its pool's initializer's, with the forkserver and
/// spawn methods: the new process maps the same memory, its lock and its waiters'
/// word included, so a `notify` in one wakes a `wait` in the other. That is how Python
/// pickles a condition for a new process; a message or a pool's task cannot hold one, as
/// in Python ("Condition objects should only be shared between processes through
/// inheritance").
impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.block.as_ref().serialize(serializer)
    }
}

/// Checks what it receives before it maps it: a condition's memory.
impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Condition, D::Error> {
        let block = SharedBlock::deserialize(deserializer, "a Condition", &[CONDITION_FILE])?;
        Ok(Condition { block })
    }
}

/// This thread holds a [`Condition`]'s lock: it may wait and notify. Dropping it releases
/// the lock. Not `Send`, like [`LockGuard`](crate::LockGuard).
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct ConditionGuard<'a> {
    guard: LockGuard<'a>,
    state: &'a ConditionState,
}

impl std::fmt::Debug for ConditionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConditionState").finish_non_exhaustive()
    }
}

impl ConditionGuard<'_> {
    /// Releases the lock, sleeps until notified, and takes the lock again. Python:
    /// `cond.wait()`. May also end without a notify: see [`Condition`].
    pub fn wait(&mut self) {
        self.wait_until(None);
    }

    /// Like [`wait`](Self::wait), but sleeps at most `timeout`: `false` if it ended by
    /// the timeout. Python: `cond.wait(timeout)`. The lock is taken again either way.
    pub fn wait_timeout(&mut self, timeout: Duration) -> bool {
        self.wait_until(deadline_after(timeout).as_ref())
    }

    fn wait_until(&mut self, deadline: Option<&Deadline>) -> bool {
        let state = self.state;
        let seen = state.notifies.load(Ordering::Relaxed);
        state.waiters.fetch_add(1, Ordering::Relaxed);
        let woken = self.guard.unlocked(|| {
            loop {
                let woken = futex::wait(&state.notifies, seen, deadline);
                // A signal ends the sleep too (`EINTR`): sleep again unless a notify came,
                // as Python's wait does, so that the timeout is whole.
                if woken != Woken::Interrupted || state.notifies.load(Ordering::Relaxed) != seen {
                    break woken;
                }
            }
        });
        state.waiters.fetch_sub(1, Ordering::Relaxed);
        woken != Woken::TimedOut
    }

    /// Waits until `condition()` is true, checking it under the lock first and after each
    /// wake-up. Python: `cond.wait_for(predicate)`.
    pub fn wait_for(&mut self, mut condition: impl FnMut() -> bool) {
        while !condition() {
            self.wait();
        }
    }

    /// Like [`wait_for`](Self::wait_for), but waits at most `timeout` in all: what
    /// `condition()` says last. Python: `cond.wait_for(predicate, timeout)`.
    pub fn wait_for_timeout(
        &mut self,
        mut condition: impl FnMut() -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = deadline_after(timeout);
        loop {
            if condition() {
                return true;
            }
            if passed(deadline.as_ref()) || !self.wait_until(deadline.as_ref()) {
                return condition();
            }
        }
    }

    /// Wakes up to `n` of the processes waiting on the condition (none for 0). Python:
    /// `cond.notify(n)`.
    ///
    /// A waiter woken here that is killed before it has the lock again (the notifier
    /// usually still holds it) takes its notification with it: another waiter sleeps on,
    /// as in Python. Where waiters may die, wait with a timeout
    /// ([`wait_for_timeout`](Self::wait_for_timeout)).
    pub fn notify(&self, n: u32) {
        self.guard.check_process();
        if n > 0 && self.state.waiters.load(Ordering::Relaxed) > 0 {
            futex::add_and_wake(&self.state.notifies, n);
        }
    }

    /// Wakes every process waiting on the condition. Python: `cond.notify_all()`.
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }

    /// Whether a previous holder of the lock died (or panicked) while it held it: see
    /// [`LockGuard::owner_died`](crate::LockGuard::owner_died). A wait takes the lock
    /// again, so this can become true after a wait.
    pub fn owner_died(&self) -> bool {
        self.guard.owner_died()
    }
}
