//! `Lock` and `RLock`: Python's `multiprocessing.Lock` and `multiprocessing.RLock`, on a
//! robust mutex (see `robust`) so that a holder's death does not lock out everyone else.

use std::ffi::CStr;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::futex::{Deadline, deadline_after};
use super::robust::{Leaving, RobustMutex, SharedBlock, own_pid};
use crate::error::{Error, Result};
use crate::sharedctypes::{ARRAY_FILE, VALUE_FILE};

/// The name of a lock's memfd (`/proc/PID/maps` shows it), which says what made the file.
const LOCK_FILE: &CStr = c"ipc-lock";
/// The name of an `RLock`'s memfd.
const RLOCK_FILE: &CStr = c"ipc-rlock";

/// A lock that processes share. Python: `multiprocessing.Lock()`.
///
/// [`acquire`](Self::acquire) returns a [`LockGuard`]; dropping the guard releases the lock.
/// Make the lock before starting the processes that use it, and give each a clone (a clone
/// is another handle on the same lock, for a process or a thread).
///
/// ```
/// use ipc::{Lock, Process};
///
/// let lock = Lock::new()?;
/// let child_lock = lock.clone();
/// let mut child = Process::new(move || {
///     let _guard = child_lock.acquire().unwrap();
///     println!("only one process at a time prints here");
/// });
/// child.start()?;
/// {
///     let _guard = lock.acquire()?;
///     println!("the parent's turn");
/// }
/// child.join()?;
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// # When a holder dies
///
/// Python's lock is a semaphore: a process killed while it holds it leaves it locked for
/// ever, and every other process waits. This one is a *robust* mutex: the kernel notices
/// the death, and the next `acquire` gets the lock with [`LockGuard::owner_died`] true,
/// because what the lock guards may be half-updated. Repair it, then drop the guard: the
/// lock works as before. A holder that panics counts as one that died (like a poisoned
/// [`std::sync::Mutex`]): its data may be half-updated just the same.
///
/// ```
/// use ipc::{Lock, Process};
///
/// let lock = Lock::new()?;
/// let child_lock = lock.clone();
/// let mut child = Process::new(move || {
///     let _guard = child_lock.acquire().unwrap();
///     nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap(); // dies holding it
/// });
/// child.start()?;
/// child.join()?;
/// let guard = lock.acquire()?; // no wait for ever: the lock is ours
/// assert!(guard.owner_died());
/// drop(guard); // repaired: the next holder is told nothing
/// assert!(!lock.acquire()?.owner_died());
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// # Differences from Python
///
/// - The guard releases the lock, in the thread that acquired it: a robust mutex has an
///   owner (that is how the kernel knows whose death to report). Python's `release` may
///   be called by any process.
/// - Acquiring it again from the thread that holds it is [`Error::AlreadyHeld`]; Python's
///   `Lock` waits for itself for ever. [`RLock`] may be acquired again.
/// - A guard moved into a child process (by `fork`) does not hold the lock there: the
///   parent holds it, and drops its copy right after the fork. Dropping the child's copy
///   does nothing.
#[derive(Clone)]
pub struct Lock {
    block: Arc<SharedBlock<()>>,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

impl Lock {
    /// A new lock, not held. It lives in a page of shared memory of its own.
    ///
    /// ```
    /// let lock = ipc::Lock::new()?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn new() -> Result<Lock> {
        Lock::with_room(LOCK_FILE, 0, 1).map(|(lock, _)| lock)
    }

    /// A lock in a new block of shared memory with room for `extra` bytes after it,
    /// aligned to `align`: the lock of a `Value` or `Array`, and where its data goes.
    pub(crate) fn with_room(
        name: &CStr,
        extra: usize,
        align: usize,
    ) -> Result<(Lock, NonNull<u8>)> {
        let block = SharedBlock::new(name, extra, align, |()| {})?;
        let data = block.extra(align);
        Ok((
            Lock {
                block: Arc::new(block),
            },
            data,
        ))
    }

