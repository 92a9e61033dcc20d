//! `cargo exercise` as a learner meets it, without a terminal: the exit codes, `reset`'s
//! usage, and `watch` running the checks again on a save. (Where the progress goes is a
//! unit test in `src/main.rs`: this test must not touch the learner's real progress.)
//!
//! The command runs the checks through cargo (`$CARGO`). Here `$CARGO` is a small script
//! that plays cargo: its build succeeds, and its test run reports one check, passed or
//! failed as the test chooses. Progress goes to a temporary folder (`EXERCISE_STATE`).

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

const EXERCISE: &str = env!("CARGO_BIN_EXE_exercise");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A folder of its own for each test, under the system's temporary folder.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("exercise-cli-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A stand-in for cargo whose check of `ch01_exit_code` passes or fails, and which counts
/// its test runs in `runs` (one line each). Like the compiler, it reads the exercise files.
fn fake_cargo(dir: &Path, passed: bool) -> PathBuf {
    let script = dir.join("cargo");
    let runs = dir.join("runs");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             cat '{src}'/*.rs > /dev/null\n\
             case \"$*\" in *--no-run*) exit 0;; esac\n\
             echo run >> '{}'\n\
             echo '{{\"exercise\":\"ch01_exit_code\",\"check\":\"a_check\",\"passed\":{passed},\
             \"output\":\"what the check said\"}}' >> \"$EXERCISE_REPORT\"\n",
            runs.display(),
            src = workspace().join("exercises/src").display(),
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn exercise(dir: &Path, cargo: &Path, args: &[&str]) -> Output {
    Command::new(EXERCISE)
        .args(args)
        .env("CARGO", cargo)
        .env("EXERCISE_STATE", dir.join("state"))
        .output()
        .unwrap()
}

#[test]
fn check_exits_with_1_when_a_check_fails_and_0_when_all_pass() {
    let dir = scratch("check");
    let failing = exercise(&dir, &fake_cargo(&dir, false), &["check", "ch01_exit_code"]);
    let stdout = String::from_utf8_lossy(&failing.stdout);
    assert_eq!(failing.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED  a check"), "{stdout}");
    assert!(stdout.contains("what the check said"), "{stdout}");

    let passing = exercise(&dir, &fake_cargo(&dir, true), &["check", "ch01_exit_code"]);
    assert_eq!(passing.status.code(), Some(0));
    let progress = fs::read_to_string(dir.join("state/progress.txt")).unwrap();
    assert!(progress.contains("ch01_exit_code done"), "{progress}");
}

#[test]
fn reset_without_a_name_prints_its_usage() {
    let dir = scratch("reset");
    let out = exercise(&dir, &fake_cargo(&dir, true), &["reset"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("usage: cargo exercise reset NAME\n"),
        "{stderr}"
    );
    assert!(
        !dir.join("state").exists(),
        "reset without a name changed nothing"
    );
}

#[test]
fn watch_checks_at_once_and_again_when_the_file_is_saved() {
    let dir = scratch("watch");
    let mut watch = Command::new(EXERCISE)
        .args(["watch", "ch01_exit_code"])
        .env("CARGO", fake_cargo(&dir, false))
        .env("EXERCISE_STATE", dir.join("state"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, read) = mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let wait_for = |wanted: &str| loop {
        match read.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains(wanted) => return,
            Ok(_) => {}
            Err(e) => panic!("no line with {wanted:?}: {e}"),
        }
    };
    wait_for("watching exercises/src/");
    // Reading the files, as the compiler does for each check, is not a save.
    if let Ok(line) = read.recv_timeout(Duration::from_secs(2)) {
        panic!("the checks ran again with no save: {line:?}");
    }
    // A save that changes no byte of the learner's file: only its modification time.
    let file = fs::File::options()
        .append(true)
        .open(workspace().join("exercises/src/ch01_exit_code.rs"))
        .unwrap();
    file.set_modified(SystemTime::now()).unwrap();
    wait_for("watching exercises/src/");
    watch.kill().unwrap();
    watch.wait().unwrap();
    let runs = fs::read_to_string(dir.join("runs")).unwrap();
    assert_eq!(
        runs.lines().count(),
        2,
        "the checks ran at the start and after the save"
    );
}
