//! # Exercise `ch02_as_they_finish`: results as they finish
//!
//! `Pool::map` returns when every page is done: one slow page holds back the news of all
//! the quick ones. [`load_as_they_finish`] must instead call `on_each` for each summary
//! as soon as its worker sends it back, in whatever order they come.
//!
//! - `on_each(position, summary)` is called once per URL, with the URL's position in
//!   `urls` (0 for the first) and its summary.
//! - The work is done by a pool of `processes` workers; `summarize` is written (it is the
//!   previous exercise's worker function).
//!
//! As shipped it uses `map`, so it gets the order right but the timing wrong. The checks
//! use a test server that holds one page back until `on_each` has heard of another; it
//! gives up after 5 seconds and answers "503 Service Unavailable".
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

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

/// Summarizes every URL in a pool of `processes` workers and calls `on_each(position,
/// summary)` as soon as each summary arrives, whatever the order.
pub fn load_as_they_finish(
    urls: Vec<String>,
    processes: usize,
    on_each: &mut dyn FnMut(usize, Summary),
) -> ipc::Result<()> {
    // TODO: `map` returns only once every page is done. Use `imap_unordered`, which yields
    // each result as it arrives. Results then come in any order, so each one must carry
    // its position: give the workers `(position, url)` pairs and have them return
    // `(position, summary)`.
    let summaries = Pool::new(processes).map(summarize, urls)?;
    for (position, summary) in summaries.into_iter().enumerate() {
        on_each(position, summary);
    }
    Ok(())
}
