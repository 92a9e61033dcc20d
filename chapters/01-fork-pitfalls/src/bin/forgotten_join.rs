//! Break it yourself: a child that has exited stays in the process table, as a *zombie*,
//! until its parent collects its exit status with `waitpid`. A parent that never does
//! leaves one zombie per child.
//! `cargo run -p ch01-fork-pitfalls --bin forgotten_join`

use std::time::Duration;

use ch01_fork_pitfalls::exit_child;
use ipc::Process;
use nix::sys::wait::{Id, WaitPidFlag, waitid, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

fn main() -> Result<(), loader::Fatal> {
    loader::end_quietly_when_output_closes();
    println!("A bare fork, and no waitpid yet:");
    bare_fork()?;
    println!("ipc's Process, dropped without join:");
    with_ipc()?;
    Ok(())
}

// ANCHOR: bare
/// Forks a child that exits at once, and looks at it before and after `waitpid`.
fn bare_fork() -> nix::Result<()> {
    // SAFETY: in a process with several threads, a forked child may only call
    // async-signal-safe functions; this program starts no thread, so its child may run any
    // code. A bare fork will do for a demonstration whose child lives in the arm below and
    // leaves with `_exit`; a real program uses `ipc::Process`, which checks the rules.
    let child = match unsafe { fork() }? {
        ForkResult::Child => exit_child(0), // its work is done at once
        ForkResult::Parent { child } => child,
    };
    wait_for_exit_without_reaping(child)?;
    println!("process {child} has exited, and is {}", state(child));
    waitpid(child, None)?; // collects its exit status: the kernel forgets it now
    println!("after waitpid, process {child} is {}", state(child));
    Ok(())
}
// ANCHOR_END: bare

// ANCHOR: ipc
/// The same with `ipc`, and a child that is still running when its `Process` is dropped.
fn with_ipc() -> anyhow::Result<()> {
    let mut quick = Process::new(|| ()); // its work is done at once
    quick.start()?;
    let pid = Pid::from_raw(quick.pid().expect("started"));
    wait_for_exit_without_reaping(pid)?;
    println!("process {pid} has exited, and is {}", state(pid));
    drop(quick); // no join: dropping a Process reaps its child
    println!("after the drop, process {pid} is {}", state(pid));

    let mut slow = Process::new(|| std::thread::sleep(Duration::from_secs(60)));
    slow.start()?;
    let pid = Pid::from_raw(slow.pid().expect("started"));
    println!("process {pid} is {}", state(pid));
    drop(slow); // no join: the drop kills the child (SIGKILL), then reaps it
    println!("after the drop, process {pid} is {}", state(pid));
    Ok(())
}
// ANCHOR_END: ipc

/// Waits until `child` has exited, but leaves it in the process table (`WNOWAIT`), so that
/// `/proc` can show it as a zombie.
fn wait_for_exit_without_reaping(child: Pid) -> nix::Result<()> {
    waitid(Id::Pid(child), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT).map(drop)
}

/// What the kernel says of process `pid`: the state letter in `/proc/PID/stat` (the field
/// after the command name in parentheses), in words.
fn state(pid: Pid) -> &'static str {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return "gone: /proc has no entry for it";
    };
    match stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
    {
        Some('Z') => "a zombie (state Z)",
        _ => "alive",
    }
}
