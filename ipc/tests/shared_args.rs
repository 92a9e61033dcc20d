//! Shared memory and locks in the arguments of a process started with the forkserver or
//! spawn: the new process maps the same memory, the locks work across it (and report a
//! holder killed there), a pool's initializer may take them and a task may not, and an
//! argument that lies about what it holds is refused, never trusted.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use fork_test::{Stream, capture, time_limit};
use ipc::{
    Array, Barrier, BoundedSemaphore, Condition, Descriptor, Error, Event, Lock, RLock, RawArray,
    RawValue, Semaphore, SharedAtomic, SharedMemory, StartMethod, Value, get_context,
};
use serde::de::DeserializeOwned;
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The methods whose processes do not share the parent's memory.
const METHODS: [StartMethod; 2] = [StartMethod::Forkserver, StartMethod::Spawn];

const LONG: Duration = Duration::from_secs(10);

/// Stops the forkserver when a test ends, passing or not: the runner wants no process left.
struct StopsTheForkserver;

impl Drop for StopsTheForkserver {
    fn drop(&mut self) {
        ipc::forkserver::stop();
    }
}

/// Starts `target(args)` with `method`, and returns its exit code.
fn run<A>(method: StartMethod, target: fn(A), args: A) -> i32
where
    A: Serialize + DeserializeOwned + 'static,
{
    let mut p = get_context(method).process(target, args).unwrap();
    p.start().unwrap();
    p.join().unwrap()
}

/// Starts four processes with `method`, each running `target` with a clone of `args`, all
/// at once, and checks that each ends well.
fn in_four_processes<A>(method: StartMethod, target: fn(A), args: A)
where
    A: Clone + Serialize + DeserializeOwned + 'static,
{
    let ctx = get_context(method);
    let mut all: Vec<_> = (0..4)
        .map(|_| ctx.process(target, args.clone()).unwrap())
        .collect();
    for p in &mut all {
        p.start().unwrap();
    }
    for p in &mut all {
        assert_eq!(p.join().unwrap(), 0, "{method}");
    }
}

// ANCHOR: in_arguments
fn add_under_its_lock(counter: Value<u64>) {
    for _ in 0..1000 {
        *counter.lock().unwrap() += 1;
    }
}

/// Four processes started with `method` add to one counter, which each gets in its
/// arguments; what they counted.
fn count_in_four_processes(method: StartMethod) -> u64 {
    let ctx = get_context(method);
    let counter = Value::new(0u64).unwrap();
    let mut adders: Vec<_> = (0..4)
        .map(|_| ctx.process(add_under_its_lock, counter.clone()).unwrap())
        .collect();
    for adder in &mut adders {
        adder.start().unwrap();
    }
    for adder in &mut adders {
        assert_eq!(adder.join().unwrap(), 0);
    }
    counter.get().unwrap()
}
// ANCHOR_END: in_arguments

fn add_under_a_lock((counter, lock): (RawValue<u64>, Lock)) {
    for _ in 0..1000 {
        let _held = lock.acquire().unwrap();
        counter.set(counter.get() + 1);
    }
}

fn a_value_counted_by_four_processes_under_its_lock_is_exact() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in METHODS {
        assert_eq!(
            count_in_four_processes(method),
            4000,
            "{method}: no update lost"
        );

        // Python's way: a value without a lock, and a lock of its own beside it.
        let (counter, lock) = (RawValue::new(0u64).unwrap(), Lock::new().unwrap());
        in_four_processes(method, add_under_a_lock, (counter.clone(), lock));
        assert_eq!(counter.get(), 4000, "{method}: no update lost");
    }
}

fn fill_with_squares((squares, raw): (Array<u32>, RawArray<u16>)) {
    let mut all = squares.lock().unwrap();
    for (i, square) in all.iter_mut().enumerate() {
        *square = (i * i) as u32;
    }
    for i in 0..raw.len() {
        raw.set(i, 100 + i as u16);
    }
}

