//! Shared by the chapters' snapshot tests: run a chapter's real binary and snapshot what a
//! terminal would show of it.
//!
//! Each `tests/chNN_*.rs` file is a test target of its chapter's package (see the chapter's
//! `Cargo.toml`), because cargo builds a binary for the integration tests of its own
//! package only. They use the `fork-test` runner: starting the demo site forks, and forking
//! is only safe from a single-threaded test binary.
//!
//! A snapshot is a terminal session, and the book includes it as it is:
//!
//! ```text
//! $ cargo run -p ch02-pool                       the command a reader types
//! Serving the demo site at http://127.0.0.1:[PORT]/
//! …                                              stdout and stderr, in the order written
//! $ echo $?                                      only when the exit status is not 0
//! 1
//! ```
//!
//! Stdout and stderr go to one pipe, so the lines keep the order in which the processes
//! wrote them, as in a terminal. Cargo's own lines (`Compiling…`, `Running…`) are not
//! there: the test runs the binary that cargo built.

// Every chapter's test binary compiles this module, and each uses a part of it.
#![allow(dead_code)]

use std::io::PipeReader;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use fork_test::Signal;
use regex::Regex;

/// What changes from run to run, and nothing else: process ids, timings, and how many
/// loads each worker happened to get (a matter of timing too). The demo site's port is
/// replaced separately, by its number: another port in the output (the `:1` of a URL that
/// cannot load) stays as it is.
const FILTERS: [(&str, &str); 5] = [
    (r"worker \d+: \d+ loads?", "worker [PID]: [N] loads"),
    (r"worker \d+", "worker [PID]"),
    (r"process \d+", "process [PID]"),
    (r"thread '([^']*)' \(\d+\)", "thread '$1' ([TID])"),
    (r"\d+\.\d+ s\b", "[TIME] s"),
];

/// Runs `bin` with `args` and compares what a terminal shows with
/// `tests/snapshots/{name}.snap`. `site_port` is the port of a demo site the test started
/// itself, if any; the port of the one the program starts is read from its first line.
/// `settle` puts lines whose order depends on the scheduler into one order (see
/// [`child_lines_after`] and [`sorted_between`]).
pub fn check(
    name: &str,
    bin: &str,
    args: &[&str],
    site_port: Option<u16>,
    settle: fn(String) -> String,
) {
    let command = format!("cargo run -p {}", env!("CARGO_PKG_NAME"));
    check_command(name, &command, bin, args, site_port, settle);
}

/// [`check`] for a package of several programs: `command` is how a reader starts this one
/// (`cargo run -p PACKAGE --bin NAME`). Returns the text compared with the snapshot, so
/// that a test can also check the behaviour the snapshot shows.
pub fn check_command(
    name: &str,
    command: &str,
    bin: &str,
    args: &[&str],
    site_port: Option<u16>,
    settle: fn(String) -> String,
) -> String {
    let output = run_merged(bin, args);
    let served = Regex::new(r"Serving the demo site at http://127\.0\.0\.1:(\d+)/").unwrap();
    let ports = served
        .captures(&output.text)
        .map(|found| found[1].to_string())
        .into_iter()
        .chain(site_port.map(|port| port.to_string()));
    let mut command = format!("$ {command}");
    if !args.is_empty() {
        command.push_str(" --");
        for arg in args {
            command.push(' ');
            command.push_str(&shell_quoted(arg));
        }
    }
    let mut text = format!("{command}\n{}", output.text);
    for port in ports {
        text = text.replace(&format!("127.0.0.1:{port}/"), "127.0.0.1:[PORT]/");
    }
    text = settle(text);
    for (pattern, replacement) in FILTERS {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    if output.code != 0 {
        text.push_str(&format!("$ echo $?\n{}\n", output.code));
    }
    let mut settings = insta::Settings::clone_current();
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/snapshots");
    settings.set_snapshot_path(snapshots);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, &text));
    text
}

/// What a run printed, stdout and stderr together, and its exit code.
pub struct Merged {
    /// Stdout and stderr, in the order written.
    pub text: String,
    /// The exit code.
    pub code: i32,
}

/// How long a chapter's run may take. Past it, the test kills the program and fails: a
/// hung chapter must not run on after its test binary has given up on it (each chapter's
/// kill tests check that its workers leave with it).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs `bin` with stdout and stderr on one pipe, as a terminal has them on one device.
pub fn run_merged(bin: &str, args: &[&str]) -> Merged {
    run_merged_within(bin, args, RUN_LIMIT).unwrap_or_else(|why| panic!("{why}"))
}

/// [`run_merged`] with a time limit of `limit`: past it, `bin` is killed, and the error
/// says so.
pub fn run_merged_within(bin: &str, args: &[&str], limit: Duration) -> Result<Merged, String> {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    let mut command = Command::new(bin);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().expect("a second end"))
        .stderr(writer);
    let (text, status) = run_within(command, reader, limit)?;
    Ok(Merged {
        text,
        code: status.code().expect("the binary exits; no signal ends it"),
    })
}

