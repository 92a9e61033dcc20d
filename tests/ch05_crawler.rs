//! Snapshots of chapter 5's `crawler`, on the demo site and with bad input.
//!
//! The crawler prints each URL on stderr as it finishes, in an order that depends on which
//! worker is faster; [`finished_in_any_order`] sorts those lines before the comparison. The
//! site map that follows is sorted by the crawler itself.

#[macro_use]
mod support;

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use demo_site::{DISALLOWED_PAGE, DemoSite, MOVED_AWAY, NOT_UTF8_PAGE, REDIRECT, REDIRECT_LOOP};
use nix::sys::resource::{UsageWho, getrusage};
use support::as_written;

const BIN: &str = env!("CARGO_BIN_EXE_crawler");

/// The lines the workers print as pages finish, between the robots.txt line and the site
/// map, in sorted order.
fn finished_in_any_order(text: String) -> String {
    support::sorted_between(&text, "robots.txt:", "Site map")
}

/// Every page of the demo site, each in its own way: a redirect, links relative to where
/// it leads, `../`, a `<base>`, a stylesheet and images recorded but not loaded, a page
/// closed by robots.txt, a 404, a page that is not UTF-8, one that is too slow.
fn default_run_on_the_demo_site() {
    support::check("ch05_default", BIN, &[], None, finished_in_any_order);
}

/// One worker takes the tasks in the order they are handed out: the order of stderr is
/// the crawl's own. `--ignore-robots` loads the page robots.txt closes.
fn one_worker_ignoring_robots_txt() {
    let args = ["--workers", "1", "--ignore-robots"];
    support::check("ch05_one_worker", BIN, &args, None, as_written);
}

/// `--depth 1` stops after the front page's links; `--max-pages 4` after four loads.
fn depth_and_max_pages() {
    let args = ["--depth", "1", "--max-pages", "4"];
    support::check("ch05_max_pages", BIN, &args, None, finished_in_any_order);
}

/// `--max-links 1` follows one link to a page of each page, its first: the stylesheet that
/// the front page names before, in its head, does not take its place.
fn max_links_follows_that_many_links_to_pages() {
    let args = ["--max-links", "1", "--depth", "2"];
    let text = support::check_command(
        "ch05_max_links",
        "cargo run -p ch05-crawler",
        BIN,
        &args,
        None,
        finished_in_any_order,
    );
    let map = &text[text.find("Site map").expect("a site map")..];
    let pages_at_1 = map
        .lines()
        .filter(|line| line.starts_with("  1 ") && line.ends_with(" bytes)"));
    assert_eq!(pages_at_1.count(), 1, "one page at depth 1:\n{text}");
}

/// A malformed URL, an extra argument, a bad number: a usage line, exit code 2, and no
/// worker started.
fn bad_input_is_refused_with_a_usage_line() {
    let bad_url = [support::BAD_URLS[0]];
    support::check("ch05_bad_url", BIN, &bad_url, None, as_written);
    support::check("ch05_two_urls", BIN, &support::BAD_URLS, None, as_written);
    support::check(
        "ch05_no_workers",
        BIN,
        &["--workers", "0"],
        None,
        as_written,
    );
    support::check(
        "ch05_no_pages",
        BIN,
        &["--max-pages", "0"],
        None,
        as_written,
    );
}

/// A depth past the site's last level ends the crawl when a level finds nothing new, not
/// after counting to the depth asked for.
fn a_depth_past_the_last_level_ends_with_the_last_level() {
    let args = ["--depth", "10000000000", "--max-pages", "4"];
    support::check("ch05_deep", BIN, &args, None, finished_in_any_order);
}

/// The options, and the exit codes, as the book gives them.
fn help_lists_the_options_and_the_exit_codes() {
    let command = "cargo run -p ch05-crawler";
    let text = support::check_command("ch05_help", command, BIN, &["--help"], None, as_written);
    for code in ["0 ", "1 ", "2 "] {
        assert!(
            text.contains(&format!("\n  {code}")),
            "exit code {code}: {text}"
        );
    }
}

/// Nobody listening: robots.txt cannot be read, so nothing is loaded, and exit code 1.
fn an_unreachable_site_is_an_error() {
    let unreachable = [support::BAD_URLS[1]];
    support::check("ch05_unreachable", BIN, &unreachable, None, as_written);
}

fn a_page_that_is_not_utf8_is_an_error() {
    let site = DemoSite::start().unwrap();
    let url = site.url(NOT_UTF8_PAGE);
    let port = Some(site.addr().port());
    support::check("ch05_not_utf8", BIN, &[&url], port, finished_in_any_order);
}

