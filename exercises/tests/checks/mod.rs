//! The checks of every exercise, each written once and run on three versions of the
//! exercise: the learner's (`exercises::NAME`), the starter as shipped
//! (`exercises::starters::NAME`) and the reference solution (`exercises::solutions::NAME`).
//!
//! A check is a plain function that takes the exercise's `Api` (the functions under test,
//! as function pointers) and panics when something is wrong; the [`exercise!`] macro
//! builds the three `Api`s and the tests that run the checks.

use std::time::Duration;

pub mod harness;
pub mod server;

/// How long one check may run before it is stopped and counted as failed.
pub const TIME_LIMIT: Duration = Duration::from_secs(20);

/// One exercise's tests: one per check on the learner's code, and the two reference tests.
pub struct Suite {
    pub name: &'static str,
    pub learner: &'static [(&'static str, fn())],
    pub solution_passes: (&'static str, fn()),
    pub starter_fails: (&'static str, fn()),
}

/// Declares an exercise's `Api`, its checks, and its [`Suite`] as `SUITE`.
///
/// ```text
/// exercise! {
///     name: ch01_exit_code,
///     api: { describe_child: fn(Process) -> ipc::Result<String> },
///     time_limit: TIME_LIMIT,
///     checks: [check_one, check_two],
/// }
/// ```
macro_rules! exercise {
    (
        name: $name:ident,
        api: { $($f:ident: $ty:ty),* $(,)? },
        time_limit: $limit:expr,
        checks: [$($check:ident),* $(,)?] $(,)?
    ) => {
        /// The exercise's functions that the checks call.
        #[derive(Clone, Copy)]
        pub struct Api {
            $(pub $f: $ty,)*
        }

        const LEARNER: Api = Api { $($f: exercises::$name::$f,)* };
        const STARTER: Api = Api { $($f: exercises::starters::$name::$f,)* };
        const SOLUTION: Api = Api { $($f: exercises::solutions::$name::$f,)* };
        const CHECKS: &[(&str, fn(Api))] = &[$((stringify!($check), $check as fn(Api)),)*];
        const LIMIT: ::std::time::Duration = $limit;

        pub const SUITE: $crate::checks::Suite = $crate::checks::Suite {
            name: stringify!($name),
            learner: &[$((
                concat!(stringify!($name), "::", stringify!($check)),
                learner::$check as fn(),
            ),)*],
            solution_passes: (concat!(stringify!($name), "::solution_passes"), || {
                $crate::checks::harness::all_pass(CHECKS, SOLUTION, LIMIT)
            }),
            starter_fails: (concat!(stringify!($name), "::starter_fails"), || {
                $crate::checks::harness::some_fail(CHECKS, STARTER, LIMIT)
            }),
        };

        /// One test per check, on the learner's code.
        mod learner {
            $(
                pub fn $check() {
                    $crate::checks::harness::learner_test(
                        stringify!($name),
                        stringify!($check),
                        super::$check,
                        super::LEARNER,
                        super::LIMIT,
                    )
                }
            )*
        }
    };
}

pub mod ch01_all_at_once;
pub mod ch01_deadline;
pub mod ch01_exit_code;
pub mod ch02_as_they_finish;
pub mod ch02_summaries;
pub mod ch03_loader_service;
pub mod ch03_until_closed;
pub mod ch04_many_producers;
pub mod ch05_no_levels;
pub mod ch06_from_threads;
pub mod ch06_worker_logs;
pub mod ch07_polite_loaders;
pub mod ch07_undo_log;

/// Every exercise, in the catalog's order.
pub const SUITES: &[Suite] = &[
    ch01_exit_code::SUITE,
    ch01_all_at_once::SUITE,
    ch01_deadline::SUITE,
    ch02_summaries::SUITE,
    ch02_as_they_finish::SUITE,
    ch03_loader_service::SUITE,
    ch03_until_closed::SUITE,
    ch04_many_producers::SUITE,
    ch05_no_levels::SUITE,
    ch06_from_threads::SUITE,
    ch06_worker_logs::SUITE,
    ch07_polite_loaders::SUITE,
    ch07_undo_log::SUITE,
];

/// Learner mode: every check of every exercise, on the learner's code.
pub fn learner_tests() -> Vec<(&'static str, fn())> {
    SUITES
        .iter()
        .flat_map(|suite| suite.learner.iter().copied())
        .collect()
}

/// Reference mode: each solution passes, each starter as shipped fails.
pub fn reference_tests() -> Vec<(&'static str, fn())> {
    SUITES
        .iter()
        .flat_map(|suite| [suite.solution_passes, suite.starter_fails])
        .collect()
}

/// A page's summary as the checks expect it: its length in bytes, or why it did not load.
pub fn expected_length(url: &str) -> Result<usize, loader::LoadError> {
    loader::load_url(url).map(|page| page.html.len())
}
