//! The mutex under every lock of this crate: a *robust*, *process-shared* pthread mutex,
//! in shared memory, and the block of shared memory that starts with one.
//!
//! - `PTHREAD_PROCESS_SHARED`: any process that maps the memory may lock it.
//! - `PTHREAD_MUTEX_ROBUST`: while a thread holds robust mutexes, the C library keeps them
//!   on a list that the kernel knows of (`set_robust_list(2)`). When the thread dies (its
//!   whole process killed with `SIGKILL` included) the kernel walks that list, marks each
//!   mutex "owner died" and wakes a waiter. The next `pthread_mutex_lock` then *succeeds*,
//!   returning `EOWNERDEAD` instead of 0: the lock is taken, and the caller is told that
//!   what it guards may be half-updated. `pthread_mutex_consistent` makes it an ordinary
//!   mutex again.
//! - `PTHREAD_MUTEX_ERRORCHECK`: locking it again from the thread that holds it is the
//!   error `EDEADLK` rather than a thread waiting for itself forever.
//!
//! On top of the C library's mutex, each [`RobustMutex`] keeps two words of its own: which
//! process holds it, and whether the data may be torn (a holder died or panicked, and no
//! holder has finished with it since).

use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::io;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Once};

use nix::libc::{self, c_int, clockid_t, pthread_mutex_t, timespec};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::futex::Deadline;
use crate::descriptor::{Descriptor, serialize_fd};
use crate::error::{Error, Result};
use crate::mapping::{MAX_ALIGN, Mapping, cannot_receive};

// glibc has had `pthread_mutex_clocklock` since 2.30; the `libc` crate does not declare it.
unsafe extern "C" {
    fn pthread_mutex_clocklock(
        mutex: *mut pthread_mutex_t,
        clockid: clockid_t,
        abstime: *const timespec,
    ) -> c_int;
}

/// A robust, process-shared, error-checking pthread mutex, as it lies in shared memory.
#[repr(C)]
pub(crate) struct RobustMutex {
    mutex: UnsafeCell<pthread_mutex_t>,
    /// The process id of the holder while it is held, else 0.
    holder: AtomicI32,
    /// 1 while what the lock guards may be torn: a holder died (or panicked) holding it,
    /// and no holder has dropped its guard normally since.
    owner_died: AtomicU32,
}

impl std::fmt::Debug for RobustMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobustMutex")
            .field("holder", &self.holder)
            .field("owner_died", &self.owner_died)
            .finish_non_exhaustive()
    }
}

/// What a holder leaves behind as it unlocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaving {
    /// The data is whole: the owner-died mark is cleared.
    Whole,
    /// The data is as the holder found it (it only looked, or it waits on a condition):
    /// the mark stays as it is.
    AsFound,
    /// Possibly half-updated (a panic began while the lock was held): the mark is set.
    Torn,
}

impl Leaving {
    /// How a holder leaves: torn if this thread is unwinding from a panic that began after
    /// the lock was taken (`panicking_at_lock` is what `std::thread::panicking` said then;
    /// code run by the unwinding itself, a `Drop`, may lock and leave the data whole, as
    /// `std::sync::Mutex` sees it), else whole if `done`, else as found.
    #[inline]
    pub(crate) fn now(done: bool, panicking_at_lock: bool) -> Leaving {
        if std::thread::panicking() && !panicking_at_lock {
            Leaving::Torn
        } else if done {
            Leaving::Whole
        } else {
            Leaving::AsFound
        }
    }
}

/// What a successful lock found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Acquired {
    /// The data may be torn: see [`RobustMutex`]'s `owner_died`.
    pub(crate) owner_died: bool,
}

