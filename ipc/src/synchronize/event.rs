//! `Event`: a flag that processes wait for. Python: `multiprocessing.Event`.

use std::ffi::CStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::futex::{self, Deadline, Woken, deadline_after};
use super::lock::LockGuard;
use super::robust::SharedBlock;
use crate::error::Result;

/// The name of an event's memfd, which says what made the file.
const EVENT_FILE: &CStr = c"ipc-event";

/// A flag shared by processes: some wait until another sets it. Python:
/// `multiprocessing.Event()`.
///
/// [`set`](Self::set) wakes every process and thread waiting in [`wait`](Self::wait); the
/// flag stays set (later waits return at once) until [`clear`](Self::clear).
///
/// ```
/// use ipc::{Event, Process};
///
/// let ready = Event::new()?;
/// let mut waiters: Vec<Process> = (0..3)
///     .map(|_| {
///         let ready = ready.clone();
///         Process::new(move || ready.wait())
///     })
///     .collect();
/// for waiter in &mut waiters {
///     waiter.start()?;
/// }
/// ready.set(); // all three wake up
/// for waiter in &mut waiters {
///     assert_eq!(waiter.join()?, 0);
/// }
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// A wait that began before a `set` ends, and says the flag was set, even if a `clear`
/// comes right after: Python's `multiprocessing.Event.wait()` then often returns `False`,
/// with no timeout given. A process killed at any moment leaves the event working: the
/// flag changes and the wake-up happen in one system call.
#[derive(Clone)]
pub struct Event {
    block: Arc<SharedBlock<EventState>>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish_non_exhaustive()
    }
}

struct EventState {
    /// Bit 0: the flag. The bits above: how many times it was set (wrapping), so that a
    /// waiter can tell that a set happened while it slept, even if a clear followed. Every
    /// change is made under the block's mutex.
    word: AtomicU32,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Result<Event> {
        Ok(Event {
            block: Arc::new(SharedBlock::new(EVENT_FILE, 0, 1, |_| {})?),
        })
    }

    /// Whether the flag is set. Python: `event.is_set()`.
    pub fn is_set(&self) -> bool {
        self.word().load(Ordering::Acquire) & 1 == 1
    }

    /// Sets the flag and wakes every waiter. Python: `event.set()`.
    pub fn set(&self) {
        let _held = LockGuard::hold(self.block.mutex(), None);
        let word = self.word().load(Ordering::Relaxed);
        if word & 1 == 0 {
            // Flag 0 → 1 and one more set (+2): +3, and the wake, in one system call.
            futex::add_and_wake_by(self.word(), 3, u32::MAX);
        }
    }

    /// Clears the flag: later waits wait again. Python: `event.clear()`.
    pub fn clear(&self) {
        let _held = LockGuard::hold(self.block.mutex(), None);
        self.word().fetch_and(!1, Ordering::Relaxed);
    }

    /// Waits until the flag is set (at once if it is). Python: `event.wait()`.
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Like [`wait`](Self::wait), but at most `timeout`: whether the flag was set. Python:
    /// `event.wait(timeout)`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event = ipc::Event::new()?;
    /// assert!(!event.wait_timeout(Duration::from_millis(10))); // nobody set it
    /// event.set();
    /// assert!(event.wait_timeout(Duration::from_millis(10)));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(deadline_after(timeout).as_ref())
    }

    fn wait_until(&self, deadline: Option<&Deadline>) -> bool {
        let start = self.word().load(Ordering::Acquire);
        let set_since = |word: u32| word & 1 == 1 || word >> 1 != start >> 1;
        let mut seen = start;
        loop {
            if set_since(seen) {
                return true;
            }
            if futex::wait(self.word(), seen, deadline) == Woken::TimedOut {
                return set_since(self.word().load(Ordering::Acquire));
            }
            seen = self.word().load(Ordering::Acquire);
        }
    }

    fn word(&self) -> &AtomicU32 {
        &self.block.state().word
    }
}

/// An `Event` can go to a process as it starts, in its arguments (see
/// [`Descriptor`](crate::Descriptor)) or its pool's initializer's, with the forkserver and
/// spawn methods: the new process maps the same memory, so a `set` in one wakes the waits
/// of the other. That is how Python pickles an event for a new process; a message or a
/// pool's task cannot hold one, as in Python ("... should only be shared between processes
/// through inheritance").
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.block.as_ref().serialize(serializer)
    }
}

/// Checks what it receives before it maps it: an event's memory.
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Event, D::Error> {
        let block = SharedBlock::deserialize(deserializer, "an Event", &[EVENT_FILE])?;
        Ok(Event { block })
    }
}
