//! `Barrier`: processes wait until a given number of them have arrived. Python:
//! `multiprocessing.Barrier`.

use std::ffi::CStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::futex::{self, Deadline, Woken, deadline_after};
use super::lock::LockGuard;
use super::robust::SharedBlock;
use crate::error::{Error, Result};

/// The name of a barrier's memfd, which says what made the file.
const BARRIER_FILE: &CStr = c"ipc-barrier";

/// A meeting point for a fixed number of processes (its *parties*): each [`wait`] waits
/// until all have called it, then all go on together. Python:
/// `multiprocessing.Barrier(parties)`.
///
/// [`wait`] returns the caller's place of arrival, from 0 to `parties - 1` (the last to
/// arrive gets `parties - 1`), so that exactly one process can be picked for a job. The
/// barrier can then be used again, for the next round.
///
/// ```
/// use ipc::{Barrier, Process};
///
/// let start = Barrier::new(3)?;
/// let mut children: Vec<Process> = (0..2)
///     .map(|_| {
///         let start = start.clone();
///         Process::new(move || {
///             start.wait().unwrap(); // waits for the two others
///         })
///     })
///     .collect();
/// for child in &mut children {
///     child.start()?;
/// }
/// let place = start.wait()?; // all three go on from here, at once
/// assert!(place < 3);
/// for child in &mut children {
///     child.join()?;
/// }
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// A wait that times out *breaks* the barrier, as in Python: it and every other wait,
/// now and later, return [`Error::BrokenBarrier`], until [`reset`](Self::reset). So does
/// [`abort`](Self::abort). A process that dies before it arrives never arrives: waits
/// without a timeout then wait for ever, so use one (or `abort` from the process that sees
/// it die). Python's `action` argument is not offered. Python runs the action before any
/// party leaves the barrier; here every party leaves at once, so for the same order the
/// process that gets place 0 does that work, and then every party calls `wait` again:
/// nobody goes on before the work is done.
///
/// [`wait`]: Self::wait
#[derive(Clone)]
pub struct Barrier {
    block: Arc<SharedBlock<BarrierState>>,
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}

struct BarrierState {
    /// The current round, packed in one word (see [`Round`]) so that it changes in one
    /// store: a process killed at any moment leaves the old round or the new one.
    round: AtomicU64,
    /// Bit `g % 64`: whether round `g` ended by a reset (its waiters get an error) rather
    /// than by its last arrival (they go on).
    reset_rounds: AtomicU64,
    parties: AtomicU32,
    /// Changed, with a wake-up of every waiter, whenever the round ends or breaks.
    wakes: AtomicU32,
}

/// One round of the barrier: its number, how many have arrived, and whether it broke.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Round {
    number: u32,
    arrived: u32,
    broken: bool,
}

impl Round {
    fn load(word: &AtomicU64) -> Round {
        let word = word.load(Ordering::Acquire);
        Round {
            number: (word >> 32) as u32,
            arrived: (word as u32) >> 1,
            broken: word & 1 == 1,
        }
    }

    fn store(self, word: &AtomicU64) {
        let low = (self.arrived << 1) | u32::from(self.broken);
        // Release, with `load`'s Acquire: a waiter that reads the new round without the
        // lock (see `wait_until`) sees how the old one ended (`reset_rounds`) too.
        word.store(
            (u64::from(self.number) << 32) | u64::from(low),
            Ordering::Release,
        );
    }

    /// The next round, empty.
    fn next(self) -> Round {
        Round {
            number: self.number.wrapping_add(1),
            arrived: 0,
            broken: false,
        }
    }
}

/// How long past its deadline a wait may wait for the inner lock. Its holders keep it for a
/// moment (the last to arrive, as it ends a round, say), which must not count as one that
/// keeps it past the deadline; only a holder that is stopped (or starved of the processor
/// that long) does that.
const LOCK_GRACE: Duration = Duration::from_secs(1);

/// The most parties a barrier can have: its count of arrivals has 31 bits.
const MAX_PARTIES: usize = (u32::MAX >> 1) as usize;

