//! No descriptor left, for tests of what happens when a process has used them all up.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::resource::{Resource, getrlimit, rlim_t, setrlimit};

/// Every descriptor number this process may open taken, until dropped: the soft limit of
/// open files is lowered to just past the highest number open, and the numbers free below
/// it are filled. Dropped, the numbers are let go and the limit is put back.
pub struct NoDescriptorsLeft {
    fillers: Vec<OwnedFd>,
    limit: (rlim_t, rlim_t),
}

impl NoDescriptorsLeft {
    /// Takes every descriptor number left.
    pub fn new() -> NoDescriptorsLeft {
        let highest = std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<rlim_t>().ok())
            .max()
            .expect("standard streams");
        let limit = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
        setrlimit(Resource::RLIMIT_NOFILE, highest + 1, limit.1).expect("setrlimit");
        let mut fillers = Vec::new();
        while let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            fillers.push(fd);
        }
        NoDescriptorsLeft { fillers, limit }
    }
}

impl Default for NoDescriptorsLeft {
    fn default() -> Self {
        NoDescriptorsLeft::new()
    }
}

impl Drop for NoDescriptorsLeft {
    fn drop(&mut self) {
        self.fillers.clear();
        setrlimit(Resource::RLIMIT_NOFILE, self.limit.0, self.limit.1).expect("setrlimit");
    }
}
