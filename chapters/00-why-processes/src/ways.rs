//! The ways to run the work: one by one, threads, rayon, tokio and worker processes. Each
//! runs in a process of its own, started by `compare_all`, and prints one line.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus};
use std::thread;
use std::time::Instant;

use ipc::{Pool, describe_exitcode};
use rayon::prelude::*;

use crate::tasks::{
    CRASH_TASKS, CRASHING_TASK, PAGE_PATH, PAGES, PARTS, count_primes, crash_task, host_port, load,
    load_async, part, report,
};

/// Runs the way named `way` against the demo site at `site`, and prints its line.
pub fn run(way: &str, site: &str) -> ExitCode {
    let urls: Vec<String> = (0..PAGES).map(|_| format!("{site}{PAGE_PATH}")).collect();
    let started = Instant::now();
    let done = match way {
        "io-one-by-one" => pages(urls.iter().map(|url| load(url)).collect()),
        "io-threads" => pages(thread::scope(|s| {
            let handles: Vec<_> = urls.iter().map(|url| s.spawn(|| load(url))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })),
        "io-rayon" => pages(urls.par_iter().map(|url| load(url)).collect()),
        "io-tokio" => pages(on_tokio(host_port(site))),
        "io-processes" => pages(expect(Pool::new(PAGES).map(|url: String| load(&url), urls))),
        "cpu-one-by-one" => primes((0..PARTS).map(|p| count_primes(part(p))).collect()),
        "cpu-threads" => primes(thread::scope(|s| {
            let handles: Vec<_> = (0..PARTS)
                .map(|p| s.spawn(move || count_primes(part(p))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })),
        "cpu-rayon" => primes(
            (0..PARTS)
                .into_par_iter()
                .map(|p| count_primes(part(p)))
                .collect(),
        ),
        "cpu-processes" => {
            let pool = Pool::new(thread::available_parallelism().map_or(2, |n| n.get()));
            primes(expect(pool.map(|p| count_primes(part(p)), 0..PARTS)))
        }
        "crash-threads" => crash_in_threads(),
        "crash-processes" => crash_in_processes(),
        _ => {
            eprintln!("unknown way: {way}");
            return ExitCode::from(2);
        }
    };
    report(format_args!(
        "{done}{:.2} s",
        started.elapsed().as_secs_f64()
    ));
    ExitCode::SUCCESS
}

/// The I/O experiment's line: how many pages loaded.
fn pages(lengths: Vec<usize>) -> String {
    let loaded = lengths.iter().filter(|&&len| len > 0).count();
    format!("{loaded} pages loaded in ")
}

/// The CPU experiment's line: the primes found.
fn primes(counts: Vec<u64>) -> String {
    format!("{} primes in ", counts.iter().sum::<u64>())
}

/// The pool's results, or the end of this way's process with the reason.
fn expect<T>(result: ipc::Result<T>) -> T {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    })
}

/// The pages loaded by tasks on tokio's runtime: all eight wait at once on its threads.
fn on_tokio(addr: &str) -> Vec<usize> {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let tasks: Vec<_> = (0..PAGES)
            .map(|_| tokio::spawn(load_async(addr.to_string(), PAGE_PATH)))
            .collect();
        let mut lengths = Vec::new();
        for task in tasks {
            lengths.push(task.await.unwrap_or(0));
        }
        lengths
    })
}

// ANCHOR: crash_in_threads
/// Four tasks, 0 to 3, on four threads. The abort in task 2 ends the whole process, with every
/// thread in it: the results of the other three never reach the line below.
fn crash_in_threads() -> String {
    no_core_files();
    let results: Vec<u32> = thread::scope(|s| {
        let handles: Vec<_> = (0..CRASH_TASKS)
            .map(|task| s.spawn(move || crash_task(task)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    format!("{} of {CRASH_TASKS} results in ", results.len())
}
// ANCHOR_END: crash_in_threads

// ANCHOR: crash_in_processes
/// The same four tasks in four worker processes. The abort ends the worker that ran task
/// 2, and only that one: its result is an error, and the other three arrive.
fn crash_in_processes() -> String {
    no_core_files();
    let pool = Pool::new(CRASH_TASKS as usize);
    let results: Vec<ipc::Result<u32>> = expect(pool.imap(crash_task, 0..CRASH_TASKS)).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let lost = match &results[CRASHING_TASK as usize] {
        Err(e) => format!("task {CRASHING_TASK}: {e}"),
        Ok(_) => format!("task {CRASHING_TASK} did not crash"),
    };
    format!("{ok} of {CRASH_TASKS} results ({lost}) in ")
}
// ANCHOR_END: crash_in_processes

/// What the comparing process prints for a way whose process died.
pub fn describe_death(status: ExitStatus) -> String {
    let code = status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0));
    format!(
        "the whole program died: {}, no results",
        describe_exitcode(code)
    )
}

/// The crash experiment aborts on purpose: no core file for it (a core file is the
/// memory of the crashed process, written to disk for a debugger).
fn no_core_files() {
    use nix::sys::resource::{Resource, setrlimit};
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
}
