//! Starting a child that does nothing, and joining it: the fixed cost of one `Process`.
//!
//! The contenders alternate child by child, and a sample is the median child of its batch:
//! one start and join takes a few hundred microseconds, the machine's noise changes faster
//! than a batch would take, and some children take ten times the usual (when the scheduler
//! is slow to run the child or to wake the parent), which would swamp a batch's mean.

use ipc::{StartMethod, get_context};

use crate::config::Config;
use crate::harness::{Contender, Result, Samples, alternate, per_op};
use crate::python::{self, Python, Request};
use crate::raw::RawChild;

/// The topic's key in samples, JSON lines and the Python script's output.
pub const TOPIC: &str = "start_join";
/// The topic of the forkserver method: ipc's against Python's.
pub const FORKSERVER_TOPIC: &str = "start_join_forkserver";
/// The topic of the spawn method: ipc's against Python's.
pub const SPAWN_TOPIC: &str = "start_join_spawn";
/// `ipc::Process::new(..)`, `start`, `join`.
pub const IPC: &str = "ipc::Process";
/// `get_context(Forkserver).process(noop, ())`, `start`, `join`.
pub const IPC_FORKSERVER: &str = "ipc Process (forkserver)";
/// `get_context(Spawn).process(noop, ())`, `start`, `join`.
pub const IPC_SPAWN: &str = "ipc Process (spawn)";
/// `fork`, `_exit(0)` in the child, `waitpid`.
pub const RAW: &str = "raw fork/_exit/waitpid";

/// One round: samples of `config.forks` children per contender, taking turns every child;
/// then the forkserver and spawn methods, `config.spawns` children per sample. Python's
/// samples of each method follow `ipc`'s, with fewer children (`config.python_forks`,
/// `config.python_spawns`): its children take several times as long, a spawned one
/// about a tenth of a second.
pub fn round(
    samples: &mut Samples,
    config: &Config,
    round: usize,
    python: Option<&Python>,
) -> Result {
    alternate(
        samples,
        TOPIC,
        round,
        config.reps,
        config.forks,
        &mut [
            Contender::new(RAW, || per_op(1, || RawChild::spawn(|| ())?.join())),
            Contender::new(IPC, || per_op(1, || joined(ipc::Process::new(|| ())))),
        ],
    )?;
    python_sample(samples, config, round, python, TOPIC, python::FORK)?;
    // The forkserver runs only for its own topic. While it runs, each fork of this process
    // hands its child the list of pipe ends to let go of (the server's among them), which
    // costs the plain `Process` a socketpair and two wake-ups; a program that forks without
    // a forkserver does not pay that, and neither should the `fork` topic.
    ipc::forkserver::start()?;
    let forkserver = measure_method(
        samples,
        config,
        round,
        FORKSERVER_TOPIC,
        IPC_FORKSERVER,
        StartMethod::Forkserver,
    );
    ipc::forkserver::stop();
    forkserver?;
    let (topic, contender) = (FORKSERVER_TOPIC, python::FORKSERVER);
    python_sample(samples, config, round, python, topic, contender)?;
    measure_method(
        samples,
        config,
        round,
        SPAWN_TOPIC,
        IPC_SPAWN,
        StartMethod::Spawn,
    )?;
    let (topic, contender) = (SPAWN_TOPIC, python::SPAWN);
    python_sample(samples, config, round, python, topic, contender)
}

/// Python's samples of a topic (if there is a Python): one request per child, and the
/// median child of each sample, as for `ipc`.
fn python_sample(
    samples: &mut Samples,
    config: &Config,
    round: usize,
    python: Option<&Python>,
    topic: &str,
    contender: &str,
) -> Result {
    let Some(python) = python else {
        return Ok(());
    };
    let children = if contender == python::FORK {
        config.python_forks
    } else {
        config.python_spawns
    };
    alternate(
        samples,
        topic,
        round,
        config.reps,
        children,
        &mut [python.contender(Request::new(topic, contender, 1))],
    )
}

/// Samples of `config.spawns` children per sample, started with `method`.
fn measure_method(
    samples: &mut Samples,
    config: &Config,
    round: usize,
    topic: &str,
    contender: &'static str,
    method: StartMethod,
) -> Result {
    let ctx = get_context(method);
    alternate(
        samples,
        topic,
        round,
        config.reps,
        config.spawns,
        &mut [Contender::new(contender, || {
            per_op(1, || joined(ctx.process(noop, ())?))
        })],
    )
}

/// The target of the forkserver and spawn children: nothing.
fn noop(_: ()) {}

/// Starts `p` and joins it; an error unless it exits with 0.
fn joined(mut p: ipc::Process) -> Result {
    p.start()?;
    match p.join()? {
        0 => Ok(()),
        code => Err(format!("ipc child exited with {code}").into()),
    }
}
