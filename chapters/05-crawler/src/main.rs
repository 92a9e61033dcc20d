//! Chapter 5: a small parallel crawler, putting the earlier chapters together. Worker
//! processes take URLs from a task queue, load them and put back what they found; the
//! parent keeps the set of URLs already seen, and hands out the next level of links.
//!
//! Run it with no arguments to crawl the demo site from its front page, or give a start
//! URL: `cargo run -p ch05-crawler -- URL` (only links on the same site are followed).
//! `--help` lists the options.

mod robots;
mod site_map;
mod worker;

use std::collections::{HashSet, VecDeque};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use demo_site::DemoSite;
use ipc::{Process, Queue};
use loader::links::{self, Kind, Link};
use loader::{Options, count, exit_status};

use robots::Rules;
use site_map::{Destination, Outcome, SiteMap};
use worker::{Found, LeftOut, Loaded, Task, crawl_worker};

/// Crawls a web site with worker processes, and prints its map: every URL reached on the
/// start page's site, with its depth (its distance in links from the start).
#[derive(Parser)]
#[command(name = "crawler", version, after_help = EXIT_CODES)]
struct Args {
    /// The start page (http or https); only links on its site are followed. Without it,
    /// the built-in demo site is started and crawled from its front page.
    #[arg(value_parser = start_url)]
    url: Option<String>,
    /// How many links away from the start page to go.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// How many worker processes load pages (1 to 64).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
    /// Load at most this many URLs; the links past it are counted, not loaded.
    #[arg(long, value_parser = page_count)]
    max_pages: Option<u64>,
    /// Follow at most this many links of a page, its first (1 to 100000); the others, and
    /// URLs over 2048 bytes, are counted, not followed.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_links: u32,
    /// Load pages even where the site's robots.txt asks crawlers not to.
    #[arg(long)]
    ignore_robots: bool,
    /// Seconds one page may take (0.001 to 3600); a slower one is reported as an error.
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    timeout: f64,
    /// The largest page read, in bytes; a larger one is reported as an error.
    #[arg(long, default_value_t = loader::MAX_BODY)]
    max_page_bytes: u64,
}

/// What `--help` says last: the exit codes, as the book gives them.
const EXIT_CODES: &str = "Exit codes:
  0  the start page loaded (or redirected, on the site, to a page that loaded)
  1  it did not: an error, another site, a loop of redirects, robots.txt, --max-pages
  2  bad input: nothing was started";

/// The command line, or the end of the program: `--help` prints the help and exits with 0;
/// bad input prints what is wrong and a usage line, and exits with 2, before any process
/// is started.
fn parse_args() -> Args {
    Args::try_parse().unwrap_or_else(|e| {
        let _ = e.print();
        if e.use_stderr() && !e.to_string().contains("Usage:") {
            eprintln!("\n{}", Args::command().render_usage());
        }
        std::process::exit(e.exit_code())
    })
}

fn start_url(url: &str) -> Result<String, String> {
    links::normalise(url)
}

fn page_count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("at least 1 (without --max-pages, there is no limit)".into()),
        Ok(pages) => Ok(pages),
        Err(_) => Err("a number of pages, at least 1".into()),
    }
}

/// A time limit in seconds, from 1 ms (the loader counts and reports its limit in
/// milliseconds: less would be said as "within 0 s") to an hour.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.001..=3600.0).contains(&seconds) => Ok(seconds),
        _ => Err("a number of seconds, from 0.001 to 3600".into()),
    }
}

