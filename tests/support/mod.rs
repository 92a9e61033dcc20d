//! Shared by the chapters' snapshot tests: run a chapter's real binary and snapshot its
//! stdout, stderr and exit code.
//!
//! Each `tests/chNN_*.rs` file is a test target of its chapter's package (see the chapter's
//! `Cargo.toml`), because cargo builds a binary for the integration tests of its own
//! package only. They use the `fork-test` runner: starting the demo site forks, and forking
//! is only safe from a single-threaded test binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fork_test::Signal;

/// What changes from run to run, and nothing else: ports, process ids, timings, and how
/// many loads each worker happened to get (a matter of timing too).
const FILTERS: [(&str, &str); 5] = [
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    (r"worker \d+: \d+ loads?", "worker [PID]: [N] loads"),
    (r"worker \d+", "worker [PID]"),
    (r"thread '([^']*)' \(\d+\)", "thread '$1' ([TID])"),
    (r"\d+\.\d+ s\b", "[TIME] s"),
];

/// Where the snapshots are, and the filters.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/snapshots");
    settings.set_snapshot_path(snapshots);
    settings.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in FILTERS {
        settings.add_filter(pattern, replacement);
    }
    settings
}

/// Runs `bin` with `args` and compares its output with `tests/snapshots/{name}.snap`.
pub fn check(name: &str, bin: &str, args: &[&str]) {
    settings().bind(|| insta_cmd::assert_cmd_snapshot!(name, Command::new(bin).args(args)));
}

/// Runs `bin` with `args` until it has started `processes` processes, then sends `signal`
/// to it alone (not to its process group, as a terminal's Ctrl-C would): every process it
/// started must end too, within 5 seconds. No orphan may go on running, adopted by init.
pub fn killed_alone_it_leaves_no_process(
    bin: &str,
    args: &[&str],
    processes: usize,
    signal: Signal,
) {
    let mut program = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = program.id() as i32;
    let started = Instant::now();
    while fork_test::descendants(pid).len() < processes {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{bin} started no process"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let survivors = fork_test::survivors_of_killing(&mut program, signal);
    assert!(
        survivors.is_empty(),
        "{signal} to {bin} alone left {survivors:?} running"
    );
}

/// Runs `bin` with nothing reading its output (`| head` once it has read enough): it must
/// end quietly, as `cat` does, not panic with "failed printing to stdout: Broken pipe".
pub fn with_its_output_closed_it_ends_quietly(bin: &str) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(bin).stdout(writer).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{bin} panicked: {stderr}");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(Signal::SIGPIPE as i32),
        "{bin} ends as a pipeline expects, by SIGPIPE: {:?}",
        output.status
    );
}

/// URLs that fail in the two ways a user's can: malformed, and nobody listening.
pub const BAD_URLS: [&str; 2] = ["[http://127.0.0.1:1/", "http://127.0.0.1:1/"];

/// The snapshot runs every chapter gets: the default run on the demo site, a run with bad
/// URLs, and a run on the demo page that is not UTF-8, then the chapter's own `extra` tests.
/// Expands to the test binary's `main`.
#[allow(unused_macros)] // chapter 5 has a main of its own
macro_rules! chapter_snapshots {
    ($chapter:literal, $bin:literal $(, $extra:ident)* $(,)?) => {
        const BIN: &str = env!(concat!("CARGO_BIN_EXE_", $bin));

        fn default_run_on_the_demo_site() {
            support::check(concat!($chapter, "_default"), BIN, &[]);
        }

        fn bad_urls_are_one_line_errors_and_exit_1() {
            support::check(concat!($chapter, "_bad_urls"), BIN, &support::BAD_URLS);
        }

        fn a_page_that_is_not_utf8_is_an_error() {
            let site = demo_site::DemoSite::start().unwrap();
            let url = site.url(demo_site::NOT_UTF8_PAGE);
            support::check(concat!($chapter, "_not_utf8"), BIN, &[&url]);
        }

        fn killed_while_it_loads_a_slow_page_it_leaves_no_process() {
            let site = demo_site::DemoSite::start().unwrap();
            let url = site.url(&demo_site::slow_page(20_000));
            support::killed_alone_it_leaves_no_process(BIN, &[&url], 1, fork_test::Signal::SIGKILL);
        }

        fn with_its_output_closed_it_ends_quietly() {
            support::with_its_output_closed_it_ends_quietly(BIN);
        }

        fork_test::main!(
            default_run_on_the_demo_site,
            bad_urls_are_one_line_errors_and_exit_1,
            a_page_that_is_not_utf8_is_an_error,
            killed_while_it_loads_a_slow_page_it_leaves_no_process,
            with_its_output_closed_it_ends_quietly,
            $($extra,)*
        );
    };
}
