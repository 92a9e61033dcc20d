//! Reference solution of `ch06_worker_logs`: each worker keeps a log.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use ipc::{StartMethod, get_context};
use loader::load_url;

use crate::types::Summary;

/// This worker's log, once `open_log` has created it.
static LOG: OnceLock<File> = OnceLock::new();

// ANCHOR: open_log
/// Runs once in each worker, as it starts: creates the worker's log, `dir/PID.log`, and
/// keeps it in [`LOG`] for the tasks.
fn open_log(dir: PathBuf) {
    let path = dir.join(format!("{}.log", std::process::id()));
    let file = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    LOG.set(file).expect("open_log runs once in each worker");
}
// ANCHOR_END: open_log

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

// ANCHOR: summarize_logged
/// Summarizes every URL in a pool of `processes` spawned workers, each of which logs what it
/// summarized in `dir`; the summaries come in the order of `urls`.
pub fn summarize_logged(
    urls: Vec<String>,
    dir: PathBuf,
    processes: usize,
) -> ipc::Result<Vec<Summary>> {
    let pool = get_context(StartMethod::Spawn)
        .pool(processes)
        .initializer(open_log, dir) // in each worker, as it starts
        .start()?;
    let summaries = pool.map(summarize, urls)?;
    // Closed and joined, not dropped (which kills the workers at once): every worker ends
    // its start, its log created, and leaves on its own, its writes done.
    pool.close();
    pool.join()?;
    Ok(summaries)
}
// ANCHOR_END: summarize_logged
