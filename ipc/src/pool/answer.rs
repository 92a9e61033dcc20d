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
//! is taken off before the answer is handed back, or dropped. (The vector never moves:
//! the results are written in its spare room, and it is never grown.)
//!
//! [madvise(2)]: https://man7.org/linux/man-pages/man2/madvise.2.html

use nix::libc::{MADV_KEEPONFORK, MADV_WIPEONFORK, c_void, madvise};
use serde::de::DeserializeOwned;

use super::{Finished, first_error};
use crate::codec;
use crate::error::{Error, Result};

/// The results of a map, each chunk's put in its place as soon as it comes, in any order,
/// with the answer's pages kept out of the workers. A chunk decoded as it comes, rather
/// than kept until those before it have come, leaves its message's memory free for the
/// next one: one warm buffer, where chunks that came early held one each.
pub(super) struct Answer<R> {
    /// Empty (its length stays 0) until every chunk is in: the results wait in its spare
    /// room, each chunk's at its own place.
    results: Vec<R>,
    len: usize,
    chunksize: usize,
    /// Which chunks are in their place.
    placed: Vec<bool>,
    left: usize,
    /// The whole pages inside the vector's memory that are marked: the first and the
    /// length in bytes.
    marked: Option<(*mut c_void, usize)>,
}

impl<R: DeserializeOwned> Answer<R> {
    /// Room for the `len` results of chunks of `chunksize` (the last may be shorter),
    /// marked: make it before forking.
    pub(super) fn new(len: usize, chunksize: usize) -> Answer<R> {
        let chunks = len.div_ceil(chunksize);
        let results = Vec::with_capacity(len);
        let marked = whole_pages(results.as_ptr(), len).inspect(|&(first, bytes)| {
            // SAFETY: madvise(2) with MADV_WIPEONFORK changes only what a later fork gives
            // the child for these pages; this process's memory is unchanged. The pages lie
            // inside the vector's own allocation, which nothing but the vector uses (an
            // allocator keeps no bookkeeping inside a block it has handed out), and no
            // process forked from here reads the vector (see the module's doc).
            unsafe { madvise(first, bytes, MADV_WIPEONFORK) };
            // Kept whatever madvise answered: refused, it may still have marked the
            // memory areas before the one that failed (it goes through them one by one),
            // and `unmark` takes the mark off them all.
        });
        Answer {
            results,
            len,
            chunksize,
            placed: vec![false; chunks],
            left: chunks,
            marked,
        }
    }

    /// Puts the chunk that starts at `start` in its place: its results, or its first
    /// error. A chunk with more or fewer results than it has items is an error.
    pub(super) fn place(&mut self, start: usize, chunk: Finished<R>) -> Result<()> {
        let index = start / self.chunksize;
        let end = (start + self.chunksize).min(self.len);
        assert!(
            start.is_multiple_of(self.chunksize)
                && index < self.placed.len()
                && !self.placed[index],
            "the pool places each of its chunks once"
        );
        let slots = &mut self.results.spare_capacity_mut()[start..end];
        let wrong = |got: usize| {
            Error::Decode(format!(
                "a worker answered {got} results for a chunk of {} items",
                end - start
            ))
        };
        match chunk {
            Finished::Encoded { bytes, .. } => {
                let mut fill = codec::Fill::new(slots);
                let written = codec::decode_call_seed(&bytes, &mut fill, end - start)?;
                if written != end - start {
                    return Err(wrong(written)); // `fill` drops what it wrote
                }
                fill.keep();
            }
            Finished::Done(results) => {
                if results.len() != end - start {
                    return Err(wrong(results.len()));
                }
                for (slot, result) in slots.iter_mut().zip(results) {
                    slot.write(result);
                }
            }
            Finished::Failed(outcomes) => return Err(first_error(outcomes)),
        }
        self.placed[index] = true;
        self.left -= 1;
        Ok(())
    }

    /// The results, once every chunk is in its place, with the mark taken off.
    pub(super) fn into_results(mut self) -> Vec<R> {
        assert_eq!(self.left, 0, "every chunk has finished");
        let unmarked = self.unmark();
        self.placed.clear(); // the results are the vector's now, for `Drop`
        let mut results = std::mem::take(&mut self.results);
        // SAFETY: every chunk is in its place, so each of the first `len` slots was
        // written once (`place` writes a chunk's slots, all of them, and marks it placed);
        // the capacity is at least `len`.
        unsafe { results.set_len(self.len) };
        if unmarked {
            return results;
        }
        // Still marked (madvise refused, which it has no reason to): a process forked
        // later would see zeros where the caller's values are. The values move to memory
        // of their own, and the marked block is never given back to the allocator.
        let mut moved = Vec::with_capacity(results.len());
        moved.append(&mut results);
        std::mem::forget(results);
        moved
    }
}

