//! Values in shared memory: Python's `multiprocessing.sharedctypes` (`Value`, `Array`,
//! `RawValue`, `RawArray`), and atomics, which Python lacks.
//!
//! | Python | here |
//! |---|---|
//! | `Value('q', 0)` | [`Value::new`]`(0u64)` |
//! | `v.value`, `v.value = x` | [`v.get()`](Value::get), [`v.set(x)`](Value::set) |
//! | `with v.get_lock(): v.value += 1` | `*v.`[`lock()`](Value::lock)`? += 1` |
//! | `v.get_lock()` | [`v.get_lock()`](Value::get_lock), a [`Lock`] |
//! | `Array('d', 10)`, `Array('d', [1.0, 2.0])` | [`Array::new`]`(10)`, [`Array::from_slice`]`(&[1.0, 2.0])` |
//! | `Value('q', 0, lock=False)`, `RawValue('q', 0)` | [`RawValue::new`]`(0u64)` |
//! | `RawArray('d', 10)` | [`RawArray::new`]`(10)` |
//! | (none) | [`SharedAtomic::new`]`(AtomicU64::new(0))` |
//!
//! # What may be shared: plain old data
//!
//! A value in shared memory is only bytes to the other processes. A pointer or reference
//! there (a `String`, a `Box`, a `&str`) would point into the memory of the process that
//! wrote it, which is a different address space: meaningless, or worse, in the others. So
//! `Value<T>` and `Array<T>` take only types that are [`Shareable`]: `bytemuck`'s [`Pod`]
//! ("plain old data": integers, floats, fixed-size arrays of them, and your own
//! `#[repr(C)]` structs of those, with `#[derive(Pod, Zeroable, Clone, Copy)]`), which
//! the compiler checks. Anything else does not compile.
//!
//! `Pod` also means that *every* bit pattern is a value of the type. That matters here: a
//! process killed in the middle of writing a value, or two processes writing without a
//! lock, can leave a value made of pieces of two writes. For a `u64` or an `f64`, that is
//! only a wrong number; for a `bool` or a `char`, whose other bit patterns are not values
//! at all, it would be undefined behaviour. So `bool` is not `Pod`: keep a flag in a
//! `u8`, a [`SharedAtomic`]`<AtomicBool>` or an [`Event`](crate::Event).
//!
//! # One page each
//!
//! Each `Value`, `Array` or `SharedAtomic` is a memfd of its own, mapped in every process
//! that has it: at least a page (4 KiB) of memory and a file descriptor per object. For
//! many numbers, make one `Array` (or a `Value` of a struct), not many `Value`s.

use std::ffi::CStr;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::os::fd::OwnedFd;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{self, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bytemuck::Pod;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::descriptor::{Descriptor, Lent};
use crate::error::{Error, Result};
use crate::mapping::{MAX_ALIGN, Mapping, cannot_receive};
use crate::synchronize::futex::deadline_after;
use crate::synchronize::robust::init_own_pid;
use crate::synchronize::{Lock, LockGuard};

/// The names of their memfds (`/proc/PID/maps` shows them), which say what made the file.
pub(crate) const VALUE_FILE: &CStr = c"ipc-value";
pub(crate) const ARRAY_FILE: &CStr = c"ipc-array";
const RAW_VALUE_FILE: &CStr = c"ipc-rawvalue";
const RAW_ARRAY_FILE: &CStr = c"ipc-rawarray";

/// A type whose values may live in shared memory: plain old data (`bytemuck`'s [`Pod`]:
/// no pointer, no padding, every bit pattern a value) that threads may share (`Send` and
/// `Sync`, which also keeps out raw pointers). See the [module](self) for why.
///
/// ```compile_fail
/// let name = ipc::Value::new(String::from("a String holds a pointer"))?;
/// # Ok::<(), ipc::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot live in shared memory: it is not plain old data",
    label = "not plain old data (bytemuck::Pod, Send and Sync)",
    note = "a pointer (String, Vec, Box, &T) would point into one process's memory; a bool \
            or char has bit patterns that are not values: use integers, floats, arrays of \
            them, or a #[repr(C)] struct of those with #[derive(Pod, Zeroable, Clone, Copy)]"
)]
pub trait Shareable: Pod + Send + Sync {}

impl<T: Pod + Send + Sync> Shareable for T {}

