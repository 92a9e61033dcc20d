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
//! Every worker has every item (the items wait in memory the pool shares with its workers,
//! see `items`, and fork copies what they point to), but each item still has one owner:
//! the worker that gets its chunk takes it and passes it to the function; no other process
//! drops it (the parent forgets the items it handed out, and drops only those it never
//! did). So an item whose destructor acts outside the process, a folder that deletes
//! itself, say, acts once. The price: what the parent's copies of the items handed out
//! hold stays with the parent until it exits (their heap memory, a descriptor an item
//! owns), so map over plain data, paths rather than open files.
//!
//! A worker that dies (panics are caught, but `exit`, `SIGKILL` or a crash are not) turns
//! into [`Error::WorkerDied`] for each item of its chunk not answered yet, as soon as the
//! kernel says it has exited (its pidfd), even if a process it forked still holds its
//! pipe; a new worker takes over the chunks that are left (if none can be started, the
//! other workers do, and with no worker left, each item left is an error that says why).
//! Python's pool waits forever in that case. A worker whose answer cannot be read (a
//! result whose `Deserialize` refuses what its `Serialize` wrote, say, or bytes that are
//! no answer, which a task wrote into the worker's pipe) is ended, and each item it held
//! is an [`Error::Decode`] that says so: it may have begun its next chunks already, and no
//! item runs twice.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use std::vec;

use nix::poll::{PollFd, PollFlags};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Unexpected, VariantAccess,
    Visitor,
};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::call::Failure;
use crate::child::Child;
use crate::codec;
use crate::connection::{Connection, DEFAULT_MAX_MESSAGE, Until};
use crate::deadline::poll_until;
use crate::error::{Error, Result};
use crate::fork::fork;
use crate::heap;
use crate::panics;

mod answer;
mod items;

use answer::Answer;
use items::{Items, Kept};

/// What a worker has for one item.
type Outcome<R> = std::result::Result<R, Failure>;

/// What a worker sends back. Most chunks travel whole, as plain results; a chunk with a
/// failure, or too long for one message, travels as outcomes, one or more messages long.
/// `P` holds outcomes: a slice when sent, a vector when received (both encode alike);
/// the parent reads it with [`ReplySeed`].
#[derive(Serialize)]
enum Reply<P> {
    /// The results of the whole chunk, a `Vec<R>` encoded as a call's result is
    /// ([`codec::encode_call`]: a long list of numbers is cheap to encode and decode).
    Done(ByteBuf),
    /// The outcomes of the chunk's next items.
    Part(P),
}

/// How the parent reads a worker's [`Reply`]: a `Part` holds no more outcomes than the
/// chunk has items left, and the first outcome past them is an error, as soon as it is
/// decoded. (A result may take no bytes at all, so the message's length bounds nothing:
/// a worker that misbehaves could otherwise make the parent build a list far longer than
/// its message.) The variants are numbered as the derived `Serialize` numbers them:
/// `Done` is 0, `Part` is 1.
struct ReplySeed<R> {
    most: usize,
    result: PhantomData<fn() -> R>,
}

impl<R> ReplySeed<R> {
    fn new(most: usize) -> ReplySeed<R> {
        ReplySeed {
            most,
            result: PhantomData,
        }
    }
}

impl<'de, R: Deserialize<'de>> DeserializeSeed<'de> for ReplySeed<R> {
    type Value = Reply<Vec<Outcome<R>>>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        inner: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        inner.deserialize_enum("Reply", &["Done", "Part"], self)
    }
}

impl<'de, R: Deserialize<'de>> Visitor<'de> for ReplySeed<R> {
    type Value = Reply<Vec<Outcome<R>>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a pool worker's reply")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> std::result::Result<Self::Value, A::Error> {
        match data.variant::<u32>()? {
            (0, done) => done.newtype_variant().map(Reply::Done),
            (1, part) => {
                let mut outcomes = Vec::new();
                let most = self.most;
                part.newtype_variant_seed(codec::Append {
                    out: &mut outcomes,
                    most,
                })?;
                Ok(Reply::Part(outcomes))
            }
            (other, _) => Err(de::Error::invalid_value(
                Unexpected::Unsigned(other.into()),
                &"0 (Done) or 1 (Part)",
            )),
        }
    }
}

/// A finished chunk, as the parent sees it: all results, or a result or error per item.
enum Finished<R> {
    /// The results of `len` items as the worker encoded them, decoded only where they
    /// will stay: at the end of `map`'s answer, or in `imap`'s list.
    Encoded {
        bytes: ByteBuf,
        len: usize,
    },
    Done(Vec<R>),
    Failed(Vec<Result<R>>),
}

impl<R: DeserializeOwned> Finished<R> {
    /// `Done` if every item has a result.
    fn from_results(results: Vec<Result<R>>) -> Finished<R> {
        if results.iter().all(Result::is_ok) {
            Finished::Done(results.into_iter().flatten().collect())
        } else {
            Finished::Failed(results)
        }
    }

