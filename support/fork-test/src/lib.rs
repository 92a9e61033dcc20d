//! A test runner for tests that fork.
//!
//! Rust's built-in test harness runs every test on a thread of its own. A `fork` copies only
//! the calling thread, so a child forked while another thread holds a lock (the stdout
//! lock, say) would wait for it forever. Test binaries that fork therefore set
//! `harness = false` and use this runner: it runs the tests one after another on the main
//! thread, and after each one checks what a fork test can leave behind:
//! - a child process that was not reaped (a zombie) or is still running;
//! - a file descriptor that was opened and not closed;
//! - shared memory that was mapped and not unmapped (see [`shared_mappings`]).
//!
//! A test that hangs is cut off: by default after [`HANG_LIMIT`], or sooner if it says so
//! with [`time_limit`]. The binary then prints which test hung and exits with a failure.
//!
//! ```no_run
//! fn forks_and_joins() { /* ... */ }
//! fork_test::main!(forks_and_joins);
//! ```
//!
//! Arguments that do not start with `-` filter tests by name, as with `cargo test NAME`.

mod busy;
mod descriptors;
mod signals;
mod storm;

pub use busy::BusyThreads;
pub use descriptors::NoDescriptorsLeft;
pub use signals::{SigchldIgnored, SigintDefault};
pub use storm::SignalStorm;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsFd;
use std::panic;
use std::process::ExitCode;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use nix::sys::signal::Signal;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{Pid, alarm, dup2_stderr, dup2_stdout, getpid};

/// A test that runs longer than this is stopped by `SIGALRM`, which ends the whole binary
/// with a failure instead of a stuck CI run.
pub const HANG_LIMIT: Duration = Duration::from_secs(120);

/// What the `SIGALRM` handler prints: "test NAME hung", prepared before the test starts,
/// because a signal handler may not allocate.
static HUNG_MESSAGE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static HUNG_MESSAGE_LEN: AtomicUsize = AtomicUsize::new(0);

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
    on_alarm_report_the_hung_test();
    let mut failed = Vec::new();
    for (name, test) in &selected {
        print!("test {name} ... ");
        let _ = io::stdout().flush();
        match run_one(name, *test) {
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

fn run_one(name: &str, test: fn()) -> Result<(), String> {
    let fds_before = open_fds();
    let mappings_before = shared_mappings();
    let message: &'static [u8] = format!("\n\ntest {name} hung: it ran past its time limit\n")
        .leak()
        .as_bytes();
    HUNG_MESSAGE_LEN.store(message.len(), Ordering::SeqCst);
    HUNG_MESSAGE.store(message.as_ptr().cast_mut(), Ordering::SeqCst);
    time_limit(HANG_LIMIT);
    let outcome = panic::catch_unwind(test);
    alarm::cancel();
    if outcome.is_err() {
        return Err("panicked (message above)".into());
    }
    // A child in state X (EXIT_DEAD) is dead and reaped, and the kernel is letting go of
    // it: with SIGCHLD ignored, a wait on its pidfd can return while it still shows.
    let children: Vec<_> = children().into_iter().filter(|&(_, s)| s != 'X').collect();
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
    let mapped: Vec<_> = shared_mappings()
        .into_iter()
        .filter(|mapping| !mappings_before.contains(mapping))
        .collect();
    if !mapped.is_empty() {
        return Err(format!("leaked shared memory mappings: {mapped:?}"));
    }
    Ok(())
}

/// Gives the running test at most `limit` from now (rounded up to whole seconds); past it,
/// the binary reports the test as hung and exits with a failure. For a test of a fault that
/// used to hang: the deadline is part of what it checks.
pub fn time_limit(limit: Duration) {
    let seconds = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
    alarm::set(u32::try_from(seconds).unwrap_or(u32::MAX).max(1));
}

fn on_alarm_report_the_hung_test() {
    extern "C" fn report_and_exit(_: nix::libc::c_int) {
        let (ptr, len) = (
            HUNG_MESSAGE.load(Ordering::SeqCst),
            HUNG_MESSAGE_LEN.load(Ordering::SeqCst),
        );
        // SAFETY: write(2) and _exit(2) are async-signal-safe; the message was leaked, so
        // `ptr` is valid for `len` bytes for the rest of the program (or null with len 0).
        unsafe {
            nix::libc::write(2, ptr.cast(), len);
            nix::libc::_exit(1);
        }
    }
    let action = SigAction::new(
        SigHandler::Handler(report_and_exit),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only calls async-signal-safe functions.
    unsafe { sigaction(Signal::SIGALRM, &action) }.expect("sigaction(SIGALRM)");
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

/// Writes `bytes` into every socket this process holds, as a task that plays a pool
/// worker sending what is no answer (a worker's one socket is its pipe to the parent).
/// Panics if the process runs other threads: one of them could close a socket listed.
pub fn write_to_every_socket(bytes: &[u8]) {
    let threads = fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count();
    assert_eq!(
        threads, 1,
        "write_to_every_socket needs a process with one thread"
    );
    for (fd, target) in open_fds() {
        if target.starts_with("socket:") {
            // SAFETY: the descriptor is open (just listed), and this process's one thread
            // (checked above; it starts none here) closes nothing while the borrow lasts.
            let socket = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            let _ = nix::unistd::write(socket, bytes);
        }
    }
}

/// The shared memory mapped in this process: the lines of `/proc/self/maps` for a memfd
/// (`/memfd:NAME`) or a POSIX shared memory object (`/dev/shm/NAME`), which is how `ipc`'s
/// shared objects are mapped.
pub fn shared_mappings() -> Vec<String> {
    let maps = fs::read_to_string("/proc/self/maps").expect("/proc/self/maps is readable");
    maps.lines()
        .filter(|line| line.contains("/memfd:") || line.contains("/dev/shm/"))
        .map(str::to_string)
        .collect()
}

/// Children of this process (running or zombie) as `(pid, state)`, from `/proc/*/stat`.
pub fn children() -> Vec<(i32, char)> {
    children_of(getpid().as_raw())
}

/// Children of `parent` (running or zombie) as `(pid, state)`, from `/proc/*/stat`.
fn children_of(parent: i32) -> Vec<(i32, char)> {
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
            (ppid == parent).then_some((pid, state))
        })
        .collect()
}

/// The descendants of `pid` that are running: its children, theirs, and so on.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for (child, state) in children_of(parent) {
            if state != 'Z' {
                found.push(child);
                parents.push(child);
            }
        }
    }
    found
}

