//! # Exercise `ch06_from_threads`: workers for a program with threads
//!
//! [`summarize_all`] is called from a program that runs other threads already (the checks
//! start one, as a progress display, a logger or a runtime would). It must summarize every
//! URL in a pool of `processes` workers started with `method`, each load cut off after
//! `timeout`, and return the summaries in the order of `urls`.
//!
//! The checks call it with `StartMethod::Forkserver` and `StartMethod::Spawn`, from a
//! program set up as chapter 6's `main` is: the forkserver started before any thread, and
//! `ipc::spawn::init()` first in `main`.
//!
//! As shipped it uses chapter 2's `Pool`, which forks, with a closure: from a program with
//! threads, fork refuses.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint. The checks are
//! in `exercises/tests/checks/ch06_from_threads.rs`.

use std::time::Duration;

use ipc::{Pool, StartMethod};
use loader::load_url_with_timeout;

use crate::types::Summary;

/// Runs in a pool worker: load the page within `timeout`, keep only what the parent needs.
fn summarize(url: String, timeout: Duration) -> Summary {
    let result = load_url_with_timeout(&url, timeout).map(|page| page.html.len());
    Summary {
        url,
        worker: std::process::id(),
        result,
    }
}

/// Summarizes every URL in a pool of `processes` workers started with `method`, each load
/// within `timeout`; the summaries come in the order of `urls`.
pub fn summarize_all(
    method: StartMethod,
    urls: Vec<String>,
    timeout: Duration,
    processes: usize,
) -> ipc::Result<Vec<Summary>> {
    // TODO: `Pool` forks, and refuses to while other threads run. Start the pool with
    // `method` instead. Its workers cannot take a closure: what the closure captures (the
    // timeout) must travel with each URL, and the worker function must be a plain `fn`.
    let _ = method;
    Pool::new(processes).map(move |url| summarize(url, timeout), urls)
}