    /// Appends the chunk's results to `results`; the first error, if an item has one.
    fn append_to(self, results: &mut Vec<R>) -> Result<()> {
        match self {
            Finished::Encoded { bytes, len } => {
                let added = codec::decode_call_appending(&bytes, results, len)?;
                if added != len {
                    return Err(Error::Decode(format!(
                        "a worker answered {added} results for a chunk of {len} items"
                    )));
                }
            }
            Finished::Done(chunk) => results.extend(chunk),
            Finished::Failed(outcomes) => return Err(first_error(outcomes)),
        }
        Ok(())
    }

    fn into_results(self) -> vec::IntoIter<Result<R>> {
        match self {
            encoded @ Finished::Encoded { len, .. } => {
                let mut results = Vec::with_capacity(len);
                match encoded.append_to(&mut results) {
                    Ok(()) => results.into_iter().map(Ok).collect(),
                    // One error for each item, so that `imap` counts them all.
                    Err(e) => {
                        let why = match e {
                            Error::Decode(why) => why,
                            other => other.to_string(),
                        };
                        (0..len).map(|_| Err(Error::Decode(why.clone()))).collect()
                    }
                }
            }
            Finished::Done(results) => results.into_iter().map(Ok).collect::<Vec<_>>(),
            Finished::Failed(results) => results,
        }
        .into_iter()
    }
}

/// A chunk that no worker could be started for: `why` for each of its items.
fn not_started<R>(task: Range<usize>, why: &Error) -> Finished<R> {
    let reason = format!("no worker could be started to run it: {why}");
    Finished::Failed(
        task.map(|_| Err(Error::from(io::Error::other(reason.clone()))))
            .collect(),
    )
}

/// The error of a failed chunk that comes first.
fn first_error<R>(outcomes: Vec<Result<R>>) -> Error {
    let first = outcomes.into_iter().find_map(Result::err);
    first.expect("a failed chunk holds an error")
}

/// The longest message the pool itself sends, which chunk to run: its first and last
/// positions, two numbers of at most 9 bytes each as bincode writes them. No message limit
/// goes below it, or a worker would never hear of its tasks.
const TASK_MESSAGE: usize = 18;

/// How long a worker whose pipe has closed may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Chunks a worker holds at a time, at least: the one it works on, and the next few, so
/// that it never waits for the parent between two chunks (a few, and not one, so that the
/// parent and the workers each wake once for several small chunks). More would cost
/// balance: a chunk waiting behind a slow one on one worker cannot go to another.
const IN_FLIGHT: usize = 4;

/// Chunks a worker holds at a time, at most: when its chunks take microseconds, the
/// messages are the work, and a worker given more at once reads them with one system
/// call, while the parent sends them with one and wakes once for their answers. With
/// chunks of one tiny task, up to 32 at a time (see [`Pace`]) made a map of 100 000 items
/// 2.7 times as fast as 4 at a time.
const MOST_IN_FLIGHT: usize = 32;

/// About how much work a worker holds, the chunk it runs included, as far as its past
/// chunks tell: little enough that a chunk waiting behind others on one worker while
/// another worker has nothing to do is not kept waiting long, as long as chunks take
/// about the same time. One that takes far longer than those before it keeps the chunks
/// already handed to its worker waiting (up to [`MOST_IN_FLIGHT`] - 1 of them), as any
/// chunk held by a worker waits for those before it: Python's workers take one task at
/// a time from a shared queue, and none waits so.
const WORK_AHEAD: Duration = Duration::from_millis(1);

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
///
/// # Fork safety
///
/// Each call forks its workers, so, like [`Process::start`](crate::Process::start), it
/// refuses with [`Error::ThreadsRunning`] unless the calling process runs one thread.
#[derive(Debug, Clone)]
pub struct Pool {
    processes: usize,
    chunksize: Option<usize>,
    max_message: usize,
    /// Memory for the items of the next map (see `items`).
    kept: Kept,
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
            max_message: DEFAULT_MAX_MESSAGE,
            kept: Kept::default(),
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

    /// Sets the longest message of results a worker may send back (default
    /// [`DEFAULT_MAX_MESSAGE`]). A chunk's results travel in one message if it fits, else
    /// one result per message; a result whose own message is still longer (its encoding
    /// and 3 bytes that frame it) is [`Error::ResultTooLarge`] for its item. A limit under
    /// 18 bytes counts as 18: the pool's own messages (which chunk to run) must fit.
    ///
    /// ```
    /// let pool = ipc::Pool::new(1).with_max_message_size(1024);
    /// let result = pool.map(|n: usize| "x".repeat(n), [10, 2000]);
    /// assert!(matches!(result, Err(ipc::Error::ResultTooLarge { index: 1, .. })));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn with_max_message_size(mut self, limit: usize) -> Pool {
        self.max_message = limit.max(TASK_MESSAGE);
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
        let items = Items::collect(items, &self.kept)?;
        let chunksize = self
            .chunksize
            .unwrap_or_else(|| items.len().div_ceil(4 * self.processes).max(1));
        let len = items.len();
        // Made before the workers are forked, to keep them out of it (see `answer`).
        let mut answer = Answer::new(len, chunksize);
        let mut run = Run::start(items, f, self, chunksize)?;
        // Each chunk's results go to their place in the answer as soon as they come; the
        // first failure to arrive is the answer.
        while let Some((start, finished)) = run.next_chunk()? {
            answer.place(start, finished)?;
        }
        Ok(answer.into_results())
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
        let items = Items::collect(items, &self.kept)?;
        let run = Run::start(items, f, self, self.chunksize.unwrap_or(1))?;
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
        let items = Items::collect(items, &self.kept)?;
        let run = Run::start(items, f, self, self.chunksize.unwrap_or(1))?;
        Ok(Unordered {
            run: Some(run),
            current: Vec::new().into_iter(),
        })
    }
}

