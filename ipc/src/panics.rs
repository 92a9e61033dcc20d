//! How a panic in a worker becomes its parent's error: the worker prints nothing, and
//! sends the panic's message and place instead (as [`Error::TaskPanicked`](crate::Error)).

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Where the last panic happened, noted by [`report_quietly`]'s hook.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether [`report_quietly`]'s hook is this process's: only then is a place noted.
static QUIET: AtomicBool = AtomicBool::new(false);

/// In a worker process: a panic is the parent's to report, so the hook prints nothing; it
/// only notes where the panic happened, for [`describe`].
pub(crate) fn report_quietly() {
    QUIET.store(true, Ordering::Relaxed);
    panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| l.to_string());
        PANIC_LOCATION.with(|last| *last.borrow_mut() = location);
    }));
}

/// A caught panic's message (`panic!` gives a `&str` or a `String`), and where it happened
/// if [`report_quietly`]'s hook noted it.
pub(crate) fn describe(payload: &(dyn Any + Send)) -> String {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    };
    match PANIC_LOCATION.with(|last| last.borrow_mut().take()) {
        Some(location) => format!("{message} (at {location})"),
        None => message,
    }
}

/// Runs `f`, catching a panic: its result, or the panic's description (see [`describe`]).
///
/// The payload is dropped inside a `catch_unwind` too: a payload's own destructor may
/// panic (`panic_any` with such a value), and that second panic, caught by nothing, would
/// unwind out of the worker's loop, and out of a forked child into the code that forked
/// it: the child would run its parent's program. A payload that panics when dropped is
/// forgotten instead (the process lets go of its memory when it ends).
///
/// The place noted by the hook is cleared first: a panic that `f` caught itself leaves
/// its place behind, and a panic that no hook sees (`resume_unwind`) must not be
/// reported there. (Only where the hook notes places: the first use of the thread-local
/// registers its destructor, which costs a forked child tens of microseconds.)
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    if QUIET.load(Ordering::Relaxed) {
        PANIC_LOCATION.with(|last| last.borrow_mut().take());
    }
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let description = describe(&*payload);
        if let Err(again) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
            std::mem::forget(again);
        }
        description
    })
}
