//! Reference solution of `ch05_no_levels`: a crawl that waits for no level.

use std::collections::{BTreeMap, HashSet, VecDeque};
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

// ANCHOR: crawl
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
    // The URLs found but not handed out yet, and how many are out (with no finding back).
    let mut to_do = VecDeque::from([start.to_string()]);
    let mut out = 0;
    loop {
        // At most two tasks per worker out: neither queue's pipe can fill up.
        while out < 2 * workers {
            let Some(url) = to_do.pop_front() else { break };
            tasks.put(&url)?;
            out += 1;
        }
        if out == 0 {
            break; // nothing out, nothing to do: every page reached is in `pages`
        }
        let finding: Found = found.get_timeout(FINDING_TIMEOUT)?;
        out -= 1;
        if let Ok((_, links)) = &finding.result {
            let new = links.iter().filter(|link| seen.insert(link.to_string()));
            to_do.extend(new.cloned());
        }
        pages.insert(finding.url, finding.result.map(|(size, _)| size));
    }

    tasks.close()?;
    for process in &mut processes {
        process.join()?;
    }
    Ok(pages)
}
// ANCHOR_END: crawl
