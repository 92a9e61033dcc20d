//! How a check runs: in a child process of its own, with its output kept aside and a time
//! limit.
//!
//! - The child is a copy of this single-threaded test process, so the check may fork as
//!   it likes. Whatever the check prints, and whatever its own children print, goes to a
//!   temporary file: it is shown only if the check fails.
//! - After the check, the child makes sure the code under test left no process and no
//!   file descriptor behind.
//! - A check still running after its time limit is stopped, with every process it
//!   started (found through `/proc`, since a hung check cannot clean up after itself),
//!   and counts as failed. So an exercise that hangs fails its checks; it does not hang
//!   `cargo test`.
//! - In learner mode each result is also appended, as one JSON line, to the file named by
//!   the `EXERCISE_REPORT` environment variable: that is how `cargo exercise` learns what
//!   passed and why the rest failed.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::panic::{self, PanicHookInfo};
use std::time::Duration;

use ipc::{PANIC_EXIT_CODE, Process, describe_exitcode};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, dup2_stderr, dup2_stdout};

/// A check: its name, and the function that runs it on an exercise's `Api`.
pub type Check<A> = (&'static str, fn(A));

/// What came of one check.
pub struct Outcome {
    pub name: &'static str,
    pub passed: bool,
    /// What the check and its processes printed, and why it failed.
    pub output: String,
}

/// Runs `check(api)` in a child process, and waits for it at most `limit`.
pub fn run_check<A: Copy + 'static>(
    name: &'static str,
    check: fn(A),
    api: A,
    limit: Duration,
) -> Outcome {
    let mut output = temporary_file();
    let for_child = output
        .try_clone()
        .expect("a second descriptor for the output file");
    let mut process = Process::new(move || {
        dup2_stdout(&for_child).expect("stdout to the output file");
        dup2_stderr(&for_child).expect("stderr to the output file");
        drop(for_child);
        panic::set_hook(Box::new(print_panic));
        check_in_this_process(check, api);
    });
    let verdict = match process.start() {
        Err(e) => Some(format!("could not start the check's process: {e}")),
        Ok(()) => wait(&mut process, limit),
    };
    drop(process);
    let mut text = String::new();
    output.rewind().expect("rewind the output file");
    // Lossy: a check's output may quote a page that is not UTF-8.
    let mut bytes = Vec::new();
    output
        .read_to_end(&mut bytes)
        .expect("read the output file");
    text.push_str(&String::from_utf8_lossy(&bytes));
    if let Some(why) = &verdict {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(why);
    }
    Outcome {
        name,
        passed: verdict.is_none(),
        output: text.trim_end().to_string(),
    }
}

/// In the check's process: run it, then look for what the code under test left behind.
fn check_in_this_process<A>(check: fn(A), api: A) {
    let children_before = fork_test::children();
    let fds_before = fork_test::open_fds();
    check(api);
    let children: Vec<_> = fork_test::children()
        .into_iter()
        .filter(|child| !children_before.contains(child))
        .collect();
    assert!(
        children.is_empty(),
        "child processes were left behind, not joined (pid, state): {children:?}"
    );
    let fds: Vec<_> = fork_test::open_fds()
        .into_iter()
        .filter(|(fd, _)| !fds_before.contains_key(fd))
        .collect();
    assert!(fds.is_empty(), "file descriptors were left open: {fds:?}");
}

/// Waits for the check's process: `None` if the check passed, or why it failed.
fn wait(process: &mut Process, limit: Duration) -> Option<String> {
    match process.join_timeout(limit) {
        Ok(Some(0)) => None,
        // The panic message is in the output already.
        Ok(Some(PANIC_EXIT_CODE)) => Some(String::new()),
        Ok(Some(code)) => Some(format!(
            "the check's process ended early: {} (did the code call std::process::exit, or abort?)",
            describe_exitcode(code)
        )),
        Ok(None) => {
            if let Some(pid) = process.pid() {
                kill_tree(pid);
            }
            let _ = process.join();
            Some(format!(
                "still running after {} s, so it was stopped: something waits for what never \
                 comes (a join, a recv, a page?)",
                limit.as_secs()
            ))
        }
        Err(e) => Some(format!("could not wait for the check's process: {e}")),
    }
}