/// A start page that leads to another site (an `http://` address moved to `https://`, say)
/// leaves nothing to crawl here: the crawler says where it leads, and exits with 1; so
/// does a start page whose redirects go round in a loop, or lead to a page not loaded.
fn a_start_page_that_leads_nowhere_on_the_site_says_so() {
    let site = DemoSite::start().unwrap();
    let port = Some(site.addr().port());
    for (name, path) in [
        ("ch05_moved_away", MOVED_AWAY),
        ("ch05_loop", REDIRECT_LOOP),
    ] {
        let url = site.url(path);
        support::check(name, BIN, &[&url], port, finished_in_any_order);
    }
    // On the site, to a page that --max-pages leaves unloaded.
    let url = site.url(REDIRECT);
    let args = [url.as_str(), "--max-pages", "1"];
    support::check(
        "ch05_redirect_unloaded",
        BIN,
        &args,
        port,
        finished_in_any_order,
    );
}

/// A start page that robots.txt closes is not loaded: the crawler says so, in the words it
/// has for the other start pages that lead nowhere, and exits with 1.
fn a_start_page_closed_by_robots_txt_says_so() {
    let site = DemoSite::start().unwrap();
    let port = Some(site.addr().port());
    let url = site.url(DISALLOWED_PAGE);
    let command = "cargo run -p ch05-crawler";
    let name = "ch05_disallowed_start";
    let text = support::check_command(name, command, BIN, &[&url], port, as_written);
    assert!(
        text.contains("The start page was not loaded: disallowed by robots.txt"),
        "{text}"
    );
}

/// A page of 100,000 links under a 2,000-character `<base href>`: each link is a 2 KB URL
/// once resolved, 200 MB in all. Only the links a worker keeps (`--max-links`) may cost
/// memory: the crawler and its workers stay far below that.
fn a_page_of_many_long_links_costs_little_memory() {
    let server = Server::start();
    let base = format!("{}/{}/", server.origin, "b".repeat(2000));
    let links: String = (0..100_000)
        .map(|i| format!("<a href={i}>{i}</a>"))
        .collect();
    let page = format!("<html><head><base href=\"{base}\"></head><body>{links}</body></html>");
    let start = format!("{}/", server.origin);
    let crawl = server.serve_while(
        move |_| answer("200 OK", "", &page),
        || {
            Command::new(BIN)
                .args([&start, "--depth", "1", "--max-pages", "3"])
                .output()
                .unwrap()
        },
    );
    let text = String::from_utf8_lossy(&crawl.stdout);
    assert!(text.contains("past --max-links"), "{text}");
    // The largest of the crawler and its workers, all reaped by now.
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();
    assert!(
        peak_kib < 100 * 1024,
        "a process of the crawl reached {peak_kib} KiB"
    );
}

/// A redirect's target is as far from the start as the link to the redirect, even when a
/// link of the same level, one further, names it first. With one worker the findings come
/// in the order the URLs went out: the start page names `/b.html` (which links to
/// `/x.html`) before `/a` (which redirects there), so the link comes first.
fn a_redirect_leads_as_far_as_its_link_whichever_finding_comes_first() {
    let server = Server::start();
    let port = Some(server.port());
    let start = format!("{}/", server.origin);
    let text = server.serve_while(
        |path| match path {
            "/" => answer("200 OK", "", "<a href=/b.html>b</a> <a href=/a>a</a>"),
            "/b.html" => answer("200 OK", "", "<a href=/x.html>x</a>"),
            "/a" => answer("301 Moved Permanently", "Location: /x.html\r\n", ""),
            _ => answer("200 OK", "", "<p>x</p>"),
        },
        || {
            let (name, command) = ("ch05_redirect_and_link", "cargo run -p ch05-crawler");
            let args = [start.as_str(), "--workers", "1"];
            support::check_command(name, command, BIN, &args, port, as_written)
        },
    );
    let x = "\n  1 http://127.0.0.1:[PORT]/x.html (8 bytes)\n";
    assert!(text.contains(x), "no{x}in:\n{text}");
}

/// A chain of redirects, each to a new URL, is as far from the start as its first link, so
/// no `--depth` ends it: like a loop, it must end after a few redirects in a row (the
/// loader's `MAX_REDIRECTS`, 10, as Python's `urlopen`), or one level lasts forever and
/// `seen` grows without bound. Here the chain is 100 long, then a page.
fn a_chain_of_redirects_ends_even_at_depth_0() {
    let server = Server::start();
    let start = format!("{}/r/0", server.origin);
    let crawl = server.serve_while(
        |path| {
            let n: u32 = path.trim_start_matches("/r/").parse().unwrap_or(100);
            match n < 100 {
                true => {
                    let to = format!("Location: /r/{}\r\n", n + 1);
                    answer("302 Found", &to, "")
                }
                false => answer("200 OK", "", "<p>the end</p>"),
            }
        },
        || {
            Command::new(BIN)
                .args([&start, "--depth", "0", "--workers", "1"])
                .output()
                .unwrap()
        },
    );
    let text = String::from_utf8_lossy(&crawl.stdout);
    let map = &text[text.find("Site map").expect("a site map")..];
    let redirects = map.lines().filter(|line| line.contains(" -> ")).count();
    assert!(
        redirects <= loader::MAX_REDIRECTS as usize,
        "{redirects} redirects followed at depth 0 with --depth 0:\n{}",
        map.lines().rev().take(4).collect::<Vec<_>>().join("\n")
    );
    // The last one followed leads to an error that says why the chain ends there.
    let said = format!("more than {} redirects in a row", loader::MAX_REDIRECTS);
    assert!(map.contains(&said), "no '{said}' in:\n{map}");
}

