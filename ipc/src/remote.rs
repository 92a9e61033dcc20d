//! A child that is told what to run: the other side of the forkserver and spawn start
//! methods, and of the long-lived pool's workers whatever the method.
//!
//! A forked child can run a closure because it has a copy of the parent's memory. A child
//! of the forkserver, or a fresh copy of the program, has not: it gets a connection to its
//! parent, receives a [`Request`] (a plain function, by its place in the program, and its
//! arguments, encoded), and answers [`Reply::Ready`] once it knows it can run it.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::poll::{PollFd, PollFlags};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::call::{Call, Failure};
use crate::child::Child;
use crate::connection::{Connection, Until};
use crate::context::StartMethod;
use crate::deadline::poll_until;
use crate::error::{Error, Result};
use crate::fork::{PANIC_EXIT_CODE, fork};
use crate::process::describe_exitcode;
use crate::{descriptor, forkserver, heap, panics, spawn};

/// A call and its arguments, encoded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    pub(crate) call: Call,
    pub(crate) args: ByteBuf,
}

/// What a child is asked to do.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Run one job and exit: a [`Process`](crate::Process). Its exit code says how it went.
    Run(Job),
    /// Run the initializer, then jobs until the connection closes (or `max_tasks` are done):
    /// a worker of a [`WorkerPool`](crate::WorkerPool).
    Serve {
        initializer: Option<Job>,
        max_tasks: Option<u64>,
    },
}

/// What a child answers.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// A worker's initializer is about to run: if the worker ends before it is ready, its
    /// initializer ended it.
    Initializing,
    /// The request can run here (for a worker: its initializer has run).
    Ready,
    /// It cannot: the reason.
    Refused(String),
    /// A job's result, encoded, or why there is none.
    Done(Result<ByteBuf, Failure>),
}

/// Starts a child with `method` that runs [`child_main`] over a new connection, with copies
/// of `descriptors` (those the request's arguments hold), sends it `request`, and waits for
/// it to be ready. Returns the child and this end of the connection.
pub(crate) fn start(
    method: StartMethod,
    request: &Request,
    descriptors: &[OwnedFd],
) -> Result<(Child, Connection)> {
    let (mut child, mut conn) = begin(method, request, descriptors)?;
    let mut starting = Starting::new(method);
    while !starting.answered(receive_reply(&mut conn, &child), &mut child)? {}
    Ok((child, conn))
}

/// [`start`] without the wait: the child is started and has the request; its answers
/// come on the connection, for [`Starting::answered`].
pub(crate) fn begin(
    method: StartMethod,
    request: &Request,
    descriptors: &[OwnedFd],
) -> Result<(Child, Connection)> {
    let (ours, theirs) = UnixStream::pair()?;
    let mut conn = Connection::from_fd(ours.into());
    // Other children of this process must not keep this end, or a worker would never see
    // the end of its connection.
    conn.set_inheritable(false);
    let theirs: OwnedFd = theirs.into();
    let child = match method {
        StartMethod::Fork => {
            let copies = descriptors
                .iter()
                .map(OwnedFd::try_clone)
                .collect::<std::io::Result<Vec<_>>>()?;
            let mut target = Some(move || child_main(Connection::from_fd(theirs), copies));
            fork(&mut target)?
        }
        StartMethod::Forkserver => forkserver::start_child(theirs, descriptors)?,
        StartMethod::Spawn => spawn::start_child(theirs, descriptors)?,
    };
    conn.send(request)?;
    Ok((child, conn))
}

/// A child started by [`begin`] that has not said yet that it is ready.
#[derive(Debug)]
pub(crate) struct Starting {
    method: StartMethod,
    /// Whether it said that its initializer runs.
    initializing: bool,
}

impl Starting {
    pub(crate) fn new(method: StartMethod) -> Starting {
        Starting {
            method,
            initializing: false,
        }
    }

