//! How a worker's memory allocator keeps the memory that its tasks free.
//!
//! A pool's worker runs the same kind of task again and again, and each task allocates
//! and frees the same buffers: its arguments, its results, their encoding. glibc's
//! `malloc` gives memory back to the kernel as soon as 128 KiB lie free at the top of its
//! heap, and serves any block of 128 KiB or more from a mapping of its own, unmapped when
//! freed (it raises that threshold as big blocks are freed, but only for blocks at least
//! as big). So the next task's buffers are fresh pages, and the first write to each one
//! is a page fault: about 3.5 µs on the virtual machine the benchmark runs on, more than
//! copying the 4 KiB the page holds. A worker that keeps what it freed reuses warm pages.
//!
//! [`keep_freed_memory`] raises both thresholds in a worker: blocks under
//! [`MAPPED_FROM`] come from the heap, and up to [`KEPT`] may lie free at its top. An
//! idle worker may then hold that much memory it does not use; a pool that must give
//! memory back can replace its workers (`max_tasks_per_child`). Other C libraries (musl)
//! and other global allocators are left as they are. See [mallopt(3)].
//!
//! [mallopt(3)]: https://man7.org/linux/man-pages/man3/mallopt.3.html

/// Blocks from this size up still get a mapping of their own.
pub(crate) const MAPPED_FROM: usize = 4 * 1024 * 1024;
/// The most free memory the heap keeps at its top.
pub(crate) const KEPT: usize = 8 * 1024 * 1024;

/// Makes this process's `malloc` keep the memory its tasks free (glibc only). Called by a
/// worker before its first task.
pub(crate) fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::libc::{M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, c_int, mallopt};
        for (param, value) in [(M_MMAP_THRESHOLD, MAPPED_FROM), (M_TRIM_THRESHOLD, KEPT)] {
            let value = c_int::try_from(value).expect("a few MiB fit a C int");
            // SAFETY: mallopt(3) changes a tuning parameter of glibc's allocator under
            // the allocator's own lock; it touches no memory of the caller, and any value
            // is allowed (a refused one returns 0 and changes nothing, which is fine: the
            // worker is only slower).
            unsafe { mallopt(param, value) };
        }
    }
}