/// Kills `root` and every process descended from it. Found before any is killed: a dead
/// process's children move to another parent, and could not be found from `root` then.
fn kill_tree(root: i32) {
    let links: Vec<(i32, i32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
            let ppid = stat
                .get(stat.rfind(')')? + 1..)?
                .split_whitespace()
                .nth(1)?;
            Some((pid, ppid.parse().ok()?))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(links.iter().filter(|l| l.1 == parent).map(|l| l.0));
        i += 1;
    }
    for pid in tree {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// The check's panic hook: the message, then where it comes from (the learner's file for
/// a `todo!()`, the check's for a failed assertion). Shorter than Rust's default.
fn print_panic(info: &PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    let report = match info.location() {
        Some(at) => format!("{message}\n  (panicked at {}:{})\n", at.file(), at.line()),
        None => format!("{message}\n"),
    };
    // One write: `eprintln!` writes its pieces one by one, and another process's report
    // could come in between.
    let _ = std::io::stderr().write_all(report.as_bytes());
}

/// A panic's report is written in one piece: several processes of one check may panic at
/// once, into the same output, and their lines must not cut into each other (a datagram
/// socket keeps each write apart, so the first datagram is the first write).
pub fn a_panic_report_is_one_write() {
    let (ours, theirs) = std::os::unix::net::UnixDatagram::pair().expect("a socket pair");
    let mut child = Process::new(move || {
        dup2_stderr(&theirs).expect("stderr to the socket");
        panic::set_hook(Box::new(print_panic));
        panic!("the page did not load");
    });
    child.start().expect("the child starts");
    assert_eq!(child.join().expect("the child is joined"), PANIC_EXIT_CODE);
    let mut first = [0; 4096];
    let len = ours.recv(&mut first).expect("the report");
    let report = String::from_utf8_lossy(&first[..len]);
    assert!(
        report.starts_with("the page did not load\n  (panicked at ") && report.ends_with(")\n"),
        "the first write: {report:?}"
    );
}

/// Panics in a child process that a check starts to see a panic, printing nothing: the
/// check's own panics must not show in a failed check's output, where they would read as
/// the learner's error.
pub fn panic_on_purpose() -> ! {
    // The hook is this process's only: the child's, after the fork.
    panic::set_hook(Box::new(|_| {}));
    panic!("a child of the check panics on purpose")
}

/// An anonymous file: created, then unlinked at once.
fn temporary_file() -> File {
    let path = std::env::temp_dir().join(format!("exercise-check-{}.out", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("a temporary file for a check's output");
    fs::remove_file(&path).expect("the temporary file can be removed");
    file
}

/// Reference mode: every check passes on this version (the solution).
pub fn all_pass<A: Copy + 'static>(checks: &[Check<A>], api: A, limit: Duration) {
    let failed: Vec<Outcome> = checks
        .iter()
        .map(|&(name, check)| run_check(name, check, api, limit))
        .filter(|outcome| !outcome.passed)
        .collect();
    if !failed.is_empty() {
        let mut report = format!("{} check(s) fail on the reference solution:", failed.len());
        for outcome in &failed {
            report.push_str(&format!(
                "\n- {}:\n{}",
                outcome.name,
                indent(&outcome.output)
            ));
        }
        panic!("{report}");
    }
}

/// Reference mode: at least one check fails on this version (the starter as shipped), so
/// the checks do not pass on code that does nothing yet.
pub fn some_fail<A: Copy + 'static>(checks: &[Check<A>], api: A, limit: Duration) {
    let outcomes: Vec<Outcome> = checks
        .iter()
        .map(|&(name, check)| run_check(name, check, api, limit))
        .collect();
    assert!(
        outcomes.iter().any(|outcome| !outcome.passed),
        "every check passes on the starter as shipped: the checks would pass before the \
         learner has done anything"
    );
}

/// Learner mode: one check on the learner's code, reported for `cargo exercise`, and
/// printed in full if it fails.
pub fn learner_test<A: Copy + 'static>(
    exercise: &'static str,
    name: &'static str,
    check: fn(A),
    api: A,
    limit: Duration,
) {
    let outcome = run_check(name, check, api, limit);
    if let Some(path) = std::env::var_os("EXERCISE_REPORT") {
        let line = serde_json::json!({
            "exercise": exercise,
            "check": name,
            "passed": outcome.passed,
            "output": outcome.output,
        });
        let mut report = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the report file of `cargo exercise`");
        writeln!(report, "{line}").expect("write to the report file");
    }
    if !outcome.passed {
        println!("\n{}", indent(&outcome.output));
        // Without the panic hook: the message is printed above already.
        panic::resume_unwind(Box::new("the check failed"));
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