fn an_array_filled_by_a_child_is_read_by_the_parent() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let squares = Array::<u32>::new(6).unwrap();
        let raw = RawArray::<u16>::new(3).unwrap();
        let code = run(method, fill_with_squares, (squares.clone(), raw.clone()));
        assert_eq!(code, 0, "{method}");
        assert_eq!(squares.to_vec().unwrap(), [0, 1, 4, 9, 16, 25], "{method}");
        assert_eq!(raw.to_vec(), [100, 101, 102], "{method}");
    }
}

/// Every lock and way of waiting, for a parent and a child to meet with.
#[derive(Clone, Serialize, Deserialize)]
struct Meeting {
    lock: Lock,
    passed: Event,
    permits: Semaphore,
    bounded: BoundedSemaphore,
    barrier: Barrier,
    condition: Condition,
    pages: SharedAtomic<AtomicU32>,
    rlock: RLock,
}

fn meet(m: Meeting) {
    // The parent holds the lock: this waits until it lets go.
    drop(m.lock.acquire().unwrap());
    m.passed.set();
    assert!(m.permits.acquire_timeout(LONG), "the parent's permit came");
    // The bounded semaphore is full: its limit came with it.
    assert!(matches!(
        m.bounded.release(),
        Err(Error::SemaphoreFull { limit: 1 })
    ));
    m.bounded.acquire();
    m.barrier.wait_timeout(LONG).unwrap();
    let mut guard = m.condition.acquire().unwrap();
    let three = guard.wait_for_timeout(|| m.pages.load(Ordering::Relaxed) >= 3, LONG);
    assert!(three, "notified of three pages");
    drop(guard);
    let outer = m.rlock.acquire().unwrap();
    let inner = m.rlock.acquire().unwrap(); // the same thread may take it again
    drop((inner, outer));
}

fn locks_events_semaphores_barriers_and_conditions_coordinate_parent_and_child() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let m = Meeting {
            lock: Lock::new().unwrap(),
            passed: Event::new().unwrap(),
            permits: Semaphore::new(0).unwrap(),
            bounded: BoundedSemaphore::new(1).unwrap(),
            barrier: Barrier::new(2).unwrap(),
            condition: Condition::new().unwrap(),
            pages: SharedAtomic::new(AtomicU32::new(0)).unwrap(),
            rlock: RLock::new().unwrap(),
        };
        let held = m.lock.acquire().unwrap();
        let mut child = get_context(method).process(meet, m.clone()).unwrap();
        child.start().unwrap();
        assert!(
            !m.passed.wait_timeout(Duration::from_millis(200)),
            "{method}: the child passed a lock the parent holds"
        );
        drop(held);
        assert!(m.passed.wait_timeout(LONG), "{method}: the child passed");
        m.permits.release().unwrap();
        let place = m.barrier.wait_timeout(LONG).unwrap();
        assert!(place < 2, "{method}");
        assert_eq!(m.bounded.value(), 0, "{method}: the child took the permit");
        for _ in 0..3 {
            let guard = m.condition.acquire().unwrap();
            m.pages.fetch_add(1, Ordering::Relaxed);
            guard.notify_all();
        }
        assert_eq!(child.join().unwrap(), 0, "{method}");
        let guard = m.rlock.acquire().unwrap();
        assert!(
            !guard.owner_died(),
            "{method}: the child released the RLock"
        );
    }
}

fn count_atomically((counter, flag): (SharedAtomic<AtomicU64>, SharedAtomic<AtomicBool>)) {
    for _ in 0..1000 {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    flag.store(true, Ordering::Relaxed);
}

fn shared_atomics_count_across_processes() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let counter = SharedAtomic::new(AtomicU64::new(0)).unwrap();
        let flag = SharedAtomic::new(AtomicBool::new(false)).unwrap();
        in_four_processes(method, count_atomically, (counter.clone(), flag.clone()));
        assert_eq!(counter.load(Ordering::Relaxed), 4000, "{method}");
        assert!(flag.load(Ordering::Relaxed), "{method}");
    }
}