// ANCHOR: main
fn main() -> Result<ExitCode, loader::Fatal> {
    loader::end_quietly_when_output_closes(); // `| head` ends it as it ends `cat`
    let args = parse_args();
    let site = match args.url {
        Some(_) => None,
        None => Some(DemoSite::start()?),
    };
    let start_url = match (&args.url, &site) {
        (Some(url), _) => url.clone(),
        (None, Some(site)) => site.url(demo_site::FRONT_PAGE),
        (None, None) => unreachable!("the demo site was started"),
    };
    if let Some(site) = &site {
        println!("Serving the demo site at {}", site.url("/"));
    }
    let options = Options {
        timeout: Duration::from_secs_f64(args.timeout),
        max_body: args.max_page_bytes,
    };
    let (tasks, found) = (Queue::new()?, Queue::new()?);
    let mut workers = Vec::new();
    for _ in 0..args.workers {
        let (mut tasks, mut found) = (tasks.try_clone()?, found.try_clone()?);
        let max_links = args.max_links as usize;
        let mut worker = Process::new(move || {
            crawl_worker(&mut tasks, &mut found, options, max_links).expect("the queues work")
        });
        worker.start()?;
        workers.push(worker);
    }
    println!(
        "Crawling {start_url} to depth {}, with {}",
        args.depth,
        count(args.workers.into(), "worker")
    );
    let started = Instant::now();

    let mut crawl = Crawl::new(tasks, found, args.workers, options.timeout, args.max_pages);
    if args.ignore_robots {
        println!("robots.txt: ignored (--ignore-robots)");
    } else {
        crawl.read_robots(&start_url)?;
    }
    // Level by level, so that each page's depth is its shortest distance from the start.
    let mut level: VecDeque<String> = crawl.take(start_url.clone(), 0).into_iter().collect();
    for depth in 0..=args.depth {
        if level.is_empty() {
            break; // nothing new was found: there is no deeper level
        }
        level = crawl.level(depth, level, depth < args.depth)?;
    }
    crawl.tasks.close()?;
    for worker in &mut workers {
        worker.join()?;
    }

    let pids: Vec<u32> = workers
        .iter()
        .filter_map(|w| w.pid())
        .map(|p| p as u32)
        .collect();
    crawl
        .site_map
        .print(&pids, crawl.not_loaded, crawl.left_out, started.elapsed());
    let start = crawl.site_map.destination(&start_url);
    if let Some(said) = nothing_to_crawl(&start_url, &start) {
        println!("{said}");
    }
    Ok(exit_status(matches!(
        start,
        Destination::Reached(_, Outcome::Page(_))
    )))
}
// ANCHOR_END: main

/// Why a crawl from `start_url`, which leads to `start`, had nothing to crawl, if it had
/// not: the exit code is then 1, and this sentence says why, in place of a page's links.
fn nothing_to_crawl(start_url: &str, start: &Destination) -> Option<String> {
    Some(match start {
        Destination::Reached(_, Outcome::Redirect { to, .. }) => {
            format!("The start page leads to another site: to crawl that one, start at {to}")
        }
        Destination::Loop => "The start page's redirects go round in a loop".to_string(),
        Destination::NotLoaded(url) => {
            format!("The start page leads to {url}, which was not loaded: past --max-pages")
        }
        Destination::Reached(url, Outcome::Disallowed(why)) => {
            let page = match *url == start_url {
                true => "The start page was not loaded".to_string(),
                false => format!("The start page leads to {url}, which was not loaded"),
            };
            format!("{page}: {why} (--ignore-robots loads it)")
        }
        Destination::Reached(..) => return None,
    })
}

/// The parent's side of a crawl: the queues, and everything it knows so far.
struct Crawl {
    tasks: Queue,
    found: Queue,
    /// How many tasks may be out at once.
    window: usize,
    /// How long to wait for one finding: a worker that died would never report.
    wait: Duration,
    /// The site's rules for crawlers.
    robots: Rules,
    /// Every URL taken so far: each is loaded (or recorded) once.
    seen: HashSet<String>,
    site_map: SiteMap,
    /// How many more URLs `--max-pages` lets the crawl load.
    loads_left: u64,
    /// Links found once `--max-pages` URLs were known: counted, neither kept nor loaded.
    not_loaded: usize,
    /// Links the workers counted but did not send: past `--max-links`, or too long.
    left_out: LeftOut,
}