/// A value in shared memory, with a lock. Python: `multiprocessing.Value`.
///
/// Every access takes the value's [`Lock`]: [`get`](Self::get) and [`set`](Self::set) for
/// one read or one write, [`lock`](Self::lock) for several steps that no other process
/// may cut into (a `+= 1` is a read *and* a write). Make it before starting the processes
/// that use it, and give each a clone: a clone is another handle on the same value.
///
/// ```
/// use ipc::{Process, Value};
///
/// let counter = Value::new(0u64)?;
/// let mut children: Vec<Process> = (0..4)
///     .map(|_| {
///         let counter = counter.clone();
///         Process::new(move || {
///             for _ in 0..1000 {
///                 *counter.lock().unwrap() += 1;
///             }
///         })
///     })
///     .collect();
/// for child in &mut children {
///     child.start()?;
/// }
/// for child in &mut children {
///     child.join()?;
/// }
/// assert_eq!(counter.get()?, 4000); // no update lost
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// If a process dies (or panics) holding the lock, the value may be half-written: the next
/// [`lock`](Self::lock) says so with [`ValueGuard::owner_died`], and [`get`](Self::get)
/// refuses with [`Error::OwnerDied`] until a guard has been dropped or a `set` has written
/// a whole value.
///
/// Python's value lock is an `RLock`, so `with v.get_lock(): v.value += 1` works there.
/// Here the lock is a [`Lock`]: take [`lock`](Self::lock) once and do every step through
/// its guard (a `get` while this thread holds the lock is [`Error::AlreadyHeld`]).
pub struct Value<T> {
    lock: Lock,
    data: NonNull<T>,
}

/// An array in shared memory, with one lock for all of it. Python: `multiprocessing.Array`.
///
/// As for [`Value`]: [`get`](Self::get) and [`set`](Self::set) take the lock for one
/// element, [`to_vec`](Self::to_vec) for all of them, and [`lock`](Self::lock) gives the
/// whole array as a slice for as long as the guard lives.
///
/// ```
/// let squares = ipc::Array::<u32>::new(4)?; // four zeros
/// let mut child = ipc::Process::new({
///     let squares = squares.clone();
///     move || {
///         let mut all = squares.lock().unwrap();
///         for (i, square) in all.iter_mut().enumerate() {
///             *square = (i * i) as u32;
///         }
///     }
/// });
/// child.start()?;
/// child.join()?;
/// assert_eq!(squares.to_vec()?, [0, 1, 4, 9]);
/// # Ok::<(), ipc::Error>(())
/// ```
pub struct Array<T> {
    lock: Lock,
    data: NonNull<T>,
    len: usize,
}

// SAFETY: the data is shared memory that every process and thread reaches only under the
// lock (the methods and guards below), and `T: Send + Sync` (see `Shareable`).
unsafe impl<T: Send + Sync> Send for Value<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Value<T> {}
// SAFETY: as for `Value`.
unsafe impl<T: Send + Sync> Send for Array<T> {}
// SAFETY: as for `Value`.
unsafe impl<T: Send + Sync> Sync for Array<T> {}

impl<T> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value {
            lock: self.lock.clone(),
            data: self.data,
        }
    }
}

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            lock: self.lock.clone(),
            data: self.data,
            len: self.len,
        }
    }
}

impl<T> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<T: Shareable> Value<T> {
    /// A new value in shared memory, with its own lock. Python: `Value(typecode, value)`.
    ///
    /// ```
    /// let pages = ipc::Value::new(0u64)?;
    /// let ratio = ipc::Value::new(0.5f64)?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn new(value: T) -> Result<Value<T>> {
        let (lock, data) = Lock::with_room(VALUE_FILE, size_of::<T>(), align_of::<T>())?;
        let data = data.cast::<T>();
        // SAFETY: `data` is in the new block, aligned and with room for a T; nothing else
        // can see the block yet.
        unsafe { data.as_ptr().write(value) };
        Ok(Value { lock, data })
    }

    /// A copy of the value, read under the lock. Python: `v.value`.
    ///
    /// [`Error::OwnerDied`] if a holder of the lock died (or panicked) and no holder has
    /// repaired the value since: it may be half-written. [`Error::AlreadyHeld`] if this
    /// thread holds the lock (through a guard of [`lock`](Self::lock)).
    pub fn get(&self) -> Result<T> {
        let guard = self.lock.acquire()?;
        if guard.owner_died() {
            guard.release_torn();
            return Err(Error::OwnerDied);
        }
        // SAFETY: this thread holds the lock, under which every access to the data is
        // made; the data is a T (`Pod`: any bytes are one).
        Ok(unsafe { self.data.as_ptr().read() })
    }

    /// Writes the value under the lock. Python: `v.value = x`. A whole value written
    /// repairs one that a dead holder left half-written.
    pub fn set(&self, value: T) -> Result<()> {
        let _guard = self.lock.acquire()?;
        // SAFETY: as in `get`.
        unsafe { self.data.as_ptr().write(value) };
        Ok(())
    }

    /// Takes the lock and gives the value, to read and change in place for as long as the
    /// guard lives. Python: `with v.get_lock():` and `v.value` inside.
    ///
    /// ```
    /// let total = ipc::Value::new(10u64)?;
    /// let mut guard = total.lock()?;
    /// *guard += 5; // read and write, and no process can cut in between
    /// drop(guard);
    /// assert_eq!(total.get()?, 15);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn lock(&self) -> Result<ValueGuard<'_, T>> {
        let guard = self.lock.acquire()?;
        Ok(ValueGuard {
            guard,
            data: self.data,
        })
    }

    /// Like [`lock`](Self::lock), but waits at most `timeout`: `None` if the lock was
    /// still held by then.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Option<ValueGuard<'_, T>>> {
        let guard = self.lock.acquire_until(deadline_after(timeout).as_ref())?;
        Ok(guard.map(|guard| ValueGuard {
            guard,
            data: self.data,
        }))
    }

    /// The value's lock. Python: `v.get_lock()`. [`lock`](Self::lock) takes it and gives
    /// the value too; acquired on its own, it keeps the value from other processes while
    /// you do something else.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }
}

