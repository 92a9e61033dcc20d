//! Start methods (fork, forkserver, spawn), the long-lived `WorkerPool`, and both from a
//! process that has threads running.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fork_test::{
    BusyThreads, NoDescriptorsLeft, SigchldIgnored, SigintDefault, Stream, capture, time_limit,
};
use ipc::{Error, PANIC_EXIT_CODE, Process, StartMethod, get_context};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The methods that work from a process with threads.
const FROM_THREADS: [StartMethod; 2] = [StartMethod::Forkserver, StartMethod::Spawn];

fn exit_with(code: i32) {
    std::process::exit(code)
}

fn panic_with(message: String) {
    panic!("{message}")
}

fn write_file((path, text): (String, String)) {
    std::fs::write(path, text).unwrap()
}

fn square(x: u64) -> u64 {
    x * x
}

fn my_pid(_: ()) -> u32 {
    std::process::id()
}

fn nap_then_pid(ms: u64) -> u32 {
    nap_ms(ms);
    std::process::id()
}

/// Returns once both workers of `pool` have answered a task: both are ready (`start` does
/// not wait for them), and idle again.
fn both_ready(pool: &ipc::WorkerPool) {
    let mut pids = std::collections::HashSet::new();
    while pids.len() < 2 {
        pids.extend(pool.map(nap_then_pid, [100, 100]).unwrap());
    }
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn nap_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Set by the pools' initializer, in each worker.
static GREETING: AtomicU64 = AtomicU64::new(0);

fn remember(value: u64) {
    GREETING.store(value, Ordering::SeqCst);
}

fn recall(_: ()) -> u64 {
    GREETING.load(Ordering::SeqCst)
}

/// Stops the forkserver when a test ends, passing or not: the runner wants no process left.
struct StopsTheForkserver;

impl Drop for StopsTheForkserver {
    fn drop(&mut self) {
        ipc::forkserver::stop();
    }
}

fn a_process_runs_a_function_under_every_method() {
    let _stop = StopsTheForkserver;
    let dir = std::env::temp_dir().join(format!("ipc-start-methods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for method in StartMethod::ALL {
        let ctx = get_context(method);
        let path = dir.join(method.name()).display().to_string();
        let mut p = ctx
            .process(write_file, (path.clone(), method.name().into()))
            .unwrap();
        p.start().unwrap();
        assert_eq!(p.join().unwrap(), 0, "{method}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), method.name());

        let mut p = ctx.process(exit_with, 7).unwrap();
        p.start().unwrap();
        assert_eq!(p.join().unwrap(), 7, "{method}: the exit code comes back");

        let mut code = None;
        let stderr = capture(Stream::Stderr, || {
            let mut p = ctx.process(panic_with, format!("{method} panics")).unwrap();
            p.start().unwrap();
            code = Some(p.join().unwrap());
        });
        assert_eq!(code, Some(PANIC_EXIT_CODE), "{method}");
        assert!(stderr.contains(&format!("{method} panics")), "{stderr}");

        let mut p = ctx.process(sleep_ms_unit, 60_000).unwrap();
        p.start().unwrap();
        p.terminate().unwrap();
        assert_eq!(
            p.join().unwrap(),
            -15,
            "{method}: terminate reaches the child"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn sleep_ms_unit(ms: u64) {
    sleep_ms(ms);
}

fn from_a_process_with_threads_forkserver_and_spawn_work_and_fork_refuses() {
    time_limit(Duration::from_secs(600));
    let _stop = StopsTheForkserver;
    ipc::forkserver::start().unwrap(); // while this process has one thread
    let busy = BusyThreads::start(2);
    // A rayon pool, busy too.
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..2 {
        let stop = Arc::clone(&stop);
        rayon.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(vec![1u8; 1024]);
            }
        });
    }
    let refused = get_context(StartMethod::Fork)
        .process(exit_with, 0)
        .unwrap()
        .start();
    assert!(
        matches!(refused, Err(Error::ThreadsRunning { .. })),
        "{refused:?}"
    );
    for method in FROM_THREADS {
        let ctx = get_context(method);
        let pool = ctx.pool(2).start().unwrap();
        for round in 0..200 {
            let mut p = ctx.process(exit_with, round % 100).unwrap();
            p.start().unwrap();
            assert_eq!(p.join().unwrap(), round % 100, "{method}, round {round}");
            let squares = pool.map(square, 0..10u64).unwrap();
            assert_eq!(squares, (0..10u64).map(|x| x * x).collect::<Vec<_>>());
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(rayon);
    drop(busy);
}

fn a_dead_worker_is_an_error_for_its_task_and_is_replaced_under_every_method() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(2).start().unwrap();
        let before = pool.apply(my_pid, ()).unwrap();
        let started = Instant::now();
        match pool.apply(exit_with_code_u64, 3) {
            Err(Error::WorkerDied {
                exitcode: Some(3), ..
            }) => {}
            other => panic!("{method}: expected the worker to die, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{method}: reported at once"
        );
        let killed = pool.apply(kill_myself, ());
        assert!(
            matches!(
                killed,
                Err(Error::WorkerDied {
                    exitcode: Some(-9),
                    ..
                })
            ),
            "{method}: {killed:?}"
        );
        // The pool goes on, with new workers.
        assert_eq!(pool.map(square, [2, 3]).unwrap(), [4, 9], "{method}");
        assert!(pool.apply(my_pid, ()).unwrap() > 0 && before > 0);
    }
}

/// With `SIGCHLD` ignored, the kernel reaps this process's children itself and their exit
/// statuses are lost (the forkserver's children are the server's, which reaps them): a
/// process's join says so, a pool still closes and joins, and a worker that dies is still
/// an error for its task, without an exit code where there is none.
fn with_sigchld_ignored_processes_and_pools_end_under_every_method() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    let _ignored = SigchldIgnored::new();
    for method in StartMethod::ALL {
        let ctx = get_context(method);
        let exitcode = (method == StartMethod::Forkserver).then_some(3);
        let mut p = ctx.process(exit_with, 3).unwrap();
        p.start().unwrap();
        match (p.join(), exitcode) {
            (Ok(code), Some(expected)) => assert_eq!(code, expected, "{method}"),
            (Err(Error::ExitStatusLost { .. }), None) => {}
            (other, _) => panic!("{method}: join gave {other:?}"),
        }
        let pool = ctx.pool(2).start().unwrap();
        assert_eq!(pool.map(square, [2, 3]).unwrap(), [4, 9], "{method}");
        match pool.apply(exit_with_code_u64, 3) {
            Err(Error::WorkerDied { exitcode: code, .. }) if code == exitcode => {}
            other => panic!("{method}: expected the worker to die, got {other:?}"),
        }
        pool.close();
        pool.join().unwrap_or_else(|e| panic!("{method}: {e}"));
    }
}

fn exit_with_code_u64(code: u64) -> u64 {
    std::process::exit(code as i32)
}

fn kill_myself(_: ()) -> u64 {
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
    0
}

fn the_pool_api_follows_python() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    let pool = get_context(StartMethod::Forkserver)
        .pool(2)
        .initializer(remember, 42)
        .max_tasks_per_child(3)
        .start()
        .unwrap();
    assert_eq!(pool.apply(recall, ()).unwrap(), 42, "the initializer ran");
    assert_eq!(pool.starmap(add, [(1, 2), (3, 4)]).unwrap(), [3, 7]);
    // imap takes items as it goes: an endless iterator is fine.
    let first: Vec<u64> = pool
        .imap(square, 0u64..)
        .unwrap()
        .take(20)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(first, (0..20u64).map(|x| x * x).collect::<Vec<_>>());
    let mut unordered: Vec<u64> = pool
        .imap_unordered(sleep_ms, [300, 0, 0, 0])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(unordered[0], 0, "a quick one came before the slow one");
    unordered.sort();
    assert_eq!(unordered, [0, 0, 0, 300]);
    // After 3 tasks a worker is replaced: more pids than workers over 12 tasks.
    let pids: std::collections::HashSet<u32> =
        (0..12).map(|_| pool.apply(my_pid, ()).unwrap()).collect();
    assert!(pids.len() > 2, "workers were replaced: {pids:?}");
    // A result can be waited for with a timeout, and asked again.
    let mut slow = pool.apply_async(sleep_ms, 500).unwrap();
    assert!(matches!(
        slow.get_timeout(Duration::from_millis(10)),
        Err(Error::Timeout)
    ));
    assert_eq!(slow.get_timeout(Duration::from_secs(10)).unwrap(), 500);
    // Python's ready() and wait(timeout): they say, and leave the result for get.
    let slow = pool.apply_async(sleep_ms, 300).unwrap();
    assert!(!slow.ready().unwrap(), "not there at once");
    assert!(!slow.wait_timeout(Duration::from_millis(10)).unwrap());
    assert!(slow.wait_timeout(Duration::from_secs(10)).unwrap());
    assert!(slow.ready().unwrap());
    assert_eq!(slow.get().unwrap(), 300);
    // A panic is the task's error.
    assert!(matches!(
        pool.apply(panics_on_odd, 3),
        Err(Error::TaskPanicked { .. })
    ));
    pool.close();
    assert!(matches!(pool.apply(square, 2), Err(Error::PoolClosed)));
    pool.join().unwrap();
    let pool = get_context(StartMethod::Spawn).pool(1).start().unwrap();
    let pending = pool.apply_async(sleep_ms, 60_000).unwrap();
    assert!(matches!(pool.join(), Err(Error::PoolRunning)));
    pool.terminate();
    assert!(matches!(pending.get(), Err(Error::PoolTerminated)));
}

/// Items that count how many of them are alive in this process at once.
#[derive(serde::Serialize, serde::Deserialize)]
struct Counted(u64);

static ALIVE: AtomicUsize = AtomicUsize::new(0);
static MOST_ALIVE: AtomicUsize = AtomicUsize::new(0);

impl Counted {
    fn new(n: u64) -> Counted {
        let alive = ALIVE.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_ALIVE.fetch_max(alive, Ordering::SeqCst);
        Counted(n)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

fn counted_value(item: Counted) -> u64 {
    item.0
}

/// `map` over an iterator that says how many items it holds reads them a chunk at a time:
/// the parent never holds all of them at once. Any other iterator is read whole first, for
/// Python's chunk size, and gives the same results.
fn map_reads_its_items_a_chunk_at_a_time() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(2).start().unwrap();
    let values = pool
        .map(counted_value, (0..1000).map(Counted::new))
        .unwrap();
    assert_eq!(values, (0..1000).collect::<Vec<u64>>());
    let most = MOST_ALIVE.load(Ordering::SeqCst);
    // 1000 items over 2 workers: Python's chunks of ceil(1000 / 8) = 125.
    assert!(most <= 125, "{most} items were alive at once in the parent");
    assert_eq!(ALIVE.load(Ordering::SeqCst), 0, "every item was dropped");
    let odd = pool
        .map(
            counted_value,
            (0..1000).filter(|n| n % 2 == 1).map(Counted::new),
        )
        .unwrap();
    assert_eq!(odd, (0..1000).filter(|n| n % 2 == 1).collect::<Vec<u64>>());
    pool.close();
    pool.join().unwrap();
}

/// Items that claim to be far more than they are (an iterator's `size_hint` is only a
/// hint): `map` takes what comes, and reserves no memory for what was claimed.
struct Claims {
    left: u64,
}

impl Iterator for Claims {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.left = self.left.checked_sub(1)?;
        Some(self.left)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (1 << 42, Some(1 << 42))
    }
}

fn map_takes_what_an_iterator_gives_not_what_it_claims() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(2).start().unwrap();
    assert_eq!(pool.map(square, Claims { left: 3 }).unwrap(), [4, 1, 0]);
    pool.close();
    pool.join().unwrap();
}

/// An iterator of items that panics in the middle of `map`: the panic goes on to the
/// caller, the chunks handed in before it are let go of (their results are not kept), and
/// the pool works on.
fn a_map_whose_items_panic_lets_its_chunks_go_and_the_pool_goes_on() {
    time_limit(Duration::from_secs(60));
    // 500 panics are expected: not a line each.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |panic| {
        if panic.payload_as_str() != Some("no item 1") {
            report(panic);
        }
    }));
    let pool = get_context(StartMethod::Fork).pool(2).start().unwrap();
    let before = resident_kib();
    for _ in 0..500 {
        // 8 items over 2 workers: chunks of one. The first is handed in, then item 1 panics.
        let items = (0..8u32).inspect(|&n| assert!(n != 1, "no item 1"));
        let mapped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.map(hundred_kib, items)
        }));
        assert!(mapped.is_err(), "the iterator's panic reached the caller");
        pool.apply(hundred_kib, 0).unwrap();
    }
    let grown = resident_kib().saturating_sub(before);
    // Kept, the results of the first chunks would take 50 MiB.
    assert!(grown < 20 * 1024, "resident memory grew by {grown} KiB");
    assert_eq!(pool.map(square, 0..10u64).unwrap().len(), 10);
    pool.close();
    pool.join().unwrap();
}

fn panics_on_odd(x: u64) -> u64 {
    assert!(x.is_multiple_of(2), "odd");
    x
}

