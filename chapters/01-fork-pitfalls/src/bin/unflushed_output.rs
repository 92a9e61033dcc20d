//! Break it yourself: text still in stdout's buffer at the moment of a fork is copied into
//! the child, and both processes print it.
//! `cargo run -p ch01-fork-pitfalls --bin unflushed_output`

use ch01_fork_pitfalls::exit_child;
use ipc::Process;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn main() -> Result<(), loader::Fatal> {
    loader::end_quietly_when_output_closes();
    println!("A bare fork, with half a line in stdout's buffer:");
    bare_fork()?;
    println!("ipc's Process, which flushes stdout before it forks:");
    with_ipc()?;
    Ok(())
}

// ANCHOR: bare
/// Prints half a line, then forks with nix's `fork`, which flushes nothing.
fn bare_fork() -> nix::Result<()> {
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
    Ok(())
}
// ANCHOR_END: bare

// ANCHOR: ipc
/// The same with `ipc`.
fn with_ipc() -> ipc::Result<()> {
    print!("Loading… ");
    let mut process = Process::new(|| println!("the child's line"));
    process.start()?; // flushes "Loading… " out, then forks
    process.join()?;
    println!("the parent's line");
    Ok(())
}
// ANCHOR_END: ipc
