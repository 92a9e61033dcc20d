//! `Process`: run a closure in a forked child, like Python's `multiprocessing.Process`
//! with the `fork` start method.
//!
//! The rules that make fork safe here:
//! - stdout and stderr are flushed before the fork, or text still in a buffer would be
//!   printed by both processes;
//! - the child runs the closure, flushes its own output and leaves with `_exit`: it never
//!   returns into the caller's code, and a panic never unwinds past the fork;
//! - in the parent, the closure (with everything it captured, pipe ends included) is
//!   dropped right after the fork, so the parent keeps no copy of the child's ends;
//! - the child closes the pipe ends marked
//!   [`set_inheritable(false)`](crate::Connection::set_inheritable), which belong to the parent;
//! - every child is reaped: by `join`, or by `Drop`, which kills a child still running.

use std::any::Any;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::connection::ForkGuard;
use crate::error::{Error, Result};

/// The exit code of a child whose closure panicked (Rust's own code for a panicking
/// `main`; Python uses 1 for an uncaught exception).
///
/// ```
/// let mut p = ipc::Process::new(|| panic!("no page today"));
/// p.start()?;
/// assert_eq!(p.join()?, ipc::PANIC_EXIT_CODE);
/// # Ok::<(), ipc::Error>(())
/// ```
pub const PANIC_EXIT_CODE: i32 = 101;

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
/// the child to finish.
pub struct Process {
    target: Option<Box<dyn FnOnce() -> i32>>,
    child: Option<Child>,
}

impl Process {
    /// A process that will run `target` once started. The child's exit code is 0 when
    /// `target` returns, [`PANIC_EXIT_CODE`] if it panics.
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
            target: Some(Box::new(target)),
            child: None,
        }
    }

    /// Forks the child, which runs the target and exits. Python: `p.start()`.
    ///
    /// ```
    /// let mut p = ipc::Process::new(|| ());
    /// p.start()?;
    /// assert!(p.start().is_err()); // only once
    /// # p.join()?;
    /// # Ok::<(), ipc::Error>(())
    /// ```
    pub fn start(&mut self) -> Result<()> {
        let target = self.target.take().ok_or(Error::AlreadyStarted)?;
        self.child = Some(Child::spawn(target)?);
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
        self.child.as_ref().map(|c| c.pid.as_raw())
    }

    /// Waits for the child to exit and returns its [`exitcode`](Self::exitcode).
    /// Python: `p.join()`.
    ///
    /// ```
    /// let mut p = ipc::Process::with_exit_code(|| 3);
    /// p.start()?;
    /// assert_eq!(p.join()?, 3);
    /// # Ok::<(), ipc::Error>(())
    /// ```
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
            Some(child) => Ok(child.try_wait()?.is_none()),
        }
    }

    /// Python's `p.exitcode`: `None` while the child runs (or before start), `0` after a
    /// normal end, `N` after `exit(N)` or [`with_exit_code`](Self::with_exit_code),
    /// [`PANIC_EXIT_CODE`] after a panic, and `-SIG` when
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
    /// child has already been reaped.
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

/// A forked child that has not been reaped yet, and its exit code once it has.
/// `Process` and the `Pool` workers are built on it.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) pid: Pid,
    exitcode: Option<i32>,
}

impl Child {
    /// Forks; the child runs `target` and `_exit`s with its code, never returning here.
    pub(crate) fn spawn(target: impl FnOnce() -> i32) -> Result<Child> {
        flush_stdio();
        let not_inherited = ForkGuard::lock();
        // SAFETY: the child only runs `target` and then leaves with `_exit`. Between fork
        // and exit it must not need a lock held by another thread of the parent: the
        // chapters and this crate's tests fork from single-threaded processes.
        match unsafe { fork() }? {
            ForkResult::Child => {
                not_inherited.close_in_child();
                let code = panic::catch_unwind(AssertUnwindSafe(target)).unwrap_or(PANIC_EXIT_CODE);
                flush_stdio();
                // SAFETY: `_exit` ends the process at once; nothing of the parent's code
                // runs again in the child, no destructor runs twice.
                unsafe { nix::libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                drop(not_inherited);
                // The parent's copy of the target (and of every pipe end it captured) goes
                // now: the child has its own, and EOF depends on no stray copies.
                drop(target);
                Ok(Child {
                    pid: child,
                    exitcode: None,
                })
            }
        }
    }

    /// Blocks until the child exits; reaps it.
    pub(crate) fn wait(&mut self) -> Result<i32> {
        loop {
            if let Some(code) = self.exitcode {
                return Ok(code);
            }
            self.reap(WaitPidFlag::empty())?;
        }
    }

    /// Reaps the child if it has exited, without blocking.
    pub(crate) fn try_wait(&mut self) -> Result<Option<i32>> {
        if self.exitcode.is_none() {
            self.reap(WaitPidFlag::WNOHANG)?;
        }
        Ok(self.exitcode)
    }

    /// `waitpid` has no timeout: poll it, sleeping a little longer each time (up to 10 ms).
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<i32>> {
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_micros(100);
        loop {
            if let Some(code) = self.try_wait()? {
                return Ok(Some(code));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(Duration::from_millis(10));
        }
    }

    /// Sends `signal`, unless the child is already reaped (its pid may belong to another
    /// process by now).
    pub(crate) fn signal(&mut self, signal: Signal) -> Result<()> {
        if self.exitcode.is_none() {
            signal::kill(self.pid, signal)?;
        }
        Ok(())
    }

    fn reap(&mut self, flags: WaitPidFlag) -> Result<()> {
        match waitpid(self.pid, Some(flags)) {
            Ok(WaitStatus::Exited(_, code)) => self.exitcode = Some(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => self.exitcode = Some(-(sig as i32)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.exitcode.is_none() {
            let _ = self.signal(Signal::SIGKILL);
            let _ = self.wait();
        }
    }
}

/// Writes out what Rust's stdout buffer holds (stderr has no buffer, but flushing it is
/// free). Errors are ignored: a closed stdout must not stop a fork or an exit.
fn flush_stdio() {
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
}

/// The text of a panic payload (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
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