/// The workers of one `map` call, and the chunks not handed out yet.
struct Run<T, F, R> {
    /// Kept so that a replacement worker, forked later, has them too. Dropped after the
    /// workers (see `Drop`): it drops the items never handed out.
    items: Items<T>,
    f: F,
    pending: VecDeque<Range<usize>>,
    workers: Vec<Worker<R>>,
    /// Workers that have answered all their chunks and are leaving: reaped once the
    /// others are done too, so that the parent does not wait for one to exit while
    /// another's results wait to be read.
    leaving: Vec<Child>,
    /// Chunks that failed with a worker that may have begun them (see `lost`), to be
    /// reported before anything else.
    failed: VecDeque<(usize, Finished<R>)>,
    /// How many workers the pool has, when it has chunks enough for all.
    processes: usize,
    max_message: usize,
    /// The worker [`ready_worker`](Self::ready_worker) looks at first (modulo their number).
    turn: usize,
    /// Whether the parent's ends are marked, as they are once [`start`](Self::start) has
    /// forked the first workers (see [`fork_worker`](Self::fork_worker)).
    ends_marked: bool,
}

/// Why a worker is lost (see [`Run::lost`]).
enum Lost {
    /// It exited.
    Exited,
    /// It sent what the parent cannot read (or the read failed: why), and may run on.
    Broken(Error),
}

/// A busy worker: the parent's end of its pipe, its process, the chunks it holds (it works
/// on the first), and the outcomes of the first received so far. (Fields drop in order:
/// the pipe closes before the process is reaped.)
struct Worker<R> {
    conn: Connection,
    child: Child,
    tasks: VecDeque<Range<usize>>,
    received: Vec<Outcome<R>>,
    /// Whether it has been told that no more tasks come (see [`Run::top_up`]).
    told_no_more: bool,
    pace: Pace,
}

/// How quickly a worker gets through its chunks, as the parent sees their answers come:
/// how many chunks it should hold, [`IN_FLIGHT`] to [`MOST_IN_FLIGHT`], so that they are
/// about [`WORK_AHEAD`] of work. Chunks that take long (loading a page) keep the least;
/// tiny ones get the most.
#[derive(Debug)]
struct Pace {
    /// When the worker last answered (or was started).
    last: Instant,
    /// The time between two answers, averaged over the last few (the newest counts for a
    /// quarter): a worker that holds chunks answers one as soon as it finishes the one
    /// before, so this is about a chunk's time.
    per_chunk: Duration,
}

impl Pace {
    /// A worker started now: held to [`IN_FLIGHT`] chunks until its answers say more.
    fn new() -> Pace {
        Pace {
            last: Instant::now(),
            per_chunk: WORK_AHEAD / IN_FLIGHT as u32,
        }
    }

    /// The worker has answered a chunk.
    fn answered(&mut self) {
        let now = Instant::now();
        let since = now - self.last;
        self.last = now;
        self.per_chunk = (self.per_chunk * 3 + since) / 4;
    }

    /// How many chunks the worker should hold now.
    fn in_flight(&self) -> usize {
        let chunks = WORK_AHEAD.as_nanos() / self.per_chunk.as_nanos().max(1);
        usize::try_from(chunks).map_or(MOST_IN_FLIGHT, |n| n.clamp(IN_FLIGHT, MOST_IN_FLIGHT))
    }
}

