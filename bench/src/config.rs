//! How much work one run does: the full run, or a short one with `--quick`; every topic,
//! or the groups `--only` names.
//!
//! Batches are sized so that one sample takes roughly 5 to 50 ms: long enough for the
//! clock, short enough that many samples fit in a run and their median is steady. The
//! exceptions are the slowest contenders (Python's spawned children, its big messages) and
//! the biggest messages with targets, whose samples take up to a few hundred ms.

use clap::ValueEnum;

use crate::throughput;

/// The groups of topics, named as `--only` takes them (and the Python script's `--groups`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Group {
    /// Start and join a child, with each start method.
    StartJoin,
    /// A 64-byte round trip.
    RoundTrip,
    /// Messages from 64 B to 64 MiB.
    Throughput,
    /// `Pool.map` over tiny tasks.
    PoolMap,
    /// `Pool.map` over a CPU-bound task, 1 to 8 workers, against a loop and rayon.
    Scaling,
    /// Slow pages through a pool.
    Pages,
    /// Locks, a shared `Value`, a shared atomic.
    SharedState,
}

impl Group {
    /// Every group, in the order a run measures them.
    pub const ALL: [Group; 7] = [
        Group::StartJoin,
        Group::RoundTrip,
        Group::Throughput,
        Group::PoolMap,
        Group::Scaling,
        Group::Pages,
        Group::SharedState,
    ];

    /// Its name on the command line: `start-join`, `round-trip`...
    pub fn name(self) -> String {
        let value = self.to_possible_value().expect("no group is skipped");
        value.get_name().to_string()
    }
}

/// The sizes of one run. The Python script gets the same numbers, so both sides measure
/// the same work.
#[derive(Debug)]
pub struct Config {
    /// Whether this is the short run.
    pub quick: bool,
    /// The groups of topics measured.
    pub groups: Vec<Group>,
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
    /// Bytes moved per throughput sample (at least one message), except at the sizes with
    /// targets (see [`Config::messages`])...
    pub sample_bytes: usize,
    /// ...in at most this many messages (which caps sizes under 32 KiB): a small message
    /// costs its system calls more than its bytes, and `sample_bytes` of 64-byte messages
    /// would take seconds.
    pub max_messages: usize,
    /// Tiny tasks per `Pool.map`.
    pub tasks: usize,
    /// Maps with default chunks per sample, taken in turns with the other contenders'
    /// (the median one counts): one map takes a millisecond or two, and where the
    /// scheduler puts three processes on the cores moves it by half or more.
    pub map_turns: usize,
    /// Workers of the `Pool.map` topics: one per core, like Python's `Pool()`. Also the
    /// processes that share the counter of the shared-state topics.
    pub processes: usize,
    /// Lock acquires and releases per sample (per process, when two contend).
    pub lock_ops: usize,
    /// Adds to a shared counter per sample, all processes together.
    pub increments: usize,
}

impl Config {
    /// The full run, or the short one, of `groups` (all of them if empty).
    pub fn new(quick: bool, groups: &[Group], processes: usize) -> Config {
        let groups = if groups.is_empty() {
            Group::ALL.to_vec()
        } else {
            Group::ALL
                .into_iter()
                .filter(|g| groups.contains(g))
                .collect()
        };
        let full = Config {
            quick,
            groups,
            rounds: 9,
            reps: 3,
            forks: 100,
            python_forks: 20,
            python_spawns: 3,
            spawns: 20,
            round_trips: 2000,
            sample_bytes: 64 << 20,
            max_messages: 2000,
            tasks: 100_000,
            map_turns: 5,
            processes,
            lock_ops: 200_000,
            increments: 1_000_000,
        };
        if quick {
            // Fewer rounds, and smaller samples where no target is close: the forkserver
            // and spawn children, whose targets hold by far, and the sizes without targets.
            // The topics whose targets sit within a few percent of the measure (start +
            // join, the round trip, the sizes with targets) keep the full run's samples:
            // with half the children or round trips a sample, their medians moved enough to
            // miss a target that a full run held.
            Config {
                rounds: 3,
                python_forks: 10,
                python_spawns: 2,
                spawns: 10,
                sample_bytes: 32 << 20,
                max_messages: 1000,
                ..full
            }
        } else {
            full
        }
    }

    /// Whether the run measures `group`.
    pub fn measures(&self, group: Group) -> bool {
        self.groups.contains(&group)
    }

    /// Messages of `size` bytes per throughput sample: `sample_bytes` of them, or
    /// [`TARGETED_SAMPLE_BYTES`] at the sizes with targets (in a full run and a quick one
    /// alike), but at least one and at most `max_messages`: the sizes with targets are big
    /// enough that the cap leaves them whole, which the tests check.
    pub fn messages(&self, size: usize) -> usize {
        let bytes = if throughput::TARGETED.contains(&size) {
            self.sample_bytes.max(TARGETED_SAMPLE_BYTES)
        } else {
            self.sample_bytes
        };
        (bytes / size).clamp(1, self.max_messages)
    }
}

/// Bytes a throughput sample moves at a size with a target: 256 messages of 1 MiB, 4 of
/// 64 MiB. With 32 MiB a sample (32 messages of 1 MiB, about 5 ms), quick runs put the
/// owned 1 MiB rows anywhere from 0.76x to 0.92x of raw; in two quick runs each way
/// (2026-12-01), the spread of raw's 1 MiB samples (standard deviation over mean) was 1.9%
/// and 4.3% with 32 MiB, 0.7% and 1.7% with 256 MiB. At 64 MiB it stayed near 3% either
/// way. The bigger samples of the two sizes cost about 2 seconds a round.
pub const TARGETED_SAMPLE_BYTES: usize = 256 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quick_run_keeps_the_full_samples_of_the_thin_targets() {
        let (full, quick) = (Config::new(false, &[], 2), Config::new(true, &[], 2));
        assert!(quick.rounds < full.rounds);
        assert_eq!(
            (quick.forks, quick.round_trips),
            (full.forks, full.round_trips)
        );
        assert!(quick.messages(4 << 20) < full.messages(4 << 20));
        for size in throughput::TARGETED {
            assert_eq!(quick.messages(size), full.messages(size));
            assert!(quick.messages(size) * size >= TARGETED_SAMPLE_BYTES);
        }
    }
}
