//! `Value`, `Array`, `RawValue`, `RawArray` and `SharedAtomic` across processes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytemuck::{Pod, Zeroable};
use fork_test::time_limit;
use ipc::{Array, Error, Process, RawArray, RawValue, SharedAtomic, Value};

const PROCESSES: usize = 4;
const ADDS: u64 = 5_000;

/// Starts `PROCESSES` children running `f`, and checks that each exits with 0.
fn in_children(f: impl Fn() + Clone + 'static) {
    let mut children: Vec<Process> = (0..PROCESSES)
        .map(|_| {
            let mut p = Process::new(f.clone());
            p.start().unwrap();
            p
        })
        .collect();
    for child in &mut children {
        let code = child.join_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(code, Some(0), "the child ends well within 30 s");
    }
}

fn a_value_counts_every_add_of_every_process() {
    time_limit(Duration::from_secs(60));
    let counter = Value::new(0u64).unwrap();
    let child_counter = counter.clone();
    in_children(move || {
        for _ in 0..ADDS {
            *child_counter.lock().unwrap() += 1;
        }
    });
    assert_eq!(counter.get().unwrap(), ADDS * PROCESSES as u64);
}

fn a_shared_atomic_counts_every_add_of_every_process() {
    time_limit(Duration::from_secs(60));
    let counter = SharedAtomic::new(AtomicU64::new(0)).unwrap();
    let child_counter = counter.clone();
    in_children(move || {
        for _ in 0..ADDS {
            child_counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert_eq!(counter.load(Ordering::Relaxed), ADDS * PROCESSES as u64);
    let flag = SharedAtomic::new(AtomicBool::new(false)).unwrap();
    let child_flag = flag.clone();
    in_children(move || child_flag.store(true, Ordering::Relaxed));
    assert!(flag.load(Ordering::Relaxed));
}

/// A learner's own struct, as chapter 7 keeps per-worker statistics.
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Stats {
    pages: u64,
    bytes: u64,
}

fn an_array_of_structs_is_shared_element_by_element() {
    time_limit(Duration::from_secs(60));
    let stats = Array::<Stats>::new(PROCESSES).unwrap();
    assert_eq!(stats.len(), PROCESSES);
    assert_eq!(stats.to_vec().unwrap(), vec![Stats::zeroed(); PROCESSES]);
    let mut children: Vec<Process> = (0..PROCESSES)
        .map(|worker| {
            let stats = stats.clone();
            let mut p = Process::new(move || {
                for page in 1..=10 {
                    let mut all = stats.lock().unwrap();
                    all[worker].pages += 1;
                    all[worker].bytes += page * 100;
                }
            });
            p.start().unwrap();
            p
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join().unwrap(), 0);
    }
    let each = Stats {
        pages: 10,
        bytes: 5500,
    };
    assert_eq!(stats.to_vec().unwrap(), vec![each; PROCESSES]);
    stats.set(2, Stats::zeroed()).unwrap();
    assert_eq!(stats.get(2).unwrap(), Stats::zeroed());
    let primes = Array::from_slice(&[2u16, 3, 5, 7]).unwrap();
    assert_eq!(*primes.lock().unwrap(), [2, 3, 5, 7]);
    let empty = Array::<u8>::new(0).unwrap();
    assert!(empty.is_empty() && empty.to_vec().unwrap().is_empty());
}

fn an_index_out_of_bounds_panics_as_a_slice_would() {
    let array = Array::<u8>::new(2).unwrap();
    let raw = RawArray::<u8>::new(2).unwrap();
    let _quiet = fork_test::capture(fork_test::Stream::Stderr, || {
        let past_the_end: [&dyn Fn(); 2] = [&|| drop(array.get(2)), &|| raw.set(5, 1)];
        for index in past_the_end {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(index));
            assert!(result.is_err(), "out of bounds");
        }
    });
}

/// Values without a lock: what one process writes, the others read.
fn raw_values_and_arrays_are_shared_without_a_lock() {
    time_limit(Duration::from_secs(30));
    let value = RawValue::new(Stats { pages: 1, bytes: 2 }).unwrap();
    let array = RawArray::from_slice(&[1u32, 2, 3]).unwrap();
    let (child_value, child_array) = (value.clone(), array.clone());
    let mut child = Process::new(move || {
        child_value.set(Stats { pages: 3, bytes: 4 });
        child_array.set(1, 20);
    });
    child.start().unwrap();
    assert_eq!(child.join().unwrap(), 0);
    assert_eq!(value.get(), Stats { pages: 3, bytes: 4 });
    assert_eq!(array.to_vec(), [1, 20, 3]);
    assert_eq!(array.len(), 3);
}

/// A value whose holder died is refused by `get` until repaired, then works again; `set`
/// writes a whole value, which is a repair.
fn get_refuses_a_value_left_torn_until_a_holder_repairs_it() {
    time_limit(Duration::from_secs(30));
    let value = Value::new(1u64).unwrap();
    let array = Array::from_slice(&[1u64, 2]).unwrap();
    let (child_value, child_array) = (value.clone(), array.clone());
    let mut child = Process::new(move || {
        let _value = child_value.lock().unwrap();
        let _array = child_array.lock().unwrap();
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
    });
    child.start().unwrap();
    assert_eq!(child.join().unwrap(), -9);

    assert!(matches!(value.get(), Err(Error::OwnerDied)));
    value.set(5).unwrap(); // a whole value
    assert_eq!(value.get().unwrap(), 5);

    assert!(matches!(array.get(0), Err(Error::OwnerDied)));
    assert!(
        matches!(array.set(0, 9), Err(Error::OwnerDied)),
        "one element repairs nothing"
    );
    assert!(matches!(array.to_vec(), Err(Error::OwnerDied)));
    let guard = array.lock().unwrap();
    assert!(guard.owner_died());
    drop(guard);
    assert_eq!(array.to_vec().unwrap(), [1, 2]);
    assert!(!array.lock().unwrap().owner_died());
}

fn lock_timeout_gives_up_while_another_process_holds_a_value() {
    time_limit(Duration::from_secs(30));
    let value = Value::new(0u8).unwrap();
    let held = ipc::Event::new().unwrap();
    let (child_value, child_held) = (value.clone(), held.clone());
    let mut child = Process::new(move || {
        let _guard = child_value.lock().unwrap();
        child_held.set();
        std::thread::sleep(Duration::from_millis(300));
    });
    child.start().unwrap();
    held.wait();
    assert!(
        value
            .lock_timeout(Duration::from_millis(20))
            .unwrap()
            .is_none()
    );
    assert!(
        value
            .lock_timeout(Duration::from_secs(10))
            .unwrap()
            .is_some()
    );
    assert_eq!(child.join().unwrap(), 0);
}

/// Plain old data aligned to two pages: more than the page that a mapping is aligned to.
#[repr(C, align(8192))]
#[derive(Clone, Copy, Pod, Zeroable)]
struct TwoPagesAligned([u8; 8192]);

fn a_type_aligned_above_a_page_is_refused_not_misplaced() {
    let refused = |made: Result<(), Error>| {
        let why = made.unwrap_err().to_string();
        assert!(why.contains("aligned to 8192"), "{why}");
    };
    refused(Value::new(TwoPagesAligned([1; 8192])).map(drop));
    refused(Array::<TwoPagesAligned>::new(2).map(drop));
    refused(RawValue::new(TwoPagesAligned([1; 8192])).map(drop));
    refused(RawArray::<TwoPagesAligned>::new(2).map(drop));
}

fork_test::main!(
    a_value_counts_every_add_of_every_process,
    a_shared_atomic_counts_every_add_of_every_process,
    an_array_of_structs_is_shared_element_by_element,
    an_index_out_of_bounds_panics_as_a_slice_would,
    raw_values_and_arrays_are_shared_without_a_lock,
    get_refuses_a_value_left_torn_until_a_holder_repairs_it,
    lock_timeout_gives_up_while_another_process_holds_a_value,
    a_type_aligned_above_a_page_is_refused_not_misplaced,
);
