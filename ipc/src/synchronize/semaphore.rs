//! `Semaphore` and `BoundedSemaphore`: Python's `multiprocessing.Semaphore` and
//! `multiprocessing.BoundedSemaphore`.

use std::ffi::CStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::futex::{self, Deadline, Woken, deadline_after};
use super::robust::SharedBlock;
use crate::error::{Error, Result};

/// The names of their memfds, which say what made the file: a bounded semaphore is not
/// received as one that is not.
const SEMAPHORE_FILE: &CStr = c"ipc-semaphore";
const BOUNDED_SEMAPHORE_FILE: &CStr = c"ipc-bounded-semaphore";

/// A counter of permits shared by processes: [`acquire`](Self::acquire) takes one,
/// waiting while there is none, and [`release`](Self::release) gives one back. Python:
/// `multiprocessing.Semaphore(value)`. A semaphore made with 2 lets two processes at a
/// time through, say, to be polite to a web server.
///
/// ```
/// use ipc::{Process, Semaphore};
///
/// let two_at_a_time = Semaphore::new(2)?;
/// let mut children: Vec<Process> = (0..4)
///     .map(|_| {
///         let permits = two_at_a_time.clone();
///         Process::new(move || {
///             permits.acquire();
///             // ...at most two processes here at once...
///             permits.release().unwrap();
///         })
///     })
///     .collect();
/// for child in &mut children {
///     child.start()?;
/// }
/// for child in &mut children {
///     child.join()?;
/// }
/// assert_eq!(two_at_a_time.value(), 2);
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// A semaphore has no owner: any process may release, and none is told when a process
/// that took a permit dies. Its permit is then lost, as in Python: wait with
/// [`acquire_timeout`](Self::acquire_timeout) where that matters. (A lock has an owner,
/// and this crate's locks report its death: see [`Lock`](crate::Lock).)
#[derive(Clone)]
pub struct Semaphore {
    block: Arc<SharedBlock<SemaphoreState>>,
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .finish_non_exhaustive()
    }
}

struct SemaphoreState {
    /// The permits left, and the futex word that acquirers sleep on while it is 0.
    /// Changed by compare-and-swap, or by the kernel's add in a release from 0 (the
    /// block's mutex is not used).
    count: AtomicU32,
    /// The most `count` may be: the first value for a bounded semaphore, else `u32::MAX`.
    limit: AtomicU32,
}

impl Semaphore {
    /// A semaphore with `value` permits. Python: `Semaphore(value)`.
    pub fn new(value: u32) -> Result<Semaphore> {
        Semaphore::with_limit(SEMAPHORE_FILE, value, u32::MAX)
    }

    fn with_limit(name: &CStr, value: u32, limit: u32) -> Result<Semaphore> {
        let block = SharedBlock::new(name, 0, 1, |state: &SemaphoreState| {
            state.count.store(value, Ordering::Relaxed);
            state.limit.store(limit, Ordering::Relaxed);
        })?;
        Ok(Semaphore {
            block: Arc::new(block),
        })
    }

    /// Takes a permit, waiting until there is one. Python: `sem.acquire()`.
    pub fn acquire(&self) {
        self.acquire_until(None);
    }

