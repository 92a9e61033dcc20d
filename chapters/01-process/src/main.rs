//! Chapter 1: load a URL in a child process. The Rust port of `url_loader.py`.
//!
//! Run it with no arguments to load the demo site's front page, or give URLs:
//! `cargo run -p ch01-process -- https://www.rust-lang.org`.

use std::process::ExitCode;

use ipc::Process;
use loader::{Targets, exit_status, load_url};

// ANCHOR: load_and_print
/// The child's work: load the page and print it. Python's `load_url` printed the page
/// too; a failure is one line on stderr and exit code 1, where Python shows a traceback.
fn load_and_print(url: &str) -> i32 {
    match load_url(url) {
        Ok(page) => {
            println!("{}", page.html);
            0
        }
        Err(e) => {
            // One write for the whole line: the parent prints meanwhile.
            loader::eprint_line(format_args!("error: {e}"));
            1
        }
    }
}
// ANCHOR_END: load_and_print

// ANCHOR: main
fn main() -> Result<ExitCode, loader::Fatal> {
    loader::end_quietly_when_output_closes(); // `| head` ends it as it ends `cat`
    let targets = Targets::from_args_or_demo(&["/"])?;
    let mut all_loaded = true;
    for url in targets.urls {
        println!("Spawning a new process to load the url");
        let mut process = Process::with_exit_code(move || load_and_print(&url));
        process.start()?;
        println!("Waiting for the spawned process to exit");
        all_loaded &= process.join()? == 0;
    }
    println!("Exiting…");
    Ok(exit_status(all_loaded))
}
// ANCHOR_END: main
