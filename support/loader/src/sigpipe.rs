//! Ending quietly when the reader of the output goes away, as in
//! `cargo run -p ch01-process | head -3`.

use nix::sys::signal::{SigHandler, Signal, signal};

/// Lets `SIGPIPE` end the program when whatever reads its output has gone away, as it
/// ends `cat` or `grep`. Rust starts every program with `SIGPIPE` ignored, so that writing
/// to a closed pipe is an error (`EPIPE`) instead of a signal, and `println!` turns that
/// error into a panic: "failed printing to stdout: Broken pipe", exit code 101. Call it
/// first thing in `main`: the processes forked afterwards inherit it.
///
/// `ipc` never relies on `SIGPIPE` being ignored: it writes to its sockets with
/// `MSG_NOSIGNAL`, so a peer that is gone is still an `Error::Closed`, not a signal.
pub fn end_quietly_when_output_closes() {
    // SAFETY: SIG_DFL installs no handler code: it restores the kernel's default action.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.expect("SIGPIPE can be reset");
}