/// `map_async`'s result and `imap`'s iterators wait with a timeout, as Python's
/// `MapResult.get(timeout)`, `wait(timeout)`, `ready()` and `IMapIterator.next(timeout)`:
/// a timeout leaves the result to come, and a result (or failure) asked again is the same.
fn map_async_and_imap_wait_with_timeouts_as_in_python() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(2).start().unwrap();
    let mut naps = pool.map_async(sleep_ms, [300, 300, 300]).unwrap();
    assert!(!naps.ready().unwrap());
    let early = naps.get_timeout(Duration::from_millis(50));
    assert!(matches!(early, Err(Error::Timeout)), "{early:?}");
    assert!(naps.wait_timeout(Duration::from_secs(10)).unwrap());
    assert!(naps.ready().unwrap());
    for _ in 0..2 {
        assert_eq!(naps.get_timeout(Duration::ZERO).unwrap(), [300; 3]);
    }
    assert_eq!(naps.get().unwrap(), [300; 3]);

    let mut failing = pool.map_async(panics_on_odd, [0, 1, 2]).unwrap();
    for timeout in [Duration::from_secs(10), Duration::ZERO] {
        let failed = failing.get_timeout(timeout);
        assert!(
            matches!(failed, Err(Error::TaskPanicked { index: 1, .. })),
            "{failed:?}"
        );
    }

    let mut ordered = pool.imap(sleep_ms, [400, 0]).unwrap();
    let early = ordered.next_timeout(Duration::from_millis(50));
    assert!(matches!(early, Some(Err(Error::Timeout))), "{early:?}");
    let rest: Vec<u64> = (0..2)
        .map(|_| {
            ordered
                .next_timeout(Duration::from_secs(10))
                .unwrap()
                .unwrap()
        })
        .collect();
    assert_eq!(rest, [400, 0]);
    assert!(ordered.next_timeout(Duration::ZERO).is_none());

    let mut unordered = pool.imap_unordered(sleep_ms, [400, 300]).unwrap();
    let early = unordered.next_timeout(Duration::from_millis(50));
    assert!(matches!(early, Some(Err(Error::Timeout))), "{early:?}");
    let first = unordered.next_timeout(Duration::from_secs(10));
    assert!(matches!(first, Some(Ok(300))), "{first:?}");
    assert_eq!(unordered.next().transpose().unwrap(), Some(400));
    assert!(unordered.next_timeout(Duration::ZERO).is_none());
    pool.close();
    pool.join().unwrap();
}

/// A panic payload whose destructor panics too (`panic_any` with such a value).
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the payload's destructor panics too");
    }
}

fn panics_with_a_payload_that_panics_when_dropped(_: u64) -> u64 {
    std::panic::panic_any(PanicsWhenDropped)
}

/// Such a payload is still the task's panic, under every start method: letting it go must
/// not end the worker.
fn a_panic_whose_payload_panics_when_dropped_is_still_a_task_panic() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(1).start().unwrap();
        let failed = pool.apply(panics_with_a_payload_that_panics_when_dropped, 1);
        assert!(
            matches!(failed, Err(Error::TaskPanicked { .. })),
            "{method:?}: {failed:?}"
        );
        assert_eq!(
            pool.apply(square, 3).unwrap(),
            9,
            "{method:?}: the worker goes on"
        );
        pool.close();
        pool.join().unwrap();
    }
}

fn mebibytes(n: usize) -> serde_bytes::ByteBuf {
    serde_bytes::ByteBuf::from(vec![7; n << 20])
}

/// A worker stopped half-way through a reply (`SIGSTOP`): `get_timeout` and `ready` still
/// answer by their deadline, and the reply is whole once the worker goes on.
fn a_worker_stopped_half_way_through_a_reply_holds_up_no_deadline() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(1).start().unwrap();
        let worker = Pid::from_raw(pool.apply(my_pid, ()).unwrap() as i32);
        let mut reply = pool.apply_async(mebibytes, 8).unwrap();
        // It fills the socket with the first part and waits for the parent to read.
        std::thread::sleep(Duration::from_millis(300));
        kill(worker, Signal::SIGSTOP).unwrap();
        let asked = Instant::now();
        let first = reply.get_timeout(Duration::from_millis(200));
        assert!(matches!(first, Err(Error::Timeout)), "{method}: {first:?}");
        assert!(!reply.ready().unwrap(), "{method}");
        let waited = asked.elapsed();
        kill(worker, Signal::SIGCONT).unwrap();
        assert!(waited < Duration::from_secs(2), "{method}: {waited:?}");
        assert_eq!(reply.get().unwrap().len(), 8 << 20, "{method}");
        pool.close();
        pool.join().unwrap();
    }
}

/// A forkserver that is stopped (`SIGSTOP`) does not answer a request: `start` gives up
/// after a bounded wait and says so, and the server, once it goes on, serves the next one.
fn a_stopped_forkserver_does_not_hold_up_start_for_ever() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    ipc::forkserver::start().unwrap();
    let server = Pid::from_raw(ipc::forkserver::pid().unwrap());
    kill(server, Signal::SIGSTOP).unwrap();
    let mut p = get_context(StartMethod::Forkserver)
        .process(sleep_ms_unit, 1)
        .unwrap();
    let asked = Instant::now();
    let started = p.start();
    let waited = asked.elapsed();
    kill(server, Signal::SIGCONT).unwrap();
    assert!(
        matches!(started, Err(Error::ForkserverNotAnswering { .. })),
        "{started:?}"
    );
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    let mut next = get_context(StartMethod::Forkserver)
        .process(sleep_ms_unit, 1)
        .unwrap();
    next.start().unwrap();
    assert_eq!(next.join().unwrap(), 0);
}

/// Asks for `result` with a timeout of 100 ms: it is not there yet, and the wait (and what
/// was done since `since`) ended within 1.2 s, where a wait held up by a slow initializer
/// or a busy worker took their 2.5 s.
fn not_there_yet(
    result: &mut ipc::worker_pool::AsyncResult<'_, u64>,
    since: Instant,
    method: StartMethod,
) {
    let early = result.get_timeout(Duration::from_millis(100));
    let took = since.elapsed();
    assert!(matches!(early, Err(Error::Timeout)), "{method}: {early:?}");
    assert!(took < Duration::from_millis(1200), "{method}: {took:?}");
}

fn slow_init(ms: u64) {
    sleep_ms(ms);
}

/// A worker replaced while a caller waits with a deadline (`max_tasks_per_child`): its
/// initializer's time (2.5 s) does not stretch the wait (100 ms). The replacement starts in the background
/// of the caller's waits, as Python's pool starts its workers from a thread of its own.
fn a_slow_initializer_does_not_stretch_a_wait_with_a_deadline() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method)
            .pool(1)
            .initializer(slow_init, 2500)
            .max_tasks_per_child(1)
            .start()
            .unwrap();
        assert_eq!(pool.apply(square, 2).unwrap(), 4, "{method}");
        let mut next = pool.apply_async(square, 3).unwrap();
        not_there_yet(&mut next, Instant::now(), method);
        assert!(!next.ready().unwrap(), "{method}");
        assert_eq!(next.get().unwrap(), 9, "{method}");
        pool.close();
        pool.join().unwrap();
    }
}

/// An initializer that ends its worker (`exit`) is named as the reason the pool cannot
/// run tasks, under every start method (spawn blamed a missing `ipc::spawn::init()`).
fn an_initializer_that_exits_is_named_as_the_reason() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method)
            .pool(1)
            .initializer(exit_with, 3)
            .start()
            .unwrap();
        match pool.apply(square, 2) {
            Err(Error::Refused(why)) => {
                assert!(
                    why.contains("initializer") && why.contains("exit code 3"),
                    "{method}: {why}"
                )
            }
            other => panic!("{method}: {other:?}"),
        }
    }
}

/// An initializer that never ends holds up neither the pool's start nor a wait with a
/// deadline, as in Python, whose `Pool()` does not wait for its workers.
fn an_initializer_that_never_ends_holds_up_no_start() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let asked = Instant::now();
        let pool = get_context(method)
            .pool(2)
            .initializer(nap_ms, 3_600_000)
            .start()
            .unwrap();
        let mut result = pool.apply_async(square, 3).unwrap();
        not_there_yet(&mut result, asked, method);
        pool.terminate();
    }
}

fn byte_count(bytes: serde_bytes::ByteBuf) -> usize {
    bytes.len()
}

/// A task whose message would be over the limit is refused when it is handed in: it could
/// never reach a worker, and its result would be waited for for ever.
fn a_task_over_the_message_limit_is_refused_at_once() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    let limit = ipc::connection::DEFAULT_MAX_MESSAGE;
    let too_big = serde_bytes::ByteBuf::from(vec![1; limit + 1]);
    match pool.apply_async(byte_count, too_big) {
        Err(Error::TooLarge { len, limit: said }) => {
            assert!(len > limit as u64 && said == limit, "{len} {said}")
        }
        other => panic!("{:?}", other.map(|_| "a handle")),
    }
    assert_eq!(pool.apply(square, 5).unwrap(), 25, "the pool goes on");
    pool.close();
    pool.join().unwrap();
}

/// `apply_async` returns at once even when the task must wait for a busy worker and is
/// longer than a socket holds: it waits in the pool, which hands it out during a later
/// wait, once the worker has nothing to do.
fn a_big_task_for_a_busy_worker_does_not_hold_up_apply_async() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(1).start().unwrap();
        let busy = pool.apply_async(sleep_ms, 2500).unwrap();
        let handed = Instant::now();
        let big = pool
            .apply_async(byte_count, serde_bytes::ByteBuf::from(vec![1; 4 << 20]))
            .unwrap();
        let mut small = pool.apply_async(square, 3).unwrap();
        not_there_yet(&mut small, handed, method);
        assert_eq!(busy.get().unwrap(), 2500, "{method}");
        assert_eq!(big.get().unwrap(), 4 << 20, "{method}");
        assert_eq!(small.get().unwrap(), 9, "{method}");
        pool.close();
        pool.join().unwrap();
    }
}

/// The event a pool's worker got from its initializer.
static EVENT: std::sync::OnceLock<ipc::Event> = std::sync::OnceLock::new();

fn keep_event(event: ipc::Event) {
    let _ = EVENT.set(event);
}

fn set_event(bytes: serde_bytes::ByteBuf) -> usize {
    EVENT.get().unwrap().set();
    bytes.len()
}

/// A task bigger than a socket holds, for an idle worker, runs while the caller waits for
/// what it does (an event), not for the pool: it is written whole when it is handed in.
fn a_big_task_for_an_idle_worker_runs_without_a_wait_on_the_pool() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let event = ipc::Event::new().unwrap();
        let pool = get_context(method)
            .pool(1)
            .initializer(keep_event, event.clone())
            .start()
            .unwrap();
        assert_eq!(pool.apply(square, 2).unwrap(), 4); // the worker is ready, and idle
        let sent = pool
            .apply_async(set_event, serde_bytes::ByteBuf::from(vec![7; 8 << 20]))
            .unwrap();
        assert!(event.wait_timeout(Duration::from_secs(10)), "{method}");
        assert_eq!(sent.get().unwrap(), 8 << 20, "{method}");
        pool.close();
        pool.join().unwrap();
    }
}

/// Counts a run (of an initializer, in its worker) in the file at `path`: how many, this
/// one included.
///
/// The count is where this run's byte landed: an append moves the file's end and this
/// descriptor's offset in one step, where the file's length, read after the write, may
/// count another run's byte too (two runs at once would both see 2).
fn count_run(path: &str) -> u64 {
    use std::io::{Seek, Write};
    let mut file = (std::fs::OpenOptions::new().append(true).create(true))
        .open(path)
        .unwrap();
    file.write_all(b"x").unwrap();
    file.stream_position().unwrap()
}

/// A file, not there yet, for [`count_run`].
fn runs_file(name: &str) -> String {
    let path = std::env::temp_dir().join(format!("ipc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path.display().to_string()
}

/// Fails from its third run on.
fn fail_from_the_third_run(path: String) {
    let runs = count_run(&path);
    assert!(runs <= 2, "initializer run {runs} fails");
}

/// Every replacement's initializer fails, while the pool has several workers starting:
/// the wait says why, as when no worker can be started at all, instead of starting
/// replacement after replacement for ever.
fn replacements_that_all_fail_are_reported() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let path = runs_file(&format!("initializer-runs-{method}"));
        let pool = get_context(method)
            .pool(2)
            .initializer(fail_from_the_third_run, path.clone())
            .max_tasks_per_child(1)
            .start()
            .unwrap();
        let first = [pool.apply_async(square, 2), pool.apply_async(square, 3)];
        for result in first {
            result.unwrap().get().unwrap();
        }
        let mut third = pool.apply_async(square, 4).unwrap();
        let answer = third.get_timeout(Duration::from_secs(20));
        let runs = std::fs::metadata(&path).unwrap().len();
        std::fs::remove_file(&path).unwrap();
        match answer {
            Err(Error::Refused(why)) => assert!(why.contains("fails"), "{method}: {why}"),
            other => panic!("{method}: {other:?} after {runs} initializer runs"),
        }
        assert!(runs < 50, "{method}: {runs} initializer runs");
    }
}

