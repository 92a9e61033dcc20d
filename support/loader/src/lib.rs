//! What every chapter loads and how: the tutorial's `load_url`, the list of URLs
//! (the command line's, or the built-in demo site's), the links a page holds (for the
//! crawler chapter and its exercise), a quiet end when the output is closed, lines on
//! stderr that children print whole, and the error that ends a program, in one line.
//!
//! The Python programs each define `load_url`; here it is written once and shared, so that
//! each chapter's `main.rs` holds only what the chapter teaches.

mod errors;
mod fatal;
pub mod links;
mod load;
mod resolve;
mod sigpipe;
mod stderr;
mod targets;

pub use errors::{LoadError, TlsProblem};
pub use fatal::Fatal;
pub use load::{
    Fetched, Loader, MAX_BODY, MAX_REDIRECTS, Options, Page, ROBOTS_MAX, TIMEOUT, USER_AGENT,
    load_url, load_url_with_timeout,
};
pub use sigpipe::end_quietly_when_output_closes;
pub use stderr::eprint_line;
pub use targets::{POOL_DEMO_PAGES, Targets, count, exit_status, urls_from_command_line};
