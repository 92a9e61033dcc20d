//! `Process`: start, join, exit codes, signals, panics, output, and reaping.

use std::time::{Duration, Instant};

use fork_test::{Stream, capture};
use ipc::{Error, PANIC_EXIT_CODE, Process};
use nix::sys::signal::{Signal, raise};

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

fork_test::main!(
    exit_codes_follow_python,
    a_panicking_target_exits_non_zero_and_says_why,
    text_printed_before_start_is_printed_once,
    terminate_stops_a_busy_child,
    kill_stops_a_child_that_ignores_sigterm,
    join_timeout_returns_the_code_when_the_child_ends_in_time,
    dropping_a_running_process_kills_and_reaps_it,
    misuse_is_an_error,
    a_never_started_process_is_dropped_quietly,
);
