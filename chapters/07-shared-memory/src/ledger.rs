//! Part 3: a process is killed while it holds the lock of the totals, halfway through an
//! update. The next `lock()` gets the lock at once and is told that its owner died; it
//! undoes the half-done update from the copy the dead process made before it began.

use std::fmt;
use std::sync::atomic::{Ordering, compiler_fence};
use std::time::Duration;

use bytemuck::{Pod, Zeroable};
use ipc::{Event, Process, Value, describe_exitcode};
use loader::count;

/// Pages and bytes loaded.
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub struct Totals {
    pub pages: u64,
    pub bytes: u64,
}

// ANCHOR: ledger
/// The totals, and what it takes to undo an update that its process could not finish.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub struct Ledger {
    totals: Totals,
    /// The totals as they were before the update under way.
    undo: Totals,
    /// 1 while an update is under way.
    updating: u64,
}

impl Ledger {
    /// Starts an update: a copy of the totals first, then the mark. A process killed
    /// before the mark leaves the totals untouched; after it, a copy to go back to.
    fn begin(&mut self) {
        self.undo = self.totals;
        // While we hold the lock no other process looks, so the compiler may reorder
        // these stores; a kill is a look, and must see them in this order.
        compiler_fence(Ordering::SeqCst);
        self.updating = 1;
        compiler_fence(Ordering::SeqCst);
    }

    /// Ends an update: the totals are whole again.
    fn finish(&mut self) {
        compiler_fence(Ordering::SeqCst);
        self.updating = 0;
    }

    /// Undoes the update that a dead holder left half done, if there is one.
    fn repair(&mut self) {
        if self.updating == 1 {
            self.totals = self.undo;
            self.updating = 0;
        }
    }
}
// ANCHOR_END: ledger

/// The page that part 3 adds to the totals.
const PAGE_BYTES: u64 = 1000;

/// Kills a process halfway through an update of `totals`, then repairs them, and shows
/// that the lock works as before.
pub fn kill_a_holder(totals: Totals) -> ipc::Result<()> {
    println!("A process killed while it holds the lock of the totals ({totals}):");
    let ledger = Value::new(Ledger {
        totals,
        undo: totals,
        updating: 0,
    })?;
    let halfway = Event::new()?;
    // ANCHOR: killed
    let mut doomed = Process::new({
        let (ledger, halfway) = (ledger.clone(), halfway.clone());
        move || {
            let mut ledger = ledger.lock().expect("the lock works");
            ledger.begin();
            ledger.totals.pages += 1;
            halfway.set(); // the bytes come next, but first: the parent kills us
            std::thread::sleep(Duration::MAX);
        }
    });
    doomed.start()?;
    halfway.wait();
    doomed.kill()?;
    let ended = describe_exitcode(doomed.join()?);
    // ANCHOR_END: killed
    let pid = doomed.pid().expect("started");
    println!("  process {pid} locked them, added a page but not its bytes, and was {ended}");

    // ANCHOR: recover
    let mut guard = ledger.lock()?; // at once: Python's lock would stay locked for ever
    if guard.owner_died() {
        println!("  lock(): its owner died; the totals read {}", guard.totals);
        guard.repair();
        println!(
            "  undone from the copy made before the update: {}",
            guard.totals
        );
    }
    drop(guard); // repaired: the next holder is told nothing
    // ANCHOR_END: recover

    let mut next = Process::new({
        let ledger = ledger.clone();
        move || add_page(&ledger, PAGE_BYTES).expect("the lock works")
    });
    next.start()?;
    next.join()?;
    let guard = ledger.lock()?;
    println!(
        "  another process adds the page: {}; owner_died() is {} again",
        guard.totals,
        guard.owner_died()
    );
    Ok(())
}

// ANCHOR: add_page
/// Adds a page of `bytes` to the totals, in an update that can be undone.
fn add_page(ledger: &Value<Ledger>, bytes: u64) -> ipc::Result<()> {
    let mut ledger = ledger.lock()?;
    ledger.begin();
    ledger.totals.pages += 1;
    ledger.totals.bytes += bytes;
    ledger.finish();
    Ok(())
}
// ANCHOR_END: add_page

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} bytes",
            count(self.pages as usize, "page"),
            self.bytes
        )
    }
}
