//! Snapshots of chapter 7's `shared_state`: see `support::chapter_snapshots`.
//!
//! Three things in its output depend on the scheduler, and only those are filtered: how
//! many updates the counter without a lock lost, which loader loaded which page (each
//! loader's row, and the loader that reports an error), and the order in which loaders
//! report errors. The counts made under a lock or with an atomic, the sums of the rows and
//! the totals of the dead-owner part are exact, and stay in the snapshot.

#[macro_use]
mod support;

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;

chapter_snapshots!(
    "ch07",
    "shared_state",
    settle: racy_counts_filtered,
    extra: [a_fatal_error_is_said_in_words, a_loader_that_dies_leaves_no_url_unaccounted],
);

/// Short of descriptors, it stops with its error in words.
fn a_fatal_error_is_said_in_words() {
    support::a_fatal_error_is_said_in_words(BIN);
}

/// A loader killed while it loads a slow page: its URL is counted as an error, the run says
/// which loader died and ends with exit code 1, instead of a sum that is one URL short.
fn a_loader_that_dies_leaves_no_url_unaccounted() {
    let site = demo_site::DemoSite::start().unwrap();
    let slow = site.url(&demo_site::slow_page(3000));
    let quick = site.url("/");
    let output = std::env::temp_dir().join(format!("ch07-dead-loader-{}", std::process::id()));
    let mut program = Command::new(BIN)
        .args([&slow, &slow, &slow, &quick])
        .stdout(File::create(&output).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = program.id() as i32;
    let started = Instant::now();
    // The loaders start after part 1's processes have gone, and the line that says so.
    let loading = || {
        std::fs::read_to_string(&output)
            .unwrap()
            .contains("loader processes")
            && fork_test::descendants(pid).len() == 3
    };
    while !loading() {
        assert!(started.elapsed() < Duration::from_secs(20), "no loaders");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300)); // each is in the middle of its 3 s page
    let loader = fork_test::descendants(pid)[0];
    let killed = Command::new("kill")
        .args(["-KILL", &loader.to_string()])
        .status();
    assert!(killed.unwrap().success());
    let status = program.wait().unwrap();
    let text = std::fs::read_to_string(&output).unwrap();
    let _ = std::fs::remove_file(&output);
    assert!(
        text.contains("1 URL taken by a loader that died") && text.contains("1 error"),
        "{text}"
    );
    assert_eq!(status.code(), Some(1), "{text}");
}

fn racy_counts_filtered(text: String) -> String {
    let filters = [
        (
            r"without a lock: \d+ of (\d+) \(\d+ lost\)",
            "without a lock: [N] of $1 ([N] lost)",
        ),
        (
            r"loader (\d+): \d+ pages?, \d+ bytes, \d+ errors?",
            "loader $1: [N] pages, [N] bytes, [N] errors",
        ),
        (r"loader \d+: error: ", "loader [N]: error: "),
    ];
    let mut text = text;
    for (pattern, replacement) in filters {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    // The loaders' errors come in the order they happen: sort them.
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(start) = lines
        .iter()
        .position(|l| l.starts_with("  loader [N]: error:"))
    {
        let end = lines[start..]
            .iter()
            .position(|l| !l.starts_with("  loader [N]: error:"))
            .map_or(lines.len(), |n| start + n);
        lines[start..end].sort_unstable();
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}