impl<T: Shareable> Array<T> {
    /// A new array of `len` zeros (all bytes zero). Python: `Array(typecode, len)`.
    pub fn new(len: usize) -> Result<Array<T>> {
        let bytes = len.checked_mul(size_of::<T>()).ok_or_else(too_large)?;
        let (lock, data) = Lock::with_room(ARRAY_FILE, bytes, align_of::<T>())?;
        // The memory of a new block is zeros, which is a T (`Pod: Zeroable`).
        Ok(Array {
            lock,
            data: data.cast(),
            len,
        })
    }

    /// A new array holding a copy of `values`. Python: `Array(typecode, [values…])`.
    ///
    /// ```
    /// let primes = ipc::Array::from_slice(&[2u8, 3, 5, 7])?;
    /// assert_eq!(primes.get(3)?, 7);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn from_slice(values: &[T]) -> Result<Array<T>> {
        let array = Array::<T>::new(values.len())?;
        // SAFETY: the new block has room for `len` T's at `data`, aligned; nothing else
        // can see it yet, and `values` is other memory.
        unsafe {
            array
                .data
                .as_ptr()
                .copy_from_nonoverlapping(values.as_ptr(), values.len())
        };
        Ok(array)
    }

    /// How many elements it has. Python: `len(a)`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of element `i`, read under the lock. Python: `a[i]`. Panics if `i` is out of
    /// bounds (Python raises `IndexError`); errors as for [`Value::get`].
    pub fn get(&self, i: usize) -> Result<T> {
        self.check_index(i);
        let guard = self.lock.acquire()?;
        if guard.owner_died() {
            guard.release_torn();
            return Err(Error::OwnerDied);
        }
        // SAFETY: `i` is in bounds; this thread holds the lock (see `Value::get`).
        Ok(unsafe { self.data.as_ptr().add(i).read() })
    }

    /// Writes element `i` under the lock. Python: `a[i] = x`. Panics if `i` is out of
    /// bounds. One element does not repair an array a dead holder left half-written:
    /// [`Error::OwnerDied`] then, as for [`get`](Self::get); repair it through
    /// [`lock`](Self::lock).
    pub fn set(&self, i: usize, value: T) -> Result<()> {
        self.check_index(i);
        let guard = self.lock.acquire()?;
        if guard.owner_died() {
            guard.release_torn();
            return Err(Error::OwnerDied);
        }
        // SAFETY: as in `get`.
        unsafe { self.data.as_ptr().add(i).write(value) };
        Ok(())
    }

    /// A copy of every element, read under the lock. Python: `a[:]`.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let guard = self.lock.acquire()?;
        if guard.owner_died() {
            guard.release_torn();
            return Err(Error::OwnerDied);
        }
        // SAFETY: as in `get`; the slice is dropped before the guard.
        Ok(unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }.to_vec())
    }

    /// Takes the lock and gives the whole array as a slice, for as long as the guard lives.
    pub fn lock(&self) -> Result<ValueGuard<'_, [T]>> {
        let guard = self.lock.acquire()?;
        Ok(ValueGuard {
            guard,
            data: NonNull::slice_from_raw_parts(self.data, self.len),
        })
    }

    /// Like [`lock`](Self::lock), but waits at most `timeout`: `None` if the lock was
    /// still held by then.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Option<ValueGuard<'_, [T]>>> {
        let guard = self.lock.acquire_until(deadline_after(timeout).as_ref())?;
        Ok(guard.map(|guard| ValueGuard {
            guard,
            data: NonNull::slice_from_raw_parts(self.data, self.len),
        }))
    }

    /// The array's lock. Python: `a.get_lock()`.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    fn check_index(&self, i: usize) {
        assert!(
            i < self.len,
            "index {i} out of bounds: the array has {}",
            self.len
        );
    }
}