/// A task that writes, on its own worker's socket, a frame header over the limit and then
/// 64 MiB: a hostile worker, for the parent.
fn lie_to_the_parent(_: ()) -> u8 {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let fd: i32 = entry.file_name().to_str().unwrap().parse().unwrap();
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if fd > 2 && is_socket {
            // SAFETY: the descriptor is open; `ManuallyDrop` leaves it open afterwards.
            let file = unsafe { std::fs::File::from_raw_fd(fd) };
            let mut file = std::mem::ManuallyDrop::new(file);
            let _ = file.write_all(&[0xff, 0xff, 0xff, 0xf0]);
            for _ in 0..64 {
                let _ = file.write_all(&[0; 1 << 20]);
            }
        }
    }
    std::thread::sleep(Duration::from_secs(30));
    0
}

fn resident_mib() -> usize {
    resident_kib() / 1024
}

/// Waits with a deadline do not take more of a reply than its header allows: one that
/// claims more than the limit is refused at once, as a wait without one refuses it.
fn a_reply_over_the_limit_is_refused_by_waits_with_a_deadline() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    let before = resident_mib();
    let mut lie = pool.apply_async(lie_to_the_parent, ()).unwrap();
    let asked = Instant::now();
    let answer = loop {
        match lie.get_timeout(Duration::from_millis(50)) {
            Err(Error::Timeout) if asked.elapsed() < Duration::from_secs(20) => {}
            other => break other,
        }
    };
    let grown = resident_mib().saturating_sub(before);
    assert!(
        matches!(&answer, Err(Error::Decode(why)) if why.contains("cannot be read")),
        "{answer:?}"
    );
    assert!(grown < 32, "the parent took {grown} MiB of the lie");
    drop(lie);
    pool.terminate();
}

/// `imap` yields each item's answer in input order, an item over the message limit too.
fn imap_keeps_order_with_an_item_over_the_limit() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    let limit = ipc::connection::DEFAULT_MAX_MESSAGE;
    let items = [1, 2, limit + 1, 4].map(|n| serde_bytes::ByteBuf::from(vec![0; n]));
    let answers: Vec<_> = pool.imap(byte_count, items).unwrap().collect();
    assert!(
        matches!(
            answers[..],
            [Ok(1), Ok(2), Err(Error::TooLarge { .. }), Ok(4)]
        ),
        "{answers:?}"
    );
    pool.close();
    pool.join().unwrap();
}

/// The pid of the pool's one worker (this test process's one child).
fn the_worker() -> Pid {
    let children = fork_test::children();
    assert_eq!(children.len(), 1, "{children:?}");
    Pid::from_raw(children[0].0)
}

/// Handing in tasks never waits for a worker that is stopped, even once its socket holds
/// a task it has not read: the next ones wait in the pool.
fn tasks_for_a_stopped_worker_do_not_hold_up_apply_async() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    let worker = the_worker();
    assert_eq!(pool.apply(square, 2).unwrap(), 4); // the worker is ready: tasks go to it
    kill(worker, Signal::SIGSTOP).unwrap();
    let handing = Instant::now();
    let sizes = [180 << 10, 60 << 10, 60 << 10];
    let handed: Vec<_> = (sizes.iter())
        .map(|&n| pool.apply_async(byte_count, serde_bytes::ByteBuf::from(vec![1; n])))
        .collect();
    let took = handing.elapsed();
    kill(worker, Signal::SIGCONT).unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");
    for (result, n) in handed.into_iter().zip(sizes) {
        assert_eq!(result.unwrap().get().unwrap(), n);
    }
    pool.close();
    pool.join().unwrap();
}

/// A wait whose result is in does not wait for the next task to be written to a worker
/// that is stopped: writing waits a moment for room, then goes on in later waits.
fn a_stopped_idle_worker_does_not_hold_up_a_result_that_is_in() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    let worker = the_worker();
    assert_eq!(pool.apply(square, 2).unwrap(), 4); // the worker is ready
    let mut quick = pool.apply_async(sleep_ms, 100).unwrap();
    let big = pool
        .apply_async(byte_count, serde_bytes::ByteBuf::from(vec![7; 4 << 20]))
        .unwrap();
    std::thread::sleep(Duration::from_millis(600)); // `quick` is done: the worker is idle
    kill(worker, Signal::SIGSTOP).unwrap();
    let asked = Instant::now();
    let answer = quick.get_timeout(Duration::from_secs(1));
    let took = asked.elapsed();
    kill(worker, Signal::SIGCONT).unwrap();
    assert!(matches!(answer, Ok(100)), "{answer:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(big.get().unwrap(), 4 << 20);
    pool.close();
    pool.join().unwrap();
}

/// A worker stopped with part of a task still unwritten holds up only that task: calls
/// that the other worker answers, and waits with a deadline, do not wait for room in the
/// stopped one's socket.
fn a_stopped_worker_with_a_task_half_written_holds_up_no_other_call() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(2).start().unwrap();
    // Both ready and idle: a task goes to the first of them, the big one too.
    both_ready(&pool);
    let first = pool.apply(my_pid, ()).unwrap();
    let stopped = Pid::from_raw(first as i32);
    kill(stopped, Signal::SIGSTOP).unwrap();
    // Idle, it gets the big task first, and its socket takes a part of it.
    let big = pool
        .apply_async(byte_count, serde_bytes::ByteBuf::from(vec![1; 4 << 20]))
        .unwrap();
    let mut took = Vec::new();
    for x in 0..3 {
        let asked = Instant::now();
        assert_eq!(pool.apply(square, x).unwrap(), x * x);
        took.push(asked.elapsed());
    }
    let asked = Instant::now();
    let ready = big.ready();
    took.push(asked.elapsed());
    let mut small = pool.apply_async(square, 9).unwrap();
    let asked = Instant::now();
    let answer = small.get_timeout(Duration::from_secs(5));
    took.push(asked.elapsed());
    kill(stopped, Signal::SIGCONT).unwrap();
    assert!(matches!(ready, Ok(false)), "{ready:?}");
    assert!(matches!(answer, Ok(81)), "{answer:?}");
    assert!(
        took.iter().all(|t| *t < Duration::from_millis(500)),
        "{took:?}"
    );
    assert_eq!(big.get().unwrap(), 4 << 20);
    pool.close();
    pool.join().unwrap();
}

/// Its third run fails; the others take half a second.
fn the_third_run_fails(path: String) {
    let runs = count_run(&path);
    assert!(runs != 3, "initializer run {runs} fails");
    sleep_ms(500);
}

fn nap_then_set((event, ms): (ipc::Event, u64)) {
    nap_ms(ms);
    event.set();
}

/// A ^C reaches every process of the terminal's foreground group, the forkserver too:
/// the server does not die of `SIGINT` (it blocks it; Python's ignores it), so that the
/// processes it started are the program's to stop. Each of them has the program's action
/// back: sent `SIGINT` itself, it dies of it. (Python: `test_forkserver_sigint`. The server died
/// of it, and the process started before the `SIGINT` with it.)
fn a_forkserver_outlives_sigint_and_its_processes_do_not() {
    time_limit(Duration::from_secs(30));
    // The server takes the program's action as it starts: the default one, whatever this
    // test was started with.
    let _sigint = SigintDefault::new();
    ipc::forkserver::stop();
    let _stop = StopsTheForkserver;
    ipc::forkserver::start().unwrap();
    let ctx = get_context(StartMethod::Forkserver);
    let event = ipc::Event::new().unwrap();
    let mut started_before = ctx.process(nap_then_set, (event.clone(), 500)).unwrap();
    started_before.start().unwrap();
    let server = ipc::forkserver::pid().unwrap();
    kill(Pid::from_raw(server), Signal::SIGINT).unwrap();
    assert_eq!(started_before.join().unwrap(), 0);
    assert!(
        event.is_set(),
        "the process started before the SIGINT ran to its end"
    );
    assert_eq!(
        ipc::forkserver::pid(),
        Some(server),
        "the same server still runs"
    );

    let mut interrupted = ctx.process(nap_ms, 20_000).unwrap();
    interrupted.start().unwrap();
    let pid = interrupted.pid().unwrap();
    kill(Pid::from_raw(pid), Signal::SIGINT).unwrap();
    assert_eq!(interrupted.join().unwrap(), -(Signal::SIGINT as i32));
}

/// A SIGINT sent to a process of the forkserver as soon as it exists (a ^C at the terminal
/// that comes while it starts) is the program's action's to handle: the process dies of it,
/// as its siblings do. The server ignores SIGINT, and its fork inherits that until the
/// child puts the program's action back: a SIGINT in between is discarded, and the process
/// runs to its end. (A thread watches the server's children and signals each new one.)
fn a_sigint_as_a_forkserver_process_starts_is_not_lost() {
    time_limit(Duration::from_secs(120));
    // The server takes the program's action as it starts: the default one, whatever this
    // test was started with.
    let _sigint = SigintDefault::new();
    ipc::forkserver::stop();
    let _stop = StopsTheForkserver;
    ipc::forkserver::start().unwrap();
    let server = ipc::forkserver::pid().unwrap();
    let ctx = get_context(StartMethod::Forkserver);
    let mut codes = Vec::new();
    for _ in 0..10 {
        let watcher = std::thread::spawn(move || {
            let children = format!("/proc/{server}/task/{server}/children");
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                let listed = std::fs::read_to_string(&children).unwrap_or_default();
                if let Some(pid) = listed.split_whitespace().next() {
                    let pid: i32 = pid.parse().unwrap();
                    kill(Pid::from_raw(pid), Signal::SIGINT).unwrap();
                    return;
                }
            }
        });
        let mut p = ctx.process(nap_ms, 2_000).unwrap();
        // Dead of it before it answered `Ready`, the start fails: that is dying of it too.
        let code = match p.start() {
            Ok(()) => p.join().unwrap(),
            Err(_) => -(Signal::SIGINT as i32),
        };
        codes.push(code);
        watcher.join().unwrap();
    }
    assert!(
        codes.iter().all(|&code| code == -(Signal::SIGINT as i32)),
        "exit codes of processes sent SIGINT as they started: {codes:?}"
    );
}

fn count_descriptors((event, mut queue): (ipc::Event, ipc::Queue)) {
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count();
    queue.put(&open).unwrap();
    event.wait();
}

/// A process of the forkserver has as many descriptors however many of its siblings run:
/// none of the server's own for them (each sibling's pidfd and status socket). (Python:
/// `test_child_fd_inflation`. Each sibling cost two more: 34, 36, 38, 40, 42.)
fn forkserver_processes_do_not_inherit_their_siblings() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    let ctx = get_context(StartMethod::Forkserver);
    let event = ipc::Event::new().unwrap();
    let mut queue = ipc::Queue::new().unwrap();
    let mut processes: Vec<Process> = (0..5)
        .map(|_| {
            let args = (event.clone(), queue.try_clone().unwrap());
            ctx.process(count_descriptors, args).unwrap()
        })
        .collect();
    for p in &mut processes {
        p.start().unwrap();
    }
    let counts: Vec<usize> = (0..5).map(|_| queue.get().unwrap()).collect();
    event.set();
    for p in &mut processes {
        assert_eq!(p.join().unwrap(), 0);
    }
    assert!(
        counts.iter().all(|&n| n == counts[0]),
        "descriptors in each process: {counts:?}"
    );
}

/// One replacement fails while another is still starting: the task waits for the other,
/// rather than getting the failure as its answer.
fn a_failed_start_while_another_starts_is_not_the_answer() {
    time_limit(Duration::from_secs(60));
    let path = runs_file("third-run");
    let pool = get_context(StartMethod::Fork)
        .pool(2)
        .initializer(the_third_run_fails, path.clone())
        .max_tasks_per_child(1)
        .start()
        .unwrap();
    let first = [pool.apply_async(square, 2), pool.apply_async(square, 3)];
    for result in first {
        result.unwrap().get().unwrap();
    }
    let third = pool.apply_async(square, 4).unwrap().get();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(third, Ok(16)), "{third:?}");
    pool.close();
    pool.join().unwrap();
}

/// A replacement that fails once, while the other worker is busy for long: the pool starts
/// the next one when its pause is over, rather than when the busy worker answers, and
/// the next task runs on it.
fn a_replacement_after_a_failed_one_starts_when_its_pause_is_over() {
    time_limit(Duration::from_secs(60));
    let path = runs_file("third-run-only");
    let pool = get_context(StartMethod::Fork)
        .pool(2)
        .initializer(the_third_run_fails, path.clone())
        .start()
        .unwrap();
    let long = pool.apply_async(sleep_ms, 8000).unwrap();
    let died = pool.apply_async(exit_with, 3).unwrap().get();
    assert!(matches!(died, Err(Error::WorkerDied { .. })), "{died:?}");
    let asked = Instant::now();
    assert_eq!(pool.apply(square, 3).unwrap(), 9);
    let took = asked.elapsed();
    std::fs::remove_file(&path).unwrap();
    assert!(took < Duration::from_secs(4), "{took:?}");
    drop(long);
    pool.terminate();
}

/// Its first run takes 30 s; the others return at once.
fn the_first_run_is_slow(path: String) {
    if count_run(&path) == 1 {
        sleep_ms(30_000);
    }
}

