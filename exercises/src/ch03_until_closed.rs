//! # Exercise `ch03_until_closed`: read until the other end closes
//!
//! Python's `recv` raises `EOFError` when the other end is closed and nothing is left to
//! read; here it is `Err(ipc::Error::Closed)`. That is all a reader needs to know when to
//! stop: no count, no "that's all" message. Write [`load_until_closed`] that way, with
//! one child and two one-way pipes (`Pipe::one_way`), one for each direction:
//!
//! - the parent sends every URL down the first pipe, then closes its end;
//! - the child receives URLs until `recv` fails, sends `loader::load_url(&url)` back up
//!   the second pipe for each, then returns (which closes its end);
//! - the parent receives results until `recv` says `Closed`, joins the child, and returns
//!   the results in the order of `urls`.
//!
//! Something here can wait forever. The checks stop after 10 seconds; if they say
//! "still running", see the hint.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use loader::{LoadError, Page};

/// Sends every URL to one child over a one-way pipe and closes it; the child loads them
/// until it sees the end, sending each result back over a second one-way pipe, which the
/// parent reads until it closes in turn.
pub fn load_until_closed(urls: &[String]) -> ipc::Result<Vec<Result<Page, LoadError>>> {
    // TODO 1: two one-way pipes: `let (url_rx, url_tx) = Pipe::one_way()?;` and the same
    //         for the results.
    // TODO 2: start a child that receives URLs until `recv` fails and sends each result.
    // TODO 3: send the URLs, close `url_tx`, receive results until `Error::Closed`, join.
    todo!(
        "load {} URLs in one child, until the end of the stream",
        urls.len()
    )
}
