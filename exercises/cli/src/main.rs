//! `cargo exercise`: where you are in the exercises, and what to do next.
//!
//! ```text
//! cargo exercise              the list (done / not done), then the next exercise's checks
//! cargo exercise list         the list only
//! cargo exercise watch [NAME] run the checks again each time an exercise file is saved
//! cargo exercise check [NAME] run the checks of NAME (default: the next exercise)
//! cargo exercise hint [NAME]  the hint of NAME (default: the next exercise)
//! cargo exercise solution [NAME]  where the reference solution is
//! cargo exercise reset NAME   put the file of NAME back as shipped (yours is saved)
//! ```
//!
//! `cargo exercise` is an alias (in `.cargo/config.toml`) for running this binary. It
//! checks the learner's files by running the `exercises` test binary in learner mode
//! (`cargo test -p exercises --test exercises -- --learner NAME::`), which writes one JSON
//! line per check to the file named by `EXERCISE_REPORT`. An exercise whose file is still
//! byte-for-byte its starter is "not started": its checks are known to fail (`cargo test`
//! makes sure of that), so they are not run, except for the next exercise's.
//!
//! This package does not depend on the exercises' code, so that the list, the hints and
//! `reset` work even while the learner's code does not compile.
//!
//! Progress and the backups that `reset` makes live in `.exercises/` at the workspace's
//! root (ignored by git), not under `target/`: `cargo clean` must not forget what a
//! learner has done. `EXERCISE_STATE` names another folder (the tests use it).

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use serde::Deserialize;

#[path = "../../catalog.rs"]
mod catalog;

use catalog::{EXERCISES, Exercise};

const USAGE: &str = "\
usage:
  cargo exercise                  the exercises, done or not, and the next one's checks
  cargo exercise list             the exercises, done or not
  cargo exercise watch [NAME]     check NAME (default: the next exercise), then again each
                                  time an exercise file is saved; Ctrl-C stops
  cargo exercise check [NAME]     run the checks of NAME (default: the next exercise);
                                  exits with 1 if one fails
  cargo exercise hint [NAME]      a hint for NAME (default: the next exercise)
  cargo exercise solution [NAME]  where to find the reference solution of NAME
  cargo exercise reset NAME       put exercises/src/NAME.rs back as shipped (yours is saved)
NAME is an exercise's name as in the list (ch01_exit_code), or a unique part of it (exit_code).";

/// What `reset` with no name says: it needs one, since it overwrites a file.
const RESET_USAGE: &str = "\
usage: cargo exercise reset NAME
Puts exercises/src/NAME.rs back as shipped; your version is saved in .exercises/backups/.
It needs the exercise's name, since it replaces your file: see `cargo exercise list`.";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ws = Workspace::find();
    let result = match args.as_slice() {
        [] => ws.overview().map(|()| ExitCode::SUCCESS),
        ["list"] => ws.list().map(|_| ExitCode::SUCCESS),
        ["check" | "run"] => ws.check(None),
        ["check" | "run", name] => find(name).and_then(|e| ws.check(Some(e))),
        ["watch"] => ws.watch(None),
        ["watch", name] => find(name).and_then(|e| ws.watch(Some(e))),
        ["hint"] => ws.hint(None, false),
        ["hint", "--more"] => ws.hint(None, true),
        ["hint", name] => find(name).and_then(|e| ws.hint(Some(e), false)),
        ["hint", name, "--more"] => find(name).and_then(|e| ws.hint(Some(e), true)),
        ["solution"] => ws.solution(None),
        ["solution", name] => find(name).and_then(|e| ws.solution(Some(e))),
        ["reset"] => Err(RESET_USAGE.to_string()),
        ["reset", name] => find(name).and_then(|e| ws.reset(e)),
        ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(format!("unknown command: {}\n{USAGE}", args.join(" "))),
    };
    result.unwrap_or_else(|message| {
        eprintln!("{message}");
        ExitCode::from(2)
    })
}