/// One worker's initializer takes long: the tasks handed in meanwhile run on the other
/// worker, which is ready, rather than wait for the slow one (Python: the same).
fn tasks_do_not_wait_for_a_slow_initializer_while_a_worker_is_ready() {
    time_limit(Duration::from_secs(60));
    let path = runs_file("first-run-slow");
    let pool = get_context(StartMethod::Fork)
        .pool(2)
        .initializer(the_first_run_is_slow, path.clone())
        .start()
        .unwrap();
    let asked = Instant::now();
    let squares = pool.map(square, 0..8u64);
    let took = asked.elapsed();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(squares.unwrap(), [0, 1, 4, 9, 16, 25, 36, 49]);
    assert!(took < Duration::from_secs(10), "{took:?}");
    pool.terminate();
}

/// Fails its first run only.
fn the_first_run_fails(path: String) {
    let runs = count_run(&path);
    assert!(runs != 1, "initializer run {runs} fails");
}

/// Appends `line` to the file at `path`: a task whose runs can be counted.
fn append_line((path, line): (String, String)) {
    use std::io::Write;
    let mut file = (std::fs::OpenOptions::new().append(true).create(true))
        .open(path)
        .unwrap();
    writeln!(file, "{line}").unwrap();
}

/// A task whose answer is that no worker could start for it never runs after all: asked
/// again, it runs once.
fn a_task_answered_with_a_failed_start_does_not_run() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let runs = runs_file(&format!("first-run-fails-{method}"));
        let lines = runs_file(&format!("task-lines-{method}"));
        let pool = get_context(method)
            .pool(1)
            .initializer(the_first_run_fails, runs.clone())
            .start()
            .unwrap();
        let task = (lines.clone(), "task".to_string());
        let first = pool.apply(append_line, task.clone());
        assert!(
            matches!(first, Err(Error::Refused(_))),
            "{method}: {first:?}"
        );
        pool.apply(append_line, task).unwrap();
        pool.close();
        pool.join().unwrap();
        let ran = std::fs::read_to_string(&lines).unwrap();
        std::fs::remove_file(&runs).unwrap();
        std::fs::remove_file(&lines).unwrap();
        assert_eq!(ran, "task\n", "{method}");
    }
}

/// Counts its run once it has taken half a second.
fn count_after_a_nap(path: String) {
    sleep_ms(500);
    count_run(&path);
}

/// `join` right after `start` lets every initializer finish, as Python's does.
fn join_lets_the_initializers_finish() {
    time_limit(Duration::from_secs(60));
    let path = runs_file("initializers-finished");
    let pool = get_context(StartMethod::Fork)
        .pool(2)
        .initializer(count_after_a_nap, path.clone())
        .start()
        .unwrap();
    pool.close();
    pool.join().unwrap();
    let finished = std::fs::metadata(&path).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(&path);
    assert_eq!(finished, 2);
}

/// A task handed in once the workers have said they are ready (read by no wait yet) is
/// written at once, and runs while the caller waits for something else.
fn a_task_for_workers_ready_runs_without_a_wait_on_the_pool() {
    time_limit(Duration::from_secs(60));
    let event = ipc::Event::new().unwrap();
    let pool = get_context(StartMethod::Fork)
        .pool(2)
        .initializer(keep_event, event.clone())
        .start()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500)); // both have said that they are ready
    let sent = pool
        .apply_async(set_event, serde_bytes::ByteBuf::from(vec![1; 10]))
        .unwrap();
    assert!(event.wait_timeout(Duration::from_secs(10)));
    assert_eq!(sent.get().unwrap(), 10);
    pool.terminate();
}

/// With no descriptor left, no worker can start: each task waiting gets that as its own
/// answer (the one waited for too, behind others), and none of them runs later.
fn tasks_answered_that_no_worker_starts_get_the_reason_and_never_run() {
    time_limit(Duration::from_secs(60));
    let lines = runs_file("unstarted-lines");
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    assert_eq!(pool.apply(square, 1).unwrap(), 1);
    let line = |text: &str| (lines.clone(), text.to_string());
    let full = NoDescriptorsLeft::new();
    let died = pool.apply_async(exit_with, 3).unwrap();
    let queued = [
        pool.apply_async(append_line, line("c")).unwrap(),
        pool.apply_async(append_line, line("d")).unwrap(),
    ];
    let died = died.get();
    let waited = pool.apply_async(append_line, line("x")).unwrap().get();
    let answers: Vec<_> = queued.into_iter().map(|task| task.get()).collect();
    drop(full);
    let after = pool.apply(append_line, line("after"));
    pool.close();
    pool.join().unwrap();
    let ran = std::fs::read_to_string(&lines).unwrap_or_default();
    let _ = std::fs::remove_file(&lines);
    assert!(matches!(died, Err(Error::WorkerDied { .. })), "{died:?}");
    let emfile = |answer: &Result<(), Error>| matches!(answer, Err(Error::Io(e)) if e.raw_os_error() == Some(nix::libc::EMFILE));
    assert!(emfile(&waited), "{waited:?}");
    assert!(answers.iter().all(emfile), "{answers:?}");
    assert!(after.is_ok(), "{after:?}");
    assert_eq!(ran, "after\n");
}

/// Fails every run.
fn always_fail(_: ()) {
    panic!("no database");
}

/// Waits keep their deadline while every start fails, one failure after another.
fn waits_keep_their_deadline_while_starts_keep_failing() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    let pool = get_context(StartMethod::Forkserver)
        .pool(3)
        .initializer(always_fail, ())
        .start()
        .unwrap();
    let mut tasks: Vec<_> = (0..1000)
        .map(|x| pool.apply_async(square, x).unwrap())
        .collect();
    let mut last = tasks.pop().unwrap();
    let asked = Instant::now();
    let ready = last.ready();
    let answer = last.get_timeout(Duration::from_millis(10));
    let took = asked.elapsed();
    assert!(matches!(ready, Ok(false)), "{ready:?}");
    assert!(matches!(answer, Err(Error::Timeout)), "{answer:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
    pool.terminate();
}

/// Does what the file `{path}.mode` says: `ok`, `fail`, or `slow-ok` (the first run to
/// read it takes a second and is ready, the others fail).
fn as_the_mode_says(path: String) {
    let mode = std::fs::read_to_string(format!("{path}.mode")).unwrap();
    match mode.as_str() {
        "fail" => panic!("failing, as the mode says"),
        "slow-ok" => {
            let taken = (std::fs::OpenOptions::new().write(true).create_new(true))
                .open(format!("{path}.slow-taken"));
            assert!(taken.is_ok(), "the slow start was taken");
            sleep_ms(1000);
        }
        _ => {}
    }
}

/// Starts that failed while another worker was ready do not count later: once no worker
/// is ready, a task waits for a start that succeeds, as in a new pool.
fn failed_starts_while_a_worker_was_ready_are_not_held_against_the_next() {
    time_limit(Duration::from_secs(60));
    let path = runs_file("mode");
    let set_mode = |mode: &str| std::fs::write(format!("{path}.mode"), mode).unwrap();
    set_mode("ok");
    let pool = get_context(StartMethod::Fork)
        .pool(2)
        .initializer(as_the_mode_says, path.clone())
        .start()
        .unwrap();
    both_ready(&pool);
    set_mode("fail");
    assert!(pool.apply(exit_with, 3).is_err());
    assert_eq!(pool.apply(sleep_ms, 600).unwrap(), 600); // replacements fail meanwhile
    set_mode("slow-ok");
    assert!(pool.apply(exit_with, 3).is_err()); // the last ready worker
    let next = pool.apply(square, 5);
    let _ = std::fs::remove_file(format!("{path}.mode"));
    let _ = std::fs::remove_file(format!("{path}.slow-taken"));
    assert!(matches!(next, Ok(25)), "{next:?}");
    pool.terminate();
}

/// Its first run never ends (for the test's length), its second fails, the others return.
fn first_hangs_second_fails(path: String) {
    match count_run(&path) {
        1 => nap_ms(600_000),
        2 => panic!("the second run fails"),
        _ => {}
    };
}

/// One worker's initializer hangs, the other's fails: the failed one is replaced, and its
/// replacement runs the task (the hung start does not hold the slot empty).
fn a_hung_start_does_not_keep_a_failed_one_from_being_replaced() {
    time_limit(Duration::from_secs(60));
    let path = runs_file("hung-then-failed");
    let pool = get_context(StartMethod::Fork)
        .pool(2)
        .initializer(first_hangs_second_fails, path.clone())
        .start()
        .unwrap();
    let answer = pool
        .apply_async(square, 5)
        .unwrap()
        .get_timeout(Duration::from_secs(10));
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(answer, Ok(25)), "{answer:?}");
    pool.terminate();
}

/// A worker that cannot be replaced (its initializer fails) while another works: the pool
/// tries again now and then, not as fast as it can fork.
fn a_replacement_that_keeps_failing_is_not_retried_in_a_loop() {
    time_limit(Duration::from_secs(60));
    let path = runs_file("failing-runs");
    let pool = get_context(StartMethod::Fork)
        .pool(2)
        .initializer(fail_from_the_third_run, path.clone())
        .start()
        .unwrap();
    let long = pool.apply_async(sleep_ms, 1000).unwrap();
    let died = pool.apply_async(exit_with, 3).unwrap().get();
    assert!(matches!(died, Err(Error::WorkerDied { .. })), "{died:?}");
    assert_eq!(long.get().unwrap(), 1000);
    let runs = std::fs::metadata(&path).unwrap().len();
    std::fs::remove_file(&path).unwrap();
    assert!(runs < 40, "{runs} initializer runs in a second");
    pool.terminate();
}

fn the_forkserver_dies_with_its_parent() {
    time_limit(Duration::from_secs(30));
    fork_test::adopt_orphans(true);
    let (mut report, mut report_end) = ipc::Pipe::new().unwrap();
    let mut parent = Process::new(move || {
        ipc::forkserver::start().unwrap();
        let mut p = get_context(StartMethod::Forkserver)
            .process(sleep_ms_unit, 60_000)
            .unwrap();
        p.start().unwrap();
        report_end
            .send(&(ipc::forkserver::pid().unwrap(), p.pid().unwrap()))
            .unwrap();
        std::mem::forget(p);
        std::thread::sleep(Duration::from_secs(60));
    });
    parent.start().unwrap();
    let (server, child): (i32, i32) = report.recv().unwrap();
    parent.kill().unwrap();
    parent.join().unwrap();
    let started = Instant::now();
    while (fork_test::is_running(server) || fork_test::is_running(child))
        && started.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let survivors: Vec<i32> = [server, child]
        .into_iter()
        .filter(|&p| fork_test::is_running(p))
        .collect();
    for &p in &survivors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // Adopted when their parents died: reap them.
    for p in [server, child] {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(p), None);
    }
    fork_test::adopt_orphans(false);
    assert!(survivors.is_empty(), "left running: {survivors:?}");
}

fn a_spawned_program_without_init_is_refused() {
    // A lifeline as the spawn method hands one: a socket the parent made.
    let (lifeline, _parents_end) = UnixStream::pair().unwrap();
    let mut p = Process::with_exit_code(move || {
        // Pretend to be a spawned child whose main forgot `ipc::spawn::init()`.
        let (parent, fd) = (nix::unistd::getppid(), lifeline.as_raw_fd());
        // SAFETY: this child process has one thread.
        unsafe { std::env::set_var("IPC_SPAWNED", format!("{parent}:{fd}:{fd}")) };
        match get_context(StartMethod::Spawn)
            .process(exit_with, 0)
            .unwrap()
            .start()
        {
            Err(Error::SpawnNotInitialized) => 0,
            other => {
                eprintln!("{other:?}");
                1
            }
        }
    });
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
}

fn answer_on(conn: ipc::Connection) {
    let mut conn = conn;
    let question: String = conn.recv().unwrap();
    conn.send(&format!("{question}? from {}", std::process::id()))
        .unwrap();
}

fn put_on(queue: ipc::Queue) {
    let mut queue = queue;
    queue.put(&std::process::id()).unwrap();
}

/// The queue a pool's worker got from its initializer.
static RESULTS: std::sync::Mutex<Option<ipc::Queue>> = std::sync::Mutex::new(None);

fn keep_queue(queue: ipc::Queue) {
    *RESULTS.lock().unwrap() = Some(queue);
}

fn report(x: u64) -> u64 {
    RESULTS.lock().unwrap().as_mut().unwrap().put(&x).unwrap();
    x
}

fn echo_conn(conn: ipc::Connection) -> u8 {
    drop(conn);
    0
}

fn pipes_and_queues_go_to_new_processes_in_their_arguments() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in FROM_THREADS {
        let ctx = get_context(method);
        let (mut ours, theirs) = ipc::Pipe::new().unwrap();
        let mut p = ctx.process(answer_on, theirs).unwrap();
        p.start().unwrap();
        ours.send("ready").unwrap();
        let answer: String = ours.recv().unwrap();
        assert!(answer.starts_with("ready? from "), "{method}: {answer}");
        assert_eq!(p.join().unwrap(), 0);

        let mut queue = ipc::Queue::new().unwrap();
        let mut p = ctx.process(put_on, queue.try_clone().unwrap()).unwrap();
        p.start().unwrap();
        let pid: u32 = queue.get_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(pid as i32, p.pid().unwrap(), "{method}");
        assert_eq!(p.join().unwrap(), 0);

        // A pool's workers get the queue from the initializer, as in Python...
        let results = ipc::Queue::new().unwrap();
        let pool = ctx
            .pool(2)
            .initializer(keep_queue, results.try_clone().unwrap())
            .start()
            .unwrap();
        assert_eq!(pool.map(report, [1, 2, 3]).unwrap(), [1, 2, 3]);
        let mut reported: Vec<u64> = (0..3)
            .map(|_| results.try_clone().unwrap().get().unwrap())
            .collect();
        reported.sort();
        assert_eq!(reported, [1, 2, 3], "{method}");
        // ...and a task's arguments cannot hold one: it is refused, with the reason.
        let (_ours, theirs) = ipc::Pipe::new().unwrap();
        let refused = pool.apply(echo_conn, theirs).unwrap_err().to_string();
        assert!(refused.contains("as it starts"), "{refused}");
    }
}