/// A `Value` can go to a process as it starts, in its arguments (see [`Descriptor`]) or
/// its pool's initializer's, with the forkserver and spawn methods: the new process maps
/// the same memory, and the value and its lock are one for both (a holder killed there is
/// reported here). That is how Python pickles a
/// `Value` for a new process. Not in a message or a pool's task, which Python refuses too
/// ("Synchronized objects should only be shared between processes through inheritance").
/// The size and alignment of `T` go with it, and the receiver checks them, and the file.
impl<T: Shareable> Serialize for Value<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        (Lent(self.lock.fd()), Layout::of::<T>()).serialize(serializer)
    }
}

/// Checks what it receives before it maps it: a value's memory, with room for a `T`.
impl<'de, T: Shareable> Deserialize<'de> for Value<T> {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Value<T>, D::Error> {
        let (fd, layout) = <(Descriptor, Layout)>::deserialize(deserializer)?;
        let (lock, data) = layout
            .check::<T>()
            .and_then(|()| {
                Lock::adopt_room(fd.into_owned(), VALUE_FILE, size_of::<T>(), align_of::<T>())
            })
            .map_err(|why| cannot_receive("a Value", why))?;
        Ok(Value {
            lock,
            data: data.cast(),
        })
    }
}

/// An `Array` goes to a process as it starts, in its arguments, as a [`Value`] does; its
/// length goes with it.
impl<T: Shareable> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        (Lent(self.lock.fd()), Layout::of::<T>(), self.len as u64).serialize(serializer)
    }
}

/// Checks what it receives before it maps it: an array's memory, with room for its `len`
/// elements.
impl<'de, T: Shareable> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Array<T>, D::Error> {
        let (fd, layout, len) = <(Descriptor, Layout, u64)>::deserialize(deserializer)?;
        let received = layout.check::<T>().and_then(|()| {
            let (len, bytes) = room_for::<T>(len)?;
            let (lock, data) =
                Lock::adopt_room(fd.into_owned(), ARRAY_FILE, bytes, align_of::<T>())?;
            Ok(Array {
                lock,
                data: data.cast(),
                len,
            })
        });
        received.map_err(|why| cannot_receive("an Array", why))
    }
}

/// What the sender of a shared object says of the type in its memory. Both processes run
/// the same program, and the receiving function's signature fixes the type, so they
/// agree; an argument that says otherwise was not made by this crate, and is refused.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Layout {
    size: u64,
    align: u64,
}

impl Layout {
    fn of<T>() -> Layout {
        Layout {
            size: size_of::<T>() as u64,
            align: align_of::<T>() as u64,
        }
    }

    /// Whether this process's `T` is the type the sender's memory holds.
    fn check<T>(&self) -> std::result::Result<(), String> {
        let here = Layout::of::<T>();
        if *self == here {
            return Ok(());
        }
        Err(format!(
            "it holds a type of {} bytes aligned to {}, and this process's is {} bytes \
             aligned to {}",
            self.size, self.align, here.size, here.align
        ))
    }
}

/// The length `len` sent with an array, and how many bytes its elements take.
fn room_for<T>(len: u64) -> std::result::Result<(usize, usize), String> {
    usize::try_from(len)
        .ok()
        .and_then(|len| Some((len, len.checked_mul(size_of::<T>())?)))
        .ok_or_else(|| format!("a length of {len} is too large for memory"))
}

/// Access to the data of a [`Value`] (a `T`) or an [`Array`] (a `[T]`) while holding its
/// lock; dropping it releases the lock. Not `Send`: it stays in the thread that locked.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ValueGuard<'a, T: ?Sized> {
    guard: LockGuard<'a>,
    data: NonNull<T>,
}

impl<T: ?Sized> ValueGuard<'_, T> {
    /// Whether a previous holder died (or panicked) while it held the lock, so that the
    /// data may be half-written: repair it through this guard before dropping it. See
    /// [`LockGuard::owner_died`].
    pub fn owner_died(&self) -> bool {
        self.guard.owner_died()
    }
}

