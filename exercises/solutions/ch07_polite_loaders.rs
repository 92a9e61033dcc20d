//! Reference solution of `ch07_polite_loaders`: at most N loads at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use ipc::{Process, Semaphore, SharedAtomic, Value};
use loader::load_url;

use crate::types::Tally;

// ANCHOR: load_politely
/// Loads every URL of `urls` with `loaders` processes, never more than `at_once` at the
/// same time, and returns what they loaded, all together.
pub fn load_politely(urls: &[String], loaders: usize, at_once: u32) -> ipc::Result<Tally> {
    let tally = Value::new(Tally::default())?;
    let next_url = SharedAtomic::new(AtomicUsize::new(0))?;
    let permits = Semaphore::new(at_once)?;
    let mut processes = Vec::new();
    for _ in 0..loaders {
        let (tally, next_url, urls) = (tally.clone(), next_url.clone(), urls.to_vec());
        let permits = permits.clone();
        let mut process = Process::new(move || {
            load_and_tally(&urls, &next_url, &tally, &permits).expect("the tally's lock works")
        });
        process.start()?;
        processes.push(process);
    }
    for process in &mut processes {
        process.join()?;
    }
    tally.get()
}
// ANCHOR_END: load_politely

// ANCHOR: load_and_tally
/// A loader: takes the next URL's number until none is left, loads the URL with a permit
/// in hand, and adds what it got to the tally.
fn load_and_tally(
    urls: &[String],
    next_url: &SharedAtomic<AtomicUsize>,
    tally: &Value<Tally>,
    permits: &Semaphore,
) -> ipc::Result<()> {
    loop {
        let i = next_url.fetch_add(1, Ordering::Relaxed);
        let Some(url) = urls.get(i) else {
            return Ok(());
        };
        permits.acquire();
        let page = load_url(url);
        permits.release()?;
        // The permit is back before the tally's lock is taken: holding one while waiting
        // for the other would keep a permit from the loaders that only want to load.
        let mut tally = tally.lock()?;
        match page {
            Ok(page) => {
                tally.pages += 1;
                tally.bytes += page.html.len() as u64;
            }
            Err(_) => tally.errors += 1,
        }
    }
}
// ANCHOR_END: load_and_tally
