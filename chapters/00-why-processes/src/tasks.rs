//! The work itself, the same whichever way runs it.

use std::io::Write;

/// How many pages the I/O experiment loads, and how long each takes to answer.
pub const PAGES: usize = 8;
pub const PAGE_PATH: &str = "/slow?ms=250";

/// The CPU experiment counts the primes below this, in `PARTS` ranges of equal length.
pub const PRIMES_BELOW: u64 = 3_000_000;
pub const PARTS: u64 = 8;

/// How many tasks the crash experiment runs, and which one aborts.
pub const CRASH_TASKS: u32 = 4;
pub const CRASHING_TASK: u32 = 2;

/// The page's length in bytes, loaded with the blocking client of the chapters.
pub fn load(url: &str) -> usize {
    loader::load_url(url).map_or(0, |page| page.html.len())
}

/// The same page with tokio: a connection that waits without holding a thread. A few
/// lines of HTTP/1.0 instead of a client library, because the demo site on loopback is
/// all it talks to, and the point here is the waiting, not HTTP.
pub async fn load_async(addr: String, path: &str) -> usize {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await else {
        return 0;
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut answer = Vec::new();
    if stream.write_all(request.as_bytes()).await.is_err()
        || stream.read_to_end(&mut answer).await.is_err()
    {
        return 0;
    }
    // The body is what follows the blank line after the headers.
    let body = answer.windows(4).position(|w| w == b"\r\n\r\n");
    body.map_or(0, |at| answer.len() - at - 4)
}

/// The `part`-th of `PARTS` ranges below `PRIMES_BELOW`.
pub fn part(part: u64) -> std::ops::Range<u64> {
    let len = PRIMES_BELOW / PARTS;
    part * len..(part + 1) * len
}

/// How many primes are in `range`, by trial division: slow on purpose, all CPU.
pub fn count_primes(range: std::ops::Range<u64>) -> u64 {
    let is_prime = |n: u64| {
        n >= 2
            && (2..)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
    };
    range.filter(|&n| is_prime(n)).count() as u64
}

// ANCHOR: crash_task
/// One task of the crash experiment. Task 2 hits a bug that aborts the process, as a
/// segfault in a C library, a double panic or running out of memory would: no unwinding,
/// no `catch_unwind`, the process ends at once with `SIGABRT`.
pub fn crash_task(task: u32) -> u32 {
    if task == CRASHING_TASK {
        std::process::abort();
    }
    task * 10
}
// ANCHOR_END: crash_task

/// Sends the answer of a finished way to the comparing process, which prints it.
pub fn report(line: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The `host:port` of a URL of the demo site, for `load_async`.
pub fn host_port(url: &str) -> &str {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    rest.split('/').next().unwrap_or(rest)
}
