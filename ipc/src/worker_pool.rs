//! `WorkerPool`: a long-lived pool of worker processes, with Python's `Pool` API, on any
//! start method. Python: `ctx.Pool(processes, initializer, initargs, maxtasksperchild)`.
//!
//! The workers start once and run task after task: plain functions with arguments that
//! serde can encode, sent by their place in the program (see [`get_context`](crate::get_context)), so the
//! pool works with forkserver and spawn as with fork. ([`Pool`](crate::Pool) forks its
//! workers per call instead, and so takes closures.)
//!
//! `ipc` starts no thread, so nothing happens behind the caller's back: results are read
//! when the caller waits for one ([`AsyncResult::get`], the iterators, `join`), and each
//! such wait also hands out the tasks that are waiting. Each worker has up to two tasks at
//! a time, so that it never sits idle while the parent has tasks left.
//!
//! A worker that dies (killed, `exit`, a crash) is an [`Error::WorkerDied`] for the task it
//! was running; the task it had not begun goes to another worker, and a new worker takes
//! its place (if one cannot be started, the others go on, and the next wait tries again).
//! Python's `Pool` waits forever there; `concurrent.futures.ProcessPoolExecutor` breaks
//! the whole pool. A worker that sends what cannot be read (bytes a task wrote into its
//! pipe, say) is ended, and its tasks are an [`Error::Decode`] that says so: it may have
//! begun the second, which then runs nowhere else.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::marker::PhantomData;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_bytes::ByteBuf;

use crate::call::{Call, Failure, Function, Outcomes};
use crate::child::Child;
use crate::codec;
use crate::connection::{Connection, DEFAULT_MAX_MESSAGE};
use crate::context::StartMethod;
use crate::deadline::{deadline, poll_until};
use crate::descriptor;
use crate::error::{Error, Result};
use crate::remote::{self, Job, Reply, Request, Starting};

/// Tasks a worker holds at a time, at most: the one it runs, and the next.
const IN_FLIGHT: usize = 2;

/// The most bytes of tasks a busy worker is given (its next, behind the one it runs, which
/// it may not have read yet either): what its socket holds whole (about 200 KiB by
/// default) with room to spare. See [`State::dispatch`].
const BUSY_TASK_MAX: usize = 64 * 1024;

/// How long writing a task waits for a worker to make room in its socket: a moment for
/// one that runs, since it reads the task as it comes; one that is stopped gets the rest
/// during the pool's next waits. See [`State::dispatch`].
const WRITE_GRACE: Duration = Duration::from_secs(1);

/// How long after a worker could not be started (its initializer failed, say) the pool
/// starts the next, while another worker is there to run the tasks: it tries again now
/// and then, not as fast as it can fork. (Python's pool looks every 0.1 s.)
const RESTART_PAUSE: Duration = Duration::from_millis(100);

/// How long a worker that has closed its connection may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Sets up a [`WorkerPool`]; made by [`Context::pool`](crate::Context::pool).
#[derive(Debug)]
pub struct WorkerPoolBuilder {
    method: StartMethod,
    processes: usize,
    initializer: Option<Result<(Job, Vec<OwnedFd>)>>,
    max_tasks: Option<u64>,
}

impl WorkerPoolBuilder {
    pub(crate) fn new(method: StartMethod, processes: usize) -> WorkerPoolBuilder {
        WorkerPoolBuilder {
            method,
            processes,
            initializer: None,
            max_tasks: None,
        }
    }

    /// Runs `initializer(args)` in each worker as it starts. Python: `initializer=`,
    /// `initargs=`. If it fails (panics), the worker cannot start, and the pool says why.
    /// As in Python, this is where a worker gets what is shared by inheritance (a
    /// [`Queue`](crate::Queue), a [`Descriptor`](crate::Descriptor)...): the tasks' own
    /// arguments cannot hold one.
    pub fn initializer<A>(mut self, initializer: fn(A), args: A) -> WorkerPoolBuilder
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        self.initializer = Some(descriptor::encode_args(&args).and_then(|(bytes, fds)| {
            let job = Job {
                call: Call::one(initializer)?,
                args: bytes.into(),
            };
            Ok((job, fds))
        }));
        self
    }

    /// Replaces each worker after it has run `tasks` tasks. Python: `maxtasksperchild=`.
    ///
    /// # Panics
    /// If `tasks` is 0.
    pub fn max_tasks_per_child(mut self, tasks: u64) -> WorkerPoolBuilder {
        assert!(tasks > 0, "max_tasks_per_child must be at least 1");
        self.max_tasks = Some(tasks);
        self
    }

    /// Starts the workers, and returns without waiting for them to be ready, as Python's
    /// `Pool()` does: an initializer may take long (or never end), and the waits that
    /// follow read each worker's answer; tasks go to workers once they are ready. When no
    /// worker can start (its initializer fails or exits, a spawned program forgot
    /// [`spawn::init`](crate::spawn::init)), the reason is the answer of the first task
    /// waiting, which then never runs, and the next wait starts another worker. An error
    /// here means a worker could not be started at all: a fork refused, no forkserver, no
    /// descriptor left.
    ///
    /// ```
    /// use ipc::{StartMethod, get_context};
    ///
    /// fn fail(_: ()) {
    ///     panic!("no database");
    /// }
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    ///
    /// let pool = get_context(StartMethod::Fork).pool(1).initializer(fail, ()).start()?;
    /// assert!(matches!(pool.apply(square, 3), Err(ipc::Error::Refused(_))));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    ///
    /// # Panics
    /// If the pool has no process.
    pub fn start(self) -> Result<WorkerPool> {
        assert!(self.processes > 0, "a pool needs at least one process");
        let (initializer, descriptors) = match self.initializer.transpose()? {
            Some((job, fds)) => (Some(job), fds),
            None => (None, Vec::new()),
        };
        let pool = WorkerPool {
            state: RefCell::new(State {
                method: self.method,
                size: self.processes,
                initializer,
                descriptors,
                max_tasks: self.max_tasks,
                workers: Vec::new(),
                queue: VecDeque::new(),
                done: HashMap::new(),
                unfinished: HashSet::new(),
                abandoned: HashSet::new(),
                next_id: 0,
                closed: false,
                terminated: false,
                failed_starts: 0,
                restart_after: None,
            }),
        };
        pool.state.borrow_mut().start_workers()?;
        Ok(pool)
    }
}

