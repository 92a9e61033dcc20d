//! Break it yourself: fork copies the whole memory but only the thread that called it. A
//! lock that another thread held at that moment is copied locked, and no thread in the
//! child will ever unlock it.
//! `cargo run -p ch01-fork-pitfalls --bin fork_with_threads`

use std::io;
use std::sync::mpsc;
use std::thread;

use ch01_fork_pitfalls::{exit_child, give_up_after_hang_limit, wait_and_tell};
use ipc::Process;
use nix::unistd::{ForkResult, fork};

fn main() -> Result<(), loader::Fatal> {
    loader::end_quietly_when_output_closes();
    println!("A bare fork while another thread holds stdout's lock:");
    bare_fork()?;
    println!("ipc's Process, while another thread runs:");
    with_ipc()?;
    Ok(())
}

// ANCHOR: bare
/// Forks while a second thread holds stdout's lock; the child then prints.
fn bare_fork() -> anyhow::Result<()> {
    let (locked, wait_until_locked) = mpsc::channel();
    let (release, wait_for_release) = mpsc::channel::<()>();
    let printer = thread::spawn(move || {
        let _stdout = io::stdout().lock(); // a thread in the middle of printing
        locked.send(()).unwrap();
        wait_for_release.recv().unwrap();
    });
    wait_until_locked.recv()?;
    // SAFETY: this is the mistake the program shows: the process has two threads, so the
    // child may only call async-signal-safe functions, and `println!` is not one. Here
    // the harm is bounded: the only lock held by the other thread is stdout's, the child
    // waits on it, and alarm(2) ends the child a second later. A real program uses
    // `ipc::Process`, which refuses to fork while other threads run.
    match unsafe { fork() }? {
        ForkResult::Child => {
            give_up_after_hang_limit();
            println!("The child prints."); // waits for stdout's lock, which nobody will free
            exit_child(0);
        }
        ForkResult::Parent { child } => {
            release.send(())?;
            printer.join().expect("the printer thread does not panic");
            wait_and_tell(child, "stdout's lock")?;
        }
    }
    Ok(())
}
// ANCHOR_END: bare

// ANCHOR: ipc
/// The same with `ipc`: refused while the other thread runs, started once it is joined.
fn with_ipc() -> anyhow::Result<()> {
    let (stop, wait_for_stop) = mpsc::channel::<()>();
    let worker = thread::spawn(move || wait_for_stop.recv());
    let mut process = Process::new(|| println!("The child prints."));
    if let Err(refused) = process.start() {
        println!("start: {refused}");
    }
    stop.send(())?;
    worker.join().expect("the worker thread does not panic")?;
    println!("ipc's Process, once that thread is joined:");
    let mut process = Process::new(|| println!("The child prints."));
    process.start()?;
    process.join()?;
    Ok(())
}
// ANCHOR_END: ipc
