//! Locks and the other ways processes wait for each other: Python's
//! `multiprocessing.synchronize`.
//!
//! | Python | here |
//! |---|---|
//! | `Lock()`, `acquire()`, `release()`, `with lock:` | [`Lock::new`], [`acquire`](Lock::acquire) → a [`LockGuard`], released when dropped |
//! | `lock.acquire(timeout=t)` → `False` | [`lock.acquire_timeout(t)`](Lock::acquire_timeout) → `None` |
//! | `RLock()` | [`RLock::new`] |
//! | `Semaphore(n)`, `BoundedSemaphore(n)` | [`Semaphore::new`], [`BoundedSemaphore::new`] |
//! | `Event()`: `set`, `clear`, `is_set`, `wait(timeout)` | [`Event::new`]: the same names; [`wait_timeout`](Event::wait_timeout) |
//! | `Condition()`: `wait`, `wait_for`, `notify`, `notify_all` | [`Condition::new`], [`acquire`](Condition::acquire) → a [`ConditionGuard`] with those methods |
//! | `Barrier(n)`: `wait`, `abort`, `reset`, `broken` | [`Barrier::new`]: the same names |
//! | `threading.BrokenBarrierError` | [`Error::BrokenBarrier`](crate::Error::BrokenBarrier) |
//! | (none: the lock stays locked for ever) | [`LockGuard::owner_died`]: its holder died |
//!
//! # How they are made, and why
//!
//! Each object is a page of shared memory (a memfd mapped `MAP_SHARED`: see `mapping`)
//! that starts with a *robust* pthread mutex (see `robust`). [`Lock`] is that mutex;
//! the others keep a few words of state beside it, changed under it, and sleep on a
//! futex word (see `futex`) rather than a pthread condition variable: glibc's condition
//! variable counts its sleepers in shared memory, and a process killed while it sleeps
//! stays counted; with glibc 2.36 the next `pthread_cond_signal` then never returns.
//! A [`Semaphore`] needs no lock at all: its count is its futex word, taken by
//! compare-and-swap, and a release from 0 adds its permit and wakes the sleepers in one
//! system call; so a process stopped in the middle of an acquire or a release holds up
//! nobody.
//!
//! Kill any process at any moment, and the others go on:
//!
//! - A holder's death is reported to the next holder of the same lock
//!   ([`LockGuard::owner_died`]), which gets the lock instead of waiting for ever.
//! - A waiter holds nothing while it sleeps: the kernel forgets a dead sleeper.
//! - The state of an object changes in one store (or one system call that changes it and
//!   wakes), under the mutex, after the sleepers are woken: a process killed before that
//!   store leaves the old state, after it the new one, and the waiters it woke (they
//!   cannot look before it releases the mutex, or dies) find a state that is whole either
//!   way. A semaphore's count changes in one atomic step, with its wake-up when it leaves
//!   0.
//!
//! What no mechanism can give back: the permit of a process that dies holding a
//! [`Semaphore`] permit (a semaphore has no owner), the arrival of a process that dies
//! before it reaches a [`Barrier`], and the notification of a [`Condition`] waiter killed
//! after `notify` woke it and before it had the lock again (as in Python: see
//! [`notify`](ConditionGuard::notify)). Wait with a timeout where that can happen.

mod barrier;
mod condition;
mod event;
pub(crate) mod futex;
mod lock;
pub(crate) mod robust;
mod semaphore;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionGuard};
pub use event::Event;
pub use lock::{Lock, LockGuard, RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore};