/// A long-lived pool of worker processes; see the [module](self). Made by
/// [`Context::pool`](crate::Context::pool).
///
/// ```
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let ctx = ipc::get_context(ipc::StartMethod::Forkserver);
/// let pool = ctx.pool(2).start()?;
/// assert_eq!(pool.map(square, 1..=4)?, [1, 4, 9, 16]);
/// let later = pool.apply_async(square, 5)?;
/// assert_eq!(later.get()?, 25);
/// # drop(pool);
/// # ipc::forkserver::stop();
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Debug)]
pub struct WorkerPool {
    state: RefCell<State>,
}

#[derive(Debug)]
struct State {
    method: StartMethod,
    size: usize,
    initializer: Option<Job>,
    /// What the initializer's arguments hold: each new worker gets copies.
    descriptors: Vec<OwnedFd>,
    max_tasks: Option<u64>,
    workers: Vec<Worker>,
    /// Tasks no worker has yet.
    queue: VecDeque<Task>,
    /// Results not collected yet, by task id.
    done: HashMap<u64, Outcome>,
    /// Tasks handed in whose results have not come yet.
    unfinished: HashSet<u64>,
    /// Unfinished tasks whose results nobody will collect (their handle was dropped):
    /// each result is let go as it comes, as Python drops a job from its pool's cache.
    abandoned: HashSet<u64>,
    next_id: u64,
    closed: bool,
    terminated: bool,
    /// Workers that could not start in a row, none being ready (see
    /// [`State::answer_start`]).
    failed_starts: usize,
    /// When the pool may start a worker again after one could not start (see
    /// [`RESTART_PAUSE`]).
    restart_after: Option<Instant>,
}

/// A job, and what it is for the caller: its id, and the positions of its items in the
/// call that made it (for errors).
#[derive(Debug)]
struct Task {
    id: u64,
    items: Range<usize>,
    job: Job,
    /// The length of its message.
    len: usize,
}

#[derive(Debug)]
struct Worker {
    conn: Connection,
    child: Child,
    /// Until it says it is ready (its initializer has run): it gets no task before.
    starting: Option<Starting>,
    /// The tasks it holds, the one it runs first.
    tasks: VecDeque<Task>,
    /// Tasks it has finished.
    finished: u64,
}

/// A task: the call and its encoded arguments.
fn job<A: Serialize + ?Sized>(call: Result<Call>, args: &A) -> Result<Job> {
    Ok(Job {
        call: call?,
        args: codec::encode_call(args)?.into(),
    })
}

impl WorkerPool {
    /// The number of workers.
    pub fn processes(&self) -> usize {
        self.state.borrow().size
    }