impl<T, F, R> Run<T, F, R>
where
    F: Fn(T) -> R,
    R: Serialize + DeserializeOwned,
{
    fn start(items: Items<T>, f: F, pool: &Pool, chunksize: usize) -> Result<Self> {
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
            leaving: Vec::new(),
            failed: VecDeque::new(),
            processes: pool.processes,
            max_message: pool.max_message,
            turn: 0,
            ends_marked: false,
        };
        for _ in 0..pool.processes {
            run.fork_worker()?;
        }
        run.mark_ends();
        Ok(run)
    }

    /// Forks a worker for the next pending chunks, if there are any.
    ///
    /// Workers must not keep the parent's ends of the pipes (their own or another
    /// worker's), or the end of a stream would never reach them; nor the other workers'
    /// pidfds, which are the parent's. The run's first workers, forked by
    /// [`start`](Self::start), close them themselves as they start, by number: until
    /// `start` returns, the run is a local of that call, and nothing else owns it, so in
    /// the worker's copy of memory nothing reaches the objects that own those numbers (the
    /// worker runs `serve` and leaves with `_exit`, never returning to that frame). Marks
    /// ([`Connection::set_inheritable`]) would do it for any fork, but while an end is
    /// marked, each fork waits for the parent's word before the child may run (see
    /// `fork`), which cost each worker about 60 µs here. Once `start` returns, the run may
    /// be anywhere (an `imap` iterator in a thread-local, which `exit` drops in a worker,
    /// say): the ends are marked ([`mark_ends`](Self::mark_ends)), both for the processes
    /// the caller forks while the run lasts and for a worker forked to replace one lost,
    /// which lets go of them as any child does. (It keeps the other workers' pidfds.)
    fn fork_worker(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (ours, theirs) = UnixStream::pair()?;
        let mut conn = Connection::from_fd(ours.into());
        conn.set_max_message_size(self.max_message);
        let parents_ends: Vec<RawFd> = if self.ends_marked {
            conn.set_inheritable(false);
            Vec::new()
        } else {
            (self.workers.iter())
                .flat_map(|w| [w.conn.as_fd(), w.child.pidfd()])
                .chain(self.leaving.iter().map(Child::pidfd))
                .chain([conn.as_fd()])
                .map(|fd| fd.as_raw_fd())
                .collect()
        };
        let (items, f, limit) = (self.items.slots()?, &self.f, self.max_message);
        // The worker's end is made in the worker: a `Connection` made before the fork
        // would read one message at a time there, as a copy another process may read.
        let serve_on = move || {
            close_parents_ends(&parents_ends);
            serve(Connection::from_fd(theirs.into()), items, f, limit)
        };
        let child = fork(&mut Some(serve_on))?;
        self.workers.push(Worker {
            conn,
            child,
            tasks: VecDeque::new(),
            received: Vec::new(),
            told_no_more: false,
            pace: Pace::new(),
        });
        self.top_up(self.workers.len() - 1);
        Ok(())
    }

    /// Marks the parent's ends of the pipes, so that any process forked from now on lets go
    /// of them (see [`fork_worker`](Self::fork_worker)).
    fn mark_ends(&mut self) {
        for worker in &mut self.workers {
            worker.conn.set_inheritable(false);
        }
        self.ends_marked = true;
    }

    /// Gives worker `w` pending chunks until it holds its share: from then on their items
    /// are the worker's, so the parent hands them out (`Items::hand_out`). Its share is what its
    /// [`Pace`] says while chunks are many, and less when they are few: an equal part of
    /// the chunks not done yet, pending or held (down to one), so that no chunk waits
    /// behind another while some worker has nothing to do, and a worker forked after
    /// another is given as much as it was (with Python's default chunk size, 4 chunks a
    /// worker: a second worker given 2 of them waited idle for the other 2).
    ///
    /// A worker that still holds more than half its share is given nothing yet: it is
    /// topped up a few chunks at a time, with one write, and wakes once for them.
    ///
    /// Once no chunk is pending, every worker is told that no more will come (its pipe is
    /// shut for writing): each leaves as soon as it has sent its last answer, and its exit
    /// overlaps with the parent reading the others' answers, instead of following them.
    fn top_up(&mut self, w: usize) {
        let held: usize = self.workers.iter().map(|worker| worker.tasks.len()).sum();
        let worker = &mut self.workers[w];
        let share = share(
            self.pending.len(),
            held,
            self.processes,
            worker.pace.in_flight(),
        );
        if worker.told_no_more || worker.tasks.len() > share / 2 {
            return;
        }
        while worker.tasks.len() < share {
            let Some(task) = self.pending.pop_front() else {
                break;
            };
            self.items.hand_out(task.end);
            // If the worker is dead, the send fails; `next_chunk` finds out from its pidfd.
            let _ = worker.conn.send_later(&(task.start, task.end));
            worker.tasks.push_back(task);
        }
        let _ = worker.conn.flush();
        if self.pending.is_empty() {
            for worker in self.workers.iter_mut().filter(|w| !w.told_no_more) {
                worker.told_no_more = true;
                let _ = worker.conn.shut_writing();
            }
        }
    }

    /// Waits for a worker to finish its chunk or die; `None` once every chunk is done.
    /// Returns the chunk's first position and its results.
    fn next_chunk(&mut self) -> Result<Option<(usize, Finished<R>)>> {
        loop {
            if let Some(failed) = self.failed.pop_front() {
                return Ok(Some(failed));
            }
            if self.workers.is_empty() && !self.pending.is_empty() {
                // Chunks are left, and no worker to run them: a new one, or else the reason
                // for each item of the next chunk (the one after tries again: what kept a
                // worker from starting may pass).
                match self.fork_worker() {
                    Ok(()) => continue,
                    Err(e) => {
                        let task = self.pending.pop_front().expect("not empty");
                        return Ok(Some((task.start, not_started(task, &e))));
                    }
                }
            }
            if self.workers.is_empty() {
                for mut child in self.leaving.drain(..) {
                    child.end_within(EXIT_GRACE)?;
                }
                return Ok(None);
            }
            let (w, readable) = self.ready_worker()?;
            let worker = &mut self.workers[w];
            let task = worker.tasks.front().cloned().unwrap_or(0..0);
            let answered = worker.received.len();
            debug_assert!(answered <= task.len(), "a Part is bounded by what is left");
            let reply = if readable {
                let exited = worker.child.pidfd();
                let seed = ReplySeed::<R>::new(task.len() - answered);
                Some(
                    worker
                        .conn
                        .recv_seed_until(seed, Until::WriterExits(exited)),
                )
            } else {
                None // exited, and nothing to read
            };
            match reply {
                Some(Ok(Reply::Done(bytes))) if answered == 0 => {
                    self.chunk_done(w);
                    let len = task.len();
                    return Ok(Some((task.start, Finished::Encoded { bytes, len })));
                }
                Some(Ok(Reply::Part(outcomes))) => {
                    worker.received.extend(outcomes);
                    if worker.received.len() == task.len() {
                        let outcomes = std::mem::take(&mut worker.received);
                        self.chunk_done(w);
                        let results = self.results(task.clone(), outcomes);
                        return Ok(Some((task.start, Finished::from_results(results))));
                    }
                }
                // The worker exited (before or in the middle of an answer).
                None | Some(Err(Error::Closed | Error::Truncated { .. })) => {
                    return self.lost(w, Lost::Exited).map(Some);
                }
                // The worker sent something it should not (or the read failed): it is
                // broken, and may run on.
                Some(Err(why)) => return self.lost(w, Lost::Broken(why)).map(Some),
                Some(Ok(Reply::Done(_))) => {
                    let why = "the results of a whole chunk after some of its outcomes";
                    return self
                        .lost(w, Lost::Broken(Error::Decode(why.into())))
                        .map(Some);
                }
            }
        }
    }

    /// Waits until a worker has something to read, or has exited: `(index, readable)`.
    ///
    /// Workers are looked at in turns, from the one after the last one found, so that the
    /// answers of one that is always quick do not keep another's waiting (and that worker
    /// waiting for its next task).
    fn ready_worker(&mut self) -> Result<(usize, bool)> {
        let (turn, n) = (self.turn, self.workers.len());
        let order = move || (0..n).map(move |k| (turn + k) % n);
        // A message already in a buffer is ready now, whatever the kernel says. Otherwise,
        // bytes that have come are read without asking poll(2) first: when workers answer
        // faster than the parent reads (tiny tasks), one nearly always has, and a poll per
        // answer would be a system call for nothing (a chunksize-1 map ran about 15% faster).
        let found = order()
            .find(|&w| self.workers[w].conn.has_buffered())
            .or_else(|| {
                order().find(|&w| {
                    let conn = &mut self.workers[w].conn;
                    conn.read_waiting();
                    conn.has_buffered()
                })
            });
        if let Some(w) = found {
            self.turn = w + 1;
            return Ok((w, true));
        }
        let mut fds: Vec<PollFd> = Vec::with_capacity(2 * n);
        for worker in &self.workers {
            fds.push(PollFd::new(worker.conn.as_fd(), PollFlags::POLLIN));
            fds.push(PollFd::new(worker.child.pidfd(), PollFlags::POLLIN));
        }
        poll_until(&mut fds, None)?;
        let ready = |i: usize| fds[i].any().unwrap_or(false);
        let readable = order().find(|&w| ready(2 * w));
        let exited = order().find(|&w| ready(2 * w + 1));
        let (w, readable) = match (readable, exited) {
            (Some(w), _) => (w, true),
            (None, Some(w)) => (w, false),
            (None, None) => unreachable!("poll with no deadline returns when something is ready"),
        };
        self.turn = w + 1;
        Ok((w, readable))
    }

    /// Turns a chunk's outcomes into results and errors, by position.
    fn results(&self, task: Range<usize>, outcomes: Vec<Outcome<R>>) -> Vec<Result<R>> {
        let limit = self.max_message;
        let results = task.zip(outcomes).map(|(index, outcome)| {
            outcome.map_err(|failure| match failure {
                Failure::Panicked(message) => Error::TaskPanicked { index, message },
                Failure::TooLarge(len) => Error::ResultTooLarge { index, len, limit },
                Failure::Decode(why) => Error::Decode(why),
                Failure::Encode(why) => Error::Encode(why),
            })
        });
        results.collect()
    }

    /// Worker `w` is gone: reap it (killed if it does not leave), give back the chunks it
    /// had not begun, start another worker for the chunks left (if one can be started),
    /// and report the items of its chunk that it had not answered.
    ///
    /// A worker that exited began none of the chunks after the one it was on: it runs
    /// them in turn. One that is `Broken` (its answer did not decode) runs on after
    /// sending it, and may have begun the next ones already: those are reported as failed
    /// too, never given to another worker, which would run their items a second time.
    fn lost(&mut self, w: usize, how: Lost) -> Result<(usize, Finished<R>)> {
        let Worker {
            conn,
            mut child,
            mut tasks,
            received,
            ..
        } = self.workers.swap_remove(w);
        let task = tasks.pop_front().unwrap_or(0..0);
        // Not begun: its items are still whole in the parent (and in every worker forked
        // from it), and the new worker takes it first, since it goes to the front.
        while let Lost::Exited = how
            && let Some(not_begun) = tasks.pop_back()
        {
            self.pending.push_front(not_begun);
        }
        drop(conn);
        let exitcode = child.end_within(EXIT_GRACE)?;
        let pid = child.pid();
        drop(child); // its pidfd too, before a worker forked in its place copies it
        let died = |index| match &how {
            Lost::Exited => Error::WorkerDied {
                index,
                pid,
                exitcode,
            },
            Lost::Broken(why) => Error::unreadable_answer(pid, why),
        };
        for maybe_begun in tasks {
            let failures = maybe_begun.clone().map(|index| Err(died(index))).collect();
            let failed = (maybe_begun.start, Finished::Failed(failures));
            self.failed.push_back(failed);
        }
        // If none can be started (no process or descriptor left), the workers left take
        // the chunks, and with none left, `next_chunk` tries again.
        let _ = self.fork_worker();
        let answered = received.len();
        let mut results = self.results(task.clone(), received);
        results.extend((task.start + answered..task.end).map(|index| Err(died(index))));
        Ok((task.start, Finished::Failed(results)))
    }

    /// Worker `w` has finished its first chunk: give it another, or let it go once it has
    /// nothing left to do.
    fn chunk_done(&mut self, w: usize) {
        self.workers[w].tasks.pop_front();
        self.workers[w].received.clear();
        self.workers[w].pace.answered();
        self.top_up(w);
        if self.workers[w].tasks.is_empty() {
            let worker = self.workers.swap_remove(w);
            drop(worker.conn); // the worker reads the end of the stream and exits
            self.leaving.push(worker.child);
        }
    }
}