impl<T: ?Sized> Deref for ValueGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.guard.check_process();
        // SAFETY: this thread holds the lock (checked: in this process; and the guard is
        // not Send), and every access to the data is made under it, so nothing else reads
        // or writes it while this borrow lives. It is valid data (`Pod`), in a mapping
        // that the `Value` or `Array` this guard borrows keeps alive.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.check_process();
        // SAFETY: as in `deref`; `&mut self` makes this borrow the only one.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A value in shared memory with no lock. Python: `RawValue`, or `Value(…, lock=False)`.
///
/// [`get`](Self::get) and [`set`](Self::set) each copy the value at once, but nothing
/// keeps another process from writing between your `get` and your `set`: a `+= 1` made of
/// the two loses updates when processes race, which chapter 7 counts. Each piece of the
/// copy is an atomic access (of up to 8 bytes), so a race is never undefined behaviour;
/// a value wider than that can be read half old, half new.
///
/// ```
/// let hits = ipc::RawValue::new(0u32)?;
/// hits.set(hits.get() + 1); // fine in one process; loses updates in several
/// assert_eq!(hits.get(), 1);
/// # Ok::<(), ipc::Error>(())
/// ```
pub struct RawValue<T> {
    mapping: Arc<Mapping>,
    data: NonNull<T>,
}

/// An array in shared memory with no lock. Python: `RawArray`, or `Array(…, lock=False)`.
/// Each element is copied as [`RawValue`] copies its value.
pub struct RawArray<T> {
    mapping: Arc<Mapping>,
    data: NonNull<T>,
    len: usize,
}

// SAFETY: the data is shared memory reached only by atomic accesses (see `atomic_read` and
// `atomic_write`), and `T: Send + Sync`.
unsafe impl<T: Send + Sync> Send for RawValue<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RawValue<T> {}
// SAFETY: as for `RawValue`.
unsafe impl<T: Send + Sync> Send for RawArray<T> {}
// SAFETY: as for `RawValue`.
unsafe impl<T: Send + Sync> Sync for RawArray<T> {}

impl<T> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        RawValue {
            mapping: Arc::clone(&self.mapping),
            data: self.data,
        }
    }
}

impl<T> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        RawArray {
            mapping: Arc::clone(&self.mapping),
            data: self.data,
            len: self.len,
        }
    }
}

impl<T> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawValue").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawArray")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A new mapping with room for `len` values of `T` (at least one byte: an empty file
/// cannot be mapped), all zero.
fn raw_mapping<T>(name: &CStr, len: usize) -> Result<Arc<Mapping>> {
    init_own_pid();
    check_align::<T>().map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidInput, why))?;
    let bytes = len.checked_mul(size_of::<T>()).ok_or_else(too_large)?;
    Ok(Arc::new(Mapping::new(name, bytes.max(1))?))
}

/// The mapping of a raw object that another process made with [`raw_mapping`] (named
/// `name`, for `len` values of `T`) and sent as `fd`: checked, then mapped as it is.
fn adopt_raw_mapping<T>(
    fd: OwnedFd,
    name: &CStr,
    len: usize,
) -> std::result::Result<Arc<Mapping>, String> {
    init_own_pid();
    check_align::<T>()?;
    let bytes = len
        .checked_mul(size_of::<T>())
        .ok_or_else(|| format!("a length of {len} is too large for memory"))?;
    Ok(Arc::new(Mapping::receive(fd, &[name], bytes.max(1))?))
}

/// A mapping starts on a page boundary: a type aligned to more cannot be placed in one.
fn check_align<T>() -> std::result::Result<(), String> {
    if align_of::<T>() > MAX_ALIGN {
        return Err(format!(
            "a type aligned to {} bytes cannot live in shared memory, which is aligned to a \
             page ({MAX_ALIGN} bytes)",
            align_of::<T>()
        ));
    }
    Ok(())
}

impl<T: Shareable> RawValue<T> {
    /// A new value in shared memory, without a lock.
    pub fn new(value: T) -> Result<RawValue<T>> {
        let mapping = raw_mapping::<T>(RAW_VALUE_FILE, 1)?;
        let data = mapping.ptr().cast();
        let raw = RawValue { mapping, data };
        raw.set(value);
        Ok(raw)
    }

    /// A copy of the value, as it is now.
    pub fn get(&self) -> T {
        // SAFETY: `data` is a T in the mapping this handle keeps, aligned (at the start of
        // a page); every access to it is atomic.
        unsafe { atomic_read(self.data) }
    }

