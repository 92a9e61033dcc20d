//! The error that ends a chapter's program: printed as one sentence.
//!
//! `main` returns `Result<_, Fatal>`, and Rust prints an `Err` as `Error: ` followed by the
//! error's `Debug` form. An `anyhow::Error`'s `Debug` form is several lines ("Caused by:"),
//! and with `RUST_BACKTRACE` set (many a shell sets it for good) a backtrace of forty more:
//! the backtrace of where the error was made, which says nothing to a reader whose program
//! only met a full disk or a taken port. A backtrace is for a panic, a bug. So `Fatal`'s
//! `Debug` form is the error and its causes on one line, as `{:#}` writes them.

use std::fmt;

/// Any error a chapter's `main` stops at (`?` converts it), shown as one line.
pub struct Fatal(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for Fatal {
    fn from(error: E) -> Fatal {
        Fatal(error.into())
    }
}

impl fmt::Debug for Fatal {
    /// The error, then each cause after a colon: `Too many open files (os error 24)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}
