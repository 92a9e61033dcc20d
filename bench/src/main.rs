//! Measures `ipc` against raw `fork`/socketpair code and Python's `multiprocessing`, and
//! checks the targets of the issue.
//!
//! ```text
//! cargo run --release -p bench              # full run: 9 rounds, about 3 minutes
//! cargo run --release -p bench -- --quick   # 3 rounds, smaller batches: about 1 minute
//! ```
//!
//! Prints a table of medians to stdout, then one JSON line per row; progress goes to
//! stderr. The run is made of rounds; in each, every contender takes samples in turns
//! with the others of its topic, and the Python script runs once (before the Rust topics
//! in even rounds, after them in odd ones).
//!
//! A quick run takes a third of the samples, so its medians move more: use it to check
//! that everything runs, and the full run to judge the targets.
//!
//! This process never starts a thread, so that forking stays safe: no criterion, the
//! demo site runs in a child process, the page loads happen in the pool's workers.

mod config;
mod harness;
mod pages;
mod pool_map;
mod python;
mod raw;
mod report;
mod round_trip;
mod shared_state;
mod start_join;
mod throughput;

use std::process::ExitCode;

use demo_site::DemoSite;

use crate::config::Config;
use crate::harness::{Result, Samples};

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
    let quick = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--quick") => true,
        Some(_) => return Err("usage: bench [--quick]".into()),
    };
    let config = Config::new(quick, std::thread::available_parallelism()?.get());
    ipc::forkserver::start()?;
    let site = DemoSite::start()?;
    let mut samples = Samples::default();
    let mut python = true;
    for round in 0..config.rounds {
        eprintln!("round {} of {}", round + 1, config.rounds);
        if python && round % 2 == 0 {
            python = python::round(&mut samples, &config, round)?;
        }
        start_join::round(&mut samples, &config, round)?;
        round_trip::round(&mut samples, &config, round)?;
        throughput::round(&mut samples, &config, round)?;
        pool_map::round(&mut samples, &config, round)?;
        pages::round(&mut samples, &site, round)?;
        shared_state::round(&mut samples, &config, round)?;
        if python && round % 2 == 1 {
            python = python::round(&mut samples, &config, round)?;
        }
        if !python && round == 0 {
            eprintln!("no python3 found: the Python rows stay empty");
        }
    }
    report::print(&samples, &config);
    Ok(())
}