impl Barrier {
    /// A barrier for `parties` processes (1 to 2³¹ − 1). Python: `Barrier(parties)`.
    pub fn new(parties: usize) -> Result<Barrier> {
        if parties == 0 || parties > MAX_PARTIES {
            let why = format!("a barrier needs 1 to {MAX_PARTIES} parties, not {parties}");
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why).into());
        }
        let block = SharedBlock::new(BARRIER_FILE, 0, 1, |state: &BarrierState| {
            state.parties.store(parties as u32, Ordering::Relaxed);
        })?;
        Ok(Barrier {
            block: Arc::new(block),
        })
    }

    /// Waits until all the parties have called `wait`, and returns this caller's place of
    /// arrival (0 to `parties - 1`). Python: `barrier.wait()`.
    /// [`Error::BrokenBarrier`] if the barrier is or becomes broken meanwhile.
    pub fn wait(&self) -> Result<usize> {
        self.wait_until(None, None)
    }

    /// Like [`wait`](Self::wait), but at most `timeout`: then the barrier breaks, for
    /// every waiter, and this returns [`Error::BrokenBarrier`]. Python:
    /// `barrier.wait(timeout)`.
    ///
    /// If another process holds the barrier's inner lock a second past the deadline (one
    /// stopped, `SIGSTOP`, in the middle of a wait, a reset or an abort), this returns
    /// [`Error::Timeout`] instead, and breaks nothing, since breaking takes that lock; this
    /// caller's arrival may stay counted: [`reset`](Self::reset) the barrier. (Python's
    /// wait would wait for the lock as long as it takes.)
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = ipc::Barrier::new(2)?; // the other party never comes
    /// let alone = barrier.wait_timeout(Duration::from_millis(10));
    /// assert!(matches!(alone, Err(ipc::Error::BrokenBarrier)));
    /// assert!(barrier.broken());
    /// barrier.reset(); // usable again
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize> {
        let deadline = deadline_after(timeout);
        // `None` (no deadline) if the sum is past the end of time, as `deadline` is then.
        let locks_until = deadline.and_then(|_| deadline_after(timeout.checked_add(LOCK_GRACE)?));
        self.wait_until(deadline.as_ref(), locks_until.as_ref())
    }

    /// Waits until `deadline` for the round to end, taking the inner lock until
    /// `locks_until` (see [`LOCK_GRACE`]).
    fn wait_until(
        &self,
        deadline: Option<&Deadline>,
        locks_until: Option<&Deadline>,
    ) -> Result<usize> {
        let state = self.block.state();
        let Some(mut held) = self.hold_until(locks_until) else {
            return Err(Error::Timeout); // not arrived: the barrier is as it was
        };
        let round = Round::load(&state.round);
        if round.broken {
            return Err(Error::BrokenBarrier);
        }
        let place = round.arrived;
        if place + 1 == state.parties.load(Ordering::Relaxed) {
            // The last to arrive: wake the others, then start the next round (see `end`).
            self.end(round, false);
            return Ok(place as usize);
        }
        Round {
            arrived: place + 1,
            ..round
        }
        .store(&state.round);
        loop {
            let seen = state.wakes.load(Ordering::Relaxed);
            drop(held);
            let woken = futex::wait(&state.wakes, seen, deadline);
            let Some(again) = self.hold_until(locks_until) else {
                // Another process holds the lock past the deadline (one stopped in the
                // middle of a wait, a reset or an abort): what the round says without it,
                // or a timeout that breaks nothing (breaking takes the lock).
                return self.outcome(round, place).unwrap_or(Err(Error::Timeout));
            };
            held = again;
            if let Some(outcome) = self.outcome(round, place) {
                return outcome;
            }
            if woken == Woken::TimedOut {
                self.break_round(Round::load(&state.round));
                return Err(Error::BrokenBarrier);
            }
        }
    }

    /// How the wait of the party that arrived at `place` in `round` ended, if it has: the
    /// round is over (by its last arrival, or a reset), or broken.
    fn outcome(&self, round: Round, place: u32) -> Option<Result<usize>> {
        let now = Round::load(&self.block.state().round);
        if now.number != round.number {
            Some(if self.was_reset(round.number, now.number) {
                Err(Error::BrokenBarrier)
            } else {
                Ok(place as usize)
            })
        } else if now.broken {
            Some(Err(Error::BrokenBarrier))
        } else {
            None
        }
    }

    /// Ends `round` and starts the next one, under the lock. The waiters are woken first:
    /// they need the lock to look, so they see the new round (or, if this process dies
    /// before storing it, the old one, and sleep again).
    fn end(&self, round: Round, by_reset: bool) {
        let state = self.block.state();
        futex::add_and_wake(&state.wakes, u32::MAX);
        let bit = 1u64 << (round.number % 64);
        if by_reset {
            state.reset_rounds.fetch_or(bit, Ordering::Relaxed);
        } else {
            state.reset_rounds.fetch_and(!bit, Ordering::Relaxed);
        }
        round.next().store(&state.round);
    }

    /// Whether round `mine`, which ended before round `now`, ended by a reset. Known for
    /// the last 64 rounds; a waiter that slept through more (stopped for that long while
    /// the others went round and round) takes its round to have ended normally.
    fn was_reset(&self, mine: u32, now: u32) -> bool {
        let reset_rounds = self.block.state().reset_rounds.load(Ordering::Relaxed);
        now.wrapping_sub(mine) <= 64 && reset_rounds & (1 << (mine % 64)) != 0
    }

    /// Marks `round` broken and wakes its waiters, under the lock.
    fn break_round(&self, round: Round) {
        let state = self.block.state();
        futex::add_and_wake(&state.wakes, u32::MAX);
        Round {
            broken: true,
            ..round
        }
        .store(&state.round);
    }

    /// Breaks the barrier: every wait, now and until [`reset`](Self::reset), returns
    /// [`Error::BrokenBarrier`]. Python: `barrier.abort()`.
    pub fn abort(&self) {
        let _held = self.hold();
        self.break_round(Round::load(&self.block.state().round));
    }

    /// Makes the barrier new again: not broken, nobody waiting. Processes waiting now get
    /// [`Error::BrokenBarrier`]. Python: `barrier.reset()`.
    pub fn reset(&self) {
        let _held = self.hold();
        let round = Round::load(&self.block.state().round);
        if round.arrived > 0 || round.broken {
            self.end(round, true);
        }
    }

    /// How many parties it waits for. Python: `barrier.parties`.
    pub fn parties(&self) -> usize {
        self.block.state().parties.load(Ordering::Relaxed) as usize
    }

    /// How many are waiting now (0 while broken). Python: `barrier.n_waiting`.
    pub fn n_waiting(&self) -> usize {
        let round = Round::load(&self.block.state().round);
        if round.broken {
            0
        } else {
            round.arrived as usize
        }
    }

    /// Whether the barrier is broken. Python: `barrier.broken`.
    pub fn broken(&self) -> bool {
        Round::load(&self.block.state().round).broken
    }

    fn hold(&self) -> LockGuard<'_> {
        self.hold_until(None).expect("no deadline")
    }

    /// The inner lock, waiting until `deadline` at most.
    fn hold_until(&self, deadline: Option<&Deadline>) -> Option<LockGuard<'_>> {
        LockGuard::hold(self.block.mutex(), deadline)
    }
}

