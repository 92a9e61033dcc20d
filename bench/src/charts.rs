//! The charts of the Performance page, drawn with plotters from a run's JSON lines: the
//! message-size sweep, start + join by start method, and `Pool.map` by number of workers.
//!
//! The SVG backend writes text as SVG `<text>` elements, which the browser sets in its own
//! fonts: no font file, no system library, nothing rasterised. Sizes suit the book: 800 px
//! wide, and no text under 16 px, which stays above 9 px on a phone (the book shows
//! diagrams 640 px wide there, and `book/check.sh` measures it).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordi32;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::harness::Result;
use crate::machine::Run;
use crate::report::{Row, read_json_lines, size_name};
use crate::table::duration;
use crate::{python, scaling, start_join, throughput};

/// The file of a run's JSON lines in a `--record` directory.
pub const JSON_LINES: &str = "run.jsonl";

const SIZE: (u32, u32) = (800, 480);
const FONT: &str = "sans-serif";
/// Plotters writes `font-size` as this over 1.24: 16 px here.
const TEXT: u32 = 20;
const TITLE: u32 = 26;

const GREY: RGBColor = RGBColor(90, 90, 90);
const BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(213, 94, 0);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const SKY: RGBColor = RGBColor(86, 180, 233);

/// Draws every chart it has the rows for from `dir/run.jsonl` into `dir`, and returns the
/// files written.
pub fn draw(dir: &Path) -> Result<Vec<PathBuf>> {
    let path = dir.join(JSON_LINES);
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (run, rows) = read_json_lines(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let medians = Medians::new(&rows);
    let mut written = Vec::new();
    let charts: [(&str, Chart); 3] = [
        ("sweep.svg", sweep),
        ("start-join.svg", start_join),
        ("scaling.svg", scaling),
    ];
    for (name, chart) in charts {
        let file = dir.join(name);
        let area = SVGBackend::new(&file, SIZE).into_drawing_area();
        area.fill(&WHITE)?;
        let drawn = chart(&medians, &run, &area)?;
        if drawn {
            area.present()?;
        }
        drop(area); // writes the file
        if drawn {
            written.push(file);
        } else {
            let _ = fs::remove_file(&file);
            eprintln!("{name}: the run has no rows for it, not drawn");
        }
    }
    Ok(written)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws one chart; `false` if the run has no rows for it.
type Chart = fn(&Medians, &Run, &Area) -> Result<bool>;

/// Median seconds by topic and contender.
struct Medians(HashMap<(String, String), f64>);

impl Medians {
    fn new(rows: &[Row]) -> Medians {
        let medians = rows.iter().filter_map(|row| {
            let median = row.median_seconds?;
            Some(((row.topic.clone(), row.contender.clone()), median))
        });
        Medians(medians.collect())
    }

    fn get(&self, topic: &str, contender: &str) -> Option<f64> {
        self.0
            .get(&(topic.to_string(), contender.to_string()))
            .copied()
    }
}

/// Throughput against message size, both on log scales, a line per contender.
fn sweep(medians: &Medians, _: &Run, area: &Area) -> Result<bool> {
    let lines = [
        (throughput::RAW, "raw socketpair", GREY),
        (throughput::IPC_BYTES, "ipc send_bytes", BLUE),
        (throughput::IPC_TYPED, "ipc send ByteBuf", GREEN),
        (throughput::IPC_STRUCT, "ipc send struct", PURPLE),
        (throughput::IPC_BORROWED, "ipc struct, borrowed", SKY),
        (python::CONNECTION, "Python send_bytes", ORANGE),
    ];
    // x: the size's position in the sweep (64 B is 0, each step is ×4).
    let points = |contender| -> Vec<(i32, f64)> {
        (0..)
            .zip(throughput::SIZES)
            .filter_map(|(x, (topic, size))| {
                let seconds = medians.get(topic, contender)?;
                Some((x, size as f64 / seconds / f64::from(1 << 30)))
            })
            .collect()
    };
    let all: Vec<f64> = lines
        .iter()
        .flat_map(|(contender, ..)| points(contender))
        .map(|(_, rate)| rate)
        .collect();
    if all.is_empty() {
        return Ok(false);
    }
    let low = 10f64.powf(all.iter().copied().fold(f64::MAX, f64::min).log10().floor());
    let high = 10f64.powf(all.iter().copied().fold(0.0, f64::max).log10().ceil());
    let last = i32::try_from(throughput::SIZES.len())? - 1;
    let mut chart = ChartBuilder::on(area)
        .caption("Messages from a child: throughput by size", (FONT, TITLE))
        .margin(16)
        .margin_right(40) // room for the last size's name
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0..last, (low..high).log_scale())?;
    let size_label = |x: &i32| {
        let size = usize::try_from(*x)
            .ok()
            .and_then(|i| throughput::SIZES.get(i));
        size.map_or(String::new(), |&(_, bytes)| size_name(bytes))
    };
    chart
        .configure_mesh()
        .x_labels(throughput::SIZES.len())
        .x_label_formatter(&size_label)
        .y_label_formatter(&|rate| number(*rate))
        .x_desc("message size")
        .y_desc("GiB/s")
        .label_style((FONT, TEXT))
        .axis_desc_style((FONT, TEXT))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (contender, label, color) in lines {
        dotted_line(&mut chart, points(contender), label, color.stroke_width(2))?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    Ok(true)
}

/// Start + join of a child that does nothing, by start method: a bar per contender, on a
/// log scale (spawning Python takes hundreds of times as long as a fork).
fn start_join(medians: &Medians, _: &Run, area: &Area) -> Result<bool> {
    let bars: Vec<(String, f64, RGBColor)> = [
        (
            start_join::TOPIC,
            start_join::RAW,
            "fork: raw fork/waitpid",
            GREY,
        ),
        (start_join::TOPIC, start_join::IPC, "fork: ipc", BLUE),
        (start_join::TOPIC, python::FORK, "fork: Python", ORANGE),
        (
            start_join::FORKSERVER_TOPIC,
            start_join::IPC_FORKSERVER,
            "forkserver: ipc",
            BLUE,
        ),
        (
            start_join::FORKSERVER_TOPIC,
            python::FORKSERVER,
            "forkserver: Python",
            ORANGE,
        ),
        (
            start_join::SPAWN_TOPIC,
            start_join::IPC_SPAWN,
            "spawn: ipc",
            BLUE,
        ),
        (
            start_join::SPAWN_TOPIC,
            python::SPAWN,
            "spawn: Python",
            ORANGE,
        ),
    ]
    .into_iter()
    .filter_map(|(topic, contender, label, color)| {
        Some((label.to_string(), medians.get(topic, contender)?, color))
    })
    .collect();
    if bars.is_empty() {
        return Ok(false);
    }
    let seconds = bars.iter().map(|&(_, s, _)| s);
    let low = 10f64.powf(seconds.clone().fold(f64::MAX, f64::min).log10().floor());
    let high = 10f64.powf(seconds.fold(0.0, f64::max).log10().ceil() + 0.3);
    let n = i32::try_from(bars.len())?;
    let mut chart = ChartBuilder::on(area)
        .caption("Start and join a child, by start method", (FONT, TITLE))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(210)
        .build_cartesian_2d((low..high).log_scale(), (0..n - 1).into_segmented())?;
    // The first bar on top.
    let name = |y: &SegmentValue<i32>| match y {
        SegmentValue::CenterOf(i) => usize::try_from(n - 1 - i)
            .ok()
            .and_then(|i| bars.get(i))
            .map_or(String::new(), |(label, ..)| label.clone()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&name)
        .x_label_formatter(&|s| duration(*s))
        .x_desc("time per child (log scale)")
        .label_style((FONT, TEXT))
        .axis_desc_style((FONT, TEXT))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart.draw_series((0..).zip(&bars).map(|(i, &(_, seconds, color))| {
        let y = n - 1 - i;
        let mut bar = Rectangle::new(
            [
                (low, SegmentValue::Exact(y)),
                (seconds, SegmentValue::Exact(y + 1)),
            ],
            color.filled(),
        );
        bar.set_margin(6, 6, 0, 0);
        bar
    }))?;
    chart.draw_series((0..).zip(&bars).map(|(i, &(_, seconds, _))| {
        let at = (seconds * 1.08, SegmentValue::CenterOf(n - 1 - i));
        let style = TextStyle::from((FONT, TEXT)).pos(Pos::new(HPos::Left, VPos::Center));
        Text::new(duration(seconds), at, style)
    }))?;
    Ok(true)
}

/// Wall time of the CPU-bound map against the number of workers, for the pool and rayon,
/// with the plain loop and the best the cores allow.
fn scaling(medians: &Medians, run: &Run, area: &Area) -> Result<bool> {
    let Some(plain) = medians.get(scaling::TOPIC, scaling::LOOP) else {
        return Ok(false);
    };
    let ms = |seconds: f64| seconds * 1e3;
    let line = |contenders: [&str; 4]| -> Vec<(i32, f64)> {
        (0..)
            .zip(contenders)
            .filter_map(|(x, c)| Some((x, ms(medians.get(scaling::TOPIC, c)?))))
            .collect()
    };
    let cores = run.cores.max(1);
    let ideal: Vec<(i32, f64)> = (0..)
        .zip(scaling::WORKERS)
        .map(|(x, n)| (x, ms(plain) / n.min(cores) as f64))
        .collect();
    let pool = line(scaling::IPC);
    let rayon = line(scaling::RAYON);
    let top = pool
        .iter()
        .chain(&rayon)
        .map(|&(_, t)| t)
        .fold(ms(plain), f64::max)
        * 1.15;
    let last = i32::try_from(scaling::WORKERS.len())? - 1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("CPU-bound map, {} tasks, {cores} cores", scaling::TASKS),
            (FONT, TITLE),
        )
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0..last, 0.0..top)?;
    let workers = |x: &i32| {
        let n = usize::try_from(*x)
            .ok()
            .and_then(|i| scaling::WORKERS.get(i));
        n.map_or(String::new(), ToString::to_string)
    };
    chart
        .configure_mesh()
        .x_labels(scaling::WORKERS.len())
        .x_label_formatter(&workers)
        .y_label_formatter(&|t| format!("{t:.0}"))
        .x_desc("workers: processes or threads (log scale)")
        .y_desc("wall time, ms")
        .label_style((FONT, TEXT))
        .axis_desc_style((FONT, TEXT))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let flat = vec![(0, ms(plain)), (last, ms(plain))];
    for (points, label, color) in [
        (flat, "plain loop", GREY),
        (ideal, "loop / min(workers, cores)", BLACK),
    ] {
        let style = color.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(points, 8, 6, style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
    }
    dotted_line(&mut chart, pool, "ipc Pool(n).map", BLUE.stroke_width(3))?;
    dotted_line(
        &mut chart,
        rayon,
        "rayon, n threads",
        ORANGE.stroke_width(3),
    )?;
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    Ok(true)
}

/// A line through `points` with a dot on each, named `label` in the legend.
fn dotted_line<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordi32, Y>>,
    points: Vec<(i32, Y::ValueType)>,
    label: &str,
    style: ShapeStyle,
) -> Result
where
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    chart
        .draw_series(LineSeries::new(points.clone(), style))?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
    let dots = points
        .into_iter()
        .map(|p| Circle::new(p, 4, style.filled()));
    chart.draw_series(dots)?;
    Ok(())
}