/// Objects of zero-sized types, and arrays without elements: room for nothing, and still
/// a file that can be checked and mapped.
type Empties = (
    Value<()>,
    Array<u64>,
    RawArray<u8>,
    RawValue<[u64; 0]>,
    Array<()>,
);

fn use_empties((unit, no_words, no_bytes, no_array, units): Empties) {
    unit.set(()).unwrap();
    unit.get().unwrap();
    assert!(no_words.lock().unwrap().is_empty());
    assert!(no_bytes.to_vec().is_empty());
    no_array.set(no_array.get());
    assert_eq!(units.to_vec().unwrap().len(), 5);
}

fn zero_sized_and_empty_objects_travel_too() {
    time_limit(Duration::from_secs(30));
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let empties = (
            Value::new(()).unwrap(),
            Array::new(0).unwrap(),
            RawArray::new(0).unwrap(),
            RawValue::new([]).unwrap(),
            Array::new(5).unwrap(),
        );
        assert_eq!(run(method, use_empties, empties), 0, "{method}");
    }
}

fn write_hello((shm, name): (SharedMemory, Option<String>)) {
    assert_eq!(shm.name(), name.as_deref(), "the name came with it");
    assert_eq!(shm.size(), 64);
    shm.write(0, b"hello");
}

fn first_byte(shm: SharedMemory) -> u8 {
    shm.buf()[0].load(Ordering::Relaxed)
}

fn shared_memory_written_by_the_child_is_read_by_the_parent() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let anonymous = SharedMemory::new(64).unwrap();
        let code = run(method, write_hello, (anonymous.clone(), None));
        assert_eq!(code, 0, "{method}");
        assert_eq!(&anonymous.to_vec()[..5], b"hello", "{method}");

        let name = format!("ipc-shared-args-{}-{method}", std::process::id());
        let named = SharedMemory::create(&name, 64).unwrap();
        let code = run(method, write_hello, (named.clone(), Some(name.clone())));
        assert_eq!(code, 0, "{method}");
        assert_eq!(&named.to_vec()[..5], b"hello", "{method}");
        // The child's copy unlinked nothing: the name is the creator's to remove.
        let reopened = SharedMemory::open(&name).unwrap();
        assert_eq!(reopened.size(), 64);
        drop(reopened);

        // In a pool's task, as in Python: a named block goes by its name, a block without
        // one cannot go (its descriptor only goes to a process as it starts).
        let pool = get_context(method).pool(1).start().unwrap();
        assert_eq!(pool.apply(first_byte, named.clone()).unwrap(), b'h');
        let refused = pool.apply(first_byte, anonymous.clone()).unwrap_err();
        assert!(refused.to_string().contains("as it starts"), "{refused}");
        drop(pool);
        drop(named);
        assert!(
            SharedMemory::open(&name).is_err(),
            "{method}: the creator unlinked the name"
        );
    }
}

fn die_holding((lock, held): (Lock, Event)) {
    let _guard = lock.acquire().unwrap();
    held.set();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
}

fn die_writing((value, held): (Value<u64>, Event)) {
    let mut guard = value.lock().unwrap();
    *guard = 7; // the first half of an update that never finishes
    held.set();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
}

fn a_holder_killed_in_a_new_process_is_seen_as_owner_died() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let ctx = get_context(method);
        let (lock, held) = (Lock::new().unwrap(), Event::new().unwrap());
        let mut holder = ctx
            .process(die_holding, (lock.clone(), held.clone()))
            .unwrap();
        holder.start().unwrap();
        assert!(held.wait_timeout(LONG), "{method}: the child took the lock");
        // Waits until the kernel reports the death: no wait for ever.
        let guard = lock.acquire_timeout(LONG).unwrap();
        let guard = guard.expect("the lock of a dead holder is free");
        assert!(guard.owner_died(), "{method}");
        drop(guard);
        assert!(!lock.acquire().unwrap().owner_died(), "{method}: repaired");
        assert_eq!(holder.join().unwrap(), -9, "{method}");

        let (value, held) = (Value::new(0u64).unwrap(), Event::new().unwrap());
        let mut holder = ctx
            .process(die_writing, (value.clone(), held.clone()))
            .unwrap();
        holder.start().unwrap();
        assert!(held.wait_timeout(LONG), "{method}: the child took the lock");
        assert_eq!(holder.join().unwrap(), -9, "{method}");
        assert!(
            matches!(value.get(), Err(Error::OwnerDied)),
            "{method}: a torn value is refused"
        );
        let mut guard = value.lock().unwrap();
        assert!(guard.owner_died(), "{method}");
        assert_eq!(*guard, 7, "{method}: what the dead holder wrote");
        *guard = 0; // repaired
        drop(guard);
        assert_eq!(value.get().unwrap(), 0, "{method}");
    }
}

