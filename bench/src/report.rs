//! The results of a run: one [`Row`] per contender, with its median, its ratio to its
//! topic's reference and its target; printed as a table (see `table`) and as JSON lines,
//! from which the charts are drawn.
//!
//! Each topic's first row is its reference: the ratio is every row's median time over the
//! reference's, and each target compares a row with the reference.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::harness::{Result, Samples, median};
use crate::machine::Run;
use crate::{pages, pool_map, python, round_trip, scaling, shared_state, start_join, throughput};

/// What a row must achieve against its topic's reference.
#[derive(Clone, Copy, Debug)]
enum Goal {
    /// Median time at most this many times the reference's.
    TimeAtMost(f64),
    /// Speed (reference time over this row's time) at least this many times the reference's.
    SpeedAtLeast(f64),
}

impl Goal {
    /// The measured value the goal is about, and whether it holds.
    fn check(self, time_ratio: f64) -> (f64, bool) {
        match self {
            Goal::TimeAtMost(limit) => (time_ratio, time_ratio <= limit),
            Goal::SpeedAtLeast(limit) => (1.0 / time_ratio, 1.0 / time_ratio >= limit),
        }
    }

    fn describe(self) -> String {
        match self {
            Goal::TimeAtMost(limit) => format!("time <= {limit}x ref"),
            Goal::SpeedAtLeast(limit) => format!("speed >= {limit}x ref"),
        }
    }
}

/// One contender of a topic: measured, or a fixed value such as an ideal time.
struct Entry {
    contender: &'static str,
    fixed: Option<f64>,
    goal: Option<Goal>,
}

fn row(contender: &'static str) -> Entry {
    Entry {
        contender,
        fixed: None,
        goal: None,
    }
}

fn target(contender: &'static str, goal: Goal) -> Entry {
    Entry {
        goal: Some(goal),
        ..row(contender)
    }
}

/// A topic of the table: its first entry is the reference of the others.
struct Topic {
    key: &'static str,
    title: String,
    /// Bytes per operation, for a rate column.
    bytes: Option<usize>,
    rows: Vec<Entry>,
}

