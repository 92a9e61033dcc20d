//! `Pool`: spread a function over many items in worker processes. Python:
//! `multiprocessing.Pool` with `map`, `imap` and `imap_unordered`.
//!
//! Python sends the function and every argument to long-lived workers with pickle. Rust
//! cannot send a closure to a process that is already running, but `fork` copies memory:
//! so each `map` forks its workers when the items and the function are already in memory,
//! and only the *positions* of the items travel to the workers (a chunk is a range of
//! positions); only the results travel back, encoded with serde. The workers live as long
//! as one `map` (or one `imap` iterator).
//!
//! A worker that dies (panics are caught, but `exit`, `SIGKILL` or a crash are not) turns
//! into [`Error::WorkerDied`] for each item of the chunk it held, as soon as its pipe reports
//! the end of the stream; a new worker takes over the chunks that are left. Python's pool
//! waits forever in that case.

use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::mem;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;
use std::vec;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::connection::{Connection, Pipe, wait};
use crate::error::{Error, Result};
use crate::process::{Child, panic_message};

/// What a worker sends back for one item: the result, or the message of a panic.
type Outcome<R> = std::result::Result<R, String>;

/// What a worker sends back for a chunk. Most chunks have no panic: they travel as plain
/// results, and only a chunk with a panic pays for an outcome per item.
#[derive(Serialize, Deserialize)]
enum ChunkReply<R> {
    Done(Vec<R>),
    Panicked(Vec<Outcome<R>>),
}

/// A finished chunk, as the parent sees it: all results, or a result or error per item.
enum Finished<R> {
    Done(Vec<R>),
    Failed(Vec<Result<R>>),
}

impl<R> Finished<R> {
    fn into_results(self) -> vec::IntoIter<Result<R>> {
        match self {
            Finished::Done(results) => results.into_iter().map(Ok).collect::<Vec<_>>(),
            Finished::Failed(results) => results,
        }
        .into_iter()
    }
}

/// How long a worker whose pipe has closed may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// A pool of worker processes. Python: `Pool(processes)`.
///
/// ```
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = ipc::Pool::new(4);
/// assert_eq!(pool.map(square, 1..=5)?, [1, 4, 9, 16, 25]);
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pool {
    processes: usize,
    chunksize: Option<usize>,
}

impl Pool {
    /// A pool of `processes` workers.
    ///
    /// # Panics
    /// If `processes` is 0 (Python raises `ValueError`).
    ///
    /// ```
    /// assert_eq!(ipc::Pool::new(2).processes(), 2);
    /// ```
    pub fn new(processes: usize) -> Pool {
        assert!(processes > 0, "a Pool needs at least one process");
        Pool {
            processes,
            chunksize: None,
        }
    }

