//! Snapshots of chapter 7's `shared_state`: see `support::chapter_snapshots`.
//!
//! Three things in its output depend on the scheduler, and only those are filtered: how
//! many updates the counter without a lock lost, which loader loaded which page (each
//! loader's row, and the loader that reports an error), and the order in which loaders
//! report errors. The counts made under a lock or with an atomic, the sums of the rows and
//! the totals of the dead-owner part are exact, and stay in the snapshot.

#[macro_use]
mod support;

use regex::Regex;

chapter_snapshots!(
    "ch07",
    "shared_state",
    settle: racy_counts_filtered,
    extra: [a_fatal_error_is_said_in_words],
);

/// Short of descriptors, it stops with its error in words.
fn a_fatal_error_is_said_in_words() {
    support::a_fatal_error_is_said_in_words(BIN);
}

fn racy_counts_filtered(text: String) -> String {
    let filters = [
        (
            r"without a lock: \d+ of (\d+) \(\d+ lost\)",
            "without a lock: [N] of $1 ([N] lost)",
        ),
        (
            r"loader (\d+): \d+ pages?, \d+ bytes, \d+ errors?",
            "loader $1: [N] pages, [N] bytes, [N] errors",
        ),
        (r"loader \d+: error: ", "loader [N]: error: "),
    ];
    let mut text = text;
    for (pattern, replacement) in filters {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    // The loaders' errors come in the order they happen: sort them.
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(start) = lines
        .iter()
        .position(|l| l.starts_with("  loader [N]: error:"))
    {
        let end = lines[start..]
            .iter()
            .position(|l| !l.starts_with("  loader [N]: error:"))
            .map_or(lines.len(), |n| start + n);
        lines[start..end].sort_unstable();
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}
