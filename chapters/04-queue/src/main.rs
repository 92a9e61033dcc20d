//! Chapter 4: producers and consumers around a queue. A producer process puts URLs on a
//! task queue; loader processes take them, load them, and put what they got on a result
//! queue; the parent collects the results. Python: `multiprocessing.Queue`.
//!
//! Run it with no arguments to load every page of the demo site, or give URLs:
//! `cargo run -p ch04-queue -- URL…`.

use std::process::ExitCode;

use ipc::{Process, Queue};
use loader::{LoadError, Page, TIMEOUT as LOAD_TIMEOUT, Targets, exit_status, load_url};

const LOADERS: usize = 3;

/// What a loader puts on the result queue: which URL, which process, and how it went.
type Report = (String, u32, Result<Page, LoadError>);

// ANCHOR: loader
/// A consumer: take URLs until the task queue is closed, put a report for each.
fn loader(tasks: &mut Queue, results: &mut Queue) -> ipc::Result<()> {
    // `iter` ends when the queue is closed and empty (Python: a `None` sentinel per loader).
    for url in tasks.iter::<String>() {
        let url = url?;
        let page = load_url(&url);
        results.put(&(url, std::process::id(), page))?;
    }
    Ok(())
}
// ANCHOR_END: loader

// ANCHOR: main
fn main() -> Result<ExitCode, loader::Fatal> {
    loader::end_quietly_when_output_closes(); // `| head` ends it as it ends `cat`
    let demo_pages: Vec<&str> = demo_site::page_paths().collect();
    let targets = Targets::from_args_or_demo(&demo_pages)?;
    let (tasks, mut results) = (Queue::new()?, Queue::new()?);

    let mut producer_tasks = tasks.try_clone()?;
    let urls = targets.urls.clone();
    let mut producer = Process::new(move || {
        for url in &urls {
            producer_tasks.put(url).expect("the task queue works");
        }
        producer_tasks.close().expect("the task queue works");
    });
    let mut loaders = Vec::new();
    for _ in 0..LOADERS {
        let (mut tasks, mut results) = (tasks.try_clone()?, results.try_clone()?);
        loaders.push(Process::new(move || {
            loader(&mut tasks, &mut results).expect("the queues work")
        }));
    }
    println!("Starting 1 producer and {LOADERS} loader processes");
    producer.start()?;
    for process in &mut loaders {
        process.start()?;
    }

    // Reports come in the order the loads finish; print them in the order of the URLs.
    // A loader that died would never report: wait for each at most twice a load's time.
    let mut reports: Vec<Report> = Vec::new();
    for _ in &targets.urls {
        reports.push(results.get_timeout(2 * LOAD_TIMEOUT)?);
    }
    reports.sort_by_key(|(url, ..)| targets.urls.iter().position(|u| u == url));
    let mut all_loaded = true;
    for (url, pid, result) in reports {
        match result {
            Ok(page) => println!("worker {pid}: {url} ({} bytes)", page.html.len()),
            Err(e) => {
                eprintln!("worker {pid}: error: {e}");
                all_loaded = false;
            }
        }
    }
    producer.join()?;
    for process in &mut loaders {
        process.join()?;
    }
    println!("Exiting…");
    Ok(exit_status(all_loaded))
}
// ANCHOR_END: main