    /// Sends items to the workers `chunksize` at a time (Python's `chunksize=` argument).
    /// Without it, `map` uses Python's default, `ceil(len / (4 × processes))`, and the
    /// `imap`s use 1. Bigger chunks mean fewer messages; smaller ones, better balance.
    ///
    /// # Panics
    /// If `chunksize` is 0.
    ///
    /// ```
    /// let pool = ipc::Pool::new(2).with_chunksize(1);
    /// assert_eq!(pool.map(|x: i32| -x, [1, 2])?, [-1, -2]);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn with_chunksize(mut self, chunksize: usize) -> Pool {
        assert!(chunksize > 0, "chunksize must be at least 1");
        self.chunksize = Some(chunksize);
        self
    }

    /// The number of workers.
    ///
    /// ```
    /// assert_eq!(ipc::Pool::new(3).processes(), 3);
    /// ```
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// Applies `f` to every item in worker processes and returns the results in input
    /// order. Python: `pool.map(f, items)`.
    ///
    /// The first failure to be reported is the error (as in Python): a panic in `f` is
    /// [`Error::TaskPanicked`], a worker that died is [`Error::WorkerDied`]. The other
    /// workers are then stopped. For per-item errors that are not failures (a page that
    /// does not load), let `f` return a `Result`.
    ///
    /// ```
    /// let pool = ipc::Pool::new(2);
    /// let lengths = pool.map(|s: &str| s.len(), ["a", "bb", "ccc"])?;
    /// assert_eq!(lengths, [1, 2, 3]);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn map<I, T, R, F>(&self, f: F, items: I) -> Result<Vec<R>>
    where
        I: IntoIterator<Item = T>,
        F: Fn(T) -> R,
        R: Serialize + DeserializeOwned,
    {
        let items: Vec<T> = items.into_iter().collect();
        let chunksize = self
            .chunksize
            .unwrap_or_else(|| items.len().div_ceil(4 * self.processes).max(1));
        let len = items.len();
        let mut run = Run::start(items, f, self.processes, chunksize)?;
        // Each chunk's results go to its slot; the first failure to arrive is the answer.
        let mut slots: Vec<Option<Vec<R>>> = (0..len.div_ceil(chunksize)).map(|_| None).collect();
        while let Some((start, finished)) = run.next_chunk()? {
            match finished {
                Finished::Done(results) => slots[start / chunksize] = Some(results),
                Finished::Failed(results) => {
                    let first_error = results.into_iter().find_map(Result::err);
                    return Err(first_error.expect("a failed chunk holds an error"));
                }
            }
        }
        let mut results = Vec::with_capacity(len);
        for slot in slots {
            results.extend(slot.expect("every chunk has finished"));
        }
        Ok(results)
    }

    /// Like [`map`](Self::map), but lazy: yields each result in input order as soon as it
    /// and all before it are done, and an error per failed item. Python: `pool.imap`.
    ///
    /// ```
    /// let pool = ipc::Pool::new(2);
    /// let mut results = pool.imap(|x: u32| x + 1, [1, 2, 3])?;
    /// assert_eq!(results.next().transpose()?, Some(2));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn imap<I, T, R, F>(
        &self,
        f: F,
        items: I,
    ) -> Result<impl Iterator<Item = Result<R>> + use<I, T, R, F>>
    where
        I: IntoIterator<Item = T>,
        F: Fn(T) -> R,
        R: Serialize + DeserializeOwned,
    {
        let items = items.into_iter().collect();
        let run = Run::start(items, f, self.processes, self.chunksize.unwrap_or(1))?;
        Ok(Ordered::new(run))
    }

    /// Like [`imap`](Self::imap), but yields results in the order they finish.
    /// Python: `pool.imap_unordered`.
    ///
    /// ```
    /// let pool = ipc::Pool::new(2);
    /// let mut sums: Vec<u32> = pool.imap_unordered(|x: u32| x * 10, [1, 2, 3])?
    ///     .collect::<Result<_, _>>()?;
    /// sums.sort();
    /// assert_eq!(sums, [10, 20, 30]);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn imap_unordered<I, T, R, F>(
        &self,
        f: F,
        items: I,
    ) -> Result<impl Iterator<Item = Result<R>> + use<I, T, R, F>>
    where
        I: IntoIterator<Item = T>,
        F: Fn(T) -> R,
        R: Serialize + DeserializeOwned,
    {
        let items = items.into_iter().collect();
        let run = Run::start(items, f, self.processes, self.chunksize.unwrap_or(1))?;
        Ok(Unordered {
            run: Some(run),
            current: Vec::new().into_iter(),
        })
    }
}

/// The workers of one `map` call, and the chunks not handed out yet.
struct Run<T, F, R> {
    /// Kept so that a replacement worker, forked later, has them too.
    items: Vec<T>,
    f: F,
    pending: VecDeque<Range<usize>>,
    workers: Vec<Worker>,
    result: PhantomData<fn() -> R>,
}

/// A busy worker: its process, the parent's end of its pipe, the chunk it holds.
/// (Fields drop in order: the pipe closes before the process is reaped.)
struct Worker {
    conn: Connection,
    child: Child,
    task: Range<usize>,
}

