//! The exercises, in the order a learner meets them. Data only, with no dependencies, so
//! that both the `exercise` command (`exercises/cli`) and the checks (`exercises/tests`)
//! can include it.
//!
//! An exercise named `NAME` has these files, all under `exercises/`:
//! - `src/NAME.rs`: the learner's file, with TODOs (a copy of `starters/NAME.rs` at first);
//! - `starters/NAME.rs`: the file as shipped, kept for `cargo exercise reset` and checked
//!   to fail;
//! - `solutions/NAME.rs`: the reference solution, checked to pass, shown in the book;
//! - `hints/NAME.md`: a nudge, printed by `cargo exercise hint` and shown in the book, and
//!   `hints/NAME-more.md`, the stronger hint (`cargo exercise hint NAME --more`);
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
    /// The first hint, a nudge, in Markdown.
    pub hint: &'static str,
    /// The stronger hint, for when the nudge was not enough, in Markdown.
    pub more_hint: &'static str,
    /// The items of `ipc` and `loader` a solution uses, as `Type::item` or `item`: each
    /// must be mentioned on the exercise's chapter page or an earlier one (a test checks).
    pub needs: &'static [&'static str],
}

/// Every exercise, chapter by chapter.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "ch01_exit_code",
        chapter: 1,
        title: "Say how the child ended",
        hint: include_str!("hints/ch01_exit_code.md"),
        more_hint: include_str!("hints/ch01_exit_code-more.md"),
        needs: &[
            "Process::start",
            "Process::join",
            "Process::pid",
            "describe_exitcode",
            "load_url",
            "LoadError::Malformed",
            "LoadError::Unreachable",
            "LoadError::Timeout",
            "LoadError::Status",
            "LoadError::NotUtf8",
        ],
    },
    Exercise {
        name: "ch01_all_at_once",
        chapter: 1,
        title: "Start every child before joining any",
        hint: include_str!("hints/ch01_all_at_once.md"),
        more_hint: include_str!("hints/ch01_all_at_once-more.md"),
        needs: &[
            "Process::with_exit_code",
            "Process::start",
            "Process::join",
            "load_url",
        ],
    },
    Exercise {
        name: "ch01_deadline",
        chapter: 1,
        title: "Stop a child that takes too long",
        hint: include_str!("hints/ch01_deadline.md"),
        more_hint: include_str!("hints/ch01_deadline-more.md"),
        needs: &[
            "Process::with_exit_code",
            "Process::start",
            "Process::join_timeout",
            "Process::terminate",
            "Process::join",
        ],
    },
    Exercise {
        name: "ch02_summaries",
        chapter: 2,
        title: "Workers send summaries, the parent decides",
        hint: include_str!("hints/ch02_summaries.md"),
        more_hint: include_str!("hints/ch02_summaries-more.md"),
        needs: &["Pool::new", "Pool::map", "load_url"],
    },
    Exercise {
        name: "ch02_as_they_finish",
        chapter: 2,
        title: "Results as they finish, with imap_unordered",
        hint: include_str!("hints/ch02_as_they_finish.md"),
        more_hint: include_str!("hints/ch02_as_they_finish-more.md"),
        needs: &["Pool::new", "Pool::imap_unordered"],
    },
    Exercise {
        name: "ch03_loader_service",
        chapter: 3,
        title: "A long-lived loader child with a shutdown message",
        hint: include_str!("hints/ch03_loader_service.md"),
        more_hint: include_str!("hints/ch03_loader_service-more.md"),
        needs: &[
            "Pipe::new",
            "Connection::send",
            "Connection::recv",
            "Connection::set_inheritable",
            "Process::with_exit_code",
        ],
    },
    Exercise {
        name: "ch03_until_closed",
        chapter: 3,
        title: "Read until the other end closes",
        hint: include_str!("hints/ch03_until_closed.md"),
        more_hint: include_str!("hints/ch03_until_closed-more.md"),
        needs: &[
            "Pipe::one_way",
            "Connection::set_inheritable",
            "Connection::close",
            "Error::Closed",
            "Process::new",
        ],
    },
    Exercise {
        name: "ch04_many_producers",
        chapter: 4,
        title: "Several producers, one close",
        hint: include_str!("hints/ch04_many_producers.md"),
        more_hint: include_str!("hints/ch04_many_producers-more.md"),
        needs: &[
            "Queue::new",
            "Queue::try_clone",
            "Queue::put",
            "Queue::get",
            "Queue::get_timeout",
            "Queue::close",
            "Error::Closed",
            "loader::TIMEOUT",
        ],
    },
    Exercise {
        name: "ch05_no_levels",
        chapter: 5,
        title: "A crawl that waits for no level",
        hint: include_str!("hints/ch05_no_levels.md"),
        more_hint: include_str!("hints/ch05_no_levels-more.md"),
        needs: &[
            "Queue::new",
            "Queue::try_clone",
            "Queue::put",
            "Queue::get",
            "Queue::get_timeout",
            "Queue::close",
            "links::same_site_links",
        ],
    },
    Exercise {
        name: "ch06_from_threads",
        chapter: 6,
        title: "Workers for a program that runs threads",
        hint: include_str!("hints/ch06_from_threads.md"),
        more_hint: include_str!("hints/ch06_from_threads-more.md"),
        needs: &[
            "get_context",
            "StartMethod::Forkserver",
            "StartMethod::Spawn",
            "Context::pool",
            "WorkerPoolBuilder::start",
            "WorkerPool::starmap",
            "load_url_with_timeout",
        ],
    },
    Exercise {
        name: "ch06_worker_logs",
        chapter: 6,
        title: "Each worker opens its own log as it starts",
        hint: include_str!("hints/ch06_worker_logs.md"),
        more_hint: include_str!("hints/ch06_worker_logs-more.md"),
        needs: &[
            "get_context",
            "StartMethod::Spawn",
            "Context::pool",
            "WorkerPoolBuilder::initializer",
            "WorkerPoolBuilder::start",
            "WorkerPool::map",
        ],
    },
    Exercise {
        name: "ch07_polite_loaders",
        chapter: 7,
        title: "At most N loads at once, in all processes",
        hint: include_str!("hints/ch07_polite_loaders.md"),
        more_hint: include_str!("hints/ch07_polite_loaders-more.md"),
        needs: &[
            "Value::new",
            "Value::lock",
            "SharedAtomic::new",
            "Semaphore::new",
            "Semaphore::acquire",
            "Semaphore::release",
            "Process::new",
            "load_url",
        ],
    },
    Exercise {
        name: "ch07_undo_log",
        chapter: 7,
        title: "An update the next holder can undo",
        hint: include_str!("hints/ch07_undo_log.md"),
        more_hint: include_str!("hints/ch07_undo_log-more.md"),
        needs: &["Value::lock", "ValueGuard::owner_died"],
    },
];
