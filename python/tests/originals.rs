//! Runs every Python program in `python/` against the demo site, offline: the originals of
//! chapters 1 to 7, and `book_claims.py`, which checks each sentence the book says about
//! Python's `multiprocessing`. Needs `python3` (3.11 or later) on the PATH.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use demo_site::DemoSite;

/// Runs `python3 python/SCRIPT ARGS…` with stdout and stderr in one stream, each line as it
/// is printed: what a terminal would show.
fn python(script: &str, args: &[&str]) -> (Output, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let output = Command::new("python3")
        .arg(&path)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("python3 {}: {e} (is python3 installed?)", path.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

fn chapter_1_loads_the_front_page_in_a_child() {
    let site = DemoSite::start().unwrap();
    let (output, text) = python("url_loader.py", &[&site.url("/")]);
    assert!(output.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("Spawning a new process to load the url\n"),
        "{text}"
    );
    assert!(stdout.contains("</html>"), "{text}");
    assert!(stdout.trim_end().ends_with("Exiting…"), "{text}");
}

fn chapter_2_prints_the_pages_then_fails_on_the_malformed_urls() {
    let site = DemoSite::start().unwrap();
    let good = site.url("/about.html");
    let bad = format!("[{}", site.url("/"));
    let (output, text) = python("url_loader_pool.py", &[&good, &bad]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("</html>"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown url type: [http"), "{text}");
}

fn chapter_3_sends_the_page_through_the_pipe() {
    let site = DemoSite::start().unwrap();
    let (output, text) = python("url_load_pipe.py", &[&site.url("/about.html")]);
    assert!(output.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(
            "Spawning a new process to load the url\n\
             Waiting for the spawned process to send the data\n<!DOCTYPE html>"
        ),
        "{text}"
    );
}

fn chapter_4_loads_every_url_through_the_queues() {
    let site = DemoSite::start().unwrap();
    let urls = [
        site.url("/"),
        site.url("/about.html"),
        site.url("/legacy/latin1.html"),
    ];
    let args: Vec<&str> = urls.iter().map(String::as_str).collect();
    let (output, text) = python("url_loader_queue.py", &args);
    assert!(output.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("Starting 1 producer and 3 loader processes\n"),
        "{text}"
    );
    for url in &urls[..2] {
        assert!(stdout.contains(&format!(": {url} (")), "{url} in:\n{text}");
    }
    assert!(
        text.contains(&format!("error: {}: 'utf-8' codec", urls[2])),
        "{text}"
    );
}

/// The sketch crawls the demo site (where it trips is one of the book's claims, below).
fn chapter_5_crawls_the_demo_site() {
    let site = DemoSite::start().unwrap();
    let (output, text) = python("crawler.py", &[&site.url("/")]);
    assert!(output.status.success(), "{text}");
    let front_page = format!("  0 {} (636 bytes)", site.url("/"));
    assert!(text.contains(&front_page), "{front_page:?} in:\n{text}");
}

/// From a program with a second thread, Python 3.11 loads the pages under every method,
/// fork included, without a word of warning.
fn chapter_6_loads_the_pages_under_every_start_method() {
    let site = DemoSite::start().unwrap();
    let good = site.url("/about.html");
    let bad = format!("[{}", site.url("/"));
    let (output, text) = python("url_loader_start_methods.py", &[&good, &bad]);
    assert!(output.status.success(), "{text}");
    assert!(
        text.starts_with("A ticker runs on a thread of its own: 2 threads now\n"),
        "{text}"
    );
    for method in ["fork", "forkserver", "spawn"] {
        let lines = text
            .split_once(&format!("\n{method}:\n"))
            .map(|(_, rest)| rest.lines().take(2).collect::<Vec<_>>())
            .unwrap_or_default();
        assert_eq!(lines.len(), 2, "{method} in:\n{text}");
        assert!(
            lines[0].ends_with(&format!(": {good} (891 bytes)")),
            "{text}"
        );
        assert!(lines[1].contains("unknown url type: [http"), "{text}");
    }
    assert!(!text.contains("Warning"), "{text}");
    let table = text
        .split_once("Start + join of a process that does nothing, median of 20:\n")
        .map_or("", |(_, table)| table);
    let methods: Vec<&str> = table
        .lines()
        .filter(|row| row.ends_with(" ms"))
        .filter_map(|row| row.split_whitespace().next())
        .collect();
    assert_eq!(methods, ["fork", "forkserver", "spawn"], "{text}");
}

/// The shared counter, the loaders' rows, and a lock that stays locked when its holder is
/// killed (what the book says of the counter without a lock is a claim, below).
fn chapter_7_shares_memory_and_its_lock_stays_locked() {
    let site = DemoSite::start().unwrap();
    let urls = [site.url("/"), site.url("/legacy/latin1.html")];
    let args: Vec<&str> = urls.iter().map(String::as_str).collect();
    let (output, text) = python("shared_state.py", &args);
    assert!(output.status.success(), "{text}");
    for line in [
        "  with a Lock: 400000 of 400000, in ",
        "2 URLs with 3 loader processes",
        "  acquire(timeout=2) returned False: the lock stays locked for ever",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    assert!(
        text.contains(&format!("error: {}: 'utf-8' codec", urls[1])),
        "{text}"
    );
}

fn every_claim_the_book_makes_about_python_holds() {
    let site = DemoSite::start().unwrap();
    let (output, text) = python("book_claims.py", &[&site.url("")]);
    assert!(output.status.success(), "{text}");
    assert!(text.trim_end().ends_with(" passed, 0 failed"), "{text}");
}

fork_test::main!(
    chapter_1_loads_the_front_page_in_a_child,
    chapter_2_prints_the_pages_then_fails_on_the_malformed_urls,
    chapter_3_sends_the_page_through_the_pipe,
    chapter_4_loads_every_url_through_the_queues,
    chapter_5_crawls_the_demo_site,
    chapter_6_loads_the_pages_under_every_start_method,
    chapter_7_shares_memory_and_its_lock_stays_locked,
    every_claim_the_book_makes_about_python_holds,
);