fn report_what_arrives((mut conn, mut report): (ipc::Connection, ipc::Connection)) {
    let got = conn
        .recv_bytes()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    report.send(&format!("{got:?}")).unwrap();
}

/// An end whose reading stopped in the middle of a message (a frame refused over the
/// limit, its body still in the stream) is `Unreadable`, so that nobody takes the rest of
/// that body for messages. Handed to a new process in its arguments, it must stay so (or
/// be refused): the new process must not read the refused body as frames. (Its copy
/// started afresh: it read the body as messages, and got "hi", which nobody sent.)
fn an_end_left_in_the_middle_of_a_message_is_not_handed_on_as_whole() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    for method in FROM_THREADS {
        let (mut ours, mut theirs) = ipc::Pipe::new().unwrap();
        // After a big message the next header is read alone: nothing of its body is
        // buffered here, so the end may go to another process.
        theirs.send_bytes(&[0; 70_000]).unwrap();
        ours.recv_bytes().unwrap();
        ours.set_max_message_size(16);
        // A body of 22 bytes, over the limit, which holds frames of its own: "hi", then 12 x.
        let mut body = vec![0, 0, 0, 2, b'h', b'i', 0, 0, 0, 12];
        body.extend_from_slice(&[b'x'; 12]);
        theirs.send_bytes(&body).unwrap();
        assert!(matches!(ours.recv_bytes(), Err(Error::TooLarge { .. })));
        assert!(matches!(ours.recv_bytes(), Err(Error::Unreadable(_))));
        let (mut reports, report) = ipc::Pipe::new().unwrap();
        let started = get_context(method)
            .process(report_what_arrives, (ours, report))
            .and_then(|mut p| p.start().map(|()| p));
        match started {
            Err(e) => assert!(
                e.to_string().contains("middle of a message"),
                "{method}: {e}"
            ),
            Ok(mut p) => {
                let got: String = reports.recv().unwrap();
                p.join().unwrap();
                assert!(
                    got.starts_with("Err(Unreadable"),
                    "{method}: the new process read {got}"
                );
            }
        }
    }
}

/// The connection a pool's worker got from its initializer.
static CONN: std::sync::Mutex<Option<ipc::Connection>> = std::sync::Mutex::new(None);

fn keep_conn(conn: ipc::Connection) {
    *CONN.lock().unwrap() = Some(conn);
}

fn recv_one(_: ()) -> String {
    CONN.lock().unwrap().as_mut().unwrap().recv().unwrap()
}

/// One end read in turn by several processes (each worker of the pool gets it from the
/// initializer, and leaves after one task): each message goes to one of them, and none is
/// lost with a worker that leaves, as in Python.
fn an_end_read_in_turn_by_several_processes_loses_no_message() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let (mut ours, theirs) = ipc::Pipe::new().unwrap();
        let pool = get_context(method)
            .pool(1)
            .initializer(keep_conn, theirs)
            .max_tasks_per_child(1)
            .start()
            .unwrap();
        let sent = ["first", "second", "third"];
        for message in sent {
            ours.send(message).unwrap();
        }
        let received: Vec<_> = (0..sent.len())
            .map(|_| {
                let mut read = pool.apply_async(recv_one, ()).unwrap();
                read.get_timeout(Duration::from_secs(5))
            })
            .collect();
        let received: Vec<String> = received
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| e.to_string()))
            .collect();
        assert_eq!(received, sent, "{method}");
        pool.terminate();
    }
}

fn send_my_name(conn: ipc::Connection) {
    let mut conn = conn;
    conn.send(&std::fs::read_to_string("/proc/self/comm").unwrap())
        .unwrap();
}

/// A spawned child has the program's name where `ps -o comm`, `top` and `pstree` look,
/// not `exe`, the name of the file it was started from (`/proc/self/exe`).
fn a_spawned_child_has_the_programs_name() {
    time_limit(Duration::from_secs(30));
    let (mut ours, theirs) = ipc::Pipe::new().unwrap();
    let ctx = get_context(StartMethod::Spawn);
    let mut child = ctx.process(send_my_name, theirs).unwrap();
    child.start().unwrap();
    let name: String = ours.recv().unwrap();
    assert_eq!(child.join().unwrap(), 0);
    assert_eq!(name, std::fs::read_to_string("/proc/self/comm").unwrap());
}

fn write_hello(fd: ipc::Descriptor) {
    std::io::Write::write_all(&mut std::fs::File::from(fd.into_owned()), b"hello").unwrap();
}

fn a_lazily_started_forkserver_keeps_no_copy_of_what_it_hands_on() {
    time_limit(Duration::from_secs(20));
    let _stop = StopsTheForkserver;
    ipc::forkserver::stop();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let fd = ipc::Descriptor::from(std::os::fd::OwnedFd::from(writer));
    // The first forkserver process starts the server, now.
    let mut p = get_context(StartMethod::Forkserver)
        .process(write_hello, fd)
        .unwrap();
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut reader, &mut text).unwrap(); // the end comes
    assert_eq!(text, "hello");
}

/// A lookup of the program's image (which the spawn and forkserver methods need, once)
/// that fails for want of a descriptor is not kept: the next one finds the image. The
/// first test of this binary, so that nothing has looked the image up before it.
fn a_failed_lookup_of_the_programs_image_is_tried_again() {
    time_limit(Duration::from_secs(30));
    let full = NoDescriptorsLeft::new();
    let short = get_context(StartMethod::Spawn).process(exit_with, 0);
    drop(full);
    assert!(
        short.is_err(),
        "no descriptor to read /proc/self/maps with (or the image was looked up before: \
         this test must run first)"
    );
    let mut p = get_context(StartMethod::Spawn)
        .process(exit_with, 0)
        .unwrap();
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
}

/// A worker that dies when no other can be started (no descriptor left, here) is still a
/// `WorkerDied` for its task, and the workers left go on with the tasks; the pool has its
/// number again once workers can be started.
fn a_pool_that_cannot_replace_a_dead_worker_goes_on_with_the_others() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(2).start().unwrap();
        // The program's image is looked up (once) before the descriptors run out.
        assert_eq!(pool.apply(square, 1).unwrap(), 1);
        let full = NoDescriptorsLeft::new();
        let died = pool.apply(exit_with_code_u64, 3);
        let next = pool.apply(square, 5);
        drop(full);
        assert!(
            matches!(died, Err(Error::WorkerDied { .. })),
            "{method}: {died:?}"
        );
        assert_eq!(next.unwrap(), 25, "{method}: the other worker goes on");
        assert_eq!(pool.map(square, [2, 3]).unwrap(), [4, 9], "{method}");
        pool.close();
        pool.join().unwrap();
    }
}

fn exits_on_1(x: u64) -> u64 {
    if x == 1 {
        std::process::exit(3);
    }
    x
}

/// An `imap` whose pool has no worker left, and can start none (no descriptor left,
/// here), gives each item one answer, an error, and ends.
fn a_worker_pool_imap_with_no_worker_left_ends() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(1).start().unwrap();
        // The program's image is looked up (once) before the descriptors run out.
        assert_eq!(pool.apply(square, 1).unwrap(), 1);
        let mut results = pool.imap(exits_on_1, 0..3).unwrap();
        assert_eq!(results.next().unwrap().unwrap(), 0, "{method}");
        let full = NoDescriptorsLeft::new();
        let rest: Vec<_> = results.by_ref().take(10).collect();
        drop(full);
        assert_eq!(rest.len(), 2, "{method}: one answer per item: {rest:?}");
        assert!(
            matches!(rest[0], Err(Error::WorkerDied { .. })),
            "{method}: {rest:?}"
        );
        assert!(rest[1].is_err(), "{method}: {rest:?}");
    }
}

/// A program that closed its standard streams: the forkserver's own sockets never take
/// their numbers (nor go to a child as its stdin); a request while a stream is closed
/// is refused, saying why, and the server goes on. (In a child of its own, whose standard
/// streams can go.)
fn a_forkserver_started_with_closed_standard_streams_serves() {
    time_limit(Duration::from_secs(20));
    let _stop = StopsTheForkserver;
    ipc::forkserver::stop();
    let mut child = Process::new(|| {
        for fd in 0..3 {
            nix::unistd::close(fd).unwrap();
        }
        ipc::forkserver::start().unwrap();
        let ctx = get_context(StartMethod::Forkserver);
        let closed = ctx.process(exit_with, 0).unwrap().start();
        let why = closed.expect_err("no stdin to hand on").to_string();
        assert!(why.contains("standard"), "{why}");
        let null: Vec<std::fs::File> = (0..3)
            .map(|_| {
                std::fs::File::options()
                    .read(true)
                    .write(true)
                    .open("/dev/null")
                    .unwrap()
            })
            .collect();
        let mut p = ctx.process(exit_with, 0).unwrap();
        p.start().unwrap();
        assert_eq!(p.join().unwrap(), 0);
        drop(null);
        ipc::forkserver::stop();
    });
    child.start().unwrap();
    assert_eq!(child.join().unwrap(), 0);
}

/// Starts a process with the forkserver method, from a process the forkserver started.
fn start_with_the_forkserver(_: ()) {
    let mut p = get_context(StartMethod::Forkserver)
        .process(exit_with, 0)
        .unwrap();
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
    ipc::forkserver::stop();
}

/// A process the forkserver started may use the forkserver method itself (a server of its
/// own): the server is not forked with its lock held, which would stay held for good in
/// the server's copy of the program's memory, and in each child's.
fn a_forkserver_child_can_use_the_forkserver() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    ipc::forkserver::stop();
    let mut p = get_context(StartMethod::Forkserver)
        .process(start_with_the_forkserver, ())
        .unwrap();
    p.start().unwrap();
    assert_eq!(p.join_timeout(Duration::from_secs(10)).unwrap(), Some(0));
}

/// The forkserver is a fork of the program, but keeps none of its descriptors: a pipe the
/// program had open when the server started still ends when the program lets go of its
/// last copy of an end (an exec'd server, as Python's, would hold none either).
fn a_forkserver_keeps_none_of_the_programs_pipes() {
    time_limit(Duration::from_secs(20));
    let _stop = StopsTheForkserver;
    ipc::forkserver::stop();
    let (mut reader, writer) = ipc::Pipe::new().unwrap();
    ipc::forkserver::start().unwrap();
    drop(writer);
    assert!(
        reader.poll(Duration::from_secs(5)).unwrap(),
        "the end of the stream came"
    );
    assert!(matches!(reader.recv::<u32>(), Err(Error::Closed)));
}

/// Marks its arrival in `dir`, then waits (5 s at most) until `count` tasks have arrived:
/// true if they all did, that is, if they ran at the same time.
fn meet((dir, count): (String, usize)) -> bool {
    let mine = format!("{dir}/{}", std::process::id());
    std::fs::write(mine, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if std::fs::read_dir(&dir).unwrap().count() >= count {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn two_tasks_on_a_pool_of_four_run_at_the_same_time() {
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let dir = std::env::temp_dir().join(format!("ipc-meet-{}-{method}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display().to_string();
        let pool = get_context(method).pool(4).start().unwrap();
        let met = pool
            .map(meet, vec![(d.clone(), 2), (d.clone(), 2)])
            .unwrap();
        drop(pool);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            met,
            [true, true],
            "{method}: the two tasks ran on two workers at once"
        );
    }
}

/// Page faults of this process so far (first touches of pages, mostly).
fn page_faults() -> i64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_SELF)
        .unwrap()
        .minor_page_faults()
}

/// Fills five buffers of 100 KiB, frees them, and returns the page faults it took: a task
/// whose memory comes and goes, as a chunk's arguments and results do.
fn fill_and_free(_: ()) -> i64 {
    let before = page_faults();
    let buffers: Vec<Vec<u8>> = (0..5).map(|_| vec![1; 100 * 1024]).collect();
    std::hint::black_box(&buffers);
    drop(buffers);
    page_faults() - before
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn a_worker_reuses_the_memory_its_last_task_freed() {
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(1).start().unwrap();
        let faults: Vec<i64> = (0..3)
            .map(|_| pool.apply(fill_and_free, ()).unwrap())
            .collect();
        // 500 KiB is 125 pages: taken fresh by the first task, and by every task if the
        // allocator gave them back in between.
        assert!(faults[2] < 30, "{method}: page faults per task {faults:?}");
    }
}

/// The descriptors of this process that a program it runs would get: open ones without
/// close-on-exec, standard streams aside.
fn inheritable_descriptors() -> Vec<i32> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let mut found: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .filter(|&fd| {
            // SAFETY: only borrowed for one fcntl(F_GETFD); the number may be the
            // directory's own, already closed, which fcntl reports as an error.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            fcntl(fd, FcntlArg::F_GETFD)
                .is_ok_and(|flags| !FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC))
        })
        .collect();
    found.sort();
    found
}