    /// Runs `f(args)` in a worker and waits for the result. Python: `pool.apply(f, (args,))`.
    pub fn apply<A, R>(&self, f: fn(A) -> R, args: A) -> Result<R>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.apply_async(f, args)?.get()
    }

    /// Hands `f(args)` to a worker and returns at once: the task is written to a worker
    /// with room, else it waits in the pool, which hands it out during the caller's next
    /// waits on the pool (so do tasks handed in before any worker has said it is ready,
    /// right after [`start`](WorkerPoolBuilder::start)). Python: `pool.apply_async`. (Writing a task longer than a socket
    /// holds, to a worker with nothing to do, lasts as long as the worker takes to read
    /// it, a second at most: the rest of a task for a worker stopped with `SIGSTOP` is
    /// written during the pool's next waits.)
    /// [`Error::TooLarge`] if the task's message (its arguments, encoded) is over
    /// [`DEFAULT_MAX_MESSAGE`]: no worker could receive it. (So is a chunk of `map`'s.)
    pub fn apply_async<A, R>(&self, f: fn(A) -> R, args: A) -> Result<AsyncResult<'_, R>>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let id = self.submit(job(Call::one(f), &args)?, 0..1)?;
        Ok(AsyncResult {
            pool: self,
            id,
            kept: None,
            result: PhantomData,
        })
    }

    /// Applies `f` to every item and returns the results in input order. Python:
    /// `pool.map(f, items)`, with its default chunk size, `ceil(len / (4 × processes))`.
    /// The first failure is the error.
    pub fn map<A, R, I>(&self, f: fn(A) -> R, items: I) -> Result<Vec<R>>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = A>,
    {
        self.map_async(f, items)?.get()
    }

    /// Like [`map`](Self::map), but returns at once. Python: `pool.map_async`.
    pub fn map_async<A, R, I>(&self, f: fn(A) -> R, items: I) -> Result<MapResult<'_, R>>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = A>,
    {
        self.map_chunks(f, items)
    }

    /// Like [`map`](Self::map) for a function of two arguments, each item a pair.
    /// Python: `pool.starmap(f, pairs)`.
    pub fn starmap<A, B, R, I>(&self, f: fn(A, B) -> R, items: I) -> Result<Vec<R>>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = (A, B)>,
    {
        self.map_chunks(f, items)?.get()
    }

    /// Yields `f(item)` for each item, in input order, taking items from `items` only as
    /// workers need them: the iterator may be long, or endless. Python: `pool.imap`
    /// (chunk size 1).
    ///
    /// An `imap` begun before [`close`](Self::close) goes on taking its items, as in
    /// Python. Once the pool is [`terminate`](Self::terminate)d, no more are taken: the
    /// items handed in and the first refused yield [`Error::PoolTerminated`], and the
    /// iteration ends.
    pub fn imap<A, R, I>(&self, f: fn(A) -> R, items: I) -> Result<Imap<'_, A, R, I::IntoIter>>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = A>,
    {
        Imap::new(self, f, items.into_iter(), true)
    }

    /// Like [`imap`](Self::imap), but yields results as they finish. Python:
    /// `pool.imap_unordered`.
    pub fn imap_unordered<A, R, I>(
        &self,
        f: fn(A) -> R,
        items: I,
    ) -> Result<Imap<'_, A, R, I::IntoIter>>
    where
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
        I: IntoIterator<Item = A>,
    {
        Imap::new(self, f, items.into_iter(), false)
    }

    /// Takes no new tasks from now on; those handed in are still run. Python: `pool.close()`.
    /// An [`imap`](Self::imap) begun before goes on handing in its items as they are
    /// needed (Python hands in all of them when `imap` is called), with workers started
    /// again for them if the pool was joined.
    pub fn close(&self) {
        self.state.borrow_mut().closed = true;
    }

    /// Waits for every task handed in to finish, and for workers still starting to finish
    /// their initializer (an initializer that never ends keeps `join` waiting, as in
    /// Python), then for the workers to exit.
    /// Call [`close`](Self::close) (or [`terminate`](Self::terminate)) first, as in Python.
    /// Results not collected yet stay until they are.
    pub fn join(&self) -> Result<()> {
        let mut state = self.state.borrow_mut();
        if !state.closed && !state.terminated {
            return Err(Error::PoolRunning);
        }
        // Workers still starting finish their initializer first, as in Python.
        let busy = |w: &Worker| !w.tasks.is_empty() || w.starting.is_some();
        while !state.queue.is_empty() || state.workers.iter().any(busy) {
            state.pump(None)?;
        }
        for mut worker in state.workers.drain(..) {
            drop(worker.conn); // the worker sees the end of its tasks and exits
            worker.child.end_within(EXIT_GRACE)?;
        }
        Ok(())
    }

    /// Stops every worker at once; the tasks not finished are lost ([`Error::PoolTerminated`]
    /// for their results). Python: `pool.terminate()`; dropping the pool does it too.
    pub fn terminate(&self) {
        let mut state = self.state.borrow_mut();
        state.terminated = true;
        state.workers.clear(); // dropping a worker kills and reaps it
        state.queue.clear();
        state.unfinished.clear();
        state.abandoned.clear();
    }

    /// Hands a task to the pool: it goes to a worker now, or when one has room.
    fn submit(&self, job: Job, items: Range<usize>) -> Result<u64> {
        self.check_open()?;
        self.hand_in(job, items)
    }

    /// [`Error::PoolTerminated`] or [`Error::PoolClosed`] if the pool takes no new calls.
    fn check_open(&self) -> Result<()> {
        let state = self.state.borrow();
        if state.terminated {
            return Err(Error::PoolTerminated);
        }
        if state.closed {
            return Err(Error::PoolClosed);
        }
        Ok(())
    }

    /// Hands a task to the pool, closed or not: for a call begun before `close`.
    /// [`Error::TooLarge`] if the task's message is over the limit: no worker could
    /// receive it.
    fn hand_in(&self, job: Job, items: Range<usize>) -> Result<u64> {
        let len = codec::encoded_len(&job)?;
        if len > DEFAULT_MAX_MESSAGE {
            return Err(Error::TooLarge {
                len: len as u64,
                limit: DEFAULT_MAX_MESSAGE,
            });
        }
        let mut state = self.state.borrow_mut();
        if state.terminated {
            return Err(Error::PoolTerminated);
        }
        let id = state.next_id;
        state.next_id += 1;
        state.unfinished.insert(id);
        state.queue.push_back(Task {
            id,
            items,
            job,
            len,
        });
        state.read_start_answers();
        state.dispatch(None);
        Ok(id)
    }

    /// Splits `items` into Python's default chunks, one task each.
    ///
    /// The chunk size needs the number of items. An iterator that says exactly how many it
    /// holds (a vector's, a range, `iter().copied()` of a slice) is read a chunk at a time,
    /// each encoded as soon as it is gathered: the parent never holds a second copy of all
    /// the items. Any other is gathered whole first, as Python makes a list of it.
    fn map_chunks<F: Function>(
        &self,
        f: F,
        items: impl IntoIterator<Item = F::Args>,
    ) -> Result<MapResult<'_, F::Output>> {
        let items = items.into_iter();
        match items.size_hint() {
            (len, Some(most)) if len == most => self.map_in_chunks(f, items, len),
            _ => {
                let items: Vec<F::Args> = items.collect();
                let len = items.len();
                self.map_in_chunks(f, items.into_iter(), len)
            }
        }
    }

    /// Hands in `items` in chunks sized for `len` of them. An iterator that yields more or
    /// fewer than it said only makes more or fewer chunks.
    ///
    /// The chunks handed in so far are the result's from the start: if a chunk cannot be
    /// handed in, or the iterator panics, dropping the result lets go of them (they run,
    /// and their results are dropped as they come).
    fn map_in_chunks<F: Function>(
        &self,
        f: F,
        mut items: impl Iterator<Item = F::Args>,
        len: usize,
    ) -> Result<MapResult<'_, F::Output>> {
        let chunksize = len.div_ceil(4 * self.processes()).max(1);
        let call = Call::each(f)?;
        let mut result = MapResult {
            pool: self,
            tasks: Vec::new(),
            lens: Vec::new(),
            len: 0,
            kept: None,
            result: PhantomData,
        };
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            // One item at a time: `extend` would reserve what the iterator claims.
            for item in items.by_ref().take(chunksize) {
                chunk.push(item);
            }
            if chunk.is_empty() {
                return Ok(result);
            }
            let range = result.len..result.len + chunk.len();
            result.len = range.end;
            // A slice encodes as a vector does.
            let id = job(Ok(call), chunk.as_slice()).and_then(|job| self.submit(job, range))?;
            result.tasks.push(id);
            result.lens.push(chunk.len());
        }
    }

    /// The result of task `id`, waiting until `deadline` at most (`None` if it is not
    /// there by then).
    fn wait_for(&self, id: u64, deadline: Option<Instant>) -> Result<Option<Outcome>> {
        if !self.has_result(id, deadline)? {
            return Ok(None);
        }
        Ok(self.state.borrow_mut().done.remove(&id))
    }

    /// Whether the result of task `id` is there, waiting until `deadline` at most; it
    /// stays for [`wait_for`](Self::wait_for) to take.
    fn has_result(&self, id: u64, deadline: Option<Instant>) -> Result<bool> {
        let mut state = self.state.borrow_mut();
        loop {
            if state.done.contains_key(&id) {
                return Ok(true);
            }
            if state.terminated {
                return Err(Error::PoolTerminated);
            }
            // Each look deals with one event; when they keep coming (workers that fail
            // to start, one after another), the deadline still ends the wait.
            if !state.pump(deadline)? || past(deadline) {
                return Ok(state.done.contains_key(&id));
            }
        }
    }

    /// Takes task `id` back if no worker has it yet (it will not run), or else lets its
    /// result go when it comes.
    fn withdraw(&self, id: u64) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            let queued = state.queue.len();
            state.queue.retain(|task| task.id != id);
            if state.queue.len() < queued {
                state.unfinished.remove(&id);
                return;
            }
        }
        self.let_go(&[id]);
    }

    /// Tasks whose handle was dropped: their results, there or to come, are let go.
    fn let_go(&self, ids: &[u64]) {
        // A handle dropped while the state is borrowed (a panic inside the pool) keeps
        // its result rather than panicking again.
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return;
        };
        for &id in ids {
            if state.done.remove(&id).is_none() && state.unfinished.contains(&id) {
                state.abandoned.insert(id);
            }
        }
    }

    /// The first of `ids` to finish, and its result, waiting until `deadline` at most
    /// (`None` if none is there by then).
    fn wait_for_any(
        &self,
        ids: &[u64],
        deadline: Option<Instant>,
    ) -> Result<Option<(u64, Outcome)>> {
        let mut state = self.state.borrow_mut();
        let mut last_look = false;
        loop {
            if let Some(&id) = ids.iter().find(|id| state.done.contains_key(id)) {
                let result = state.done.remove(&id).expect("found above");
                return Ok(Some((id, result)));
            }
            if state.terminated {
                return Err(Error::PoolTerminated);
            }
            if last_look {
                return Ok(None);
            }
            // As in `has_result`: the deadline ends the wait even while events keep coming.
            last_look = !state.pump(deadline)? || past(deadline);
        }
    }
}

