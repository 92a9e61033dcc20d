//! Locks and counters in shared memory (chapter 7): a lock taken and released with nobody
//! else wanting it, the same with two processes wanting it, and a counter that several
//! processes add to, under the counter's lock or as an atomic.
//!
//! Python's side runs the same loops with `multiprocessing.Lock` and `Value`; Python has
//! no atomics, so its reference for the atomic counter is its locked `Value`, the only
//! correct counter it has.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ipc::{Barrier, Lock, Process, SharedAtomic, Value};

use crate::config::Config;
use crate::harness::{Contender, Result, Samples, alternate, per_op};
use crate::python::{self, Python, Request};

/// Topic: `acquire` then `release`, in one process.
pub const UNCONTENDED: &str = "lock_uncontended";
/// Topic: two processes taking the same lock in turns, as fast as they can.
pub const CONTENDED: &str = "lock_contended";
/// Topic: `config.increments` adds to one counter under its lock, split over the processes.
pub const VALUE_LOCKED: &str = "value_locked";
/// Topic: the same adds, as `fetch_add` on an atomic in shared memory.
pub const VALUE_ATOMIC: &str = "value_atomic";

/// `ipc::Lock::acquire`, the guard dropped at once.
pub const IPC_LOCK: &str = "ipc Lock";
/// `std::sync::Mutex::lock`, for threads of one process only: what sharing costs.
pub const STD_MUTEX: &str = "std Mutex (threads only)";
/// `*value.lock()? += 1` on an `ipc::Value<u64>`.
pub const IPC_VALUE: &str = "ipc Value, lock() += 1";
/// `fetch_add(1, Relaxed)` on an `ipc::SharedAtomic<AtomicU64>`.
pub const IPC_ATOMIC: &str = "ipc SharedAtomic fetch_add";

/// Processes that contend for the lock.
pub const CONTENDERS: usize = 2;

/// One round of the four topics.
pub fn round(
    samples: &mut Samples,
    config: &Config,
    round: usize,
    python: Option<&Python>,
) -> Result {
    let ops = config.lock_ops;
    let lock = Lock::new()?;
    let mutex = std::sync::Mutex::new(());
    // Python's two ways to take a lock, for `topic`.
    let python_locks = |topic| {
        let locks = [python::LOCK_WITH, python::LOCK_CALLS];
        python
            .into_iter()
            .flat_map(move |py| locks.map(|lock| py.contender(Request::new(topic, lock, ops))))
    };
    let mut contenders = vec![
        Contender::new(IPC_LOCK, || {
            per_op(ops, || {
                for _ in 0..ops {
                    drop(black_box(lock.acquire()?));
                }
                Ok(())
            })
        }),
        Contender::new(STD_MUTEX, || {
            per_op(ops, || {
                for _ in 0..ops {
                    drop(black_box(mutex.lock()));
                }
                Ok(())
            })
        }),
    ];
    contenders.extend(python_locks(UNCONTENDED));
    alternate(samples, UNCONTENDED, round, config.reps, 1, &mut contenders)?;
    let mut contenders = vec![Contender::new(IPC_LOCK, || {
        in_processes(CONTENDERS, ops, {
            let lock = lock.clone();
            move || drop(lock.acquire().expect("the lock works"))
        })
    })];
    contenders.extend(python_locks(CONTENDED));
    alternate(samples, CONTENDED, round, config.reps, 1, &mut contenders)?;
    let adds = config.increments / config.processes;
    alternate(
        samples,
        VALUE_LOCKED,
        round,
        config.reps,
        1,
        &mut [Contender::new(IPC_VALUE, || {
            let value = Value::new(0u64)?;
            let seconds = in_processes(config.processes, adds, {
                let value = value.clone();
                move || *value.lock().expect("the lock works") += 1
            })?;
            counted(value.get()?, adds * config.processes, seconds)
        })],
    )?;
    // A second or two per sample: one a round, the reference of both counter topics
    // (Python has no atomics).
    if let Some(python) = python {
        let seconds = python.sample(&Request::new(VALUE_LOCKED, python::VALUE, adds))?;
        for topic in [VALUE_LOCKED, VALUE_ATOMIC] {
            samples.add(topic, python::VALUE, seconds);
        }
    }
    alternate(
        samples,
        VALUE_ATOMIC,
        round,
        config.reps,
        1,
        &mut [Contender::new(IPC_ATOMIC, || {
            let atomic = SharedAtomic::new(AtomicU64::new(0))?;
            let seconds = in_processes(config.processes, adds, {
                let atomic = atomic.clone();
                move || {
                    atomic.fetch_add(1, Ordering::Relaxed);
                }
            })?;
            counted(
                atomic.load(Ordering::Relaxed),
                adds * config.processes,
                seconds,
            )
        })],
    )
}

/// Runs `op` `ops` times in each of `processes` children, which start together (at a
/// barrier with this process), and returns the wall time per operation, from the start to
/// the last child's exit.
fn in_processes(processes: usize, ops: usize, op: impl Fn() + Clone + 'static) -> Result<f64> {
    let start = Barrier::new(processes + 1)?;
    let mut children = Vec::new();
    for _ in 0..processes {
        let (start, op) = (start.clone(), op.clone());
        let mut child = Process::with_exit_code(move || {
            if start.wait().is_err() {
                return 1;
            }
            for _ in 0..ops {
                op();
            }
            0
        });
        child.start()?;
        children.push(child);
    }
    start.wait()?;
    let started = Instant::now();
    for child in &mut children {
        if child.join()? != 0 {
            return Err("a child of the shared-state bench failed".into());
        }
    }
    Ok(started.elapsed().as_secs_f64() / (processes * ops) as f64)
}

/// `seconds`, if the counter counted every add: a lost one would make the time meaningless.
fn counted(count: u64, adds: usize, seconds: f64) -> Result<f64> {
    if count == adds as u64 {
        Ok(seconds)
    } else {
        Err(format!("the counter says {count} after {adds} adds").into())
    }
}
