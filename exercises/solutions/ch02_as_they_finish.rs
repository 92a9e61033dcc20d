//! Reference solution of `ch02_as_they_finish`: results as they finish.

use ipc::Pool;
use loader::load_url;

use crate::types::Summary;

/// Runs in a pool worker: load the page, keep only what the parent needs.
fn summarize(url: String) -> Summary {
    let result = load_url(&url).map(|page| page.html.len());
    Summary {
        url,
        worker: std::process::id(),
        result,
    }
}

// ANCHOR: load_as_they_finish
/// Summarizes every URL in a pool of `processes` workers and calls `on_each(position,
/// summary)` as soon as each summary arrives, whatever the order.
pub fn load_as_they_finish(
    urls: Vec<String>,
    processes: usize,
    on_each: &mut dyn FnMut(usize, Summary),
) -> ipc::Result<()> {
    // Results come back in any order: each carries its position with it.
    let items = urls.into_iter().enumerate();
    let summaries =
        Pool::new(processes).imap_unordered(|(position, url)| (position, summarize(url)), items)?;
    for result in summaries {
        let (position, summary) = result?;
        on_each(position, summary);
    }
    Ok(())
}
// ANCHOR_END: load_as_they_finish
