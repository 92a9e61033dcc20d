//! Python's `multiprocessing`, measured by `bench/python/mp_bench.py` in a subprocess.
//!
//! The script runs once per round (between the Rust topics), with the same sizes as the
//! Rust side, and prints one JSON line per sample.

use std::io::ErrorKind;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::config::{Config, Group};
use crate::harness::{Result, Samples};
use crate::{pool_map, round_trip, shared_state, start_join, throughput};

/// The script, found from the source tree the bench was built from.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/mp_bench.py");

/// `multiprocessing.Process` with the `fork` start method: start and join.
pub const FORK: &str = "python Process (fork)";
/// The same with `spawn`, which starts a fresh interpreter.
pub const SPAWN: &str = "python Process (spawn)";
/// The same with `forkserver`.
pub const FORKSERVER: &str = "python Process (forkserver)";
/// `pool.apply_async(f, (payload,)).get()` on a warm pool of one worker.
pub const APPLY: &str = "python Pool.apply_async + get";
/// `Connection.send_bytes` / `recv_bytes`.
pub const CONNECTION: &str = "python send_bytes/recv_bytes";
/// `Pool.map` on a pool started before the clock starts.
pub const POOL_MAP: &str = "python Pool.map (warm pool)";
/// `multiprocessing.Lock` taken around a block, `with lock: pass`: what a guard does.
pub const LOCK_WITH: &str = "python Lock, with lock:";
/// The same as two bare calls, `lock.acquire(); lock.release()`: Python's fastest way.
pub const LOCK_CALLS: &str = "python Lock, acquire(); release()";
/// `with value.get_lock(): value.value += 1` on a `multiprocessing.Value('q')`, for the
/// atomic topic too: Python has no atomics, and this is its correct counter.
pub const VALUE: &str = "python Value, get_lock() += 1";

/// The groups of topics the script measures: Python has no rayon, and the slow pages are
/// about `ipc`'s pool against the ideal time.
const GROUPS: [Group; 5] = [
    Group::StartJoin,
    Group::RoundTrip,
    Group::Throughput,
    Group::PoolMap,
    Group::SharedState,
];

/// One sample, as the script prints it.
#[derive(Deserialize)]
struct Line {
    topic: String,
    contender: String,
    seconds: f64,
}

/// Runs the script once, for the groups of `config` it measures. `Ok(false)` if there is
/// no `python3` to run it.
pub fn round(samples: &mut Samples, config: &Config, round: usize) -> Result<bool> {
    let groups: Vec<String> = GROUPS
        .into_iter()
        .filter(|&group| config.measures(group))
        .map(Group::name)
        .collect();
    if groups.is_empty() {
        return Ok(true);
    }
    let mut command = Command::new("python3");
    command
        .env("PYTHONDONTWRITEBYTECODE", "1") // no __pycache__ in the source tree
        .arg(SCRIPT)
        .args(["--round", &round.to_string()])
        .args(["--reps", &config.reps.to_string()])
        .args(["--groups", &groups.join(",")])
        .args(["--forks", &config.python_forks.to_string()])
        .args(["--spawns", &config.python_spawns.to_string()])
        .args(["--round-trips", &config.round_trips.to_string()])
        .args(["--tasks", &config.tasks.to_string()])
        .args(["--processes", &config.processes.to_string()])
        .args(["--lock-ops", &config.lock_ops.to_string()])
        .args(["--increments", &config.increments.to_string()]);
    for (topic, size) in throughput::SIZES {
        let messages = config.messages(size).to_string();
        let reps = throughput::reps(config, size).to_string();
        command.args(["--size", topic, &size.to_string(), &messages, &reps]);
    }
    let output = match command.stderr(Stdio::inherit()).output() {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        output => output?,
    };
    if !output.status.success() {
        return Err(format!("{SCRIPT} failed: {}", output.status).into());
    }
    for text in String::from_utf8(output.stdout)?.lines() {
        let line: Line =
            serde_json::from_str(text).map_err(|e| format!("{SCRIPT} printed {text:?}: {e}"))?;
        if !expected(&line.topic, &line.contender) {
            return Err(format!("{SCRIPT}: unknown {} / {}", line.topic, line.contender).into());
        }
        samples.add(&line.topic, &line.contender, line.seconds);
    }
    Ok(true)
}

/// Python's version (`Python 3.11.7`), if there is a `python3`.
pub fn version() -> Option<String> {
    let output = Command::new("python3").arg("--version").output().ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| version.trim().to_string())
}

/// Whether the script may report this contender (a typo there would otherwise just leave
/// a row empty).
fn expected(topic: &str, contender: &str) -> bool {
    let sizes = throughput::SIZES.map(|(key, _)| key);
    match contender {
        FORK => topic == start_join::TOPIC,
        FORKSERVER => topic == start_join::FORKSERVER_TOPIC,
        SPAWN => topic == start_join::SPAWN_TOPIC,
        CONNECTION => topic == round_trip::TOPIC || sizes.contains(&topic),
        APPLY => topic == round_trip::TOPIC,
        POOL_MAP => topic == pool_map::DEFAULT_CHUNKS || topic == pool_map::CHUNK_1,
        LOCK_WITH | LOCK_CALLS => {
            topic == shared_state::UNCONTENDED || topic == shared_state::CONTENDED
        }
        VALUE => topic == shared_state::VALUE_LOCKED || topic == shared_state::VALUE_ATOMIC,
        _ => false,
    }
}
