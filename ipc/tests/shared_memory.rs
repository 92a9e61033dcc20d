//! `SharedMemory`: anonymous and named blocks across processes, and who removes a name.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fork_test::time_limit;
use ipc::{Process, SharedMemory};

fn run(f: impl FnOnce() + 'static) {
    let mut child = Process::new(f);
    child.start().unwrap();
    assert_eq!(child.join().unwrap(), 0);
}

fn a_block_without_a_name_is_shared_with_children() {
    time_limit(Duration::from_secs(20));
    let shm = SharedMemory::new(10).unwrap();
    assert_eq!((shm.size(), shm.name()), (10, None));
    assert_eq!(shm.to_vec(), [0; 10]);
    let child_shm = shm.clone();
    run(move || {
        child_shm.write(2, b"hello");
        child_shm.buf()[9].store(b'!', Ordering::Relaxed);
    });
    let mut hello = [0; 5];
    shm.read(2, &mut hello);
    assert_eq!(&hello, b"hello");
    assert_eq!(shm.to_vec(), b"\0\0hello\0\0!");
    assert!(
        SharedMemory::new(0).is_err(),
        "a size of 0 is refused, as in Python"
    );
}

/// A unique name for this test run.
fn name(what: &str) -> String {
    format!("ipc-test-{what}-{}", std::process::id())
}

fn a_named_block_is_opened_by_name_and_unlinked_by_its_creator() {
    time_limit(Duration::from_secs(20));
    let name = name("named");
    let file = Path::new("/dev/shm").join(&name);
    let shm = SharedMemory::create(&name, 4096).unwrap();
    assert!(file.exists());
    let taken = SharedMemory::create(&name, 4096).unwrap_err().to_string();
    assert!(
        taken.contains(&name) && taken.contains("exists"),
        "the name is taken, and the error says which: {taken}"
    );
    let child_name = name.clone();
    run(move || {
        // Opened by its name, not inherited: any program could do this.
        let other = SharedMemory::open(&child_name).unwrap();
        assert_eq!(other.size(), 4096);
        other.write(0, b"written by name");
    });
    let mut text = [0; 15];
    shm.read(0, &mut text);
    assert_eq!(&text, b"written by name");

    // A child's copy (made by fork) does not remove the name when it is dropped...
    let copy = shm.clone();
    run(move || drop(copy));
    assert!(file.exists(), "the child's copy left the name alone");
    // ...the creator's last handle does.
    drop(shm);
    assert!(!file.exists(), "the creator removed the name");
    let missing = SharedMemory::open(&name).unwrap_err().to_string();
    assert!(
        missing.contains(&name),
        "the error names the block: {missing}"
    );
}

fn unlink_removes_the_name_and_leaves_the_bytes_to_who_has_them() {
    time_limit(Duration::from_secs(20));
    let name = name("unlink");
    let shm = SharedMemory::create(&name, 100).unwrap();
    shm.write(0, b"still here");
    shm.unlink().unwrap();
    assert!(SharedMemory::open(&name).is_err(), "no name any more");
    assert_eq!(&shm.to_vec()[..10], b"still here");
    assert!(
        shm.unlink().is_err(),
        "already gone (Python raises FileNotFoundError)"
    );
    for bad in ["", "a/b", &"x".repeat(300)] {
        assert!(SharedMemory::create(bad, 1).is_err(), "{bad:?} is no name");
    }
}

/// A name unlinked and given to another block is that block's: the first block's creator
/// removes it neither with `unlink` nor when it drops its handle (Python's `close` leaves
/// it too).
fn a_name_unlinked_and_given_to_another_block_stays_that_blocks() {
    time_limit(Duration::from_secs(20));
    let name = name("reused");
    let file = Path::new("/dev/shm").join(&name);
    let first = SharedMemory::create(&name, 4096).unwrap();
    first.unlink().unwrap();
    let second = SharedMemory::create(&name, 4096).unwrap();
    second.write(0, b"second");
    let refused = first.unlink().unwrap_err().to_string();
    assert!(
        refused.contains(&name),
        "the error names the block: {refused}"
    );
    drop(first);
    assert!(file.exists(), "the second block kept its name");
    let mut text = [0; 6];
    SharedMemory::open(&name).unwrap().read(0, &mut text);
    assert_eq!(&text, b"second");

    // The same after another handle unlinked the name, as one cleans up after a crash.
    let third = name.clone() + "-third";
    let third_file = Path::new("/dev/shm").join(&third);
    let creator = SharedMemory::create(&third, 4096).unwrap();
    SharedMemory::open(&third).unwrap().unlink().unwrap();
    let again = SharedMemory::create(&third, 4096).unwrap();
    drop(creator);
    assert!(third_file.exists(), "the new block kept its name");
    drop(again);
    drop(second);
    assert!(
        !third_file.exists() && !file.exists(),
        "each creator removed its own name"
    );

    // Nor does `unlink` remove what another program put at the name, a symlink included.
    let fourth = name.clone() + "-fourth";
    let fourth_file = Path::new("/dev/shm").join(&fourth);
    let block = SharedMemory::create(&fourth, 4096).unwrap();
    block.unlink().unwrap();
    std::os::unix::fs::symlink("/nowhere", &fourth_file).unwrap();
    assert!(block.unlink().is_err(), "the name is another's");
    let left = fourth_file.symlink_metadata().is_ok();
    let _ = std::fs::remove_file(&fourth_file);
    assert!(left, "the symlink at the name is left alone");
}

fork_test::main!(
    a_block_without_a_name_is_shared_with_children,
    a_named_block_is_opened_by_name_and_unlinked_by_its_creator,
    unlink_removes_the_name_and_leaves_the_bytes_to_who_has_them,
    a_name_unlinked_and_given_to_another_block_stays_that_blocks,
);