/// A `Barrier` can go to a process as it starts, in its arguments (see
/// [`Descriptor`](crate::Descriptor)) or its pool's initializer's, with the forkserver and
/// spawn methods: the new process maps the same memory, so its arrival counts for all.
/// That is how Python pickles a barrier for a new process; a message or a pool's task
/// cannot hold one, as in Python ("... should only be shared between processes through
/// inheritance").
impl Serialize for Barrier {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.block.as_ref().serialize(serializer)
    }
}

/// Checks what it receives before it maps it: a barrier's memory.
impl<'de> Deserialize<'de> for Barrier {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Barrier, D::Error> {
        let block = SharedBlock::deserialize(deserializer, "a Barrier", &[BARRIER_FILE])?;
        Ok(Barrier { block })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_packs_into_one_word_and_back() {
        let word = AtomicU64::new(0);
        for round in [
            Round {
                number: u32::MAX,
                arrived: MAX_PARTIES as u32,
                broken: true,
            },
            Round {
                number: 7,
                arrived: 3,
                broken: false,
            },
        ] {
            round.store(&word);
            assert_eq!(Round::load(&word), round);
        }
        assert_eq!(
            Round::load(&word).next(),
            Round {
                number: 8,
                arrived: 0,
                broken: false
            }
        );
    }
}
