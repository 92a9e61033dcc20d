//! # Exercise `ch06_worker_logs`: each worker keeps a log
//!
//! [`summarize_logged`] summarizes every URL in a pool of `processes` workers started with
//! spawn, and each worker keeps a log of its own: the file `dir/PID.log` (`PID`, the
//! worker's process id), created as the worker starts, with a line for each URL it
//! summarized, the URL itself.
//!
//! A `File` cannot be sent to a worker (chapter 2 says why), and a spawned worker shares no
//! memory with its parent: each worker must open its log itself, once, before its first
//! task. `open_log(dir)` is written for that, nearly: make it create the file, and have
//! every worker run it as it starts.
//!
//! As shipped, `open_log` creates nothing, no worker runs it, and `summarize` panics for
//! want of a log.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint. The checks are
//! in `exercises/tests/checks/ch06_worker_logs.rs`.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use ipc::{StartMethod, get_context};
use loader::load_url;

use crate::types::Summary;

/// This worker's log, once `open_log` has created it.
static LOG: OnceLock<File> = OnceLock::new();

/// Runs once in each worker, as it starts: creates the worker's log, `dir/PID.log`, and
/// keeps it in [`LOG`] for the tasks.
fn open_log(dir: PathBuf) {
    // TODO: create the file (`File::create`), and keep it in LOG (`LOG.set`).
    let _ = dir;
}

/// Runs in a pool worker: load the page, write its URL to the worker's log, and keep only
/// what the parent needs.
fn summarize(url: String) -> Summary {
    let mut log: &File = LOG
        .get()
        .expect("no log is open in this worker: the initializer must open it");
    writeln!(log, "{url}").expect("a line in the worker's log");
    let result = load_url(&url).map(|page| page.html.len());
    Summary {
        url,
        worker: std::process::id(),
        result,
    }
}

/// Summarizes every URL in a pool of `processes` spawned workers, each of which logs what it
/// summarized in `dir`; the summaries come in the order of `urls`.
pub fn summarize_logged(
    urls: Vec<String>,
    dir: PathBuf,
    processes: usize,
) -> ipc::Result<Vec<Summary>> {
    // TODO: have each worker run `open_log(dir)` as it starts, before any task.
    let _ = (open_log, dir);
    let pool = get_context(StartMethod::Spawn).pool(processes).start()?;
    let summaries = pool.map(summarize, urls)?;
    // Closed and joined, not dropped (which kills the workers at once): every worker ends
    // its start, its log created, and leaves on its own, its writes done.
    pool.close();
    pool.join()?;
    Ok(summaries)
}
