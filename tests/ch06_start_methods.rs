//! Snapshots of chapter 6's `url_loader_start_methods`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;

chapter_snapshots!(
    "ch06",
    "url_loader_start_methods",
    settle: start_join_times,
    extra: [killed_while_spawned_workers_load_it_leaves_no_process],
);

/// The start + join table gives milliseconds, which change from run to run like the
/// seconds that the shared filters replace.
fn start_join_times(text: String) -> String {
    let ms = Regex::new(r"\d+\.\d+ ms\b").unwrap();
    ms.replace_all(&text, "[TIME] ms").into_owned()
}

/// Spawned workers are children of the program itself (the forkserver's are the server's),
/// and their parent's death reaches them through their lifelines, not through
/// `PR_SET_PDEATHSIG`. Killed while they load a page, the program leaves none behind.
fn killed_while_spawned_workers_load_it_leaves_no_process() {
    let site = demo_site::DemoSite::start().unwrap();
    let url = site.url(&demo_site::slow_page(2_000));
    let mut program = Command::new(BIN)
        .arg(&url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = program.id() as i32;
    // Five children at once only while spawn's pool runs: the forkserver and four workers.
    // (The forkserver's workers are its children; fork's timed processes come one by one.)
    let started = Instant::now();
    while children_of(pid) < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the program never had spawn's four workers"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let survivors = fork_test::survivors_of_killing(&mut program, fork_test::Signal::SIGKILL);
    assert!(
        survivors.is_empty(),
        "SIGKILL to the program alone left {survivors:?} running"
    );
}

/// How many running children `pid` has, from `/proc/PID/stat` ("pid (comm) state ppid…").
fn children_of(pid: i32) -> usize {
    let parent_of = |child: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    fork_test::descendants(pid)
        .into_iter()
        .filter(|&child| parent_of(child) == Some(pid))
        .count()
}
