//! `Lock`, `RLock`, `Semaphore`, `Event`, `Condition`, `Barrier` across processes:
//! mutual exclusion, timeouts, wake-ups, and holders and waiters killed at any moment.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use fork_test::{SignalStorm, time_limit};
use ipc::{
    Barrier, BoundedSemaphore, Condition, Error, Event, Lock, Process, RLock, RawValue, Semaphore,
    SharedAtomic, Value,
};

const PROCESSES: usize = 4;

/// Starts a child running `f`, whose exit code says whether it went well.
fn start(f: impl FnOnce() -> i32 + 'static) -> Process {
    let mut p = Process::with_exit_code(f);
    p.start().unwrap();
    p
}

/// Joins `p`, allowing it 10 s, and returns its exit code.
fn join(p: &mut Process) -> i32 {
    p.join_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("the child ends within 10 s")
}

/// Waits (a few milliseconds at a time) until `done()`, for at most 10 s.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited 10 s for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Several processes take the lock in turns, and inside it do a read-then-write that a
/// second process inside would spoil; a count of those inside shows it never happens.
fn a_lock_lets_one_process_in_at_a_time() {
    time_limit(Duration::from_secs(60));
    const ROUNDS: u64 = 2_000;
    let lock = Lock::new().unwrap();
    let total = RawValue::new(0u64).unwrap();
    let inside = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let mut children: Vec<Process> = (0..PROCESSES)
        .map(|_| {
            let (lock, total, inside) = (lock.clone(), total.clone(), inside.clone());
            start(move || {
                for _ in 0..ROUNDS {
                    let _guard = lock.acquire().unwrap();
                    if inside.fetch_add(1, Ordering::Relaxed) != 0 {
                        return 1; // another process is in here too
                    }
                    let seen = total.get();
                    black_box(&seen);
                    total.set(seen + 1);
                    inside.fetch_sub(1, Ordering::Relaxed);
                }
                0
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(join(child), 0, "one process at a time");
    }
    assert_eq!(total.get(), ROUNDS * PROCESSES as u64, "no update lost");
}

/// A child that takes `lock`, sets `holding`, and keeps the lock until `release` is set.
fn holder(lock: &Lock, holding: &Event, release: &Event) -> Process {
    let child = start({
        let (lock, holding, release) = (lock.clone(), holding.clone(), release.clone());
        move || {
            let _guard = lock.acquire().unwrap();
            holding.set();
            release.wait();
            0
        }
    });
    holding.wait();
    child
}

fn acquire_timeout_gives_up_while_another_process_holds_the_lock() {
    time_limit(Duration::from_secs(20));
    let lock = Lock::new().unwrap();
    let (holding, release) = (Event::new().unwrap(), Event::new().unwrap());
    let mut child = holder(&lock, &holding, &release);
    let started = Instant::now();
    assert!(
        lock.acquire_timeout(Duration::from_millis(50))
            .unwrap()
            .is_none()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "it waited its timeout"
    );
    assert!(lock.acquire_timeout(Duration::ZERO).unwrap().is_none());
    release.set();
    let guard = lock.acquire_timeout(Duration::from_secs(10)).unwrap();
    assert!(guard.is_some_and(|guard| !guard.owner_died()));
    assert_eq!(join(&mut child), 0);
}

/// Python's `Lock` acquired twice by one thread waits for itself for ever; this one says so.
fn acquiring_a_held_lock_again_is_an_error_not_a_hang() {
    time_limit(Duration::from_secs(10));
    let lock = Lock::new().unwrap();
    let guard = lock.acquire().unwrap();
    assert!(matches!(lock.acquire(), Err(Error::AlreadyHeld)));
    assert!(matches!(
        lock.acquire_timeout(Duration::from_secs(5)),
        Err(Error::AlreadyHeld)
    ));
    drop(guard);
    drop(lock.acquire().unwrap());

    let value = Value::new(1u32).unwrap();
    let mut guard = value.lock().unwrap();
    assert!(matches!(value.get(), Err(Error::AlreadyHeld)));
    assert!(matches!(value.set(2), Err(Error::AlreadyHeld)));
    *guard = 3;
    drop(guard);
    assert_eq!(value.get().unwrap(), 3);
}

fn an_rlock_is_taken_again_by_its_holder_and_released_by_its_last_guard() {
    time_limit(Duration::from_secs(20));
    let lock = RLock::new().unwrap();
    let outer = lock.acquire().unwrap();
    let inner = lock.acquire().unwrap();
    let other = lock.clone();
    let mut child = start(
        move || match other.acquire_timeout(Duration::from_millis(20)) {
            Ok(None) => 0,
            _ => 1,
        },
    );
    assert_eq!(
        join(&mut child),
        0,
        "held by the parent: the child waits in vain"
    );
    drop(inner);
    let other = lock.clone();
    let mut child = start(
        move || match other.acquire_timeout(Duration::from_millis(20)) {
            Ok(None) => 0,
            _ => 1,
        },
    );
    assert_eq!(join(&mut child), 0, "still held: one guard is left");
    drop(outer);
    let other = lock.clone();
    let mut child = start(
        move || match other.acquire_timeout(Duration::from_secs(10)) {
            Ok(Some(guard)) if !guard.owner_died() => 0,
            _ => 1,
        },
    );
    assert_eq!(join(&mut child), 0, "free once the last guard is dropped");
}

/// What the dead-owner tests guard: a count moved from `left` to `right` one at a time.
/// Their sum is [`TOTAL`] unless an update is half done.
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct Pair {
    left: u64,
    right: u64,
}

const TOTAL: u64 = 1 << 40;

impl Pair {
    fn whole(self) -> bool {
        self.left + self.right == TOTAL
    }

    /// Finishes the update a dead holder left half done.
    fn repaired(self) -> Pair {
        Pair {
            right: TOTAL - self.left,
            ..self
        }
    }
}

/// Moves one from `left` to `right` of the pair that `pair` points to, slowly: a kill
/// often lands between the two writes. `black_box` makes the compiler write `left` to
/// memory before the wait, as if something there could read it (a kill can).
fn move_one(pair: &mut Pair) {
    pair.left -= 1;
    for _ in 0..200 {
        black_box(&mut *pair);
    }
    pair.right += 1;
}

/// Kills, `ROUNDS` times, a child that updates something under a lock in a loop, at a
/// random moment, then takes the lock with `take` (which says whether the owner died and
/// whether the data was whole, and repairs it). Every round: a torn state is never seen
/// without `owner_died`; after the repair the data is whole and the next holder is told
/// nothing. Over all rounds: the deaths were reported, and some kills tore the data.
fn kill_holders_at_random(
    updater: impl Fn() -> Process,
    updates: &SharedAtomic<AtomicU64>,
    mut take: impl FnMut() -> (bool, bool),
    mut check_clean: impl FnMut() -> bool,
) {
    const ROUNDS: usize = 200;
    let mut random = Random::new();
    let (mut died, mut torn) = (0, 0);
    for round in 0..ROUNDS {
        let before = updates.load(Ordering::Relaxed);
        let mut child = updater();
        wait_until("the child's first update", || {
            updates.load(Ordering::Relaxed) > before
        });
        std::thread::sleep(Duration::from_micros(random.below(300)));
        child.kill().unwrap();
        assert_eq!(join(&mut child), -9);
        let (owner_died, whole) = take();
        assert!(
            owner_died || whole,
            "round {round}: torn data, and nobody was told that its owner died"
        );
        died += usize::from(owner_died);
        torn += usize::from(!whole);
        assert!(
            check_clean(),
            "round {round}: after a repair, the lock works as before"
        );
    }
    assert!(
        died > ROUNDS / 2,
        "the holder died holding the lock in most rounds, but only {died} of {ROUNDS} said so"
    );
    assert!(
        torn > 0,
        "no kill of {ROUNDS} landed in the middle of an update"
    );
}

/// The test: `SIGKILL` at a random moment inside the critical section, many
/// times; the next acquire recovers, and repairs the data.
fn a_value_whose_holder_is_killed_is_repaired_by_the_next_holder() {
    time_limit(Duration::from_secs(60));
    let pair = Value::new(Pair {
        left: TOTAL,
        right: 0,
    })
    .unwrap();
    let updates = SharedAtomic::new(AtomicU64::new(0)).unwrap();
    let updater = || {
        let (pair, updates) = (pair.clone(), updates.clone());
        start(move || {
            loop {
                let mut guard = pair.lock().unwrap();
                move_one(&mut guard);
                updates.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let take = || {
        // `get` refuses a value that a dead holder may have torn, and leaves the repair to
        // the next `lock`, which is told.
        let got = pair.get();
        let mut guard = pair.lock().unwrap();
        let (owner_died, whole) = (guard.owner_died(), guard.whole());
        assert_eq!(matches!(got, Err(Error::OwnerDied)), owner_died, "{got:?}");
        if owner_died {
            *guard = guard.repaired();
        }
        (owner_died, whole)
    };
    let check_clean = || {
        let guard = pair.lock().unwrap();
        !guard.owner_died() && guard.whole()
    };
    kill_holders_at_random(updater, &updates, take, check_clean);
    assert!(pair.get().unwrap().whole());
}

/// The same with a `Lock` guarding data of its own, and with an `RLock` held twice.
fn a_lock_or_rlock_whose_holder_is_killed_reports_it_to_the_next_holder() {
    time_limit(Duration::from_secs(60));
    let initial = Pair {
        left: TOTAL,
        right: 0,
    };
    let (lock, rlock) = (Lock::new().unwrap(), RLock::new().unwrap());
    let pair = RawValue::new(initial).unwrap();
    let updates = SharedAtomic::new(AtomicU64::new(0)).unwrap();
    let update_raw = {
        let (pair, updates) = (pair.clone(), updates.clone());
        move || {
            let mut value = pair.get();
            value.left -= 1;
            pair.set(value);
            for _ in 0..200 {
                black_box(&value);
            }
            value.right += 1;
            pair.set(value);
            updates.fetch_add(1, Ordering::Relaxed);
        }
    };
    let repair = |owner_died: bool| {
        let whole = pair.get().whole();
        if owner_died {
            pair.set(pair.get().repaired());
        }
        (owner_died, whole)
    };

    let updater = || {
        let (lock, update) = (lock.clone(), update_raw.clone());
        start(move || {
            loop {
                let _guard = lock.acquire().unwrap();
                update();
            }
        })
    };
    let take = || repair(lock.acquire().unwrap().owner_died());
    let check_clean = || !lock.acquire().unwrap().owner_died() && pair.get().whole();
    kill_holders_at_random(updater, &updates, take, check_clean);

    let updater = || {
        let (rlock, update) = (rlock.clone(), update_raw.clone());
        start(move || {
            loop {
                let _outer = rlock.acquire().unwrap();
                let _inner = rlock.acquire().unwrap();
                update();
            }
        })
    };
    let take = || {
        let guard = rlock.acquire().unwrap();
        let again = rlock.acquire().unwrap(); // the depth a dead holder left is not ours
        drop(again);
        repair(guard.owner_died())
    };
    let check_clean = || !rlock.acquire().unwrap().owner_died() && pair.get().whole();
    kill_holders_at_random(updater, &updates, take, check_clean);
}

/// A holder that panics may leave half-written data too: the next holder is told, as a
/// poisoned `std::sync::Mutex` would tell it.
fn a_holder_that_panics_is_reported_like_one_that_died() {
    time_limit(Duration::from_secs(20));
    let value = Value::new(7u64).unwrap();
    let child_value = value.clone();
    let mut child = start(move || {
        std::panic::set_hook(Box::new(|_| {}));
        let mut guard = child_value.lock().unwrap();
        *guard = 8;
        panic!("in the middle of an update");
    });
    assert_eq!(join(&mut child), ipc::PANIC_EXIT_CODE);
    assert!(matches!(value.get(), Err(Error::OwnerDied)));
    assert!(
        matches!(value.get(), Err(Error::OwnerDied)),
        "get does not repair"
    );
    let guard = value.lock().unwrap();
    assert!(guard.owner_died());
    assert_eq!(*guard, 8);
    drop(guard); // looked at and judged whole
    assert_eq!(value.get().unwrap(), 8);
    assert!(!value.lock().unwrap().owner_died());
}

/// A guard moved into a child (which needs a lock that lives for ever) holds nothing
/// there: the parent held the lock, and released it when it dropped its copy of the
/// closure. Touching the data through it panics instead of racing another holder.
/// (Run in a child, which exits with the leaked value.)
fn a_guard_copied_into_a_child_holds_nothing_there() {
    time_limit(Duration::from_secs(20));
    let mut child = start(|| {
        let value: &'static Value<u64> = Box::leak(Box::new(Value::new(5).unwrap()));
        let guard = value.lock().unwrap();
        let mut grandchild = start(move || {
            let mut guard = guard;
            std::panic::set_hook(Box::new(|_| {}));
            let touched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| *guard += 1));
            if touched.is_ok() {
                return 1;
            }
            drop(guard); // unlocks nothing: this process holds nothing
            match value.lock_timeout(Duration::from_secs(5)) {
                Ok(Some(mut own)) => {
                    *own += 10;
                    0
                }
                _ => 2,
            }
        });
        match (join(&mut grandchild), value.get()) {
            (0, Ok(15)) => 0, // the grandchild's own guard did the update
            (code, _) => 10 + code,
        }
    });
    assert_eq!(join(&mut child), 0);
}

/// A guard forgotten with `mem::forget` keeps its lock held, and the C library keeps the
/// mutex on the thread's list of robust mutexes, and writes to it when it locks or unlocks
/// another. So when the lock's handles go, its memory stays mapped: unmapped, the next
/// mapping could land at the same address, and those writes in it. Run in a child, which
/// exits with the leak.
fn a_forgotten_guard_keeps_its_memory_mapped() {
    time_limit(Duration::from_secs(20));
    let mut child = start(|| {
        let lock = Lock::new().unwrap();
        std::mem::forget(lock.acquire().unwrap());
        drop(lock);
        // Shared memory of the same size, where the lock was if it was unmapped.
        let bystander = ipc::SharedMemory::new(4096).unwrap();
        let other = Lock::new().unwrap();
        for _ in 0..3 {
            drop(other.acquire().unwrap());
        }
        let value = Value::new(1u8).unwrap();
        drop(value.lock().unwrap());
        i32::from(bystander.to_vec().iter().any(|&byte| byte != 0))
    });
    assert_eq!(join(&mut child), 0, "the C library wrote into other memory");
}

fn a_semaphore_lets_its_value_of_processes_in_at_once() {
    time_limit(Duration::from_secs(60));
    const PERMITS: u32 = 2;
    let semaphore = Semaphore::new(PERMITS).unwrap();
    let inside = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let most = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let mut children: Vec<Process> = (0..PROCESSES)
        .map(|_| {
            let (semaphore, inside, most) = (semaphore.clone(), inside.clone(), most.clone());
            start(move || {
                for _ in 0..200 {
                    semaphore.acquire();
                    let now = inside.fetch_add(1, Ordering::Relaxed) + 1;
                    most.fetch_max(now, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_micros(50));
                    inside.fetch_sub(1, Ordering::Relaxed);
                    semaphore.release().unwrap();
                }
                0
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(join(child), 0);
    }
    let most = most.load(Ordering::Relaxed);
    assert!((1..=PERMITS).contains(&most), "{most} inside at once");
    assert_eq!(semaphore.value(), PERMITS);
}

fn semaphore_timeouts_and_bounds() {
    time_limit(Duration::from_secs(20));
    let semaphore = Semaphore::new(0).unwrap();
    let started = Instant::now();
    assert!(!semaphore.acquire_timeout(Duration::from_millis(50)));
    assert!(started.elapsed() >= Duration::from_millis(50));
    let releaser = semaphore.clone();
    let mut child = start(move || {
        std::thread::sleep(Duration::from_millis(20));
        i32::from(releaser.release().is_err())
    });
    assert!(
        semaphore.acquire_timeout(Duration::from_secs(10)),
        "released by the child"
    );
    assert_eq!(join(&mut child), 0);

    let bounded = BoundedSemaphore::new(1).unwrap();
    assert!(matches!(
        bounded.release(),
        Err(Error::SemaphoreFull { limit: 1 })
    ));
    bounded.acquire();
    bounded.release().unwrap();
    assert_eq!(bounded.value(), 1);
}

/// A process killed while it waits in `acquire` leaves nothing that blocks the others.
fn a_waiter_killed_in_acquire_does_not_wedge_the_semaphore() {
    time_limit(Duration::from_secs(20));
    let semaphore = Semaphore::new(0).unwrap();
    for _ in 0..3 {
        let waiter = semaphore.clone();
        let mut child = start(move || {
            waiter.acquire();
            0
        });
        std::thread::sleep(Duration::from_millis(20)); // asleep in acquire by now
        child.kill().unwrap();
        assert_eq!(join(&mut child), -9);
    }
    let waiter = semaphore.clone();
    let mut child = start(move || i32::from(!waiter.acquire_timeout(Duration::from_secs(10))));
    std::thread::sleep(Duration::from_millis(20));
    semaphore.release().unwrap();
    assert_eq!(join(&mut child), 0, "the live waiter got the permit");
    assert_eq!(semaphore.value(), 0);
}

fn setting_an_event_wakes_every_waiting_process() {
    time_limit(Duration::from_secs(20));
    let event = Event::new().unwrap();
    let waiting = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let mut children: Vec<Process> = (0..PROCESSES)
        .map(|_| {
            let (event, waiting) = (event.clone(), waiting.clone());
            start(move || {
                waiting.fetch_add(1, Ordering::Relaxed);
                event.wait();
                i32::from(!event.is_set())
            })
        })
        .collect();
    wait_until("every child at the event", || {
        waiting.load(Ordering::Relaxed) == PROCESSES as u32
    });
    std::thread::sleep(Duration::from_millis(20)); // asleep in wait, most likely
    assert!(!event.is_set());
    event.set();
    for child in &mut children {
        assert_eq!(join(child), 0, "woken, and the flag is set");
    }
    assert!(event.wait_timeout(Duration::ZERO), "set: no waiting");
    event.clear();
    let started = Instant::now();
    assert!(!event.wait_timeout(Duration::from_millis(50)));
    assert!(started.elapsed() >= Duration::from_millis(50));
}

/// A wait that began before a `set` ends, even when a `clear` follows at once.
fn a_set_followed_by_a_clear_still_wakes_the_waiters() {
    time_limit(Duration::from_secs(20));
    let event = Event::new().unwrap();
    let waiting = SharedAtomic::new(AtomicBool::new(false)).unwrap();
    let mut child = start({
        let (event, waiting) = (event.clone(), waiting.clone());
        move || {
            waiting.store(true, Ordering::Relaxed);
            i32::from(!event.wait_timeout(Duration::from_secs(10)))
        }
    });
    wait_until("the child at the event", || waiting.load(Ordering::Relaxed));
    std::thread::sleep(Duration::from_millis(50)); // asleep in wait_timeout by now
    event.set();
    event.clear();
    assert_eq!(join(&mut child), 0);
}

/// Starts `count` processes that each wait once on `condition`, then count themselves in
/// the counter returned; returns once all of them wait (each counted itself as waiting
/// under the lock, and let go of it only by waiting: once the lock is ours, all wait).
fn waiters(condition: &Condition, count: u32) -> (Vec<Process>, SharedAtomic<AtomicU32>) {
    let waiting = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let woken = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let children = (0..count)
        .map(|_| {
            let (condition, waiting, woken) = (condition.clone(), waiting.clone(), woken.clone());
            start(move || {
                let mut guard = condition.acquire().unwrap();
                waiting.fetch_add(1, Ordering::Relaxed);
                guard.wait();
                woken.fetch_add(1, Ordering::Relaxed);
                0
            })
        })
        .collect();
    wait_until("the waiters", || waiting.load(Ordering::Relaxed) == count);
    drop(condition.acquire().unwrap());
    (children, woken)
}

fn notify_wakes_waiters_and_notify_all_wakes_them_all() {
    time_limit(Duration::from_secs(20));
    let condition = Condition::new().unwrap();
    let (mut children, woken) = waiters(&condition, 3);
    condition.acquire().unwrap().notify(1);
    wait_until("a woken waiter", || woken.load(Ordering::Relaxed) >= 1);
    condition.acquire().unwrap().notify_all();
    for child in &mut children {
        assert_eq!(join(child), 0);
    }
    assert_eq!(woken.load(Ordering::Relaxed), 3);

    let mut guard = condition.acquire().unwrap();
    let started = Instant::now();
    assert!(
        !guard.wait_timeout(Duration::from_millis(50)),
        "nobody notifies"
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(!guard.wait_for_timeout(|| false, Duration::from_millis(20)));
    assert!(guard.wait_for_timeout(|| true, Duration::ZERO));
}

/// Python's `cond.notify(n)` wakes `n` waiters, and `notify(0)` none (CPython's
/// `test_notify_n`). With six processes asleep in `wait`, the counts must be exact.
fn notify_n_wakes_n_waiters_and_notify_0_wakes_none() {
    time_limit(Duration::from_secs(20));
    let condition = Condition::new().unwrap();
    let (mut children, woken) = waiters(&condition, 6);
    // Asleep in the kernel, not on their way there (where any notify would wake them).
    let pids: Vec<i32> = children.iter().map(|c| c.pid().unwrap()).collect();
    wait_until("six sleepers", || pids.iter().all(|&pid| asleep(pid)));
    let mut expected = 0;
    for n in [2, 0, 3] {
        condition.acquire().unwrap().notify(n);
        expected += n;
        wait_until("the woken", || woken.load(Ordering::Relaxed) >= expected);
        std::thread::sleep(Duration::from_millis(100)); // time for one too many to wake
        assert_eq!(woken.load(Ordering::Relaxed), expected, "after notify({n})");
    }

    condition.acquire().unwrap().notify_all();
    for child in &mut children {
        assert_eq!(join(child), 0);
    }
    assert_eq!(woken.load(Ordering::Relaxed), 6);
}

/// Whether process `pid` is asleep (state `S` in `/proc/PID/stat`).
fn asleep(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(')')?.1.trim_start().starts_with('S')))
        .unwrap_or(false)
}

/// `wait_for` with the state in shared memory: a producer makes items, a consumer waits
/// for each batch.
fn wait_for_sees_what_another_process_changed_under_the_lock() {
    time_limit(Duration::from_secs(20));
    let condition = Condition::new().unwrap();
    let items = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let mut consumer = start({
        let (condition, items) = (condition.clone(), items.clone());
        move || {
            let mut guard = condition.acquire().unwrap();
            for batch in 1..=10 {
                guard.wait_for(|| items.load(Ordering::Relaxed) >= batch * 5);
            }
            0
        }
    });
    for _ in 0..50 {
        let guard = condition.acquire().unwrap();
        items.fetch_add(1, Ordering::Relaxed);
        guard.notify_all();
    }
    assert_eq!(join(&mut consumer), 0);
}

/// glibc's process-shared condition variable counts its sleepers in shared memory; one
/// killed while it sleeps can make a later notify wait for it. This one forgets it.
fn a_waiter_killed_in_wait_does_not_wedge_the_condition() {
    time_limit(Duration::from_secs(20));
    let condition = Condition::new().unwrap();
    let waiting = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let waiter = |exit_code| {
        let (condition, waiting) = (condition.clone(), waiting.clone());
        start(move || {
            let mut guard = condition.acquire().unwrap();
            waiting.fetch_add(1, Ordering::Relaxed);
            guard.wait();
            exit_code
        })
    };
    let mut doomed: Vec<Process> = (0..3).map(|_| waiter(1)).collect();
    wait_until("three waiters", || waiting.load(Ordering::Relaxed) == 3);
    drop(condition.acquire().unwrap()); // all three asleep
    for child in &mut doomed {
        child.kill().unwrap();
        assert_eq!(join(child), -9);
    }
    for round in 0..5 {
        let mut live = waiter(0);
        wait_until("a live waiter", || {
            waiting.load(Ordering::Relaxed) == 4 + round
        });
        condition.acquire().unwrap().notify(1);
        assert_eq!(join(&mut live), 0, "round {round}: the live waiter woke");
    }
}

fn a_barrier_lets_its_parties_through_together_round_after_round() {
    time_limit(Duration::from_secs(30));
    const ROUNDS: u32 = 20;
    let barrier = Barrier::new(PROCESSES).unwrap();
    let arrived = SharedAtomic::new(AtomicU32::new(0)).unwrap();
    let places = SharedAtomic::new(AtomicU64::new(0)).unwrap();
    let mut children: Vec<Process> = (0..PROCESSES)
        .map(|_| {
            let (barrier, arrived, places) = (barrier.clone(), arrived.clone(), places.clone());
            start(move || {
                for round in 0..ROUNDS {
                    arrived.fetch_add(1, Ordering::Relaxed);
                    let place = barrier.wait().unwrap();
                    // Past the barrier: every party of this round has arrived.
                    if arrived.load(Ordering::Relaxed) < (round + 1) * PROCESSES as u32 {
                        return 1;
                    }
                    places.fetch_add(1 << (8 * place), Ordering::Relaxed);
                    barrier.wait().unwrap(); // nobody starts the next round early
                }
                0
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(join(child), 0, "nobody got through before all had arrived");
    }
    // Each place, 0 to 3, was given once per round.
    let places = places.load(Ordering::Relaxed);
    let counts: Vec<u64> = (0..PROCESSES).map(|p| (places >> (8 * p)) & 0xff).collect();
    assert_eq!(counts, vec![u64::from(ROUNDS); PROCESSES]);
    assert_eq!(barrier.n_waiting(), 0);
}

/// CPython's `test_reset` and `test_abort_and_reset`: the party at the middle place resets
/// (or aborts) the barrier while the others wait in a second round; they get
/// `BrokenBarrier`, nobody gets through, and after a reset all pass it together again.
fn a_reset_or_an_abort_sends_the_waiters_away_and_a_reset_barrier_works_again() {
    time_limit(Duration::from_secs(30));
    for abort in [false, true] {
        let barrier = Barrier::new(PROCESSES).unwrap();
        let meeting = Barrier::new(PROCESSES).unwrap();
        let middle = PROCESSES / 2;
        let mut children: Vec<Process> = (0..PROCESSES)
            .map(|_| {
                let (barrier, meeting) = (barrier.clone(), meeting.clone());
                start(move || {
                    // Exit code: 2 if it got through, 3 if sent away, 0 for the middle one.
                    let mut code = 0;
                    if barrier.wait().unwrap() == middle {
                        if abort {
                            barrier.abort();
                        } else {
                            while barrier.n_waiting() < PROCESSES - 1 {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            barrier.reset();
                        }
                    } else {
                        code = match barrier.wait() {
                            Ok(_) => 2,
                            Err(Error::BrokenBarrier) => 3,
                            Err(_) => 4,
                        };
                    }
                    // All have left the barrier: one resets it, then all pass it again.
                    if meeting.wait().unwrap() == middle {
                        barrier.reset();
                    }
                    meeting.wait().unwrap();
                    if barrier.wait().is_err() {
                        return 5;
                    }
                    code
                })
            })
            .collect();
        let mut codes: Vec<i32> = children.iter_mut().map(join).collect();
        codes.sort();
        let mut expected = vec![3; PROCESSES - 1];
        expected.insert(0, 0);
        assert_eq!(codes, expected, "abort: {abort}");
        assert!(!barrier.broken() && barrier.n_waiting() == 0);
    }
}

/// A wait that times out breaks the barrier for every waiter, until `reset`; `abort`
/// breaks it too. Python's semantics.
fn a_timeout_or_abort_breaks_the_barrier_for_everyone_until_reset() {
    time_limit(Duration::from_secs(30));
    let barrier = Barrier::new(3).unwrap();
    let waiter = |timeout: Option<Duration>| {
        let barrier = barrier.clone();
        start(move || {
            let waited = match timeout {
                Some(timeout) => barrier.wait_timeout(timeout),
                None => barrier.wait(),
            };
            i32::from(!matches!(waited, Err(Error::BrokenBarrier)))
        })
    };
    let mut patient = waiter(None);
    wait_until("one waiter", || barrier.n_waiting() == 1);
    let mut impatient = waiter(Some(Duration::from_millis(50)));
    assert_eq!(join(&mut impatient), 0, "its timeout broke the barrier");
    assert_eq!(join(&mut patient), 0, "and the patient one was told");
    assert!(barrier.broken());
    assert!(
        matches!(barrier.wait(), Err(Error::BrokenBarrier)),
        "broken until reset"
    );

    barrier.reset();
    assert!(!barrier.broken());
    let mut waiters: Vec<Process> = (0..2).map(|_| waiter(None)).collect();
    wait_until("two waiters", || barrier.n_waiting() == 2);
    barrier.abort();
    for child in &mut waiters {
        assert_eq!(join(child), 0, "abort wakes them with the error");
    }

    barrier.reset();
    let mut waiters: Vec<Process> = (0..2).map(|_| waiter(None)).collect();
    wait_until("two waiters", || barrier.n_waiting() == 2);
    barrier.reset(); // while they wait: they get the error
    for child in &mut waiters {
        assert_eq!(join(child), 0, "reset wakes them with the error");
    }
    let others: Vec<Process> = (0..2)
        .map(|_| {
            let barrier = barrier.clone();
            start(move || i32::from(barrier.wait().is_err()))
        })
        .collect();
    assert!(barrier.wait().unwrap() < 3, "usable again after the reset");
    for mut child in others {
        assert_eq!(join(&mut child), 0);
    }
}

/// A small xorshift generator, seeded by the clock: the moments of the kills.
struct Random(u64);

impl Random {
    fn new() -> Random {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Random(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Python's `test_semaphore` (`acquire(False)` fails only at 0): with permits to spare,
/// a zero-timeout acquire never fails, however many processes take and give at once.
fn a_semaphore_with_permits_free_never_refuses() {
    time_limit(Duration::from_secs(60));
    let sem = Semaphore::new(1000).unwrap();
    let mut children: Vec<Process> = (0..PROCESSES)
        .map(|_| {
            let sem = sem.clone();
            start(move || {
                let mut refused = 0;
                for _ in 0..20_000 {
                    if sem.acquire_timeout(Duration::ZERO) {
                        sem.release().unwrap();
                    } else {
                        refused += 1;
                    }
                }
                refused.min(100)
            })
        })
        .collect();
    let refused: Vec<i32> = children.iter_mut().map(join).collect();
    assert_eq!(refused, [0; PROCESSES], "refusals per process");
    assert_eq!(sem.value(), 1000);
}

/// A process stopped (`SIGSTOP`) in the middle of an acquire or a release holds nothing
/// that the others need: with permits free, they take one at once, and give it back
/// without waiting.
fn a_stopped_process_does_not_hold_up_a_semaphore() {
    time_limit(Duration::from_secs(60));
    let sem = Semaphore::new(10).unwrap();
    let busy = {
        let sem = sem.clone();
        start(move || {
            loop {
                sem.acquire();
                sem.release().unwrap();
            }
        })
    };
    let pid = nix::unistd::Pid::from_raw(busy.pid().unwrap());
    let mut busy = busy;
    for attempt in 0..100 {
        std::thread::sleep(Duration::from_millis(2));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
        while !stopped(pid.as_raw()) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let started = Instant::now();
        let took = sem.acquire_timeout(Duration::from_millis(500));
        if took {
            sem.release().unwrap();
        }
        let waited = started.elapsed();
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
        assert!(
            took && waited < Duration::from_millis(100),
            "attempt {attempt}: took {took} after {waited:?}"
        );
    }
    busy.kill().unwrap();
    busy.join().unwrap();
}

/// A process stopped (`SIGSTOP`) in the middle of a reset (or of a wait, or an abort)
/// holds the barrier's inner lock: a `wait_timeout` still ends by its deadline, with
/// [`Error::Timeout`] if it could not even arrive, or as its round ended.
fn a_stopped_process_does_not_stretch_a_barrier_timeout() {
    time_limit(Duration::from_secs(60));
    let barrier = Barrier::new(2).unwrap();
    let busy = {
        let barrier = barrier.clone();
        start(move || {
            loop {
                barrier.reset();
            }
        })
    };
    let pid = nix::unistd::Pid::from_raw(busy.pid().unwrap());
    let mut busy = busy;
    for attempt in 0..40 {
        std::thread::sleep(Duration::from_millis(2));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
        while !stopped(pid.as_raw()) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let started = Instant::now();
        let waited = barrier.wait_timeout(Duration::from_millis(100));
        let took = started.elapsed();
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
        assert!(
            matches!(waited, Err(Error::Timeout | Error::BrokenBarrier)),
            "attempt {attempt}: {waited:?}"
        );
        assert!(took < Duration::from_secs(2), "attempt {attempt}: {took:?}");
    }
    busy.kill().unwrap();
    busy.join().unwrap();
}

/// A wait with a short deadline, and the last party arriving about then: the waiter's
/// round ends (it goes on) or breaks (both are told), never a timeout that leaves its
/// arrival counted. The last to arrive holds the inner lock for a moment as it ends the
/// round, and that moment must not count as a holder that keeps the lock past the deadline.
fn a_barrier_deadline_that_meets_the_last_arrival_ends_or_breaks_the_round() {
    time_limit(Duration::from_secs(60));
    let barrier = Barrier::new(2).unwrap();
    let deadline = Duration::from_micros(300);
    let mut timeouts = 0;
    for i in 0..2000u32 {
        let other = barrier.clone();
        let delay = Duration::from_micros(200 + u64::from(i % 200));
        let last = std::thread::spawn(move || {
            let started = Instant::now();
            while started.elapsed() < delay {
                std::hint::spin_loop();
            }
            other.wait_timeout(Duration::from_secs(5))
        });
        let first = barrier.wait_timeout(deadline);
        let last = last.join().unwrap();
        match (&first, &last) {
            (Ok(_), Ok(_)) | (Err(Error::BrokenBarrier), Err(Error::BrokenBarrier)) => {}
            (Err(Error::Timeout), _) => timeouts += 1,
            other => panic!("round {i}: {other:?}"),
        }
        barrier.reset();
    }
    assert_eq!(timeouts, 0, "timeouts out of 2000 rounds");
}

/// Whether process `pid` is stopped (state `T` in `/proc/PID/stat`).
fn stopped(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('T'))
        })
        .unwrap_or(false)
}

/// A guard that was told of a dead holder and waits on the condition has not repaired
/// anything: a process that takes the lock meanwhile is told too.
fn a_condition_wait_does_not_count_as_a_repair() {
    time_limit(Duration::from_secs(30));
    let cond = Condition::new().unwrap();
    let mut dies = {
        let cond = cond.clone();
        start(move || {
            let _held = cond.acquire().unwrap();
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            0
        })
    };
    assert_eq!(join(&mut dies), -9);
    let mut found = cond.acquire().unwrap();
    assert!(found.owner_died());
    let mut meanwhile = {
        let cond = cond.clone();
        start(move || {
            let held = cond.acquire().unwrap();
            let told = held.owner_died();
            held.notify_all();
            i32::from(told)
        })
    };
    found.wait_timeout(Duration::from_secs(5));
    drop(found);
    assert_eq!(join(&mut meanwhile), 1, "the other process was told");
}

/// A lock released during a panic that began while it was held marks the data torn; one
/// taken and released by code that runs during the unwinding (a `Drop`) does not, as
/// `std::sync::Mutex` poisons only in the first case.
fn only_a_panic_that_began_under_the_lock_marks_the_data_torn() {
    struct ResetOnDrop(Value<u32>);
    impl Drop for ResetOnDrop {
        fn drop(&mut self) {
            self.0.set(0).unwrap();
        }
    }
    let value = Value::new(1u32).unwrap();
    let reset = ResetOnDrop(value.clone());
    // The panics below are the test's own: print nothing for them.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _reset = reset;
        panic!("an error that has nothing to do with the value");
    }));
    assert!(unwound.is_err());
    assert_eq!(
        value.get().unwrap(),
        0,
        "a whole value, written during the unwinding"
    );

    let torn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = value.lock().unwrap();
        panic!("while holding the lock");
    }));
    std::panic::set_hook(report);
    assert!(torn.is_err());
    assert!(
        matches!(value.get(), Err(Error::OwnerDied)),
        "{:?}",
        value.get()
    );
}

/// Python's `test_timeout` for a condition: a wait that is not notified lasts its whole
/// timeout, whatever signals arrive meanwhile (Python retries on `EINTR`).
fn a_condition_wait_outlasts_signals() {
    time_limit(Duration::from_secs(30));
    let storm = SignalStorm::start(Duration::from_millis(5));
    let cond = Condition::new().unwrap();
    let mut held = cond.acquire().unwrap();
    let started = Instant::now();
    let notified = held.wait_timeout(Duration::from_millis(300));
    let waited = started.elapsed();
    drop(held);
    drop(storm);
    assert!(
        !notified && waited >= Duration::from_millis(300),
        "notified {notified} after {waited:?}"
    );
}

fork_test::main!(
    a_lock_lets_one_process_in_at_a_time,
    acquire_timeout_gives_up_while_another_process_holds_the_lock,
    acquiring_a_held_lock_again_is_an_error_not_a_hang,
    an_rlock_is_taken_again_by_its_holder_and_released_by_its_last_guard,
    a_value_whose_holder_is_killed_is_repaired_by_the_next_holder,
    a_lock_or_rlock_whose_holder_is_killed_reports_it_to_the_next_holder,
    a_holder_that_panics_is_reported_like_one_that_died,
    a_guard_copied_into_a_child_holds_nothing_there,
    a_forgotten_guard_keeps_its_memory_mapped,
    a_semaphore_lets_its_value_of_processes_in_at_once,
    semaphore_timeouts_and_bounds,
    a_waiter_killed_in_acquire_does_not_wedge_the_semaphore,
    setting_an_event_wakes_every_waiting_process,
    a_set_followed_by_a_clear_still_wakes_the_waiters,
    notify_wakes_waiters_and_notify_all_wakes_them_all,
    notify_n_wakes_n_waiters_and_notify_0_wakes_none,
    wait_for_sees_what_another_process_changed_under_the_lock,
    a_waiter_killed_in_wait_does_not_wedge_the_condition,
    a_barrier_lets_its_parties_through_together_round_after_round,
    a_reset_or_an_abort_sends_the_waiters_away_and_a_reset_barrier_works_again,
    a_timeout_or_abort_breaks_the_barrier_for_everyone_until_reset,
    a_semaphore_with_permits_free_never_refuses,
    a_stopped_process_does_not_hold_up_a_semaphore,
    a_stopped_process_does_not_stretch_a_barrier_timeout,
    a_barrier_deadline_that_meets_the_last_arrival_ends_or_breaks_the_round,
    a_condition_wait_does_not_count_as_a_repair,
    only_a_panic_that_began_under_the_lock_marks_the_data_torn,
    a_condition_wait_outlasts_signals,
);