/// Exits with 0 if this process has no inheritable descriptor but those in `theirs` (the
/// parent's, which a fork keeps); panics naming the others.
fn hands_on_nothing_of_its_own(theirs: Vec<i32>) {
    let mine: Vec<i32> = inheritable_descriptors()
        .into_iter()
        .filter(|fd| !theirs.contains(fd))
        .collect();
    let named: Vec<String> = mine
        .iter()
        .map(|fd| {
            format!(
                "{fd}: {:?}",
                std::fs::read_link(format!("/proc/self/fd/{fd}"))
            )
        })
        .collect();
    assert!(
        mine.is_empty(),
        "a program run from here would get {named:?}"
    );
}

fn a_new_process_hands_none_of_its_own_descriptors_to_programs_it_runs() {
    let _stop = StopsTheForkserver;
    let theirs = inheritable_descriptors();
    for method in StartMethod::ALL {
        let mut code = None;
        let stderr = capture(Stream::Stderr, || {
            let mut p = get_context(method)
                .process(hands_on_nothing_of_its_own, theirs.clone())
                .unwrap();
            p.start().unwrap();
            code = Some(p.join().unwrap());
        });
        assert_eq!(code, Some(0), "{method}: {stderr}");
    }
}

/// Python: results handed in before `close` can be collected after `join`
/// (`test_pool_worker_lifetime_early_close`), and `join` after `terminate` is allowed
/// (`test_terminate`).
fn results_outlive_close_and_join_and_terminate_then_join_is_allowed() {
    time_limit(Duration::from_secs(20));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method)
            .pool(3)
            .max_tasks_per_child(1)
            .start()
            .unwrap();
        let results: Vec<_> = (0..6)
            .map(|i| pool.apply_async(square, i).unwrap())
            .collect();
        pool.close();
        pool.join().unwrap();
        for (i, result) in (0..6).zip(results) {
            assert_eq!(result.get().unwrap(), i * i, "{method}: kept after join");
        }

        let pool = get_context(method).pool(2).start().unwrap();
        pool.terminate();
        pool.join().unwrap();
    }
}

fn echo(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

/// Tasks and results bigger than a socket's buffer: the parent never waits to write a
/// task to a worker that waits to write a result to it (Python's feeder and result
/// threads keep both ways moving).
fn big_tasks_and_big_results_never_block_each_other() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    let big = || vec![7u8; 300_000];
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(1).start().unwrap();
        let results: Vec<_> = (0..3)
            .map(|_| pool.apply_async(echo, big()).unwrap())
            .collect();
        for result in results {
            assert_eq!(result.get().unwrap(), big(), "{method}");
        }
        let pool = get_context(method).pool(2).start().unwrap();
        let echoed = pool.map(echo, vec![big(); 16]).unwrap();
        assert!(
            echoed.len() == 16 && echoed.iter().all(|e| *e == big()),
            "{method}"
        );
    }
}

/// Python's `imap` hands in all its tasks when it is called: they run, and their results
/// can be read, after `close` and `join`.
fn an_imap_begun_before_close_yields_every_result_after_join() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(2).start().unwrap();
        let squares = pool.imap(square, 0..10u64).unwrap();
        pool.close();
        pool.join().unwrap();
        let squares: Vec<u64> = squares.collect::<Result<_, _>>().unwrap();
        assert_eq!(
            squares,
            (0..10u64).map(|x| x * x).collect::<Vec<_>>(),
            "{method}"
        );
    }
}

fn hundred_kib(_: u32) -> Vec<u8> {
    vec![1; 100 * 1024]
}

fn resident_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A result nobody waits for (its `AsyncResult` dropped) is let go when it arrives, as
/// Python drops a job from the pool's cache: firing and forgetting keeps no memory.
fn results_nobody_waits_for_are_not_kept() {
    time_limit(Duration::from_secs(60));
    let pool = get_context(StartMethod::Fork).pool(2).start().unwrap();
    let before = resident_kib();
    for i in 0..1000u32 {
        drop(pool.apply_async(hundred_kib, i).unwrap());
        if i % 4 == 3 {
            pool.apply(hundred_kib, 0).unwrap();
        }
    }
    let grown = resident_kib().saturating_sub(before);
    // Kept, the thousand results would take 100 MiB.
    assert!(grown < 30 * 1024, "resident memory grew by {grown} KiB");
}

/// Python's `test_forkserver_sigkill`: a start after the forkserver was killed starts
/// another server, and the process.
fn a_killed_forkserver_is_replaced_by_the_next_start() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    ipc::forkserver::start().unwrap();
    let first = ipc::forkserver::pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    while fork_test::is_running(first) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut p = get_context(StartMethod::Forkserver)
        .process(exit_with, 7)
        .unwrap();
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 7);
    assert_ne!(ipc::forkserver::pid(), Some(first), "a new server");
}

fn nap_then_exit((ms, code): (u64, i32)) {
    nap_ms(ms);
    std::process::exit(code)
}

/// Kills the running forkserver, and waits until it has died.
fn kill_the_forkserver() {
    let server = ipc::forkserver::pid().expect("a server runs");
    kill(Pid::from_raw(server), Signal::SIGKILL).unwrap();
    while fork_test::is_running(server) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Python's `test_forkserver_sigkill`: a process of a forkserver that is killed runs on to
/// its end (it is the program's, not the server's), and its join waits for that end; its
/// exit code went with the server. The next start starts another server.
fn a_killed_forkserver_leaves_its_processes_running() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    let ctx = get_context(StartMethod::Forkserver);
    let event = ipc::Event::new().unwrap();
    let mut p = ctx.process(nap_then_set, (event.clone(), 500)).unwrap();
    p.start().unwrap();
    kill_the_forkserver();
    assert!(p.is_alive().unwrap(), "the process died with its server");
    let joined = p.join();
    assert!(
        event.is_set(),
        "joined before the process ended: {joined:?}"
    );
    assert!(
        matches!(joined, Err(Error::ExitStatusLost { .. })),
        "{joined:?}"
    );
    assert!(!p.is_alive().unwrap());
    let next = ipc::Event::new().unwrap();
    let mut q = ctx.process(nap_then_set, (next.clone(), 0)).unwrap();
    q.start().unwrap();
    assert_eq!(q.join().unwrap(), 0);
    assert!(next.is_set());
}

/// `forkserver::stop` stops the server, not the processes it started: they run on, and
/// their joins wait for their ends.
fn a_stopped_forkserver_leaves_its_processes_running() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    let event = ipc::Event::new().unwrap();
    let mut p = get_context(StartMethod::Forkserver)
        .process(nap_then_set, (event.clone(), 300))
        .unwrap();
    p.start().unwrap();
    ipc::forkserver::stop();
    let joined = p.join();
    assert!(
        event.is_set(),
        "the process died with its server: {joined:?}"
    );
    assert!(
        matches!(joined, Err(Error::ExitStatusLost { .. })),
        "{joined:?}"
    );
}

/// A process of a killed forkserver is adopted by the nearest subreaper: when that is the
/// program, its join reaps it, with its exit code, and leaves no zombie behind.
fn a_process_of_a_killed_forkserver_is_reaped_by_a_program_that_adopts_it() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    fork_test::adopt_orphans(true);
    let mut p = get_context(StartMethod::Forkserver)
        .process(nap_then_exit, (300, 7))
        .unwrap();
    p.start().unwrap();
    kill_the_forkserver();
    let joined = p.join();
    fork_test::adopt_orphans(false);
    assert_eq!(joined.unwrap(), 7);
}

/// A process that ended while its forkserver was stopped, whose server is then killed while
/// the program is in its join: the program, a subreaper, adopts the process (a zombie) as
/// the server dies, and its join must reap it, with its code, and leave no zombie behind.
/// The server's status socket closes a moment before the kernel hands its children over
/// (exit_files, then exit_notify): a wait in that moment finds the zombie not yet ours.
fn a_process_that_ended_under_a_forkserver_killed_during_its_join_is_reaped_by_its_adopter() {
    time_limit(Duration::from_secs(100));
    let _stop = StopsTheForkserver;
    fork_test::adopt_orphans(true);
    let ctx = get_context(StartMethod::Forkserver);
    let mut outcomes = Vec::new();
    let mut zombies = Vec::new();
    for _ in 0..60 {
        let mut p = ctx.process(nap_then_exit, (100, 7)).unwrap();
        p.start().unwrap();
        let pid = p.pid().unwrap();
        let server = ipc::forkserver::pid().unwrap();
        kill(Pid::from_raw(server), Signal::SIGSTOP).unwrap();
        while fork_test::is_running(pid) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            kill(Pid::from_raw(server), Signal::SIGKILL).unwrap();
        });
        let joined = p.join();
        killer.join().unwrap();
        outcomes.push(format!("{joined:?}"));
        drop(p);
        // Wait until the server is gone and its children handed over, then look.
        while fork_test::is_running(server) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(20));
        if fork_test::children()
            .iter()
            .any(|&(c, s)| c == pid && s == 'Z')
        {
            zombies.push(pid);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        }
        ipc::forkserver::stop(); // reaps the killed server
    }
    fork_test::adopt_orphans(false);
    let lost = outcomes.iter().filter(|o| *o != "Ok(7)").count();
    assert!(
        lost == 0 && zombies.is_empty(),
        "{lost} of 60 joins did not reap the adopted process ({:?}); zombies left: {zombies:?}",
        outcomes.iter().find(|o| *o != "Ok(7)")
    );
}

/// A process of a killed forkserver still dies with the program that asked for it (its
/// lifeline hangs up), as it would with the server running.
fn a_process_of_a_killed_forkserver_dies_with_the_program() {
    time_limit(Duration::from_secs(30));
    fork_test::adopt_orphans(true);
    let (mut report, mut report_end) = ipc::Pipe::new().unwrap();
    let mut program = Process::new(move || {
        let mut p = get_context(StartMethod::Forkserver)
            .process(sleep_ms_unit, 60_000)
            .unwrap();
        p.start().unwrap();
        kill_the_forkserver();
        report_end.send(&p.pid().unwrap()).unwrap();
        std::mem::forget(p);
        std::thread::sleep(Duration::from_secs(60));
    });
    program.start().unwrap();
    let child: i32 = report.recv().unwrap();
    let ran_on = fork_test::is_running(child);
    program.kill().unwrap();
    program.join().unwrap();
    let started = Instant::now();
    while fork_test::is_running(child) && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let survived = fork_test::is_running(child);
    if survived {
        let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
    }
    // Adopted when their parents died: reap them (the server, and the process).
    while nix::sys::wait::waitpid(None, None).is_ok() {}
    fork_test::adopt_orphans(false);
    assert!(ran_on, "the process died with its server");
    assert!(!survived, "the process outlived the program");
}

/// A pool's workers run on when their forkserver is killed: the pool keeps them, and
/// they answer.
fn a_killed_forkserver_costs_a_pool_none_of_its_workers() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    let pool = get_context(StartMethod::Forkserver)
        .pool(1)
        .start()
        .unwrap();
    let worker = pool.apply(my_pid, ()).unwrap();
    kill_the_forkserver();
    assert_eq!(pool.apply(square, 7).unwrap(), 49);
    assert_eq!(pool.apply(my_pid, ()).unwrap(), worker, "the same worker");
    pool.terminate();
}

/// A request whose descriptors do not all reach the server (it is at its limit of open
/// files) is refused, and the server goes on: the processes it started live on. Run in a
/// child of its own, whose hard limit (which the server takes as its own) can go down for
/// good; the server is started while the child holds a hundred descriptors, whose numbers
/// the server keeps (given dead sockets), so that it has little room left.
fn a_request_the_forkserver_cannot_take_is_refused_and_the_server_goes_on() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    ipc::forkserver::stop();
    let mut child = Process::new(|| {
        use nix::sys::resource::{Resource, setrlimit};
        let held = descriptors(100);
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        setrlimit(Resource::RLIMIT_NOFILE, open + 30, open + 30).unwrap();
        ipc::forkserver::start().unwrap();
        drop(held); // room here for a request of sixty; the server has room for a few
        let ctx = get_context(StartMethod::Forkserver);
        let mut first = ctx.process(sleep_ms_unit, 1000).unwrap();
        first.start().unwrap();
        let mut crowded = ctx.process(keep_descriptors, descriptors(60)).unwrap();
        match crowded.start() {
            Err(Error::Refused(why)) => assert!(why.contains("limit of open files"), "{why}"),
            other => panic!("refused for the server's limit: {other:?}"),
        }
        assert_eq!(first.join().unwrap(), 0, "the first process lived on");
        let mut after = ctx.process(exit_with, 7).unwrap();
        after.start().unwrap();
        assert_eq!(after.join().unwrap(), 7, "the server still serves");
        ipc::forkserver::stop();
    });
    child.start().unwrap();
    assert_eq!(child.join().unwrap(), 0);
}

/// Copies of one pipe end, `count` of them, to go with a request.
fn descriptors(count: usize) -> Vec<ipc::Descriptor> {
    let (_reader, writer) = std::io::pipe().unwrap();
    let writer = std::os::fd::OwnedFd::from(writer);
    (0..count)
        .map(|_| ipc::Descriptor::from(writer.try_clone().unwrap()))
        .collect()
}