/// The value that a pool's initializer gave each worker.
static KEPT: Mutex<Option<Value<u64>>> = Mutex::new(None);

fn keep(value: Value<u64>) {
    *KEPT.lock().unwrap() = Some(value);
}

fn add_to_kept(n: u64) -> u64 {
    let kept = KEPT.lock().unwrap();
    *kept.as_ref().unwrap().lock().unwrap() += n;
    n
}

fn read(value: Value<u64>) -> u64 {
    value.get().unwrap()
}

fn a_value_goes_in_a_pool_initializer_and_is_refused_in_a_task() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let total = Value::new(0u64).unwrap();
        let pool = get_context(method)
            .pool(2)
            .initializer(keep, total.clone())
            .start()
            .unwrap();
        assert_eq!(pool.map(add_to_kept, 1..=10).unwrap().len(), 10);
        assert_eq!(total.get().unwrap(), 55, "{method}");
        // Python: "RuntimeError: Synchronized objects should only be shared between
        // processes through inheritance".
        let refused = pool.apply(read, total.clone()).unwrap_err().to_string();
        assert!(refused.contains("as it starts"), "{method}: {refused}");
        assert!(refused.contains("inheritance"), "{method}: {refused}");
    }
}

/// One piece of a [`Forged`] argument.
enum Part {
    /// A descriptor, encoded as the real types encode theirs.
    Fd(Descriptor),
    /// A real lock, as it encodes itself.
    Lock(Lock),
    Num(u64),
    Str(String),
    /// Which variant of an enum follows.
    Variant(u32),
}

/// An argument that is decoded as a `T` but encoded by hand, piece by piece: what a
/// corrupt or hostile sender could send in place of a real `T`.
struct Forged<T> {
    parts: Vec<Part>,
    received: Option<T>,
}

impl<T> Forged<T> {
    fn new(parts: Vec<Part>) -> Forged<T> {
        Forged {
            parts,
            received: None,
        }
    }

    fn received(self) -> T {
        self.received.expect("decoded")
    }
}

impl<T> Serialize for Forged<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.parts.len())?;
        for part in &self.parts {
            match part {
                Part::Fd(fd) => tuple.serialize_element(fd)?,
                Part::Lock(lock) => tuple.serialize_element(lock)?,
                Part::Num(n) => tuple.serialize_element(n)?,
                Part::Str(s) => tuple.serialize_element(s)?,
                Part::Variant(v) => tuple.serialize_element(v)?,
            }
        }
        tuple.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Forged<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Forged<T>, D::Error> {
        Ok(Forged {
            parts: Vec::new(),
            received: Some(T::deserialize(deserializer)?),
        })
    }
}

fn use_value(forged: Forged<Value<u64>>) {
    forged.received().set(1).unwrap();
}

fn use_array(forged: Forged<Array<u64>>) {
    let array = forged.received();
    array.lock().unwrap().fill(u64::MAX);
}

fn use_raw_array(forged: Forged<RawArray<u8>>) {
    let array = forged.received();
    for i in 0..array.len() {
        array.set(i, 0xff); // over a lock's memory, this would break the lock
    }
}

fn use_lock(forged: Forged<Lock>) {
    drop(forged.received().acquire().unwrap());
}

fn use_shared_memory(forged: Forged<SharedMemory>) {
    let shm = forged.received();
    shm.write(0, &vec![0xff; shm.size()]);
}

