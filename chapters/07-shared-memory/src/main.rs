//! Chapter 7: memory that processes share, and the locks that guard it. Three parts:
//!
//! 1. Four processes add 1 to one counter: without a lock (updates are lost, and counted),
//!    with a `Lock`, and with an atomic; the time of each (`counter`).
//! 2. Loader processes keep their statistics (pages, bytes, errors) in shared memory, a
//!    row each, instead of sending results back (`stats`).
//! 3. A process is killed while it holds the lock of the totals, in the middle of an
//!    update; the next holder is told, and repairs them (`ledger`). Python's lock would
//!    stay locked for ever.
//!
//! Run it with no arguments to load the demo site's pages in part 2, or give URLs:
//! `cargo run -p ch07-shared-memory -- URL…`.

mod counter;
mod ledger;
mod stats;

use std::process::ExitCode;

use loader::{Targets, exit_status};

/// The processes that race for the counter, and how many times each adds 1.
const RACERS: usize = 4;
const ADDS: u64 = 100_000;
/// The processes that load pages in part 2.
const LOADERS: usize = 3;

// ANCHOR: main
fn main() -> Result<ExitCode, loader::Fatal> {
    loader::end_quietly_when_output_closes(); // `| head` ends it as it ends `cat`
    let urls = loader::urls_from_command_line();
    counter::race(RACERS, ADDS)?;

    let demo_pages: Vec<&str> = demo_site::page_paths().collect();
    let targets = Targets::from_urls_or_demo(urls, &demo_pages)?;
    let loaded = stats::load_all(&targets.urls, LOADERS)?;

    ledger::kill_a_holder(loaded.totals())?;
    Ok(exit_status(loaded.errors == 0))
}
// ANCHOR_END: main
