//! How much work one run does: the full run, or a short one with `--quick`.
//!
//! Batches are sized so that one sample takes roughly 5 to 50 ms: long enough for the
//! clock, short enough that many samples fit in a run and their median is steady.

/// The sizes of one run. The Python script gets the same numbers, so both sides measure
/// the same work.
#[derive(Debug)]
pub struct Config {
    /// Rounds; every contender (Python included) runs in each.
    pub rounds: usize,
    /// Samples of each contender per round, taken in turns (the slow Pool topics take one).
    pub reps: usize,
    /// Children started and joined per start+join sample (the median one counts), in Rust...
    pub forks: usize,
    /// ...with Python's `fork` start method...
    pub python_forks: usize,
    /// ...and with `spawn`, which starts a new interpreter each time, or `forkserver`.
    pub python_spawns: usize,
    /// Children per sample with ipc's forkserver and spawn methods.
    pub spawns: usize,
    /// 64-byte round trips per sample.
    pub round_trips: usize,
    /// Bytes moved per throughput sample (at least one message).
    pub sample_bytes: usize,
    /// Tiny tasks per `Pool.map`.
    pub tasks: usize,
    /// Workers of the `Pool.map` topics: one per core, like Python's `Pool()`. Also the
    /// processes that share the counter of the shared-state topics.
    pub processes: usize,
    /// Lock acquires and releases per sample (per process, when two contend).
    pub lock_ops: usize,
    /// Adds to a shared counter per sample, all processes together.
    pub increments: usize,
}

impl Config {
    /// The full run, or the short one.
    pub fn new(quick: bool, processes: usize) -> Config {
        let full = Config {
            rounds: 9,
            reps: 3,
            forks: 100,
            python_forks: 20,
            python_spawns: 3,
            spawns: 20,
            round_trips: 2000,
            sample_bytes: 64 << 20,
            tasks: 100_000,
            processes,
            lock_ops: 200_000,
            increments: 1_000_000,
        };
        if quick {
            Config {
                rounds: 3,
                forks: 50,
                python_forks: 10,
                python_spawns: 2,
                spawns: 10,
                round_trips: 1000,
                sample_bytes: 32 << 20,
                ..full
            }
        } else {
            full
        }
    }

    /// Messages of `size` bytes per throughput sample.
    pub fn messages(&self, size: usize) -> usize {
        (self.sample_bytes / size).max(1)
    }
}
