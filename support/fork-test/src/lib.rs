//! A test runner for tests that fork.
//!
//! Rust's built-in test harness runs every test on a thread of its own. A `fork` copies only
//! the calling thread, so a child forked while another thread holds a lock (the stdout
//! lock, say) would wait for it forever. Test binaries that fork therefore set
//! `harness = false` and use this runner: it runs the tests one after another on the main
//! thread, and after each one checks what a fork test can leave behind:
//! - a child process that was not reaped (a zombie) or is still running;
//! - a file descriptor that was opened and not closed.
//!
//! ```no_run
//! fn forks_and_joins() { /* ... */ }
//! fork_test::main!(forks_and_joins);
//! ```
//!
//! Arguments that do not start with `-` filter tests by name, as with `cargo test NAME`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::panic;
use std::process::ExitCode;

use nix::unistd::{alarm, dup, dup2_stderr, dup2_stdout, getpid};

/// A test that hangs this long is stopped by `SIGALRM`, which ends the whole binary with
/// a failure instead of a stuck CI run.
const HANG_LIMIT_SECONDS: u32 = 120;

/// Declares `main` for a test binary with `harness = false`, running the given test
/// functions in order.
#[macro_export]
macro_rules! main {
    ($($test:path),+ $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::run(&[$((stringify!($test), $test as fn())),+])
        }
    };
}

/// Runs `tests` on this thread, in order, and prints a summary in libtest's format.
pub fn run(tests: &[(&str, fn())]) -> ExitCode {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<_> = tests
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    println!(
        "\nrunning {} tests (one at a time, on the main thread)",
        selected.len()
    );
    let mut failed = Vec::new();
    for (name, test) in &selected {
        print!("test {name} ... ");
        let _ = io::stdout().flush();
        match run_one(*test) {
            Ok(()) => println!("ok"),
            Err(why) => {
                println!("FAILED\n    {why}");
                failed.push(*name);
            }
        }
    }
    let passed = selected.len() - failed.len();
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {} failed\n",
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failures: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

fn run_one(test: fn()) -> Result<(), String> {
    let fds_before = open_fds();
    alarm::set(HANG_LIMIT_SECONDS);
    let outcome = panic::catch_unwind(test);
    alarm::cancel();
    if outcome.is_err() {
        return Err("panicked (message above)".into());
    }
    let children = children();
    if !children.is_empty() {
        return Err(format!(
            "left child processes behind (pid, state): {children:?}"
        ));
    }
    let leaked: Vec<_> = open_fds()
        .into_iter()
        .filter(|(fd, _)| !fds_before.contains_key(fd))
        .collect();
    if !leaked.is_empty() {
        return Err(format!("leaked file descriptors: {leaked:?}"));
    }
    Ok(())
}

/// Open descriptors of this process and what they point at, from `/proc/self/fd`.
pub fn open_fds() -> BTreeMap<i32, String> {
    let entries = fs::read_dir("/proc/self/fd").expect("/proc/self/fd is readable");
    let names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let fd = name.to_str()?.parse().ok()?;
            // The directory's own descriptor is closed by now: it has no link to read.
            let target = fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
            Some((fd, target.display().to_string()))
        })
        .collect()
}

/// Children of this process (running or zombie) as `(pid, state)`, from `/proc/*/stat`.
pub fn children() -> Vec<(i32, char)> {
    let me = getpid().as_raw();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
            let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid: i32 = fields.next()?.parse().ok()?;
            (ppid == me).then_some((pid, state))
        })
        .collect()
}

/// Which standard stream [`capture`] redirects.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Descriptor 1.
    Stdout,
    /// Descriptor 2.
    Stderr,
}

/// Runs `f` with descriptor 1 or 2 pointing at a temporary file, and returns what was
/// written there, by this process and by every child forked meanwhile (they share it).
pub fn capture(stream: Stream, f: impl FnOnce()) -> String {
    let path = std::env::temp_dir().join(format!("fork-test-{}.out", getpid()));
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("a temporary file");
    fs::remove_file(&path).expect("the temporary file can be removed");
    let redirect = |fd: &File| match stream {
        Stream::Stdout => dup2_stdout(fd),
        Stream::Stderr => dup2_stderr(fd),
    };
    let _ = io::stdout().flush();
    let saved = File::from(
        match stream {
            Stream::Stdout => dup(io::stdout()),
            Stream::Stderr => dup(io::stderr()),
        }
        .expect("dup"),
    );
    redirect(&file).expect("dup2");
    let outcome = panic::catch_unwind(panic::AssertUnwindSafe(f));
    let _ = io::stdout().flush();
    redirect(&saved).expect("dup2 back");
    if let Err(payload) = outcome {
        panic::resume_unwind(payload);
    }
    let mut text = String::new();
    file.rewind().expect("rewind");
    file.read_to_string(&mut text)
        .expect("captured text is UTF-8");
    text
}
