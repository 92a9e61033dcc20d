//! Messages from a child to the parent, from 64 B to 64 MiB: how fast bytes move through
//! a pipe, and where the fixed cost of a message stops mattering.
//!
//! The parent asks for a number of messages; the child, which makes its payload right
//! after the fork, sends them; the parent receives them and throws them away. The time
//! covers both sides, so whichever is slower sets it. The sweep goes up in powers of 4;
//! each size is a topic of its own (see [`Config::messages`] for how many messages a
//! sample takes).

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use ipc::{Connection, Pipe, Process};
use serde::{Deserialize, Serialize};
use serde_bytes::{ByteBuf, Bytes};

use crate::config::Config;
use crate::harness::{Contender, Peer, Result, Samples, alternate, with_new_peer};
use crate::python::{Python, Request};
use crate::raw::RawChild;

/// The message sizes of the sweep, 64 B to 64 MiB in powers of 4, each a topic of its
/// own: (key, bytes).
pub const SIZES: [(&str, usize); 11] = [
    ("throughput_64B", 64),
    ("throughput_256B", 256),
    ("throughput_1KiB", 1 << 10),
    ("throughput_4KiB", 4 << 10),
    ("throughput_16KiB", 16 << 10),
    ("throughput_64KiB", 64 << 10),
    ("throughput_256KiB", 256 << 10),
    ("throughput_1MiB", 1 << 20),
    ("throughput_4MiB", 4 << 20),
    ("throughput_16MiB", 16 << 20),
    ("throughput_64MiB", 64 << 20),
];
/// The sizes that have targets.
pub const TARGETED: [usize; 2] = [1 << 20, 64 << 20];
/// The sizes sampled once a round instead of `config.reps` times: they have no target,
/// and each of their samples starts a child that makes a payload of megabytes and moves a
/// whole message to warm up; taking them once keeps a quick run under a minute.
const SAMPLED_ONCE: [usize; 2] = [4 << 20, 16 << 20];
/// `send_bytes` in the child, `recv_bytes_into` a reused buffer in the parent (as raw does).
pub const IPC_BYTES: &str = "ipc send_bytes/recv_bytes_into";
/// Typed `send`/`recv` of a `serde_bytes::ByteBuf` (sent as `Bytes`, its borrowed form,
/// which encodes the same).
pub const IPC_TYPED: &str = "ipc send/recv ByteBuf";
/// Typed `send`/`recv` of a [`Page`]: small fields and a large byte field.
pub const IPC_STRUCT: &str = "ipc send/recv struct";
/// Typed `send` of a [`Page`], `recv_borrowed` into a reused buffer as a [`PageRef`]: the
/// typed form of `recv_bytes_into`.
pub const IPC_BORROWED: &str = "ipc send/recv_borrowed struct";
/// `write_all` of the payload, `read_exact` into a buffer that is reused.
pub const RAW: &str = "raw socketpair write/read";

/// Samples per round of the messages of `size` bytes.
pub fn reps(config: &Config, size: usize) -> usize {
    if SAMPLED_ONCE.contains(&size) {
        1
    } else {
        config.reps
    }
}

/// One round: for each size, samples in turns, each with a new sender child.
pub fn round(
    samples: &mut Samples,
    config: &Config,
    round: usize,
    python: Option<&Python>,
) -> Result {
    for (topic, size) in SIZES {
        let messages = config.messages(size);
        let ipc = |message| move || with_new_peer(IpcSender::start(size, message)?, 1, messages);
        // The warm-up message also waits for the child to make its payload.
        let mut contenders = vec![
            Contender::new(RAW, || with_new_peer(RawSender::start(size)?, 1, messages)),
            Contender::new(IPC_BYTES, ipc(Message::Bytes)),
            Contender::new(IPC_TYPED, ipc(Message::ByteBuf)),
            Contender::new(IPC_STRUCT, ipc(Message::Struct)),
            Contender::new(IPC_BORROWED, ipc(Message::Borrowed)),
        ];
        if let Some(python) = python {
            contenders.push(python.contender(Request::messages(topic, messages, size)));
        }
        alternate(
            samples,
            topic,
            round,
            reps(config, size),
            1,
            &mut contenders,
        )?;
    }
    Ok(())
}

/// What a program sends: a page it loaded, with its body marked `serde_bytes` (without the
/// mark, serde would encode the body byte by byte).
#[derive(Serialize, Deserialize)]
struct Page {
    url: String,
    status: u16,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

/// A [`Page`] as received by `recv_borrowed`: its url and body point into the buffer.
#[derive(Deserialize)]
struct PageRef<'a> {
    #[serde(rename = "url")]
    _url: &'a str,
    #[serde(rename = "status")]
    _status: u16,
    #[serde(with = "serde_bytes")]
    body: &'a [u8],
}

/// How the `ipc` contenders send their payload.
#[derive(Clone, Copy)]
enum Message {
    /// `send_bytes`, received with `recv_bytes_into` a reused buffer.
    Bytes,
    /// `send(Bytes::new(..))`, `recv::<ByteBuf>()`.
    ByteBuf,
    /// `send(&Page)`, `recv::<Page>()`.
    Struct,
    /// `send(&Page)`, `recv_borrowed::<PageRef>()` into a reused buffer.
    Borrowed,
}

/// A child that sends `size`-byte messages on request, with `ipc`.
struct IpcSender {
    conn: Connection,
    child: Process,
    size: usize,
    message: Message,
    buf: Vec<u8>,
}

impl IpcSender {
    fn start(size: usize, message: Message) -> Result<IpcSender> {
        let (mut conn, mut child_end) = Pipe::new()?;
        conn.set_inheritable(false);
        let mut child = Process::with_exit_code(move || {
            let page = Page {
                url: "http://127.0.0.1/page.html".into(),
                status: 200,
                body: vec![0xa5; size],
            };
            loop {
                let count = match child_end.recv::<u32>() {
                    Ok(count) => count,
                    Err(ipc::Error::Closed) => return 0,
                    Err(_) => return 1,
                };
                for _ in 0..count {
                    let sent = match message {
                        Message::Bytes => child_end.send_bytes(&page.body),
                        Message::ByteBuf => child_end.send(Bytes::new(&page.body)),
                        Message::Struct | Message::Borrowed => child_end.send(&page),
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
            message,
            buf: Vec::new(),
        })
    }
}

impl Peer for IpcSender {
    fn run(&mut self, messages: usize) -> Result {
        self.conn.send(&u32::try_from(messages)?)?;
        for _ in 0..messages {
            let len = match self.message {
                Message::Bytes => self.conn.recv_bytes_into(&mut self.buf)?,
                Message::ByteBuf => self.conn.recv::<ByteBuf>()?.len(),
                Message::Struct => self.conn.recv::<Page>()?.body.len(),
                Message::Borrowed => self
                    .conn
                    .recv_borrowed::<PageRef>(&mut self.buf)?
                    .body
                    .len(),
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
