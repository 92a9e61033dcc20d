//! Break it yourself: fork copies every value, and each process drops its own copy. For
//! memory and descriptors that is right: each process frees its own. A destructor that
//! acts *outside* the process (flushes into a shared file, deletes a folder) acts twice.
//! `cargo run -p ch01-fork-pitfalls --bin destructor_twice`

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ch01_fork_pitfalls::exit_child;
use ipc::{Pool, Process};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};
use tempfile::TempDir;

fn main() -> Result<(), loader::Fatal> {
    loader::end_quietly_when_output_closes();
    let scratch = tempfile::tempdir()?;
    println!("A bare fork, with a line waiting in a BufWriter for the log file:");
    bare_fork(&scratch.path().join("log.txt"))?;
    println!("ipc's Process, with a TempDir moved into the closure:");
    tempdir_moved()?;
    println!("ipc's Process, with the TempDir kept by the parent and its path moved:");
    tempdir_kept()?;
    println!("ipc's Pool, with a TempDir per item:");
    pool_of_tempdirs()?;
    Ok(())
}

// ANCHOR: bare
/// Writes a line into a `BufWriter` for the file at `path`, then forks; each process
/// drops its copy of the `BufWriter`, which writes out its buffer.
fn bare_fork(path: &Path) -> anyhow::Result<()> {
    let mut log = BufWriter::new(File::create(path)?);
    writeln!(log, "loading /")?; // waits in the BufWriter's buffer, in this process's memory
    // SAFETY: in a process with several threads, a forked child may only call
    // async-signal-safe functions; this program starts no thread, so its child may run any
    // code. A bare fork will do for a demonstration whose child lives in the arm below and
    // leaves with `_exit`; a real program uses `ipc::Process`, which checks the rules.
    match unsafe { fork() }? {
        ForkResult::Child => {
            let _ = writeln!(log, "the child loaded /");
            drop(log); // the child's copy writes out its buffer: both lines
            exit_child(0);
        }
        ForkResult::Parent { child } => {
            waitpid(child, None)?;
            writeln!(log, "the parent is done")?;
            drop(log); // the parent's copy writes out the same first line again
        }
    }
    print!("{}", fs::read_to_string(path)?);
    Ok(())
}
// ANCHOR_END: bare

// ANCHOR: process
/// The child saves a page in a folder that the closure took: the parent's copy of the
/// closure, dropped right after the fork, deletes the folder first.
fn tempdir_moved() -> ipc::Result<()> {
    let folder = tempfile::tempdir()?;
    let mut process = Process::with_exit_code(move || save_page(folder.path()));
    process.start()?; // the parent drops its copy of the closure, `folder` with it
    process.join()?;
    Ok(())
}

/// The same, with one owner: the parent keeps the folder, the closure takes its path.
fn tempdir_kept() -> ipc::Result<()> {
    let folder = tempfile::tempdir()?;
    let path = folder.path().to_path_buf();
    let mut process = Process::with_exit_code(move || save_page(&path));
    process.start()?;
    process.join()?;
    let files = fs::read_dir(folder.path())?.count();
    println!("The parent finds {files} file in the folder.");
    Ok(()) // `folder` goes here: its one owner deletes it, once
}
// ANCHOR_END: process

// ANCHOR: pool
/// Three folders, one per item of a `Pool::map`: each is dropped once, by the worker whose
/// chunk holds it, when `f` is done with it.
fn pool_of_tempdirs() -> anyhow::Result<()> {
    let folders: Vec<TempDir> = (0..3)
        .map(|_| tempfile::tempdir())
        .collect::<Result<_, _>>()?;
    let paths: Vec<PathBuf> = folders.iter().map(|f| f.path().to_path_buf()).collect();
    let saved = Pool::new(2).map(|folder: TempDir| save_page(folder.path()) == 0, folders)?;
    let saved = saved.iter().filter(|&&ok| ok).count();
    let left = paths.iter().filter(|path| path.exists()).count();
    println!("{saved} of 3 pages saved; {left} of the 3 folders left.");
    Ok(())
}
// ANCHOR_END: pool

/// A child's work: saves a page in `folder`; the exit code says whether it could.
fn save_page(folder: &Path) -> i32 {
    match fs::write(folder.join("index.html"), "<html></html>\n") {
        Ok(()) => {
            println!("saved index.html");
            0
        }
        Err(e) => {
            println!("cannot save index.html: {e}");
            1
        }
    }
}