/// A forkserver started while the program was short of descriptors keeps that limit (as
/// an exec'd server would): a request too big for it is refused with the way out, and
/// after `stop` the next request starts a server with the program's limit of the day.
fn a_forkserver_started_short_of_descriptors_says_how_to_get_a_new_one() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    ipc::forkserver::stop();
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, open + 30, hard).unwrap();
    let started = ipc::forkserver::start();
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    started.unwrap();
    let ctx = get_context(StartMethod::Forkserver);
    let mut crowded = ctx.process(keep_descriptors, descriptors(60)).unwrap();
    match crowded.start() {
        Err(Error::Refused(why)) => assert!(why.contains("forkserver::stop()"), "{why}"),
        other => panic!("refused for the server's limit: {other:?}"),
    }
    ipc::forkserver::stop();
    let mut crowded = ctx.process(keep_descriptors, descriptors(60)).unwrap();
    crowded.start().unwrap();
    assert_eq!(crowded.join().unwrap(), 0);
}

/// The standard streams go too: a program that closed its stdin and stdout may have
/// pipe ends at 0 and 1 when the server starts. (In a child of its own, whose standard
/// streams can go.)
fn a_forkserver_keeps_no_pipe_end_at_0_1_or_2() {
    time_limit(Duration::from_secs(20));
    let _stop = StopsTheForkserver;
    ipc::forkserver::stop();
    let mut child = Process::new(|| {
        nix::unistd::close(0).unwrap();
        nix::unistd::close(1).unwrap();
        let (reader, writer) = ipc::Pipe::new().unwrap();
        ipc::forkserver::start().unwrap();
        drop(writer);
        assert!(reader.poll(Duration::from_secs(5)).unwrap(), "the end came");
        ipc::forkserver::stop();
    });
    child.start().unwrap();
    assert_eq!(child.join().unwrap(), 0);
}

fn keep_descriptors(fds: Vec<ipc::Descriptor>) {
    drop(fds);
}

/// A sentinel is ready once the process has ended, for good, whatever started it: for a
/// forkserver process too, right after its join (when the server may not yet have closed
/// its end of the status socket).
fn a_forkserver_process_sentinel_is_ready_right_after_its_join() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    let ctx = get_context(StartMethod::Forkserver);
    let mut late = 0;
    for _ in 0..200 {
        let mut p = ctx.process(exit_with, 0).unwrap();
        p.start().unwrap();
        assert_eq!(p.join().unwrap(), 0);
        let ready = ipc::connection::wait(&[&p.sentinel().unwrap()], Some(Duration::ZERO));
        if ready.unwrap().is_empty() {
            late += 1;
        }
    }
    assert_eq!(late, 0, "sentinels not ready right after the join, of 200");
}

/// Once a sentinel is ready, the process has ended, and says so: `exitcode` has its code
/// and `is_alive` is false at once, for a forkserver process too (whose code comes from
/// the server, a moment after the kernel has marked the child's end). Python's pool waits
/// on sentinels, then reads `exitcode`.
fn a_ready_sentinel_means_the_exit_code_is_known() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in [
        StartMethod::Fork,
        StartMethod::Forkserver,
        StartMethod::Spawn,
    ] {
        let ctx = get_context(method);
        let mut unknown = 0;
        for _ in 0..if method == StartMethod::Spawn {
            10
        } else {
            100
        } {
            let mut p = ctx.process(exit_with, 3).unwrap();
            p.start().unwrap();
            let sentinel = p.sentinel().unwrap();
            let ready = ipc::connection::wait(&[&sentinel], Some(Duration::from_secs(10)));
            assert_eq!(
                ready.unwrap(),
                [0],
                "{method:?}: the child ends within 10 s"
            );
            if p.join_timeout(Duration::ZERO).unwrap().is_none() {
                unknown += 1;
            }
            if p.exitcode().unwrap().is_none() {
                unknown += 1;
            }
            assert!(
                !p.is_alive().unwrap(),
                "{method:?}: alive after its sentinel"
            );
            assert_eq!(p.join().unwrap(), 3);
        }
        assert_eq!(
            unknown, 0,
            "{method:?}: no exit code after a ready sentinel"
        );
    }
}

/// A stopped forkserver cannot send the exit codes of its children: `is_alive` still
/// answers at once (from the child's pidfd), and dropping a process still ends (its code
/// is given up after a bounded wait), instead of waiting for the server to go on.
fn a_stopped_forkserver_holds_up_neither_is_alive_nor_drop() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    let ctx = get_context(StartMethod::Forkserver);
    let mut processes: Vec<Process> = (0..5)
        .map(|_| {
            let mut p = ctx.process(nap_ms, 200).unwrap();
            p.start().unwrap();
            p
        })
        .collect();
    let server = nix::unistd::Pid::from_raw(ipc::forkserver::pid().expect("it runs"));
    nix::sys::signal::kill(server, nix::sys::signal::Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(400)); // every child has ended by now
    let asked = Instant::now();
    for p in &mut processes {
        assert!(
            !p.is_alive().unwrap(),
            "a child that has ended is not alive"
        );
    }
    let took = asked.elapsed();
    drop(processes); // old code: waited here for as long as the server was stopped
    nix::sys::signal::kill(server, nix::sys::signal::Signal::SIGCONT).unwrap();
    assert!(
        took < Duration::from_secs(3),
        "is_alive waited for the server: {took:?}"
    );
}

/// A worker killed while its forkserver is stopped (the server cannot report its exit
/// code): the wait for its task ends with `WorkerDied` within seconds, its exit code
/// unknown, not when the server is resumed.
fn a_worker_lost_while_the_forkserver_is_stopped_is_reported_in_seconds() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    let pool = get_context(StartMethod::Forkserver)
        .pool(1)
        .start()
        .unwrap();
    let worker = Pid::from_raw(pool.apply(my_pid, ()).unwrap() as i32);
    let mut long = pool.apply_async(sleep_ms, 30_000).unwrap();
    let server = Pid::from_raw(ipc::forkserver::pid().expect("it runs"));
    kill(server, Signal::SIGSTOP).unwrap();
    let mut resumes = std::process::Command::new("sh")
        .args(["-c", &format!("sleep 20; kill -CONT {server}")])
        .spawn()
        .unwrap();
    kill(worker, Signal::SIGKILL).unwrap();
    let asked = Instant::now();
    let answer = long.get_timeout(Duration::from_millis(100));
    let took = asked.elapsed();
    kill(server, Signal::SIGCONT).unwrap();
    resumes.kill().unwrap();
    resumes.wait().unwrap();
    assert!(
        matches!(answer, Err(Error::WorkerDied { exitcode: None, .. })),
        "{answer:?}"
    );
    assert!(took < Duration::from_secs(12), "{took:?}");
    pool.terminate();
}

/// A result that refuses to be encoded (Python: an unpicklable result).
#[derive(Debug, serde::Deserialize)]
struct Unencodable(u32);

impl serde::Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(format!(
            "{} cannot be encoded",
            self.0
        )))
    }
}

fn unencodable(x: u32) -> Unencodable {
    Unencodable(x)
}

/// A task whose result cannot be encoded is `Error::Encode`, in the words of the
/// `Serialize` that failed, under every method.
fn a_worker_pool_result_that_cannot_be_encoded_says_so() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in StartMethod::ALL {
        let pool = get_context(method).pool(1).start().unwrap();
        match pool.apply(unencodable, 3) {
            Err(Error::Encode(why)) => assert_eq!(why, "3 cannot be encoded", "{method:?}"),
            other => panic!("{method:?}: {other:?}"),
        }
        match pool.map(unencodable, [1, 2]) {
            Err(Error::Encode(why)) => assert_eq!(why, "1 cannot be encoded", "{method:?}"),
            other => panic!("{method:?}: {other:?}"),
        }
        pool.close();
        pool.join().unwrap();
    }
}

/// Python's `AsyncResult` keeps its outcome: `get` gives the same value (or raises the same
/// exception) each time it is asked, and `ready()` stays true.
fn a_result_asked_again_gives_the_same_answer() {
    time_limit(Duration::from_secs(30));
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    let mut answer = pool.apply_async(square, 7).unwrap();
    assert_eq!(answer.get_timeout(Duration::from_secs(10)).unwrap(), 49);
    assert!(answer.ready().unwrap(), "ready once it has answered");
    assert!(answer.wait_timeout(Duration::ZERO).unwrap());
    let again = Instant::now();
    assert_eq!(answer.get_timeout(Duration::from_secs(10)).unwrap(), 49);
    assert!(
        again.elapsed() < Duration::from_secs(5),
        "asked again, it did not wait"
    );
    assert_eq!(answer.get().unwrap(), 49);
    let mut failed = pool.apply_async(panics_on_odd, 3).unwrap();
    for _ in 0..2 {
        match failed.get_timeout(Duration::from_secs(10)) {
            Err(Error::TaskPanicked { index: 0, message }) => {
                assert!(message.contains("odd"), "{message}")
            }
            other => panic!("the task's panic, each time: {other:?}"),
        }
    }
    assert!(matches!(failed.get(), Err(Error::TaskPanicked { .. })));
    pool.close();
    pool.join().unwrap();
}

/// Item 0 catches a panic of its own; item 1 panics with no hook to see it
/// (`resume_unwind`), in the same chunk.
fn resumes_after_a_caught_panic(x: u8) -> u8 {
    match x {
        0 => {
            let caught = std::panic::catch_unwind(|| panic!("handled inside the task"));
            assert!(caught.is_err());
        }
        1 => std::panic::resume_unwind(Box::new("resumed")),
        _ => {}
    }
    x
}

/// A `WorkerPool` worker runs a chunk under one catch, and numbers its tasks: a panic that
/// no hook saw is reported without a place, not at the place of one an earlier task of the
/// chunk caught itself.
fn a_worker_pools_panic_is_never_reported_at_an_earlier_ones_place() {
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    // 8 items for 1 worker: chunks of 2, items 0 and 1 together.
    match pool.map(resumes_after_a_caught_panic, 0..8) {
        Err(Error::TaskPanicked { index: 1, message }) => assert_eq!(message, "resumed"),
        other => panic!("{other:?}"),
    }
    pool.close();
    pool.join().unwrap();
}

/// A spawned child whose parent died before the child reached `init` (the child was
/// adopted, and its parent is no longer the one its request names) runs nothing: not the
/// rest of the program, as a program of its own that nothing would end. `init` finds its
/// lifeline cut, and exits with 1.
fn a_spawned_child_whose_parent_is_gone_runs_nothing_of_the_program() {
    // What the spawn method hands its child: a connection and a lifeline, made here.
    let (_connection, connection_child) = UnixStream::pair().unwrap();
    let (lifeline, lifeline_child) = UnixStream::pair().unwrap();
    for end in [&connection_child, &lifeline_child] {
        fcntl(end, FcntlArg::F_SETFD(FdFlag::empty())).unwrap(); // kept across `exec`
    }
    drop(lifeline); // as when the parent dies
    // This test program, started by a shell: its parent is not the process its request
    // names, as for a child adopted after its parent died. (A second command keeps the
    // shell from replacing itself with the program.)
    let request = format!(
        "{}:{}:{}:",
        std::process::id(),
        connection_child.as_raw_fd(),
        lifeline_child.as_raw_fd()
    );
    let out = Command::new("sh")
        .args(["-c", "\"$0\" no_test_has_this_name; exit $?"])
        .arg(std::env::current_exe().unwrap())
        .env("IPC_SPAWNED", request)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(!printed.contains("running"), "the program ran: {printed}");
    assert_eq!(out.status.code(), Some(1), "{printed}");
}

/// `imap` over an endless iterator ends once the pool is terminated: the items it held
/// get their error, and no more are taken (it went on taking one, and yielding its
/// `PoolTerminated`, for ever).
fn imap_over_an_endless_iterator_ends_once_the_pool_is_terminated() {
    let pool = get_context(StartMethod::Fork).pool(2).start().unwrap();
    let mut squares = pool.imap(square, 0u64..).unwrap();
    assert_eq!(squares.next().transpose().unwrap(), Some(0));
    pool.terminate();
    let rest: Vec<_> = squares.by_ref().take(1000).collect();
    assert!(rest.len() < 10, "{} results after terminate", rest.len());
    assert!(
        rest.iter().all(|r| matches!(r, Err(Error::PoolTerminated))),
        "{rest:?}"
    );
    assert!(squares.next().is_none());
}

/// A task handed to the pool after a worker died with nothing to do is run by the
/// worker that takes its place: it was never begun, so it is no `WorkerDied`.
fn a_task_after_an_idle_worker_died_runs_on_its_replacement() {
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    let worker = the_worker();
    assert_eq!(pool.apply(square, 2).unwrap(), 4);
    kill(worker, Signal::SIGKILL).unwrap();
    while fork_test::children().iter().all(|&(_, state)| state != 'Z') {
        std::thread::sleep(Duration::from_millis(1)); // until it has died
    }
    assert_eq!(pool.apply(square, 3).unwrap(), 9);
    pool.close();
    pool.join().unwrap();
}

/// A task that writes bytes that are no answer into its worker's pipe (the worker's one
/// socket): the task's error says the answer could not be read, not that the worker died
/// (it was `WorkerDied` with exit code 0, the code of a worker ended by the pool).
fn write_no_answer(_: ()) -> u8 {
    fork_test::write_to_every_socket(&[0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff]);
    std::thread::sleep(Duration::from_secs(5)); // the pool ends this worker meanwhile
    0
}