/// A worker's share of the chunks not done, `pending` or `held` by a worker, at least one
/// and at most `most`. While every worker can have two or more, an equal part of them all:
/// a worker forked after another is given as many as it was. With fewer, an equal part of
/// those pending only (one, mostly), so that two chunks never wait on one worker while
/// another worker is free or not forked yet.
fn share(pending: usize, held: usize, processes: usize, most: usize) -> usize {
    let not_done = pending + held;
    let equal = if not_done >= 2 * processes {
        not_done.div_ceil(processes)
    } else {
        pending / processes
    };
    equal.clamp(1, most)
}

impl<T, F, R> Drop for Run<T, F, R> {
    fn drop(&mut self) {
        // Workers first (dropping one kills and reaps it); then, with the fields, the
        // items, which drops those never handed out and gives their memory back.
        self.workers.clear();
        self.leaving.clear();
    }
}

/// In a worker forked by [`Run::start`], as it starts: closes the parent's descriptors of
/// the run, `fds` (none for a worker forked later, see [`Run::fork_worker`]).
fn close_parents_ends(fds: &[RawFd]) {
    for &fd in fds {
        // SAFETY: each number is open here (a fork copies every descriptor) and owned by a
        // `Connection` or a `Child` of the run, which was a local of `Run::start` when this
        // worker was forked (the list is empty otherwise): in this worker's copy of memory
        // nothing else owns the run, and the worker never returns to that frame (it runs
        // `serve` and leaves with `_exit`), so no object uses or closes the number again.
        unsafe { nix::libc::close(fd) };
    }
}

