//! Snapshots of chapter 1's `url_loader`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

chapter_snapshots!("ch01", "url_loader", settle: |text| {
    support::child_lines_after(&text, "Waiting for the spawned process to exit")
}, extra: [a_program_that_runs_past_its_limit_is_killed_and_fails_its_test]);

/// The runner's own time limit: a chapter that hangs fails its test within the limit, and
/// is not left running after the test binary has gone.
fn a_program_that_runs_past_its_limit_is_killed_and_fails_its_test() {
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_millis(300);
    match support::run_merged_within("sleep", &["600"], limit) {
        Err(why) => assert!(why.contains("killed"), "{why}"),
        Ok(run) => panic!("sleep 600 ended within 300 ms: {:?}", run.text),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
