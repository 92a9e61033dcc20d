//! Where a map's items wait for its workers: in memory shared with them, which the pool
//! keeps from one map to the next.
//!
//! A map collects its items before it forks, so that every worker has them. Collected
//! into a vector of their own, they are written to fresh memory at every call, and the
//! first write to each page is a page fault (the kernel hands out a zeroed page): about
//! 1.5 to 2.5 µs a page on the benchmark's machine, 200 pages for 100 000 numbers, a
//! fifth of a whole map. Keeping the vector from one map to the next would not be enough:
//! `fork` marks every private page of the parent copy-on-write, so the next map's first
//! write to each of them faults again. Pages of a *shared* mapping (`MAP_SHARED`) are not
//! marked: the parent and its workers map the same pages, and the parent writes them
//! again at the next map with no fault. (`fork` copies no page table entries for them
//! either: a worker maps the pages it reads as it reads them.)
//!
//! Sharing is safe because each slot has one owner at a time, and only its owner touches
//! it: the parent while it collects the items; then the worker given the slot's chunk,
//! which moves the item out and never writes the slot; or, for an item never handed out,
//! the parent again, which drops it once its workers are gone. The mapping is lent to
//! one map at a time, and lent again only after that map's workers have been reaped.
//! Every process forked from the parent has the mapping too, and a copy of the pool that
//! keeps it (a worker whose function maps on a clone of the pool, a `Process`): so the
//! memory is lent only in the process that mapped it, and the items are dropped only in
//! the process that collected them. Another process drops its view of the memory instead
//! of lending it, and maps its own.

use std::io;
use std::mem::{ManuallyDrop, align_of, size_of};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, PoisonError};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use nix::unistd::{Pid, getpid};

/// The most memory a pool keeps between two maps: enough for 2 million numbers. A map of
/// more items maps its own, and gives it back to the kernel when it is done.
const KEPT_AT_MOST: usize = 16 * 1024 * 1024;

/// The memory a pool keeps for the items of its next map (shared by the pool's clones).
#[derive(Clone, Default)]
pub(super) struct Kept(Arc<Mutex<Option<Shared>>>);

impl Kept {
    /// The kept memory, if it holds at least `bytes`.
    fn take(&self, bytes: usize) -> Option<Shared> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Memory mapped in another process (this one is a fork of it) is that process's
        // to lend, and its maps write there: drop this process's view of it. (Lent here,
        // two processes would write items into the same slots while each other's workers
        // read them.)
        if kept.as_ref().is_some_and(|memory| memory.owner != getpid()) {
            *kept = None;
        }
        kept.take_if(|memory| memory.len >= bytes)
    }

    /// Keeps `memory` for the next map, if it is bigger than what is kept already (and not
    /// too big to keep).
    fn give_back(&self, memory: Shared) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let bigger = kept.as_ref().is_none_or(|old| old.len < memory.len);
        if bigger && memory.len <= KEPT_AT_MOST {
            *kept = Some(memory);
        }
    }
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        write!(
            f,
            "{} bytes kept",
            kept.as_ref().map_or(0, |memory| memory.len)
        )
    }
}

/// An anonymous shared mapping: `len` bytes, a whole number of pages, all zero at first.
/// Unmapped when dropped (in each process, its own view of it).
struct Shared {
    ptr: NonNull<u8>,
    len: usize,
    /// The process that mapped it: the only one that lends it.
    owner: Pid,
}

// SAFETY: a `Shared` is an address range, valid in every thread of the process; what is
// read or written there, and by whom, is for `Items` to say.
unsafe impl Send for Shared {}

