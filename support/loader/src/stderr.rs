//! Lines on stderr that stay whole when several processes print at once.

use std::fmt::Display;
use std::io::Write;

/// Prints `line` and a newline on stderr in one `write(2)`. `eprintln!` writes its pieces
/// one by one (Rust's stderr has no buffer: `"error: "`, then the error, then the
/// newline), so a line a child prints while its parent prints too can come out cut in
/// two, the parent's line in the middle. Written whole, lines from several processes only
/// ever come out one after another. (An error writing it is ignored, as there is nowhere
/// left to report it.)
pub fn eprint_line(line: impl Display) {
    let line = format!("{line}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::process::{Command, Stdio};

    use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, socketpair};

    use super::*;

    /// Set in the copy of this test binary that prints the line.
    const PRINTER: &str = "LOADER_EPRINT_LINE_PRINTER";

    /// The line goes out in one write: with stderr on a `SOCK_SEQPACKET` socket, each
    /// write is a record of its own, so the first record read is all that one write held
    /// (`eprintln!` would give `"error: "` alone).
    #[test]
    fn a_line_is_one_write() {
        if std::env::var_os(PRINTER).is_some() {
            eprint_line(format_args!("error: {}", "the page is gone"));
            return;
        }
        let (ours, theirs): (OwnedFd, OwnedFd) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "stderr::tests::a_line_is_one_write",
                "--nocapture",
            ])
            .env(PRINTER, "1")
            .stdout(Stdio::null())
            .stderr(Stdio::from(theirs))
            .status()
            .unwrap();
        assert!(status.success());
        let mut record = [0u8; 256];
        let len = recv(ours.as_raw_fd(), &mut record, MsgFlags::MSG_DONTWAIT).unwrap();
        assert_eq!(
            std::str::from_utf8(&record[..len]).unwrap(),
            "error: the page is gone\n"
        );
    }
}
