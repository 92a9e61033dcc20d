//! The answer a map builds while its workers run, kept out of them.
//!
//! `fork` marks every private page of the parent copy-on-write, pages the workers will
//! never read too. While a worker lives, each page the parent writes is copied first, for
//! a page fault and a copy of 4 KiB: about 2.7 µs a page on the benchmark's machine, 500 µs
//! for the 200 pages of 100 000 numbers' results, more than a whole map's other work.
//!
//! The answer is allocated before the workers are forked, and its pages are marked with
//! `MADV_WIPEONFORK` ([madvise(2)]): a process forked while the mark is set gets zeroed
//! pages there instead of the parent's, and the parent's are left as they were, so the
//! parent writes them with no copy (and, if they were written before, with no fault at
//! all). No worker reads the answer: a worker runs its tasks and leaves with `_exit`,
//! never returning into `map`. The mark stays with the pages whoever owns them next, so it
//! is taken off before the answer is handed back, and as soon as the vector is found to
//! have moved (it never should: it is made with room for every result).
//!
//! [madvise(2)]: https://man7.org/linux/man-pages/man2/madvise.2.html

use nix::libc::{MADV_KEEPONFORK, MADV_WIPEONFORK, c_void, madvise};

/// The results of a map, in order, with their pages kept out of the workers.
pub(super) struct Answer<R> {
    results: Vec<R>,
    /// The whole pages inside the vector's memory that are marked: the first and the
    /// length in bytes.
    marked: Option<(*mut c_void, usize)>,
}

impl<R> Answer<R> {
    /// An empty answer with room for `len` results, marked: make it before forking.
    pub(super) fn with_capacity(len: usize) -> Answer<R> {
        let results = Vec::with_capacity(len);
        let marked = whole_pages(&results).filter(|&(first, len)| {
            // SAFETY: madvise(2) with MADV_WIPEONFORK changes only what a later fork gives
            // the child for these pages; this process's memory is unchanged. The pages lie
            // inside the vector's own allocation, which nothing but the vector uses (an
            // allocator keeps no bookkeeping inside a block it has handed out), and no
            // process forked from here reads the vector (see the module's doc).
            unsafe { madvise(first, len, MADV_WIPEONFORK) == 0 }
        });
        Answer { results, marked }
    }

    /// Room for `n` more results.
    pub(super) fn has_room_for(&self, n: usize) -> bool {
        self.results.capacity() - self.results.len() >= n
    }

    pub(super) fn len(&self) -> usize {
        self.results.len()
    }

    /// Appends results with `append`, which must not add more than there is room for.
    /// If it did, and the vector moved, the old pages lose their mark at once, before
    /// anything else runs here (a fork, say) that could be given their zeroed copy.
    pub(super) fn append<T>(&mut self, append: impl FnOnce(&mut Vec<R>) -> T) -> T {
        let before = self.results.as_ptr();
        let appended = append(&mut self.results);
        if self.results.as_ptr() != before {
            debug_assert!(false, "the answer was made with room for every result");
            self.unmark();
        }
        appended
    }

    /// The results, with the mark taken off.
    pub(super) fn into_results(mut self) -> Vec<R> {
        self.unmark();
        std::mem::take(&mut self.results)
    }

    fn unmark(&mut self) {
        if let Some((first, len)) = self.marked.take() {
            // SAFETY: as in `with_capacity`, and MADV_KEEPONFORK only undoes what it did,
            // for the same pages (which may belong to another block by now, if the vector
            // moved: a later fork then copies them, as it copies any page).
            unsafe { madvise(first, len, MADV_KEEPONFORK) };
        }
    }
}

impl<R> Drop for Answer<R> {
    fn drop(&mut self) {
        self.unmark();
    }
}

/// The whole pages inside a vector's memory, if there are any.
fn whole_pages<R>(results: &Vec<R>) -> Option<(*mut c_void, usize)> {
    let page = super::items::page_size();
    let start = results.as_ptr() as usize;
    let end = start + results.capacity() * size_of::<R>();
    let first = start.checked_next_multiple_of(page)?;
    let last = end / page * page;
    (last > first).then(|| (first as *mut c_void, last - first))
}

#[cfg(test)]
mod tests {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};

    use super::*;

    /// What a child forked now reads at `address`.
    fn read_in_a_child(address: usize) -> i32 {
        // SAFETY: the child does nothing but async-signal-safe work (a read of memory
        // mapped in it, and `_exit`), so the test harness's threads cannot trouble it.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                // SAFETY: the address is inside a vector the parent holds, so mapped here.
                let seen = unsafe { (address as *const u64).read_volatile() };
                // SAFETY: `_exit` ends the child at once, running nothing of the parent's.
                unsafe { nix::libc::_exit(i32::try_from(seen).unwrap_or(-1)) }
            }
            ForkResult::Parent { child } => match waitpid(child, None).unwrap() {
                WaitStatus::Exited(_, code) => code,
                other => panic!("{other:?}"),
            },
        }
    }

    #[test]
    fn a_process_forked_while_the_answer_is_marked_sees_zeros_there_and_after_it_the_numbers() {
        let mut answer: Answer<u64> = Answer::with_capacity(10_000);
        assert!(answer.marked.is_some());
        answer.append(|results| results.extend((0..10_000).map(|n| n % 100 + 1)));
        let middle = &answer.results[5_000] as *const u64 as usize;
        assert_eq!(
            read_in_a_child(middle),
            0,
            "the child saw the parent's number"
        );
        let results = answer.into_results();
        assert_eq!(results[5_000], 1);
        assert_eq!(read_in_a_child(middle), 1, "the mark was not taken off");
    }
}
