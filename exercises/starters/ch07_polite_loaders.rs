//! # Exercise `ch07_polite_loaders`: at most N loads at once
//!
//! Chapter 7's loaders load as fast as they can: three processes, three requests open at
//! once on the same server. A polite program limits how many requests it has open at the
//! same time, whatever its number of processes. That limit is shared by all of them, so
//! it must live in shared memory: a `Semaphore`.
//!
//! [`load_politely`] loads every URL with `loaders` processes that take URL numbers from a
//! shared atomic, as chapter 7's do, and add what they load to one `Tally` in shared
//! memory. Finish it:
//!
//! - make a `Semaphore` of `at_once` permits, before the processes start, and give each
//!   process a clone;
//! - write [`load_and_tally`]: the loop of chapter 7's `load_and_count`, adding to the
//!   tally (under its lock) instead of a row; around each load, take a permit
//!   (`acquire`) and give it back (`release`), so that at most `at_once` loads are under
//!   way at any moment, in all processes together.
//!
//! The checks load pages of a test server that counts how many requests it has open at
//! once, compare the tally with loads of their own, and load pages that answer only when
//! two loads are under way together (so one at a time is not the answer either).
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use std::sync::atomic::AtomicUsize;

use ipc::{Process, SharedAtomic, Value};

use crate::types::Tally;

/// Loads every URL of `urls` with `loaders` processes, never more than `at_once` at the
/// same time, and returns what they loaded, all together.
pub fn load_politely(urls: &[String], loaders: usize, at_once: u32) -> ipc::Result<Tally> {
    let tally = Value::new(Tally::default())?;
    let next_url = SharedAtomic::new(AtomicUsize::new(0))?;
    // TODO 1: a `Semaphore` of `at_once` permits (ipc::Semaphore::new), made here.
    let _ = at_once;
    let mut processes = Vec::new();
    for _ in 0..loaders {
        let (tally, next_url, urls) = (tally.clone(), next_url.clone(), urls.to_vec());
        // TODO 2: a clone of the semaphore for each process, passed to load_and_tally.
        let mut process = Process::new(move || {
            load_and_tally(&urls, &next_url, &tally).expect("the tally's lock works")
        });
        process.start()?;
        processes.push(process);
    }
    for process in &mut processes {
        process.join()?;
    }
    tally.get()
}

/// A loader: takes the next URL's number until none is left, loads the URL, and adds
/// what it got to the tally.
fn load_and_tally(
    urls: &[String],
    next_url: &SharedAtomic<AtomicUsize>,
    tally: &Value<Tally>,
) -> ipc::Result<()> {
    // TODO 3: loop: `next_url.fetch_add(1, Ordering::Relaxed)` is this loader's next URL,
    //         if there is one; take a permit, `loader::load_url` it, give the permit
    //         back; then `tally.lock()?` and add a page and its bytes, or an error.
    let _ = (urls, next_url, tally);
    todo!("load URLs until none is left, at most `at_once` at a time in all processes")
}
