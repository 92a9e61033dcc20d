//! Snapshots of chapter 1's pitfalls of fork (`chapters/01-fork-pitfalls`): each program
//! makes its mistake with a bare fork, then does the same with `ipc`. Besides the snapshot,
//! each test checks the mistake itself, so that a snapshot accepted by mistake cannot hide
//! a pitfall that stopped showing, nor an `ipc` that stopped preventing it.

mod support;

use std::time::Duration;

/// Runs the program `bin` of the package and compares its output with the snapshot
/// `ch01_pitfall_{bin}`; returns the output.
fn check(bin: &str, path: &str) -> String {
    // The programs that hang on purpose end their hangs within seconds: a run that takes
    // longer is a hang of its own.
    fork_test::time_limit(Duration::from_secs(60));
    let command = format!("cargo run -p ch01-fork-pitfalls --bin {bin}");
    let name = format!("ch01_pitfall_{bin}");
    support::check_command(&name, &command, path, &[], None, support::as_written)
}

/// The parts of a program's output: what follows each title line (a line that ends with
/// a colon: the programs print one before each way they try), up to the next.
fn parts<const N: usize>(text: &str) -> [String; N] {
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines().skip(1) {
        match parts.last_mut() {
            Some(part) if !line.ends_with(':') => part.push_str(&format!("{line}\n")),
            _ => parts.push(String::new()),
        }
    }
    parts
        .try_into()
        .unwrap_or_else(|parts: Vec<_>| panic!("{N} parts, not {}: {text}", parts.len()))
}

fn text_buffered_at_a_fork_is_printed_twice_and_ipc_flushes_first() {
    let text = check("unflushed_output", env!("CARGO_BIN_EXE_unflushed_output"));
    let [bare, ipc] = parts(&text);
    assert_eq!(bare.matches("Loading… ").count(), 2, "{bare}");
    assert_eq!(ipc.matches("Loading… ").count(), 1, "{ipc}");
}

fn a_child_holding_the_write_end_waits_forever_unless_it_is_marked() {
    let text = check(
        "pipe_end_left_open",
        env!("CARGO_BIN_EXE_pipe_end_left_open"),
    );
    let [bare, unmarked, marked] = parts(&text);
    assert!(bare.contains("The child hung"), "{bare}");
    assert!(bare.contains("killed by SIGALRM"), "{bare}");
    assert!(unmarked.contains("The child hung"), "{unmarked}");
    assert!(
        marked.contains("The child read to the end of the stream."),
        "{marked}"
    );
    assert!(marked.contains("exit code 0"), "{marked}");
}

fn a_child_not_waited_for_is_a_zombie_and_a_dropped_process_is_reaped() {
    let text = check("forgotten_join", env!("CARGO_BIN_EXE_forgotten_join"));
    let [bare, ipc] = parts(&text);
    assert!(bare.contains("has exited, and is a zombie"), "{bare}");
    assert!(
        bare.contains("after waitpid, process [PID] is gone"),
        "{bare}"
    );
    let gone = ipc.matches("after the drop, process [PID] is gone").count();
    assert_eq!(gone, 2, "{ipc}");
}

fn a_destructor_acts_in_both_processes_unless_one_owns_the_value() {
    let text = check("destructor_twice", env!("CARGO_BIN_EXE_destructor_twice"));
    let [bare, moved, kept, pool] = parts(&text);
    assert_eq!(bare.matches("loading /").count(), 2, "{bare}");
    assert!(moved.contains("cannot save index.html"), "{moved}");
    assert!(kept.contains("The parent finds 1 file"), "{kept}");
    assert!(
        pool.contains("3 of 3 pages saved; 0 of the 3 folders left."),
        "{pool}"
    );
}

fn a_fork_copies_a_lock_another_thread_held_and_ipc_refuses_to_fork() {
    let text = check("fork_with_threads", env!("CARGO_BIN_EXE_fork_with_threads"));
    let [bare, refused, joined] = parts(&text);
    assert!(bare.contains("The child hung"), "{bare}");
    assert!(!bare.contains("The child prints."), "{bare}");
    assert!(refused.contains("start: refusing to fork"), "{refused}");
    assert!(joined.contains("The child prints."), "{joined}");
}

fork_test::main!(
    text_buffered_at_a_fork_is_printed_twice_and_ipc_flushes_first,
    a_child_holding_the_write_end_waits_forever_unless_it_is_marked,
    a_child_not_waited_for_is_a_zombie_and_a_dropped_process_is_reaped,
    a_destructor_acts_in_both_processes_unless_one_owns_the_value,
    a_fork_copies_a_lock_another_thread_held_and_ipc_refuses_to_fork,
);