/// Runs `command`, whose output goes to the pipe `reader` reads, for at most `limit`, in a
/// process group of its own (it dies with this process, which a Ctrl-C then ends alone):
/// past the limit, the group is killed (the program and every process it started) and
/// the error says so, with what it had printed. So is a process
/// it started that still holds the output once it has exited. Returns what it wrote on
/// the pipe and how it ended. (A thread reads the output meanwhile.)
fn run_within(
    mut command: Command,
    mut reader: PipeReader,
    limit: Duration,
) -> Result<(String, ExitStatus), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    command.process_group(0);
    fork_test::dies_with_this_process(&mut command);
    let mut child = command.spawn().expect("the chapter's binary starts");
    // The command holds the pipe's write ends: the end of the stream needs them closed.
    drop(command);
    let output = Arc::new(Mutex::new(Vec::new()));
    let (ended, output_ended) = mpsc::channel();
    let reading = {
        let output = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut chunk = [0; 8192];
            while let Ok(n @ 1..) = reader.read(&mut chunk) {
                output.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
            let _ = ended.send(());
        })
    };
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the chapter's binary") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let finished = status.filter(|_| output_ended.recv_timeout(left).is_ok());
    if finished.is_none() {
        fork_test::kill_group(child.id());
        let _ = child.wait();
    }
    reading.join().expect("the reading thread does not panic");
    let text = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
    match (finished, status) {
        (Some(status), _) => Ok((text, status)),
        (None, Some(_)) => Err(format!(
            "{program} exited, but a process it started held its output for more than \
             {limit:?}: killed. It printed:\n{text}"
        )),
        (None, None) => Err(format!(
            "{program} ran for more than {limit:?}: killed. It printed:\n{text}"
        )),
    }
}

/// The argument as a shell needs it: in single quotes if it holds anything but plain
/// characters (the malformed URLs start with `[`, which the shell would expand).
fn shell_quoted(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/:.-_=?".contains(c);
    if arg.chars().all(plain) {
        arg.to_string()
    } else {
        format!("'{arg}'")
    }
}

/// Lines in the order the program wrote them: for a program whose order does not depend
/// on the scheduler.
pub fn as_written(text: String) -> String {
    text
}

