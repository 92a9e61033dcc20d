//! The types in the exercises' signatures. Your code, the checks and the reference
//! solutions all use these, so please do not change them.

use bytemuck::{Pod, Zeroable};
use loader::{LoadError, Page};
use serde::{Deserialize, Serialize};

// ANCHOR: ending
/// How a child ended ([`ch01_deadline`](crate::ch01_deadline)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The child exited by itself before the deadline, with this exit code.
    Finished {
        /// Its exit code, in [`ipc::Process::exitcode`]'s meaning.
        exitcode: i32,
    },
    /// The deadline passed first: the parent stopped the child, which then ended with
    /// this exit code (`-15` after a `terminate`).
    TimedOut {
        /// Its exit code, in [`ipc::Process::exitcode`]'s meaning.
        exitcode: i32,
    },
}
// ANCHOR_END: ending

// ANCHOR: summary
/// What a pool worker sends back about one URL ([`ch02_summaries`](crate::ch02_summaries),
/// [`ch02_as_they_finish`](crate::ch02_as_they_finish)): much less than the page itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The URL, as given.
    pub url: String,
    /// The process id of the worker that loaded it (`std::process::id()` in the worker).
    pub worker: u32,
    /// The length of the page's text in bytes, or why it did not load.
    pub result: Result<usize, LoadError>,
}
// ANCHOR_END: summary

// ANCHOR: request
/// What the parent asks the loader child ([`ch03_loader_service`](crate::ch03_loader_service)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Load this URL and reply with [`Reply::Loaded`] or [`Reply::Failed`].
    Load(String),
    /// Reply with [`Reply::Bye`] and exit.
    Shutdown,
}
// ANCHOR_END: request

// ANCHOR: reply
/// What the loader child answers ([`ch03_loader_service`](crate::ch03_loader_service)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The page of a [`Request::Load`].
    Loaded(Page),
    /// Why the page of a [`Request::Load`] did not load.
    Failed(LoadError),
    /// The answer to [`Request::Shutdown`]: how many `Load` requests the child served.
    Bye {
        /// The number of `Load` requests answered.
        served: usize,
    },
}
// ANCHOR_END: reply

// ANCHOR: session
/// What the parent saw of one loader child's life
/// ([`ch03_loader_service`](crate::ch03_loader_service)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The replies to the `Load` requests, in the order they were sent.
    pub replies: Vec<Reply>,
    /// The count in the child's [`Reply::Bye`].
    pub served: usize,
    /// The child's exit code.
    pub exitcode: i32,
}
// ANCHOR_END: session

// ANCHOR: tally
/// What loader processes loaded, all together
/// ([`ch07_polite_loaders`](crate::ch07_polite_loaders)). Plain numbers in a `#[repr(C)]`
/// struct (`Pod`), so that it can live in shared memory.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Tally {
    /// Pages loaded.
    pub pages: u64,
    /// The length of their text in bytes, all pages together.
    pub bytes: u64,
    /// URLs that did not load.
    pub errors: u64,
}
// ANCHOR_END: tally

// ANCHOR: ledger
/// Pages and bytes ([`ch07_undo_log`](crate::ch07_undo_log)).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Totals {
    /// Pages added.
    pub pages: u64,
    /// Their bytes, all pages together.
    pub bytes: u64,
}

/// The totals, and what it takes to undo an update that a process began and did not
/// finish ([`ch07_undo_log`](crate::ch07_undo_log)), as in chapter 7.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Ledger {
    /// The totals.
    pub totals: Totals,
    /// A copy of `totals` made before the update under way.
    pub undo: Totals,
    /// 1 while an update is under way, else 0.
    pub updating: u64,
}
// ANCHOR_END: ledger