    /// Writes the value.
    pub fn set(&self, value: T) {
        // SAFETY: as in `get`.
        unsafe { atomic_write(self.data, value) }
    }
}

impl<T: Shareable> RawArray<T> {
    /// A new array of `len` zeros, without a lock.
    pub fn new(len: usize) -> Result<RawArray<T>> {
        let mapping = raw_mapping::<T>(RAW_ARRAY_FILE, len)?;
        let data = mapping.ptr().cast();
        Ok(RawArray { mapping, data, len })
    }

    /// A new array holding a copy of `values`, without a lock.
    pub fn from_slice(values: &[T]) -> Result<RawArray<T>> {
        let array = RawArray::new(values.len())?;
        for (i, value) in values.iter().enumerate() {
            array.set(i, *value);
        }
        Ok(array)
    }

    /// How many elements it has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of element `i`. Panics if `i` is out of bounds.
    pub fn get(&self, i: usize) -> T {
        // SAFETY: in bounds (`element` checks), aligned, and accessed only atomically.
        unsafe { atomic_read(self.element(i)) }
    }

    /// Writes element `i`. Panics if `i` is out of bounds.
    pub fn set(&self, i: usize, value: T) {
        // SAFETY: as in `get`.
        unsafe { atomic_write(self.element(i), value) }
    }

    /// A copy of every element, each as [`get`](Self::get) reads it.
    pub fn to_vec(&self) -> Vec<T> {
        (0..self.len).map(|i| self.get(i)).collect()
    }

    fn element(&self, i: usize) -> NonNull<T> {
        assert!(
            i < self.len,
            "index {i} out of bounds: the array has {}",
            self.len
        );
        // SAFETY: `i < len`, and the mapping holds `len` T's.
        unsafe { self.data.add(i) }
    }
}

/// A `RawValue` goes to a process as it starts, in its arguments, as a [`Value`] does: the
/// same memory in both, no lock.
impl<T: Shareable> Serialize for RawValue<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        (Lent(self.mapping.fd()), Layout::of::<T>()).serialize(serializer)
    }
}

/// Checks what it receives before it maps it: a raw value's memory, with room for a `T`.
impl<'de, T: Shareable> Deserialize<'de> for RawValue<T> {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<RawValue<T>, D::Error> {
        let (fd, layout) = <(Descriptor, Layout)>::deserialize(deserializer)?;
        let mapping = layout
            .check::<T>()
            .and_then(|()| adopt_raw_mapping::<T>(fd.into_owned(), RAW_VALUE_FILE, 1))
            .map_err(|why| cannot_receive("a RawValue", why))?;
        let data = mapping.ptr().cast();
        Ok(RawValue { mapping, data })
    }
}

/// A `RawArray` goes to a process as it starts, in its arguments, as a [`Value`] does; its
/// length goes with it.
impl<T: Shareable> Serialize for RawArray<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        (Lent(self.mapping.fd()), Layout::of::<T>(), self.len as u64).serialize(serializer)
    }
}

/// Checks what it receives before it maps it: a raw array's memory, with room for its
/// `len` elements.
impl<'de, T: Shareable> Deserialize<'de> for RawArray<T> {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<RawArray<T>, D::Error> {
        let (fd, layout, len) = <(Descriptor, Layout, u64)>::deserialize(deserializer)?;
        let received = layout.check::<T>().and_then(|()| {
            let (len, _) = room_for::<T>(len)?;
            let mapping = adopt_raw_mapping::<T>(fd.into_owned(), RAW_ARRAY_FILE, len)?;
            let data = mapping.ptr().cast();
            Ok(RawArray { mapping, data, len })
        });
        received.map_err(|why| cannot_receive("a RawArray", why))
    }
}

fn too_large() -> Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, "too large for memory").into()
}

/// An integer with an atomic type of the same width: a piece of an atomic copy.
trait Piece: Pod {
    /// # Safety
    ///
    /// `at` is valid and aligned for `Self`, and accessed only atomically.
    unsafe fn load(at: NonNull<Self>) -> Self;
    /// # Safety
    ///
    /// As for `load`.
    unsafe fn store(at: NonNull<Self>, value: Self);
}

macro_rules! piece {
    ($($int:ty: $atomic:ident),*) => {$(
        impl Piece for $int {
            unsafe fn load(at: NonNull<Self>) -> Self {
                // SAFETY: valid, aligned and only accessed atomically (the caller's promise).
                unsafe { $atomic::from_ptr(at.as_ptr()) }.load(Ordering::Relaxed)
            }

            unsafe fn store(at: NonNull<Self>, value: Self) {
                // SAFETY: valid, aligned and only accessed atomically (the caller's promise).
                unsafe { $atomic::from_ptr(at.as_ptr()) }.store(value, Ordering::Relaxed)
            }
        }
    )*};
}

