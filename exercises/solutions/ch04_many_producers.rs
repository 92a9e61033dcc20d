//! Reference solution of `ch04_many_producers`: several producers, one close.

use ipc::{Process, Queue};
use loader::{TIMEOUT as LOAD_TIMEOUT, load_url};

use crate::types::Summary;

// ANCHOR: loader
/// A consumer: takes URLs from `tasks` until the queue is closed, and puts a [`Summary`]
/// of each on `results`. Returns `Ok(())` once `tasks` is closed and empty.
pub fn loader(tasks: &mut Queue, results: &mut Queue) -> ipc::Result<()> {
    // The iterator ends when the queue is closed and empty: the parent's way of saying
    // "that was all", not a failure.
    for url in tasks.iter::<String>() {
        let url = url?;
        let result = load_url(&url).map(|page| page.html.len());
        let worker = std::process::id();
        results.put(&Summary {
            url,
            worker,
            result,
        })?;
    }
    Ok(())
}
// ANCHOR_END: loader

// ANCHOR: load_batches
/// Loads every URL of every batch: one producer process per batch puts its URLs on a task
/// queue, `loaders` processes running [`loader`] load them. Returns one `Summary` per
/// URL, in any order.
pub fn load_batches(batches: &[Vec<String>], loaders: usize) -> ipc::Result<Vec<Summary>> {
    let (mut tasks, mut results) = (Queue::new()?, Queue::new()?);

    let mut producers = Vec::new();
    for batch in batches {
        let mut producer_tasks = tasks.try_clone()?;
        let batch = batch.clone();
        let mut producer = Process::new(move || {
            for url in &batch {
                producer_tasks.put(url).expect("the task queue works");
            }
            // No close here: the other producers may not be done.
        });
        producer.start()?;
        producers.push(producer);
    }
    let mut consumers = Vec::new();
    for _ in 0..loaders {
        let (mut tasks, mut results) = (tasks.try_clone()?, results.try_clone()?);
        let mut consumer =
            Process::new(move || loader(&mut tasks, &mut results).expect("the queues work"));
        consumer.start()?;
        consumers.push(consumer);
    }

    // Take the results first: a loader waiting to put one cannot take the next task, and
    // a producer waiting to put a task cannot end. A loader that died would never report:
    // wait for each summary at most twice a load's time limit.
    let total = batches.iter().map(Vec::len).sum();
    let mut summaries = Vec::with_capacity(total);
    for _ in 0..total {
        summaries.push(results.get_timeout(2 * LOAD_TIMEOUT)?);
    }
    // Every producer is done once it is joined: now nothing more can come, and the
    // loaders may be told so.
    for producer in &mut producers {
        producer.join()?;
    }
    tasks.close()?;
    for consumer in &mut consumers {
        consumer.join()?;
    }
    Ok(summaries)
}
// ANCHOR_END: load_batches
