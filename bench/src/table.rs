//! The table of a run, as the terminal shows it and the book includes it: the run and the
//! machine, a row per contender with its target, the message sizes and the worker counts
//! as grids, and the targets missed. Lines stay within 100 characters, the width of a
//! listing in the book.

use std::fmt::Write;

use crate::report::{Results, Row, TopicRows, size_name};
use crate::{python, scaling, throughput};

/// The table's file in a `--record` directory, which the Performance page includes.
pub const FILE: &str = "run.txt";

/// The columns of the message-size grid: a contender, and its header.
const SWEEP_COLUMNS: [(&str, &str); 6] = [
    (throughput::RAW, "raw"),
    (throughput::IPC_BYTES, "ipc bytes"),
    (throughput::IPC_TYPED, "ipc ByteBuf"),
    (throughput::IPC_STRUCT, "ipc struct"),
    (throughput::IPC_BORROWED, "ipc borrowed"),
    (python::CONNECTION, "python"),
];

/// The whole table.
pub fn render(results: &Results) -> String {
    let mut out = format!("{}\n\n", results.run.describe());
    let _ = writeln!(
        out,
        "{:<35} {:>9} {:>10} {:>8}  {:<17} holds",
        "topic / contender", "median", "rate", "time/ref", "target"
    );
    let is_size = |topic: &TopicRows| throughput::SIZES.iter().any(|(key, _)| *key == topic.key);
    let sizes: Vec<&TopicRows> = results.topics.iter().filter(|t| is_size(t)).collect();
    for topic in &results.topics {
        if is_size(topic) {
            if topic.key == sizes[0].key {
                sweep(&mut out, &sizes);
            }
        } else if topic.key == scaling::TOPIC {
            workers(&mut out, topic);
        } else {
            rows(&mut out, topic);
        }
    }
    targets(&mut out, results);
    // Padding that ended up at the end of a line.
    out.lines()
        .map(|line| line.trim_end().to_string() + "\n")
        .collect()
}

/// A topic as a title and a line per contender.
fn rows(out: &mut String, topic: &TopicRows) {
    let _ = writeln!(out, "{}", topic.title);
    for (i, row) in topic.rows.iter().enumerate() {
        let target = match (i, &row.target) {
            (0, _) => "(ref)",
            (_, Some(target)) => target,
            (_, None) => "",
        };
        let _ = writeln!(
            out,
            "  {:<33} {:>9} {:>10} {:>8}  {:<17} {}",
            row.contender,
            row.median_seconds.map_or("-".into(), duration),
            row.bytes_per_second
                .map_or(String::new(), |rate| format!("{} GiB/s", gib(rate))),
            row.time_vs_ref.map_or("-".into(), |r| format!("{r:.2}")),
            target,
            verdict(row),
        );
    }
}

/// The message sizes as a grid: a line per size, a column per contender, each cell the
/// rate and the speed against raw.
fn sweep(out: &mut String, sizes: &[&TopicRows]) {
    let _ = writeln!(
        out,
        "messages from a child to its parent, by size: GiB/s (speed against raw)"
    );
    let _ = write!(out, "  {:<8}", "size");
    for (_, header) in SWEEP_COLUMNS {
        let _ = write!(out, " {header:<14}");
    }
    out.push('\n');
    for topic in sizes {
        let size = topic.rows[0].bytes.map_or("?".into(), size_name);
        let _ = write!(out, "  {size:<8}");
        for (contender, _) in SWEEP_COLUMNS {
            let cell = find(topic, contender).map_or("-".into(), |row| {
                cell(row.bytes_per_second.map(gib), row.time_vs_ref)
            });
            let _ = write!(out, " {cell:<14}");
        }
        out.push('\n');
    }
}

/// The scaling topic as a grid: a line per way (pool, rayon), a column per number of
/// workers, each cell the wall time and the speed-up over the plain loop.
fn workers(out: &mut String, topic: &TopicRows) {
    let _ = writeln!(out, "{}: wall time (speed-up over the loop)", topic.title);
    let plain = find(topic, scaling::LOOP).and_then(|row| row.median_seconds);
    let _ = writeln!(
        out,
        "  {:<20} {}",
        "plain loop",
        plain.map_or("-".into(), duration)
    );
    let _ = write!(out, "  {:<20}", "workers / threads");
    for n in scaling::WORKERS {
        let _ = write!(out, " {n:<16}");
    }
    out.push('\n');
    for (way, contenders) in [
        ("ipc Pool(n).map", scaling::IPC),
        ("rayon, n threads", scaling::RAYON),
    ] {
        let _ = write!(out, "  {way:<20}");
        for contender in contenders {
            let cell = find(topic, contender).map_or("-".into(), |row| {
                cell(row.median_seconds.map(duration), row.time_vs_ref)
            });
            let _ = write!(out, " {cell:<16}");
        }
        out.push('\n');
    }
}

