//! # Exercise `ch07_undo_log`: an update the next holder can undo
//!
//! A process can be killed at any moment, also while it holds the lock of a `Value`,
//! halfway through an update. The next `lock()` gets the lock anyway, and its guard's
//! `owner_died()` says so: the data may be half-updated. Chapter 7 showed how to write an
//! update so that it can be undone: a copy of the totals first, then a mark saying that an
//! update is under way, then the change, then the mark taken down.
//!
//! Write the two functions below on the [`Ledger`] of `exercises::types` (the totals, the
//! copy `undo`, and the mark `updating`):
//!
//! - [`add_page`] adds one page of `bytes` bytes to the totals, under the ledger's lock,
//!   in an update that can be undone, whatever the instant it is cut short at;
//! - [`read_totals`] takes the lock and returns the totals; if a holder died in the
//!   middle of an update, it undoes that update first (and leaves the ledger repaired).
//!
//! The checks kill processes in the middle of updates, theirs and yours, many times, and
//! then call your `read_totals`.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use ipc::Value;

use crate::types::{Ledger, Totals};

/// Adds a page of `bytes` bytes to the totals, in an update that can be undone.
pub fn add_page(ledger: &Value<Ledger>, bytes: u64) -> ipc::Result<()> {
    // TODO: `ledger.lock()?`; then, through the guard: copy the totals to `undo`, set
    //       `updating` to 1, add the page and its bytes, set `updating` back to 0.
    let _ = (ledger, bytes);
    todo!("add a page of {bytes} bytes in an update that can be undone")
}

/// The totals, after undoing the update that a dead holder left half done, if any.
pub fn read_totals(ledger: &Value<Ledger>) -> ipc::Result<Totals> {
    // TODO: lock; if an update is under way, its process died in the middle of it: put
    //       `undo` back in `totals`, and the mark down. Then return the totals.
    let _ = ledger;
    todo!("read the totals, undoing a half-done update first")
}
