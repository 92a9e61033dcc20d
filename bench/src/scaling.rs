//! How the cost grows with the workers: `Pool.map` over a CPU-bound task with 1, 2, 4 and 8
//! workers, against a plain loop and rayon with as many threads.
//!
//! The work is [`TASKS`] tasks of about a millisecond each, so a sample takes tens of
//! milliseconds, and forking the workers (a fraction of a millisecond each) is part of the
//! price. Beyond the machine's cores, more workers cannot go faster: they take turns.
//!
//! rayon starts threads, and this process must never have a thread when it forks (`ipc`
//! refuses to, and rightly: a child could wait for ever for a lock one of them held). So
//! each rayon sample runs in a process of its own: the bench runs itself again with
//! `--rayon-sample THREADS` (`std::process::Command` starts a new program, it does not fork
//! a copy of this one), and that process builds the pool, runs the tasks once to start its
//! threads, times a second run and prints the seconds and a checksum.

use std::hint::black_box;
use std::process::{Command, Stdio};

use ipc::Pool;
use rayon::prelude::*;

use crate::config::Config;
use crate::harness::{Contender, Result, Samples, alternate, per_op};
use crate::pool_map::checked;

/// The topic's key in samples and JSON lines.
pub const TOPIC: &str = "scaling";
/// The tasks, one after the other in this process: the reference.
pub const LOOP: &str = "plain loop";
/// The numbers of workers (or threads) measured.
pub const WORKERS: [usize; 4] = [1, 2, 4, 8];
/// `ipc::Pool::new(n).map(work, items)`, for each number in [`WORKERS`].
pub const IPC: [&str; 4] = [
    "ipc Pool(1).map",
    "ipc Pool(2).map",
    "ipc Pool(4).map",
    "ipc Pool(8).map",
];
/// `items.par_iter().map(work)` on a rayon pool of each number of threads in [`WORKERS`].
pub const RAYON: [&str; 4] = [
    "rayon, 1 thread",
    "rayon, 2 threads",
    "rayon, 4 threads",
    "rayon, 8 threads",
];

/// Tasks per map: four per worker with the most workers.
pub const TASKS: usize = 32;
/// Steps of the task's generator: about a millisecond.
const STEPS: u32 = 1 << 19;

/// The CPU-bound task: half a million steps of a xorshift generator, each depending on the
/// one before, so that no compiler can skip or vectorise them.
fn work(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..STEPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

fn items() -> Vec<u64> {
    (1..=TASKS as u64).collect()
}

/// One round: `config.reps` samples of every contender, in turns.
pub fn round(samples: &mut Samples, config: &Config, round: usize) -> Result {
    let items = items();
    let expected: Vec<u64> = items.iter().map(|&x| work(x)).collect();
    let sum = checksum(&expected);
    let mut contenders = vec![Contender::new(LOOP, || {
        checked(&expected, || {
            Ok(black_box(&items).iter().map(|&x| work(x)).collect())
        })
    })];
    for (i, workers) in WORKERS.into_iter().enumerate() {
        let pool = Pool::new(workers);
        let (items, expected) = (&items, &expected);
        contenders.push(Contender::new(IPC[i], move || {
            checked(expected, || Ok(pool.map(work, items.iter().copied())?))
        }));
        contenders.push(Contender::new(RAYON[i], move || {
            rayon_in_a_process(workers, sum)
        }));
    }
    alternate(samples, TOPIC, round, config.reps, 1, &mut contenders)
}

/// Runs one rayon sample in a new process (see the module's doc), checks its checksum and
/// returns its seconds.
fn rayon_in_a_process(threads: usize, sum: u64) -> Result<f64> {
    let output = Command::new(std::env::current_exe()?)
        .args(["--rayon-sample", &threads.to_string()])
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("bench --rayon-sample {threads}: {}", output.status).into());
    }
    let text = String::from_utf8(output.stdout)?;
    match text.split_whitespace().collect::<Vec<_>>()[..] {
        [seconds, their_sum] if their_sum.parse::<u64>()? == sum => Ok(seconds.parse()?),
        _ => Err(format!("bench --rayon-sample {threads} printed {text:?}").into()),
    }
}

/// `bench --rayon-sample THREADS`: one rayon sample, in this fresh process; prints the
/// seconds of the timed run and the checksum of its results.
pub fn rayon_sample(threads: usize) -> Result {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let items = items();
    let run = || pool.install(|| items.par_iter().map(|&x| work(x)).collect::<Vec<_>>());
    run(); // starts the pool's threads
    let mut results = Vec::new();
    let seconds = per_op(1, || {
        results = run();
        Ok(())
    })?;
    println!("{seconds} {}", checksum(&results));
    Ok(())
}

/// A sum of the results that depends on their order too.
fn checksum(results: &[u64]) -> u64 {
    results
        .iter()
        .fold(0, |sum: u64, &r| sum.rotate_left(5).wrapping_add(r))
}
