//! The forkserver start method: a small server process, forked while the program still
//! has one thread, forks every new process from then on. Python: `get_context("forkserver")`
//! (the default on Linux since Python 3.14).
//!
//! Forking is only safe from a process with one thread (see [`Process::start`](crate::Process::start)), and
//! most programs start threads sooner or later: a runtime, a logger, a thread pool. The
//! forkserver is forked before they do, and has only the one thread all its life, so it can
//! fork safely whatever the program does afterwards. Its children are copies of the
//! server, not of the program as it is now: they run a plain function with arguments that
//! serde can encode, sent to them over a socket by their place in the program.
//!
//! A child's standard input, output and error are those of the process that asked for it,
//! at the moment it asked (they travel with the request), not the server's: its output
//! goes where the program's output goes now.
//!
//! The server is the children's parent, so the server reaps them: it sends each child's
//! exit code to the process that asked for it, over a socket of that child's own. It also
//! sends a pidfd for the child, opened before the child can be reaped, so the asking
//! process can signal it without fear of a reused pid. The server dies with the program
//! (`PR_SET_PDEATHSIG`); each child dies with the process that asked for it (a
//! *lifeline*, one end of a socketpair that this process holds, and whose hang-up kills
//! the child: see `ipc/src/lifeline.rs`), and not with the server: a
//! server that is killed, or [`stop`]ped, leaves its children running, as Python's does.
//! They are adopted (by init, or the nearest subreaper), and their exit codes are lost:
//! a join waits for the child's end, then says [`Error::ExitStatusLost`] (unless this
//! process adopted the child, as a subreaper: then it reaps it, code and all). The next
//! start starts a new server.
//!
//! So the code comes a moment after the child has ended, which its pidfd tells at once:
//! once it has, [`exitcode`](crate::Process::exitcode) and
//! [`join_timeout`](crate::Process::join_timeout) wait up to a second for the server's
//! message. A server that is stopped (`SIGSTOP`) sends none: they return `None` after that
//! second, while [`is_alive`](crate::Process::is_alive) says `false`; `join` waits for
//! the server to go on. A start asked of a stopped server fails after a few seconds with
//! [`Error::ForkserverNotAnswering`]; so does a [`WorkerPool`](crate::WorkerPool)'s wait
//! that must start a replacement worker, whatever its own deadline (the pool's waits
//! read a worker's answers as they come, but the server's answer to a start is waited
//! for).
//!
//! The server is a fork of the program, but keeps nothing of the program's that a child
//! could trip over: none of its descriptors (a pipe end held in the server would keep
//! the pipe's reader from ever seeing the end of its stream), and `SIGCHLD`'s default
//! action even if the program ignores it (the kernel would reap the children first and
//! their codes would be lost). It blocks `SIGINT` (Python's server ignores it): a ^C at
//! the terminal reaches the server too, and must not end it and every process it started.
//! Each child gets the program's `SIGCHLD` action and signal mask back, as they were when
//! the server started (a `SIGINT` sent while it starts waits for them), and none of the
//! server's descriptors for its siblings: a child has as many descriptors however many
//! others run. Its limit of
//! open files is the program's when it started: [`stop`] it, and the next request starts
//! one with the program's limit of the day.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use nix::sys::prctl::set_pdeathsig;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{
    SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction, sigprocmask,
};
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, sendmsg, socketpair,
};
use nix::unistd::{Pid, dup2_stderr, dup2_stdin, dup2_stdout};

use crate::child::Child;
use crate::connection::Connection;
use crate::deadline::{deadline, poll_until};
use crate::error::{Error, Result};
use crate::fork::{Mark, fork};
use crate::lifeline;
use crate::remote;
use crate::rights::{self, Received};

/// The running server, if any: this process's line to it, and the server itself.
static SERVER: Mutex<Option<Server>> = Mutex::new(None);

