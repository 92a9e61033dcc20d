//! Python's `multiprocessing`, measured by `bench/python/mp_bench.py` in a subprocess.
//!
//! The script starts once per run and takes one request per sample, so that its samples
//! take turns with the Rust contenders of their topic like any other contender: a busy
//! moment of the machine then hits Python and `ipc` alike, where it used to measure all
//! its topics on its own once a round, seconds away from the Rust samples its rows are
//! compared with.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::harness::{Contender, Result};

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

/// One sample to take, as the script reads it.
#[derive(Serialize)]
pub struct Request<'a> {
    /// The topic's key, as in Rust's samples.
    topic: &'a str,
    /// One of the names above.
    contender: &'a str,
    /// Operations in the sample: round trips, messages, lock operations, adds per process;
    /// 1 for a start and join, or a map.
    count: usize,
    /// The size of a throughput message.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
}

impl<'a> Request<'a> {
    /// A sample of `count` operations.
    pub fn new(topic: &'a str, contender: &'a str, count: usize) -> Self {
        Request {
            topic,
            contender,
            count,
            size: None,
        }
    }

    /// A throughput sample: `count` messages of `size` bytes.
    pub fn messages(topic: &'a str, count: usize, size: usize) -> Self {
        Request {
            size: Some(size),
            ..Request::new(topic, CONNECTION, count)
        }
    }
}

/// The script's answer to a request: a time, nothing (to a rest), or why not.
#[derive(Deserialize)]
struct Answer {
    seconds: Option<f64>,
    error: Option<String>,
}

/// The script, running; it ends when this is dropped (its stdin closes).
pub struct Python(RefCell<Script>);

/// The script's process (requests go to its stdin) and its stdout.
struct Script {
    child: Child,
    answers: BufReader<ChildStdout>,
}

impl Python {
    /// Starts the script; `None` if there is no `python3` to run it.
    pub fn start(config: &Config) -> Result<Option<Python>> {
        let mut command = Command::new("python3");
        command
            .env("PYTHONDONTWRITEBYTECODE", "1") // no __pycache__ in the source tree
            .arg(SCRIPT)
            .args(["--processes", &config.processes.to_string()])
            .args(["--tasks", &config.tasks.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = match command.spawn() {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            child => child?,
        };
        let answers = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Some(Python(RefCell::new(Script { child, answers }))))
    }

    /// A contender whose every sample is one request to the script.
    pub fn contender<'a>(&'a self, request: Request<'a>) -> Contender<'a> {
        Contender::new(request.contender, move || self.sample(&request))
    }

    /// Takes one sample: seconds per operation.
    pub fn sample(&self, request: &Request<'_>) -> Result<f64> {
        let seconds = self.ask(request)?;
        seconds.ok_or_else(|| format!("{SCRIPT} answered no time").into())
    }

    /// Lets the script close the pools it keeps warm between samples, so that their
    /// processes do not wait through the topics of other groups, and give the memory it
    /// has freed back to the kernel (see `give_memory_back` in `main`).
    pub fn rest(&self) -> Result {
        self.ask(&serde_json::json!({"rest": true}))?;
        Ok(())
    }

    /// Sends one request and reads its answer.
    fn ask(&self, request: &impl Serialize) -> Result<Option<f64>> {
        let request = serde_json::to_string(request)?;
        let script = &mut *self.0.borrow_mut();
        let requests = script.child.stdin.as_mut().expect("open until dropped");
        writeln!(requests, "{request}")?;
        let mut line = String::new();
        if script.answers.read_line(&mut line)? == 0 {
            let status = script.child.wait()?;
            return Err(format!("{SCRIPT} ended ({status}) before answering {request}").into());
        }
        let answer: Answer =
            serde_json::from_str(&line).map_err(|e| format!("{SCRIPT} answered {line:?}: {e}"))?;
        match answer.error {
            Some(error) => Err(format!("{SCRIPT}: {error}").into()),
            None => Ok(answer.seconds),
        }
    }
}

impl Drop for Python {
    /// Closes the script's stdin, which ends it, and reaps it. A child forked by the bench
    /// that still held a copy of that pipe's end would keep the end of the stream from
    /// coming: the script then gets a few seconds, and is killed.
    fn drop(&mut self) {
        let child = &mut self.0.get_mut().child;
        drop(child.stdin.take());
        for _ in 0..50 {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Python's version (`Python 3.11.7`), if there is a `python3`.
pub fn version() -> Option<String> {
    let output = Command::new("python3").arg("--version").output().ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    output.status.success().then(|| version.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pool_map, round_trip, shared_state, start_join};

    /// Every contender the topics ask the script for, once, with tiny counts: the names on
    /// both sides agree and each answer is a time; a name the script does not know is an
    /// error that says so, and the script goes on.
    #[test]
    fn the_script_answers_every_contender_the_bench_asks_for() {
        let config = Config {
            tasks: 10,
            ..Config::new(true, &[], 2)
        };
        let python = Python::start(&config)
            .unwrap()
            .expect("python3 on the PATH");
        let requests = [
            Request::new(start_join::TOPIC, FORK, 1),
            Request::new(start_join::FORKSERVER_TOPIC, FORKSERVER, 1),
            Request::new(start_join::SPAWN_TOPIC, SPAWN, 1),
            Request::new(round_trip::TOPIC, CONNECTION, 10),
            Request::new(round_trip::TOPIC, APPLY, 10),
            Request::messages("throughput_64B", 2, 64),
            Request::new(pool_map::DEFAULT_CHUNKS, POOL_MAP, 1),
            Request::new(pool_map::CHUNK_1, POOL_MAP, 1),
            Request::new(shared_state::UNCONTENDED, LOCK_WITH, 10),
            Request::new(shared_state::UNCONTENDED, LOCK_CALLS, 10),
            Request::new(shared_state::CONTENDED, LOCK_WITH, 10),
            Request::new(shared_state::CONTENDED, LOCK_CALLS, 10),
            Request::new(shared_state::VALUE_LOCKED, VALUE, 10),
        ];
        for request in &requests {
            let seconds = python.sample(request).unwrap();
            assert!(seconds > 0.0, "{} / {}", request.topic, request.contender);
        }
        python.rest().unwrap();
        let unknown = python.sample(&Request::new(round_trip::TOPIC, "python nobody", 1));
        let error = unknown.unwrap_err().to_string();
        assert!(error.contains("no such contender"), "{error}");
        let lock = Request::new(shared_state::UNCONTENDED, LOCK_WITH, 10);
        assert!(python.sample(&lock).unwrap() > 0.0);
    }
}