fn use_flag(forged: Forged<SharedAtomic<AtomicBool>>) {
    assert!(forged.received().load(Ordering::Relaxed));
}

/// A memfd named `name`, `len` bytes long, starting with `bytes`, its size sealed or not:
/// the kind of file a real object keeps its memory in, made by hand.
fn memfd(name: &CStr, len: i64, bytes: &[u8], sealed: bool) -> Descriptor {
    use nix::fcntl::{FcntlArg, SealFlag, fcntl};
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING).unwrap();
    nix::unistd::ftruncate(&fd, len).unwrap();
    nix::sys::uio::pwrite(&fd, bytes, 0).unwrap();
    if sealed {
        let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
        fcntl(&fd, FcntlArg::F_ADD_SEALS(seals)).unwrap();
    }
    Descriptor::from(fd)
}

/// Starts `target(forged)` and checks that the new process refused its argument with an
/// error that says `why`: exit code 1 and the reason on stderr, not a crash and not a run.
fn refused<T: DeserializeOwned + 'static>(
    method: StartMethod,
    target: fn(Forged<T>),
    forged: Forged<T>,
    why: &str,
) {
    let mut code = None;
    let stderr = capture(Stream::Stderr, || code = Some(run(method, target, forged)));
    assert_eq!(
        code,
        Some(1),
        "{method}, {why}: refused, not run or crashed: {stderr}"
    );
    assert!(stderr.contains("cannot receive"), "{method}: {stderr}");
    assert!(
        stderr.contains(why),
        "{method}: expected {why:?} in {stderr}"
    );
    reads_as_words(&stderr);
}

/// An error that reaches a learner reads as a sentence, not as the debug form of each error
/// it went through (`Codec("…OtherString(\"…\")")`).
fn reads_as_words(error: &str) {
    for noise in ["OtherString", "Codec(", "\\\""] {
        assert!(!error.contains(noise), "{noise:?} in the error: {error}");
    }
}