#[derive(Debug)]
struct Server {
    requests: OwnedFd,
    /// This process's forked children let go of the line to the server.
    mark: Arc<Mark>,
    /// Dropping it kills and reaps the server (whose children run on).
    process: Child,
    /// A copy of the server's pidfd, for the processes it started: readable once the
    /// server has died and handed them over to their adopter.
    pidfd: Arc<OwnedFd>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.mark.remove();
    }
}

fn server() -> MutexGuard<'static, Option<Server>> {
    SERVER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts the forkserver, if it is not running yet. Call it first thing in `main`, before
/// any thread starts: the server is forked, so it needs a process with one thread (it
/// refuses with [`Error::ForkserverNotStarted`] otherwise). Without this call, the first
/// process started with the forkserver method starts it, if there is one thread then.
///
/// The server is a copy of this process as it is now, memory and all, but keeps none of
/// its descriptors (see the [module](self)).
///
/// ```
/// // First thing in `main`, before any thread:
/// ipc::forkserver::start()?;
/// // ...threads may start now; new processes come from the server
/// # ipc::forkserver::stop();
/// # Ok::<(), ipc::Error>(())
/// ```
pub fn start() -> Result<()> {
    running().map(drop)
}

/// The server's lock, with a server running: one is started if there is none (not with
/// the lock held: see [`fork_server`]).
fn running() -> Result<MutexGuard<'static, Option<Server>>> {
    let guard = server();
    if guard.is_some() {
        return Ok(guard);
    }
    drop(guard);
    let started = fork_server()?;
    let mut guard = server();
    guard.get_or_insert(started);
    Ok(guard)
}

/// The forkserver's process id, while it runs.
pub fn pid() -> Option<i32> {
    server().as_ref().map(|server| server.process.pid())
}

/// Stops the forkserver. The processes it started run on, but their exit codes are lost
/// (see the [module](self)). Another call of [`start`] starts a new server.
pub fn stop() {
    server().take();
}

/// Forks a new server. Never with [`SERVER`]'s lock held: the server and its children
/// would have it locked for good (a child that asks for the forkserver would wait for
/// ever). No other thread can start a server meanwhile: a fork needs a process with one.
fn fork_server() -> Result<Server> {
    let (requests, theirs) = seqpacket_pair()?;
    let mark = Mark::new(requests.as_fd());
    let mut target = Some(move || serve(theirs));
    let process = fork(&mut target).map_err(|e| match e {
        Error::ThreadsRunning { threads } => Error::ForkserverNotStarted { threads },
        e => e,
    });
    let process = match process {
        Ok(process) => process,
        Err(e) => {
            mark.remove();
            return Err(e);
        }
    };
    let pidfd = match process.pidfd().try_clone_to_owned() {
        Ok(pidfd) => Arc::new(pidfd),
        Err(e) => {
            mark.remove();
            return Err(e.into()); // dropping `process` kills and reaps the server
        }
    };
    Ok(Server {
        requests,
        mark,
        process,
        pidfd,
    })
}

/// How many descriptors go with every request: the child's connection, its status socket,
/// its lifeline, and the asker's standard input, output and error.
const REQUEST_DESCRIPTORS: usize = 6;

/// The most descriptors the arguments of one child may hold (the kernel takes at most 253
/// in one message).
const MAX_DESCRIPTORS: usize = 200;

/// How long a process waits for the server to answer a request: it forks at once, so
/// only a stopped server (or a machine overloaded past use) takes this long.
const SERVER_ANSWERS_WITHIN: Duration = Duration::from_secs(5);