/// The topics and rows of the table, in order, with the issue's targets.
fn layout(config: &Config) -> Vec<Topic> {
    let mut topics = vec![
        Topic {
            key: start_join::TOPIC,
            title: "start + join, per child".into(),
            bytes: None,
            rows: vec![
                row(start_join::RAW),
                target(start_join::IPC, Goal::TimeAtMost(1.25)),
                row(python::FORK),
            ],
        },
        Topic {
            key: start_join::FORKSERVER_TOPIC,
            title: "start + join with the forkserver method, per child".into(),
            bytes: None,
            rows: vec![
                row(python::FORKSERVER),
                target(start_join::IPC_FORKSERVER, Goal::SpeedAtLeast(5.0)),
            ],
        },
        Topic {
            key: start_join::SPAWN_TOPIC,
            title: "start + join with the spawn method, per child".into(),
            bytes: None,
            rows: vec![
                row(python::SPAWN),
                target(start_join::IPC_SPAWN, Goal::SpeedAtLeast(5.0)),
            ],
        },
        Topic {
            key: round_trip::TOPIC,
            title: "64-byte round trip".into(),
            bytes: None,
            rows: vec![
                row(round_trip::RAW),
                target(round_trip::IPC, Goal::TimeAtMost(1.3)),
                target(round_trip::IPC_APPLY, Goal::TimeAtMost(2.0)),
                row(python::CONNECTION),
                row(python::APPLY),
            ],
        },
    ];
    for (key, size) in throughput::SIZES {
        let goal = throughput::TARGETED
            .contains(&size)
            .then_some(Goal::SpeedAtLeast(0.8));
        let entry = |contender| Entry {
            goal,
            ..row(contender)
        };
        topics.push(Topic {
            key,
            title: format!("{} messages", size_name(size)),
            bytes: Some(size),
            rows: vec![
                row(throughput::RAW),
                entry(throughput::IPC_BYTES),
                entry(throughput::IPC_TYPED),
                entry(throughput::IPC_STRUCT),
                entry(throughput::IPC_BORROWED),
                row(python::CONNECTION),
            ],
        });
    }
    let tasks = config.tasks;
    let workers = config.processes;
    topics.extend([
        Topic {
            key: pool_map::DEFAULT_CHUNKS,
            title: format!("Pool({workers}).map, {tasks} tiny tasks, default chunks"),
            bytes: None,
            rows: vec![
                row(python::POOL_MAP),
                target(pool_map::IPC, Goal::SpeedAtLeast(8.0)),
                target(pool_map::IPC_WARM, Goal::SpeedAtLeast(10.0)),
                row(pool_map::SEQUENTIAL),
            ],
        },
        Topic {
            key: pool_map::CHUNK_1,
            title: format!("Pool({workers}).map, {tasks} tiny tasks, chunksize 1"),
            bytes: None,
            rows: vec![
                row(python::POOL_MAP),
                target(pool_map::IPC, Goal::SpeedAtLeast(5.0)),
            ],
        },
        Topic {
            key: scaling::TOPIC,
            title: format!(
                "CPU-bound map, {} tasks, on {workers} cores",
                scaling::TASKS
            ),
            bytes: None,
            rows: std::iter::once(row(scaling::LOOP))
                .chain(scaling::IPC.into_iter().map(row))
                .chain(scaling::RAYON.into_iter().map(row))
                .collect(),
        },
        Topic {
            key: pages::TOPIC,
            title: "32 pages answered after 50 ms, pool of 8".into(),
            bytes: None,
            rows: vec![
                Entry {
                    fixed: Some(pages::IDEAL_SECONDS),
                    ..row("ideal: 4 x 50 ms")
                },
                target(pages::IPC, Goal::TimeAtMost(1.2)),
            ],
        },
    ]);
    let (lock_ops, increments) = (config.lock_ops, config.increments);
    let ten_times_python = |contender| target(contender, Goal::SpeedAtLeast(10.0));
    topics.extend([
        Topic {
            key: shared_state::UNCONTENDED,
            title: format!("Lock acquire + release, uncontended ({lock_ops} per sample)"),
            bytes: None,
            rows: vec![
                row(python::LOCK_WITH),
                ten_times_python(shared_state::IPC_LOCK),
                row(python::LOCK_CALLS),
                row(shared_state::STD_MUTEX),
            ],
        },
        Topic {
            key: shared_state::CONTENDED,
            title: format!(
                "Lock acquire + release, {} processes contending ({lock_ops} each)",
                shared_state::CONTENDERS
            ),
            bytes: None,
            rows: vec![
                row(python::LOCK_WITH),
                ten_times_python(shared_state::IPC_LOCK),
                row(python::LOCK_CALLS),
            ],
        },
        Topic {
            key: shared_state::VALUE_LOCKED,
            title: format!(
                "{increments} adds to a shared Value under its lock, {workers} processes"
            ),
            bytes: None,
            rows: vec![
                row(python::VALUE),
                ten_times_python(shared_state::IPC_VALUE),
            ],
        },
        Topic {
            key: shared_state::VALUE_ATOMIC,
            title: format!("{increments} adds to a shared atomic, {workers} processes"),
            bytes: None,
            rows: vec![
                row(python::VALUE),
                ten_times_python(shared_state::IPC_ATOMIC),
            ],
        },
    ]);
    topics
}

/// One row of the results: a contender of a topic. The table prints it; a JSON line holds
/// it (`null` where the table shows nothing).
#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    pub topic: String,
    pub contender: String,
    pub median_seconds: Option<f64>,
    pub samples_seconds: Vec<f64>,
    /// Bytes per operation, where the topic moves bytes.
    pub bytes: Option<usize>,
    pub bytes_per_second: Option<f64>,
    /// This row's median time over the topic's first row's.
    pub time_vs_ref: Option<f64>,
    pub target: Option<String>,
    /// What the target is about: `time_vs_ref` for a time target, its inverse (the speed
    /// against the reference) for a speed target.
    pub measured: Option<f64>,
    pub holds: Option<bool>,
}