    /// The lock of a block that another process made with [`with_room`](Self::with_room)
    /// (its memfd named `name`) and sent as `fd`, and where its data is: see
    /// `SharedBlock::adopt`. The block is taken as it is, live.
    pub(crate) fn adopt_room(
        fd: OwnedFd,
        name: &CStr,
        extra: usize,
        align: usize,
    ) -> std::result::Result<(Lock, NonNull<u8>), String> {
        let block = SharedBlock::adopt(fd, &[name], extra, align)?;
        let data = block.extra(align);
        Ok((
            Lock {
                block: Arc::new(block),
            },
            data,
        ))
    }

    /// The descriptor of the lock's memory, for a process that starts with it.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.block.fd()
    }

    /// Waits until the lock is free and takes it. Python: `lock.acquire()`, or `with lock:`.
    ///
    /// ```
    /// let lock = ipc::Lock::new()?;
    /// let guard = lock.acquire()?;
    /// assert!(matches!(lock.acquire(), Err(ipc::Error::AlreadyHeld)));
    /// drop(guard);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    #[inline]
    pub fn acquire(&self) -> Result<LockGuard<'_>> {
        self.acquire_until(None)
            .map(|guard| guard.expect("no deadline"))
    }

    /// Like [`acquire`](Self::acquire), but waits at most `timeout`: `None` if the lock was
    /// not free by then. Python: `lock.acquire(timeout=…)`, which returns `False`. The
    /// wait is measured on a clock that setting the time of day does not move.
    ///
    /// If this thread holds the lock, the answer is [`Error::AlreadyHeld`] at once, as for
    /// `acquire`: nothing could free the lock during the wait. (Python waits out the
    /// timeout and returns `False`, so `lock.acquire(False)` is `False` there.)
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = ipc::Lock::new()?;
    /// let guard = lock.acquire_timeout(Duration::ZERO)?; // free: taken at once
    /// assert!(guard.is_some());
    /// let again = lock.acquire_timeout(Duration::from_secs(1));
    /// assert!(matches!(again, Err(ipc::Error::AlreadyHeld)));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<LockGuard<'_>>> {
        self.acquire_until(deadline_after(timeout).as_ref())
    }

    #[inline]
    pub(crate) fn acquire_until(
        &self,
        deadline: Option<&Deadline>,
    ) -> Result<Option<LockGuard<'_>>> {
        LockGuard::acquire(self.block.mutex(), deadline)
    }
}

/// A `Lock` can go to a process as it starts, in its arguments (see
/// [`Descriptor`](crate::Descriptor)) or its pool's initializer's, with the forkserver and
/// spawn methods: the new process maps the same memory, and the lock is one lock for both,
/// robust there too (a holder killed in the new process is reported to the next). That is
/// how Python pickles a lock for a new process. Not in a message or a pool's task, which
/// Python refuses too ("Lock objects should only be shared between processes through
/// inheritance"). The lock of a [`Value`](crate::Value) or an [`Array`](crate::Array)
/// (`get_lock().clone()`) may go too.
impl Serialize for Lock {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.block.as_ref().serialize(serializer)
    }
}

/// Checks what it receives before it maps it: a lock's memory, or a `Value`'s or an
/// `Array`'s.
impl<'de> Deserialize<'de> for Lock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Lock, D::Error> {
        let names = [LOCK_FILE, VALUE_FILE, ARRAY_FILE];
        let block = SharedBlock::deserialize(deserializer, "a Lock", &names)?;
        Ok(Lock { block })
    }
}

/// The proof that this thread holds a [`Lock`] (or the lock of a `Value` or `Array`);
/// dropping it releases the lock. It stays in the thread that acquired it (it is not
/// `Send`), as a mutex must be released by the thread that locked it.
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct LockGuard<'a> {
    mutex: &'a RobustMutex,
    owner_died: bool,
    /// Whether this thread was unwinding from a panic when it took the lock.
    panicking_at_lock: bool,
    /// The process that acquired it: in any other (a child with a copy of this guard, made
    /// by `fork`) the guard holds nothing.
    pid: i32,
    _not_send: PhantomData<*const ()>,
}

