//! `Process`: start, join, exit codes, signals, panics, output, and reaping.

use std::time::{Duration, Instant};

use fork_test::{
    BusyThreads, NoDescriptorsLeft, Stream, adopt_orphans, capture, is_running, time_limit,
};
use ipc::{Error, PANIC_EXIT_CODE, Pipe, Process};
use nix::sys::signal::{SigHandler, Signal, kill, raise, signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

fn exit_codes_follow_python() {
    let cases: Vec<(Process, i32)> = vec![
        (Process::new(|| ()), 0),
        (Process::with_exit_code(|| 7), 7),
        (Process::new(|| std::process::exit(3)), 3),
        (Process::new(|| raise(Signal::SIGKILL).unwrap()), -9),
    ];
    for (mut p, expected) in cases {
        assert_eq!(p.exitcode().unwrap(), None, "None before start");
        p.start().unwrap();
        assert_eq!(p.join().unwrap(), expected);
        assert_eq!(p.exitcode().unwrap(), Some(expected));
        assert!(!p.is_alive().unwrap());
    }
}

fn a_panicking_target_exits_non_zero_and_says_why() {
    let mut code = None;
    let stderr = capture(Stream::Stderr, || {
        let mut p = Process::new(|| panic!("the page was on fire"));
        p.start().unwrap();
        code = Some(p.join().unwrap());
    });
    assert_eq!(code, Some(PANIC_EXIT_CODE));
    assert!(
        stderr.contains("the page was on fire"),
        "stderr: {stderr:?}"
    );
    // The parent is unaffected and can go on forking.
    let mut p = Process::new(|| ());
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
}

/// A panic payload whose own destructor panics (`panic_any` with such a value): the
/// second panic must not take the child back into the caller's code, where it would run
/// the parent's program (and its destructors) a second time.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the payload's destructor panics too");
    }
}

fn a_panic_whose_payload_panics_when_dropped_still_ends_the_child() {
    let me = std::process::id();
    let mut code = None;
    capture(Stream::Stderr, || {
        let mut p = Process::new(|| std::panic::panic_any(PanicsWhenDropped));
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.start()));
        if std::process::id() != me {
            // The child came back out of `start`: end it before it runs any more of this.
            // SAFETY: `_exit` ends the process at once.
            unsafe { nix::libc::_exit(99) }
        }
        started.unwrap().unwrap();
        code = Some(p.join().unwrap());
    });
    assert_eq!(
        code,
        Some(PANIC_EXIT_CODE),
        "99: the child ran the caller's code"
    );
}

fn text_printed_before_start_is_printed_once() {
    let stdout = capture(Stream::Stdout, || {
        print!("parent, before the fork; "); // no newline: still in the buffer
        let mut p = Process::new(|| print!("child, no newline"));
        p.start().unwrap();
        p.join().unwrap();
    });
    assert_eq!(stdout, "parent, before the fork; child, no newline");
}

fn terminate_stops_a_busy_child() {
    let mut p = Process::new(|| {
        loop {
            std::hint::spin_loop()
        }
    });
    p.start().unwrap();
    assert_eq!(p.join_timeout(Duration::from_millis(50)).unwrap(), None);
    assert!(p.is_alive().unwrap());
    assert_eq!(p.exitcode().unwrap(), None);
    p.terminate().unwrap();
    assert_eq!(p.join().unwrap(), -15);
    // Signalling a reaped child does nothing (its pid may be someone else's now).
    p.terminate().unwrap();
    p.kill().unwrap();
}

