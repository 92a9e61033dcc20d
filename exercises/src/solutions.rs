//! The reference solutions: `cargo test` checks that every one passes its checks, and the
//! book shows them (from the `ANCHOR` marks in each file).

#[path = "../solutions/ch01_all_at_once.rs"]
pub mod ch01_all_at_once;
#[path = "../solutions/ch01_deadline.rs"]
pub mod ch01_deadline;
#[path = "../solutions/ch01_exit_code.rs"]
pub mod ch01_exit_code;
#[path = "../solutions/ch02_as_they_finish.rs"]
pub mod ch02_as_they_finish;
#[path = "../solutions/ch02_summaries.rs"]
pub mod ch02_summaries;
#[path = "../solutions/ch03_loader_service.rs"]
pub mod ch03_loader_service;
#[path = "../solutions/ch03_until_closed.rs"]
pub mod ch03_until_closed;
#[path = "../solutions/ch04_many_producers.rs"]
pub mod ch04_many_producers;
#[path = "../solutions/ch05_no_levels.rs"]
pub mod ch05_no_levels;
#[path = "../solutions/ch06_from_threads.rs"]
pub mod ch06_from_threads;
#[path = "../solutions/ch06_worker_logs.rs"]
pub mod ch06_worker_logs;
#[path = "../solutions/ch07_polite_loaders.rs"]
pub mod ch07_polite_loaders;
#[path = "../solutions/ch07_undo_log.rs"]
pub mod ch07_undo_log;