/// Asks the server for a child that runs [`remote::child_main`] over `connection`, with
/// copies of `descriptors`.
pub(crate) fn start_child(connection: OwnedFd, descriptors: &[OwnedFd]) -> Result<Child> {
    if descriptors.len() > MAX_DESCRIPTORS {
        return Err(Error::Encode(format!(
            "the arguments hold {} descriptors; a process started by the forkserver can be \
             given {MAX_DESCRIPTORS}",
            descriptors.len()
        )));
    }
    let (status, theirs) = seqpacket_pair()?;
    let (lifeline, child_end) = lifeline::pair()?;
    let server = {
        // The child's connection, its status socket, its lifeline, and this process's
        // stdin, stdout and stderr, for the child to use as its own.
        check_stdio(connection.as_fd())?;
        let mut fds = vec![
            connection.as_raw_fd(),
            theirs.as_raw_fd(),
            child_end.as_raw_fd(),
            0,
            1,
            2,
        ];
        fds.extend(descriptors.iter().map(AsRawFd::as_raw_fd));
        // A server found dead (killed, say) is replaced once, as Python's is: a request it
        // could not take never reached it, so nothing was started twice.
        let mut attempt = 0;
        loop {
            let mut running = running()?;
            let requests = running.as_ref().expect("running").requests.as_raw_fd();
            match send_record(requests, b"start", &fds) {
                Ok(()) => break Arc::clone(&running.as_ref().expect("running").pidfd),
                Err(Errno::EPIPE | Errno::ECONNRESET | Errno::ECONNREFUSED) => {
                    running.take(); // it is gone: reaped, and another is started
                    if attempt == 1 {
                        return Err(Error::ForkserverGone);
                    }
                    attempt += 1;
                }
                // This request could not be sent (a standard stream closed, say): the
                // server is fine, and keeps the processes it started.
                Err(e) => return Err(e.into()),
            }
        }
    };
    drop((connection, theirs, child_end));
    // The server answers on the child's status socket: its pid, with its pidfd. At once,
    // unless it is stopped: then this process gives up rather than wait for ever.
    let mut answer = [PollFd::new(status.as_fd(), PollFlags::POLLIN)];
    if !poll_until(&mut answer, deadline(Some(SERVER_ANSWERS_WITHIN)))? {
        return Err(Error::ForkserverNotAnswering {
            waited: SERVER_ANSWERS_WITHIN,
        });
    }
    let mut reply = [0u8; 256];
    let received = receive_record(status.as_fd(), &mut reply)?;
    if received.cut() {
        // Its child started: its pidfd did not come, and the child is let go (it is the
        // server's, which reaps it).
        return Err(Error::from(std::io::Error::other(
            "the forkserver's answer came without its descriptor: is this process at its \
             limit of open files (ulimit -n)?",
        )));
    }
    let Received { len, mut fds, .. } = received;
    match (reply.first(), fds.pop()) {
        (Some(b'+'), Some(pidfd)) if len == 5 && fds.is_empty() => {
            let pid = i32::from_le_bytes(reply[1..5].try_into().expect("4 bytes"));
            Ok(Child::served(Pid::from_raw(pid), pidfd, status, server).keep(lifeline))
        }
        (Some(b'-'), _) => Err(Error::Refused(
            String::from_utf8_lossy(&reply[1..len]).into_owned(),
        )),
        _ => Err(Error::ForkserverGone),
    }
}

/// The server: fork a child for each request, reap the children, send their exit codes.
/// Runs in the server process, which has one thread.
fn serve(requests: OwnedFd) -> i32 {
    let Ok(programs) = ProgramsSignals::set_aside() else {
        return 1;
    };
    if release_inherited(requests.as_fd()).is_err() {
        return 1;
    }
    // The children must not keep the line to the program, nor each other's status sockets.
    let _mark = Mark::new(requests.as_fd());
    let mut children: Vec<Served> = Vec::new();
    let code = serve_requests(&requests, programs, &mut children);
    // However the server leaves, its children run on, each until the process that asked
    // for it ends: forgotten, not dropped (dropping a `Child` kills it).
    std::mem::forget(children);
    code
}