fn kill_stops_a_child_that_ignores_sigterm() {
    let mut p = Process::new(|| {
        // SAFETY: ignoring a signal installs no handler code.
        unsafe { nix::sys::signal::signal(Signal::SIGTERM, nix::sys::signal::SigHandler::SigIgn) }
            .unwrap();
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    p.start().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    p.terminate().unwrap();
    assert_eq!(p.join_timeout(Duration::from_millis(100)).unwrap(), None);
    p.kill().unwrap();
    assert_eq!(p.join().unwrap(), -9);
}

fn join_timeout_returns_the_code_when_the_child_ends_in_time() {
    let mut p = Process::with_exit_code(|| {
        std::thread::sleep(Duration::from_millis(20));
        5
    });
    p.start().unwrap();
    assert_eq!(p.join_timeout(Duration::from_secs(30)).unwrap(), Some(5));
}

fn dropping_a_running_process_kills_and_reaps_it() {
    let mut p = Process::new(|| std::thread::sleep(Duration::from_secs(60)));
    p.start().unwrap();
    let started = Instant::now();
    drop(p); // the runner checks afterwards that no child is left
    assert!(started.elapsed() < Duration::from_secs(5));
}

fn misuse_is_an_error() {
    let mut p = Process::new(|| ());
    assert_eq!(p.pid(), None);
    assert!(matches!(p.join(), Err(Error::NotStarted)));
    assert!(matches!(p.terminate(), Err(Error::NotStarted)));
    p.start().unwrap();
    assert!(p.pid().is_some());
    assert!(matches!(p.start(), Err(Error::AlreadyStarted)));
    p.join().unwrap();
    assert_eq!(p.join().unwrap(), 0, "join twice gives the same code");
}

fn a_never_started_process_is_dropped_quietly() {
    drop(Process::new(|| ()));
}

fn starting_a_process_while_other_threads_run_is_refused_with_the_way_out() {
    time_limit(Duration::from_secs(20));
    let busy = BusyThreads::start(2);
    for _ in 0..20 {
        let mut p = Process::new(|| ());
        match p.start() {
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains("3 threads"), "names the count: {message}");
                assert!(message.contains("before"), "says the way out: {message}");
            }
            Ok(()) => {
                p.join().unwrap();
                panic!("started a process while 2 other threads ran");
            }
        }
    }
    let pool = ipc::Pool::new(4);
    for _ in 0..20 {
        assert!(
            pool.map(|x: u32| x + 1, 0..8).is_err(),
            "Pool::map refuses too"
        );
    }
    drop(busy);
    // Once the threads are gone, forking is fine again.
    let mut p = Process::with_exit_code(|| 4);
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 4);
}

fn a_start_refused_for_threads_can_be_retried_once_they_are_joined() {
    let (stop, wait) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || wait.recv());
    let mut p = Process::with_exit_code(|| 4);
    assert!(matches!(
        p.start(),
        Err(Error::ThreadsRunning { threads: 2 })
    ));
    stop.send(()).unwrap();
    thread.join().unwrap().unwrap();
    p.start()
        .expect("a refused start started nothing: the process can start now");
    assert_eq!(p.join().unwrap(), 4);
}

fn a_child_dies_with_its_parent_and_leaves_no_orphan() {
    time_limit(Duration::from_secs(20));
    adopt_orphans(true);
    let (mut pids, mut child_end) = Pipe::new().unwrap();
    let mut p = Process::new(move || {
        let mut grandchild = Process::new(|| std::thread::sleep(Duration::from_secs(60)));
        grandchild.start().unwrap();
        child_end.send(&grandchild.pid().unwrap()).unwrap();
        std::mem::forget(grandchild); // no Drop: only the parent's death may end it
        std::thread::sleep(Duration::from_secs(60));
    });
    p.start().unwrap();
    let grandchild: i32 = pids.recv().unwrap();
    p.kill().unwrap();
    assert_eq!(p.join().unwrap(), -9);
    let started = Instant::now();
    while is_running(grandchild) && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let orphaned = is_running(grandchild);
    if orphaned {
        let _ = kill(Pid::from_raw(grandchild), Signal::SIGKILL);
    }
    // Adopted when its parent died: reap it.
    waitpid(Pid::from_raw(grandchild), None).unwrap();
    adopt_orphans(false);
    assert!(!orphaned, "the grandchild outlived its parent by 5 s");
}

fn join_timeout_accepts_any_duration() {
    let mut p = Process::with_exit_code(|| 2);
    p.start().unwrap();
    assert_eq!(p.join_timeout(Duration::MAX).unwrap(), Some(2));
}

fn a_child_reaped_by_someone_else_is_never_signalled_again() {
    time_limit(Duration::from_secs(30));
    // With SIGCHLD ignored, the kernel reaps children itself: the pid is free for reuse.
    // SAFETY: SIG_IGN installs no handler code.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }.unwrap();
    let mut p = Process::new(|| ());
    p.start().unwrap();
    let pid = p.pid().unwrap();
    while is_running(pid) || std::path::Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let joined = p.join();
    // SAFETY: SIG_DFL installs no handler code.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }.unwrap();
    let message = joined.expect_err("the exit code is lost").to_string();
    assert!(message.contains("SIGCHLD"), "says why: {message}");
    // Put an unrelated process on the same pid, if this machine lets us choose pids.
    let Some(mut victim) = process_with_pid(pid) else {
        println!("(pid reuse not staged: /proc/sys/kernel/ns_last_pid is not writable)");
        assert!(p.kill().is_ok() || p.kill().is_err());
        return;
    };
    let _ = p.terminate();
    let _ = p.kill();
    drop(p);
    std::thread::sleep(Duration::from_millis(100));
    // Killed, or even reaped by the old child's handle, the victim did not survive.
    let survived = matches!(victim.try_wait(), Ok(None));
    let _ = victim.kill();
    let _ = victim.wait();
    assert!(
        survived,
        "a signal meant for the old child hit pid {pid}'s new owner"
    );
}