/// The rows of one topic, with its title.
pub struct TopicRows {
    pub key: &'static str,
    pub title: String,
    pub rows: Vec<Row>,
}

/// A run's results: what ran where, and its rows by topic.
pub struct Results {
    pub run: Run,
    pub topics: Vec<TopicRows>,
}

impl Results {
    /// The medians, ratios and verdicts of `samples`; a topic the run did not measure is
    /// left out.
    pub fn new(samples: &Samples, config: &Config, run: Run) -> Results {
        let topics = layout(config)
            .into_iter()
            .map(|topic| measure(samples, topic))
            .filter(|topic| topic.rows.iter().any(|row| !row.samples_seconds.is_empty()))
            .collect();
        Results { run, topics }
    }

    /// Every row with a target, with its topic.
    pub fn targeted(&self) -> impl Iterator<Item = (&TopicRows, &Row)> {
        let rows = self
            .topics
            .iter()
            .flat_map(|topic| topic.rows.iter().map(move |row| (topic, row)));
        rows.filter(|(_, row)| row.target.is_some())
    }

    /// An error unless every target holds: one that was missed, or could not be judged
    /// (its reference, Python's, did not run), fails a check.
    pub fn check(&self) -> Result {
        let total = self.targeted().count();
        let failed = self.targeted().filter(|(_, row)| row.holds != Some(true));
        match failed.count() {
            0 => Ok(()),
            n => Err(format!("{n} of {total} targets do not hold (see the table)").into()),
        }
    }

    /// The JSON lines: the run first, then one line per row.
    pub fn json_lines(&self) -> String {
        let mut lines = serde_json::to_string(&RunLine { run: &self.run }).expect("plain data");
        for row in self.topics.iter().flat_map(|topic| &topic.rows) {
            lines.push('\n');
            lines.push_str(&serde_json::to_string(row).expect("plain data"));
        }
        lines.push('\n');
        lines
    }
}

/// The first JSON line: `{"run": {...}}`.
#[derive(Serialize)]
struct RunLine<'a> {
    run: &'a Run,
}

/// Reads the JSON lines [`Results::json_lines`] wrote: the run, and every row.
pub fn read_json_lines(text: &str) -> serde_json::Result<(Run, Vec<Row>)> {
    #[derive(Deserialize)]
    struct RunLine {
        run: Run,
    }
    let mut lines = text.lines();
    let RunLine { run } = serde_json::from_str(lines.next().unwrap_or_default())?;
    let rows = lines
        .map(serde_json::from_str)
        .collect::<serde_json::Result<_>>()?;
    Ok((run, rows))
}

/// The rows of one topic, from its samples.
fn measure(samples: &Samples, topic: Topic) -> TopicRows {
    let median_of = |entry: &Entry| {
        entry
            .fixed
            .or_else(|| median(samples.of(topic.key, entry.contender)))
    };
    let reference = median_of(&topic.rows[0]);
    let rows = topic
        .rows
        .iter()
        .map(|entry| {
            let seconds = median_of(entry);
            let ratio = seconds.zip(reference).map(|(s, r)| s / r);
            let verdict = entry.goal.zip(ratio).map(|(goal, r)| goal.check(r));
            Row {
                topic: topic.key.to_string(),
                contender: entry.contender.to_string(),
                median_seconds: seconds,
                samples_seconds: samples.of(topic.key, entry.contender).to_vec(),
                bytes: topic.bytes,
                bytes_per_second: seconds.zip(topic.bytes).map(|(s, b)| b as f64 / s),
                time_vs_ref: ratio,
                target: entry.goal.map(Goal::describe),
                measured: verdict.map(|(value, _)| value),
                holds: verdict.map(|(_, holds)| holds),
            }
        })
        .collect();
    TopicRows {
        key: topic.key,
        title: topic.title,
        rows,
    }
}