/// The worker's loop: receive a range of positions, apply `f` to those items, send back
/// the results; leave at the end of the stream (the parent has no more chunks, or is
/// gone). Runs in the child only, on the items' slots, which it shares with the parent
/// (see `items`): it takes only the items of the chunks it is given.
fn serve<T, R, F>(mut conn: Connection, items: &mut [ManuallyDrop<T>], f: &F, limit: usize) -> i32
where
    F: Fn(T) -> R,
    R: Serialize,
{
    // A process this task forks must not keep the worker's end of the pipe.
    conn.set_inheritable(false);
    conn.set_max_message_size(limit);
    panics::report_quietly();
    heap::keep_freed_memory();
    let mut taken = Taken::default();
    loop {
        let (start, end): (usize, usize) = match conn.recv() {
            Ok(task) => task,
            Err(Error::Closed) => return 0,
            Err(e) => {
                eprintln!("pool worker: {e}");
                return 1;
            }
        };
        if start > end || end > items.len() || !taken.take(start..end) {
            eprintln!("pool worker: chunk {start}..{end} given twice, or out of range");
            return 1;
        }
        let reply = run_chunk(&mut items[start..end], f);
        // At once, not batched with the next chunk's: that one may take long, or kill this
        // worker, and these results must not wait for it, nor die with it.
        match send_reply(&mut conn, reply).and_then(|()| conn.flush()) {
            Ok(()) => {}
            // The parent stopped listening (a map that ended early, a parent gone): it is
            // about to kill this worker, or has died; nothing to say.
            Err(Error::Closed) => return 0,
            Err(e) => {
                eprintln!("pool worker: {e}");
                return 1;
            }
        }
    }
}