piece!(u8: AtomicU8, u16: AtomicU16, u32: AtomicU32, u64: AtomicU64);

/// Reads the `T` at `src` piece by piece, each with one atomic load. The pieces are as wide
/// as `T`'s alignment, up to 8 bytes; a `T`'s size is a multiple of its alignment, so they
/// cover it exactly.
///
/// # Safety
///
/// `src` is valid and aligned for a `T`, and every concurrent access to it is made by
/// these two functions for the same `T` (so the pieces are the same size).
unsafe fn atomic_read<T: Pod>(src: NonNull<T>) -> T {
    /// # Safety: as for `atomic_read`.
    unsafe fn in_pieces<T: Pod, P: Piece>(src: NonNull<T>) -> T {
        let mut value = T::zeroed();
        let pieces: &mut [P] = bytemuck::cast_slice_mut(bytemuck::bytes_of_mut(&mut value));
        for (i, piece) in pieces.iter_mut().enumerate() {
            // SAFETY: piece `i` of the `T` at `src`, aligned for `P` (which is no wider than
            // `T`'s alignment) and accessed only atomically (the caller's promise).
            *piece = unsafe { P::load(src.cast::<P>().add(i)) };
        }
        value
    }
    // SAFETY: the caller's promise, passed on.
    unsafe {
        match align_of::<T>() {
            1 => in_pieces::<T, u8>(src),
            2 => in_pieces::<T, u16>(src),
            4 => in_pieces::<T, u32>(src),
            _ => in_pieces::<T, u64>(src),
        }
    }
}

/// Writes `value` at `dst` piece by piece, each with one atomic store (see `atomic_read`).
///
/// # Safety
///
/// As for [`atomic_read`].
unsafe fn atomic_write<T: Pod>(dst: NonNull<T>, value: T) {
    /// # Safety: as for `atomic_write`.
    unsafe fn in_pieces<T: Pod, P: Piece>(dst: NonNull<T>, value: T) {
        let pieces: &[P] = bytemuck::cast_slice(bytemuck::bytes_of(&value));
        for (i, piece) in pieces.iter().enumerate() {
            // SAFETY: as in `atomic_read`.
            unsafe { P::store(dst.cast::<P>().add(i), *piece) };
        }
    }
    // SAFETY: the caller's promise, passed on.
    unsafe {
        match align_of::<T>() {
            1 => in_pieces::<T, u8>(dst, value),
            2 => in_pieces::<T, u16>(dst, value),
            4 => in_pieces::<T, u32>(dst, value),
            _ => in_pieces::<T, u64>(dst, value),
        }
    }
}

mod sealed {
    pub trait Sealed {
        /// The name of the memfd of a `SharedAtomic` of this type, which says which type
        /// made the file: an `AtomicU8`'s is not received as an `AtomicBool`'s.
        const FILE: &'static std::ffi::CStr;
        /// Whether this is `AtomicBool`, whose only values are 0 and 1: other bytes are
        /// checked for when one is received.
        const IS_BOOL: bool = false;
    }
}

/// The atomic types of `std::sync::atomic` that may live in shared memory. They are
/// lock-free (Rust has no atomic type that would need a lock), so every process can use
/// the same one: the processor makes each operation atomic, not a lock in one process.
pub trait SharedAtomicType: sealed::Sealed + Send + Sync + 'static {}

macro_rules! shared_atomic_types {
    ($($atomic:ident: $file:literal),*) => {$(
        impl sealed::Sealed for atomic::$atomic {
            const FILE: &'static CStr = $file;
        }
        impl SharedAtomicType for atomic::$atomic {}
    )*};
}

shared_atomic_types!(
    AtomicI8: c"ipc-atomic-i8",
    AtomicI16: c"ipc-atomic-i16",
    AtomicI32: c"ipc-atomic-i32",
    AtomicI64: c"ipc-atomic-i64",
    AtomicIsize: c"ipc-atomic-isize",
    AtomicU8: c"ipc-atomic-u8",
    AtomicU16: c"ipc-atomic-u16",
    AtomicU32: c"ipc-atomic-u32",
    AtomicU64: c"ipc-atomic-u64",
    AtomicUsize: c"ipc-atomic-usize"
);