impl RobustMutex {
    /// Makes the mutex at `this`.
    ///
    /// # Safety
    ///
    /// `this` points to zeroed, writable memory of a shared mapping, which no other
    /// process or thread uses yet.
    unsafe fn init(this: *mut RobustMutex) -> io::Result<()> {
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: each call gets a valid pointer: `attr`, initialised by the first call
        // before the others use it, and the mutex, which nobody else uses yet (the caller
        // says so). Destroying the attribute after `pthread_mutex_init` is allowed.
        unsafe {
            check(libc::pthread_mutexattr_init(attr.as_mut_ptr()))?;
            let attr = attr.as_mut_ptr();
            let made = check(libc::pthread_mutexattr_setpshared(
                attr,
                libc::PTHREAD_PROCESS_SHARED,
            ))
            .and(check(libc::pthread_mutexattr_setrobust(
                attr,
                libc::PTHREAD_MUTEX_ROBUST,
            )))
            .and(check(libc::pthread_mutexattr_settype(
                attr,
                libc::PTHREAD_MUTEX_ERRORCHECK,
            )))
            .and(check(libc::pthread_mutex_init(
                UnsafeCell::raw_get(&raw const (*this).mutex),
                attr,
            )));
            libc::pthread_mutexattr_destroy(attr);
            made
        }
    }

    /// Locks, waiting until `deadline` at most (for ever without one). `Ok(None)`: the
    /// deadline passed. [`Error::AlreadyHeld`] if this thread holds it already.
    ///
    /// Inlined, with every answer but "locked" handled out of line: taking a free lock
    /// costs a few nanoseconds, and a call that hands its answer back through memory
    /// costs as much again (see the Performance page).
    #[inline]
    pub(crate) fn lock(&self, deadline: Option<&Deadline>) -> Result<Option<Acquired>> {
        let mutex = self.mutex.get();
        // SAFETY: the mutex was initialised by `init` before any handle to it existed, and
        // lives in a mapping that outlives `&self`; pthread mutexes are made to be locked
        // from many threads and (being process-shared) processes at once.
        let r = unsafe {
            match deadline {
                None => libc::pthread_mutex_lock(mutex),
                Some(at) => pthread_mutex_clocklock(mutex, libc::CLOCK_MONOTONIC, at),
            }
        };
        if r != 0 && !self.locked_anyway(r)? {
            return Ok(None);
        }
        self.holder.store(own_pid(), Ordering::Relaxed);
        Ok(Some(Acquired {
            owner_died: self.owner_died.load(Ordering::Relaxed) == 1,
        }))
    }

    /// What the error `r` of a lock means: `Ok(true)` if this thread holds the mutex all
    /// the same (its last holder died), `Ok(false)` if the deadline passed. `r` is what
    /// this thread's lock of this mutex just answered ([`lock`](Self::lock) is the only
    /// caller).
    #[cold]
    fn locked_anyway(&self, r: c_int) -> Result<bool> {
        match r {
            libc::EOWNERDEAD => {
                // We hold it. Make it an ordinary mutex again at once, and remember in the
                // shared word that the data may be torn, until a holder says otherwise. A
                // process killed right here leaves it owner-died again, for the next one.
                // SAFETY: EOWNERDEAD from this thread's lock means that this thread holds
                // the mutex, as pthread_mutex_consistent requires.
                unsafe { libc::pthread_mutex_consistent(self.mutex.get()) };
                self.owner_died.store(1, Ordering::Relaxed);
                Ok(true)
            }
            libc::ETIMEDOUT => Ok(false),
            libc::EDEADLK => Err(Error::AlreadyHeld),
            e => Err(io::Error::from_raw_os_error(e).into()),
        }
    }

    /// Unlocks, leaving the owner-died mark as `leaving` says (see [`Leaving::now`] for
    /// when a panic marks the data torn).
    ///
    /// # Safety
    ///
    /// This thread holds the mutex, through a lock that the caller now gives up.
    #[inline]
    pub(crate) unsafe fn unlock(&self, leaving: Leaving) {
        match leaving {
            Leaving::Torn => self.owner_died.store(1, Ordering::Relaxed),
            Leaving::Whole => self.owner_died.store(0, Ordering::Relaxed),
            Leaving::AsFound => {}
        }
        self.holder.store(0, Ordering::Relaxed);
        // SAFETY: this thread holds the mutex (the caller says so).
        let r = unsafe { libc::pthread_mutex_unlock(self.mutex.get()) };
        debug_assert_eq!(r, 0, "pthread_mutex_unlock by the holder");
    }

