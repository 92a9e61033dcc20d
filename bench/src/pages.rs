//! Slow web pages through a pool: the tutorial's use case. 32 pages that each take 50 ms,
//! 8 workers: 4 pages per worker one after another, so the ideal wall time is 4 × 50 ms.

use demo_site::DemoSite;
use ipc::Pool;

use crate::harness::{Contender, Result, Samples, alternate, per_op};

/// The topic's key in samples and JSON lines.
pub const TOPIC: &str = "pages";
/// `ipc::Pool::new(8).map(load, urls)`, each worker loading with ureq.
pub const IPC: &str = "ipc Pool(8).map + ureq";
/// What the pool cannot beat: each worker's pages one after another, no overhead.
pub const IDEAL_SECONDS: f64 = (PAGES / WORKERS) as f64 * DELAY_MS as f64 / 1000.0;

const PAGES: usize = 32;
const WORKERS: usize = 8;
/// How long the demo site waits before answering each page.
const DELAY_MS: u64 = 50;

/// One round: one map over all the pages (a sample takes ¼ s).
pub fn round(samples: &mut Samples, site: &DemoSite, round: usize) -> Result {
    let urls: Vec<String> = (0..PAGES)
        .map(|_| site.url(&demo_site::slow_page(DELAY_MS)))
        .collect();
    let pool = Pool::new(WORKERS);
    alternate(
        samples,
        TOPIC,
        round,
        1,
        1,
        &mut [Contender::new(IPC, || per_op(1, || load_all(&pool, &urls)))],
    )
}

fn load_all(pool: &Pool, urls: &[String]) -> Result {
    for page in pool.map(load, urls.iter().cloned())? {
        page?;
    }
    Ok(())
}

/// Runs in a worker: loads one page with a use-once ureq agent (the site closes every
/// connection after one answer, so a shared agent would have nothing to reuse).
fn load(url: String) -> std::result::Result<usize, String> {
    let body = ureq::get(&url)
        .call()
        .and_then(|mut response| response.body_mut().read_to_string())
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(body.len())
}