impl<T, F, R> Run<T, F, R>
where
    F: Fn(T) -> R,
    R: Serialize + DeserializeOwned,
{
    fn start(items: Vec<T>, f: F, processes: usize, chunksize: usize) -> Result<Self> {
        let len = items.len();
        let pending = (0..len)
            .step_by(chunksize)
            .map(|start| start..(start + chunksize).min(len))
            .collect();
        let mut run = Run {
            items,
            f,
            pending,
            workers: Vec::new(),
            result: PhantomData,
        };
        for _ in 0..processes {
            run.start_worker()?;
        }
        Ok(run)
    }

    /// Forks a worker for the next pending chunk, if there is one.
    fn start_worker(&mut self) -> Result<()> {
        let Some(task) = self.pending.pop_front() else {
            return Ok(());
        };
        let (mut conn, worker_end) = Pipe::new()?;
        // Workers must not keep the parent's ends (their own or another worker's), or the
        // end of the stream would never reach them, nor the parent when one dies.
        conn.set_inheritable(false);
        let (items, f) = (&mut self.items, &self.f);
        let child = Child::spawn(move || {
            // This is the child's own copy of the items, made by fork: it may take them.
            serve(worker_end, mem::take(items), f)
        })?;
        // If the worker is already dead, the send fails; its closed pipe reports that
        // in `next_chunk`, which turns it into errors for this chunk.
        let _ = conn.send(&(task.start, task.end));
        self.workers.push(Worker { conn, child, task });
        Ok(())
    }

    /// Waits for a worker to finish its chunk or die; `None` once every chunk is done.
    /// Returns the chunk's first position and its results.
    fn next_chunk(&mut self) -> Result<Option<(usize, Finished<R>)>> {
        if self.workers.is_empty() {
            return Ok(None);
        }
        let conns: Vec<&Connection> = self.workers.iter().map(|w| &w.conn).collect();
        let w = wait(&conns, None)?[0];
        let task = self.workers[w].task.clone();
        let start = task.start;
        let finished = match self.workers[w].conn.recv::<ChunkReply<R>>() {
            Ok(ChunkReply::Done(results)) if results.len() == task.len() => {
                self.hand_next_chunk(w)?;
                Finished::Done(results)
            }
            Ok(ChunkReply::Panicked(outcomes)) if outcomes.len() == task.len() => {
                self.hand_next_chunk(w)?;
                let results = task.zip(outcomes).map(|(index, outcome)| {
                    outcome.map_err(|message| Error::TaskPanicked { index, message })
                });
                Finished::Failed(results.collect())
            }
            // The end of the stream, a cut or corrupt message: the worker is gone or broken.
            _ => {
                let mut worker = self.workers.swap_remove(w);
                drop(worker.conn);
                let exitcode = match worker.child.wait_timeout(EXIT_GRACE)? {
                    Some(code) => code,
                    None => {
                        worker.child.signal(nix::sys::signal::Signal::SIGKILL)?;
                        worker.child.wait()?
                    }
                };
                let pid = worker.child.pid.as_raw();
                self.start_worker()?;
                let errors = task.map(|index| {
                    Err(Error::WorkerDied {
                        index,
                        pid,
                        exitcode,
                    })
                });
                Finished::Failed(errors.collect())
            }
        };
        Ok(Some((start, finished)))
    }

    /// Gives worker `w` the next chunk, or lets it go if none is left.
    fn hand_next_chunk(&mut self, w: usize) -> Result<()> {
        match self.pending.pop_front() {
            Some(task) => {
                let worker = &mut self.workers[w];
                // A failed send shows up as a closed pipe in `next_chunk`, as above.
                let _ = worker.conn.send(&(task.start, task.end));
                worker.task = task;
            }
            None => {
                let mut worker = self.workers.swap_remove(w);
                drop(worker.conn); // the worker reads the end of the stream and exits
                worker.child.wait()?;
            }
        }
        Ok(())
    }
}

