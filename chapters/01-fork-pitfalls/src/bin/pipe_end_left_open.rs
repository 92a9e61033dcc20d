//! Break it yourself: a reader sees the end of the stream only when every copy of the
//! pipe's other end is closed, in every process. A child that reads until the end of the
//! stream, while it holds a copy of the end that writes to it, waits forever.
//! `cargo run -p ch01-fork-pitfalls --bin pipe_end_left_open`

use std::fs::File;
use std::io::{BufRead, BufReader, Write};

use ch01_fork_pitfalls::{exit_child, give_up_after_hang_limit, join_or_terminate, wait_and_tell};
use ipc::{Pipe, Process};
use nix::unistd::{ForkResult, fork, pipe};

/// What the parent sends the child.
const URLS: [&str; 2] = ["/", "/about.html"];

fn main() -> Result<(), loader::Fatal> {
    loader::end_quietly_when_output_closes();
    println!("A bare fork; the child keeps its copy of the pipe's write end:");
    bare_fork()?;
    println!("ipc, with the parent's end inheritable, as every descriptor is by default:");
    send_urls_then_close(false)?;
    println!("ipc, with parent_conn.set_inheritable(false):");
    send_urls_then_close(true)?;
    Ok(())
}

// ANCHOR: bare
/// The parent writes the URLs into a pipe and closes its write end; the child reads lines
/// until the end of the stream.
fn bare_fork() -> anyhow::Result<()> {
    let (read_end, write_end) = pipe()?;
    // SAFETY: in a process with several threads, a forked child may only call
    // async-signal-safe functions; this program starts no thread, so its child may run any
    // code. A bare fork will do for a demonstration whose child lives in the arm below and
    // leaves with `_exit`; a real program uses `ipc::Process`, which checks the rules.
    match unsafe { fork() }? {
        ForkResult::Child => {
            // The mistake: `write_end`, the child's copy, stays open (no `drop(write_end)`).
            give_up_after_hang_limit();
            let lines = BufReader::new(File::from(read_end)).lines();
            for url in lines.map_while(Result::ok) {
                println!("The child got {url}");
            }
            println!("The child read to the end of the stream.");
            exit_child(0);
        }
        ForkResult::Parent { child } => {
            drop(read_end);
            let mut writer = File::from(write_end);
            for url in URLS {
                writeln!(writer, "{url}")?;
            }
            drop(writer); // the parent's copy of the write end: closed
            wait_and_tell(child, "the end of the stream")?;
        }
    }
    Ok(())
}
// ANCHOR_END: bare

// ANCHOR: ipc
/// The same with `ipc`: the parent sends the URLs and closes its end; the child reads
/// until the end of the stream. `Process` closes the parent's copy of the child's end;
/// the child's copy of the parent's end is closed only if it is marked.
fn send_urls_then_close(mark_the_parents_end: bool) -> ipc::Result<()> {
    let (mut parent_conn, mut child_conn) = Pipe::new()?;
    if mark_the_parents_end {
        parent_conn.set_inheritable(false); // children let go of it as they start
    }
    let mut process = Process::new(move || {
        for url in child_conn.iter::<String>().map_while(Result::ok) {
            println!("The child got {url}");
        }
        println!("The child read to the end of the stream.");
    });
    process.start()?;
    for url in URLS {
        parent_conn.send(url)?;
    }
    parent_conn.close();
    join_or_terminate(&mut process, "the end of the stream")
}
// ANCHOR_END: ipc
