//! Starting a child that does nothing, and joining it: the fixed cost of one `Process`.
//!
//! The contenders alternate child by child, and a sample is the median child of its batch:
//! one start and join takes a few hundred microseconds, the machine's noise changes faster
//! than a batch would take, and some children take ten times the usual (when the scheduler
//! is slow to run the child or to wake the parent), which would swamp a batch's mean.

use crate::config::Config;
use crate::harness::{Contender, Result, Samples, alternate, per_op};
use crate::raw::RawChild;

/// The topic's key in samples, JSON lines and the Python script's output.
pub const TOPIC: &str = "start_join";
/// `ipc::Process::new(..)`, `start`, `join`.
pub const IPC: &str = "ipc::Process";
/// `fork`, `_exit(0)` in the child, `waitpid`.
pub const RAW: &str = "raw fork/_exit/waitpid";

/// One round: samples of `config.forks` children per contender, taking turns every child.
pub fn round(samples: &mut Samples, config: &Config, round: usize) -> Result {
    alternate(
        samples,
        TOPIC,
        round,
        config.reps,
        config.forks,
        &mut [
            Contender::new(RAW, || per_op(1, || RawChild::spawn(|| ())?.join())),
            Contender::new(IPC, || per_op(1, ipc)),
        ],
    )
}

fn ipc() -> Result {
    let mut p = ipc::Process::new(|| ());
    p.start()?;
    match p.join()? {
        0 => Ok(()),
        code => Err(format!("ipc child exited with {code}").into()),
    }
}