/// The worker's loop: receive a range of positions, apply `f` to those items, send back
/// the results; leave when the parent closes the pipe. Runs in the child only.
///
/// Chunks are handed out in increasing order, so the worker walks its items forward once,
/// skipping the chunks that other workers took.
fn serve<T, R, F>(mut conn: Connection, items: Vec<T>, f: &F) -> i32
where
    F: Fn(T) -> R,
    R: Serialize,
{
    let mut items = items.into_iter();
    let mut next = 0;
    loop {
        let (start, end): (usize, usize) = match conn.recv() {
            Ok(task) => task,
            Err(Error::Closed) => return 0,
            Err(e) => {
                eprintln!("pool worker: {e}");
                return 1;
            }
        };
        assert!(start >= next, "chunks come in increasing order");
        let chunk = items.by_ref().skip(start - next).take(end - start);
        next = end;
        if let Err(e) = conn.send(&run_chunk(chunk, f)) {
            eprintln!("pool worker: {e}");
            return 1;
        }
    }
}

/// Applies `f` to a chunk's items, catching panics.
fn run_chunk<T, R, F>(mut items: impl Iterator<Item = T>, f: &F) -> ChunkReply<R>
where
    F: Fn(T) -> R,
{
    let call = |item| panic::catch_unwind(AssertUnwindSafe(|| f(item)));
    let mut results = Vec::with_capacity(items.size_hint().0);
    while let Some(item) = items.next() {
        match call(item) {
            Ok(result) => results.push(result),
            Err(payload) => {
                // From here on, one outcome per item.
                let mut outcomes: Vec<Outcome<R>> = results.into_iter().map(Ok).collect();
                outcomes.push(Err(panic_message(&*payload)));
                outcomes.extend(items.map(|item| call(item).map_err(|p| panic_message(&*p))));
                return ChunkReply::Panicked(outcomes);
            }
        }
    }
    ChunkReply::Done(results)
}

/// `imap`: results in input order; chunks that finish early wait in `done`.
struct Ordered<T, F, R> {
    run: Option<Run<T, F, R>>,
    done: HashMap<usize, Finished<R>>,
    next_start: usize,
    current: vec::IntoIter<Result<R>>,
}

impl<T, F, R> Ordered<T, F, R> {
    fn new(run: Run<T, F, R>) -> Self {
        Ordered {
            run: Some(run),
            done: HashMap::new(),
            next_start: 0,
            current: Vec::new().into_iter(),
        }
    }
}

impl<T, F, R> Iterator for Ordered<T, F, R>
where
    F: Fn(T) -> R,
    R: Serialize + DeserializeOwned,
{
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        loop {
            if let Some(result) = self.current.next() {
                return Some(result);
            }
            if let Some(chunk) = self.done.remove(&self.next_start) {
                self.current = chunk.into_results();
                self.next_start += self.current.len();
                continue;
            }
            match self.run.as_mut()?.next_chunk() {
                Ok(Some((start, chunk))) => {
                    self.done.insert(start, chunk);
                }
                Ok(None) => return None,
                Err(e) => return Some(Err(fail(&mut self.run, e))),
            }
        }
    }
}

/// `imap_unordered`: results as chunks finish.
struct Unordered<T, F, R> {
    run: Option<Run<T, F, R>>,
    current: vec::IntoIter<Result<R>>,
}

impl<T, F, R> Iterator for Unordered<T, F, R>
where
    F: Fn(T) -> R,
    R: Serialize + DeserializeOwned,
{
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        loop {
            if let Some(result) = self.current.next() {
                return Some(result);
            }
            match self.run.as_mut()?.next_chunk() {
                Ok(Some((_, chunk))) => self.current = chunk.into_results(),
                Ok(None) => return None,
                Err(e) => return Some(Err(fail(&mut self.run, e))),
            }
        }
    }
}

/// After an operating-system error the run cannot go on: stop its workers (dropping the
/// run kills and reaps them) and end the iterator after this error.
fn fail<T, F, R>(run: &mut Option<Run<T, F, R>>, e: Error) -> Error {
    *run = None;
    e
}
