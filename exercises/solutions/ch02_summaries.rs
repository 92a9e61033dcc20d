//! Reference solution of `ch02_summaries`: workers send summaries, the parent decides.

use ipc::Pool;
use loader::load_url;

use crate::types::Summary;

// ANCHOR: summarize
/// Runs in a pool worker: load the page, keep only what the parent needs.
fn summarize(url: String) -> Summary {
    let result = load_url(&url).map(|page| page.html.len());
    Summary {
        url,
        worker: std::process::id(),
        result,
    }
}
// ANCHOR_END: summarize

// ANCHOR: summarize_all
/// Summarizes every URL in a pool of `processes` workers, in the order of `urls`.
pub fn summarize_all(urls: Vec<String>, processes: usize) -> ipc::Result<Vec<Summary>> {
    Pool::new(processes).map(summarize, urls)
}
// ANCHOR_END: summarize_all