/// Whether `deadline` has passed (never, without one).
fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.terminate();
    }
}

impl State {
    /// Starts workers until there are `size` of them (see [`start_workers`]), and hands
    /// out waiting tasks; `true` if a task was answered instead. A worker that cannot be started (no process or descriptor left)
    /// is tried again at the next wait, and the workers there go on meanwhile: the error
    /// is an answer only when no worker is left to run the tasks (see
    /// [`not_started`](Self::not_started)).
    ///
    /// [`start_workers`]: Self::start_workers
    fn fill(&mut self, deadline: Option<Instant>) -> bool {
        let started = self.start_workers();
        self.dispatch(deadline);
        match started {
            Err(e) if self.workers.is_empty() => self.not_started(e),
            _ => false,
        }
    }

    /// No worker can run the tasks, for the reason `why`: it is the answer of the first
    /// task waiting, which is taken back (it never runs), and the next wait tries again
    /// (what kept a worker from starting may pass). `false` if no task waits: then no
    /// task needed a worker, and `why` answers nothing.
    fn not_started(&mut self, why: Error) -> bool {
        match self.queue.pop_front() {
            Some(task) => {
                self.finish(task.id, Err(Failed::NotStarted(why)));
                true
            }
            None => false,
        }
    }

    /// Starts workers until there are `size` of them; once the pool is closed, only while
    /// tasks wait for one (after `join`, only for an `imap` begun before `close`). The
    /// first that cannot be started stops it, and says why.
    ///
    /// A worker is started, not waited for: it says when it is ready (its initializer may
    /// take long), and its answer is read by the waits that follow, as any other (see
    /// [`answer_start`](Self::answer_start)). A wait with a deadline is not held up by a
    /// slow initializer, as in Python, whose pool starts its workers from a thread.
    fn start_workers(&mut self) -> Result<()> {
        let pausing = self.restart_due().is_some();
        while !self.idle_for_good() && !pausing && self.workers.len() < self.size {
            let request = Request::Serve {
                initializer: self.initializer.clone(),
                max_tasks: self.max_tasks,
            };
            let (child, conn) = remote::begin(self.method, &request, &self.descriptors)?;
            self.workers.push(Worker {
                conn,
                child,
                starting: Some(Starting::new(self.method)),
                tasks: VecDeque::new(),
                finished: 0,
            });
        }
        Ok(())
    }

    /// Takes the answers that starting workers have sent already, without waiting: a worker
    /// that is ready gets tasks now, not at the next wait. (A task handed in before its
    /// worker says it is ready waits in the pool until a wait reads that.)
    fn read_start_answers(&mut self) {
        let mut w = 0;
        while w < self.workers.len() {
            let worker = &mut self.workers[w];
            if worker.starting.is_some() && worker.conn.read_waiting() {
                let workers = self.workers.len();
                while self.workers.len() == workers
                    && self.workers[w].starting.is_some()
                    && self.workers[w].conn.can_receive_at_once()
                {
                    self.answer_start(w, true, None);
                }
                if self.workers.len() < workers {
                    continue; // it could not start: another worker is at `w` now
                }
            }
            w += 1;
        }
    }

    /// Whether the pool starts no more workers: terminated, or closed with no task waiting.
    fn idle_for_good(&self) -> bool {
        self.terminated || (self.closed && self.queue.is_empty())
    }

