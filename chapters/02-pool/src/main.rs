//! Chapter 2: spread URLs over a pool of worker processes. The Rust port of the
//! tutorial's `Pool(4).map(load_url, url_list)`.
//!
//! Run it with no arguments to load four demo-site URLs (two malformed on purpose, as in
//! the tutorial), or give URLs: `cargo run -p ch02-pool -- URL…`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ipc::Pool;
use loader::{LoadError, POOL_DEMO_PAGES, Page, Targets, count, exit_status, load_url};

// ANCHOR: load_in_worker
/// What runs in a worker: load one URL, and say which process did it and how long it took.
/// The result travels back to the parent through a pipe, so it must be serializable: a
/// tuple of a pid, a `Duration` and a `Result` whose both sides derive serde's traits.
fn load_in_worker(url: String) -> (u32, Duration, Result<Page, LoadError>) {
    let started = Instant::now();
    let result = load_url(&url);
    (std::process::id(), started.elapsed(), result)
}
// ANCHOR_END: load_in_worker

// ANCHOR: main
fn main() -> Result<ExitCode, loader::Fatal> {
    loader::end_quietly_when_output_closes(); // `| head` ends it as it ends `cat`
    let targets = Targets::from_args_or_demo(&POOL_DEMO_PAGES)?;
    let pool = Pool::new(4);
    let started = Instant::now();
    let results = pool.map(load_in_worker, targets.urls.clone())?;
    let pool_time = started.elapsed();

    let mut all_loaded = true;
    // Loading the URLs one by one would take the sum of their times: add up what each load
    // took in its worker, rather than load everything again (and wait twice for a hung one).
    let one_by_one: Duration = results.iter().map(|(_, took, _)| *took).sum();
    for (pid, _, result) in results {
        match result {
            Ok(page) => println!("worker {pid}: {} ({} bytes)", page.url, page.html.len()),
            Err(e) => {
                eprintln!("worker {pid}: error: {e}");
                all_loaded = false;
            }
        }
    }
    println!(
        "{}: {:.2} s with a pool of {} processes, {:.2} s one by one",
        count(targets.urls.len(), "url"),
        pool_time.as_secs_f64(),
        pool.processes(),
        one_by_one.as_secs_f64()
    );
    Ok(exit_status(all_loaded))
}
// ANCHOR_END: main