impl sealed::Sealed for atomic::AtomicBool {
    const FILE: &'static CStr = c"ipc-atomic-bool";
    const IS_BOOL: bool = true;
}
impl SharedAtomicType for atomic::AtomicBool {}

/// One of `std`'s atomics, in shared memory: every operation of the atomic type, across
/// processes, with no lock. Python has none (its `Value` always takes a lock).
///
/// It dereferences to the atomic, so it is used like one:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let counter = ipc::SharedAtomic::new(AtomicU64::new(0))?;
/// let mut child = ipc::Process::new({
///     let counter = counter.clone();
///     move || {
///         counter.fetch_add(1, Ordering::Relaxed);
///     }
/// });
/// child.start()?;
/// counter.fetch_add(1, Ordering::Relaxed);
/// child.join()?;
/// assert_eq!(counter.load(Ordering::Relaxed), 2);
/// # Ok::<(), ipc::Error>(())
/// ```
pub struct SharedAtomic<A> {
    mapping: Arc<Mapping>,
    atomic: NonNull<A>,
    _atomic: PhantomData<A>,
}

// SAFETY: the atomic is shared memory reached only through `&A`, and atomics are made to
// be shared (`A: Send + Sync`).
unsafe impl<A: SharedAtomicType> Send for SharedAtomic<A> {}
// SAFETY: as above.
unsafe impl<A: SharedAtomicType> Sync for SharedAtomic<A> {}

impl<A> Clone for SharedAtomic<A> {
    fn clone(&self) -> Self {
        SharedAtomic {
            mapping: Arc::clone(&self.mapping),
            atomic: self.atomic,
            _atomic: PhantomData,
        }
    }
}

impl<A: SharedAtomicType + fmt::Debug> fmt::Debug for SharedAtomic<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedAtomic").field(&**self).finish()
    }
}

impl<A: SharedAtomicType> SharedAtomic<A> {
    /// Moves `atomic` (with its value) into new shared memory.
    pub fn new(atomic: A) -> Result<SharedAtomic<A>> {
        let mapping = raw_mapping::<A>(A::FILE, 1)?;
        let ptr = mapping.ptr().cast::<A>();
        // SAFETY: the mapping is new, page-aligned and holds an A; nothing else sees it.
        unsafe { ptr.as_ptr().write(atomic) };
        Ok(SharedAtomic {
            mapping,
            atomic: ptr,
            _atomic: PhantomData,
        })
    }
}

impl<A: SharedAtomicType> Deref for SharedAtomic<A> {
    type Target = A;

    fn deref(&self) -> &A {
        // SAFETY: an A lives there (written in `new`, by this process or by the one that
        // sent it, which the checks on receipt vouch for), in the mapping this handle keeps;
        // every access to it is through `&A`, an atomic's shared reference.
        unsafe { self.atomic.as_ref() }
    }
}

/// A `SharedAtomic` goes to a process as it starts, in its arguments (see [`Descriptor`])
/// or its pool's initializer's, with the forkserver and spawn methods: the new process
/// maps the same memory, and its operations are atomic across both. Not in a message or a
/// pool's task, like every shared object here (Python has no shared atomic, but refuses
/// its other shared values there).
impl<A: SharedAtomicType> Serialize for SharedAtomic<A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        (Lent(self.mapping.fd()), Layout::of::<A>()).serialize(serializer)
    }
}

/// Checks what it receives before it maps it: the memory of a `SharedAtomic` of this very
/// type, holding one of its values (an `AtomicBool` only 0 or 1).
impl<'de, A: SharedAtomicType> Deserialize<'de> for SharedAtomic<A> {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<SharedAtomic<A>, D::Error> {
        let (fd, layout) = <(Descriptor, Layout)>::deserialize(deserializer)?;
        let mapping = layout
            .check::<A>()
            .and_then(|()| adopt_raw_mapping::<A>(fd.into_owned(), A::FILE, 1))
            .map_err(|why| cannot_receive("a SharedAtomic", why))?;
        let atomic = mapping.ptr().cast::<A>();
        if A::IS_BOOL {
            // SAFETY: the mapping holds at least one byte (checked), aligned, accessed only
            // atomically (by `SharedAtomic`s of this type, in any process).
            let byte =
                unsafe { AtomicU8::from_ptr(mapping.ptr().as_ptr()) }.load(Ordering::Relaxed);
            if byte > 1 {
                let why = format!("it holds {byte}, which is not a bool (0 or 1)");
                return Err(cannot_receive("a SharedAtomic<AtomicBool>", why));
            }
        }
        Ok(SharedAtomic {
            mapping,
            atomic,
            _atomic: PhantomData,
        })
    }
}
