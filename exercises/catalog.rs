//! The exercises, in the order a learner meets them. Data only, with no dependencies, so
//! that both the `exercise` command (`exercises/cli`) and the checks (`exercises/tests`)
//! can include it.
//!
//! An exercise named `NAME` has these files, all under `exercises/`:
//! - `src/NAME.rs`: the learner's file, with TODOs (a copy of `starters/NAME.rs` at first);
//! - `starters/NAME.rs`: the file as shipped, kept for `cargo exercise reset` and checked
//!   to fail;
//! - `solutions/NAME.rs`: the reference solution, checked to pass, shown in the book;
//! - `hints/NAME.md`: the hint, printed by `cargo exercise hint` and shown in the book;
//! - `tests/checks/NAME.rs`: the checks.

/// One exercise.
#[derive(Debug)]
pub struct Exercise {
    /// The file and module name, e.g. `ch01_exit_code`.
    pub name: &'static str,
    /// The chapter it belongs to; its book page is `book/src/exercises/chNN.md`.
    pub chapter: u8,
    /// What it asks, in a few words.
    pub title: &'static str,
    /// The hint, in Markdown.
    pub hint: &'static str,
}

/// Every exercise, chapter by chapter.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "ch01_exit_code",
        chapter: 1,
        title: "Say how the child ended",
        hint: include_str!("hints/ch01_exit_code.md"),
    },
    Exercise {
        name: "ch01_all_at_once",
        chapter: 1,
        title: "Start every child before joining any",
        hint: include_str!("hints/ch01_all_at_once.md"),
    },
    Exercise {
        name: "ch01_deadline",
        chapter: 1,
        title: "Stop a child that takes too long",
        hint: include_str!("hints/ch01_deadline.md"),
    },
    Exercise {
        name: "ch02_summaries",
        chapter: 2,
        title: "Workers send summaries, the parent decides",
        hint: include_str!("hints/ch02_summaries.md"),
    },
    Exercise {
        name: "ch02_as_they_finish",
        chapter: 2,
        title: "Results as they finish, with imap_unordered",
        hint: include_str!("hints/ch02_as_they_finish.md"),
    },
    Exercise {
        name: "ch03_loader_service",
        chapter: 3,
        title: "A long-lived loader child with a shutdown message",
        hint: include_str!("hints/ch03_loader_service.md"),
    },
    Exercise {
        name: "ch03_until_closed",
        chapter: 3,
        title: "Read until the other end closes",
        hint: include_str!("hints/ch03_until_closed.md"),
    },
    Exercise {
        name: "ch04_many_producers",
        chapter: 4,
        title: "Several producers, one close",
        hint: include_str!("hints/ch04_many_producers.md"),
    },
    Exercise {
        name: "ch05_no_levels",
        chapter: 5,
        title: "A crawl that waits for no level",
        hint: include_str!("hints/ch05_no_levels.md"),
    },
];
