//! The exercises as shipped: `src/NAME.rs` is a copy of `starters/NAME.rs` on a fresh
//! clone. `cargo test` checks that every one of these fails its checks (so that no check
//! passes by accident), whatever the learner has done to their own copy since; `cargo
//! exercise reset NAME` copies one back. Change a starter here, then reset.

#[path = "../starters/ch01_all_at_once.rs"]
pub mod ch01_all_at_once;
#[path = "../starters/ch01_deadline.rs"]
pub mod ch01_deadline;
#[path = "../starters/ch01_exit_code.rs"]
pub mod ch01_exit_code;
#[path = "../starters/ch02_as_they_finish.rs"]
pub mod ch02_as_they_finish;
#[path = "../starters/ch02_summaries.rs"]
pub mod ch02_summaries;
#[path = "../starters/ch03_loader_service.rs"]
pub mod ch03_loader_service;
#[path = "../starters/ch03_until_closed.rs"]
pub mod ch03_until_closed;
#[path = "../starters/ch04_many_producers.rs"]
pub mod ch04_many_producers;
#[path = "../starters/ch05_no_levels.rs"]
pub mod ch05_no_levels;
#[path = "../starters/ch06_from_threads.rs"]
pub mod ch06_from_threads;
#[path = "../starters/ch06_worker_logs.rs"]
pub mod ch06_worker_logs;
#[path = "../starters/ch07_polite_loaders.rs"]
pub mod ch07_polite_loaders;
#[path = "../starters/ch07_undo_log.rs"]
pub mod ch07_undo_log;
