//! `Pool.map` over many tiny tasks: what the pool itself costs, since the work is nothing.
//!
//! Each `ipc::Pool` sample includes forking the workers, because `ipc::Pool::map` forks
//! them per call; Python's samples reuse a pool started beforehand, which favours Python.
//! `ipc::WorkerPool` is long-lived like Python's: its samples reuse one pool too.

use std::hint::black_box;

use ipc::{Pool, StartMethod, get_context};

use crate::config::Config;
use crate::harness::{Contender, Result, Samples, alternate, per_op};
use crate::python::{self, Python, Request};

/// Topic: Python's default chunk size, `ceil(tasks / (4 × processes))`.
pub const DEFAULT_CHUNKS: &str = "pool_map_default";
/// Topic: one task per message.
pub const CHUNK_1: &str = "pool_map_chunk1";
/// `items.iter().map(f).collect()` in this process.
pub const SEQUENTIAL: &str = "plain sequential loop";
/// `ipc::Pool::new(processes).map(f, items)`.
pub const IPC: &str = "ipc Pool.map";
/// `WorkerPool::map(f, items)` on a pool started before the clock starts.
pub const IPC_WARM: &str = "ipc WorkerPool.map (warm pool)";

/// The tiny task.
fn square(x: u64) -> u64 {
    x * x
}

/// One round: `config.reps` maps with default chunks (and sequential loops), in turns, the
/// warm pool's first; then one map with chunks of one, which is slow in Python.
pub fn round(
    samples: &mut Samples,
    config: &Config,
    round: usize,
    python: Option<&Python>,
) -> Result {
    let items: Vec<u64> = (0..config.tasks as u64).collect();
    let expected: Vec<u64> = items.iter().map(|&x| square(x)).collect();
    let pool = Pool::new(config.processes);
    let chunk_1 = pool.clone().with_chunksize(1);
    let map = |pool: &Pool| Ok(pool.map(square, items.iter().copied())?);
    let warm = get_context(StartMethod::Fork)
        .pool(config.processes)
        .start()?;
    // Warm: the workers have done the work once before timing (their memory has grown to
    // what a map needs), as Python's pool has.
    warm.map(square, items.iter().copied())?;
    let python_map =
        |topic| python.map(|py| py.contender(Request::new(topic, python::POOL_MAP, 1)));
    // The warm pool takes its turns with Python's and the loop, and `Pool` then takes its
    // own with Python's: a `Pool::map` forks, a fork marks every page of this process
    // copy-on-write, and the map measured next here would pay a page fault for each page
    // it writes, a cost of `Pool`'s and not of `WorkerPool`'s (a warm map of the same
    // items took 0.90 to 1.17 ms alone and 1.41 to 1.63 ms right after a `Pool::map`).
    // Python's pool runs in a process of its own, which nothing else forks. (Each round
    // starts a warm pool of its own, which forks too: the untimed map above takes the
    // faults that those forks and the last round's left on the pages a map writes.)
    let mut warm_turns = vec![
        Contender::new(SEQUENTIAL, || {
            checked(&expected, || {
                Ok(black_box(&items).iter().map(|&x| square(x)).collect())
            })
        }),
        Contender::new(IPC_WARM, || {
            checked(&expected, || Ok(warm.map(square, items.iter().copied())?))
        }),
    ];
    warm_turns.extend(python_map(DEFAULT_CHUNKS));
    alternate(
        samples,
        DEFAULT_CHUNKS,
        round,
        config.reps,
        config.map_turns,
        &mut warm_turns,
    )?;
    drop(warm_turns);
    // The warm pool goes before the `Pool`'s turns, with the memory it keeps for its
    // messages (its connections' buffers, up to 1 MiB a worker for tasks): each fork
    // copies the page table entries of every page this process has written, and each
    // worker's exit undoes them, so a megabyte more here cost each `Pool::map` 60 to 100 µs
    // (a loop of maps with 0, 3 and 10 MB written beside it: 1.5, 1.8 and 2.1 ms). The
    // `Pool` is measured in a process that holds little more than the items and the
    // expected answer, its best case; a bigger program forks slower. (Memory freed but
    // still resident counts too: so it goes back to the kernel first.)
    drop(warm);
    give_back_freed_memory();
    let mut forking_turns = vec![Contender::new(IPC, || checked(&expected, || map(&pool)))];
    forking_turns.extend(python_map(DEFAULT_CHUNKS));
    alternate(
        samples,
        DEFAULT_CHUNKS,
        round,
        config.reps,
        config.map_turns,
        &mut forking_turns,
    )?;
    let mut contenders = vec![Contender::new(IPC, || checked(&expected, || map(&chunk_1)))];
    contenders.extend(python_map(CHUNK_1));
    alternate(samples, CHUNK_1, round, 1, 1, &mut contenders)
}

/// Gives the memory this process has freed back to the kernel (glibc's `malloc_trim`):
/// freed, it stays resident, and a fork copies the page table entries of resident pages,
/// in use or not.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim(3) releases free memory of the allocator's, under its own lock;
    // no value refers to free memory, so nothing of this program's changes.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// Times `run` and checks its results afterwards: a wrong answer would make any time
/// meaningless.
pub fn checked(expected: &[u64], run: impl FnOnce() -> Result<Vec<u64>>) -> Result<f64> {
    let mut squares = Vec::new();
    let seconds = per_op(1, || {
        squares = run()?;
        Ok(())
    })?;
    if squares == expected {
        Ok(seconds)
    } else {
        Err("Pool.map returned wrong results".into())
    }
}