/// A start page that redirects, on the site, to a URL over 2,048 bytes leads nowhere: the
/// target is left out, as a link that long is, and the crawler says why, and exits with 1.
fn a_start_page_that_redirects_to_a_url_over_2048_bytes_says_so() {
    let server = Server::start();
    let start = format!("{}/", server.origin);
    let location = format!("Location: /{}\r\n", "l".repeat(2048));
    let crawl = server.serve_while(
        move |path| match path {
            "/" => answer("302 Found", &location, ""),
            _ => answer("200 OK", "", "<p>loaded</p>"),
        },
        || Command::new(BIN).arg(&start).output().unwrap(),
    );
    let text = String::from_utf8_lossy(&crawl.stdout);
    for said in [
        "1 link left out: URL over 2048 bytes",
        "The start page leads to a URL over 2048 bytes, which was not loaded",
    ] {
        assert!(text.contains(said), "no '{said}' in:\n{text}");
    }
    assert_eq!(crawl.status.code(), Some(1), "{text}");
}

/// A web server on a thread of this test, for a test that runs the crawler on pages of its
/// own: no fork here, so a thread is fine.
struct Server {
    listener: TcpListener,
    origin: String,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        Server { listener, origin }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Runs `run`, and meanwhile answers each request with `answer(path)`, except
    /// `/robots.txt`, which is not found.
    fn serve_while<T>(
        self,
        answer_to: impl Fn(&str) -> String + Send + 'static,
        run: impl FnOnce() -> T,
    ) -> T {
        self.listener.set_nonblocking(true).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let server = std::thread::spawn({
            let done = Arc::clone(&done);
            move || {
                while !done.load(Ordering::Relaxed) {
                    let Ok((mut stream, _)) = self.listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    let head = support::read_request_head(&mut stream);
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split(' ').nth(1).unwrap_or_default();
                    let answer = match path {
                        "/robots.txt" => answer("404 Not Found", "", ""),
                        path => answer_to(path),
                    };
                    let _ = stream.write_all(answer.as_bytes());
                }
            }
        });
        let result = run();
        done.store(true, Ordering::Relaxed);
        server.join().unwrap();
        result
    }
}

/// An HTTP answer: the status, more header lines (each ending in CRLF), and an HTML body.
fn answer(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n{headers}\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Killed alone, the crawler takes its workers and its demo site with it.
fn killed_alone_it_leaves_no_process() {
    support::killed_alone_it_leaves_no_process(BIN, &[], 4, fork_test::Signal::SIGKILL);
}

fn with_its_output_closed_it_ends_quietly() {
    support::with_its_output_closed_it_ends_quietly(BIN);
}

fn help_and_an_argument_that_is_not_text_end_without_a_panic() {
    support::help_and_an_argument_that_is_not_text_end_without_a_panic(BIN);
}

/// Short of descriptors, it stops with its error in words.
fn a_fatal_error_is_said_in_words() {
    support::a_fatal_error_is_said_in_words(BIN);
}

fork_test::main!(
    default_run_on_the_demo_site,
    killed_alone_it_leaves_no_process,
    with_its_output_closed_it_ends_quietly,
    help_and_an_argument_that_is_not_text_end_without_a_panic,
    a_fatal_error_is_said_in_words,
    one_worker_ignoring_robots_txt,
    depth_and_max_pages,
    max_links_follows_that_many_links_to_pages,
    a_depth_past_the_last_level_ends_with_the_last_level,
    bad_input_is_refused_with_a_usage_line,
    help_lists_the_options_and_the_exit_codes,
    an_unreachable_site_is_an_error,
    a_page_that_is_not_utf8_is_an_error,
    a_start_page_that_leads_nowhere_on_the_site_says_so,
    a_start_page_closed_by_robots_txt_says_so,
    a_page_of_many_long_links_costs_little_memory,
    a_redirect_leads_as_far_as_its_link_whichever_finding_comes_first,
    a_chain_of_redirects_ends_even_at_depth_0,
    a_start_page_that_redirects_to_a_url_over_2048_bytes_says_so,
);