impl Crawl {
    /// A crawl that nothing is known of yet, with `workers` workers on the other ends of
    /// `tasks` and `found`, each allowed `timeout` for a page.
    fn new(
        tasks: Queue,
        found: Queue,
        workers: u16,
        timeout: Duration,
        max_pages: Option<u64>,
    ) -> Crawl {
        Crawl {
            tasks,
            found,
            window: 2 * usize::from(workers),
            wait: 2 * timeout + Duration::from_secs(5),
            robots: Rules::None,
            seen: HashSet::new(),
            site_map: SiteMap::new(),
            loads_left: max_pages.unwrap_or(u64::MAX),
            not_loaded: 0,
            left_out: LeftOut::default(),
        }
    }

    // ANCHOR: crawl_level
    /// Loads every URL of one level with the workers, records what they found, and returns
    /// the next level: the new page links. At most `window` tasks (two per worker) are out
    /// at a time, so that neither queue's pipe can fill up with the parent and the workers
    /// each waiting for the other. Every URL of `urls` has been [`take`](Self::take)n.
    fn level(
        &mut self,
        depth: usize,
        mut urls: VecDeque<String>,
        want_links: bool,
    ) -> ipc::Result<VecDeque<String>> {
        let mut next = VecDeque::new();
        let mut out = 0;
        loop {
            while out < self.window {
                let Some(url) = urls.pop_front() else { break };
                let links = want_links;
                self.tasks.put(&Task::Page { url, links })?;
                out += 1;
            }
            if out == 0 {
                return Ok(next);
            }
            let Found {
                url,
                worker,
                result,
            } = self.found.get_timeout(self.wait)?;
            out -= 1;
            let (outcome, links) = match result {
                Ok(Loaded::Page {
                    bytes,
                    links,
                    left_out,
                }) => {
                    self.left_out.past_max_links += left_out.past_max_links;
                    self.left_out.too_long += left_out.too_long;
                    (Outcome::Page(bytes), links)
                }
                Ok(Loaded::Redirect(to)) => {
                    let to = links::normalise(&to).unwrap_or(to);
                    let on_site = links::same_origin(&url, &to);
                    (Outcome::Redirect { to, on_site }, Vec::new())
                }
                Ok(Loaded::Other(media_type)) => (Outcome::Other(media_type), Vec::new()),
                Ok(Loaded::Text(_)) => unreachable!("pages are never asked for as text"),
                Err(e) => (Outcome::Failed(e), Vec::new()),
            };
            let followed = match &outcome {
                Outcome::Redirect { to, on_site: true } => Some(to.clone()),
                _ => None,
            };
            self.site_map.record(url, depth, outcome, Some(worker));
            // Where a redirect leads is as far from the start as the link to it.
            urls.extend(followed.and_then(|to| self.take(to, depth)));
            self.take_links(links, depth + 1, &mut next);
        }
    }

    /// Takes the links of a page, found at `depth`: a new page joins `next`; a new image,
    /// stylesheet or script is recorded at once, never loaded.
    fn take_links(&mut self, links: Vec<Link>, depth: usize, next: &mut VecDeque<String>) {
        for link in links {
            if link.kind == Kind::Page {
                next.extend(self.take(link.url, depth));
            } else if self.seen.insert(link.url.clone()) {
                self.site_map
                    .note(link.url, depth, Outcome::Embedded(link.kind));
            }
        }
    }

    /// The URL of a page found at `depth`, if it is to be loaded: if it is new, robots.txt
    /// allows it, and `--max-pages` leaves room for it. Once that many are known, a link is
    /// only counted: neither `seen` nor the next level grows past `--max-pages` URLs, however
    /// many links the pages hold.
    fn take(&mut self, url: String, depth: usize) -> Option<String> {
        if self.seen.contains(&url) {
            return None; // loaded, or about to be, or recorded
        }
        if self.loads_left == 0 {
            self.not_loaded += 1;
            return None;
        }
        self.seen.insert(url.clone());
        if let Some(rule) = self.robots.refusal(&url) {
            self.site_map.note(url, depth, Outcome::Disallowed(rule));
            return None;
        }
        self.loads_left -= 1;
        self.site_map.expect(1);
        Some(url)
    }
    // ANCHOR_END: crawl_level

