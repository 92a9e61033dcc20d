//! The table of medians, ratios and targets, then one JSON line per row for scripts.
//!
//! Each topic's first row is its reference: the ratio column is every row's median time
//! over the reference's, and each target compares a row with the reference.

use serde::Serialize;

use crate::config::Config;
use crate::harness::{Samples, median};
use crate::{pages, pool_map, python, round_trip, shared_state, start_join, throughput};

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

/// One contender's row: measured, or a fixed value such as an ideal time.
struct Row {
    contender: &'static str,
    fixed: Option<f64>,
    goal: Option<Goal>,
}

fn row(contender: &'static str) -> Row {
    Row {
        contender,
        fixed: None,
        goal: None,
    }
}

fn target(contender: &'static str, goal: Goal) -> Row {
    Row {
        goal: Some(goal),
        ..row(contender)
    }
}

struct Topic {
    key: &'static str,
    title: String,
    /// Bytes per operation, for a rate column.
    bytes: Option<usize>,
    rows: Vec<Row>,
}

/// The topics and rows of the table, in order, with the targets.
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
        topics.push(Topic {
            key,
            title: format!("{} MiB messages, per message", size >> 20),
            bytes: Some(size),
            rows: vec![
                row(throughput::RAW),
                target(throughput::IPC_BYTES, Goal::SpeedAtLeast(0.8)),
                row(throughput::IPC_TYPED),
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
                target(pool_map::IPC, Goal::SpeedAtLeast(5.0)),
                target(pool_map::IPC_WARM, Goal::SpeedAtLeast(10.0)),
                row(pool_map::SEQUENTIAL),
            ],
        },
        Topic {
            key: pool_map::CHUNK_1,
            title: format!("Pool({workers}).map, {tasks} tiny tasks, chunksize 1"),
            bytes: None,
            rows: vec![row(python::POOL_MAP), row(pool_map::IPC)],
        },
        Topic {
            key: pages::TOPIC,
            title: "32 pages answered after 50 ms, pool of 8".into(),
            bytes: None,
            rows: vec![
                Row {
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

/// Prints the table, then the JSON lines.
pub fn print(samples: &Samples, config: &Config) {
    let mut json_lines = Vec::new();
    println!(
        "{:<34} {:>10} {:>11} {:>9}  {:<19} holds",
        "topic / contender", "median", "rate", "time/ref", "target"
    );
    for topic in layout(config) {
        println!("{}", topic.title);
        let median_of = |row: &Row| {
            row.fixed
                .or_else(|| median(samples.of(topic.key, row.contender)))
        };
        let reference = median_of(&topic.rows[0]);
        for (i, row) in topic.rows.iter().enumerate() {
            let seconds = median_of(row);
            let ratio = seconds.zip(reference).map(|(s, r)| s / r);
            let rate = seconds.zip(topic.bytes).map(|(s, b)| b as f64 / s);
            let verdict = row.goal.map(|goal| ratio.map(|r| goal.check(r)));
            let target = match (i, row.goal) {
                (0, _) => "(ref)".to_string(),
                (_, Some(goal)) => goal.describe(),
                (_, None) => String::new(),
            };
            let holds = match verdict {
                None => String::new(),
                Some(None) => "n/a (not measured)".to_string(),
                Some(Some((value, true))) => format!("yes ({value:.2}x)"),
                Some(Some((value, false))) => format!("NO ({value:.2}x)"),
            };
            println!(
                "  {:<32} {:>10} {:>11} {:>9}  {:<19} {holds}",
                row.contender,
                seconds.map_or("-".into(), duration),
                rate.map_or(String::new(), gib_per_second),
                ratio.map_or("-".into(), |r| format!("{r:.2}")),
                target,
            );
            json_lines.push(JsonLine {
                topic: topic.key,
                contender: row.contender,
                median_seconds: seconds,
                samples_seconds: samples.of(topic.key, row.contender),
                bytes_per_second: rate,
                time_vs_ref: ratio,
                target: row.goal.map(Goal::describe),
                holds: verdict.flatten().map(|(_, holds)| holds),
            });
        }
    }
    println!();
    for line in json_lines {
        println!("{}", serde_json::to_string(&line).expect("plain data"));
    }
}

/// One row for scripts; `null` where the table shows nothing.
#[derive(Serialize)]
struct JsonLine<'a> {
    topic: &'a str,
    contender: &'a str,
    median_seconds: Option<f64>,
    samples_seconds: &'a [f64],
    bytes_per_second: Option<f64>,
    /// This row's median time over the topic's first row's.
    time_vs_ref: Option<f64>,
    target: Option<String>,
    holds: Option<bool>,
}

/// A rate in GiB/s, two decimals.
fn gib_per_second(bytes_per_second: f64) -> String {
    format!("{:.2} GiB/s", bytes_per_second / f64::from(1 << 30))
}

/// A duration with three significant digits and a unit that suits it.
fn duration(seconds: f64) -> String {
    let (value, unit) = match seconds {
        s if s < 1e-6 => (s * 1e9, "ns"),
        s if s < 1e-3 => (s * 1e6, "µs"),
        s if s < 1.0 => (s * 1e3, "ms"),
        s => (s, "s"),
    };
    let decimals = match value {
        v if v < 10.0 => 2,
        v if v < 100.0 => 1,
        _ => 0,
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_get_a_fitting_unit() {
        assert_eq!(duration(0.000_061_23), "61.2 µs");
        assert_eq!(duration(0.2051), "205 ms");
        assert_eq!(duration(2.5), "2.50 s");
        assert_eq!(duration(5e-8), "50.0 ns");
    }

    #[test]
    fn goals_compare_time_or_speed() {
        assert_eq!(Goal::TimeAtMost(1.25).check(1.1), (1.1, true));
        assert_eq!(Goal::SpeedAtLeast(5.0).check(0.1), (10.0, true));
        assert_eq!(Goal::SpeedAtLeast(0.8).check(2.0), (0.5, false));
    }
}
