//! # Exercise `ch01_all_at_once`: start every child before joining any
//!
//! Chapter 1's program starts a child, joins it, and only then starts the next: the pages
//! load one after another, as if there were no processes at all. [`load_all`] below does
//! the same. Change it so that it starts a child for every URL first, and joins them only
//! then: all the pages load at the same time.
//!
//! - `load_all` returns the children's exit codes in the order of `urls`: 0 if the page
//!   loaded, 1 if not (the child's work, `load_in_child`, is already written).
//! - Every child is joined before `load_all` returns.
//!
//! The checks load pages from a test server that answers only once all the loads are
//! connected to it at the same time. If they are not, it gives up after 5 seconds and
//! answers "503 Service Unavailable", which makes those children exit with 1.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use ipc::Process;
use loader::load_url;

/// The child's work: load the page, print nothing, exit with 0 if it loaded and 1 if not.
fn load_in_child(url: &str) -> i32 {
    match load_url(url) {
        Ok(_) => 0,
        Err(_) => 1,
    }
}

/// Loads every URL in a child of its own, all at the same time, and returns the
/// children's exit codes in the order of `urls`.
pub fn load_all(urls: &[String]) -> ipc::Result<Vec<i32>> {
    let mut exitcodes = Vec::new();
    for url in urls {
        let url = url.clone();
        let mut child = Process::with_exit_code(move || load_in_child(&url));
        child.start()?;
        // TODO: this `join` waits for the child to end before the loop starts the next
        // one. Start them all first (keep them in a `Vec<Process>`), then join each.
        exitcodes.push(child.join()?);
    }
    Ok(exitcodes)
}