fn a_worker_pool_task_whose_answer_cannot_be_read_says_so() {
    time_limit(Duration::from_secs(30));
    let pool = get_context(StartMethod::Fork).pool(1).start().unwrap();
    match pool.apply(write_no_answer, ()) {
        Err(Error::Decode(why)) => assert!(why.contains("cannot be read"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(pool.apply(square, 3).unwrap(), 9);
    pool.close();
    pool.join().unwrap();
}

fn main() -> std::process::ExitCode {
    ipc::spawn::init();
    fork_test::run(&[
        (
            "a_failed_lookup_of_the_programs_image_is_tried_again",
            a_failed_lookup_of_the_programs_image_is_tried_again,
        ),
        (
            "a_worker_pool_task_whose_answer_cannot_be_read_says_so",
            a_worker_pool_task_whose_answer_cannot_be_read_says_so,
        ),
        (
            "a_task_after_an_idle_worker_died_runs_on_its_replacement",
            a_task_after_an_idle_worker_died_runs_on_its_replacement,
        ),
        (
            "imap_over_an_endless_iterator_ends_once_the_pool_is_terminated",
            imap_over_an_endless_iterator_ends_once_the_pool_is_terminated,
        ),
        (
            "a_spawned_child_whose_parent_is_gone_runs_nothing_of_the_program",
            a_spawned_child_whose_parent_is_gone_runs_nothing_of_the_program,
        ),
        (
            "a_panic_whose_payload_panics_when_dropped_is_still_a_task_panic",
            a_panic_whose_payload_panics_when_dropped_is_still_a_task_panic,
        ),
        (
            "a_worker_stopped_half_way_through_a_reply_holds_up_no_deadline",
            a_worker_stopped_half_way_through_a_reply_holds_up_no_deadline,
        ),
        (
            "a_stopped_forkserver_does_not_hold_up_start_for_ever",
            a_stopped_forkserver_does_not_hold_up_start_for_ever,
        ),
        (
            "a_slow_initializer_does_not_stretch_a_wait_with_a_deadline",
            a_slow_initializer_does_not_stretch_a_wait_with_a_deadline,
        ),
        (
            "an_initializer_that_exits_is_named_as_the_reason",
            an_initializer_that_exits_is_named_as_the_reason,
        ),
        (
            "an_initializer_that_never_ends_holds_up_no_start",
            an_initializer_that_never_ends_holds_up_no_start,
        ),
        (
            "a_task_over_the_message_limit_is_refused_at_once",
            a_task_over_the_message_limit_is_refused_at_once,
        ),
        (
            "a_big_task_for_a_busy_worker_does_not_hold_up_apply_async",
            a_big_task_for_a_busy_worker_does_not_hold_up_apply_async,
        ),
        (
            "a_big_task_for_an_idle_worker_runs_without_a_wait_on_the_pool",
            a_big_task_for_an_idle_worker_runs_without_a_wait_on_the_pool,
        ),
        (
            "replacements_that_all_fail_are_reported",
            replacements_that_all_fail_are_reported,
        ),
        (
            "a_reply_over_the_limit_is_refused_by_waits_with_a_deadline",
            a_reply_over_the_limit_is_refused_by_waits_with_a_deadline,
        ),
        (
            "imap_keeps_order_with_an_item_over_the_limit",
            imap_keeps_order_with_an_item_over_the_limit,
        ),
        (
            "tasks_for_a_stopped_worker_do_not_hold_up_apply_async",
            tasks_for_a_stopped_worker_do_not_hold_up_apply_async,
        ),
        (
            "a_stopped_idle_worker_does_not_hold_up_a_result_that_is_in",
            a_stopped_idle_worker_does_not_hold_up_a_result_that_is_in,
        ),
        (
            "a_stopped_worker_with_a_task_half_written_holds_up_no_other_call",
            a_stopped_worker_with_a_task_half_written_holds_up_no_other_call,
        ),
        (
            "a_replacement_after_a_failed_one_starts_when_its_pause_is_over",
            a_replacement_after_a_failed_one_starts_when_its_pause_is_over,
        ),
        (
            "a_worker_lost_while_the_forkserver_is_stopped_is_reported_in_seconds",
            a_worker_lost_while_the_forkserver_is_stopped_is_reported_in_seconds,
        ),
        (
            "an_end_read_in_turn_by_several_processes_loses_no_message",
            an_end_read_in_turn_by_several_processes_loses_no_message,
        ),
        (
            "map_async_and_imap_wait_with_timeouts_as_in_python",
            map_async_and_imap_wait_with_timeouts_as_in_python,
        ),
        (
            "a_spawned_child_has_the_programs_name",
            a_spawned_child_has_the_programs_name,
        ),
        (
            "tasks_do_not_wait_for_a_slow_initializer_while_a_worker_is_ready",
            tasks_do_not_wait_for_a_slow_initializer_while_a_worker_is_ready,
        ),
        (
            "a_task_answered_with_a_failed_start_does_not_run",
            a_task_answered_with_a_failed_start_does_not_run,
        ),
        (
            "join_lets_the_initializers_finish",
            join_lets_the_initializers_finish,
        ),
        (
            "a_task_for_workers_ready_runs_without_a_wait_on_the_pool",
            a_task_for_workers_ready_runs_without_a_wait_on_the_pool,
        ),
        (
            "tasks_answered_that_no_worker_starts_get_the_reason_and_never_run",
            tasks_answered_that_no_worker_starts_get_the_reason_and_never_run,
        ),
        (
            "waits_keep_their_deadline_while_starts_keep_failing",
            waits_keep_their_deadline_while_starts_keep_failing,
        ),
        (
            "failed_starts_while_a_worker_was_ready_are_not_held_against_the_next",
            failed_starts_while_a_worker_was_ready_are_not_held_against_the_next,
        ),
        (
            "a_hung_start_does_not_keep_a_failed_one_from_being_replaced",
            a_hung_start_does_not_keep_a_failed_one_from_being_replaced,
        ),
        (
            "map_reads_its_items_a_chunk_at_a_time",
            map_reads_its_items_a_chunk_at_a_time,
        ),
        (
            "a_map_whose_items_panic_lets_its_chunks_go_and_the_pool_goes_on",
            a_map_whose_items_panic_lets_its_chunks_go_and_the_pool_goes_on,
        ),
        (
            "map_takes_what_an_iterator_gives_not_what_it_claims",
            map_takes_what_an_iterator_gives_not_what_it_claims,
        ),
        (
            "a_forkserver_outlives_sigint_and_its_processes_do_not",
            a_forkserver_outlives_sigint_and_its_processes_do_not,
        ),
        (
            "forkserver_processes_do_not_inherit_their_siblings",
            forkserver_processes_do_not_inherit_their_siblings,
        ),
        (
            "a_sigint_as_a_forkserver_process_starts_is_not_lost",
            a_sigint_as_a_forkserver_process_starts_is_not_lost,
        ),
        (
            "a_failed_start_while_another_starts_is_not_the_answer",
            a_failed_start_while_another_starts_is_not_the_answer,
        ),
        (
            "a_replacement_that_keeps_failing_is_not_retried_in_a_loop",
            a_replacement_that_keeps_failing_is_not_retried_in_a_loop,
        ),
        (
            "a_ready_sentinel_means_the_exit_code_is_known",
            a_ready_sentinel_means_the_exit_code_is_known,
        ),
        (
            "a_worker_pool_result_that_cannot_be_encoded_says_so",
            a_worker_pool_result_that_cannot_be_encoded_says_so,
        ),
        (
            "a_stopped_forkserver_holds_up_neither_is_alive_nor_drop",
            a_stopped_forkserver_holds_up_neither_is_alive_nor_drop,
        ),
        (
            "a_process_runs_a_function_under_every_method",
            a_process_runs_a_function_under_every_method,
        ),
        (
            "from_a_process_with_threads_forkserver_and_spawn_work_and_fork_refuses",
            from_a_process_with_threads_forkserver_and_spawn_work_and_fork_refuses,
        ),
        (
            "a_dead_worker_is_an_error_for_its_task_and_is_replaced_under_every_method",
            a_dead_worker_is_an_error_for_its_task_and_is_replaced_under_every_method,
        ),
        (
            "a_pool_that_cannot_replace_a_dead_worker_goes_on_with_the_others",
            a_pool_that_cannot_replace_a_dead_worker_goes_on_with_the_others,
        ),
        (
            "a_forkserver_started_short_of_descriptors_says_how_to_get_a_new_one",
            a_forkserver_started_short_of_descriptors_says_how_to_get_a_new_one,
        ),
        (
            "a_forkserver_keeps_no_pipe_end_at_0_1_or_2",
            a_forkserver_keeps_no_pipe_end_at_0_1_or_2,
        ),
        (
            "a_worker_pool_imap_with_no_worker_left_ends",
            a_worker_pool_imap_with_no_worker_left_ends,
        ),
        (
            "a_forkserver_started_with_closed_standard_streams_serves",
            a_forkserver_started_with_closed_standard_streams_serves,
        ),
        (
            "a_forkserver_child_can_use_the_forkserver",
            a_forkserver_child_can_use_the_forkserver,
        ),
        (
            "a_forkserver_keeps_none_of_the_programs_pipes",
            a_forkserver_keeps_none_of_the_programs_pipes,
        ),
        (
            "with_sigchld_ignored_processes_and_pools_end_under_every_method",
            with_sigchld_ignored_processes_and_pools_end_under_every_method,
        ),
        ("the_pool_api_follows_python", the_pool_api_follows_python),
        (
            "a_result_asked_again_gives_the_same_answer",
            a_result_asked_again_gives_the_same_answer,
        ),
        (
            "a_request_the_forkserver_cannot_take_is_refused_and_the_server_goes_on",
            a_request_the_forkserver_cannot_take_is_refused_and_the_server_goes_on,
        ),
        (
            "a_forkserver_process_sentinel_is_ready_right_after_its_join",
            a_forkserver_process_sentinel_is_ready_right_after_its_join,
        ),
        (
            "the_forkserver_dies_with_its_parent",
            the_forkserver_dies_with_its_parent,
        ),
        (
            "a_spawned_program_without_init_is_refused",
            a_spawned_program_without_init_is_refused,
        ),
        (
            "pipes_and_queues_go_to_new_processes_in_their_arguments",
            pipes_and_queues_go_to_new_processes_in_their_arguments,
        ),
        (
            "a_lazily_started_forkserver_keeps_no_copy_of_what_it_hands_on",
            a_lazily_started_forkserver_keeps_no_copy_of_what_it_hands_on,
        ),
        (
            "two_tasks_on_a_pool_of_four_run_at_the_same_time",
            two_tasks_on_a_pool_of_four_run_at_the_same_time,
        ),
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        (
            "a_worker_reuses_the_memory_its_last_task_freed",
            a_worker_reuses_the_memory_its_last_task_freed,
        ),
        (
            "a_new_process_hands_none_of_its_own_descriptors_to_programs_it_runs",
            a_new_process_hands_none_of_its_own_descriptors_to_programs_it_runs,
        ),
        (
            "results_outlive_close_and_join_and_terminate_then_join_is_allowed",
            results_outlive_close_and_join_and_terminate_then_join_is_allowed,
        ),
        (
            "big_tasks_and_big_results_never_block_each_other",
            big_tasks_and_big_results_never_block_each_other,
        ),
        (
            "an_imap_begun_before_close_yields_every_result_after_join",
            an_imap_begun_before_close_yields_every_result_after_join,
        ),
        (
            "results_nobody_waits_for_are_not_kept",
            results_nobody_waits_for_are_not_kept,
        ),
        (
            "a_killed_forkserver_is_replaced_by_the_next_start",
            a_killed_forkserver_is_replaced_by_the_next_start,
        ),
        (
            "a_killed_forkserver_leaves_its_processes_running",
            a_killed_forkserver_leaves_its_processes_running,
        ),
        (
            "a_stopped_forkserver_leaves_its_processes_running",
            a_stopped_forkserver_leaves_its_processes_running,
        ),
        (
            "a_process_of_a_killed_forkserver_is_reaped_by_a_program_that_adopts_it",
            a_process_of_a_killed_forkserver_is_reaped_by_a_program_that_adopts_it,
        ),
        (
            "a_process_that_ended_under_a_forkserver_killed_during_its_join_is_reaped_by_its_adopter",
            a_process_that_ended_under_a_forkserver_killed_during_its_join_is_reaped_by_its_adopter,
        ),
        (
            "a_process_of_a_killed_forkserver_dies_with_the_program",
            a_process_of_a_killed_forkserver_dies_with_the_program,
        ),
        (
            "a_killed_forkserver_costs_a_pool_none_of_its_workers",
            a_killed_forkserver_costs_a_pool_none_of_its_workers,
        ),
        (
            "an_end_left_in_the_middle_of_a_message_is_not_handed_on_as_whole",
            an_end_left_in_the_middle_of_a_message_is_not_handed_on_as_whole,
        ),
        (
            "a_worker_pools_panic_is_never_reported_at_an_earlier_ones_place",
            a_worker_pools_panic_is_never_reported_at_an_earlier_ones_place,
        ),
    ])
}