/// The positions a worker has been given, as ranges in increasing order, none touching
/// the next: each item is moved out of its slot when it runs, so no position may be given
/// twice. Chunks usually come in increasing order and make one range; a chunk given back
/// after its worker died may come later, below the others.
#[derive(Default)]
struct Taken(Vec<Range<usize>>);

impl Taken {
    /// Records `chunk` as given, or says `false` if it overlaps a chunk given before.
    fn take(&mut self, chunk: Range<usize>) -> bool {
        if chunk.is_empty() {
            return true;
        }
        // The first range that ends after the chunk starts: the only one it could overlap.
        let at = self.0.partition_point(|range| range.end <= chunk.start);
        if self.0.get(at).is_some_and(|range| range.start < chunk.end) {
            return false;
        }
        let joins_before = at > 0 && self.0[at - 1].end == chunk.start;
        let joins_after = self.0.get(at).is_some_and(|range| range.start == chunk.end);
        match (joins_before, joins_after) {
            (true, true) => {
                self.0[at - 1].end = self.0[at].end;
                self.0.remove(at);
            }
            (true, false) => self.0[at - 1].end = chunk.end,
            (false, true) => self.0[at].start = chunk.start,
            (false, false) => self.0.insert(at, chunk),
        }
        true
    }
}

/// Applies `f` to a chunk's items, taking each one, and catching panics: every result, or
/// (after a panic) an outcome per item.
fn run_chunk<T, R, F>(
    chunk: &mut [ManuallyDrop<T>],
    f: &F,
) -> std::result::Result<Vec<R>, Vec<Outcome<R>>>
where
    F: Fn(T) -> R,
{
    let items = chunk.iter_mut().map(|slot| {
        // SAFETY: `serve` checks that no chunk overlaps one this process was given before
        // (`Taken`), so it takes each slot at most once, and never reads it again.
        unsafe { ManuallyDrop::take(slot) }
    });
    panics::call_each(items, f).map_err(|outcomes| {
        let failed = |outcome: std::result::Result<R, String>| outcome.map_err(Failure::Panicked);
        outcomes.into_iter().map(failed).collect()
    })
}

/// Queues a chunk's reply (see [`Connection::send_later`]) in one message if it fits the
/// limit and every result encodes, else one item at a time; a result that alone is over
/// the limit, or cannot be encoded, is sent as the failure of its item. The caller flushes.
fn send_reply<R: Serialize>(
    conn: &mut Connection,
    chunk: std::result::Result<Vec<R>, Vec<Outcome<R>>>,
) -> Result<()> {
    let outcomes = match chunk {
        Ok(results) => {
            if let Ok(encoded) = codec::encode_call(&results) {
                let done = Reply::<&[Outcome<R>]>::Done(encoded.into());
                if refused(conn.send_later(&done))?.is_none() {
                    return Ok(());
                }
            }
            results.into_iter().map(Ok).collect()
        }
        Err(outcomes) => {
            if refused(conn.send_later(&Reply::Part(&outcomes[..])))?.is_none() {
                return Ok(());
            }
            outcomes
        }
    };
    for outcome in &outcomes {
        let part = Reply::Part(std::slice::from_ref(outcome));
        let Some(refusal) = refused(conn.send_later(&part))? else {
            continue;
        };
        // The item goes as its failure: its own (a panic whose message is long), or why
        // its result could not go; the failure's text is cut to what the limit leaves.
        let failure = match outcome {
            Err(failure) => failure.clone(),
            Ok(_) => refusal,
        };
        let room = conn.max_message_size().saturating_sub(FAILURE_FRAMING);
        let failed: Outcome<R> = Err(failure.shortened(room));
        conn.send_later(&Reply::Part(std::slice::from_ref(&failed)))?;
    }
    Ok(())
}

/// What a reply of one failure adds to its text: the reply's, the outcome's and the
/// failure's tags (a byte each), the list's length (a byte), and the text's length (at
/// most 9 bytes). With [`TASK_MESSAGE`], the smallest limit, a text of 5 bytes still fits,
/// and so does a `TooLarge` failure (its length, at most 9 bytes).
const FAILURE_FRAMING: usize = 13;

