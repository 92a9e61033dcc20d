//! Reference solution of `ch06_from_threads`: workers for a program with threads.

use std::time::Duration;

use ipc::{StartMethod, get_context};
use loader::load_url_with_timeout;

use crate::types::Summary;

// ANCHOR: summarize
/// Runs in a pool worker: load the page within `timeout`, keep only what the parent needs.
fn summarize(url: String, timeout: Duration) -> Summary {
    let result = load_url_with_timeout(&url, timeout).map(|page| page.html.len());
    Summary {
        url,
        worker: std::process::id(),
        result,
    }
}
// ANCHOR_END: summarize

// ANCHOR: summarize_all
/// Summarizes every URL in a pool of `processes` workers started with `method`, each load
/// within `timeout`; the summaries come in the order of `urls`.
pub fn summarize_all(
    method: StartMethod,
    urls: Vec<String>,
    timeout: Duration,
    processes: usize,
) -> ipc::Result<Vec<Summary>> {
    let pool = get_context(method).pool(processes).start()?;
    // What the closure captured travels with each item: `starmap` calls summarize(url, timeout).
    let pairs = urls.into_iter().map(|url| (url, timeout));
    pool.starmap(summarize, pairs)
}
// ANCHOR_END: summarize_all
