//! What the crawl keeps of each URL, shown as it comes in and as a sorted map at the end.
//!
//! An entry is a depth and a short outcome: a size, a media type, a redirect's target, an
//! error. Never a page's links: those are only needed the moment a finding arrives, to pick
//! the new ones. So the parent's memory grows with the number of URLs, not of links; and
//! with `--max-pages`, the URLs are at most that many pages, and the images and pages
//! closed by robots.txt that their first `--max-links` links name.

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loader::links::Kind;
use loader::{LoadError, MAX_REDIRECTS, count};

use crate::worker::{LeftOut, MAX_URL_BYTES};

/// What became of one URL.
pub enum Outcome {
    /// An HTML page of this many bytes.
    Page(usize),
    /// A redirect to this URL; `on_site` if it was followed.
    Redirect { to: String, on_site: bool },
    /// A redirect on the site to this URL, after [`MAX_REDIRECTS`] in a row: an error, not
    /// followed (the crawler's own, as the loader's errors are for what a load meets).
    TooManyRedirects { to: String },
    /// Loaded, but not HTML: its media type.
    Other(String),
    /// An image, stylesheet or script, as the link said: recorded, not loaded.
    Embedded(Kind),
    /// Not loaded, because of `robots.txt`: why.
    Disallowed(&'static str),
    /// Why it did not load.
    Failed(LoadError),
}

struct Entry {
    depth: usize,
    outcome: Outcome,
    worker: Option<u32>,
}

/// Every URL of the crawl, sorted, and the progress shown while it runs.
pub struct SiteMap {
    entries: BTreeMap<String, Entry>,
    progress: ProgressBar,
}

impl SiteMap {
    /// An empty map. While the crawl runs, each entry is printed on stderr as it comes
    /// in, and, when stderr is a terminal, a progress bar below them.
    pub fn new() -> SiteMap {
        // A hidden bar still counts (it is given a length), so that tests can check the
        // counting, which they cannot see: their stderr is not a terminal.
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} URLs {wide_msg}")
            .expect("a valid template");
        let progress = ProgressBar::with_draw_target(Some(0), target).with_style(style);
        SiteMap {
            entries: BTreeMap::new(),
            progress,
        }
    }

    /// More URLs handed out, each to be [`record`](Self::record)ed when its finding comes.
    pub fn expect(&self, urls: usize) {
        self.progress.inc_length(urls as u64);
    }

    /// Records `url`, which is not loaded (an image, a page robots.txt closes), and prints
    /// it: one more URL, done at once, so the progress bar's count stays within its length.
    pub fn note(&mut self, url: String, depth: usize, outcome: Outcome) {
        self.expect(1);
        self.record(url, depth, outcome, None);
    }

    /// Records what became of `url`, [`expect`](Self::expect)ed before, and prints it.
    pub fn record(&mut self, url: String, depth: usize, outcome: Outcome, worker: Option<u32>) {
        let line = line(&url, depth, &outcome);
        // Drawn from this thread, between two findings: no thread ticks the bar, so the
        // parent stays single-threaded and can still fork (see the fork pitfalls).
        self.progress.suspend(|| eprintln!("{line}"));
        self.progress.inc(1);
        self.progress.set_message(url.clone());
        let entry = Entry {
            depth,
            outcome,
            worker,
        };
        self.entries.insert(url, entry);
    }

    /// Where `url` leads, following its redirects on the site.
    pub fn destination<'a>(&'a self, mut url: &'a str) -> Destination<'a> {
        let mut passed = HashSet::new();
        while passed.insert(url) {
            match self.entries.get(url).map(|entry| &entry.outcome) {
                Some(Outcome::Redirect { to, on_site: true }) => url = to,
                Some(outcome) => return Destination::Reached(url, outcome),
                None => return Destination::NotLoaded(url),
            }
        }
        Destination::Loop
    }

    /// Clears the progress bar, then prints the map in URL order and a summary.
    pub fn print(&self, workers: &[u32], not_loaded: usize, left_out: LeftOut, took: Duration) {
        self.progress.finish_and_clear();
        let (mut pages, mut bytes, mut errors) = (0, 0, 0);
        let mut per_worker: BTreeMap<u32, usize> = workers.iter().map(|&pid| (pid, 0)).collect();
        println!("Site map (depth, URL):");
        for (url, entry) in &self.entries {
            println!("{}", line(url, entry.depth, &entry.outcome));
            match entry.outcome {
                Outcome::Page(size) => (pages, bytes) = (pages + 1, bytes + size),
                Outcome::Failed(_) | Outcome::TooManyRedirects { .. } => errors += 1,
                _ => {}
            }
            if let Some(worker) = entry.worker {
                *per_worker.entry(worker).or_default() += 1;
            }
        }
        println!(
            "{}: {} ({bytes} bytes), {} in {:.2} s",
            count(self.entries.len(), "URL"),
            count(pages, "page"),
            count(errors, "error"),
            took.as_secs_f64()
        );
        if not_loaded > 0 {
            println!("{} not loaded: past --max-pages", count(not_loaded, "URL"));
        }
        if left_out.past_max_links > 0 {
            let links = count(left_out.past_max_links, "link");
            println!("{links} left out: past --max-links on their page");
        }
        if left_out.too_long > 0 {
            let links = count(left_out.too_long, "link");
            println!("{links} left out: URL over {MAX_URL_BYTES} bytes");
        }
        for (worker, loads) in per_worker {
            println!("  worker {worker}: {}", count(loads, "load"));
        }
    }
}

/// Where a URL's redirects on the site lead ([`SiteMap::destination`]).
pub enum Destination<'a> {
    /// The last URL, and what it held: a page, an error, a redirect to another site...
    Reached(&'a str, &'a Outcome),
    /// This URL, which was not loaded: past `--max-pages`, or over [`MAX_URL_BYTES`].
    NotLoaded(&'a str),
    /// Back to a URL already passed: round in a loop.
    Loop,
}

/// An entry as one line: the depth, the URL and what became of it.
fn line(url: &str, depth: usize, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Page(size) => format!("  {depth} {url} ({size} bytes)"),
        Outcome::Redirect { to, on_site: true } => format!("  {depth} {url} -> {to}"),
        Outcome::Redirect { to, on_site: false } => {
            format!("  {depth} {url} -> {to} (another site: not followed)")
        }
        Outcome::TooManyRedirects { to } => format!(
            "  {depth} error: {url}: more than {MAX_REDIRECTS} redirects in a row: the one to \
             {to} is not followed"
        ),
        Outcome::Other(media_type) => format!("  {depth} {url} ({media_type}: not a page)"),
        Outcome::Embedded(kind) => format!("  {depth} {url} ({}: not loaded)", kind.name()),
        Outcome::Disallowed(why) => format!("  {depth} {url} ({why})"),
        Outcome::Failed(e) => format!("  {depth} error: {e}"),
    }
}

#[cfg(test)]
impl SiteMap {
    /// Where the progress bar is: its position and its length.
    pub fn progress(&self) -> (u64, u64) {
        let length = self.progress.length().unwrap_or(0);
        (self.progress.position(), length)
    }

    /// The site map's line of `url`, if it has one.
    pub fn line_of(&self, url: &str) -> Option<String> {
        let entry = self.entries.get(url)?;
        Some(line(url, entry.depth, &entry.outcome))
    }
}