    /// Whether a thread of this process holds the mutex now.
    fn held_by_this_process(&self) -> bool {
        self.holder.load(Ordering::Relaxed) == own_pid()
    }
}

fn check(r: c_int) -> io::Result<()> {
    match r {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// This process's id, kept in memory: `getpid` is a system call, and guards compare it on
/// every use. A fork handler (`pthread_atfork`) updates it in each child.
static OWN_PID: AtomicI32 = AtomicI32::new(0);

/// Reads [`OWN_PID`] after [`init_own_pid`]: every shared object calls that first.
#[inline]
pub(crate) fn own_pid() -> i32 {
    OWN_PID.load(Ordering::Relaxed)
}

/// Fills [`OWN_PID`] and registers the handler that keeps it right after `fork`, once.
pub(crate) fn init_own_pid() {
    static REGISTER: Once = Once::new();
    extern "C" fn in_child() {
        // getpid(2) is async-signal-safe, as a fork handler must be.
        OWN_PID.store(std::process::id() as i32, Ordering::Relaxed);
    }
    REGISTER.call_once(|| {
        OWN_PID.store(std::process::id() as i32, Ordering::Relaxed);
        // SAFETY: `in_child` only stores to an atomic, after getpid; it is registered for
        // the life of the process (a function, never unloaded).
        let r = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
        assert_eq!(r, 0, "pthread_atfork: out of memory");
    });
}

/// A block of shared memory that starts with a [`RobustMutex`], then the state `S` of the
/// object it belongs to (words that processes share, all atomics: zero is each one's
/// first value), then anything else the object keeps there.
///
/// Dropping the last handle of this process unmaps the block, unless a thread of this
/// process still holds the mutex (a guard that was forgotten, `mem::forget`): the C library
/// keeps a held robust mutex on the thread's list, and writes to it when it locks or
/// unlocks another one, or when the thread exits. Unmapped, that memory could be mapped
/// again for something else, and those writes would land there. So it stays mapped.
pub(crate) struct SharedBlock<S> {
    mapping: ManuallyDrop<Mapping>,
    header: NonNull<Header<S>>,
    _state: PhantomData<S>,
}

#[repr(C)]
struct Header<S> {
    mutex: RobustMutex,
    state: S,
}

// SAFETY: the block is shared memory; the mutex is made for use by many threads, the state
// is atomics (`S: Sync`), and what follows the header is reached only through raw pointers
// by the types that say how (under the mutex).
unsafe impl<S: Sync> Send for SharedBlock<S> {}
// SAFETY: as above.
unsafe impl<S: Sync> Sync for SharedBlock<S> {}

impl<S: Sync> SharedBlock<S> {
    /// A new block named `name` (for `/proc/PID/maps`), with room for `extra` bytes after
    /// the header, starting at [`extra_offset`](Self::extra_offset)`(align)`. The state is
    /// all zeros; `init` may set its first values before anyone else can see it.
    pub(crate) fn new(
        name: &CStr,
        extra: usize,
        align: usize,
        init: impl FnOnce(&S),
    ) -> Result<SharedBlock<S>> {
        init_own_pid();
        let len = Self::len(extra, align)
            .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
        let mapping = Mapping::new(name, len)?;
        let header = mapping.ptr().cast::<Header<S>>();
        // SAFETY: the mapping is new (zeroed, writable, shared, page-aligned and at least
        // a header long): nothing else uses it yet.
        unsafe { RobustMutex::init(&raw mut (*header.as_ptr()).mutex) }?;
        let block = SharedBlock {
            mapping: ManuallyDrop::new(mapping),
            header,
            _state: PhantomData,
        };
        init(block.state());
        Ok(block)
    }

    /// The block that another process made with [`new`](Self::new) (named one of `names`,
    /// with room for `extra` bytes aligned to `align`), received as `fd` in the arguments
    /// this process started with: checked (see [`Mapping::receive`]) and mapped, as it is.
    /// Nothing is initialised again: the mutex and the state are live, and another process
    /// may hold the mutex right now.
    pub(crate) fn adopt(
        fd: OwnedFd,
        names: &[&CStr],
        extra: usize,
        align: usize,
    ) -> std::result::Result<SharedBlock<S>, String> {
        init_own_pid();
        let mapping = Mapping::receive(fd, names, Self::len(extra, align)?)?;
        let header = mapping.ptr().cast::<Header<S>>();
        Ok(SharedBlock {
            mapping: ManuallyDrop::new(mapping),
            header,
            _state: PhantomData,
        })
    }

    /// How long a block is with room for `extra` bytes aligned to `align` after the header.
    /// An alignment above a page's cannot hold: the block starts on a page boundary.
    fn len(extra: usize, align: usize) -> std::result::Result<usize, String> {
        if align > MAX_ALIGN {
            return Err(format!(
                "a type aligned to {align} bytes cannot live in shared memory, which is \
                 aligned to a page ({MAX_ALIGN} bytes)"
            ));
        }
        Self::extra_offset(align)
            .checked_add(extra)
            .ok_or_else(|| "too large for memory".to_string())
    }

    /// Where the bytes after the header start, for data aligned to `align` bytes.
    pub(crate) fn extra_offset(align: usize) -> usize {
        size_of::<Header<S>>().next_multiple_of(align)
    }

    /// The descriptor of the block's file, for a process that starts with it (see
    /// `descriptor`).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.mapping.fd()
    }

    /// Decodes a block encoded by its `Serialize`, for the `Deserialize` of `what`: see
    /// [`adopt`](Self::adopt).
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
        what: &str,
        names: &[&CStr],
    ) -> std::result::Result<Arc<SharedBlock<S>>, D::Error> {
        let fd = Descriptor::deserialize(deserializer)?.into_owned();
        let block = SharedBlock::adopt(fd, names, 0, 1).map_err(|why| cannot_receive(what, why))?;
        Ok(Arc::new(block))
    }

    pub(crate) fn mutex(&self) -> &RobustMutex {
        // SAFETY: the header was initialised in `new` (by this process, or by the one that
        // sent it to `adopt`, whose checks say the file is such a block), and the mapping
        // lives as long as self.
        unsafe { &(*self.header.as_ptr()).mutex }
    }

    pub(crate) fn state(&self) -> &S {
        // SAFETY: as for `mutex`; the state is atomics, valid when zeroed.
        unsafe { &(*self.header.as_ptr()).state }
    }

    /// The first byte after the header, aligned to `align`.
    pub(crate) fn extra(&self, align: usize) -> NonNull<u8> {
        // SAFETY: `new` made the mapping `extra_offset(align) + extra` bytes long, and
        // `adopt` checked that a received one is at least that long.
        unsafe { self.mapping.ptr().add(Self::extra_offset(align)) }
    }
}

/// A block is encoded as its descriptor (see `descriptor`): only in the arguments of a
/// process that starts, which maps the same file, and decoded by
/// [`deserialize`](SharedBlock::deserialize).
impl<S: Sync> Serialize for SharedBlock<S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> std::result::Result<Z::Ok, Z::Error> {
        serialize_fd(self.fd(), serializer)
    }
}

impl<S> Drop for SharedBlock<S> {
    fn drop(&mut self) {
        // SAFETY: `self.mapping` is not used again; the header is valid until it goes.
        let mapping = unsafe { ManuallyDrop::take(&mut self.mapping) };
        // SAFETY: the header is still mapped (by `mapping`).
        let mutex = unsafe { &(*self.header.as_ptr()).mutex };
        if mutex.held_by_this_process() {
            mapping.leak();
        }
    }
}