/// The exercise called `name`: its exact name, with `-` for `_`, or a part of exactly one.
fn find(name: &str) -> Result<&'static Exercise, String> {
    let wanted = name.replace('-', "_");
    if let Some(exercise) = EXERCISES.iter().find(|e| e.name == wanted) {
        return Ok(exercise);
    }
    let matches: Vec<&Exercise> = EXERCISES
        .iter()
        .filter(|e| e.name.contains(&wanted))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        _ => {
            let names: Vec<&str> = EXERCISES.iter().map(|e| e.name).collect();
            Err(format!(
                "no exercise is called {name:?} (or several are); the exercises: {}",
                names.join(", ")
            ))
        }
    }
}

/// Where an exercise stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// The file is still exactly as shipped.
    NotStarted,
    /// Changed, and some checks fail.
    NotDone,
    /// Every check passes.
    Done,
}

/// One line of the report that the checks write in learner mode.
#[derive(Debug, Clone, Deserialize)]
struct CheckResult {
    exercise: String,
    check: String,
    passed: bool,
    output: String,
}

/// Each exercise's status, by name.
type Statuses = BTreeMap<&'static str, Status>;
/// The results of the checks that were run, by exercise name.
type Results = BTreeMap<String, Vec<CheckResult>>;

struct Workspace {
    /// The workspace's root folder.
    root: PathBuf,
    /// The cargo that runs us (cargo sets `CARGO` for `cargo run`).
    cargo: OsString,
    color: bool,
}

impl Workspace {
    fn find() -> Workspace {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.join("../..");
        Workspace {
            root: root.canonicalize().unwrap_or(root),
            cargo: env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            color: std::io::stdout().is_terminal() && env::var_os("NO_COLOR").is_none(),
        }
    }

    /// `cargo exercise`: the list, then the next exercise and its checks.
    fn overview(&self) -> Result<(), String> {
        let (statuses, results) = self.list()?;
        let Some(next) = EXERCISES.iter().find(|e| statuses[e.name] != Status::Done) else {
            println!(
                "\n{} Every exercise is done. Well done!",
                self.paint("32;1", "All done.")
            );
            return Ok(());
        };
        // The next exercise's checks ran already if its file was changed.
        let results = match results.get(next.name) {
            Some(results) => results.clone(),
            None => self
                .run_checks(&[next])?
                .remove(next.name)
                .unwrap_or_default(),
        };
        println!(
            "\nNext: {} ({}, chapter {})",
            self.paint("1", next.name),
            next.title,
            next.chapter
        );
        println!(
            "  the task and the file to edit:  exercises/src/{}.rs",
            next.name
        );
        println!(
            "  the book page:                  book/src/exercises/ch{:02}.md",
            next.chapter
        );
        println!(
            "  what it uses:                   {}",
            next.needs.join(", ")
        );
        self.show_checks(next, &results);
        self.next_step(next);
        Ok(())
    }

    /// `cargo exercise list`: runs the checks of the changed files, prints the list, and
    /// returns every exercise's status, with the check results that were run.
    fn list(&self) -> Result<(Statuses, Results), String> {
        let started: Vec<&Exercise> = EXERCISES.iter().filter(|e| self.is_changed(e)).collect();
        let results = if started.is_empty() {
            BTreeMap::new()
        } else {
            self.run_checks(&started)?
        };
        let previous = self.load_progress();
        let mut statuses = BTreeMap::new();
        for exercise in EXERCISES {
            let status = if !self.is_changed(exercise) {
                Status::NotStarted
            } else if results
                .get(exercise.name)
                .is_some_and(|checks| !checks.is_empty() && checks.iter().all(|c| c.passed))
            {
                Status::Done
            } else {
                Status::NotDone
            };
            statuses.insert(exercise.name, status);
        }
        let next = EXERCISES
            .iter()
            .find(|e| statuses[e.name] != Status::Done)
            .map(|e| e.name);
        let done = statuses.values().filter(|&&s| s == Status::Done).count();
        println!("Exercises: {done} of {} done\n", EXERCISES.len());
        for exercise in EXERCISES {
            let status = statuses[exercise.name];
            let word = match status {
                Status::Done => self.paint("32;1", "done       "),
                Status::NotDone => self.paint("31", "not done   "),
                Status::NotStarted => "not started".to_string(),
            };
            let mut line = format!("  {word}  {:<21}  {}", exercise.name, exercise.title);
            if Some(exercise.name) == next {
                line.push_str(&self.paint("1", "   <- next"));
            }
            if status == Status::Done && previous.get(exercise.name) != Some(&Status::Done) {
                line.push_str(&self.paint("32", "   (new!)"));
            }
            println!("{line}");
        }
        self.save_progress(&statuses);
        Ok((statuses, results))
    }

