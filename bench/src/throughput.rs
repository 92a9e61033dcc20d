//! Large messages from a child to the parent: how fast bytes move through a pipe.
//!
//! The parent asks for a number of messages; the child, which makes its payload right
//! after the fork, sends them; the parent receives them and throws them away. The time
//! covers both sides, so whichever is slower sets it.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use ipc::{Connection, Pipe, Process};
use serde_bytes::{ByteBuf, Bytes};

use crate::config::Config;
use crate::harness::{Contender, Peer, Result, Samples, alternate, with_new_peer};
use crate::raw::RawChild;

/// The message sizes, each a topic of its own: (key, bytes).
pub const SIZES: [(&str, usize); 2] =
    [("throughput_1MiB", 1 << 20), ("throughput_64MiB", 64 << 20)];
/// `send_bytes` in the child, `recv_bytes_into` a reused buffer in the parent (as raw does).
pub const IPC_BYTES: &str = "ipc send_bytes/recv_bytes_into";
/// Typed `send` of the payload as `serde_bytes::Bytes`, `recv::<ByteBuf>`.
pub const IPC_TYPED: &str = "ipc send/recv ByteBuf";
/// `write_all` of the payload, `read_exact` into a buffer that is reused.
pub const RAW: &str = "raw socketpair write/read";

/// One round: for each size, samples in turns, each with a new sender child.
pub fn round(samples: &mut Samples, config: &Config, round: usize) -> Result {
    for (topic, size) in SIZES {
        let messages = config.messages(size);
        // The warm-up message also waits for the child to make its payload.
        alternate(
            samples,
            topic,
            round,
            config.reps,
            1,
            &mut [
                Contender::new(RAW, || with_new_peer(RawSender::start(size)?, 1, messages)),
                Contender::new(IPC_BYTES, || {
                    with_new_peer(IpcSender::start(size, false)?, 1, messages)
                }),
                Contender::new(IPC_TYPED, || {
                    with_new_peer(IpcSender::start(size, true)?, 1, messages)
                }),
            ],
        )?;
    }
    Ok(())
}

/// A child that sends `size`-byte messages on request, with `ipc`.
struct IpcSender {
    conn: Connection,
    child: Process,
    size: usize,
    typed: bool,
    buf: Vec<u8>,
}

impl IpcSender {
    fn start(size: usize, typed: bool) -> Result<IpcSender> {
        let (mut conn, mut child_end) = Pipe::new()?;
        conn.set_inheritable(false);
        let mut child = Process::with_exit_code(move || {
            let payload = vec![0xa5; size];
            loop {
                let count = match child_end.recv::<u32>() {
                    Ok(count) => count,
                    Err(ipc::Error::Closed) => return 0,
                    Err(_) => return 1,
                };
                for _ in 0..count {
                    let sent = if typed {
                        child_end.send(Bytes::new(&payload))
                    } else {
                        child_end.send_bytes(&payload)
                    };
                    if sent.is_err() {
                        return 1;
                    }
                }
            }
        });
        child.start()?;
        Ok(IpcSender {
            conn,
            child,
            size,
            typed,
            buf: Vec::new(),
        })
    }
}

impl Peer for IpcSender {
    fn run(&mut self, messages: usize) -> Result {
        self.conn.send(&u32::try_from(messages)?)?;
        for _ in 0..messages {
            let len = if self.typed {
                self.conn.recv::<ByteBuf>()?.len()
            } else {
                self.conn.recv_bytes_into(&mut self.buf)?
            };
            if len != self.size {
                return Err(format!("ipc sender: {len} bytes, not {}", self.size).into());
            }
        }
        Ok(())
    }

    /// Closes the pipe (the child sees the end of the stream and leaves) and joins.
    fn finish(self) -> Result {
        let IpcSender {
            conn, mut child, ..
        } = self;
        drop(conn);
        match child.join()? {
            0 => Ok(()),
            code => Err(format!("ipc sender child exited with {code}").into()),
        }
    }
}

/// A child that writes `size` bytes per message on request, with plain reads and writes.
struct RawSender {
    stream: UnixStream,
    child: RawChild,
    buf: Vec<u8>,
}

impl RawSender {
    fn start(size: usize) -> Result<RawSender> {
        let (stream, mut child_end) = UnixStream::pair()?;
        let child = RawChild::spawn(move || {
            let payload = vec![0xa5; size];
            let mut count = [0; 4];
            loop {
                match child_end.read_exact(&mut count) {
                    Ok(()) => {
                        for _ in 0..u32::from_ne_bytes(count) {
                            child_end.write_all(&payload).expect("send");
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::UnexpectedEof => return,
                    Err(e) => panic!("sender: {e}"),
                }
            }
        })?;
        Ok(RawSender {
            stream,
            child,
            buf: vec![0; size],
        })
    }
}

impl Peer for RawSender {
    fn run(&mut self, messages: usize) -> Result {
        self.stream
            .write_all(&u32::try_from(messages)?.to_ne_bytes())?;
        for _ in 0..messages {
            self.stream.read_exact(&mut self.buf)?;
        }
        Ok(())
    }

    /// Shuts the socket down for writing: the child reads the end of the stream.
    fn finish(self) -> Result {
        self.stream.shutdown(Shutdown::Write)?;
        self.child.join()
    }
}
