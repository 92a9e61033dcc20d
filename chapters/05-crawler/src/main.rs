//! Chapter 5: a small parallel crawler, putting the earlier chapters together. Worker
//! processes take URLs from a task queue, load them and put back what they found; the
//! parent keeps the set of URLs already seen, and hands out the next level of links.
//!
//! Run it with no arguments to crawl the demo site from its front page, or give a start
//! URL: `cargo run -p ch05-crawler -- URL` (only links on the same site are followed).
//! `--help` lists the options.

mod crawl;
mod robots;
mod site_map;
mod url_set;
mod worker;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use demo_site::DemoSite;
use ipc::{Process, Queue};
use loader::links;
use loader::{Options, count, exit_status};

use crawl::Crawl;
use site_map::{Destination, Outcome};
use worker::{MAX_URL_BYTES, crawl_worker};

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
    /// Load at most this many URLs; the others found are counted, each once, not loaded.
    #[arg(long, value_parser = page_count)]
    max_pages: Option<u64>,
    /// Follow at most this many links to pages of a page, its first (1 to 100000), and
    /// record as many to images, stylesheets and scripts; the others, and URLs over 2048
    /// bytes, are counted (once for each page), not kept.
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

/// A time limit in seconds, from a millisecond to an hour: a number outside that range is
/// more likely a slip (`1e-9` for `1e9`, milliseconds meant) than a wish.
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
    // A level with nothing new ends it: the last one asks for no links.
    let mut level = crawl.start(start_url.clone());
    while !level.is_empty() {
        let deeper = level.depth < args.depth;
        level = crawl.level(level, deeper)?;
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
    crawl.site_map.print(
        &pids,
        crawl.not_loaded.len(),
        crawl.left_out,
        started.elapsed(),
    );
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
        Destination::NotLoaded(url) if url.len() > MAX_URL_BYTES => {
            format!(
                "The start page leads to a URL over {MAX_URL_BYTES} bytes, which was not loaded"
            )
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_outside_a_millisecond_to_an_hour_is_refused() {
        assert!(seconds("0.001").is_ok());
        assert!(seconds("3600").is_ok());
        assert!(seconds("1e-9").is_err());
        assert!(seconds("0.0004").is_err());
        assert!(seconds("3601").is_err());
    }
}