/// The server's loop: serves requests and reports exits until the program closes its end
/// (0), or the server cannot go on (1).
fn serve_requests(
    requests: &OwnedFd,
    programs: ProgramsSignals,
    children: &mut Vec<Served>,
) -> i32 {
    loop {
        let mut fds: Vec<PollFd> = vec![PollFd::new(requests.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            children
                .iter()
                .map(|c| PollFd::new(c.child.pidfd(), PollFlags::POLLIN)),
        );
        if poll_until(&mut fds, None).is_err() {
            return 1;
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
        // Children that exited: reap them and send their codes (from the last, so that
        // the positions of the others stay right).
        for i in (0..children.len()).rev() {
            if ready[i + 1] {
                let mut served = children.swap_remove(i);
                match served.child.try_wait() {
                    Ok(Some(code)) => {
                        let _ = send_record(served.status.as_raw_fd(), &code.to_le_bytes(), &[]);
                    }
                    Ok(None) => children.push(served), // not reaped after all: keep watching it
                    // Its code is lost: its status socket closes, which the asker reads as so.
                    Err(_) => {}
                }
            }
        }
        if ready[0] {
            let mut buf = [0u8; 16];
            match receive_record(requests.as_fd(), &mut buf) {
                // The program has closed its end: it is done (or gone, or stopped the
                // server).
                Ok(request) if request.len == 0 => return 0,
                // Refused, and the server goes on (the descriptors that came close here).
                Ok(request) if request.cut() => refuse_cut(&request.fds),
                Ok(Received { mut fds, .. }) if fds.len() >= REQUEST_DESCRIPTORS => {
                    let descriptors = fds.split_off(REQUEST_DESCRIPTORS);
                    let [connection, status, lifeline, stdin, stdout, stderr] =
                        <[OwnedFd; REQUEST_DESCRIPTORS]>::try_from(fds).expect("checked above");
                    let stdio = [stdin, stdout, stderr];
                    let servers_own = servers_own(requests, children);
                    let started = start_one(
                        connection,
                        status,
                        lifeline,
                        stdio,
                        descriptors,
                        programs,
                        servers_own,
                    );
                    if let Some(served) = started {
                        children.push(served);
                    }
                }
                Ok(_) => {} // not a request of ours: ignore it
                Err(_) => return 1,
            }
        }
    }
}

/// What the program had of `SIGCHLD` and `SIGINT` when it forked the server, which gives
/// each child the program's back. The server needs its own:
/// - `SIGCHLD`'s default action: the server reaps its children itself, and with `SIGCHLD`
///   ignored the kernel would reap them first, and their exit codes would be lost.
/// - `SIGINT` blocked: a ^C at the terminal reaches every process of the foreground group,
///   the server too, and the server's death would take every process it started with it
///   (Python's server ignores it, for the same reason). Blocked rather than ignored, so
///   that one sent to a child before it has the program's mask back waits for it, instead
///   of being thrown away: the child then dies of it, or handles it, as the program would.
#[derive(Clone, Copy)]
struct ProgramsSignals {
    sigchld: SigAction,
    mask: SigSet,
}

impl ProgramsSignals {
    /// Notes the program's `SIGCHLD` action and signal mask, and puts the server's in place.
    fn set_aside() -> Result<ProgramsSignals> {
        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // SAFETY: the default action installs no handler: no code of ours runs in a signal.
        let sigchld = unsafe { sigaction(Signal::SIGCHLD, &default) }?;
        let mut mask = SigSet::empty();
        let sigint = SigSet::from(Signal::SIGINT);
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&sigint), Some(&mut mask))?;
        Ok(ProgramsSignals { sigchld, mask })
    }

    /// Gives a child the program's `SIGCHLD` action, then its mask: a `SIGINT` that came
    /// in between is handled now, the program's way.
    fn restore(&self) -> Result<()> {
        // SAFETY: the action put back is the one the program had when it forked the server:
        // a handler there is the program's own, in its own copy of the program's memory.
        unsafe { sigaction(Signal::SIGCHLD, &self.sigchld) }?;
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.mask), None)?;
        Ok(())
    }
}