    /// When the pause after a failed start ends, if it holds off a start now (see
    /// [`answer_start`](Self::answer_start)): a wait wakes then, to start the worker. A
    /// start is held off while another worker is there, ready or starting: with none,
    /// nothing would run the tasks meanwhile.
    fn restart_due(&self) -> Option<Instant> {
        let held_off =
            !self.idle_for_good() && !self.workers.is_empty() && self.workers.len() < self.size;
        self.restart_after
            .filter(|&at| held_off && Instant::now() < at)
    }

    /// Gives waiting tasks to workers with room. A worker's share is [`IN_FLIGHT`] while
    /// tasks are many, and less when they are few (down to one), so that no task waits
    /// behind another while some worker has nothing to do.
    ///
    /// A task is written when it is handed out, so that it runs whatever the caller does
    /// next: a worker with nothing to do reads it as it is written. A worker still
    /// starting gets none: its initializer may take long, or fail, while another worker
    /// could run the task (it gets them once it says it is ready). A worker that is busy
    /// only gets tasks that its socket holds whole, with those it holds already (up to
    /// [`BUSY_TASK_MAX`] bytes in all), so that writing them never waits for the worker to
    /// finish its task, nor for it to read a result of its own that is longer than a
    /// socket holds: a bigger one waits in the pool's queue for a worker with nothing to
    /// do. (Python's pool has threads that keep tasks and results moving instead.)
    ///
    /// Writing the tasks handed out now waits for room up to [`WRITE_GRACE`] in all (and
    /// not past `deadline`), for a worker that does not read (one stopped with `SIGSTOP`,
    /// say): the rest is written by the pool's next waits, as the worker reads (see
    /// [`pump`](Self::pump)). A worker given nothing now is not waited for: what it has
    /// not read yet holds up no other call.
    fn dispatch(&mut self, deadline: Option<Instant>) {
        let grace = Instant::now() + WRITE_GRACE;
        let until = deadline.map_or(grace, |deadline| deadline.min(grace));
        let share = (self.queue.len() / self.size).clamp(1, IN_FLIGHT);
        for worker in self.workers.iter_mut().filter(|w| w.starting.is_none()) {
            // A worker with nothing to do may have died meanwhile (killed, say): a task
            // written to it now would be taken for the one it died running. It gets none;
            // `pump` sees its end, and its replacement takes the tasks. (A worker that
            // dies after this look, before it reads its task, is taken to have begun it:
            // nothing tells the two apart.)
            if worker.tasks.is_empty() && !worker.child.is_alive().unwrap_or(true) {
                continue;
            }
            let handed = worker.tasks.len();
            let room = match self.max_tasks {
                // A worker that will leave after its last task gets no more than that.
                Some(max) => max.saturating_sub(worker.finished) as usize,
                None => usize::MAX,
            }
            .min(share);
            while worker.tasks.len() < room {
                let held: usize = worker.tasks.iter().map(|task| task.len).sum();
                let busy = !worker.tasks.is_empty();
                let fits = |task: &Task| held + task.len <= BUSY_TASK_MAX;
                if busy && !self.queue.front().is_some_and(fits) {
                    break;
                }
                let Some(task) = self.queue.pop_front() else {
                    break;
                };
                // The task's length was checked when it was handed in: this fails only
                // once a write to the worker stopped half-way and cut its stream. The task
                // then stays for another worker; this one's end shows in `pump`.
                if worker.conn.queue(&task.job).is_err() {
                    self.queue.push_front(task);
                    break;
                }
                worker.tasks.push_back(task);
            }
            if worker.tasks.len() > handed {
                // If the worker has died, the write fails: its exit shows in `pump`.
                let _ = worker.conn.write_queued(until);
            }
        }
    }

    /// Waits until a worker answers or exits, and deals with it: `false` if `deadline`
    /// passed first.
    fn pump(&mut self, deadline: Option<Instant>) -> Result<bool> {
        let answered = self.fill(deadline);
        if self.workers.is_empty() {
            // No worker could start: a task waiting has that for its answer (look again),
            // or nothing waits for a worker.
            return if answered {
                Ok(true)
            } else {
                Err(Error::PoolTerminated)
            };
        }
        // A reply already read whole is taken without a wait, which `deadline` bounds.
        let ready = match self
            .workers
            .iter()
            .position(|w| w.conn.can_receive_at_once())
        {
            Some(w) => (w, true),
            None => {
                let mut fds = Vec::with_capacity(2 * self.workers.len());
                for worker in &self.workers {
                    let mut events = PollFlags::POLLIN;
                    if worker.conn.has_unwritten() {
                        events |= PollFlags::POLLOUT; // room for the rest of a task
                    }
                    fds.push(PollFd::new(worker.conn.as_fd(), events));
                    fds.push(PollFd::new(worker.child.pidfd(), PollFlags::POLLIN));
                }
                let restart = self.restart_due();
                let wake = match (deadline, restart) {
                    (Some(deadline), Some(restart)) => Some(deadline.min(restart)),
                    _ => deadline.or(restart),
                };
                if !poll_until(&mut fds, wake)? {
                    // The caller's deadline, or the end of the pause before a restart,
                    // which the next look makes.
                    return Ok(deadline.is_none_or(|deadline| Instant::now() < deadline));
                }
                let revents: Vec<PollFlags> = (fds.iter())
                    .map(|fd| fd.revents().unwrap_or(PollFlags::empty()))
                    .collect();
                drop(fds);
                for (w, worker) in self.workers.iter_mut().enumerate() {
                    if revents[2 * w].contains(PollFlags::POLLOUT) {
                        // A failed write is a worker gone: its exit shows at the next wait.
                        let _ = worker.conn.write_queued(Instant::now());
                    }
                }
                // Anything but room to write: something to read, the end, an error.
                let is = |i: usize| !(revents[i] - PollFlags::POLLOUT).is_empty();
                match (0..self.workers.len()).find(|&w| is(2 * w)) {
                    Some(w) => (w, true),
                    None => match (0..self.workers.len()).find(|&w| is(2 * w + 1)) {
                        Some(w) => (w, false),
                        None => return Ok(true), // woken for nothing: look again
                    },
                }
            }
        };
        let (w, readable) = ready;
        if readable {
            let worker = &mut self.workers[w];
            // With a deadline, only a whole reply is taken: read what has come, and look
            // again. The rest of one begun may be long in coming (from a worker stopped
            // half-way), and waiting for it would not end at the deadline. (A header over
            // the limit is refused at once: what follows it is not read.)
            if deadline.is_some()
                && !worker.conn.can_receive_at_once()
                && worker.conn.read_waiting()
            {
                return Ok(true);
            }
        }
        if self.workers[w].starting.is_some() {
            self.answer_start(w, readable, deadline);
            return Ok(true);
        }
        let mut unreadable = None;
        if readable {
            let worker = &mut self.workers[w];
            match remote::receive_reply(&mut worker.conn, &worker.child) {
                Ok(Reply::Done(result)) if !worker.tasks.is_empty() => {
                    let task = worker.tasks.pop_front().expect("not empty");
                    worker.finished += 1;
                    let index = task.items.start;
                    let result = result.map_err(|failure| Failed::InTask(failure, index));
                    self.finish(task.id, result);
                    self.dispatch(deadline);
                    return Ok(true);
                }
                // It exited (before or in the middle of an answer).
                Err(Error::Closed | Error::Truncated { .. }) => {}
                Err(why) => unreadable = Some(why.to_string()),
                Ok(_) => unreadable = Some("an answer it had no task for".into()),
            }
        }
        self.lost(w, unreadable, deadline)?;
        Ok(true)
    }