    /// Asks a worker for the site's `robots.txt`, and says what it found.
    fn read_robots(&mut self, start_url: &str) -> ipc::Result<()> {
        let Ok(robots_url) = texting_robots::get_robots_url(start_url) else {
            return Ok(());
        };
        self.tasks.put(&Task::Robots(robots_url.clone()))?;
        let found: Found = self.found.get_timeout(self.wait)?;
        let answer = found.result.map(|loaded| match loaded {
            Loaded::Text(text) => text,
            _ => unreachable!("robots.txt is asked for as text"),
        });
        let (rules, said) = Rules::from_answer(&robots_url, answer);
        println!("robots.txt: {said}");
        self.robots = rules;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = "http://127.0.0.1:1/";

    /// A crawl with no worker: the test puts the findings on `found` itself, before the
    /// crawl asks for them, and the tasks stay on `tasks`, unread.
    fn crawl(max_pages: Option<u64>) -> Crawl {
        let (tasks, found) = (Queue::new().unwrap(), Queue::new().unwrap());
        Crawl::new(tasks, found, 1, Duration::from_millis(100), max_pages)
    }

    /// What a worker would say of the page at `path`, with these links.
    fn page(path: &str, links: Vec<Link>) -> Found {
        Found {
            url: format!("http://127.0.0.1:1{path}"),
            worker: 1,
            result: Ok(Loaded::Page {
                bytes: 10,
                links,
                left_out: LeftOut::default(),
            }),
        }
    }

    fn link(path: &str, kind: Kind) -> Link {
        let url = format!("http://127.0.0.1:1{path}");
        Link { url, kind }
    }

    #[test]
    fn a_timeout_below_what_the_loader_reports_is_refused() {
        // The loader counts, and reports, its time limit in milliseconds.
        assert!(seconds("0.001").is_ok());
        assert!(seconds("1e-9").is_err(), "would be said as 'within 0 s'");
        assert!(seconds("0.0004").is_err());
    }

    #[test]
    fn the_progress_ends_at_its_length_and_never_passes_it() {
        let mut crawl = crawl(Some(2));
        let links = vec![
            link("/a.html", Kind::Page),
            link("/b.html", Kind::Page),
            link("/c.html", Kind::Page),
            link("/logo.png", Kind::Image),
        ];
        crawl.found.put(&page("/", links)).unwrap();
        crawl.found.put(&page("/a.html", Vec::new())).unwrap();
        let start = crawl.take(START.to_string(), 0).into_iter().collect();
        let next = crawl.level(0, start, true);
        let (position, length) = crawl.site_map.progress();
        assert!(position <= length, "{position}/{length} after level 0");
        crawl.level(1, next.unwrap(), true).unwrap();
        assert_eq!(
            crawl.site_map.progress(),
            (3, 3),
            "the start, a.html, logo.png"
        );
    }

    #[test]
    fn links_past_max_pages_are_counted_not_kept() {
        let mut crawl = crawl(Some(3));
        let links = (0..10_000)
            .map(|i| link(&format!("/{i}.html"), Kind::Page))
            .collect();
        crawl.found.put(&page("/", links)).unwrap();
        let start = crawl.take(START.to_string(), 0).into_iter().collect();
        let next = crawl.level(0, start, true);
        assert_eq!(
            next.unwrap().len(),
            2,
            "the two pages --max-pages still loads"
        );
        assert_eq!(crawl.seen.len(), 3, "the start and those two");
        assert_eq!(
            crawl.not_loaded, 9_998,
            "nothing lost: the others are counted"
        );
    }
}
