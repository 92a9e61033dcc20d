//! The spinner that shows the program is busy, and the thread that comes with it.
//!
//! indicatif ticks a spinner from a thread of its own (`enable_steady_tick`), as a logger,
//! an async runtime or a thread pool run threads of their own: one call, and the program
//! has two threads. Chapter 5 drew its progress bar from the main thread to stay
//! single-threaded, and so able to fork; this chapter lets the thread run.
//!
//! The spinner is drawn on stderr when stderr is a terminal, and not at all otherwise (a
//! pipe, a file, the snapshot tests): its thread runs either way.

use std::fmt::Display;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner with a message, ticked every 100 ms by its own thread until it is dropped.
pub struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    // ANCHOR: start
    /// Starts the spinner, and with it a thread.
    pub fn start() -> Spinner {
        let style =
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template");
        let bar = ProgressBar::new_spinner().with_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner { bar }
    }
    // ANCHOR_END: start

    /// What the spinner says it is doing.
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Prints a line on stdout, with the spinner out of its way.
    pub fn println(&self, line: impl Display) {
        self.bar.suspend(|| println!("{line}"));
    }

    /// Prints a line on stderr, with the spinner out of its way.
    pub fn eprintln(&self, line: impl Display) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Drop for Spinner {
    /// Clears the spinner; its thread ends, and is joined, when the bar is dropped.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// How many threads this process runs: one entry per thread in `/proc/self/task`.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}
