//! # Exercise `ch04_many_producers`: several producers, one close
//!
//! In chapter 4 one producer puts every URL on the task queue and then closes it. With
//! several producers, none of them can close the queue: a producer that is done cannot
//! know whether the others are. Only the parent can tell, once it has joined them all.
//!
//! - [`loader`] is a consumer, as in chapter 4: it takes URLs from `tasks` until `get`
//!   says `Err(ipc::Error::Closed)`, loads each with `loader::load_url`, and puts a
//!   `Summary` of it on `results` (`worker` is its own `std::process::id()`). Closed is
//!   its normal end: it then returns `Ok(())`. Any other error, it returns.
//! - [`load_batches`] is the parent: one producer process per batch, which puts that
//!   batch's URLs on the task queue (and does not close it); `loaders` processes running
//!   `loader`; one `Summary` per URL taken from the result queue, returned in any order.
//!   It closes the task queue once no producer can put anything more, so that every
//!   loader ends, and joins every process it started.
//!
//! The checks run your `loader` on a queue of their own, then call `load_batches` with
//! batches of every size: empty, small, and one too big to fit in a pipe at once.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use ipc::Queue;

use crate::types::Summary;

/// A consumer: takes URLs from `tasks` until the queue is closed, and puts a [`Summary`]
/// of each on `results`. Returns `Ok(())` once `tasks` is closed and empty.
pub fn loader(tasks: &mut Queue, results: &mut Queue) -> ipc::Result<()> {
    // TODO: for each URL of `tasks.iter::<String>()` (it ends once the queue is closed and
    //       empty), load it and `results.put(&Summary { .. })`.
    let _ = (tasks, results);
    todo!("take URLs until the task queue is closed")
}

/// Loads every URL of every batch: one producer process per batch puts its URLs on a task
/// queue, `loaders` processes running [`loader`] load them. Returns one `Summary` per
/// URL, in any order.
pub fn load_batches(batches: &[Vec<String>], loaders: usize) -> ipc::Result<Vec<Summary>> {
    // TODO 1: two queues, `tasks` and `results` (`Queue::new()?`).
    // TODO 2: start a producer process per batch, with its own `tasks.try_clone()?`; it
    //         puts its batch's URLs, and nothing else.
    // TODO 3: start `loaders` processes running `loader`, each with its own clones.
    // TODO 4: take one `Summary` per URL from `results`; join the producers; close
    //         `tasks`; join the loaders. Which of these may come first? See the hint if a
    //         check says "still running".
    todo!(
        "load the URLs of {} batches with {loaders} loaders",
        batches.len()
    )
}
