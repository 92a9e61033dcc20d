//! Reference solution of `ch07_undo_log`: an update the next holder can undo.

use std::sync::atomic::{Ordering, compiler_fence};

use ipc::Value;

use crate::types::{Ledger, Totals};

// ANCHOR: add_page
/// Adds a page of `bytes` bytes to the totals, in an update that can be undone.
pub fn add_page(ledger: &Value<Ledger>, bytes: u64) -> ipc::Result<()> {
    let mut ledger = ledger.lock()?;
    ledger.undo = ledger.totals;
    // The compiler may reorder stores that no other thread can see while we hold the
    // lock; a kill sees memory as it is, so keep the copy, the mark and the change in order.
    compiler_fence(Ordering::SeqCst);
    ledger.updating = 1;
    compiler_fence(Ordering::SeqCst);
    ledger.totals.pages += 1;
    ledger.totals.bytes += bytes;
    compiler_fence(Ordering::SeqCst);
    ledger.updating = 0;
    Ok(())
}
// ANCHOR_END: add_page

// ANCHOR: read_totals
/// The totals, after undoing the update that a dead holder left half done, if any.
pub fn read_totals(ledger: &Value<Ledger>) -> ipc::Result<Totals> {
    let mut ledger = ledger.lock()?;
    // `owner_died()` says that the last holder did not finish; `updating` says whether it
    // had begun an update (a holder killed before the mark, or after taking it down, left
    // the totals whole).
    if ledger.owner_died() && ledger.updating == 1 {
        ledger.totals = ledger.undo;
        ledger.updating = 0;
    }
    Ok(ledger.totals)
}
// ANCHOR_END: read_totals
