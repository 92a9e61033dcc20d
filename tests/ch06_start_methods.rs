//! Snapshots of chapter 6's `url_loader_start_methods`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

use std::io::Write;
use std::net::TcpListener;

use regex::Regex;

chapter_snapshots!(
    "ch06",
    "url_loader_start_methods",
    settle: start_join_times,
    extra: [
        killed_while_spawned_workers_load_it_leaves_no_process,
        a_fatal_error_is_said_in_words,
    ],
);

/// Short of descriptors, it stops with its error in words.
fn a_fatal_error_is_said_in_words() {
    support::a_fatal_error_is_said_in_words(BIN);
}

/// The start + join table gives milliseconds, which change from run to run like the
/// seconds that the shared filters replace.
fn start_join_times(text: String) -> String {
    let ms = Regex::new(r"\d+\.\d+ ms\b").unwrap();
    ms.replace_all(&text, "[TIME] ms").into_owned()
}

/// Spawned workers are children of the program itself (the forkserver's are the server's),
/// and their parent's death reaches them through their lifelines, not through
/// `PR_SET_PDEATHSIG`. Killed while one of them waits for a page that never comes, the
/// program leaves none behind: the waiting worker would go on for the 10 s of its time
/// limit if nothing killed it.
fn killed_while_spawned_workers_load_it_leaves_no_process() {
    let (_server, url) = answers_once_then_never();
    // Five children at once only while spawn's pool runs: the forkserver and four workers.
    // (The forkserver's workers are its children; fork's timed processes come one by one.)
    let spawn_pool_runs = |pid| children_of(pid) >= 5;
    support::killed_alone_when_it_leaves_no_process(
        BIN,
        &[&url],
        spawn_pool_runs,
        fork_test::Signal::SIGKILL,
    );
}

/// A server, in a process of its own until dropped, that answers its first request (the
/// forkserver's worker's) at once and never answers another (spawn's worker's).
fn answers_once_then_never() -> (ipc::Process, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let mut server = ipc::Process::new(move || {
        let mut unanswered = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            support::read_request_head(&mut stream);
            if n == 0 {
                let page = "<p>once</p>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{page}",
                    page.len()
                );
            } else {
                unanswered.push(stream);
            }
        }
    });
    server.start().unwrap();
    (server, url)
}

/// How many running children `pid` has, from `/proc/PID/stat` ("pid (comm) state ppid…").
fn children_of(pid: i32) -> usize {
    let parent_of = |child: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    fork_test::descendants(pid)
        .into_iter()
        .filter(|&child| parent_of(child) == Some(pid))
        .count()
}