/// How many targets hold, and each that does not.
fn targets(out: &mut String, results: &Results) {
    let with_targets: Vec<(&TopicRows, &Row)> = results.targeted().collect();
    let held = with_targets
        .iter()
        .filter(|(_, row)| row.holds == Some(true))
        .count();
    let _ = writeln!(out, "\ntargets: {held} of {} hold", with_targets.len());
    for (topic, row) in with_targets {
        if row.holds != Some(true) {
            let what = if row.holds.is_none() {
                "not measured"
            } else {
                "missed"
            };
            let _ = writeln!(out, "  {what}: {}", topic.title);
            let _ = writeln!(
                out,
                "    {}: {}; {}",
                row.contender,
                row.target.as_deref().unwrap_or_default(),
                verdict(row)
            );
        }
    }
}

fn find<'a>(topic: &'a TopicRows, contender: &str) -> Option<&'a Row> {
    topic.rows.iter().find(|row| row.contender == contender)
}

/// A grid's cell: a value and the speed against the reference, `1.23 (0.80x)`.
fn cell(value: Option<String>, time_vs_ref: Option<f64>) -> String {
    match (value, time_vs_ref) {
        (Some(value), Some(ratio)) => format!("{value} ({:.2}x)", 1.0 / ratio),
        (Some(value), None) => value,
        (None, _) => "-".into(),
    }
}

/// Whether a row's target holds, with the value it is about: `yes (1.20x)`, `yes (1061x)`.
fn verdict(row: &Row) -> String {
    let value = |v: f64| {
        if v < 100.0 {
            format!("{v:.2}x")
        } else {
            format!("{v:.0}x")
        }
    };
    match (row.holds, row.measured) {
        (Some(true), Some(v)) => format!("yes ({})", value(v)),
        (Some(false), Some(v)) => format!("NO ({})", value(v)),
        _ if row.target.is_some() => "n/a (not measured)".into(),
        _ => String::new(),
    }
}

/// A rate in GiB/s, three significant digits.
fn gib(bytes_per_second: f64) -> String {
    let value = bytes_per_second / f64::from(1 << 30);
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        v if v >= 1.0 => 2,
        v if v >= 0.1 => 3,
        _ => 4,
    };
    format!("{value:.decimals$}")
}

/// A duration with three significant digits and a unit that suits it.
pub fn duration(seconds: f64) -> String {
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
    use crate::report::example;

    #[test]
    fn every_line_fits_a_listing_of_the_book() {
        let table = render(&example());
        for line in table.lines() {
            assert!(
                line.chars().count() <= 100,
                "{} chars: {line}",
                line.chars().count()
            );
            assert_eq!(line, line.trim_end());
        }
    }

    #[test]
    fn sizes_and_workers_are_grids_and_missed_targets_are_listed() {
        let table = render(&example());
        let line = |start: &str| {
            let found = table.lines().find(|l| l.trim_start().starts_with(start));
            found.unwrap_or_else(|| panic!("no line {start:?} in\n{table}"))
        };
        // The rows of a size take 1, 2, 3... ms: 64 B in
        // 1 ms is 0.0000596 GiB/s.
        assert!(line("64 B").contains("0.0001 (1.00x)"), "{}", line("64 B"));
        assert!(line("size").contains("ipc ByteBuf"));
        assert!(line("ipc Pool(n).map").contains("2.00 ms (0.50x)"));
        assert!(line("workers / threads").contains('8'));
        // A typed 1 MiB message takes 3 ms against raw's 1 ms: a third of the speed.
        assert!(table.contains(
            "  missed: 1 MiB messages\n    ipc send/recv ByteBuf: speed >= 0.8x ref; NO (0.33x)\n"
        ));
        assert!(!table.contains("throughput_"), "sizes are named, not keyed");
    }

    #[test]
    fn durations_get_a_fitting_unit() {
        assert_eq!(duration(0.000_061_23), "61.2 µs");
        assert_eq!(duration(0.2051), "205 ms");
        assert_eq!(duration(2.5), "2.50 s");
        assert_eq!(duration(5e-8), "50.0 ns");
    }

    #[test]
    fn rates_keep_three_digits() {
        let gib_s = f64::from(1 << 30);
        assert_eq!(gib(4.861 * gib_s), "4.86");
        assert_eq!(gib(0.01234 * gib_s), "0.0123");
        assert_eq!(gib(0.4791 * gib_s), "0.479");
    }
}
