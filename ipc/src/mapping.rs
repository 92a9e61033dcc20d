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
//! mapped there too ([`Mapping::from_fd`] maps one). Its size is sealed: a process given
//! the descriptor cannot shrink the file under the others' mappings, which would make
//! their next access a `SIGBUS`.

use std::ffi::CStr;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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

fn len_as_off_t(len: usize) -> io::Result<nix::libc::off_t> {
    nix::libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too large to map"))
}
