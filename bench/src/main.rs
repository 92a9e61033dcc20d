//! Measures `ipc` against raw `fork`/socketpair code and Python's `multiprocessing`, and
//! checks the targets of the issue.
//!
//! ```text
//! cargo run --release -p bench                      # full run: 9 rounds, 2 to 3 minutes
//! cargo run --release -p bench -- --quick           # 3 rounds: under a minute
//! cargo run --release -p bench -- --quick --check   # ...and fail unless every target holds
//! cargo run --release -p bench -- --only throughput # some groups of topics only
//! cargo run --release -p bench -- --record book/src/perf  # the book's table, JSON and charts
//! cargo run --release -p bench -- --charts book/src/perf  # the charts again, measuring nothing
//! ```
//!
//! Prints a table of medians to stdout, then one JSON line for the run and one per row;
//! progress goes to stderr. The run is made of rounds; in each, every contender takes
//! samples in turns with the others of its topic, Python's too (the Python script runs
//! beside the bench and takes one sample per request).
//!
//! A quick run takes a third of the rounds, and smaller samples where no target is close
//! (see `Config::new`): the targets on a thin margin are judged on samples as big as a
//! full run's, so that a check can run it. Its medians, of fewer samples, still move more
//! than a full run's.

mod charts;
mod config;
mod cores;
mod harness;
mod machine;
mod pages;
mod pool_map;
mod python;
mod raw;
mod report;
mod round_trip;
mod scaling;
mod shared_state;
mod start_join;
mod table;
mod throughput;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use demo_site::DemoSite;

use crate::config::{Config, Group};
use crate::harness::{Result, Samples};
use crate::machine::Run;
use crate::python::Python;
use crate::report::Results;

/// Measures ipc against raw system calls and Python's multiprocessing.
#[derive(Parser)]
#[command(name = "bench")]
struct Args {
    /// A third of the rounds, smaller samples where no target is close: under a minute.
    #[arg(long)]
    quick: bool,
    /// Exit with an error, after the table, unless every target of the groups measured
    /// holds: for a check (`--quick --check` takes under a minute).
    #[arg(long)]
    check: bool,
    /// Measure only these groups of topics (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "GROUPS")]
    only: Vec<Group>,
    /// Also write the table (run.txt), the JSON lines (run.jsonl) and the charts (*.svg)
    /// into DIR.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Measure nothing: draw the charts of DIR/run.jsonl again, into DIR.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["quick", "only", "record", "check"])]
    charts: Option<PathBuf>,
    /// One rayon sample of the scaling topic, in this process (the bench runs itself so).
    #[arg(long, value_name = "THREADS", hide = true)]
    rayon_sample: Option<usize>,
}

fn main() -> ExitCode {
    // A spawned copy of the bench runs its function here (the spawn start method).
    ipc::spawn::init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result {
    let args = Args::parse();
    if let Some(threads) = args.rayon_sample {
        return scaling::rayon_sample(threads);
    }
    if let Some(dir) = args.charts {
        return draw_charts(&dir);
    }
    let config = Config::new(
        args.quick,
        &args.only,
        std::thread::available_parallelism()?.get(),
    );
    let samples = measure(&config)?;
    let results = Results::new(&samples, &config, Run::new(&config));
    let table = table::render(&results);
    let json_lines = results.json_lines();
    print!("{table}\n{json_lines}");
    if let Some(dir) = args.record {
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(table::FILE), &table)?;
        fs::write(dir.join(charts::JSON_LINES), &json_lines)?;
        draw_charts(&dir)?;
    }
    if args.check {
        results.check()?;
    }
    Ok(())
}

/// Every round of the groups `config` names.
fn measure(config: &Config) -> Result<Samples> {
    let site = config
        .measures(Group::Pages)
        .then(DemoSite::start)
        .transpose()?;
    let python = Python::start(config)?;
    if python.is_none() {
        eprintln!("no python3 found: the Python rows stay empty");
    }
    let py = python.as_ref();
    let mut samples = Samples::default();
    for round in 0..config.rounds {
        eprint!("round {} of {}:", round + 1, config.rounds);
        for &group in &config.groups {
            let samples = &mut samples;
            timed(&group.name(), || match group {
                Group::StartJoin => start_join::round(samples, config, round, py),
                Group::RoundTrip => {
                    cores::on_one_core(|| round_trip::round(samples, config, round, py))
                }
                Group::Throughput => {
                    cores::on_one_core(|| throughput::round(samples, config, round, py))
                }
                Group::PoolMap => pool_map::round(samples, config, round, py),
                Group::Scaling => scaling::round(samples, config, round),
                Group::Pages => pages::round(samples, site.as_ref().expect("started"), round),
                Group::SharedState => shared_state::round(samples, config, round, py),
            })?;
            if let Some(python) = py {
                python.rest()?;
            }
            give_memory_back();
        }
        eprintln!();
    }
    Ok(samples)
}

/// Gives the memory this process has freed back to the kernel, so that each group starts
/// as a small program would. glibc keeps freed memory for reuse: up to 64 MiB at the top
/// of its heap once blocks of 32 MiB have come and gone, as they do in the throughput
/// group. A process that keeps it forks slower (the page tables of every page it keeps
/// are copied, and each of those pages written after the fork faults), and
/// `ipc::Pool::map` forks on every call: right after the throughput group, it took 5.2 ms
/// instead of 3.1 (one quick run).
fn give_memory_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim(3) gives free memory of glibc's allocator back to the kernel,
    // under the allocator's lock; memory in use is not touched.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// Runs `f`, and tells how long it took on stderr: where a run's time goes.
fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = std::time::Instant::now();
    let result = f()?;
    eprint!(" {what} {:.1} s", start.elapsed().as_secs_f64());
    Ok(result)
}

/// Draws the charts of `dir`'s JSON lines into `dir`, and says which.
fn draw_charts(dir: &Path) -> Result {
    for file in charts::draw(dir)? {
        eprintln!("wrote {}", file.display());
    }
    Ok(())
}
