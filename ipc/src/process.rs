//! `Process`: run a closure in a forked child, like Python's `multiprocessing.Process`
//! with the `fork` start method. The fork itself, and the rules that make it safe, are in
//! [`fork`](crate::fork); the child's lifetime (waiting, signals, reaping) in
//! [`Child`](crate::child::Child).

use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::child::Child;
use crate::connection::Waitable;
use crate::context::StartMethod;
use crate::error::{Error, Result};
use crate::fork::fork;
use crate::remote::{self, Job, Request};

/// A child process running a closure. Python: `Process(target=f, args=...)`.
///
/// Build it with [`new`](Self::new), then [`start`](Self::start) and [`join`](Self::join).
/// The closure is the target *and* its arguments: what it captures is what the child gets
/// (a copy of it, made by `fork`).
///
/// ```
/// use ipc::Process;
///
/// let mut p = Process::new(|| println!("hello from the child"));
/// p.start()?;
/// assert_eq!(p.join()?, 0);
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// Dropping a `Process` whose child still runs kills the child (`SIGKILL`) and reaps it,
/// so a forgotten `join` never leaves a zombie or a stray process: join first if you want
/// the child to finish. The child is also killed if this process dies first, so no child
/// outlives its parent (but one of the forkserver or spawn that replaces itself with
/// another program, with `exec`: see the [crate's docs](crate)).
///
/// # Fork duplicates ownership
///
/// The child gets a *copy* of what the closure captured; the parent's copy is dropped
/// right after the fork (closing, say, its copy of the child's pipe end). Each process
/// frees its own memory and closes its own descriptors, which is right. A value whose
/// destructor acts *outside* the process (deletes a folder like `tempfile::TempDir`, or
/// flushes a `BufWriter` to a shared file) would act twice: create such values inside the
/// closure instead. `ipc`'s own types know which process owns them: a `Process` copied
/// into another process does not kill or reap a child that is not its own.
pub struct Process {
    target: Option<Target>,
    child: Option<Child>,
}

/// A started process's end, for [`connection::wait`](crate::connection::wait): see
/// [`Process::sentinel`]. It borrows the `Process`, which cannot be joined or dropped
/// meanwhile; take it again after.
#[derive(Debug)]
pub struct Sentinel<'a>(BorrowedFd<'a>);

impl crate::connection::sealed::Sealed for Sentinel<'_> {}

impl Waitable for Sentinel<'_> {
    fn readable_fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.0)
    }

    fn ready_now(&self) -> bool {
        false
    }
}

/// What a process runs.
enum Target {
    /// A closure, in a forked child.
    Closure(Box<dyn FnOnce() -> i32>),
    /// A plain function and its arguments, sent to a child started with `method`, with
    /// the descriptors the arguments hold.
    Remote(StartMethod, Job, Vec<OwnedFd>),
}

impl Process {
    /// A process that will run `target` once started. The child's exit code is 0 when
    /// `target` returns, [`PANIC_EXIT_CODE`](crate::PANIC_EXIT_CODE) if it panics.
    ///
    /// ```
    /// let url = String::from("http://127.0.0.1/");
    /// let p = ipc::Process::new(move || println!("would load {url}"));
    /// assert_eq!(p.pid(), None); // not started yet
    /// ```
    pub fn new(target: impl FnOnce() + 'static) -> Process {
        Process::with_exit_code(move || {
            target();
            0
        })
    }