/// What became of a message given to [`Connection::send_later`]: `None` if it was queued;
/// the failure to send for its item instead if it was over the limit or did not encode
/// (nothing of it was queued then, unless it was a value too big to buffer whose encoding
/// failed half-way into the pipe: the pipe is shut then, the next send fails with
/// [`Error::Unwritable`], the worker says so and stops, and its items are `WorkerDied`).
/// Any other error is the pipe's: the worker stops.
fn refused(queued: Result<()>) -> Result<Option<Failure>> {
    match queued {
        Ok(()) => Ok(None),
        Err(Error::TooLarge { len, .. }) => Ok(Some(Failure::TooLarge(len))),
        Err(Error::Encode(why)) => Ok(Some(Failure::Encode(why))),
        Err(e) => Err(e),
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_bytes::ByteBuf;

    use super::{
        IN_FLIGHT, MOST_IN_FLIGHT, Outcome, Pace, Reply, ReplySeed, TASK_MESSAGE, Taken,
        WORK_AHEAD, share,
    };
    use crate::codec;
    use crate::error::Error;

    #[test]
    fn a_reply_with_more_outcomes_than_the_chunk_has_left_is_refused() {
        let outcomes: Vec<Outcome<()>> = vec![Ok(()); 100];
        let mut part = Vec::new();
        codec::encode_into(&Reply::Part(&outcomes[..]), &mut part).unwrap();
        let read = codec::decode_seed(&part, ReplySeed::<()>::new(100));
        assert!(matches!(read, Ok(Reply::Part(outcomes)) if outcomes.len() == 100));
        let refused = codec::decode_seed(&part, ReplySeed::<()>::new(3));
        assert!(
            matches!(&refused, Err(Error::Decode(why)) if why.contains("at most 3")),
            "{:?}",
            refused.map(drop)
        );
        let mut done = Vec::new();
        let bytes = ByteBuf::from(vec![1, 2, 3]);
        codec::encode_into(&Reply::<&[Outcome<()>]>::Done(bytes.clone()), &mut done).unwrap();
        let read = codec::decode_seed(&done, ReplySeed::<()>::new(0));
        assert!(matches!(read, Ok(Reply::Done(b)) if b == bytes));
    }

    #[test]
    fn a_worker_forked_after_another_is_given_as_many_chunks_and_few_chunks_go_one_by_one() {
        // Python's default chunk size makes 8 chunks for 2 workers: the first takes 4, and
        // the second, forked next, the other 4 (given 2, it waited for the last 2).
        assert_eq!(share(8, 0, 2, IN_FLIGHT), 4);
        assert_eq!(share(4, 4, 2, IN_FLIGHT), 4);
        assert_eq!(
            share(1_000, 0, 2, IN_FLIGHT),
            IN_FLIGHT,
            "no more than the pace says"
        );
        // Few chunks (two slow ones and a quick one, for 2 workers): one at a time, or both
        // slow ones would wait on the first worker.
        assert_eq!(share(3, 0, 2, IN_FLIGHT), 1);
        assert_eq!(share(2, 1, 2, IN_FLIGHT), 1);
        assert_eq!(share(5, 0, 4, IN_FLIGHT), 1);
        assert_eq!(share(0, 2, 2, IN_FLIGHT), 1);
    }

    #[test]
    fn a_worker_holds_more_chunks_the_quicker_they_are() {
        let pace = |per_chunk| Pace {
            per_chunk,
            ..Pace::new()
        };
        assert_eq!(
            Pace::new().in_flight(),
            IN_FLIGHT,
            "until its answers say more"
        );
        assert_eq!(pace(Duration::from_secs(1)).in_flight(), IN_FLIGHT);
        assert_eq!(pace(WORK_AHEAD / 10).in_flight(), 10);
        assert_eq!(pace(Duration::from_micros(2)).in_flight(), MOST_IN_FLIGHT);
        assert_eq!(pace(Duration::ZERO).in_flight(), MOST_IN_FLIGHT);
    }

    #[test]
    fn a_pace_follows_the_time_between_answers() {
        let mut pace = Pace::new();
        for _ in 0..40 {
            pace.answered(); // answers that come at once: chunks that take next to no time
        }
        assert_eq!(pace.in_flight(), MOST_IN_FLIGHT);
        pace.last -= Duration::from_secs(1); // a chunk that took a second
        pace.answered();
        assert_eq!(
            pace.in_flight(),
            IN_FLIGHT,
            "one slow chunk is enough to hold back"
        );
    }

    #[test]
    fn the_longest_task_message_fits_the_smallest_limit() {
        let mut buf = Vec::new();
        crate::codec::encode_into(&(usize::MAX, usize::MAX), &mut buf).unwrap();
        assert_eq!(buf.len(), TASK_MESSAGE);
    }

    #[test]
    fn a_position_is_given_once_in_any_order() {
        let mut taken = Taken::default();
        assert!(taken.take(4..6) && taken.take(6..8), "in order");
        assert!(taken.take(0..2), "below, after a worker died");
        assert!(taken.take(2..4), "the gap");
        assert_eq!(
            (taken.0.len(), &taken.0[0]),
            (1, &(0..8)),
            "merged into one range"
        );
        for twice in [0..1, 7..9, 3..5, 0..8] {
            assert!(!taken.take(twice.clone()), "{twice:?} again");
        }
        assert!(taken.take(10..12) && !taken.take(9..11) && taken.take(8..10));
        assert_eq!((taken.0.len(), &taken.0[0]), (1, &(0..12)));
    }
}