    /// Reads the answer of worker `w`, which is starting (`readable`: it sent something;
    /// else it has exited). Once it is ready, it gets tasks. One that cannot start is
    /// reaped, and its replacement waits [`RESTART_PAUSE`] while another worker is there
    /// (ready, or starting: a slow initializer may yet succeed, and a hung one must not
    /// keep the slot from being filled). The error is an answer, as for a worker that
    /// cannot be started at all (see [`fill`](Self::fill)), only when no worker is ready
    /// or starting and as many starts as the pool has workers failed in a row: the first
    /// task waiting gets it (see [`not_started`](Self::not_started)), and the next wait
    /// starts them all again. (A pool whose initializer fails now and then can so answer
    /// a task with a failure where Python's would try on; one whose initializer always
    /// fails says so, where Python's tries for ever.)
    fn answer_start(&mut self, w: usize, readable: bool, deadline: Option<Instant>) {
        let worker = &mut self.workers[w];
        let reply = if readable {
            remote::receive_reply(&mut worker.conn, &worker.child)
        } else {
            Err(Error::Closed)
        };
        let starting = worker.starting.as_mut().expect("a starting worker");
        match starting.answered(reply, &mut worker.child) {
            Ok(true) => {
                worker.starting = None;
                self.failed_starts = 0;
                self.dispatch(deadline);
            }
            Ok(false) => {}
            Err(e) => {
                drop(self.workers.swap_remove(w)); // killed, if need be, and reaped
                self.restart_after = Some(Instant::now() + RESTART_PAUSE);
                if self.workers.iter().any(|w| w.starting.is_none()) {
                    self.failed_starts = 0;
                    return; // a ready worker runs the tasks meanwhile
                }
                self.failed_starts += 1;
                if self.workers.is_empty() && self.failed_starts >= self.size {
                    self.not_started(e);
                }
            }
        }
    }

    /// Keeps the result of task `id` for its handle, unless that was dropped.
    fn finish(&mut self, id: u64, result: Outcome) {
        self.unfinished.remove(&id);
        if !self.abandoned.remove(&id) {
            self.done.insert(id, result);
        }
    }

    /// Worker `w` has exited, or sent what cannot be read (`unreadable`, why): reap it
    /// (ended, if it runs on), fail the task it ran, and start another worker. The task
    /// an exited worker had not begun goes to another worker; one that is unreadable ran
    /// on after its answer, and may have begun it: that one fails too, rather than run a
    /// second time.
    fn lost(
        &mut self,
        w: usize,
        unreadable: Option<String>,
        deadline: Option<Instant>,
    ) -> Result<()> {
        let Worker {
            conn,
            mut child,
            mut tasks,
            ..
        } = self.workers.swap_remove(w);
        drop(conn);
        let exitcode = child.end_within(EXIT_GRACE)?;
        let pid = child.pid();
        let failed = |task: &Task| match &unreadable {
            None => Failed::WorkerDied {
                index: task.items.start,
                pid,
                exitcode,
            },
            Some(why) => Failed::Unreadable {
                pid,
                why: why.clone(),
            },
        };
        if let Some(task) = tasks.pop_front() {
            self.finish(task.id, Err(failed(&task)));
        }
        while let Some(task) = tasks.pop_back() {
            if unreadable.is_some() {
                self.finish(task.id, Err(failed(&task)));
            } else {
                self.queue.push_front(task); // not begun: first for another worker
            }
        }
        // A new worker takes its place if one can be started. If none can, this task's
        // outcome stands, and the next wait tries again (see `fill`).
        self.fill(deadline);
        Ok(())
    }
}

/// What a finished task left: its result's encoding, or why it has none.
type Outcome = std::result::Result<ByteBuf, Failed>;

/// Why a task has no result, kept as plain data until its handle asks: a handle asked
/// twice says it twice, as Python's `AsyncResult.get` raises the same exception each time.
#[derive(Debug, Clone)]
enum Failed {
    /// It failed in its worker; with the position of its (first) item.
    InTask(Failure, usize),
    /// Its worker died while it ran.
    WorkerDied {
        index: usize,
        pid: i32,
        exitcode: Option<i32>,
    },
    /// No worker could be started to run it: why.
    NotStarted(Error),
    /// Its worker sent an answer that cannot be read (why), and was ended.
    Unreadable { pid: i32, why: String },
}

