//! What starting and joining one process costs under each start method: the median of a
//! few rounds of a process that does nothing. Shown, never asserted: the numbers depend on
//! the machine and on what else runs on it.

use std::time::{Duration, Instant};

use ipc::{StartMethod, describe_exitcode, get_context};

/// Rounds per method: enough for a steady median, few enough to take well under a second.
pub const ROUNDS: usize = 20;

/// The process's whole work.
fn nothing(_: ()) {}

/// The median time of `ctx.process(nothing, ())`, `start` and `join` under `method`.
pub fn median(method: StartMethod) -> ipc::Result<Duration> {
    let ctx = get_context(method);
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut process = ctx.process(nothing, ())?;
        process.start()?;
        let code = process.join()?;
        times.push(started.elapsed());
        if code != 0 {
            let why = format!(
                "a process that does nothing failed ({})",
                describe_exitcode(code)
            );
            return Err(std::io::Error::other(why).into());
        }
    }
    times.sort_unstable();
    Ok(times[ROUNDS / 2])
}

/// Prints the costs side by side, in milliseconds.
pub fn print(costs: &[(StartMethod, Duration)]) {
    println!("Start + join of a process that does nothing, median of {ROUNDS}:");
    for (method, cost) in costs {
        let note = match method {
            StartMethod::Fork => "  (timed before the spinner's thread began)",
            _ => "",
        };
        let ms = cost.as_secs_f64() * 1000.0;
        println!("  {:<11} {ms:.2} ms{note}", method.name());
    }
}
