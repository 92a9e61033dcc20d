//! What a process started with the forkserver or spawn receives in its arguments.

use std::os::fd::{AsFd, OwnedFd};

use fork_test::{Stream, capture};
use ipc::{Descriptor, StartMethod, get_context};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The methods whose processes do not share the parent's memory.
const METHODS: [StartMethod; 2] = [StartMethod::Forkserver, StartMethod::Spawn];

/// Stops the forkserver when a test ends, passing or not: the runner wants no process left.
struct StopsTheForkserver;

impl Drop for StopsTheForkserver {
    fn drop(&mut self) {
        ipc::forkserver::stop();
    }
}

/// Starts `target(args)` with `method`, and returns its exit code.
fn run<A>(method: StartMethod, target: fn(A), args: A) -> i32
where
    A: Serialize + DeserializeOwned + 'static,
{
    let mut p = get_context(method).process(target, args).unwrap();
    p.start().unwrap();
    p.join().unwrap()
}

fn close_on_exec(fd: Descriptor) {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let flags = FdFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFD).unwrap());
    assert!(
        flags.contains(FdFlag::FD_CLOEXEC),
        "a program this process runs would get the descriptor, and keep what it holds"
    );
}

fn a_received_descriptor_is_not_handed_on_to_programs_the_process_runs() {
    let _stop = StopsTheForkserver;
    for method in METHODS {
        let (_reader, writer) = std::io::pipe().unwrap();
        let fd = Descriptor::from(OwnedFd::from(writer));
        let mut code = None;
        let stderr = capture(Stream::Stderr, || {
            code = Some(run(method, close_on_exec, fd))
        });
        assert_eq!(code, Some(0), "{method}: {stderr}");
    }
}

fn main() -> std::process::ExitCode {
    ipc::spawn::init();
    fork_test::run(&[(
        "a_received_descriptor_is_not_handed_on_to_programs_the_process_runs",
        a_received_descriptor_is_not_handed_on_to_programs_the_process_runs,
    )])
}
