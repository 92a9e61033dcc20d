//! `Mapping`: memory that several processes see, which every shared object stands on.
//!
//! `fork` copies memory: after it, a variable changed by the child is changed in the
//! child's copy only. Memory that processes *share* must be asked for: a file mapped with
//! `mmap(2)` and `MAP_SHARED` is the file's own pages, so every process that maps it reads
//! and writes the same bytes, and a forked child keeps the mapping at the same address.
//!
//! The file here is a `memfd` (`memfd_create(2)`): a file that lives in memory, has no
//! name in any directory, and is gone once the last descriptor and mapping of it are.
//! The descriptor stays open beside the mapping, for a process that is not a fork of this
//! one (a forkserver or spawn child): sent over a Unix socket with `SCM_RIGHTS`, it can be
//! mapped there too ([`Mapping::receive`] maps one, after checking it). Its size is
//! sealed: a process given the descriptor cannot shrink the file under the others'
//! mappings, which would make their next access a `SIGBUS`.

use std::ffi::CStr;
use std::fmt::Display;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

/// The largest alignment a value in a mapping can have: a mapping starts on a page
/// boundary, and a page is 4 KiB or more.
pub(crate) const MAX_ALIGN: usize = 4096;

/// Bytes of a file mapped in this process with `MAP_SHARED`, and the file's descriptor.
/// Unmapped when dropped; each process (a forked child too) unmaps its own copy.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
    /// Set by [`leak`](Self::leak): the memory stays mapped when this is dropped.
    leaked: bool,
}

// SAFETY: a `Mapping` is an address range and a descriptor, both valid in any thread of
// the process. It hands out only raw pointers; the types built on it say how the bytes are
// accessed (atomics, or a lock), which is what makes that access free of data races.
unsafe impl Send for Mapping {}
// SAFETY: as above: `&Mapping` gives raw pointers and the descriptor, nothing more.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `len` bytes of a new memfd named `name` (the name shows in `/proc/PID/maps`, as
    /// `/memfd:NAME`), all zero, mapped shared.
    pub(crate) fn new(name: &CStr, len: usize) -> io::Result<Mapping> {
        let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)?;
        nix::unistd::ftruncate(&fd, len_as_off_t(len)?)?;
        let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
        fcntl(&fd, FcntlArg::F_ADD_SEALS(seals))?;
        Mapping::map(fd, len)
    }

    /// Maps the whole file `fd` refers to: one made by another process, received or
    /// opened by name. Its size is what `fstat` says now.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<Mapping> {
        let size = nix::sys::stat::fstat(&fd)?.st_size;
        let len = usize::try_from(size).map_err(|_| io::Error::other("a negative file size"))?;
        Mapping::map(fd, len)
    }

    /// Maps the memory of an object that another process made and sent to this one in the
    /// arguments it started with (see `descriptor`), after checking that it is what the
    /// receiving type needs: a memfd named one of `names` (the name is given at
    /// `memfd_create` and cannot change, so it says which kind of object made the file),
    /// its size sealed (nobody can shrink it under this mapping), and at least `needed`
    /// bytes long. Why not, in words, otherwise.
    ///
    /// The bytes are not checked: every kind of object here keeps only values for which any
    /// bytes are valid, beside a mutex that its own kind made (see `SharedBlock`).
    pub(crate) fn receive(fd: OwnedFd, names: &[&CStr], needed: usize) -> Result<Mapping, String> {
        let path = path_of(fd.as_fd()).map_err(|e| e.to_string())?;
        let made_for = |name: &&CStr| {
            name.to_str()
                .is_ok_and(|name| path == format!("/memfd:{name} (deleted)"))
        };
        if !names.iter().any(made_for) {
            let expected: Vec<_> = names.iter().map(|name| name.to_string_lossy()).collect();
            return Err(format!(
                "the descriptor is {path}, not the memory of one (a memfd named {})",
                expected.join(" or ")
            ));
        }
        let seals = fcntl(&fd, FcntlArg::F_GET_SEALS).map_err(|e| e.to_string())?;
        let seals = SealFlag::from_bits_truncate(seals);
        if !seals.contains(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW) {
            let why = "its size is not sealed: the sender could shrink it under this mapping";
            return Err(why.into());
        }
        let size = nix::sys::stat::fstat(&fd)
            .map_err(|e| e.to_string())?
            .st_size;
        let len = usize::try_from(size).map_err(|_| "a negative size".to_string())?;
        if len < needed {
            return Err(format!(
                "it is {len} bytes, too small for the {needed} it must hold"
            ));
        }
        // Open read-only, or sealed against writes: mmap says only EACCES or EPERM.
        Mapping::map(fd, len)
            .map_err(|e| format!("it cannot be mapped for reading and writing: {e}"))
    }

    fn map(fd: OwnedFd, len: usize) -> io::Result<Mapping> {
        let nonzero = NonZeroUsize::new(len).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "cannot map an empty file")
        })?;
        // SAFETY: a new mapping at an address the kernel chooses overlaps nothing that
        // Rust owns; the file's pages are valid for `len` bytes, which is its size.
        let ptr = unsafe {
            mmap(
                None,
                nonzero,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                &fd,
                0,
            )
        }?;
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
            fd,
            leaked: false,
        })
    }

    /// The first byte; the mapping starts on a page boundary, so any alignment up to a
    /// page's holds for it.
    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The file's descriptor: what another process needs to map the same bytes.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Closes the descriptor but leaves the memory mapped for the rest of the process's
    /// life. For memory that the C library may still write to (see `SharedHeader`).
    pub(crate) fn leak(mut self) {
        self.leaked = true;
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.leaked {
            return;
        }
        // SAFETY: `ptr` and `len` are this mapping's own, made by `mmap` above; every
        // reference into it borrows a handle that keeps this `Mapping` alive, so none
        // outlives it. An error (there is none for a valid range) leaves it mapped.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// What the descriptor `fd` refers to, as `/proc/self/fd` says: `/memfd:NAME (deleted)`
/// for a memfd, a path for a file (` (deleted)` after it once it is unlinked), `pipe:[N]`
/// or `socket:[N]` for the others.
pub(crate) fn path_of(fd: BorrowedFd<'_>) -> io::Result<String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    Ok(link.to_string_lossy().into_owned())
}

/// The error for an argument of a process that cannot be received as `what` (an object
/// with shared memory), and why.
pub(crate) fn cannot_receive<E: serde::de::Error>(what: &str, why: impl Display) -> E {
    E::custom(format!("cannot receive {what}: {why}"))
}

fn len_as_off_t(len: usize) -> io::Result<nix::libc::off_t> {
    nix::libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too large to map"))
}