impl<'a> LockGuard<'a> {
    /// Locks `mutex`, waiting until `deadline` at most: `Ok(None)` if it passed.
    #[inline]
    pub(crate) fn acquire(
        mutex: &'a RobustMutex,
        deadline: Option<&Deadline>,
    ) -> Result<Option<LockGuard<'a>>> {
        let panicking_at_lock = std::thread::panicking();
        Ok(mutex.lock(deadline)?.map(|acquired| LockGuard {
            mutex,
            owner_died: acquired.owner_died,
            panicking_at_lock,
            pid: own_pid(),
            _not_send: PhantomData,
        }))
    }

    /// Locks `mutex`, the lock of a shared object that its own code takes for a moment and
    /// never hands to a caller, so that none of `acquire`'s errors can happen.
    pub(crate) fn hold(
        mutex: &'a RobustMutex,
        deadline: Option<&Deadline>,
    ) -> Option<LockGuard<'a>> {
        LockGuard::acquire(mutex, deadline).expect("the inner lock of a shared object works")
    }

    /// Releases the lock, runs `wait`, and takes the lock again, waiting as long as it
    /// takes: a condition variable's wait. A holder found dead meanwhile is reported by
    /// [`owner_died`](Self::owner_died) from then on. Waiting repairs nothing: a dead
    /// holder this guard was told of is told to whoever takes the lock meanwhile too.
    pub(crate) fn unlocked<R>(&mut self, wait: impl FnOnce() -> R) -> R {
        self.check_process();
        // SAFETY: this guard holds the mutex (checked), and takes it again below before
        // anything else can use the guard.
        unsafe { self.mutex.unlock(Leaving::AsFound) };
        let waited = wait();
        // Taking again a lock this thread just released fails only on corrupt memory.
        let acquired = self
            .mutex
            .lock(None)
            .ok()
            .flatten()
            .expect("taking again the lock that this thread released");
        self.owner_died |= acquired.owner_died;
        waited
    }

    /// Whether a previous holder died (or panicked) while it held the lock, leaving what
    /// the lock guards possibly half-updated. Repair it before dropping this guard: once
    /// a guard is dropped (other than by a panic that began while it was held), the lock
    /// counts as repaired and the next holder is told nothing. (A condition's wait, which
    /// releases the lock for a while, does not count as a repair.)
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// Panics in a process that did not acquire this guard (a child given a copy by
    /// `fork`): there the lock is not held, and what it guards must not be touched.
    pub(crate) fn check_process(&self) {
        assert!(
            self.held_here(),
            "this guard was acquired by process {} before a fork; process {} does not \
             hold the lock: acquire it in the child",
            self.pid,
            own_pid()
        );
    }

    #[inline]
    fn held_here(&self) -> bool {
        self.pid == own_pid()
    }

    /// Releases the lock without marking the data repaired: for a holder that only looked
    /// and found it torn.
    pub(crate) fn release_torn(self) {
        let mut this = std::mem::ManuallyDrop::new(self);
        this.release(false);
    }

    #[inline]
    fn release(&mut self, done: bool) {
        if self.held_here() {
            // SAFETY: this guard holds the mutex (it was acquired in this process, and a
            // guard is not Send, so in this thread), and is being given up.
            unsafe {
                self.mutex
                    .unlock(Leaving::now(done, self.panicking_at_lock));
            }
        }
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.release(true);
    }
}

/// A lock that the thread holding it may acquire again. Python: `multiprocessing.RLock()`.
///
/// Each [`acquire`](Self::acquire) returns a guard; the lock is free again when the last
/// of this thread's guards is dropped. Like [`Lock`], it is robust: see
/// [`RLockGuard::owner_died`].
///
/// ```
/// let lock = ipc::RLock::new()?;
/// let outer = lock.acquire()?;
/// let inner = lock.acquire()?; // the same thread: no waiting
/// drop(inner);
/// drop(outer); // free now
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Clone)]
pub struct RLock {
    block: Arc<SharedBlock<RLockState>>,
}