/// Starts `sleep 30` with process id `pid`, by telling the kernel which pid was handed out
/// last (root only). Gives up after a few tries, since other processes race for pids too.
fn process_with_pid(pid: i32) -> Option<std::process::Child> {
    for _ in 0..50 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        if child.id() as i32 == pid {
            return Some(child);
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    None
}

fn fork_failing_under_a_process_limit_says_why() {
    let mut p = Process::with_exit_code(|| {
        // Root ignores RLIMIT_NPROC: become nobody first (when root).
        if nix::unistd::getuid().is_root() {
            nix::unistd::setuid(nix::unistd::Uid::from_raw(65534)).unwrap();
        }
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NPROC, 1, 1).unwrap();
        let mut grandchild = Process::new(|| ());
        match grandchild.start() {
            Ok(()) => 1,
            Err(e) => {
                eprintln!("{e}");
                if e.to_string().contains("limit") {
                    0
                } else {
                    2
                }
            }
        }
    });
    let mut code = None;
    let stderr = capture(Stream::Stderr, || {
        p.start().unwrap();
        code = Some(p.join().unwrap());
    });
    assert_eq!(code, Some(0), "the error names the process limit: {stderr}");
}

/// Python's `multiprocessing.connection.wait([conn, p.sentinel])`: a process's sentinel is
/// ready once it has ended, beside connections, and stays ready after the join.
fn a_sentinel_is_ready_when_its_process_ends() {
    time_limit(Duration::from_secs(30));
    let (quiet, _other_end) = Pipe::new().unwrap();
    let unstarted = Process::new(|| ());
    assert!(matches!(unstarted.sentinel(), Err(Error::NotStarted)));
    let mut p = Process::new(|| std::thread::sleep(Duration::from_millis(300)));
    p.start().unwrap();
    let sentinel = p.sentinel().unwrap();
    let objects: [&dyn ipc::connection::Waitable; 2] = [&quiet, &sentinel];
    let early = ipc::connection::wait(&objects, Some(Duration::from_millis(10))).unwrap();
    assert!(early.is_empty(), "ready before the child ended: {early:?}");
    let started = Instant::now();
    let ready = ipc::connection::wait(&objects, Some(Duration::from_secs(10))).unwrap();
    assert_eq!(ready, [1]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(p.join().unwrap(), 0);
    let after = ipc::connection::wait(&[&p.sentinel().unwrap()], Some(Duration::ZERO));
    assert_eq!(after.unwrap(), [0], "still ready after the join");
}

/// With no descriptor left for the child's pidfd, `start` fails after the fork. A child
/// that did not wait for its parent (the usual case) may have begun its target by then:
/// the error says so, and the target is gone with it, so that a second `start` cannot run
/// it again.
fn a_start_that_fails_after_the_fork_never_runs_its_target_twice() {
    time_limit(Duration::from_secs(30));
    let (mut reader, mut writer) = Pipe::new().unwrap();
    let mut p = Process::new(move || writer.send(&1u8).unwrap());
    let full = NoDescriptorsLeft::new();
    let first = p.start();
    drop(full);
    let error = first.expect_err("no room for a pidfd").to_string();
    assert!(error.contains("may have begun"), "{error}");
    assert!(matches!(p.start(), Err(Error::AlreadyStarted)));
    let mut messages = 0;
    while reader.poll(Duration::from_secs(5)).unwrap() && reader.recv::<u8>().is_ok() {
        messages += 1;
    }
    assert!(messages <= 1, "the target ran {messages} times");
}

fork_test::main!(
    a_panic_whose_payload_panics_when_dropped_still_ends_the_child,
    exit_codes_follow_python,
    a_panicking_target_exits_non_zero_and_says_why,
    text_printed_before_start_is_printed_once,
    terminate_stops_a_busy_child,
    kill_stops_a_child_that_ignores_sigterm,
    join_timeout_returns_the_code_when_the_child_ends_in_time,
    dropping_a_running_process_kills_and_reaps_it,
    misuse_is_an_error,
    a_never_started_process_is_dropped_quietly,
    starting_a_process_while_other_threads_run_is_refused_with_the_way_out,
    a_start_refused_for_threads_can_be_retried_once_they_are_joined,
    a_child_dies_with_its_parent_and_leaves_no_orphan,
    join_timeout_accepts_any_duration,
    a_child_reaped_by_someone_else_is_never_signalled_again,
    fork_failing_under_a_process_limit_says_why,
    a_sentinel_is_ready_when_its_process_ends,
    a_start_that_fails_after_the_fork_never_runs_its_target_twice,
);
