//! Reference solution of `ch01_all_at_once`: start every child before joining any.

use ipc::Process;
use loader::load_url;

/// The child's work: load the page, print nothing, exit with 0 if it loaded and 1 if not.
fn load_in_child(url: &str) -> i32 {
    match load_url(url) {
        Ok(_) => 0,
        Err(_) => 1,
    }
}

// ANCHOR: load_all
/// Loads every URL in a child of its own, all at the same time, and returns the
/// children's exit codes in the order of `urls`.
pub fn load_all(urls: &[String]) -> ipc::Result<Vec<i32>> {
    // First start them all: each `start` returns at once, while the child works on.
    let mut children = Vec::with_capacity(urls.len());
    for url in urls {
        let url = url.clone();
        let mut child = Process::with_exit_code(move || load_in_child(&url));
        child.start()?;
        children.push(child);
    }
    // Then wait for each, in order. A child that finishes before its turn waits,
    // finished, until it is joined: its exit code is kept for us.
    children.iter_mut().map(Process::join).collect()
}
// ANCHOR_END: load_all