impl<R> Answer<R> {
    /// Takes the mark off; `false` if it stays.
    fn unmark(&mut self) -> bool {
        let Some((first, bytes)) = self.marked.take() else {
            return true;
        };
        // SAFETY: as in `new`, and MADV_KEEPONFORK only undoes what it did, for the same
        // pages, which the vector still owns.
        unsafe { madvise(first, bytes, MADV_KEEPONFORK) == 0 }
    }
}

impl<R> Drop for Answer<R> {
    /// Drops the results of the chunks placed (a map that failed half-way), and takes the
    /// mark off before the vector's memory goes back to the allocator.
    fn drop(&mut self) {
        self.drop_placed();
        if !self.unmark() {
            // Never given back to the allocator (see `into_results`).
            std::mem::forget(std::mem::take(&mut self.results));
        }
    }
}

impl<R> Answer<R> {
    /// Drops the results of each chunk placed, last first. If one's `Drop` panics, the
    /// others are still dropped (as a vector's are), by `Rest` as the panic unwinds.
    fn drop_placed(&mut self) {
        struct Rest<'a, R>(&'a mut Answer<R>);
        impl<R> Drop for Rest<'_, R> {
            fn drop(&mut self) {
                self.0.drop_placed();
            }
        }
        while let Some(placed) = self.placed.pop() {
            if !placed {
                continue;
            }
            let start = self.placed.len() * self.chunksize;
            let end = (start + self.chunksize).min(self.len);
            let slots = &mut self.results.spare_capacity_mut()[start..end];
            let chunk =
                std::ptr::slice_from_raw_parts_mut(slots.as_mut_ptr().cast::<R>(), end - start);
            let rest = Rest(self);
            // SAFETY: the chunk was placed (each of its slots written once), and is no
            // longer counted as placed (popped above), so its values are dropped once,
            // here; `drop_in_place` on a slice goes on with the others if one panics.
            unsafe { std::ptr::drop_in_place(chunk) };
            std::mem::forget(rest);
        }
    }
}

/// The whole pages inside the memory of `len` values from `first`, if there are any.
fn whole_pages<R>(first: *const R, len: usize) -> Option<(*mut c_void, usize)> {
    let page = super::items::page_size();
    let start = first as usize;
    let end = start + len * size_of::<R>();
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
        let mut answer: Answer<u64> = Answer::new(10_000, 5_000);
        assert!(answer.marked.is_some());
        let chunk =
            |start: u64| Finished::Done((start..start + 5_000).map(|n| n % 100 + 1).collect());
        answer.place(5_000, chunk(5_000)).unwrap();
        answer.place(0, chunk(0)).unwrap();
        let middle = answer.results.as_ptr() as usize + 5_000 * size_of::<u64>();
        assert_eq!(
            read_in_a_child(middle),
            0,
            "the child saw the parent's number"
        );
        let results = answer.into_results();
        assert_eq!(results[5_000], 1);
        assert_eq!(read_in_a_child(middle), 1, "the mark was not taken off");
    }

    #[test]
    fn chunks_placed_in_any_order_make_the_answer_and_a_wrong_length_is_refused() {
        let mut answer: Answer<String> = Answer::new(5, 2);
        let strings = |range: std::ops::Range<u8>| range.map(|n| n.to_string()).collect();
        answer.place(4, Finished::Done(strings(4..5))).unwrap();
        answer.place(0, Finished::Done(strings(0..2))).unwrap();
        let short = answer.place(2, Finished::Done(strings(2..3)));
        assert!(matches!(short, Err(Error::Decode(why)) if why.contains("1 results")));
        let encoded = codec::encode_call(&["2", "3", "extra"][..]).unwrap();
        let long = answer.place(
            2,
            Finished::Encoded {
                bytes: encoded.into(),
                len: 2,
            },
        );
        assert!(matches!(long, Err(Error::Decode(_))));
        let encoded = codec::encode_call(&["2", "3"][..]).unwrap();
        answer
            .place(
                2,
                Finished::Encoded {
                    bytes: encoded.into(),
                    len: 2,
                },
            )
            .unwrap();
        assert_eq!(answer.into_results(), ["0", "1", "2", "3", "4"]);
    }

    thread_local!(static DROPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });

    /// Counts its drops; the one numbered 0 panics when dropped.
    #[derive(serde::Deserialize)]
    struct Counted(u8);

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.with(|drops| drops.set(drops.get() + 1));
            if self.0 == 0 {
                panic!("dropping 0");
            }
        }
    }

    #[test]
    fn an_answer_dropped_half_way_drops_each_result_placed_once_even_if_one_panics() {
        let mut half: Answer<Counted> = Answer::new(9, 3);
        half.place(6, Finished::Done((6..9).map(Counted).collect()))
            .unwrap();
        half.place(0, Finished::Done((0..3).map(Counted).collect()))
            .unwrap();
        let dropping = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(half)));
        assert!(dropping.is_err(), "the panic of the drop of 0 goes on");
        assert_eq!(DROPS.with(|drops| drops.get()), 6);
    }
}