/// In chapter 1 the parent prints `Waiting for the spawned process to exit` right after
/// the fork, while the child starts on its page: the two race, and either line can reach
/// the terminal first. This puts the parent's `line` first, wherever it came, so that the
/// snapshot has one order; the book says that yours may have the other.
pub fn child_lines_after(text: &str, line: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        // The child's output starts right after "Spawning…"; move `line` up to there.
        if lines[i] == line {
            let start = lines[..i]
                .iter()
                .rposition(|l| l.starts_with("Spawning a new process"))
                .map_or(i, |p| p + 1);
            let moved = lines.remove(i);
            lines.insert(start, moved);
        }
        i += 1;
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Sorts the lines after the first that starts with `first` and before the first, after
/// it, that starts with `end`: lines that workers print in the order they finish.
pub fn sorted_between(text: &str, first: &str, end: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(start) = lines.iter().position(|l| l.starts_with(first)) {
        let stop = lines[start + 1..]
            .iter()
            .position(|l| l.starts_with(end))
            .map_or(lines.len(), |p| start + 1 + p);
        lines[start + 1..stop].sort_unstable();
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
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
    let started_them = |pid| fork_test::descendants(pid).len() >= processes;
    killed_alone_when_it_leaves_no_process(bin, args, started_them, signal);
}

/// [`killed_alone_it_leaves_no_process`], with the signal sent once `ready(pid)` holds
/// (within 10 seconds) rather than after a number of processes.
pub fn killed_alone_when_it_leaves_no_process(
    bin: &str,
    args: &[&str],
    ready: impl Fn(i32) -> bool,
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
    while !ready(pid) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{bin} did not get there within 10 s"
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
    let (stderr_reader, stderr_writer) = std::io::pipe().unwrap();
    let mut command = Command::new(bin);
    command.stdout(writer).stderr(stderr_writer);
    let (stderr, status) =
        run_within(command, stderr_reader, RUN_LIMIT).unwrap_or_else(|why| panic!("{why}"));
    assert!(!stderr.contains("panicked"), "{bin} panicked: {stderr}");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(Signal::SIGPIPE as i32),
        "{bin} ends as a pipeline expects, by SIGPIPE: {status:?}"
    );
}

/// Runs `bin` with too few descriptors for its processes (`ulimit -n 9`): it must fail
/// with exit code 1 and say why in words, in one line, `Error: Too many open files (os
/// error 24)`: not in the `Debug` form of its error (`Io(Os { code: 24, kind: ... })`),
/// and not followed by a backtrace, even with `RUST_BACKTRACE` set.
pub fn a_fatal_error_is_said_in_words(bin: &str) {
    for backtrace in [
        "unset RUST_BACKTRACE RUST_LIB_BACKTRACE",
        "export RUST_BACKTRACE=1",
    ] {
        let script = format!("{backtrace}; ulimit -n 9 && exec \"$0\"");
        let run = run_merged("sh", &["-c", &script, bin]);
        let last = run.text.lines().last().unwrap_or_default();
        assert_eq!(run.code, 1, "{bin}: {}", run.text);
        assert!(
            last.starts_with("Error: ") && last.contains("Too many open files (os error 24)"),
            "{bin} ended with {last:?} ({backtrace})"
        );
        // The `Debug` form of an `io::Error`, whichever kind, names its `kind:`.
        assert!(!last.contains("kind: "), "{bin} ended with {last:?}");
    }
}

/// `--help` says how to call `bin` (exit code 0), and an argument that is not text (not
/// UTF-8) is a usage error (exit code 2), not a panic.
pub fn help_and_an_argument_that_is_not_text_end_without_a_panic(bin: &str) {
    let help = run_merged(bin, &["--help"]);
    assert_eq!(help.code, 0, "{bin} --help: {}", help.text);
    assert!(help.text.to_lowercase().contains("usage:"), "{}", help.text);
    let script = "exec \"$0\" \"$(printf 'http://127.0.0.1:1/\\377')\"";
    let refused = run_merged("sh", &["-c", script, bin]);
    assert_eq!(refused.code, 2, "{bin}: {}", refused.text);
    assert!(
        !refused.text.contains("panicked"),
        "{bin}: {}",
        refused.text
    );
}

/// `--help` says what each exit code means, as scripts need to know.
pub fn help_names_the_exit_codes(bin: &str) {
    let help = run_merged(bin, &["--help"]).text;
    for code in ["Exit status: 0", "1 if", "2 for"] {
        assert!(
            help.contains(code),
            "{bin} --help says nothing of {code:?}: {help}"
        );
    }
}

/// Reads an HTTP request's head, to the blank line that ends it (a GET has no body), for a
/// test's own server: one that answered before reading it all would close the connection
/// with bytes unread, and the kernel would reset it, maybe before the client has read the
/// answer.
pub fn read_request_head(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut buf = [0; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    head
}

/// URLs that fail in the two ways a user's can: malformed, and nobody listening.
pub const BAD_URLS: [&str; 2] = ["[http://127.0.0.1:1/", "http://127.0.0.1:1/"];

/// The runs every chapter gets: the default run on the demo site, a run with bad URLs, a
/// run on the demo page that is not UTF-8, a kill in the middle of a slow load, a run
/// with its output closed, and `--help` and an argument that is not text; then the chapter's own `extra: [...]` tests. Expands to the test
/// binary's `main`. `settle:` puts lines whose place depends on the scheduler in one order
/// (`support::as_written` by default).
#[allow(unused_macros)] // chapter 5 has a main of its own
macro_rules! chapter_snapshots {
    ($chapter:literal, $bin:literal $(, settle: $settle:expr)? $(, extra: [$($extra:ident),* $(,)?])? $(,)?) => {
        const BIN: &str = env!(concat!("CARGO_BIN_EXE_", $bin));
        const SETTLE: fn(String) -> String = {
            #[allow(unused_variables)]
            let settle: fn(String) -> String = support::as_written;
            $(let settle: fn(String) -> String = $settle;)?
            settle
        };

        fn default_run_on_the_demo_site() {
            support::check(concat!($chapter, "_default"), BIN, &[], None, SETTLE);
        }

        fn bad_urls_are_one_line_errors_and_exit_1() {
            let name = concat!($chapter, "_bad_urls");
            support::check(name, BIN, &support::BAD_URLS, None, SETTLE);
        }

        fn a_page_that_is_not_utf8_is_an_error() {
            let site = demo_site::DemoSite::start().unwrap();
            let url = site.url(demo_site::NOT_UTF8_PAGE);
            let name = concat!($chapter, "_not_utf8");
            support::check(name, BIN, &[&url], Some(site.addr().port()), SETTLE);
        }

        fn killed_while_it_loads_a_slow_page_it_leaves_no_process() {
            let site = demo_site::DemoSite::start().unwrap();
            let url = site.url(&demo_site::slow_page(20_000));
            support::killed_alone_it_leaves_no_process(BIN, &[&url], 1, fork_test::Signal::SIGKILL);
        }

        fn with_its_output_closed_it_ends_quietly() {
            support::with_its_output_closed_it_ends_quietly(BIN);
        }

        fn help_and_an_argument_that_is_not_text_end_without_a_panic() {
            support::help_and_an_argument_that_is_not_text_end_without_a_panic(BIN);
            support::help_names_the_exit_codes(BIN);
        }

        fork_test::main!(
            default_run_on_the_demo_site,
            bad_urls_are_one_line_errors_and_exit_1,
            a_page_that_is_not_utf8_is_an_error,
            killed_while_it_loads_a_slow_page_it_leaves_no_process,
            with_its_output_closed_it_ends_quietly,
            help_and_an_argument_that_is_not_text_end_without_a_panic,
            $($($extra,)*)?
        );
    };
}
