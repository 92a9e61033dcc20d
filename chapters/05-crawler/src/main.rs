//! Chapter 5: a small parallel crawler, putting the earlier chapters together. Worker
//! processes take URLs from a task queue, load them and put back what they found; the
//! parent keeps the set of pages already seen, and hands out the next level of links.
//!
//! Run it with no arguments to crawl the demo site from its front page, or give a start
//! URL: `cargo run -p ch05-crawler -- URL` (only links on the same site are followed).

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ipc::{Error, Process, Queue};
use loader::{LoadError, Targets, exit_status, links, load_url_with_timeout};
use serde::{Deserialize, Serialize};

const WORKERS: usize = 3;
const MAX_DEPTH: usize = 3;
/// A crawler should not wait long for one page: a slower one is reported and skipped.
const PAGE_TIMEOUT: Duration = Duration::from_secs(1);

// ANCHOR: worker
/// What a worker found at one URL: the page's size and its links, or why it failed.
#[derive(Serialize, Deserialize)]
struct Found {
    url: String,
    worker: u32,
    result: Result<(usize, Vec<String>), LoadError>,
}

/// A worker: take URLs until the task queue is closed; report each page's links.
fn crawl_worker(tasks: &mut Queue, found: &mut Queue) -> ipc::Result<()> {
    loop {
        let url: String = match tasks.get() {
            Ok(url) => url,
            Err(Error::Closed) => return Ok(()),
            Err(e) => return Err(e),
        };
        let result = load_url_with_timeout(&url, PAGE_TIMEOUT)
            .map(|page| (page.html.len(), links::same_site_links(&url, &page.html)));
        let worker = std::process::id();
        found.put(&Found {
            url,
            worker,
            result,
        })?;
    }
}
// ANCHOR_END: worker

// ANCHOR: main
fn main() -> ipc::Result<ExitCode> {
    let targets = Targets::from_args_or_demo(&["/"])?;
    let start_url = targets.urls[0].clone();
    let (mut tasks, mut found) = (Queue::new()?, Queue::new()?);
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (mut tasks, mut found) = (tasks.try_clone()?, found.try_clone()?);
        let mut worker =
            Process::new(move || crawl_worker(&mut tasks, &mut found).expect("the queues work"));
        worker.start()?;
        workers.push(worker);
    }
    println!("Crawling {start_url} with {WORKERS} worker processes, to depth {MAX_DEPTH}");
    let started = Instant::now();

    // Level by level, so that each page's depth is its shortest distance from the start.
    let mut seen = HashSet::from([start_url.clone()]);
    let mut site_map: BTreeMap<String, (usize, Found)> = BTreeMap::new();
    let mut level = vec![start_url.clone()];
    for depth in 0..=MAX_DEPTH {
        let mut next_level = Vec::new();
        for report in crawl_level(&level, &mut tasks, &mut found)? {
            if let Ok((_, links)) = &report.result {
                let new = links.iter().filter(|link| seen.insert(link.to_string()));
                next_level.extend(new.cloned());
            }
            site_map.insert(report.url.clone(), (depth, report));
        }
        level = next_level;
    }
    tasks.close()?;
    for worker in &mut workers {
        worker.join()?;
    }

    let pids: Vec<u32> = workers
        .iter()
        .filter_map(|w| w.pid())
        .map(|p| p as u32)
        .collect();
    print_site_map(&site_map, &pids, started.elapsed());
    let start_loaded = site_map[&start_url].1.result.is_ok();
    Ok(exit_status(start_loaded))
}
// ANCHOR_END: main

// ANCHOR: crawl_level
/// Loads every URL of one level with the workers, and returns what they found. At most
/// two tasks per worker wait in the queue, so that neither queue's pipe can fill up with
/// the parent and the workers each waiting for the other.
fn crawl_level(level: &[String], tasks: &mut Queue, found: &mut Queue) -> ipc::Result<Vec<Found>> {
    let mut urls = level.iter();
    let mut waiting = 0;
    for url in urls.by_ref().take(2 * WORKERS) {
        tasks.put(url)?;
        waiting += 1;
    }
    let mut reports = Vec::new();
    while waiting > 0 {
        // A worker that died would never report: wait at most twice a page's time limit.
        reports.push(found.get_timeout::<Found>(2 * PAGE_TIMEOUT + Duration::from_secs(5))?);
        waiting -= 1;
        if let Some(url) = urls.next() {
            tasks.put(url)?;
            waiting += 1;
        }
    }
    Ok(reports)
}
// ANCHOR_END: crawl_level

/// The site map in URL order, then a summary.
fn print_site_map(site_map: &BTreeMap<String, (usize, Found)>, workers: &[u32], took: Duration) {
    let (mut bytes, mut errors) = (0, 0);
    let mut per_worker: BTreeMap<u32, usize> = workers.iter().map(|&pid| (pid, 0)).collect();
    println!("Site map (depth, page):");
    for (url, (depth, report)) in site_map {
        *per_worker.entry(report.worker).or_default() += 1;
        match &report.result {
            Ok((size, _)) => {
                bytes += size;
                println!("  {depth} {url} ({size} bytes)");
            }
            Err(e) => {
                errors += 1;
                println!("  {depth} error: {e}");
            }
        }
    }
    let pages = site_map.len();
    println!(
        "{pages} pages, {bytes} bytes, {errors} errors in {:.2} s",
        took.as_secs_f64()
    );
    for (worker, count) in per_worker {
        println!("  worker {worker}: {count} pages");
    }
}