/// Lets go of every descriptor the server has from the program but `keep`: a pipe end the
/// program holds would otherwise stay open in the server for its whole life, and the
/// pipe's reader would never see the end of its stream. (An exec'd server, as Python's,
/// has none of them either.) The standard three go too (a pipe end may be one of them, if
/// the program closed its own): the server writes nothing, and each child gets the asking
/// process's with its request. Each number gets a dead socket instead of being closed, as
/// a released mark does (see `fork::Mark`): the program's objects in the server's copy of
/// its memory still own their numbers, and one that a child reaches (a global, say) fails,
/// instead of using a descriptor that is someone else's.
fn release_inherited(keep: BorrowedFd<'_>) -> Result<()> {
    let (dead, peer) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    let dead = above_stdio(dead)?;
    drop(peer);
    let listed: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // A number can be given a descriptor only below the soft limit of open files, which the
    // program may have lowered below numbers it had open: the hard one, for the while (if
    // that is refused, such a number stays as it is).
    let limit = getrlimit(Resource::RLIMIT_NOFILE)?;
    let raised = setrlimit(Resource::RLIMIT_NOFILE, limit.1, limit.1).is_ok();
    // 0, 1 and 2 get a dead socket even if closed, so that no descriptor of the server's
    // takes their numbers (each child's standard streams are put there).
    for fd in (0..=2).chain(listed.into_iter().filter(|&fd| fd > 2)) {
        let ours = fd == keep.as_raw_fd() || fd == dead.as_raw_fd();
        // The listing's own descriptor was in the list, and is closed by now.
        if !ours && (fd <= 2 || is_open(fd)) {
            // SAFETY: `fd` is open, and owned by an object of the program's (or by no one
            // this process will ever run), or it is a closed 0, 1 or 2, which no one owns;
            // dup3 replaces what an open number refers to at once, and the number stays
            // open, so whatever owns it still owns it and nothing else can get it. It
            // fails only for a number at or above the hard limit of open files (lowered
            // since it was opened), which then stays as it is.
            unsafe { nix::libc::dup3(dead.as_raw_fd(), fd, nix::libc::O_CLOEXEC) };
        }
    }
    if raised {
        setrlimit(Resource::RLIMIT_NOFILE, limit.0, limit.1)?;
    }
    Ok(())
}

/// Refuses a request whose descriptors did not all come, on its status socket if that came
/// (the second): the server is at its limit of open files, and the asker is told so.
fn refuse_cut(fds: &[OwnedFd]) {
    if let Some(status) = fds.get(1) {
        let reason = b"-the forkserver could not take every descriptor of the request: it is \
            at its limit of open files (the program's ulimit -n when the server started; \
            ipc::forkserver::stop() lets the next request start one with today's limit)";
        let _ = send_record(status.as_raw_fd(), reason, &[]);
    }
}

/// The server's own descriptors, which a new child closes: the line to the program, and
/// each running child's pidfd and status socket (the marked ones are dead sockets in the
/// child by then, but would still take a number each).
fn servers_own(requests: &OwnedFd, children: &[Served]) -> Vec<RawFd> {
    let siblings = children
        .iter()
        .flat_map(|served| [served.child.pidfd().as_raw_fd(), served.status.as_raw_fd()]);
    std::iter::once(requests.as_raw_fd())
        .chain(siblings)
        .collect()
}

/// A child of the server, and the socket its exit code goes to.
struct Served {
    child: Child,
    status: OwnedFd,
    mark: Arc<Mark>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.mark.remove();
    }
}