/// A message size in the unit that suits it: `64 B`, `16 KiB`, `64 MiB`.
pub fn size_name(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// Results with a sample for every row of the full layout, for the tests of the table and
/// the charts: each topic's rows take 1, 2, 3... ms, except that the second row of a topic
/// with a target takes a thousandth of the reference's time (as an atomic add does
/// against Python's locked `Value`).
#[cfg(test)]
pub fn example() -> Results {
    let config = Config::new(false, &[], 2);
    let mut samples = Samples::default();
    for topic in layout(&config) {
        for (i, entry) in topic.rows.iter().enumerate() {
            let ms = if i == 1 && entry.goal.is_some() {
                0.001
            } else {
                (i + 1) as f64
            };
            samples.add(topic.key, entry.contender, ms / 1000.0);
        }
    }
    let run = Run {
        kind: "full".into(),
        rounds: 9,
        date: "2026-11-29".into(),
        cores: 2,
        cpu: "AMD EPYC".into(),
        virtual_machine: true,
        memory_gib: 24,
        kernel: "6.18.44".into(),
        python: Some("Python 3.11.7".into()),
    };
    Results::new(&samples, &config, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_fails_on_a_missed_target_or_one_not_judged() {
        let mut results = example();
        let missed = results.check().unwrap_err().to_string();
        assert!(
            missed.ends_with("of 21 targets do not hold (see the table)"),
            "{missed}"
        );
        fn targeted(results: &mut Results) -> impl Iterator<Item = &mut Row> {
            let rows = results.topics.iter_mut().flat_map(|topic| &mut topic.rows);
            rows.filter(|row| row.target.is_some())
        }
        for row in targeted(&mut results) {
            row.holds = Some(true);
        }
        assert!(results.check().is_ok());
        targeted(&mut results).next().expect("a target").holds = None;
        let not_judged = results.check().unwrap_err().to_string();
        assert!(not_judged.starts_with("1 of 21 "), "{not_judged}");
    }

    #[test]
    fn typed_messages_and_pools_have_the_issues_targets() {
        let results = example();
        let target = |topic: &str, contender: &str| {
            let topic = results.topics.iter().find(|t| t.key == topic).unwrap();
            let row = topic
                .rows
                .iter()
                .find(|r| r.contender == contender)
                .unwrap();
            row.target.clone()
        };
        for topic in ["throughput_1MiB", "throughput_64MiB"] {
            for contender in [
                throughput::IPC_TYPED,
                throughput::IPC_STRUCT,
                throughput::IPC_BORROWED,
            ] {
                assert_eq!(
                    target(topic, contender).as_deref(),
                    Some("speed >= 0.8x ref")
                );
            }
        }
        assert_eq!(target("throughput_4MiB", throughput::IPC_TYPED), None);
        assert_eq!(
            target(pool_map::CHUNK_1, pool_map::IPC).as_deref(),
            Some("speed >= 5x ref")
        );
        assert_eq!(
            target(pool_map::DEFAULT_CHUNKS, pool_map::IPC).as_deref(),
            Some("speed >= 8x ref")
        );
    }

    #[test]
    fn json_lines_read_back_as_written() {
        let results = example();
        let (run, rows) = read_json_lines(&results.json_lines()).unwrap();
        assert_eq!(run.cores, 2);
        let written: Vec<&Row> = results.topics.iter().flat_map(|t| &t.rows).collect();
        assert_eq!(rows.len(), written.len());
        let sweep_64 = rows
            .iter()
            .find(|r| r.topic == "throughput_64MiB" && r.contender == throughput::RAW)
            .unwrap();
        assert_eq!(sweep_64.bytes, Some(64 << 20));
        assert_eq!(sweep_64.median_seconds, Some(0.001));
    }

    #[test]
    fn sizes_are_named_in_their_unit() {
        assert_eq!(size_name(64), "64 B");
        assert_eq!(size_name(16 << 10), "16 KiB");
        assert_eq!(size_name(64 << 20), "64 MiB");
    }

    #[test]
    fn goals_compare_time_or_speed() {
        assert_eq!(Goal::TimeAtMost(1.25).check(1.1), (1.1, true));
        assert_eq!(Goal::SpeedAtLeast(5.0).check(0.1), (10.0, true));
        assert_eq!(Goal::SpeedAtLeast(0.8).check(2.0), (0.5, false));
    }
}
