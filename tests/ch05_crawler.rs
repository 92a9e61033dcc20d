//! Snapshots of chapter 5's `crawler`, on the demo site and with bad input.
//!
//! The crawler prints each URL on stderr as it finishes, in an order that depends on which
//! worker is faster; [`check_any_order`] sorts those lines before the comparison. The site
//! map on stdout is sorted by the crawler itself.

#[macro_use]
mod support;

use std::process::Command;

use demo_site::{DemoSite, NOT_UTF8_PAGE};

const BIN: &str = env!("CARGO_BIN_EXE_crawler");

/// Like `support::check`, with stderr's lines sorted: the snapshot holds what was printed,
/// whatever the order the pages finished in.
fn check_any_order(name: &str, args: &[&str]) {
    let output = Command::new(BIN).args(args).output().unwrap();
    let mut finished: Vec<&str> = std::str::from_utf8(&output.stderr)
        .unwrap()
        .lines()
        .collect();
    finished.sort_unstable();
    let text = format!(
        "success: {}\nexit_code: {}\n----- stdout -----\n{}\
         ----- stderr (sorted) -----\n{}\n",
        output.status.success(),
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        finished.join("\n"),
    );
    let mut settings = support::settings();
    settings.set_description(format!("crawler {}", args.join(" ")).trim_end());
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// Every page of the demo site, each in its own way: a redirect, links relative to where
/// it leads, `../`, a `<base>`, a stylesheet and images recorded but not loaded, a page
/// closed by robots.txt, a 404, a page that is not UTF-8, one that is too slow.
fn default_run_on_the_demo_site() {
    check_any_order("ch05_default", &[]);
}

/// One worker takes the tasks in the order they are handed out: the order of stderr is
/// the crawl's own. `--ignore-robots` loads the page robots.txt closes.
fn one_worker_ignoring_robots_txt() {
    support::check(
        "ch05_one_worker",
        BIN,
        &["--workers", "1", "--ignore-robots"],
    );
}

/// `--depth 1` stops after the front page's links; `--max-pages 4` after four loads.
fn depth_and_max_pages() {
    check_any_order("ch05_max_pages", &["--depth", "1", "--max-pages", "4"]);
}

/// A malformed URL, an extra argument, a bad number: a usage line, exit code 2, and no
/// worker started.
fn bad_input_is_refused_with_a_usage_line() {
    support::check("ch05_bad_url", BIN, &[support::BAD_URLS[0]]);
    support::check("ch05_two_urls", BIN, &support::BAD_URLS);
    support::check("ch05_no_workers", BIN, &["--workers", "0"]);
}

fn help_lists_the_options() {
    support::check("ch05_help", BIN, &["--help"]);
}

/// Nobody listening: robots.txt cannot be read, so nothing is loaded, and exit code 1.
fn an_unreachable_site_is_an_error() {
    support::check("ch05_unreachable", BIN, &[support::BAD_URLS[1]]);
}

fn a_page_that_is_not_utf8_is_an_error() {
    let site = DemoSite::start().unwrap();
    let url = site.url(NOT_UTF8_PAGE);
    support::check("ch05_not_utf8", BIN, &[&url]);
}

/// Killed alone, the crawler takes its workers and its demo site with it.
fn killed_alone_it_leaves_no_process() {
    support::killed_alone_it_leaves_no_process(BIN, &[], 4, fork_test::Signal::SIGKILL);
}

fn with_its_output_closed_it_ends_quietly() {
    support::with_its_output_closed_it_ends_quietly(BIN);
}

fork_test::main!(
    default_run_on_the_demo_site,
    killed_alone_it_leaves_no_process,
    with_its_output_closed_it_ends_quietly,
    one_worker_ignoring_robots_txt,
    depth_and_max_pages,
    bad_input_is_refused_with_a_usage_line,
    help_lists_the_options,
    an_unreachable_site_is_an_error,
    a_page_that_is_not_utf8_is_an_error,
);