fn a_forged_argument_is_refused_with_an_error_not_trusted() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    use Part::{Fd, Num, Str, Variant};
    for method in METHODS {
        // A value made for a 4-byte type, received as a u64.
        let block = memfd(c"ipc-value", 4096, &[], true);
        let forged = Forged::new(vec![Fd(block), Num(4), Num(4)]);
        refused(method, use_value, forged, "4 bytes");

        // An array that claims a million elements, in a page.
        let block = memfd(c"ipc-array", 4096, &[], true);
        let forged = Forged::new(vec![Fd(block), Num(8), Num(8), Num(1_000_000)]);
        refused(method, use_array, forged, "too small");

        // A value's file of 8 bytes: no room for its lock, let alone the value.
        let block = memfd(c"ipc-value", 8, &[], true);
        let forged = Forged::new(vec![Fd(block), Num(8), Num(8)]);
        refused(method, use_value, forged, "too small");

        // A file whose size is not sealed: the sender could shrink it under us.
        let block = memfd(c"ipc-value", 4096, &[], false);
        let forged = Forged::new(vec![Fd(block), Num(8), Num(8)]);
        refused(method, use_value, forged, "sealed");

        // A file that cannot be written through: open read-only, or sealed against writes.
        let block = memfd(c"ipc-value", 4096, &[], true);
        let read_only = std::fs::File::open(format!("/proc/self/fd/{}", block.as_fd().as_raw_fd()));
        let read_only = Descriptor::from(OwnedFd::from(read_only.unwrap()));
        let forged = Forged::new(vec![Fd(read_only), Num(8), Num(8)]);
        refused(method, use_value, forged, "mapped for reading and writing");
        let block = {
            use nix::fcntl::{FcntlArg, SealFlag, fcntl};
            use nix::sys::memfd::{MFdFlags, memfd_create};
            let fd = memfd_create(c"ipc-value", MFdFlags::MFD_ALLOW_SEALING).unwrap();
            nix::unistd::ftruncate(&fd, 4096).unwrap();
            let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE;
            fcntl(&fd, FcntlArg::F_ADD_SEALS(seals)).unwrap();
            Descriptor::from(fd)
        };
        let forged = Forged::new(vec![Fd(block), Num(8), Num(8)]);
        refused(method, use_value, forged, "mapped for reading and writing");

        // A pipe is no shared memory.
        let (_reader, writer) = std::io::pipe().unwrap();
        let pipe = Descriptor::from(OwnedFd::from(writer));
        let forged = Forged::new(vec![Fd(pipe), Num(8), Num(8)]);
        refused(method, use_value, forged, "pipe:");

        // A real lock's memory, received as bytes to write over.
        let lock = Lock::new().unwrap();
        let forged = Forged::new(vec![Part::Lock(lock.clone()), Num(1), Num(1), Num(64)]);
        refused(method, use_raw_array, forged, "ipc-lock");
        // ...or as a named block of shared memory.
        let forged = Forged::new(vec![
            Variant(1),
            Part::Lock(lock.clone()),
            Str("ipc-not-a-lock".into()),
            Num(64),
        ]);
        refused(method, use_shared_memory, forged, "ipc-lock");
        assert!(!lock.acquire().unwrap().owner_died(), "the lock is whole");

        // Shared memory received as a lock: no mutex was ever made in it.
        let shm = SharedMemory::new(4096).unwrap();
        let fd = Descriptor::from(shm.as_fd().try_clone_to_owned().unwrap());
        refused(
            method,
            use_lock,
            Forged::new(vec![Fd(fd)]),
            "ipc-shared-memory",
        );

        // A flag's file holding 2, which is no bool.
        let flag = memfd(c"ipc-atomic-bool", 1, &[2], true);
        let forged = Forged::new(vec![Fd(flag), Num(1), Num(1)]);
        refused(method, use_flag, forged, "not a bool");

        // In a pool's initializer: the pool's first wait says why no worker starts.
        let block = memfd(c"ipc-value", 8, &[], true);
        let forged = Forged::new(vec![Fd(block), Num(8), Num(8)]);
        let pool = (get_context(method).pool(1))
            .initializer(use_value, forged)
            .start()
            .unwrap();
        let error = pool.apply(add_to_kept, 1).unwrap_err().to_string();
        assert!(
            error.contains("cannot receive a Value"),
            "{method}: {error}"
        );
        assert!(error.contains("too small"), "{method}: {error}");
        reads_as_words(&error);
    }
}

/// A descriptor of `shm`'s file, as a forged argument would hold it.
fn descriptor_of(shm: &SharedMemory) -> Descriptor {
    Descriptor::from(shm.as_fd().try_clone_to_owned().unwrap())
}

fn a_named_block_is_received_only_with_its_own_name() {
    time_limit(Duration::from_secs(60));
    let _stop = StopsTheForkserver;
    use Part::{Fd, Num, Str, Variant};
    for method in METHODS {
        let name = format!("ipc-shared-args-{}-{method}", std::process::id());
        let deleted = format!("{name} (deleted)");
        // The kernel shows an unlinked file's path with " (deleted)" after it, which is also
        // the path of a live block named so: neither passes for the other.
        let unlinked = SharedMemory::create(&name, 64).unwrap();
        unlinked.unlink().unwrap();
        let live = SharedMemory::create(&deleted, 64).unwrap();
        for (shm, other_name) in [(&live, &name), (&unlinked, &deleted)] {
            let fd = descriptor_of(shm);
            let forged = Forged::new(vec![Variant(1), Fd(fd), Str(other_name.clone()), Num(64)]);
            refused(method, use_shared_memory, forged, "not /dev/shm/");
            assert_eq!(shm.to_vec(), [0; 64], "{method}: not written");
        }

        // Each, sent as it is, arrives with its own name.
        for (shm, name) in [(&unlinked, &name), (&live, &deleted)] {
            let code = run(method, write_hello, (shm.clone(), Some(name.clone())));
            assert_eq!(code, 0, "{method}: {name}");
            assert_eq!(&shm.to_vec()[..5], b"hello", "{method}: {name}");
        }
    }
}