impl std::fmt::Debug for RLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RLock").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct RLockState {
    /// How many guards the holding thread has; changed only by that thread.
    depth: AtomicU32,
    /// 1 if the holding thread was unwinding from a panic when it took the lock (its
    /// first guard); changed only by that thread. See `Leaving::now`.
    panicking_at_lock: AtomicU32,
}

impl RLock {
    /// A new recursive lock, not held.
    pub fn new() -> Result<RLock> {
        Ok(RLock {
            block: Arc::new(SharedBlock::new(RLOCK_FILE, 0, 1, |_| {})?),
        })
    }

    /// Waits until the lock is free or held by this thread, and takes it (once more).
    /// Python: `rlock.acquire()`.
    pub fn acquire(&self) -> Result<RLockGuard<'_>> {
        self.acquire_until(None)
            .map(|guard| guard.expect("no deadline"))
    }

    /// Like [`acquire`](Self::acquire), but waits at most `timeout`: `None` if the lock was
    /// still held by another thread or process then.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<RLockGuard<'_>>> {
        self.acquire_until(deadline_after(timeout).as_ref())
    }

    fn acquire_until(&self, deadline: Option<&Deadline>) -> Result<Option<RLockGuard<'_>>> {
        let depth = &self.block.state().depth;
        let owner_died = match self.block.mutex().lock(deadline) {
            Ok(None) => return Ok(None),
            Ok(Some(acquired)) => {
                // The first guard: whatever depth a dead holder left is its own.
                depth.store(1, Ordering::Relaxed);
                let panicking = u32::from(std::thread::panicking());
                self.block
                    .state()
                    .panicking_at_lock
                    .store(panicking, Ordering::Relaxed);
                acquired.owner_died
            }
            Err(Error::AlreadyHeld) => {
                let more = depth.load(Ordering::Relaxed).checked_add(1);
                let more = more.ok_or_else(|| io::Error::other("an RLock held 2^32 times"))?;
                depth.store(more, Ordering::Relaxed);
                false
            }
            Err(e) => return Err(e),
        };
        Ok(Some(RLockGuard {
            lock: self,
            owner_died,
            pid: own_pid(),
            _not_send: PhantomData,
        }))
    }
}

/// An `RLock` goes to a process as it starts, in its arguments, as a [`Lock`] does: the
/// same lock in both processes.
impl Serialize for RLock {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.block.as_ref().serialize(serializer)
    }
}

/// Checks what it receives before it maps it, as a [`Lock`] does.
impl<'de> Deserialize<'de> for RLock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<RLock, D::Error> {
        let block = SharedBlock::deserialize(deserializer, "an RLock", &[RLOCK_FILE])?;
        Ok(RLock { block })
    }
}

/// One hold of an [`RLock`] by this thread; the lock is released when the thread's last
/// guard is dropped. Not `Send`, like [`LockGuard`].
#[must_use = "the hold is given up as soon as the guard is dropped"]
#[derive(Debug)]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    owner_died: bool,
    pid: i32,
    _not_send: PhantomData<*const ()>,
}

impl RLockGuard<'_> {
    /// Whether a previous holder died (or panicked) while it held the lock: see
    /// [`LockGuard::owner_died`]. Only the first guard of a holding thread can say so.
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        if self.pid != own_pid() {
            return; // a copy made by fork: the parent holds the lock, not this process
        }
        let depth = &self.lock.block.state().depth;
        let left = depth.load(Ordering::Relaxed) - 1;
        depth.store(left, Ordering::Relaxed);
        if left == 0 {
            let state = self.lock.block.state();
            let panicking_at_lock = state.panicking_at_lock.load(Ordering::Relaxed) == 1;
            // SAFETY: this thread holds the mutex (its guards do) and gives up the last.
            unsafe {
                self.lock
                    .block
                    .mutex()
                    .unlock(Leaving::now(true, panicking_at_lock));
            }
        }
    }
}