    /// A process whose exit code is what `target` returns, as `main`'s is for a program.
    /// Python's target would call `sys.exit(code)`.
    ///
    /// ```
    /// let mut p = ipc::Process::with_exit_code(|| if 2 + 2 == 4 { 0 } else { 1 });
    /// p.start()?;
    /// assert_eq!(p.join()?, 0);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn with_exit_code(target: impl FnOnce() -> i32 + 'static) -> Process {
        Process {
            target: Some(Target::Closure(Box::new(target))),
            child: None,
        }
    }

    /// A process that runs `job` in a child started with `method`: see
    /// [`Context::process`](crate::Context::process).
    pub(crate) fn remote(method: StartMethod, job: Job, descriptors: Vec<OwnedFd>) -> Process {
        Process {
            target: Some(Target::Remote(method, job, descriptors)),
            child: None,
        }
    }

    /// Forks the child, which runs the target and exits. Python: `p.start()`.
    ///
    /// # Fork safety
    ///
    /// A forked child has only the thread that forked it. If another thread held a lock at
    /// that moment (stdout's, the allocator's), the child would wait for it forever. So
    /// `start` refuses with [`Error::ThreadsRunning`] unless this process runs one thread:
    /// start processes before starting threads. See [fork(2)] and [signal-safety(7)].
    ///
    /// [fork(2)]: https://man7.org/linux/man-pages/man2/fork.2.html
    /// [signal-safety(7)]: https://man7.org/linux/man-pages/man7/signal-safety.7.html
    ///
    /// ```
    /// let mut p = ipc::Process::new(|| ());
    /// p.start()?;
    /// assert!(p.start().is_err()); // only once
    /// # p.join()?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn start(&mut self) -> Result<()> {
        // A refused or failed start leaves the target here: `start` can be tried again.
        // (Unless the child began at once and could not be watched: it was killed, and
        // the target, which it may have begun, went with it; see `fork`.)
        let child = match self.target.take() {
            None => return Err(Error::AlreadyStarted),
            Some(Target::Closure(closure)) => {
                let mut closure = Some(closure);
                let forked = fork(&mut closure);
                self.target = closure.map(Target::Closure); // `None` once forked
                forked?
            }
            Some(Target::Remote(method, job, fds)) => {
                match remote::start(method, &Request::Run(job.clone()), &fds) {
                    Ok((child, _conn)) => child,
                    Err(e) => {
                        self.target = Some(Target::Remote(method, job, fds));
                        return Err(e);
                    }
                }
            }
        };
        self.child = Some(child);
        Ok(())
    }

    /// The child's process id once started. Python: `p.pid`.
    ///
    /// ```
    /// let mut p = ipc::Process::new(|| ());
    /// p.start()?;
    /// assert!(p.pid().unwrap() > 0);
    /// # p.join()?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(Child::pid)
    }

    /// Ready, for [`connection::wait`](crate::connection::wait), once the child has ended
    /// (and for good: after the join too). Python: `p.sentinel`, which also raises before
    /// the start.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut p = ipc::Process::new(|| ());
    /// p.start()?;
    /// let ended = ipc::connection::wait(&[&p.sentinel()?], Some(Duration::from_secs(10)))?;
    /// assert_eq!(ended, [0]);
    /// # p.join()?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn sentinel(&self) -> Result<Sentinel<'_>> {
        let child = self.child.as_ref().ok_or(Error::NotStarted)?;
        // The pidfd, whoever reaps the child: readable from its exit on, for good. (A
        // forkserver child's status socket would not do: it is readable while the exit
        // code waits in it, and again only once the server has closed its end.)
        Ok(Sentinel(child.pidfd()))
    }

    /// Waits for the child to exit and returns its [`exitcode`](Self::exitcode).
    /// Python: `p.join()`. See [waitid(2)].
    ///
    /// [waitid(2)]: https://man7.org/linux/man-pages/man2/waitid.2.html
    ///
    /// ```
    /// let mut p = ipc::Process::with_exit_code(|| 3);
    /// p.start()?;
    /// assert_eq!(p.join()?, 3);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    #[doc(alias = "waitpid")]
    pub fn join(&mut self) -> Result<i32> {
        self.started()?.wait()
    }

    /// Waits at most `timeout`; `None` if the child is still running then.
    /// Python: `p.join(timeout)`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut p = ipc::Process::new(|| std::thread::sleep(Duration::from_secs(10)));
    /// p.start()?;
    /// assert_eq!(p.join_timeout(Duration::from_millis(10))?, None);
    /// p.terminate()?;
    /// assert_eq!(p.join()?, -15);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<i32>> {
        self.started()?.wait_timeout(timeout)
    }

    /// Whether the child has been started and has not exited yet. Python: `p.is_alive()`.
    ///
    /// ```
    /// let mut p = ipc::Process::new(|| ());
    /// assert!(!p.is_alive()?);
    /// p.start()?;
    /// p.join()?;
    /// assert!(!p.is_alive()?);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn is_alive(&mut self) -> Result<bool> {
        match &mut self.child {
            None => Ok(false),
            Some(child) => child.is_alive(),
        }
    }

    /// Python's `p.exitcode`: `None` while the child runs (or before start), `0` after a
    /// normal end, `N` after `exit(N)` or [`with_exit_code`](Self::with_exit_code),
    /// [`PANIC_EXIT_CODE`](crate::PANIC_EXIT_CODE) after a panic, and `-SIG` when
    /// a signal killed it (`-15` after [`terminate`](Self::terminate)).
    ///
    /// ```
    /// let mut p = ipc::Process::with_exit_code(|| 7);
    /// assert_eq!(p.exitcode()?, None);
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode()?, Some(7));
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn exitcode(&mut self) -> Result<Option<i32>> {
        match &mut self.child {
            None => Ok(None),
            Some(child) => child.try_wait(),
        }
    }

    /// Asks the child to stop with `SIGTERM`. Python: `p.terminate()`. Does nothing if the
    /// child has already exited: the signal goes through a pidfd, which names this child
    /// and never a later process that got its pid.
    ///
    /// ```
    /// let mut p = ipc::Process::new(|| loop { std::hint::spin_loop() });
    /// p.start()?;
    /// p.terminate()?;
    /// assert_eq!(p.join()?, -15);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn terminate(&mut self) -> Result<()> {
        self.started()?.signal(Signal::SIGTERM)
    }

    /// Kills the child with `SIGKILL`, which it cannot catch. Python: `p.kill()`.
    ///
    /// ```
    /// let mut p = ipc::Process::new(|| loop { std::hint::spin_loop() });
    /// p.start()?;
    /// p.kill()?;
    /// assert_eq!(p.join()?, -9);
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn kill(&mut self) -> Result<()> {
        self.started()?.signal(Signal::SIGKILL)
    }

    fn started(&mut self) -> Result<&mut Child> {
        self.child.as_mut().ok_or(Error::NotStarted)
    }
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

/// Says what an exit code in [`Process::exitcode`]'s meaning stands for, for messages.
///
/// ```
/// assert_eq!(ipc::describe_exitcode(0), "exit code 0");
/// assert_eq!(ipc::describe_exitcode(-9), "killed by SIGKILL");
/// ```
pub fn describe_exitcode(code: i32) -> String {
    match Signal::try_from(-code) {
        Ok(sig) if code < 0 => format!("killed by {}", sig.as_str()),
        _ => format!("exit code {code}"),
    }
}
