//! Receiving descriptors sent with a message (`SCM_RIGHTS`): the queue's memfds, the
//! forkserver's pipe ends.
//!
//! The kernel installs a descriptor in the receiving process for each one that fits in the
//! room the receiver gave for them. When more were sent than fit, or when the receiver is
//! at its limit of open files, it installs as many as it can, says so with `MSG_CTRUNC`,
//! and drops the others. The ones it installed are open in this process either way, and
//! only this code knows their numbers: dropped here, they would stay open for good. So they
//! are read out of every reply, cut or not (`nix`'s `RecvMsg::cmsgs` refuses to read a
//! cut reply, hence the C library's macros below), and each gets an owner at once.

use std::io::IoSliceMut;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::MsgFlags;

/// What one `recvmsg` brought.
pub(crate) struct Received {
    /// Bytes written into the buffer.
    pub(crate) len: usize,
    /// The `recvmsg` flags of the reply: `MSG_TRUNC` (the message was longer than the
    /// buffer), `MSG_CTRUNC` (not every descriptor sent came).
    pub(crate) flags: MsgFlags,
    /// Every descriptor that came, now owned.
    pub(crate) fds: Vec<OwnedFd>,
}

impl Received {
    /// Whether not every descriptor sent came (`MSG_CTRUNC`): more were sent than there
    /// was room for, or this process is at its limit of open files.
    pub(crate) fn cut(&self) -> bool {
        self.flags.contains(MsgFlags::MSG_CTRUNC)
    }
}

/// One `recvmsg(2)` from `socket` into `buf`, with room for `room` descriptors; every
/// descriptor that came is returned, close-on-exec.
pub(crate) fn receive(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    room: usize,
    flags: MsgFlags,
) -> nix::Result<Received> {
    let data_len = u32::try_from(room * mem::size_of::<RawFd>()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: CMSG_SPACE only computes a length from its argument.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    // The control buffer, aligned for a `cmsghdr` (8 bytes) by being made of `u64`s.
    let mut control = vec![0u64; space.div_ceil(mem::size_of::<u64>())];
    let mut iov = [IoSliceMut::new(buf)];
    // SAFETY: an all-zero `msghdr` is valid: no name, no buffers, no flags.
    let mut header: libc::msghdr = unsafe { mem::zeroed() };
    header.msg_iov = iov.as_mut_ptr().cast();
    header.msg_iovlen = 1;
    header.msg_control = control.as_mut_ptr().cast();
    header.msg_controllen = space as _;
    // SAFETY: `header` points at one iovec over `buf` (an `IoSliceMut` has the layout of an
    // iovec) and at `control`, `space` bytes long; both outlive the call, and recvmsg(2)
    // writes no further than those lengths.
    let len = Errno::result(unsafe {
        libc::recvmsg(
            socket.as_raw_fd(),
            &mut header,
            (flags | MsgFlags::MSG_CMSG_CLOEXEC).bits(),
        )
    })?;
    let mut fds = Vec::new();
    // SAFETY: `header` is the one recvmsg filled: its `msg_control` and `msg_controllen`
    // describe the control messages the kernel wrote into `control`, which CMSG_FIRSTHDR
    // and CMSG_NXTHDR walk without leaving those bounds.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&header) };
    while !cmsg.is_null() {
        // SAFETY: a non-null `cmsg` from the macros points at a whole `cmsghdr` inside
        // `control`.
        let (level, kind, cmsg_len) = unsafe {
            (
                (*cmsg).cmsg_level,
                (*cmsg).cmsg_type,
                (*cmsg).cmsg_len as usize,
            )
        };
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            // SAFETY: as above; CMSG_DATA points just past the header, and CMSG_LEN(0) is
            // the header's length.
            let (data, header_len) = unsafe { (libc::CMSG_DATA(cmsg), libc::CMSG_LEN(0)) };
            // The kernel sets `cmsg_len` to the descriptors it installed; never past the
            // control buffer's end all the same.
            let end = control.as_ptr() as usize + space;
            let count = cmsg_len
                .saturating_sub(header_len as usize)
                .min(end.saturating_sub(data as usize))
                / mem::size_of::<RawFd>();
            for i in 0..count {
                // SAFETY: the `count` descriptors lie inside `control` (bounded above),
                // maybe unaligned.
                let raw = unsafe { data.cast::<RawFd>().add(i).read_unaligned() };
                // SAFETY: the kernel just installed `raw` in this process for us; nothing
                // else owns it.
                fds.push(unsafe { OwnedFd::from_raw_fd(raw) });
            }
        }
        // SAFETY: `cmsg` is a header inside the buffer `header` describes.
        cmsg = unsafe { libc::CMSG_NXTHDR(&header, cmsg) };
    }
    Ok(Received {
        len: len as usize,
        flags: MsgFlags::from_bits_truncate(header.msg_flags),
        fds,
    })
}
