//! Break it yourself: text still in stdout's buffer at the moment of a fork is copied into
//! the child, and both processes print it.
//! `cargo run -p ch01-fork-pitfalls --bin unflushed_output`

use std::error::Error;

use ch01_fork_pitfalls::exit_child;
use ipc::Process;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn main() -> Result<(), Box<dyn Error>> {
    loader::end_quietly_when_output_closes();

    println!("A bare fork, with half a line in stdout's buffer:");
    // ANCHOR: bare
    print!("Loading… "); // no newline yet: the text waits in stdout's buffer
    // SAFETY: in a process with several threads, a forked child may only call
    // async-signal-safe functions; this program starts no thread, so its child may run any
    // code. A bare fork will do for a demonstration whose child lives in the arm below and
    // leaves with `_exit`; a real program uses `ipc::Process`, which checks the rules.
    match unsafe { fork() }? {
        ForkResult::Child => {
            println!("the child's line"); // the child's copy of the buffer, then its text
            exit_child(0);
        }
        ForkResult::Parent { child } => {
            waitpid(child, None)?; // the child's line first, then the parent's
            println!("the parent's line"); // the parent's copy of the same buffer
        }
    }
    // ANCHOR_END: bare

    println!("ipc's Process, which flushes stdout before it forks:");
    // ANCHOR: ipc
    print!("Loading… ");
    let mut process = Process::new(|| println!("the child's line"));
    process.start()?; // flushes "Loading… " out, then forks
    process.join()?;
    println!("the parent's line");
    // ANCHOR_END: ipc
    Ok(())
}
