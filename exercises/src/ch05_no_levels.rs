//! # Exercise `ch05_no_levels`: a crawl that waits for no level
//!
//! Chapter 5's crawler goes level by level: it hands out the links of a level only once
//! every page of that level is back. That is what keeps its depths right, but a level
//! then lasts as long as its slowest page, and the other workers wait. A link checker
//! needs no depths: it wants every page of the site, and whether it loads.
//!
//! [`crawl`] below is such a link checker, still level by level (with no depth limit:
//! it goes on until no new link is left). Make it hand out each new link as soon as a
//! finding brings it, whatever the level:
//!
//! - keep the URLs that are found and not handed out yet in a to-do list, and count the
//!   tasks that are out (handed out, with no finding back yet);
//! - hand out URLs from the to-do list while fewer than two per worker are out, as
//!   `crawl_level` does, so that no pipe can fill up;
//! - take one finding, record it, add its new links to the to-do list, and go on;
//! - the crawl is over when nothing is out and the to-do list is empty.
//!
//! Each page is still loaded once (`seen`), the workers are still closed and joined at
//! the end. The workers and `same_site_links` are written already: only [`crawl`] changes.
//!
//! The checks crawl a test server's pages: with cycles and a broken link, with a page of
//! hundreds of links, and with a page that answers only once a page three links further
//! has been asked for.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use ipc::{Process, Queue};
use loader::links::same_site_links;
use loader::{LoadError, TIMEOUT as LOAD_TIMEOUT, load_url};
use serde::{Deserialize, Serialize};

/// How long the parent waits for one finding: a worker that died would never report.
const FINDING_TIMEOUT: Duration = LOAD_TIMEOUT.saturating_mul(2);

/// What a worker found at one URL: the page's size and its links, or why it failed.
#[derive(Serialize, Deserialize)]
struct Found {
    url: String,
    result: Result<(usize, Vec<String>), LoadError>,
}

/// A worker, as in chapter 5: takes URLs until the task queue is closed, and reports
/// each page's size and links.
fn worker(tasks: &mut Queue, found: &mut Queue) -> ipc::Result<()> {
    for url in tasks.iter::<String>() {
        let url = url?;
        let result = load_url(&url).map(|page| {
            let links = same_site_links(&url, &page.html);
            (page.html.len(), links)
        });
        found.put(&Found { url, result })?;
    }
    Ok(())
}

/// Crawls the site of `start` with `workers` worker processes, and returns every page it
/// reached: its size in bytes, or why it did not load.
pub fn crawl(
    start: &str,
    workers: usize,
) -> ipc::Result<BTreeMap<String, Result<usize, LoadError>>> {
    let (mut tasks, mut found) = (Queue::new()?, Queue::new()?);
    let mut processes = Vec::new();
    for _ in 0..workers {
        let (mut tasks, mut found) = (tasks.try_clone()?, found.try_clone()?);
        let mut process =
            Process::new(move || worker(&mut tasks, &mut found).expect("the queues work"));
        process.start()?;
        processes.push(process);
    }

    let mut pages = BTreeMap::new();
    let mut seen = HashSet::from([start.to_string()]);
    // TODO: no levels. Replace this loop, and `crawl_level` with it, by one loop over a
    //       to-do list (a `VecDeque<String>`, holding `start` at first) and a count of
    //       the tasks out. Each turn: hand out URLs from the list while fewer than
    //       `2 * workers` are out; stop if none is out; else take one finding (use
    //       `found.get_timeout(FINDING_TIMEOUT)`), record it as below, and put its new
    //       links on the list.
    let mut level = vec![start.to_string()];
    while !level.is_empty() {
        let mut next_level = Vec::new();
        for finding in crawl_level(&level, workers, &mut tasks, &mut found)? {
            if let Ok((_, links)) = &finding.result {
                let new = links.iter().filter(|link| seen.insert(link.to_string()));
                next_level.extend(new.cloned());
            }
            pages.insert(finding.url, finding.result.map(|(size, _)| size));
        }
        level = next_level;
    }

    tasks.close()?;
    for process in &mut processes {
        process.join()?;
    }
    Ok(pages)
}

/// Loads every URL of one level with the workers, and returns what they found: at most
/// two tasks per worker out at a time, as in chapter 5.
fn crawl_level(
    level: &[String],
    workers: usize,
    tasks: &mut Queue,
    found: &mut Queue,
) -> ipc::Result<Vec<Found>> {
    let mut urls = level.iter();
    let mut out = 0;
    for url in urls.by_ref().take(2 * workers) {
        tasks.put(url)?;
        out += 1;
    }
    let mut findings = Vec::new();
    while out > 0 {
        findings.push(found.get_timeout::<Found>(FINDING_TIMEOUT)?);
        out -= 1;
        if let Some(url) = urls.next() {
            tasks.put(url)?;
            out += 1;
        }
    }
    Ok(findings)
}
