//! The exercises' checks, in two modes.
//!
//! - `cargo test` (reference mode): for every exercise, the reference solution passes all
//!   its checks, and the starter *as shipped* (`exercises/starters/`, compiled as
//!   `exercises::starters`) fails at least one, so no check passes by accident. Both use
//!   the same checks, run the same way. The learner's own files in `exercises/src/` are
//!   not checked here: solving or half-solving an exercise leaves `cargo test` green.
//! - `cargo test -p exercises --test exercises -- --learner [NAME::]` (learner mode, what
//!   `cargo exercise` runs): one test per check, run on the learner's files.
//!
//! Every check runs in a child process of its own, cut off after a time limit (see
//! `checks::harness`), so that a learner's code that hangs or leaves processes behind is a
//! failed check rather than a stuck test run. The binary itself is single-threaded
//! (`harness = false`, the fork-test runner): forking from it is safe.

use std::path::Path;
use std::process::ExitCode;

#[path = "../catalog.rs"]
mod catalog;
mod checks;

fn main() -> ExitCode {
    let learner = std::env::args().skip(1).any(|arg| arg == "--learner");
    let tests = if learner {
        checks::learner_tests()
    } else {
        let mut tests = vec![(
            "catalog::every_exercise_has_its_files_checks_and_page",
            every_exercise_has_its_files_checks_and_page as fn(),
        )];
        tests.extend(checks::reference_tests());
        tests
    };
    fork_test::run(&tests)
}

/// The catalog, the checks, the files and the book agree on the list of exercises.
fn every_exercise_has_its_files_checks_and_page() {
    let names: Vec<&str> = catalog::EXERCISES.iter().map(|e| e.name).collect();
    let suites: Vec<&str> = checks::SUITES.iter().map(|s| s.name).collect();
    assert_eq!(
        names, suites,
        "catalog.rs and tests/checks/mod.rs list the same exercises"
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for exercise in catalog::EXERCISES {
        let name = exercise.name;
        assert!(
            name.starts_with(&format!("ch{:02}_", exercise.chapter)),
            "{name} is named after its chapter"
        );
        for dir in ["src", "starters", "solutions"] {
            let file = root.join(dir).join(format!("{name}.rs"));
            assert!(file.is_file(), "{} is missing", file.display());
        }
        let solution = std::fs::read_to_string(root.join(format!("solutions/{name}.rs"))).unwrap();
        assert!(
            solution.contains("// ANCHOR: "),
            "solutions/{name}.rs has anchors for the book"
        );
        assert!(!exercise.title.is_empty(), "{name} has a title");
        assert!(!exercise.hint.trim().is_empty(), "hints/{name}.md is empty");
        let page = root.join(format!(
            "../book/src/exercises/ch{:02}.md",
            exercise.chapter
        ));
        let page =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        for included in [
            format!("exercises/solutions/{name}.rs:"),
            format!("exercises/hints/{name}.md"),
        ] {
            assert!(
                page.contains(&included),
                "the book page of chapter {} includes {included}",
                exercise.chapter
            );
        }
    }
}