impl From<Failed> for Error {
    fn from(failed: Failed) -> Error {
        match failed {
            Failed::InTask(failure, index) => failure_error(failure, index),
            Failed::NotStarted(why) => why,
            Failed::Unreadable { pid, why } => Error::unreadable_answer(pid, why),
            Failed::WorkerDied {
                index,
                pid,
                exitcode,
            } => Error::WorkerDied {
                index,
                pid,
                exitcode,
            },
        }
    }
}

/// The error for a task's failure; `index` is the position of its (first) item.
fn failure_error(failure: Failure, index: usize) -> Error {
    match failure {
        Failure::Panicked(message) => Error::TaskPanicked { index, message },
        Failure::TooLarge(len) => Error::ResultTooLarge {
            index,
            len,
            limit: DEFAULT_MAX_MESSAGE,
        },
        Failure::Decode(why) => Error::Decode(why),
        Failure::Encode(why) => Error::Encode(why),
    }
}

/// The result of [`WorkerPool::apply_async`], to come. Python: `AsyncResult`.
#[derive(Debug)]
pub struct AsyncResult<'pool, R> {
    pool: &'pool WorkerPool,
    id: u64,
    /// The outcome, once a [`get_timeout`](Self::get_timeout) has taken it from the pool:
    /// kept, so that asking again gives the same answer.
    kept: Option<Outcome>,
    result: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> AsyncResult<'_, R> {
    /// Waits for the result. Python: `result.get()`.
    pub fn get(mut self) -> Result<R> {
        let outcome = match self.kept.take() {
            Some(outcome) => outcome,
            None => self.pool.wait_for(self.id, None)?.expect("no deadline"),
        };
        codec::decode_call(&outcome?)
    }

    /// Waits for the result at most `timeout`: [`Error::Timeout`] if it is not there by
    /// then (ask again later). Python: `result.get(timeout)`, which raises `TimeoutError`.
    /// Once there, the result stays: asked again, this gives the same answer at once (the
    /// value decoded anew, or the same error).
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<R> {
        if self.kept.is_none() {
            self.kept = self.pool.wait_for(self.id, deadline(Some(timeout)))?;
        }
        match &self.kept {
            None => Err(Error::Timeout),
            Some(Ok(bytes)) => codec::decode_call(bytes),
            Some(Err(failed)) => Err(failed.clone().into()),
        }
    }

    /// Whether the result is there, without waiting. Python: `result.ready()`.
    pub fn ready(&self) -> Result<bool> {
        self.wait_timeout(Duration::ZERO)
    }

    /// Waits at most `timeout` for the result to be there, and says whether it is; the
    /// result stays for [`get`](Self::get). Python: `result.wait(timeout)`, then
    /// `result.ready()`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        if self.kept.is_some() {
            return Ok(true);
        }
        self.pool.has_result(self.id, deadline(Some(timeout)))
    }
}

/// Dropped without [`get`](Self::get), the result is let go when it comes.
impl<R> Drop for AsyncResult<'_, R> {
    fn drop(&mut self) {
        self.pool.let_go(&[self.id]);
    }
}

/// The result of [`WorkerPool::map_async`], to come: every chunk's. Python: `MapResult`.
#[derive(Debug)]
pub struct MapResult<'pool, R> {
    pool: &'pool WorkerPool,
    tasks: Vec<u64>,
    /// How many items each chunk holds: as many results must come back.
    lens: Vec<usize>,
    /// How many items the chunks hold in all: room for their results is made once.
    len: usize,
    /// Every chunk's outcome, once a [`get_timeout`](Self::get_timeout) has taken them
    /// from the pool: kept, so that asking again gives the same answer.
    kept: Option<Vec<Outcome>>,
    result: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> MapResult<'_, R> {
    /// Waits for every result, in input order; the first failure is the error. Python:
    /// `result.get()`.
    pub fn get(mut self) -> Result<Vec<R>> {
        let mut results = Vec::with_capacity(self.len);
        match self.kept.take() {
            Some(kept) => (kept.iter().zip(&self.lens))
                .try_for_each(|(outcome, &len)| append(&mut results, outcome, len))?,
            None => {
                for (&id, &len) in self.tasks.iter().zip(&self.lens) {
                    let outcome = self.pool.wait_for(id, None)?.expect("no deadline");
                    append(&mut results, &outcome, len)?;
                }
            }
        }
        Ok(results)
    }

    /// Waits for every result at most `timeout`: [`Error::Timeout`] if one is not there by
    /// then (ask again later). Python: `result.get(timeout)`, which raises `TimeoutError`.
    /// Once they are all there, they stay: asked again, this gives the same answer at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipc::{StartMethod, get_context};
    ///
    /// fn double(x: u32) -> u32 {
    ///     2 * x
    /// }
    ///
    /// let pool = get_context(StartMethod::Fork).pool(2).start()?;
    /// let mut doubled = pool.map_async(double, [1, 2, 3])?;
    /// assert_eq!(doubled.get_timeout(Duration::from_secs(10))?, [2, 4, 6]);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<Vec<R>> {
        if self.kept.is_none() {
            if !self.wait_timeout(timeout)? {
                return Err(Error::Timeout);
            }
            let outcomes = (self.tasks.iter())
                .map(|&id| self.pool.wait_for(id, None).map(|o| o.expect("there")))
                .collect::<Result<Vec<_>>>()?;
            self.kept = Some(outcomes);
        }
        let mut results = Vec::with_capacity(self.len);
        for (outcome, &len) in self
            .kept
            .as_ref()
            .expect("kept above")
            .iter()
            .zip(&self.lens)
        {
            append(&mut results, outcome, len)?;
        }
        Ok(results)
    }

    /// Whether every result is there, without waiting. Python: `result.ready()`.
    pub fn ready(&self) -> Result<bool> {
        self.wait_timeout(Duration::ZERO)
    }

    /// Waits at most `timeout` for every result to be there, and says whether they are;
    /// they stay for [`get`](Self::get). Python: `result.wait(timeout)`, then
    /// `result.ready()`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        if self.kept.is_some() {
            return Ok(true);
        }
        let deadline = deadline(Some(timeout));
        for &id in &self.tasks {
            if !self.pool.has_result(id, deadline)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Appends the results of a chunk of `len` items, its `outcome`, to `results`; the first
/// failure is the error.
fn append<R: DeserializeOwned>(results: &mut Vec<R>, outcome: &Outcome, len: usize) -> Result<()> {
    let bytes = outcome
        .as_ref()
        .map_err(|failed| Error::from(failed.clone()))?;
    if let Some(outcomes) = Outcomes::decode_appending(bytes, results, len)? {
        for outcome in outcomes {
            let index = results.len();
            results.push(outcome.map_err(|failure| failure_error(failure, index))?);
        }
    }
    Ok(())
}

/// Dropped before [`get`](Self::get) took them all (or after it stopped at a failure),
/// the results left are let go as they come.
impl<R> Drop for MapResult<'_, R> {
    fn drop(&mut self) {
        self.pool.let_go(&self.tasks);
    }
}