    /// `cargo exercise check [NAME]`: a failure if a check fails, for scripts.
    fn check(&self, exercise: Option<&'static Exercise>) -> Result<ExitCode, String> {
        let exercise = exercise.unwrap_or_else(|| self.next_by_progress());
        println!(
            "{} ({}, chapter {})",
            exercise.name, exercise.title, exercise.chapter
        );
        if self.check_and_record(exercise)? {
            Ok(ExitCode::SUCCESS)
        } else {
            self.next_step(exercise);
            Ok(ExitCode::FAILURE)
        }
    }

    /// Runs the checks of `exercise`, shows them, records the status, and says whether
    /// every check passed.
    fn check_and_record(&self, exercise: &'static Exercise) -> Result<bool, String> {
        let results = self
            .run_checks(&[exercise])?
            .remove(exercise.name)
            .unwrap_or_default();
        self.show_checks(exercise, &results);
        let mut statuses = self.load_progress();
        let done = !results.is_empty() && results.iter().all(|c| c.passed);
        let status = match (done, self.is_changed(exercise)) {
            (true, _) => Status::Done,
            (false, true) => Status::NotDone,
            (false, false) => Status::NotStarted,
        };
        statuses.insert(exercise.name, status);
        self.save_progress(&statuses);
        Ok(done)
    }

    /// `cargo exercise watch [NAME]`: checks the exercise, then waits for a save of any
    /// exercise file and checks that one. Once an exercise is done it says which is next,
    /// and a save of that file checks it. Runs until Ctrl-C.
    fn watch(&self, exercise: Option<&'static Exercise>) -> Result<ExitCode, String> {
        let src = self.root.join("exercises/src");
        let (saved, events) = mpsc::channel();
        let mut debouncer = new_debouncer(Duration::from_millis(200), None, saved)
            .map_err(|e| format!("cannot watch {}: {e}", src.display()))?;
        debouncer
            .watch(&src, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", src.display()))?;
        let mut current = exercise.unwrap_or_else(|| self.next_by_progress());
        loop {
            self.clear_screen();
            println!(
                "{} ({}, chapter {})",
                self.paint("1", current.name),
                current.title,
                current.chapter
            );
            match self.check_and_record(current) {
                Ok(true) => match self.next_after(current) {
                    Some(next) => {
                        println!(
                            "\nNext: {} ({}). Open exercises/src/{}.rs: saving it runs its \
                             checks here.",
                            self.paint("1", next.name),
                            next.title,
                            next.name
                        );
                        current = next;
                    }
                    None => {
                        println!("\n{}", self.paint("32;1", "Every exercise is done."));
                        return Ok(ExitCode::SUCCESS);
                    }
                },
                Ok(false) => println!(
                    "Save exercises/src/{}.rs to check it again. Stuck? `cargo exercise hint {}` \
                     in another terminal.",
                    current.name, current.name
                ),
                Err(message) => println!(
                    "{message}\nSave exercises/src/{}.rs to check it again.",
                    current.name
                ),
            }
            println!("(watching exercises/src/ for saves; Ctrl-C stops)");
            current = wait_for_save(&events, current)?;
        }
    }

    /// The first exercise after `exercise` in the catalog that is not done.
    fn next_after(&self, exercise: &Exercise) -> Option<&'static Exercise> {
        let progress = self.load_progress();
        EXERCISES
            .iter()
            .skip_while(|e| e.name != exercise.name)
            .skip(1)
            .find(|e| progress.get(e.name) != Some(&Status::Done))
    }