/// An argument whose encoding panics partway, after a lock's descriptor.
struct Explodes;

impl Serialize for Explodes {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("this argument cannot be encoded");
    }
}

fn hold_lock((lock, _): (Lock, Explodes)) {
    drop(lock);
}

impl<'de> Deserialize<'de> for Explodes {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Explodes, D::Error> {
        Ok(Explodes)
    }
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn an_encoding_that_panics_leaves_no_descriptor_and_no_encoding_behind() {
    let lock = Lock::new().unwrap();
    let before = open_descriptors();
    let ctx = get_context(StartMethod::Spawn);
    let start = || ctx.process(hold_lock, (lock.clone(), Explodes));
    let mut panicked = false;
    let stderr = capture(Stream::Stderr, || {
        panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(start)).is_err();
    });
    assert!(panicked, "{stderr}");
    assert_eq!(open_descriptors(), before, "the lock's copy was closed");
    // A lock in a message is refused again, as before the panic, and copied nowhere.
    let encoded = ipc::codec::encode_into(&lock, &mut Vec::new());
    let refused = encoded.unwrap_err().to_string();
    assert!(refused.contains("as it starts"), "{refused}");
    assert_eq!(open_descriptors(), before);
}

fn close_on_exec(fd: Descriptor) {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let flags = FdFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFD).unwrap());
    assert!(
        flags.contains(FdFlag::FD_CLOEXEC),
        "a program this process runs would get the descriptor, and keep what it holds"
    );
}

fn a_received_descriptor_is_not_handed_on_to_programs_the_process_runs() {
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let (_reader, writer) = std::io::pipe().unwrap();
        let fd = Descriptor::from(OwnedFd::from(writer));
        let mut code = None;
        let stderr = capture(Stream::Stderr, || {
            code = Some(run(method, close_on_exec, fd))
        });
        assert_eq!(code, Some(0), "{method}: {stderr}");
    }
}

fn main() -> std::process::ExitCode {
    ipc::spawn::init();
    fork_test::run(&[
        (
            "a_value_counted_by_four_processes_under_its_lock_is_exact",
            a_value_counted_by_four_processes_under_its_lock_is_exact,
        ),
        (
            "an_array_filled_by_a_child_is_read_by_the_parent",
            an_array_filled_by_a_child_is_read_by_the_parent,
        ),
        (
            "locks_events_semaphores_barriers_and_conditions_coordinate_parent_and_child",
            locks_events_semaphores_barriers_and_conditions_coordinate_parent_and_child,
        ),
        (
            "shared_atomics_count_across_processes",
            shared_atomics_count_across_processes,
        ),
        (
            "zero_sized_and_empty_objects_travel_too",
            zero_sized_and_empty_objects_travel_too,
        ),
        (
            "shared_memory_written_by_the_child_is_read_by_the_parent",
            shared_memory_written_by_the_child_is_read_by_the_parent,
        ),
        (
            "a_holder_killed_in_a_new_process_is_seen_as_owner_died",
            a_holder_killed_in_a_new_process_is_seen_as_owner_died,
        ),
        (
            "a_value_goes_in_a_pool_initializer_and_is_refused_in_a_task",
            a_value_goes_in_a_pool_initializer_and_is_refused_in_a_task,
        ),
        (
            "a_forged_argument_is_refused_with_an_error_not_trusted",
            a_forged_argument_is_refused_with_an_error_not_trusted,
        ),
        (
            "a_named_block_is_received_only_with_its_own_name",
            a_named_block_is_received_only_with_its_own_name,
        ),
        (
            "an_encoding_that_panics_leaves_no_descriptor_and_no_encoding_behind",
            an_encoding_that_panics_leaves_no_descriptor_and_no_encoding_behind,
        ),
        (
            "a_received_descriptor_is_not_handed_on_to_programs_the_process_runs",
            a_received_descriptor_is_not_handed_on_to_programs_the_process_runs,
        ),
    ])
}
