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

/// The text between the line `from` and the line `to` (or the end).
fn part<'a>(text: &'a str, from: &str, to: Option<&str>) -> &'a str {
    let start = text.find(from).expect("the part's title") + from.len();
    let end = to.map_or(text.len(), |to| text.find(to).expect("the next title"));
    &text[start..end]
}

fn text_buffered_at_a_fork_is_printed_twice_and_ipc_flushes_first() {
    let text = check("unflushed_output", env!("CARGO_BIN_EXE_unflushed_output"));
    let bare = part(&text, "A bare fork", Some("ipc's Process"));
    assert_eq!(bare.matches("Loading… ").count(), 2, "{bare}");
    let ipc = part(&text, "ipc's Process", None);
    assert_eq!(ipc.matches("Loading… ").count(), 1, "{ipc}");
}

fn a_child_holding_the_write_end_waits_forever_unless_it_is_marked() {
    let text = check(
        "pipe_end_left_open",
        env!("CARGO_BIN_EXE_pipe_end_left_open"),
    );
    let bare = part(
        &text,
        "A bare fork",
        Some("ipc, with the parent's end inheritable"),
    );
    assert!(bare.contains("The child hung"), "{bare}");
    assert!(bare.contains("killed by SIGALRM"), "{bare}");
    let unmarked = part(
        &text,
        "ipc, with the parent's end inheritable",
        Some("ipc, with parent_conn.set_inheritable(false)"),
    );
    assert!(unmarked.contains("The child hung"), "{unmarked}");
    let marked = part(&text, "ipc, with parent_conn.set_inheritable(false)", None);
    assert!(
        marked.contains("The child read to the end of the stream."),
        "{marked}"
    );
    assert!(marked.contains("exit code 0"), "{marked}");
}

fn a_child_not_waited_for_is_a_zombie_and_a_dropped_process_is_reaped() {
    let text = check("forgotten_join", env!("CARGO_BIN_EXE_forgotten_join"));
    let bare = part(&text, "A bare fork", Some("ipc's Process"));
    assert!(bare.contains("has exited, and is a zombie"), "{bare}");
    assert!(
        bare.contains("after waitpid, process [PID] is gone"),
        "{bare}"
    );
    let ipc = part(&text, "ipc's Process", None);
    assert_eq!(
        ipc.matches("after the drop, process [PID] is gone").count(),
        2,
        "{ipc}"
    );
}

fn a_destructor_acts_in_both_processes_unless_one_owns_the_value() {
    let text = check("destructor_twice", env!("CARGO_BIN_EXE_destructor_twice"));
    let bare = part(
        &text,
        "A bare fork",
        Some("ipc's Process, with a TempDir moved"),
    );
    assert_eq!(bare.matches("loading /").count(), 2, "{bare}");
    let moved = part(
        &text,
        "ipc's Process, with a TempDir moved",
        Some("ipc's Process, with the TempDir kept"),
    );
    assert!(moved.contains("cannot save index.html"), "{moved}");
    let kept = part(
        &text,
        "ipc's Process, with the TempDir kept",
        Some("ipc's Pool"),
    );
    assert!(kept.contains("The parent finds 1 file"), "{kept}");
    let pool = part(&text, "ipc's Pool", None);
    assert!(
        pool.contains("3 of 3 pages saved; 0 of the 3 folders left."),
        "{pool}"
    );
}

fn a_fork_copies_a_lock_another_thread_held_and_ipc_refuses_to_fork() {
    let text = check("fork_with_threads", env!("CARGO_BIN_EXE_fork_with_threads"));
    let bare = part(&text, "A bare fork", Some("ipc's Process, while"));
    assert!(bare.contains("The child hung"), "{bare}");
    assert!(!bare.contains("The child prints."), "{bare}");
    let refused = part(&text, "ipc's Process, while", Some("ipc's Process, once"));
    assert!(refused.contains("start: refusing to fork"), "{refused}");
    let joined = part(&text, "ipc's Process, once", None);
    assert!(joined.contains("The child prints."), "{joined}");
}

fork_test::main!(
    text_buffered_at_a_fork_is_printed_twice_and_ipc_flushes_first,
    a_child_holding_the_write_end_waits_forever_unless_it_is_marked,
    a_child_not_waited_for_is_a_zombie_and_a_dropped_process_is_reaped,
    a_destructor_acts_in_both_processes_unless_one_owns_the_value,
    a_fork_copies_a_lock_another_thread_held_and_ipc_refuses_to_fork,
);
