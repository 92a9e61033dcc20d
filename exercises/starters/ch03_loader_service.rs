//! # Exercise `ch03_loader_service`: a long-lived loader child
//!
//! Chapter 3's child loads one URL and exits. Make it a service instead: one child that
//! loads URL after URL for the parent, until the parent tells it to stop. The messages
//! are the two enums of `crate::types`: the parent sends `Request`s, the child answers
//! with `Reply`s.
//!
//! - [`serve`] is the child's loop. For each `Request::Load(url)` it loads the page with
//!   `loader::load_url` and replies `Reply::Loaded(page)` or `Reply::Failed(error)`. On
//!   `Request::Shutdown` it replies `Reply::Bye { served }`, the number of `Load`
//!   requests it answered, and returns 0. If the parent goes away instead (the pipe
//!   closes, `recv` fails) it returns 1 rather than wait forever.
//! - [`load_many`] is the parent: it starts one child running `serve` and sends it a
//!   `Load` for each URL, one at a time, keeping each reply; then it sends `Shutdown`,
//!   receives the `Bye`, joins the child, and returns all it saw as a `Session`.
//!
//! The checks talk to your `serve` from a parent of their own, then call `load_many`.
//!
//! Run the checks with `cargo exercise`; `cargo exercise hint` gives a hint.

use ipc::Connection;

use crate::types::Session;

/// The loader child's loop: answer each request on `conn` until told to shut down.
/// Returns the child's exit code: 0 after a `Shutdown`, 1 if the pipe closed or broke first.
pub fn serve(conn: Connection) -> i32 {
    // TODO: loop: `conn.recv::<Request>()`, and `match` on what arrives (you will need
    // `use crate::types::{Reply, Request};` at the top).
    drop(conn);
    todo!("serve requests until Shutdown")
}

/// Starts one loader child, has it load every URL, one request at a time, then shuts it
/// down.
pub fn load_many(urls: &[String]) -> ipc::Result<Session> {
    // TODO 1: a `Pipe`, and a child running `serve` on one end. `Process::with_exit_code`
    //         makes `serve`'s return value the child's exit code.
    // TODO 2: for each URL, send a `Request::Load` and receive the `Reply`.
    // TODO 3: send `Request::Shutdown`, receive the `Reply::Bye`, join the child.
    todo!("load {} URLs with one loader child", urls.len())
}
