//! A 64-byte message to a child and back: the latency of one request over a pipe.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use ipc::{Connection, Pipe, Process};
use serde_bytes::ByteBuf;

use crate::config::Config;
use crate::harness::{Contender, Peer, Result, Samples, alternate, with_new_peer};
use crate::python::{self, Python, Request};
use crate::raw::RawChild;

/// The topic's key in samples, JSON lines and the Python script's output.
pub const TOPIC: &str = "round_trip";
/// Typed `send`/`recv` of a `serde_bytes::ByteBuf` over `ipc::Pipe`.
pub const IPC: &str = "ipc Connection send/recv";
/// `write_all`/`read_exact` of 64 bytes on a socketpair.
pub const RAW: &str = "raw socketpair write/read";
/// `apply_async(echo, payload).get()` on a long-lived pool of one worker.
pub const IPC_APPLY: &str = "ipc WorkerPool.apply_async + get";

/// Bytes in each message.
const PAYLOAD: usize = 64;

/// Round trips made before timing, so that buffers and caches are warm.
const WARM_UP: usize = 100;

/// One round: `config.round_trips` trips per sample, each sample with a new echo child.
pub fn round(
    samples: &mut Samples,
    config: &Config,
    round: usize,
    python: Option<&Python>,
) -> Result {
    let trips = config.round_trips;
    let mut contenders = vec![
        Contender::new(RAW, || with_new_peer(RawEcho::start()?, WARM_UP, trips)),
        Contender::new(IPC, || with_new_peer(IpcEcho::start()?, WARM_UP, trips)),
        Contender::new(IPC_APPLY, || {
            with_new_peer(PoolEcho::start()?, WARM_UP, trips)
        }),
    ];
    if let Some(python) = python {
        for contender in [python::CONNECTION, python::APPLY] {
            contenders.push(python.contender(Request::new(TOPIC, contender, trips)));
        }
    }
    alternate(samples, TOPIC, round, config.reps, 1, &mut contenders)
}

/// The echo as a pool's task: the payload back.
fn echo(payload: ByteBuf) -> ByteBuf {
    payload
}

/// A long-lived pool of one worker, which echoes through `apply_async`.
struct PoolEcho {
    pool: ipc::WorkerPool,
    payload: ByteBuf,
}

impl PoolEcho {
    fn start() -> Result<PoolEcho> {
        Ok(PoolEcho {
            pool: ipc::get_context(ipc::StartMethod::Fork).pool(1).start()?,
            payload: ByteBuf::from(vec![0xa5; PAYLOAD]),
        })
    }
}

impl Peer for PoolEcho {
    fn run(&mut self, trips: usize) -> Result {
        for _ in 0..trips {
            let echo = self.pool.apply_async(echo, self.payload.clone())?.get()?;
            if echo.len() != PAYLOAD {
                return Err("pool echo: wrong length".into());
            }
        }
        Ok(())
    }

    fn finish(self) -> Result {
        self.pool.close();
        Ok(self.pool.join()?)
    }
}

/// A child that sends every message back, with `ipc`.
struct IpcEcho {
    conn: Connection,
    child: Process,
    payload: ByteBuf,
}

impl IpcEcho {
    fn start() -> Result<IpcEcho> {
        let (mut conn, mut child_end) = Pipe::new()?;
        conn.set_inheritable(false);
        let mut child = Process::with_exit_code(move || {
            loop {
                match child_end.recv::<ByteBuf>() {
                    Ok(message) if child_end.send(&message).is_ok() => {}
                    Err(ipc::Error::Closed) => return 0,
                    _ => return 1,
                }
            }
        });
        child.start()?;
        Ok(IpcEcho {
            conn,
            child,
            payload: ByteBuf::from(vec![0xa5; PAYLOAD]),
        })
    }
}

impl Peer for IpcEcho {
    fn run(&mut self, trips: usize) -> Result {
        for _ in 0..trips {
            self.conn.send(&self.payload)?;
            let echo: ByteBuf = self.conn.recv()?;
            if echo.len() != PAYLOAD {
                return Err("ipc echo: wrong length".into());
            }
        }
        Ok(())
    }

    /// Closes the pipe (the child sees the end of the stream and leaves) and joins.
    fn finish(self) -> Result {
        let IpcEcho {
            conn, mut child, ..
        } = self;
        drop(conn);
        match child.join()? {
            0 => Ok(()),
            code => Err(format!("ipc echo child exited with {code}").into()),
        }
    }
}

/// A child that sends every 64 bytes back, with plain reads and writes.
struct RawEcho {
    stream: UnixStream,
    child: RawChild,
    buf: [u8; PAYLOAD],
}

impl RawEcho {
    fn start() -> Result<RawEcho> {
        let (stream, mut child_end) = UnixStream::pair()?;
        let child = RawChild::spawn(move || {
            let mut buf = [0; PAYLOAD];
            loop {
                match child_end.read_exact(&mut buf) {
                    Ok(()) => child_end.write_all(&buf).expect("echo"),
                    Err(e) if e.kind() == ErrorKind::UnexpectedEof => return,
                    Err(e) => panic!("echo: {e}"),
                }
            }
        })?;
        Ok(RawEcho {
            stream,
            child,
            buf: [0xa5; PAYLOAD],
        })
    }
}

impl Peer for RawEcho {
    fn run(&mut self, trips: usize) -> Result {
        for _ in 0..trips {
            self.stream.write_all(&self.buf)?;
            self.stream.read_exact(&mut self.buf)?;
        }
        Ok(())
    }

    /// Shuts the socket down for writing: the child reads the end of the stream even though
    /// it holds a copy of this end too (a raw fork closes nothing).
    fn finish(self) -> Result {
        self.stream.shutdown(Shutdown::Write)?;
        self.child.join()
    }
}