    /// Clears the terminal, so that each run of the checks starts at the top.
    fn clear_screen(&self) {
        if self.color {
            print!("\x1b[2J\x1b[H");
        }
    }

    /// `cargo exercise hint [NAME] [--more]`: the nudge, or with `--more` the stronger
    /// hint.
    fn hint(&self, exercise: Option<&'static Exercise>, more: bool) -> Result<ExitCode, String> {
        let exercise = exercise.unwrap_or_else(|| self.next_by_progress());
        let (which, text) = if more {
            ("A stronger hint", exercise.more_hint)
        } else {
            ("A hint", exercise.hint)
        };
        println!(
            "{which} for {} ({}):\n\n{}",
            self.paint("1", exercise.name),
            exercise.title,
            for_terminal(text)
        );
        if more {
            println!(
                "\nStill stuck? `cargo exercise solution {}`.",
                exercise.name
            );
        } else {
            println!(
                "\nStill stuck? `cargo exercise hint {} --more` says more.",
                exercise.name
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `cargo exercise solution [NAME]`.
    fn solution(&self, exercise: Option<&'static Exercise>) -> Result<ExitCode, String> {
        let exercise = exercise.unwrap_or_else(|| self.next_by_progress());
        println!(
            "The reference solution of {} is exercises/solutions/{}.rs, and it is on the \
             book page book/src/exercises/ch{:02}-solutions.md.\nStuck? Try `cargo exercise \
             hint {}` first.",
            exercise.name, exercise.name, exercise.chapter, exercise.name
        );
        Ok(ExitCode::SUCCESS)
    }

    /// `cargo exercise reset NAME`.
    fn reset(&self, exercise: &Exercise) -> Result<ExitCode, String> {
        let (file, starter) = self.files(exercise);
        if !self.is_changed(exercise) {
            println!("exercises/src/{}.rs is already as shipped.", exercise.name);
            return Ok(ExitCode::SUCCESS);
        }
        let backup_dir = self.state_dir().join("backups");
        fs::create_dir_all(&backup_dir).map_err(|e| format!("{}: {e}", backup_dir.display()))?;
        let backup = free_backup_path(&backup_dir, exercise.name);
        fs::copy(&file, &backup).map_err(|e| format!("saving {}: {e}", file.display()))?;
        fs::copy(&starter, &file).map_err(|e| format!("restoring {}: {e}", file.display()))?;
        println!(
            "exercises/src/{}.rs is back as shipped. Your version is saved in {}.",
            exercise.name,
            backup.display()
        );
        Ok(ExitCode::SUCCESS)
    }

    /// The learner's file and its starter.
    fn files(&self, exercise: &Exercise) -> (PathBuf, PathBuf) {
        let dir = self.root.join("exercises");
        (
            dir.join("src").join(format!("{}.rs", exercise.name)),
            dir.join("starters").join(format!("{}.rs", exercise.name)),
        )
    }

    /// Whether the learner's file differs from the starter (a missing file counts as
    /// changed: its checks will say what is wrong).
    fn is_changed(&self, exercise: &Exercise) -> bool {
        let (file, starter) = self.files(exercise);
        match (fs::read(file), fs::read(starter)) {
            (Ok(mine), Ok(shipped)) => mine != shipped,
            _ => true,
        }
    }

    /// Runs the checks of `exercises` on the learner's files, grouped by exercise.
    fn run_checks(&self, exercises: &[&Exercise]) -> Result<Results, String> {
        let names: Vec<&str> = exercises.iter().map(|e| e.name).collect();
        eprintln!("(checking {}...)", names.join(", "));
        // Build first, with the compiler's messages shown as they come.
        let built = self
            .cargo(&[
                "test",
                "-q",
                "-p",
                "exercises",
                "--test",
                "exercises",
                "--no-run",
            ])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        if !built.success() {
            return Err(
                "\nThe exercises do not compile yet: the compiler's messages above say where."
                    .into(),
            );
        }
        let report = env::temp_dir().join(format!("cargo-exercise-{}.jsonl", std::process::id()));
        let _ = fs::remove_file(&report);
        let mut args = vec!["test", "-q", "-p", "exercises", "--test", "exercises", "--"];
        args.push("--learner");
        let filters: Vec<String> = names.iter().map(|name| format!("{name}::")).collect();
        args.extend(filters.iter().map(String::as_str));
        let run = self
            .cargo(&args)
            .env("EXERCISE_REPORT", &report)
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let text = fs::read_to_string(&report).unwrap_or_default();
        let _ = fs::remove_file(&report);
        let mut results = Results::new();
        for line in text.lines() {
            let result: CheckResult =
                serde_json::from_str(line).map_err(|e| format!("a bad report line: {e}"))?;
            results
                .entry(result.exercise.clone())
                .or_default()
                .push(result);
        }
        if let Some(missing) = names.iter().find(|name| !results.contains_key(**name)) {
            return Err(format!(
                "the checks of {missing} did not run. What the test run printed:\n{}{}",
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            ));
        }
        Ok(results)
    }

    fn cargo(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.cargo);
        command.args(args).current_dir(&self.root);
        command
    }

    /// Prints each check, with the output of those that failed, and the verdict.
    fn show_checks(&self, exercise: &Exercise, results: &[CheckResult]) {
        println!();
        for result in results {
            let name = result.check.replace('_', " ");
            if result.passed {
                println!("  {}      {name}", self.paint("32", "ok"));
            } else {
                println!("  {}  {name}", self.paint("31;1", "FAILED"));
                let mut details = String::new();
                for line in result.output.lines() {
                    let _ = writeln!(details, "          {line}");
                }
                print!("{details}");
            }
        }
        let passed = results.iter().filter(|c| c.passed).count();
        println!();
        if !results.is_empty() && passed == results.len() {
            println!(
                "{} {} is done: all {passed} checks pass. Compare with the reference: \
                 exercises/solutions/{}.rs.",
                self.paint("32;1", "Done!"),
                exercise.name,
                exercise.name
            );
        } else {
            println!("{passed} of {} checks pass.", results.len());
        }
    }

    /// What to do after a check that failed, outside `watch`.
    fn next_step(&self, exercise: &Exercise) {
        println!(
            "Edit exercises/src/{}.rs and check again (`cargo exercise watch` does it on \
             every save); stuck? `cargo exercise hint {}`.",
            exercise.name, exercise.name
        );
    }

    /// The first exercise not done at the last check (without running anything).
    fn next_by_progress(&self) -> &'static Exercise {
        let progress = self.load_progress();
        EXERCISES
            .iter()
            .find(|e| progress.get(e.name) != Some(&Status::Done))
            .unwrap_or(&EXERCISES[0])
    }

    /// Where progress and backups are kept: `.exercises/` at the workspace's root, out of
    /// `target/`, which `cargo clean` deletes.
    fn state_dir(&self) -> PathBuf {
        match env::var_os("EXERCISE_STATE") {
            Some(dir) => self.root.join(dir),
            None => self.root.join(".exercises"),
        }
    }

    /// The statuses seen last time (`name status` lines).
    fn load_progress(&self) -> Statuses {
        let text = fs::read_to_string(self.state_dir().join("progress.txt")).unwrap_or_default();
        let mut progress = BTreeMap::new();
        for line in text.lines() {
            let Some((name, status)) = line.split_once(' ') else {
                continue;
            };
            let Some(exercise) = EXERCISES.iter().find(|e| e.name == name) else {
                continue;
            };
            let status = match status {
                "done" => Status::Done,
                "not-done" => Status::NotDone,
                _ => Status::NotStarted,
            };
            progress.insert(exercise.name, status);
        }
        progress
    }

    fn save_progress(&self, statuses: &Statuses) {
        let text: String = statuses
            .iter()
            .map(|(name, status)| {
                let word = match status {
                    Status::Done => "done",
                    Status::NotDone => "not-done",
                    Status::NotStarted => "not-started",
                };
                format!("{name} {word}\n")
            })
            .collect();
        let dir = self.state_dir();
        let _ = fs::create_dir_all(&dir);
        let _ = fs::write(dir.join("progress.txt"), text);
    }

    /// `text` in an ANSI style (e.g. "32;1", bold green) when printing to a terminal.
    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{style}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Waits until an exercise file is saved, and returns that exercise; a save of another
/// file of `exercises/src/` (`types.rs`, `lib.rs`) checks `current` again. Only writes
/// count: the compiler opens and reads every file when the checks are built, and that
/// must not start the checks again.
fn wait_for_save(
    events: &mpsc::Receiver<DebounceEventResult>,
    current: &'static Exercise,
) -> Result<&'static Exercise, String> {
    loop {
        let batch = events
            .recv()
            .map_err(|_| "the file watcher stopped".to_string())?;
        let Ok(batch) = batch else { continue };
        let saved: Vec<&Path> = batch
            .iter()
            .filter(|event| matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)))
            .flat_map(|event| event.paths.iter().map(PathBuf::as_path))
            .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
            .collect();
        let Some(last) = saved.last() else { continue };
        let stem = last.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        return Ok(EXERCISES.iter().find(|e| e.name == stem).unwrap_or(current));
    }
}

