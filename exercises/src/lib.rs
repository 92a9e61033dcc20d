//! Exercises for the chapters. Each one is a file in this folder with TODOs:
//!
//! | file | chapter | task |
//! |---|---|---|
//! | [`ch01_exit_code`] | 1, Process | say how the child ended, from its exit code |
//! | [`ch01_all_at_once`] | 1, Process | start every child before joining any |
//! | [`ch01_deadline`] | 1, Process | stop a child that takes too long |
//! | [`ch02_summaries`] | 2, Pool | workers send summaries back; the parent decides |
//! | [`ch02_as_they_finish`] | 2, Pool | hand over results as they finish |
//! | [`ch03_loader_service`] | 3, Pipe | a long-lived loader child with a shutdown message |
//! | [`ch03_until_closed`] | 3, Pipe | read until the other end closes |
//! | [`ch04_many_producers`] | 4, Queue | several producers: close the queue once they are all done |
//! | [`ch05_no_levels`] | 5, Crawler | hand out each new link at once, not level by level |
//! | [`ch06_from_threads`] | 6, Start methods | workers for a program that runs threads |
//! | [`ch06_worker_logs`] | 6, Start methods | each worker opens its own log as it starts |
//! | [`ch07_polite_loaders`] | 7, Shared memory | at most N loads at once, in all processes: a `Semaphore` |
//! | [`ch07_undo_log`] | 7, Shared memory | an update that the next holder can undo after a death |
//!
//! Run `cargo exercise` from anywhere in the workspace: it lists what is done, runs the
//! checks of the next exercise and says what failed; `cargo exercise hint` gives a hint.
//! The book's pages under `book/src/exercises/` tell the same story with the solutions.
//!
//! The types in the exercises' signatures are in [`types`]: they are shared by your code,
//! the checks and the reference solutions, so leave them as they are.

pub mod types;

// The learner's files.
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

// The same exercises as shipped, and solved. The checks run on both (`cargo test`).
#[doc(hidden)]
pub mod solutions;
#[doc(hidden)]
pub mod starters;
