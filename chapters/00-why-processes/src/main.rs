//! Why processes, in Rust? The tutorial's own work done four ways: by threads, by rayon, by
//! tokio and by worker processes, and timed. Three experiments:
//!
//! 1. loading pages that make you wait (I/O);
//! 2. counting primes (CPU);
//! 3. a batch of tasks of which one crashes (`abort`).
//!
//! `cargo run -p ch00-why-processes` runs them all against the demo site. Each way runs in
//! a fresh process of its own (this program started again with one argument, the way's
//! name): a crash then takes down that process only, and no way starts with threads left
//! by another. Forking from a process with threads can deadlock the child, so the
//! experiments with processes must not run in a process that has started threads, and
//! `std::process::Command` (which runs a new program, it does not fork a copy) is safe.

mod tasks;
mod ways;

use std::env;
use std::process::{Command, ExitCode};

use demo_site::DemoSite;

/// How each experiment is run: its name on the command line, and what the line says.
const EXPERIMENTS: [(&str, &[(&str, &str)]); 3] = [
    (
        "Loading 8 pages that each take 250 ms to answer (waiting: I/O)",
        &[
            ("io-one-by-one", "one by one"),
            ("io-threads", "8 threads"),
            ("io-rayon", "rayon"),
            ("io-tokio", "tokio, 8 tasks"),
            ("io-processes", "8 processes"),
        ],
    ),
    (
        "Counting the primes below 3,000,000 in 8 parts (computing: CPU)",
        &[
            ("cpu-one-by-one", "one by one"),
            ("cpu-threads", "8 threads"),
            ("cpu-rayon", "rayon"),
            ("cpu-processes", "a pool of processes"),
        ],
    ),
    (
        "Running 4 tasks, 0 to 3, of which task 2 aborts (a crash)",
        &[
            ("crash-threads", "4 threads"),
            ("crash-processes", "4 processes"),
        ],
    ),
];

/// How to call it (the two-argument form is for itself: one way, in a process of its own).
const USAGE: &str = "usage: why_processes  (runs every experiment)";

fn main() -> ExitCode {
    // `None` if an argument is not text (UTF-8): a usage error too, not a panic.
    let args: Option<Vec<String>> = env::args_os()
        .skip(1)
        .map(|a| a.into_string().ok())
        .collect();
    match args.as_deref() {
        Some([]) => compare_all(),
        Some([help]) if help == "-h" || help == "--help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some([way, site]) => ways::run(way, site),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Starts the demo site, then runs every way of every experiment in a process of its own,
/// and prints one line for each.
fn compare_all() -> ExitCode {
    // The site is forked before this process does anything else: it has one thread.
    let site = match DemoSite::start() {
        Ok(site) => site,
        Err(e) => {
            eprintln!("error: could not start the demo site: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = site.url("");
    println!("Serving the demo site at {url}/");
    let me = env::current_exe().expect("the path of this program");
    for (title, ways) in EXPERIMENTS {
        println!("\n{title}:");
        for (way, label) in ways {
            let output = Command::new(&me).args([*way, &url]).output();
            let report = match output {
                Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into(),
                Ok(out) => ways::describe_death(out.status),
                Err(e) => format!("could not start: {e}"),
            };
            println!("  {label:<22}{}", report.trim_end());
        }
    }
    ExitCode::SUCCESS
}
