//! Checks of `ch07_undo_log`: an update the next holder can undo.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use exercises::types::{Ledger, Totals};
use ipc::{Event, Process, SharedAtomic, Value};
use nix::sys::signal::{Signal, raise};

use super::TIME_LIMIT;

exercise! {
    name: ch07_undo_log,
    api: {
        add_page: fn(&Value<Ledger>, u64) -> ipc::Result<()>,
        read_totals: fn(&Value<Ledger>) -> ipc::Result<Totals>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        add_page_adds_a_page_and_its_bytes,
        pages_added_by_four_processes_are_all_counted,
        read_totals_undoes_an_update_its_process_did_not_finish,
        read_totals_keeps_an_update_that_was_finished,
        kills_at_random_moments_never_leave_torn_totals,
    ],
}

/// Every page added by the checks has this many bytes, so that whole totals always have
/// `bytes == pages * PAGE`.
const PAGE: u64 = 100;

fn ledger(pages: u64) -> Value<Ledger> {
    let totals = Totals {
        pages,
        bytes: pages * PAGE,
    };
    Value::new(Ledger {
        totals,
        undo: totals,
        updating: 0,
    })
    .unwrap()
}

fn add_page_adds_a_page_and_its_bytes(api: Api) {
    let ledger = ledger(0);
    for _ in 0..3 {
        (api.add_page)(&ledger, PAGE).expect("add_page returned an error");
    }
    let after = ledger.get().expect("the ledger is whole");
    assert_eq!(
        after.totals,
        Totals {
            pages: 3,
            bytes: 300
        },
        "after three pages"
    );
    assert_eq!(
        after.updating, 0,
        "no update is under way once add_page returned"
    );
    let totals = (api.read_totals)(&ledger).expect("read_totals returned an error");
    assert_eq!(totals, after.totals, "read_totals of whole totals");
}

fn pages_added_by_four_processes_are_all_counted(api: Api) {
    let ledger = ledger(0);
    let mut children: Vec<Process> = (0..4)
        .map(|_| {
            let ledger = ledger.clone();
            let mut child = Process::new(move || {
                for _ in 0..500 {
                    (api.add_page)(&ledger, PAGE).expect("add_page returned an error");
                }
            });
            child.start().unwrap();
            child
        })
        .collect();
    for child in &mut children {
        assert_eq!(
            child.join().unwrap(),
            0,
            "a child's add_page failed (see above)"
        );
    }
    let totals = (api.read_totals)(&ledger).expect("read_totals returned an error");
    assert_eq!(
        totals,
        Totals {
            pages: 2000,
            bytes: 2000 * PAGE
        },
        "4 processes added 500 pages each: each update is a read and a write, under the lock"
    );
}

/// A child takes the lock, does `step` to the ledger as an update of chapter 7 would, and
/// is killed there, still holding the lock.
fn killed_after(ledger: &Value<Ledger>, step: fn(&mut Ledger)) {
    let ledger = ledger.clone();
    let mut child = Process::new(move || {
        let mut guard = ledger.lock().unwrap();
        step(&mut guard);
        raise(Signal::SIGKILL).unwrap();
    });
    child.start().unwrap();
    assert_eq!(child.join().unwrap(), -9);
}

fn read_totals_undoes_an_update_its_process_did_not_finish(api: Api) {
    let ledger = ledger(10);
    killed_after(&ledger, |ledger| {
        ledger.undo = ledger.totals;
        ledger.updating = 1;
        ledger.totals.pages += 1; // and killed before the bytes
    });
    let totals = (api.read_totals)(&ledger).expect("read_totals returned an error");
    assert_eq!(
        totals,
        Totals {
            pages: 10,
            bytes: 1000
        },
        "a process took the lock, began an update (undo = totals, updating = 1), added a \
         page but not its bytes, and was killed: read_totals must undo that update"
    );
    let guard = ledger.lock().unwrap();
    assert!(
        !guard.owner_died() && guard.updating == 0 && guard.totals == totals,
        "after read_totals the ledger is repaired (updating 0, the totals undone) and the \
         next holder is told nothing: {:?}, owner_died() {}",
        *guard,
        guard.owner_died()
    );
}

fn read_totals_keeps_an_update_that_was_finished(api: Api) {
    let ledger = ledger(10);
    killed_after(&ledger, |ledger| {
        ledger.undo = ledger.totals;
        ledger.updating = 1;
        ledger.totals.pages += 1;
        ledger.totals.bytes += PAGE;
        ledger.updating = 0; // finished, and killed before the lock was released
    });
    let totals = (api.read_totals)(&ledger).expect("read_totals returned an error");
    assert_eq!(
        totals,
        Totals {
            pages: 11,
            bytes: 1100
        },
        "a process finished its update (updating back to 0) and was killed before it \
         released the lock: the update is whole, and read_totals keeps it"
    );
}

fn kills_at_random_moments_never_leave_torn_totals(api: Api) {
    const ROUNDS: u32 = 400;
    let ledger = ledger(0);
    let started = Event::new().unwrap();
    // How many add_page calls of this round's child have returned: their pages must count.
    let finished = SharedAtomic::new(AtomicU64::new(0)).unwrap();
    let mut before = 0; // pages when the round began
    let mut random = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    for round in 0..ROUNDS {
        started.clear();
        finished.store(0, Ordering::SeqCst);
        let (child_ledger, child_started) = (ledger.clone(), started.clone());
        let child_finished = finished.clone();
        let mut child = Process::new(move || {
            child_started.set();
            loop {
                (api.add_page)(&child_ledger, PAGE).expect("add_page returned an error");
                child_finished.fetch_add(1, Ordering::SeqCst);
            }
        });
        child.start().unwrap();
        started.wait();
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        std::thread::sleep(Duration::from_micros(500 + random % 2000));
        child.kill().unwrap();
        assert_eq!(
            child.join().unwrap(),
            -9,
            "round {round}: the child was killed"
        );
        let totals = (api.read_totals)(&ledger).expect("read_totals returned an error");
        assert_eq!(
            totals.bytes,
            totals.pages * PAGE,
            "round {round}: a child adding pages of {PAGE} bytes was killed at a random \
             moment, and read_totals returned torn totals: {totals:?}"
        );
        // The child may have been killed after an add_page returned and before it counted.
        let done = finished.load(Ordering::SeqCst);
        assert!(
            totals.pages <= before + done + 1,
            "round {round}: {done} calls of add_page had returned, on top of {before} \
             pages, and the totals count {}: more pages than were added",
            totals.pages
        );
        assert!(
            totals.pages >= before + done,
            "round {round}: {done} calls of add_page had returned, on top of {before} \
             pages, but the totals count {} pages after a kill: an update that was \
             finished was undone. The copy in `undo` must be made before `updating` says \
             an update is under way.",
            totals.pages
        );
        before = totals.pages;
    }
}
