//! Snapshots of chapter 1's `url_loader`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

chapter_snapshots!("ch01", "url_loader", settle: |text| {
    support::child_lines_after(&text, "Waiting for the spawned process to exit")
}, extra: [
    a_program_that_runs_past_its_limit_is_killed_and_fails_its_test,
    a_process_left_holding_the_output_is_killed_and_fails_the_test,
    a_test_binary_interrupted_in_a_run_leaves_no_process,
]);

/// The runner's own time limit: a chapter that hangs fails its test within the limit, and
/// is not left running after the test binary has gone.
fn a_program_that_runs_past_its_limit_is_killed_and_fails_its_test() {
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(1);
    match support::run_merged_within("sleep", &["600"], limit) {
        Err(why) => assert!(why.contains("killed"), "{why}"),
        Ok(run) => panic!("sleep 600 ended within 1 s: {:?}", run.text),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// The limit covers the processes the program started: one that holds the output after
/// the program has exited is killed too, and the error shows what the program printed.
fn a_process_left_holding_the_output_is_killed_and_fails_the_test() {
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_millis(500);
    let script = "sleep 600 & echo started";
    match support::run_merged_within("sh", &["-c", script], limit) {
        Err(why) => assert!(why.contains("killed") && why.contains("started"), "{why}"),
        Ok(run) => panic!("ended with a process holding its output: {:?}", run.text),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A test binary interrupted (Ctrl-C) in the middle of a chapter's run: the chapter, in a
/// process group of its own that the terminal's signal does not reach, dies with it.
fn a_test_binary_interrupted_in_a_run_leaves_no_process() {
    let this_binary = std::env::current_exe().unwrap();
    support::killed_alone_when_it_leaves_no_process(
        this_binary.to_str().unwrap(),
        &["a_program_that_runs_past_its_limit_is_killed_and_fails_its_test"],
        |pid| !fork_test::descendants(pid).is_empty(),
        fork_test::Signal::SIGINT,
    );
}
