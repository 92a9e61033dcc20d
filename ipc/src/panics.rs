//! How a panic in a worker becomes its parent's error: the worker prints nothing, and
//! sends the panic's message and place instead (as [`Error::TaskPanicked`](crate::Error)).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Where the last panic happened, noted by [`report_quietly`]'s hook, and during which
    /// task (see `TASK`).
    static PANIC_LOCATION: RefCell<Option<(u64, String)>> = const { RefCell::new(None) };
    /// How many tasks this thread has begun ([`catch`], [`next_task`]). A plain number
    /// with no destructor: counting costs a thread-local add, and nothing at a thread's
    /// start (a thread-local with a destructor registers it at first use, which costs a
    /// forked child tens of microseconds).
    static TASK: Cell<u64> = const { Cell::new(0) };
}

/// Whether [`report_quietly`]'s hook is this process's: only then is a place noted, and
/// only then are tasks counted. (Counting writes a page of thread-locals that a child
/// started with `Process` would otherwise not write: a page fault, a few microseconds
/// of a start.)
static QUIET: AtomicBool = AtomicBool::new(false);

/// In a worker process: a panic is the parent's to report, so the hook prints nothing; it
/// only notes where the panic happened, for [`describe`].
pub(crate) fn report_quietly() {
    QUIET.store(true, Ordering::Relaxed);
    panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| (TASK.get(), l.to_string()));
        PANIC_LOCATION.with(|last| *last.borrow_mut() = location);
    }));
}

/// Begins a task in this thread: a place noted before is not its panic's. [`catch`] does
/// it for its `f`; a loop that runs many tasks inside one `catch` does it for each.
#[inline]
pub(crate) fn next_task() {
    TASK.set(TASK.get() + 1);
}

/// Calls `f` on each item, each a task of its own, catching panics: every result, or, once
/// one has panicked, an outcome per item (its result, or the panic's description). A pool
/// worker runs its chunks so.
///
/// One catch serves the items until one panics: a catch per item cost about 3 ns an item
/// (a loop of 50 000 tiny tasks: 141 µs against 19 µs), more than a tiny task takes. A panic
/// leaves the results before it in `results`, and `items` just past the item that
/// panicked (moved into `f`, and dropped as the panic unwound); each item after it has a
/// catch of its own.
pub(crate) fn call_each<T, R>(
    items: impl ExactSizeIterator<Item = T>,
    f: impl Fn(T) -> R,
) -> Result<Vec<R>, Vec<Result<R, String>>> {
    let mut items = items;
    let mut results = Vec::with_capacity(items.len());
    let all = catch(|| {
        for item in &mut items {
            next_task();
            results.push(f(item));
        }
    });
    let Err(panicked) = all else {
        return Ok(results);
    };
    let mut outcomes: Vec<_> = results.into_iter().map(Ok).collect();
    outcomes.push(Err(panicked));
    outcomes.extend(items.map(|item| catch(|| f(item))));
    Err(outcomes)
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
        Some((task, location)) if task == TASK.get() => format!("{message} (at {location})"),
        _ => message,
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
/// `f` is a task of its own ([`next_task`]): a panic that an earlier task caught itself
/// leaves its place behind, and a panic that no hook sees (`resume_unwind`) must not be
/// reported there.
///
/// Inlined into its caller: a forked child runs this first thing, and each page of code a
/// child runs first costs it a page fault (a fork does not copy the page-table entries of
/// the code).
#[inline(always)]
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    if QUIET.load(Ordering::Relaxed) {
        next_task();
    }
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let description = describe(&*payload);
        if let Err(again) = panic::catch_unwind(AssertUnwindSafe(|| drop(payload))) {
            std::mem::forget(again);
        }
        description
    })
}
