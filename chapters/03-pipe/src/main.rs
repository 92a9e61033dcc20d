//! Chapter 3: a two-way pipe. The Rust port of `url_load_pipe.py`: the parent sends the
//! URL down the pipe, the child sends back the page (or why it did not load).
//!
//! Run it with no arguments to load the demo site's front page, or give URLs:
//! `cargo run -p ch03-pipe -- URL…`.

use std::process::ExitCode;

use ipc::{Connection, Pipe, Process};
use loader::{LoadError, Page, Targets, exit_status, load_url};

// ANCHOR: load_for_parent
/// The child's side of the pipe: one URL in, one `Result` out. Both directions carry typed
/// messages, as Python's `send` and `recv` carry pickled objects.
fn load_for_parent(conn: &mut Connection) -> ipc::Result<()> {
    let url: String = conn.recv()?;
    conn.send(&load_url(&url))
}
// ANCHOR_END: load_for_parent

// ANCHOR: main
fn main() -> Result<ExitCode, loader::Fatal> {
    loader::end_quietly_when_output_closes(); // `| head` ends it as it ends `cat`
    let targets = Targets::from_args_or_demo(&["/"])?;
    let mut all_loaded = true;
    for url in targets.urls {
        let (mut parent_conn, mut child_conn) = Pipe::new()?;
        let mut process = Process::new(move || {
            load_for_parent(&mut child_conn).expect("the pipe to the parent works")
        });
        println!("Spawning a new process to load the url");
        process.start()?;
        parent_conn.send(&url)?;
        println!("Waiting for the spawned process to send the data");
        match parent_conn.recv::<Result<Page, LoadError>>()? {
            Ok(page) => println!("{}", page.html),
            Err(e) => {
                eprintln!("error: {e}");
                all_loaded = false;
            }
        }
        process.join()?;
    }
    println!("Exiting…");
    Ok(exit_status(all_loaded))
}
// ANCHOR_END: main
