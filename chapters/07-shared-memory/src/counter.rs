//! Part 1: processes add 1 to one counter in shared memory, three ways: without a lock,
//! with the counter's `Lock`, and as an atomic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipc::{Barrier, Process, RawValue, SharedAtomic, Value};

/// Races `racers` processes, each adding 1 to a counter `adds` times, three ways, and
/// prints what each way counted and how long it took.
pub fn race(racers: usize, adds: u64) -> ipc::Result<()> {
    let expected = racers as u64 * adds;
    println!("{racers} processes add 1 to one counter, {adds} times each:");

    // ANCHOR: without_a_lock
    let counter = RawValue::new(0u64)?;
    let took = in_processes(racers, {
        let counter = counter.clone();
        move || {
            for _ in 0..adds {
                counter.set(counter.get() + 1); // read, then write: another may cut in
            }
        }
    })?;
    let counted = counter.get();
    // ANCHOR_END: without_a_lock
    let lost = expected - counted;
    println!(
        "  without a lock: {counted} of {expected} ({lost} lost), in {}",
        secs(took)
    );

    // ANCHOR: with_a_lock
    let counter = Value::new(0u64)?;
    let took = in_processes(racers, {
        let counter = counter.clone();
        move || {
            for _ in 0..adds {
                *counter.lock().expect("the lock works") += 1; // nobody cuts in
            }
        }
    })?;
    let counted = counter.get()?;
    // ANCHOR_END: with_a_lock
    println!("  with a Lock: {counted} of {expected}, in {}", secs(took));

    // ANCHOR: atomic
    let counter = SharedAtomic::new(AtomicU64::new(0))?;
    let took = in_processes(racers, {
        let counter = counter.clone();
        move || {
            for _ in 0..adds {
                counter.fetch_add(1, Ordering::Relaxed); // one indivisible instruction
            }
        }
    })?;
    let counted = counter.load(Ordering::Relaxed);
    // ANCHOR_END: atomic
    println!(
        "  with an atomic: {counted} of {expected}, in {}",
        secs(took)
    );
    Ok(())
}

// ANCHOR: in_processes
/// Runs `work` in `racers` new processes that wait for each other at a barrier, so that
/// they race from the same moment; returns the time from then until the last one is done.
fn in_processes(racers: usize, work: impl Fn() + Clone + 'static) -> ipc::Result<Duration> {
    let start = Barrier::new(racers + 1)?; // the racers, and this process
    let mut processes = Vec::new();
    for _ in 0..racers {
        let (start, work) = (start.clone(), work.clone());
        let mut process = Process::new(move || {
            start.wait().expect("the barrier is whole");
            work();
        });
        process.start()?;
        processes.push(process);
    }
    start.wait()?;
    let started = Instant::now();
    for process in &mut processes {
        process.join()?;
    }
    Ok(started.elapsed())
}
// ANCHOR_END: in_processes

fn secs(took: Duration) -> String {
    format!("{:.3} s", took.as_secs_f64())
}