impl Shared {
    fn new(len: usize) -> io::Result<Shared> {
        let page = page_size();
        let len = len
            .checked_next_multiple_of(page)
            .ok_or(io::ErrorKind::OutOfMemory)?;
        let nonzero = NonZeroUsize::new(len).ok_or(io::ErrorKind::InvalidInput)?;
        // SAFETY: a new mapping at an address the kernel chooses overlaps nothing that Rust
        // owns; its `len` bytes are valid (and zero) until it is unmapped.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                nonzero,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }?;
        Ok(Shared {
            ptr: ptr.cast(),
            len,
            owner: getpid(),
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are this mapping's own, made by `mmap` above; the only
        // references into it are `Items`' slots, which borrow the `Items` that owns this.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// The system's page size (4 KiB unless it says otherwise).
pub(super) fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|size| usize::try_from(size).ok())
        .unwrap_or(4096)
}

/// The items of one map, in slots the workers read: a `Vec<ManuallyDrop<T>>` in shared
/// memory. The items handed out belong to the workers, and are never dropped here.
pub(super) struct Items<T> {
    /// `None` while no bytes are needed: no items yet, or items of no size.
    memory: Option<Shared>,
    /// The first slot, aligned for a `T`, in `memory`.
    slots: NonNull<ManuallyDrop<T>>,
    /// How many slots fit in `memory`.
    capacity: usize,
    len: usize,
    /// Items before this position have been handed out; the others are still the parent's.
    handed_out: usize,
    /// The process that collected the items: the only one that drops them.
    owner: Pid,
    kept: Kept,
}

// SAFETY: `Items` owns its `T`s as a vector does, so it may go to another thread when they
// may, and be shared between threads when they may (it hands out `&mut` slots only through
// `&mut self`).
unsafe impl<T: Send> Send for Items<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Items<T> {}

impl<T> Items<T> {
    /// Collects `items`, into the memory `kept` holds if it is big enough for all of them.
    pub(super) fn collect(items: impl IntoIterator<Item = T>, kept: &Kept) -> io::Result<Items<T>> {
        let items = items.into_iter();
        let mut collected = Items {
            memory: None,
            slots: NonNull::dangling(),
            capacity: if size_of::<T>() == 0 { usize::MAX } else { 0 },
            len: 0,
            handed_out: 0,
            owner: getpid(),
            kept: kept.clone(),
        };
        collected.reserve(items.size_hint().0)?;
        for item in items {
            if collected.len == collected.capacity {
                collected.reserve(collected.len + 1)?;
            }
            // SAFETY: slot `len` is below `capacity`, so inside `memory` (or of no size),
            // aligned for a `T`, and holds no item yet; nothing else refers to it.
            unsafe {
                collected
                    .slots
                    .add(collected.len)
                    .write(ManuallyDrop::new(item))
            };
            collected.len += 1;
        }
        Ok(collected)
    }

    /// Makes room for at least `slots` items, at least twice what there was: the kept
    /// memory if it is big enough, or a new mapping, into which the items so far move.
    fn reserve(&mut self, slots: usize) -> io::Result<()> {
        if slots <= self.capacity {
            return Ok(());
        }
        let slots = slots.max(2 * self.capacity);
        let align = align_of::<T>();
        // Room to move the start to a multiple of an alignment beyond a page's.
        let padding = if align > page_size() { align } else { 0 };
        let bytes = slots
            .checked_mul(size_of::<T>())
            .and_then(|bytes| bytes.checked_add(padding))
            .ok_or(io::ErrorKind::OutOfMemory)?;
        let memory = match self.kept.take(bytes) {
            Some(memory) => memory,
            None => Shared::new(bytes)?,
        };
        let offset = memory.ptr.align_offset(align);
        // SAFETY: `offset` is at most `padding`, within the mapping's `bytes` or more.
        let start: NonNull<ManuallyDrop<T>> = unsafe { memory.ptr.add(offset) }.cast();
        // SAFETY: the first `len` slots hold items; the new memory has room for all of
        // them at `start`, aligned for a `T`, and is another mapping, so the two ranges do
        // not overlap. The items move bitwise, as any Rust value may; the old slots are
        // not read again (their memory is unmapped below).
        unsafe { std::ptr::copy_nonoverlapping(self.slots.as_ptr(), start.as_ptr(), self.len) };
        self.capacity = (memory.len - offset) / size_of::<T>();
        self.slots = start;
        self.memory = Some(memory);
        Ok(())
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The slots, for the workers forked next to take their chunks' items from: only in
    /// the process that collected the items. A copy of the map in another process (an
    /// `imap` iterator moved into a `Process`) must not fork workers that read slots
    /// which the owner writes again at its next map.
    pub(super) fn slots(&mut self) -> io::Result<&mut [ManuallyDrop<T>]> {
        if getpid() != self.owner {
            let why =
                "the items of a map can be handed out only by the process that collected them";
            return Err(io::Error::other(why));
        }
        Ok(self.owned_slots())
    }

    /// The slots, in the process that collected the items.
    fn owned_slots(&mut self) -> &mut [ManuallyDrop<T>] {
        // SAFETY: the first `len` slots hold items written by `collect`, in memory that
        // stays mapped as long as `self`, which the slice borrows. Only this process
        // writes them (it collected them, and lends the memory only once they are gone),
        // and a worker takes only the items handed to it, which this process then leaves
        // alone.
        unsafe { std::slice::from_raw_parts_mut(self.slots.as_ptr(), self.len) }
    }

    /// The items before `end` are handed out: the workers' from now on.
    pub(super) fn hand_out(&mut self, end: usize) {
        self.handed_out = self.handed_out.max(end);
    }
}

impl<T> Drop for Items<T> {
    /// Drops the items never handed out, and gives the memory back to the pool, in the
    /// process that collected them only. The map drops this after its workers are gone.
    fn drop(&mut self) {
        if getpid() != self.owner {
            return; // `memory` is unmapped in this process alone
        }
        let handed_out = self.handed_out;
        for item in &mut self.owned_slots()[handed_out..] {
            // SAFETY: items from `handed_out` on were never given to a worker, nor taken in
            // this process; each is dropped once, here.
            unsafe { ManuallyDrop::drop(item) };
        }
        if let Some(memory) = self.memory.take() {
            self.kept.give_back(memory);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts its drops.
    struct Counted(Rc<Cell<usize>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn items_not_handed_out_are_dropped_once_and_the_memory_is_kept() {
        let kept = Kept::default();
        let drops = Rc::new(Cell::new(0));
        let mut items = Items::collect((0..10).map(|_| Counted(drops.clone())), &kept).unwrap();
        assert_eq!(items.len(), 10);
        items.hand_out(4);
        drop(items);
        assert_eq!(drops.get(), 6);
        let memory = kept.0.lock().unwrap().as_ref().map(|memory| memory.ptr);
        let again = Items::collect(0..3u64, &kept).unwrap();
        assert_eq!(
            memory.map(NonNull::cast),
            Some(again.slots),
            "the kept memory is lent again"
        );
        assert!(
            kept.0.lock().unwrap().is_none(),
            "lent to one map at a time"
        );
    }

    #[test]
    fn an_iterator_that_says_nothing_of_its_length_grows_its_slots() {
        let mut items = Items::collect((0..100_000u64).filter(|_| true), &Kept::default()).unwrap();
        assert_eq!(items.len(), 100_000);
        assert!(
            items
                .slots()
                .unwrap()
                .iter()
                .map(|item| **item)
                .eq(0..100_000)
        );
    }

    #[test]
    fn items_of_no_size_and_items_aligned_beyond_a_page_have_their_slots() {
        #[repr(align(8192))]
        struct Aligned(u8);
        let mut items = Items::collect((0..3).map(Aligned), &Kept::default()).unwrap();
        assert!(
            items
                .slots()
                .unwrap()
                .iter()
                .all(|item| (&raw const **item).is_aligned())
        );
        assert_eq!(items.slots().unwrap()[2].0, 2);

        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Nothing;
        impl Drop for Nothing {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut nothing = Items::collect((0..5).map(|_| Nothing), &Kept::default()).unwrap();
        assert_eq!(nothing.len(), 5);
        nothing.hand_out(2);
        drop(nothing);
        assert_eq!(DROPS.load(Ordering::Relaxed), 3);
    }
}