    /// Like [`acquire`](Self::acquire), but waits at most `timeout`: whether a permit was
    /// taken. Python: `sem.acquire(timeout=…)`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = ipc::Semaphore::new(1)?;
    /// assert!(sem.acquire_timeout(Duration::ZERO)); // the one permit
    /// assert!(!sem.acquire_timeout(Duration::from_millis(10))); // none left
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.acquire_until(deadline_after(timeout).as_ref())
    }

    fn acquire_until(&self, deadline: Option<&Deadline>) -> bool {
        let count = &self.block.state().count;
        loop {
            if self.try_take() {
                return true;
            }
            // None left: sleep while the count is 0. The kernel checks it as it puts this
            // thread to sleep, and a release from 0 adds its permit and wakes the sleepers
            // in one system call, so a permit and a sleep never miss each other, even if
            // the releasing process dies right after.
            let woken = futex::wait(count, 0, deadline);
            if woken == Woken::TimedOut || futex::passed(deadline) {
                return self.try_take();
            }
        }
    }

    /// Takes a permit if there is one, without waiting.
    fn try_take(&self) -> bool {
        let count = &self.block.state().count;
        let mut seen = count.load(Ordering::SeqCst);
        while seen > 0 {
            match count.compare_exchange_weak(seen, seen - 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return true,
                Err(now) => seen = now,
            }
        }
        false
    }

    /// Gives a permit back, waking the processes waiting for one. Python: `sem.release()`.
    /// [`Error::SemaphoreFull`] if the count is at its limit: for a [`BoundedSemaphore`],
    /// the value it was made with (Python raises `ValueError`).
    ///
    /// Neither this nor an acquire takes a lock: the count changes in one atomic step, so
    /// a process stopped or killed in the middle of either holds nothing the others need.
    /// (So releases that race from 0 past a [`BoundedSemaphore`]'s limit, a bug either way,
    /// may both go in, as in Python, whose check is not atomic either.)
    pub fn release(&self) -> Result<()> {
        let state = self.block.state();
        let limit = state.limit.load(Ordering::Relaxed);
        let mut seen = state.count.load(Ordering::SeqCst);
        loop {
            if seen >= limit {
                return Err(Error::SemaphoreFull { limit });
            }
            if seen == 0 {
                // Processes may sleep on the count: the kernel adds the permit and wakes
                // them all in one system call (they race for it; those that lose sleep
                // again). Waking one would lose the permit if that one died, or timed out,
                // before taking it.
                futex::add_and_wake(&state.count, u32::MAX);
                return Ok(());
            }
            // Nobody sleeps while the count is above 0: the permit goes in alone, if the
            // count is still what was seen.
            match state.count.compare_exchange_weak(
                seen,
                seen + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => seen = now,
            }
        }
    }

    /// The permits left now (others may take or give some right after). Python:
    /// `sem.get_value()`.
    pub fn value(&self) -> u32 {
        self.block.state().count.load(Ordering::Relaxed)
    }
}

/// A `Semaphore` can go to a process as it starts, in its arguments (see
/// [`Descriptor`](crate::Descriptor)) or its pool's initializer's, with the forkserver and
/// spawn methods: the new process maps the same memory, so both count the same permits.
/// That is how Python pickles a semaphore for a new process; a message or a pool's task
/// cannot hold one, as in Python ("Semaphore objects should only be shared between
/// processes through inheritance").
impl Serialize for Semaphore {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.block.as_ref().serialize(serializer)
    }
}

/// Checks what it receives before it maps it: a semaphore's memory (not a bounded one's).
impl<'de> Deserialize<'de> for Semaphore {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Semaphore, D::Error> {
        let block = SharedBlock::deserialize(deserializer, "a Semaphore", &[SEMAPHORE_FILE])?;
        Ok(Semaphore { block })
    }
}

/// A [`Semaphore`] that refuses to count above the value it was made with, since a
/// release more than the acquires is a bug. Python: `multiprocessing.BoundedSemaphore`.
///
/// ```
/// let sem = ipc::BoundedSemaphore::new(1)?;
/// sem.acquire();
/// sem.release()?;
/// assert!(matches!(sem.release(), Err(ipc::Error::SemaphoreFull { limit: 1 })));
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct BoundedSemaphore {
    semaphore: Semaphore,
}

impl BoundedSemaphore {
    /// A semaphore with `value` permits, and never more. Python: `BoundedSemaphore(value)`.
    pub fn new(value: u32) -> Result<BoundedSemaphore> {
        Ok(BoundedSemaphore {
            semaphore: Semaphore::with_limit(BOUNDED_SEMAPHORE_FILE, value, value)?,
        })
    }

    /// Takes a permit, waiting until there is one: see [`Semaphore::acquire`].
    pub fn acquire(&self) {
        self.semaphore.acquire();
    }

    /// Takes a permit, waiting at most `timeout`: see [`Semaphore::acquire_timeout`].
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.semaphore.acquire_timeout(timeout)
    }

    /// Gives a permit back; [`Error::SemaphoreFull`] if that would make more than the
    /// value it was made with.
    pub fn release(&self) -> Result<()> {
        self.semaphore.release()
    }

    /// The permits left now.
    pub fn value(&self) -> u32 {
        self.semaphore.value()
    }
}

/// A `BoundedSemaphore` goes to a process as it starts, in its arguments, as a
/// [`Semaphore`] does; its limit lives in the shared memory, and goes with it.
impl Serialize for BoundedSemaphore {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.semaphore.block.as_ref().serialize(serializer)
    }
}

/// Checks what it receives before it maps it: a bounded semaphore's memory.
impl<'de> Deserialize<'de> for BoundedSemaphore {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<BoundedSemaphore, D::Error> {
        let what = "a BoundedSemaphore";
        let block = SharedBlock::deserialize(deserializer, what, &[BOUNDED_SEMAPHORE_FILE])?;
        Ok(BoundedSemaphore {
            semaphore: Semaphore { block },
        })
    }
}