/// Whether `pid` is a process that runs (it exists and is not a zombie).
pub fn is_running(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Makes this process the adoptive parent of its orphaned descendants, or not
/// (`PR_SET_CHILD_SUBREAPER`): a test sees them, and reaps them, instead of init.
pub fn adopt_orphans(adopt: bool) {
    nix::sys::prctl::set_child_subreaper(adopt).expect("PR_SET_CHILD_SUBREAPER");
}

/// Makes the program `command` starts die (`SIGKILL`) when this process does
/// (`PR_SET_PDEATHSIG`): for one started in a process group of its own, which a terminal's
/// Ctrl-C, sent to this process's group, does not reach.
pub fn dies_with_this_process(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec, and only calls
    // prctl(2), which is async-signal-safe; it allocates nothing.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

/// Kills (`SIGKILL`) every process of the process group `pgid`: a program started in a
/// group of its own, and the processes it started.
pub fn kill_group(pgid: u32) {
    let pgid = Pid::from_raw(i32::try_from(pgid).expect("a process group id"));
    // It fails only if no process is left in the group, which is what this is for.
    let _ = nix::sys::signal::killpg(pgid, Signal::SIGKILL);
}

/// Sends `signal` to `program` alone (not to its process group), then gives the processes
/// it started 5 seconds to end too. Meanwhile this process adopts them as they are
/// orphaned, and reaps them. Returns those still running after 5 seconds (then killed).
pub fn survivors_of_killing(program: &mut std::process::Child, signal: Signal) -> Vec<i32> {
    let ours: Vec<i32> = children().into_iter().map(|(pid, _)| pid).collect();
    adopt_orphans(true);
    nix::sys::signal::kill(Pid::from_raw(program.id() as i32), signal).expect("kill");
    program.wait().expect("the program is reaped");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut survivors = Vec::new();
    loop {
        let adopted: Vec<(i32, char)> = children()
            .into_iter()
            .filter(|(pid, _)| !ours.contains(pid))
            .collect();
        if adopted.is_empty() {
            break;
        }
        for (pid, state) in adopted {
            if state == 'Z' {
                let _ = waitpid(Pid::from_raw(pid), None::<WaitPidFlag>);
            } else if Instant::now() >= deadline {
                survivors.push(pid);
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    adopt_orphans(false);
    survivors
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
    // Close-on-exec (F_DUPFD_CLOEXEC), as every descriptor of ours: a program run while
    // the stream is captured must not get the saved one.
    let saved = File::from(
        match stream {
            Stream::Stdout => io::stdout().as_fd().try_clone_to_owned(),
            Stream::Stderr => io::stderr().as_fd().try_clone_to_owned(),
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
