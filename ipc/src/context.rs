//! Start methods: how a new process begins. Python: `multiprocessing.get_context(method)`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::call::Call;
use crate::descriptor;
use crate::error::Result;
use crate::process::Process;
use crate::remote::Job;
use crate::worker_pool::WorkerPoolBuilder;

/// How a new process begins; see [`get_context`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartMethod {
    /// A copy of this process (`fork`): fast, any closure, one thread only.
    Fork,
    /// A copy of the forkserver, forked from it.
    Forkserver,
    /// A fresh copy of the program (`/proc/self/exe`).
    Spawn,
}

impl StartMethod {
    /// Every method, in Python's order.
    pub const ALL: [StartMethod; 3] = [
        StartMethod::Fork,
        StartMethod::Forkserver,
        StartMethod::Spawn,
    ];

    /// Python's name for it.
    ///
    /// ```
    /// assert_eq!(ipc::StartMethod::Forkserver.name(), "forkserver");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Forkserver => "forkserver",
            StartMethod::Spawn => "spawn",
        }
    }
}

impl std::fmt::Display for StartMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Starts processes and pools with one [`StartMethod`]. Python: the context that
/// `multiprocessing.get_context(method)` returns.
///
/// ```
/// use ipc::{StartMethod, get_context};
///
/// fn greet(name: String) {
///     println!("hello, {name}");
/// }
///
/// let ctx = get_context(StartMethod::Forkserver);
/// let mut p = ctx.process(greet, "forkserver".to_string())?;
/// p.start()?;
/// assert_eq!(p.join()?, 0);
/// # ipc::forkserver::stop();
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

/// The context of `method`. Python: `multiprocessing.get_context(method)`.
///
/// | Python | here | the new process is | its target |
/// |---|---|---|---|
/// | `get_context("fork")` | [`StartMethod::Fork`] | a copy of this process, made now | any closure ([`Process::new`]) |
/// | `get_context("forkserver")` | [`StartMethod::Forkserver`] | a copy of the [forkserver](crate::forkserver), made when the program had one thread | a plain `fn` and its arguments |
/// | `get_context("spawn")` | [`StartMethod::Spawn`] | a fresh copy of the program, whose `main` begins with [`spawn::init`](crate::spawn::init) | a plain `fn` and its arguments |
///
/// Fork is the fastest and takes any closure, but only works from a process with one
/// thread. The other two work from any process: the function goes by its place in the
/// program and the arguments are encoded with serde, as Python pickles a function by its
/// name and its arguments by value.
pub fn get_context(method: StartMethod) -> Context {
    Context { method }
}

impl Context {
    /// Its start method.
    pub fn method(&self) -> StartMethod {
        self.method
    }

    /// A process that will run `target(args)` once started. Python:
    /// `ctx.Process(target=target, args=(args,))`. With fork, `target` and `args` are
    /// simply captured; with the other methods the target goes by its place in the program
    /// and the arguments are encoded now, which fails if `target` is not in the program's
    /// own code ([`Error::NotInProgram`](crate::Error::NotInProgram)). The arguments may
    /// hold a [`Connection`](crate::Connection), a [`Queue`](crate::Queue) or any
    /// [`Descriptor`](crate::Descriptor): the new process gets its own copy.
    pub fn process<A>(&self, target: fn(A), args: A) -> Result<Process>
    where
        A: Serialize + DeserializeOwned + 'static,
    {
        if self.method == StartMethod::Fork {
            return Ok(Process::new(move || target(args)));
        }
        // The descriptors the arguments hold (a Connection, a Queue...) go with the process.
        let (encoded, descriptors) = descriptor::encode_args(&args)?;
        let job = Job {
            call: Call::one(target)?,
            args: encoded.into(),
        };
        Ok(Process::remote(self.method, job, descriptors))
    }

    /// A long-lived pool of `processes` workers started with this method. Python:
    /// `ctx.Pool(processes)`. Set its initializer and the tasks per worker on the builder,
    /// then [`start`](WorkerPoolBuilder::start) it.
    pub fn pool(&self, processes: usize) -> WorkerPoolBuilder {
        WorkerPoolBuilder::new(self.method, processes)
    }
}