/// Markdown for a terminal: code blocks lose their fences and are indented instead.
fn for_terminal(markdown: &str) -> String {
    let mut text = String::new();
    let mut in_code = false;
    for line in markdown.trim_end().lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code {
            let _ = writeln!(text, "    {line}");
        } else {
            let _ = writeln!(text, "{line}");
        }
    }
    text.trim_end().to_string()
}

/// Where a backup of exercise `name` goes in `dir`: `NAME.rs`, or `NAME.2.rs`, `NAME.3.rs`...
/// once earlier backups are there, so that a second reset keeps what the first one saved.
fn free_backup_path(dir: &Path, name: &str) -> PathBuf {
    let candidate = |n: u32| match n {
        1 => dir.join(format!("{name}.rs")),
        n => dir.join(format!("{name}.{n}.rs")),
    };
    (1..)
        .map(candidate)
        .find(|path| !path.exists())
        .expect("fewer than 4 billion backups")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reset_keeps_its_own_backup() {
        let dir = env::temp_dir().join(format!("exercise-backups-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let first = free_backup_path(&dir, "ch01_exit_code");
        fs::write(&first, "first try").unwrap();
        let second = free_backup_path(&dir, "ch01_exit_code");
        fs::write(&second, "second try").unwrap();
        assert_eq!(fs::read_to_string(&first).unwrap(), "first try");
        assert_eq!(second, dir.join("ch01_exit_code.2.rs"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn progress_and_backups_are_kept_out_of_target_which_cargo_clean_deletes() {
        let ws = Workspace {
            root: PathBuf::from("/ws"),
            cargo: "cargo".into(),
            color: false,
        };
        if env::var_os("EXERCISE_STATE").is_none() {
            assert_eq!(ws.state_dir(), Path::new("/ws/.exercises"));
        }
        let target = env::var_os("CARGO_TARGET_DIR").map_or(ws.root.join("target"), PathBuf::from);
        assert!(!ws.state_dir().starts_with(target));
    }
}
