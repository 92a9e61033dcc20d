//! The pitfalls of fork, to break yourself: one program per pitfall in `src/bin/`, run
//! with `cargo run -p ch01-fork-pitfalls --bin NAME`. Each makes its mistake with a bare
//! `fork` (nix's, which is `unsafe`), so that you can see what goes wrong, then does the
//! same work with `ipc`, which prevents the mistake or refuses it. The book's page "The
//! pitfalls of fork" walks through them.
//!
//! A mistake that makes a child wait forever would hang your terminal too, so such a
//! child gets a time limit, [`HANG_LIMIT`], and its parent says so when it is over.
//!
//! This module holds what the programs share: how a child forked by hand ends, and how its
//! parent tells what became of it.

use std::io::Write;
use std::time::Duration;

use ipc::{Process, describe_exitcode};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, alarm};

/// How long a child that hangs on purpose is given before it is ended.
pub const HANG_LIMIT: Duration = Duration::from_secs(1);

/// In a child forked by hand that is about to hang: `alarm(2)` asks the kernel for a
/// `SIGALRM` after [`HANG_LIMIT`]. Nothing handles that signal, so it ends the process,
/// and [`wait_and_tell`] in the parent sees it.
pub fn give_up_after_hang_limit() {
    alarm::set(HANG_LIMIT.as_secs() as u32);
}

/// How a child forked by hand ends, as `ipc`'s children do: it flushes what Rust's stdout
/// holds, then leaves with `_exit`, which runs nothing more of the parent's program: no
/// destructor, no handler registered with `atexit`.
pub fn exit_child(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    // SAFETY: _exit(2) ends the process at once; it reads no memory of this program.
    unsafe { nix::libc::_exit(code) }
}

/// In the parent of a child forked by hand: waits for `child`, reaps it (so no zombie is
/// left), and says how it ended; `waiting_for` is what it was waiting for if it hung.
pub fn wait_and_tell(child: Pid, waiting_for: &str) -> nix::Result<()> {
    // The exit code in Python's meaning, as `ipc`'s `join` returns it: -SIG for a signal.
    let code = match waitpid(child, None)? {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => -(signal as i32),
        other => unreachable!("waitpid with no flags reports only ends, not {other:?}"),
    };
    if code == -(Signal::SIGALRM as i32) {
        println!(
            "The child hung: {} s later it still waited for {waiting_for}, and its alarm \
             ended it ({}).",
            HANG_LIMIT.as_secs(),
            describe_exitcode(code)
        );
    } else {
        println!("The child ended: {}.", describe_exitcode(code));
    }
    Ok(())
}

/// [`wait_and_tell`] for a child started with `ipc`: waits at most [`HANG_LIMIT`], then
/// stops a child that still waits for `waiting_for` with `terminate`.
pub fn join_or_terminate(process: &mut Process, waiting_for: &str) -> ipc::Result<()> {
    match process.join_timeout(HANG_LIMIT)? {
        Some(code) => println!("The child ended: {}.", describe_exitcode(code)),
        None => {
            process.terminate()?;
            let code = process.join()?;
            println!(
                "The child hung: {} s later it still waited for {waiting_for}, and the \
                 parent stopped it ({}).",
                HANG_LIMIT.as_secs(),
                describe_exitcode(code)
            );
        }
    }
    Ok(())
}
