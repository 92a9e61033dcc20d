//! Part 2: loader processes count what they load in shared memory, a row each, instead of
//! sending their results back; they take the URLs by number from a shared atomic.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytemuck::{Pod, Zeroable};
use ipc::{Array, Process, SharedAtomic, describe_exitcode};
use loader::{count, load_url};

// ANCHOR: stats
/// What one loader process loaded: a row of an `Array` in shared memory. Plain numbers in
/// a `#[repr(C)]` struct (`Pod`): no pointer, which would mean nothing in another process.
#[derive(Debug, Default, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub struct Stats {
    pub pages: u64,
    pub bytes: u64,
    pub errors: u64,
}
// ANCHOR_END: stats

/// Loads `urls` with `loaders` processes, prints each one's row and the sum, and returns
/// the sum. A URL that a loader took and never counted (it died loading it) is an error
/// in the sum: no URL goes unaccounted for.
pub fn load_all(urls: &[String], loaders: usize) -> ipc::Result<Stats> {
    println!(
        "{} with {loaders} loader processes, each counting in its own row of shared memory:",
        count(urls.len(), "URL")
    );
    // ANCHOR: load_all
    let rows = Array::<Stats>::new(loaders)?; // all zeros
    let next_url = SharedAtomic::new(AtomicUsize::new(0))?;
    let mut processes = Vec::new();
    for row in 0..loaders {
        let (rows, next_url, urls) = (rows.clone(), next_url.clone(), urls.to_vec());
        let mut process = Process::new(move || {
            load_and_count(&urls, &next_url, &rows, row).expect("the rows' lock works")
        });
        process.start()?;
        processes.push(process);
    }
    for (row, process) in processes.iter_mut().enumerate() {
        let code = process.join()?;
        if code != 0 {
            eprintln!("  loader {} died: {}", row + 1, describe_exitcode(code));
        }
    }
    let rows = rows.to_vec()?; // a copy, read under the lock
    // ANCHOR_END: load_all
    let mut all = Stats::default();
    for (row, stats) in rows.iter().enumerate() {
        println!("  loader {}: {stats}", row + 1);
        all.add(stats);
    }
    let lost = (urls.len() as u64).saturating_sub(all.pages + all.errors);
    if lost > 0 {
        println!(
            "  {} taken by a loader that died, neither loaded nor failed: counted as errors",
            count(lost as usize, "URL")
        );
        all.errors += lost;
    }
    println!("  all loaders: {all}");
    Ok(all)
}

// ANCHOR: load_and_count
/// A loader: takes the next URL's number until there is none left, loads it, and adds
/// what it got to its own row.
fn load_and_count(
    urls: &[String],
    next_url: &SharedAtomic<AtomicUsize>,
    rows: &Array<Stats>,
    row: usize,
) -> ipc::Result<()> {
    loop {
        let i = next_url.fetch_add(1, Ordering::Relaxed); // each number goes to one loader
        let Some(url) = urls.get(i) else {
            return Ok(());
        };
        let page = load_url(url);
        let mut rows = rows.lock()?;
        match page {
            Ok(page) => {
                rows[row].pages += 1;
                rows[row].bytes += page.html.len() as u64;
            }
            Err(e) => {
                rows[row].errors += 1;
                eprintln!("  loader {}: error: {e}", row + 1);
            }
        }
    }
}
// ANCHOR_END: load_and_count

impl Stats {
    fn add(&mut self, other: &Stats) {
        self.pages += other.pages;
        self.bytes += other.bytes;
        self.errors += other.errors;
    }

    /// The pages and bytes, for the ledger of part 3.
    pub fn totals(&self) -> crate::ledger::Totals {
        crate::ledger::Totals {
            pages: self.pages,
            bytes: self.bytes,
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = count(self.errors as usize, "error");
        let pages = count(self.pages as usize, "page");
        write!(f, "{pages}, {} bytes, {errors}", self.bytes)
    }
}
