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
    // A spawned worker (chapter 6's exercises) is a fresh copy of this binary: it runs its
    // function here, and exits.
    ipc::spawn::init();
    let learner = std::env::args().skip(1).any(|arg| arg == "--learner");
    let tests = if learner {
        checks::learner_tests()
    } else {
        let mut tests: Vec<(&str, fn())> = vec![
            (
                "catalog::every_exercise_has_its_files_checks_and_page",
                every_exercise_has_its_files_checks_and_page,
            ),
            (
                "catalog::every_item_an_exercise_needs_is_taught_by_then",
                every_item_an_exercise_needs_is_taught_by_then,
            ),
            (
                "harness::a_panic_report_is_one_write",
                checks::harness::a_panic_report_is_one_write,
            ),
            (
                "harness::a_checks_own_panics_are_not_shown_as_the_learners",
                checks::ch01_exit_code::a_checks_own_panics_are_not_shown_as_the_learners,
            ),
        ];
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
        assert!(
            !exercise.more_hint.trim().is_empty(),
            "hints/{name}-more.md is empty"
        );
        let pages = root.join("../book/src/exercises");
        let read = |file: String| {
            let path = pages.join(&file);
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let tasks = read(format!("ch{:02}.md", exercise.chapter));
        for hint in [format!("hints/{name}.md"), format!("hints/{name}-more.md")] {
            assert!(
                tasks.contains(&format!("exercises/{hint}}}}}")),
                "the exercises page of chapter {} includes {hint}",
                exercise.chapter
            );
        }
        // The solutions are on a page of their own, so that reading the hints shows none.
        assert!(
            !tasks.contains("exercises/solutions/"),
            "the exercises page of chapter {} shows no solution",
            exercise.chapter
        );
        let solutions = read(format!("ch{:02}-solutions.md", exercise.chapter));
        assert!(
            solutions.contains(&format!("exercises/solutions/{name}.rs:")),
            "the solutions page of chapter {} includes solutions/{name}.rs",
            exercise.chapter
        );
    }
}

/// An exercise needs only what the book has taught by then: each item of `ipc` or
/// `loader` in its `needs` is mentioned, in code, on its chapter's page or an earlier one
/// (`book/src/chNN-*.md`; the exercise pages do not count).
fn every_item_an_exercise_needs_is_taught_by_then() {
    let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
    let mut chapters: Vec<(u8, String)> = std::fs::read_dir(&book)
        .expect("book/src")
        .map(|entry| entry.expect("a book page").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            let number = name.strip_prefix("ch")?.get(..2)?.parse().ok()?;
            let page = std::fs::read_to_string(&path).ok()?;
            Some((number, page))
        })
        .collect();
    chapters.sort();
    let mut untaught = Vec::new();
    for exercise in catalog::EXERCISES {
        let pages: Vec<&str> = chapters
            .iter()
            .filter(|(number, _)| *number <= exercise.chapter)
            .map(|(_, page)| page.as_str())
            .collect();
        for item in exercise.needs {
            if !pages.iter().any(|page| mentions(page, item)) {
                untaught.push(format!(
                    "{} needs {item}, which no chapter page up to chapter {} mentions",
                    exercise.name, exercise.chapter
                ));
            }
        }
    }
    assert!(untaught.is_empty(), "{}", untaught.join("\n"));
}

/// Whether `page` has a code span (between backticks) that names `item`: `Type::name`
/// itself, or a call `.name(`, or `name` alone; a plain `name` must stand as a word.
fn mentions(page: &str, item: &str) -> bool {
    let (path, name) = item.rsplit_once("::").map_or(("", item), |(p, n)| (p, n));
    let is_word = |text: &str| {
        text.match_indices(name).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !word(before) && !word(after)
        })
    };
    page.split('`').skip(1).step_by(2).any(|code| {
        if path.is_empty() {
            is_word(code)
        } else {
            code.contains(item)
                || code.contains(&format!(".{name}("))
                || code.trim_end_matches("()") == name
        }
    })
}