/// Forks one child for a request, and tells the asker its pid and pidfd (or why not).
fn start_one(
    connection: OwnedFd,
    status: OwnedFd,
    lifeline: OwnedFd,
    stdio: [OwnedFd; 3],
    descriptors: Vec<OwnedFd>,
    programs: ProgramsSignals,
    servers_own: Vec<RawFd>,
) -> Option<Served> {
    let mark = Mark::new(status.as_fd());
    let mut target = Some(move || {
        for fd in servers_own {
            // SAFETY: `fd` belongs to the server's line to the program or to a sibling's
            // `Served` (its pidfd, its status socket): values of the server's loop, which
            // this child never returns to (it leaves with `_exit` once this closure is
            // done), so nothing here uses or drops them, and the number may be reused. The
            // marked ones among them were released by the fork's handshake before this
            // runs, which also took them off this process's marks: no later fork here
            // writes to their numbers. Each number is listed once (all were open at once).
            unsafe { nix::libc::close(fd) };
        }
        // Die with the asker, not with the server: the lifeline first, so that the child
        // dies with one or the other all along (a fork asks to die with its parent).
        if lifeline::hold_on_to(&lifeline).is_err() || set_pdeathsig(None).is_err() {
            return 1;
        }
        if programs.restore().is_err() {
            return 1;
        }
        let [stdin, stdout, stderr] = &stdio;
        let moved = dup2_stdin(stdin)
            .and_then(|()| dup2_stdout(stdout))
            .and_then(|()| dup2_stderr(stderr));
        drop(stdio);
        let code = match moved {
            Ok(()) => remote::child_main(Connection::from_fd(connection), descriptors),
            Err(_) => 1,
        };
        drop(lifeline);
        code
    });
    match fork(&mut target) {
        Ok(child) => {
            let mut reply = vec![b'+'];
            reply.extend_from_slice(&child.pid().to_le_bytes());
            let _ = send_record(status.as_raw_fd(), &reply, &[child.pidfd().as_raw_fd()]);
            Some(Served {
                child,
                status,
                mark,
            })
        }
        Err(e) => {
            let mut reply = vec![b'-'];
            reply.extend_from_slice(e.to_string().as_bytes());
            reply.truncate(256);
            let _ = send_record(status.as_raw_fd(), &reply, &[]);
            mark.remove();
            None
        }
    }
}

/// A pair of the forkserver's own sockets, numbered above the standard three.
fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    let (one, other) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((above_stdio(one)?, above_stdio(other)?))
}

/// `fd`, moved above 0, 1 and 2 if it is one of them: a program that closed its standard
/// streams has those numbers free, and a socket of the forkserver's there would go to
/// children as their stdin, stdout or stderr (the server hands the asker's 0, 1 and 2 on),
/// or be written over by them.
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let moved = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: F_DUPFD_CLOEXEC made `moved`, a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// Whether `fd` is an open descriptor of this process.
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags, and fails on a closed number.
    unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) != -1 }
}

/// [`Error::Io`] unless 0, 1 and 2 are open, and none of them is `connection` (which a
/// program that closed its standard streams may have there): the asker's standard streams,
/// which each child gets as its own.
fn check_stdio(connection: BorrowedFd<'_>) -> Result<()> {
    for fd in 0..=2 {
        if !is_open(fd) || fd == connection.as_raw_fd() {
            return Err(Error::from(std::io::Error::other(format!(
                "standard stream {fd} is closed: a process of the forkserver gets this \
                 process's standard streams, and needs all three (open /dev/null on it)"
            ))));
        }
    }
    Ok(())
}

/// Sends one record, with descriptors.
fn send_record(socket: RawFd, bytes: &[u8], fds: &[RawFd]) -> std::result::Result<(), Errno> {
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    loop {
        match sendmsg::<()>(
            socket,
            &[IoSlice::new(bytes)],
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(Errno::EINTR) => {}
            other => return other.map(drop),
        }
    }
}

/// Receives one record into `buf`: its length, the descriptors that came with it, and
/// whether some did not (`MSG_CTRUNC`: this process is at its limit of open files).
fn receive_record(socket: BorrowedFd<'_>, buf: &mut [u8]) -> Result<Received> {
    loop {
        match rights::receive(
            socket,
            buf,
            REQUEST_DESCRIPTORS + MAX_DESCRIPTORS,
            MsgFlags::empty(),
        ) {
            Err(Errno::EINTR) => {}
            received => return Ok(received?),
        }
    }
}