/// The series' names, in a box.
fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, TEXT))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    Ok(())
}

/// An axis value on a log scale, without float noise: `0.001`, `0.1`, `10`.
fn number(value: f64) -> String {
    let decimals = (-value.log10().floor()).max(0.0) as usize;
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::example;

    #[test]
    fn charts_are_drawn_from_json_lines_with_their_text_as_svg_text() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(JSON_LINES), example().json_lines()).unwrap();
        let written = draw(dir.path()).unwrap();
        assert_eq!(written.len(), 3);
        for (file, label) in [
            ("sweep.svg", "64 MiB"),
            ("start-join.svg", "spawn: Python"),
            ("scaling.svg", "rayon, n threads"),
        ] {
            let svg = fs::read_to_string(dir.path().join(file)).unwrap();
            assert!(
                svg.contains(r#"viewBox="0 0 800 480""#),
                "{file} has no size"
            );
            assert!(
                svg.contains(&format!("\n{label}\n</text>")),
                "{file}: no {label:?}"
            );
            let smallest = svg
                .split("font-size=\"")
                .skip(1)
                .map(|rest| rest.split('"').next().unwrap().parse::<f64>().unwrap())
                .fold(f64::MAX, f64::min);
            assert!(smallest >= 16.0, "{file}: text of {smallest} px");
        }
    }

    #[test]
    fn a_run_without_a_topic_skips_its_chart() {
        let dir = tempfile::tempdir().unwrap();
        let lines = example().json_lines();
        let without_scaling: String = lines
            .lines()
            .filter(|line| !line.contains(r#""topic":"scaling""#))
            .map(|line| format!("{line}\n"))
            .collect();
        fs::write(dir.path().join(JSON_LINES), without_scaling).unwrap();
        let written = draw(dir.path()).unwrap();
        assert_eq!(written.len(), 2);
        assert!(!dir.path().join("scaling.svg").exists());
    }

    #[test]
    fn log_axis_numbers_have_no_float_noise() {
        assert_eq!(number(0.001_000_000_000_000_2), "0.001");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(10.0), "10");
    }
}
