//! A load where no thread can be started (a low `ulimit -u`): an error in words, not a
//! panic. ureq's default resolver starts a thread with `thread::spawn`, which panics then.
//!
//! The limit is set in a forked child, so a test of its own: the child of a process with
//! other threads (the test harness's) could find a lock held for ever.

use std::process::ExitCode;

use loader::{LoadError, load_url};
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Uid, fork, setuid};

fn main() -> ExitCode {
    // SAFETY: this test runs without the harness (`harness = false`) and nothing before
    // this line starts a thread, so the process has one thread: the child can find no lock
    // held by a thread it lacks. The child leaves through `_exit` below, never returning
    // into `main`, so nothing of the parent's is dropped twice.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            no_threads_allowed();
            let code = i32::from(!checks());
            // SAFETY: `_exit` takes only the exit code and touches no memory of ours; it
            // ends the child at once, running no destructor and no exit handler on what the
            // child holds as a copy of the parent's (stdout's buffer, say).
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None).expect("waitpid") {
            WaitStatus::Exited(_, 0) => {
                println!("no_thread: 2 passed, 0 failed");
                ExitCode::SUCCESS
            }
            status => {
                eprintln!("no_thread: the checks failed: {status:?}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Makes starting a thread fail here: at most one process (this one) for this user. Root
/// is exempt from the limit, so root first becomes `nobody`.
fn no_threads_allowed() {
    if Uid::effective().is_root() {
        setuid(Uid::from_raw(65534)).expect("setuid nobody");
    }
    setrlimit(Resource::RLIMIT_NPROC, 1, 1).expect("setrlimit");
    assert!(
        std::thread::Builder::new().spawn(|| ()).is_err(),
        "a thread could still be started"
    );
}

/// Whether the loads fail with the errors expected, printing what was said.
fn checks() -> bool {
    // An IP address needs no lookup, so no thread: the load goes as far as it can.
    let literal = load_url("http://127.0.0.1:1/");
    let literal_ok = matches!(&literal, Err(LoadError::Unreachable { reason, .. }) if reason == "connection refused");
    // A name is looked up on a thread: its failure to start is told in words.
    let name = load_url("http://localhost:1/");
    let name_ok = matches!(&name, Err(LoadError::Unreachable { reason, .. })
        if reason.starts_with("no thread could be started to look the host name up: "));
    for (ok, result) in [(literal_ok, &literal), (name_ok, &name)] {
        if !ok {
            eprintln!("unexpected: {result:?}");
        }
    }
    literal_ok && name_ok
}