    /// Takes the child's next reply (or failure to reply): `true` once it is ready,
    /// `false` while its initializer runs, or why it cannot run what it was asked.
    pub(crate) fn answered(&mut self, reply: Result<Reply>, child: &mut Child) -> Result<bool> {
        match reply {
            Ok(Reply::Initializing) if !self.initializing => {
                self.initializing = true;
                Ok(false)
            }
            Ok(Reply::Ready) => Ok(true),
            Ok(Reply::Refused(why)) => Err(Error::Refused(why)),
            Ok(_) => Err(Error::Decode("a reply out of turn".into())),
            Err(Error::Closed) if self.initializing => {
                let ended = match child.end_within(EXIT_GRACE) {
                    Ok(Some(code)) => describe_exitcode(code),
                    _ => "it ended".into(),
                };
                Err(Error::Refused(format!(
                    "the initializer ended the worker ({ended})"
                )))
            }
            // It ended before it read the request: a spawned copy of the program that does
            // not call `spawn::init`, most likely.
            Err(Error::Closed) if self.method == StartMethod::Spawn => {
                Err(Error::SpawnNotInitialized)
            }
            Err(e) => Err(e),
        }
    }
}

/// How long a child that closed its connection while starting may take to exit.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The next reply of `child` on `conn`; [`Error::Closed`] if the child exits first, even if
/// a process it started keeps the connection open.
pub(crate) fn receive_reply(conn: &mut Connection, child: &Child) -> Result<Reply> {
    if !conn.has_buffered() {
        let mut fds = [
            PollFd::new(conn.as_fd(), PollFlags::POLLIN),
            PollFd::new(child.pidfd(), PollFlags::POLLIN),
        ];
        poll_until(&mut fds, None)?;
        if !fds[0].any().unwrap_or(false) {
            return Err(Error::Closed);
        }
    }
    conn.recv_until(Until::WriterExits(child.pidfd()))
}

/// What a child started by [`start`] runs: receive the request, say whether it can run,
/// run it, with `descriptors` for its arguments. Returns the exit code.
pub(crate) fn child_main(mut conn: Connection, descriptors: Vec<OwnedFd>) -> i32 {
    let request = match conn.recv::<Request>() {
        Ok(request) => request,
        Err(_) => return 1, // the parent is gone, or sent something else
    };
    match request {
        Request::Run(job) => {
            if let Err(e) = job.call.check() {
                let _ = conn.send(&Reply::Refused(e.to_string()));
                return 1;
            }
            if conn.send(&Reply::Ready).is_err() {
                return 1;
            }
            drop(conn);
            match descriptor::with_received(descriptors, || job.call.run(&job.args)) {
                Ok(Ok(_)) => 0,
                // The default panic hook has printed the message, as for a forked child.
                Ok(Err(Failure::Panicked(_))) => PANIC_EXIT_CODE,
                Ok(Err(failure)) => {
                    eprintln!("ipc: the call could not run: {failure}");
                    1
                }
                Err(e) => {
                    eprintln!("ipc: {e}");
                    1
                }
            }
        }
        Request::Serve {
            initializer,
            max_tasks,
        } => serve(conn, initializer, max_tasks, descriptors),
    }
}

/// A pool worker: run the initializer, say ready, then run jobs until the connection closes
/// or `max_tasks` are done.
fn serve(
    mut conn: Connection,
    initializer: Option<Job>,
    max_tasks: Option<u64>,
    descriptors: Vec<OwnedFd>,
) -> i32 {
    panics::report_quietly();
    if let Some(job) = initializer {
        if conn.send(&Reply::Initializing).is_err() {
            return 1;
        }
        let refused = match descriptor::with_received(descriptors, || job.call.run(&job.args)) {
            Ok(Ok(_)) => None,
            Ok(Err(failure)) => Some(failure.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = refused {
            let _ = conn.send(&Reply::Refused(format!("the initializer failed: {why}")));
            return 1;
        }
    }
    if conn.send(&Reply::Ready).is_err() {
        return 1;
    }
    heap::keep_freed_memory();
    let mut done = 0;
    loop {
        let job = match conn.recv::<Job>() {
            Ok(job) => job,
            Err(Error::Closed) => return 0, // the pool is done with this worker
            Err(_) => return 1,
        };
        let result = match job.call.run(&job.args) {
            Ok(result) => result.map(ByteBuf::from),
            Err(e) => Err(Failure::codec(e)),
        };
        let queued = match conn.send_later(&Reply::Done(result)) {
            Err(Error::TooLarge { len, .. }) => {
                conn.send_later(&Reply::Done(Err(Failure::TooLarge(len))))
            }
            other => other,
        };
        // At once: the next job may take long, or kill this worker.
        let sent = queued.and_then(|()| conn.flush());
        if sent.is_err() {
            return 1;
        }
        done += 1;
        if max_tasks == Some(done) {
            return 0; // the pool replaces a worker that leaves
        }
    }
}
