//! Chapter 6: start methods. Chapter 2's URLs, loaded by a pool of four workers under each
//! of Python's start methods, `fork`, `forkserver` and `spawn`, from a program that has a
//! second thread (a spinner's): fork refuses, the other two load the pages. Then what
//! starting and joining one process costs under each method, side by side.
//!
//! Run it with no arguments to load the demo site's pages, or give URLs:
//! `cargo run -p ch06-start-methods -- URL…`.

mod spinner;
mod start_join;

use std::process::ExitCode;
use std::time::Instant;

use ipc::{Error, StartMethod, get_context};
use loader::{LoadError, POOL_DEMO_PAGES, Page, Targets, count, exit_status, load_url};

use crate::spinner::Spinner;

// ANCHOR: load_in_worker
/// What a worker runs: a plain `fn`, not a closure, so that a process that is not a copy of
/// this one right now (a child of the forkserver, a spawned program) can be told to call
/// it; its argument and its result travel as bytes, so serde must know their types.
fn load_in_worker(url: String) -> (u32, Result<Page, LoadError>) {
    (std::process::id(), load_url(&url))
}
// ANCHOR_END: load_in_worker

// ANCHOR: main
fn main() -> Result<ExitCode, loader::Fatal> {
    ipc::spawn::init(); // in a copy started by spawn: run the function asked for, and exit
    loader::end_quietly_when_output_closes(); // `| head` ends it as it ends `cat`
    ipc::forkserver::start()?; // forked now, while this process has one thread
    let targets = Targets::from_args_or_demo(&POOL_DEMO_PAGES)?;
    let fork_cost = start_join::median(StartMethod::Fork)?; // one thread still: fork works

    let spinner = Spinner::start(); // indicatif ticks it from a thread of its own
    let threads = spinner::threads();
    spinner.println(format_args!(
        "A spinner ticks on a thread of its own: {threads} threads now"
    ));
    let mut all_loaded = true;
    for method in StartMethod::ALL {
        match load_pages(method, &targets.urls, &spinner) {
            Ok(loaded) => all_loaded &= loaded,
            // This refusal is what the chapter shows, not a failure of the program.
            Err(refused @ Error::ThreadsRunning { .. }) => {
                spinner.eprintln(format_args!("{method}: {refused}"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let costs = [
        (StartMethod::Fork, fork_cost),
        (
            StartMethod::Forkserver,
            start_join::median(StartMethod::Forkserver)?,
        ),
        (StartMethod::Spawn, start_join::median(StartMethod::Spawn)?),
    ];
    drop(spinner);
    start_join::print(&costs);
    Ok(exit_status(all_loaded))
}
// ANCHOR_END: main

// ANCHOR: load_pages
/// Loads `urls` in a pool of four workers started with `method`, and prints what came of
/// each URL. Returns whether every page loaded.
fn load_pages(method: StartMethod, urls: &[String], spinner: &Spinner) -> ipc::Result<bool> {
    spinner.set_message(format!("{method}: starting 4 workers"));
    let started = Instant::now();
    let pool = get_context(method).pool(4).start()?;
    let start_time = started.elapsed();
    spinner.set_message(format!("{method}: loading {}", count(urls.len(), "url")));
    let results = pool.map(load_in_worker, urls.to_vec())?;
    let load_time = started.elapsed() - start_time;
    spinner.println(format_args!(
        "{method}: 4 workers started in {:.2} s",
        start_time.as_secs_f64()
    ));
    let mut all_loaded = true;
    for (pid, result) in results {
        match result {
            Ok(page) => spinner.println(format_args!(
                "  worker {pid}: {} ({} bytes)",
                page.url,
                page.html.len()
            )),
            Err(e) => {
                spinner.eprintln(format_args!("  worker {pid}: error: {e}"));
                all_loaded = false;
            }
        }
    }
    spinner.println(format_args!(
        "  {} in {:.2} s",
        count(urls.len(), "url"),
        load_time.as_secs_f64()
    ));
    Ok(all_loaded)
}
// ANCHOR_END: load_pages
