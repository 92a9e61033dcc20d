//! # Exercise `ch02_summaries`: workers send summaries, the parent decides
//!
//! In chapter 2 each worker sends a whole page back to the parent. Often the parent needs
//! much less: here, a [`Summary`] of each URL, with the page's length in bytes (or why it
//! did not load) and the pid of the worker that loaded it.
//!
//! - `summarize` runs in a worker: it loads one page with `loader::load_url` and returns
//!   its summary. It prints nothing: what to show is the parent's business.
//! - [`summarize_all`] has a `Pool` of `processes` workers run `summarize` on every URL,
//!   and returns the summaries in the order of `urls`.
//!
//! As shipped, `summarize_all` runs every load in the parent itself, one after another.
//! The checks look at the `worker` field to see where the work was done.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use crate::types::Summary;

/// Runs in a pool worker: load the page, keep only what the parent needs.
fn summarize(url: String) -> Summary {
    // TODO: load the page and return its summary: the URL, this process's pid
    // (`std::process::id()`), and the length of `page.html` in bytes, or the error.
    todo!("load {url} and summarize it")
}

/// Summarizes every URL in a pool of `processes` workers, in the order of `urls`.
pub fn summarize_all(urls: Vec<String>, processes: usize) -> ipc::Result<Vec<Summary>> {
    // TODO: this loads every page here, in the parent. Have a `Pool` of `processes`
    // workers do it with `map`.
    let _ = processes;
    Ok(urls.into_iter().map(summarize).collect())
}