/// The results of [`WorkerPool::imap`] and [`imap_unordered`](WorkerPool::imap_unordered),
/// as they come: an iterator that takes its items only as workers need them.
#[derive(Debug)]
pub struct Imap<'pool, A, R, I> {
    pool: &'pool WorkerPool,
    call: Call,
    items: I,
    /// The next item's position.
    next_index: usize,
    ordered: bool,
    /// Items handed in and not yielded yet, in input order: each one's task, or why it
    /// could not be handed in (too long a message, say), its answer in its turn.
    pending: VecDeque<Result<u64>>,
    /// Set once the pool refused an item because it takes no more (terminated): no more
    /// items are taken, and the iteration ends with those pending.
    refused: bool,
    item: PhantomData<fn(A) -> R>,
}

impl<'pool, A, R, I> Imap<'pool, A, R, I>
where
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + 'static,
    I: Iterator<Item = A>,
{
    fn new(pool: &'pool WorkerPool, f: fn(A) -> R, items: I, ordered: bool) -> Result<Self> {
        pool.check_open()?;
        Ok(Imap {
            pool,
            call: Call::one(f)?,
            items,
            next_index: 0,
            ordered,
            pending: VecDeque::new(),
            refused: false,
            item: PhantomData,
        })
    }

    /// The next result, waiting at most `timeout` for it: `Some(Err(`[`Error::Timeout`]`))`
    /// if it is not there by then (ask again later), `None` at the end. Python:
    /// `it.next(timeout)`, which raises `TimeoutError`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipc::{StartMethod, get_context};
    ///
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    ///
    /// let pool = get_context(StartMethod::Fork).pool(1).start()?;
    /// let mut naps = pool.imap(nap, [2000])?;
    /// let early = naps.next_timeout(Duration::from_millis(10));
    /// assert!(matches!(early, Some(Err(ipc::Error::Timeout))));
    /// assert_eq!(naps.next().transpose()?, Some(2000));
    /// assert!(naps.next_timeout(Duration::ZERO).is_none());
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R>> {
        self.next_result(deadline(Some(timeout))).transpose()
    }

    /// Hands in items while the workers could use more: a few per worker, no more. Once
    /// the pool takes no more, neither does this: an endless iterator would yield the
    /// refusal for ever.
    fn top_up(&mut self) -> Result<()> {
        let wanted = IN_FLIGHT * self.pool.processes() + 1;
        while !self.refused && self.pending.len() < wanted {
            let Some(item) = self.items.next() else {
                break;
            };
            let index = self.next_index;
            self.next_index += 1;
            let task = job(Ok(self.call), &item);
            let handed = task.and_then(|job| self.pool.hand_in(job, index..index + 1));
            self.refused = matches!(handed, Err(Error::PoolTerminated));
            self.pending.push_back(handed);
        }
        Ok(())
    }

    /// The answer of an item that could not be handed in, if it is the next to yield:
    /// the first of `pending` in order, any in `imap_unordered`.
    fn refused_next(&mut self) -> Option<Error> {
        let position = if self.ordered {
            self.pending
                .front()
                .is_some_and(Result::is_err)
                .then_some(0)
        } else {
            self.pending.iter().position(Result::is_err)
        };
        self.pending.remove(position?)?.err()
    }

    /// The next result, waiting until `deadline` at most: `None` at the end,
    /// [`Error::Timeout`] if it is not there by then (it stays pending).
    fn next_result(&mut self, deadline: Option<Instant>) -> Result<Option<R>> {
        self.top_up()?;
        if let Some(refused) = self.refused_next() {
            return Err(refused);
        }
        let waited = if self.ordered {
            let Some(&Ok(id)) = self.pending.front() else {
                return Ok(None);
            };
            (self.pool.wait_for(id, deadline)).map(|outcome| outcome.map(|o| (id, o)))
        } else {
            if self.pending.is_empty() {
                return Ok(None);
            }
            let ids: Vec<u64> = self.pending.iter().flatten().copied().collect();
            self.pool.wait_for_any(&ids, deadline)
        };
        let (id, bytes) = match waited {
            Ok(Some(found)) => found,
            Ok(None) => return Err(Error::Timeout),
            Err(e) => {
                // No answer can come (no worker left, and none can be started): the error
                // is the answer of the first item waiting, which is taken back, so that
                // each item has one answer and the iteration ends.
                if let Some(Ok(id)) = self.pending.pop_front() {
                    self.pool.withdraw(id);
                }
                return Err(e);
            }
        };
        self.pending
            .retain(|pending| pending.as_ref().ok() != Some(&id));
        codec::decode_call(&(bytes?)).map(Some)
    }
}

/// Dropped before its end, the results handed in and not yielded are let go as they come
/// (the items not handed in yet are never run).
impl<A, R, I> Drop for Imap<'_, A, R, I> {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.pending.iter().flatten().copied().collect();
        self.pool.let_go(&ids);
    }
}

impl<A, R, I> Iterator for Imap<'_, A, R, I>
where
    A: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + 'static,
    I: Iterator<Item = A>,
{
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_result(None).transpose()
    }
}
