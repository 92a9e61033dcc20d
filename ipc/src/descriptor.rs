//! `Descriptor`: an open file (a pipe end, a queue, shared memory) in the arguments of a
//! process as it starts. Python pickles connections, queues and locks for a new process by
//! sending their descriptors with it; it calls this *inheritance*.
//!
//! A descriptor is a number that means something in one process only, so it cannot be
//! encoded like a value. When the arguments of a process started with the forkserver or
//! spawn method (or of a pool's initializer) are encoded, each `Descriptor` in them is
//! copied (`dup`) into a table, and encoded as its place in that table; the table goes
//! with the new process as it starts (inherited across `fork` and `exec`, or sent with
//! `SCM_RIGHTS` through the forkserver); as the arguments are decoded there, each place
//! becomes that process's own descriptor for the same open file.
//!
//! Anywhere else (a message on a `Pipe`, a pool's task) a `Descriptor` cannot be encoded:
//! the error says so, as Python's "should only be shared between processes through
//! inheritance" does.

use std::cell::RefCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec;
use crate::error::Result;

thread_local! {
    /// While the arguments of a starting process are encoded: the descriptors met so far.
    static SENDING: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    /// While they are decoded in the new process: the descriptors it was given, each taken
    /// once.
    static RECEIVED: RefCell<Option<Vec<Option<OwnedFd>>>> = const { RefCell::new(None) };
}

/// An open file that goes to a new process in its arguments, as Python's *inheritance*
/// does for connections, queues and locks. As the arguments of a process started with the
/// forkserver or spawn method are encoded, each `Descriptor` is copied (`dup`) into a table
/// that goes with the new process (inherited across `fork` and `exec`, or sent with
/// `SCM_RIGHTS` through the forkserver), and there it becomes that process's own
/// descriptor for the same open file. Anywhere else (a message on a `Pipe`, a pool's task)
/// it cannot be encoded, and the error says so.
///
/// ```
/// use std::io::{Read, Write};
/// use ipc::{Descriptor, StartMethod, get_context};
///
/// fn greet(fd: Descriptor) {
///     let mut file = std::fs::File::from(fd.into_owned());
///     file.write_all(b"hello from the forkserver's child").unwrap();
/// }
///
/// ipc::forkserver::start()?; // first thing in main: before the pipe, which it would keep
/// let (mut reader, writer) = std::io::pipe()?;
/// let ctx = get_context(StartMethod::Forkserver);
/// let mut p = ctx.process(greet, Descriptor::from(std::os::fd::OwnedFd::from(writer)))?;
/// p.start()?;
/// drop(p.join()?);
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?; // the end comes: the process had the last copy
/// assert_eq!(text, "hello from the forkserver's child");
/// # ipc::forkserver::stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Descriptor(OwnedFd);

impl Descriptor {
    /// The descriptor itself.
    pub fn into_owned(self) -> OwnedFd {
        self.0
    }
}

impl From<OwnedFd> for Descriptor {
    fn from(fd: OwnedFd) -> Descriptor {
        Descriptor(fd)
    }
}

impl AsFd for Descriptor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// A descriptor to encode, borrowed from the value that holds it (a `Connection`, a
/// `Queue`): see [`serialize_fd`].
pub(crate) struct Lent<'a>(pub(crate) BorrowedFd<'a>);

impl Serialize for Lent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fd(self.0, serializer)
    }
}

/// Encodes the descriptor `fd` (for the `Serialize` of a type that holds one): a copy of it
/// goes into the table of the process being started, and its place there is encoded.
pub(crate) fn serialize_fd<S: Serializer>(
    fd: BorrowedFd<'_>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let place = SENDING.with(|sending| {
        let mut sending = sending.borrow_mut();
        let table = sending.as_mut().ok_or_else(|| {
            S::Error::custom(
                "a descriptor (a pipe end, a queue, a lock, shared memory) can only go to a \
                 process as it starts, in its arguments or its pool's initializer's: it is \
                 shared by inheritance, not sent in a message",
            )
        })?;
        let copy = fd.try_clone_to_owned().map_err(S::Error::custom)?;
        table.push(copy);
        Ok(table.len() - 1)
    })?;
    serializer.serialize_u32(place as u32)
}

/// Whether the arguments of a process that starts are being encoded: whether a descriptor
/// can be encoded now. (A named `SharedMemory` goes by its name otherwise, as in Python.)
pub(crate) fn starting_a_process() -> bool {
    SENDING.with(|sending| sending.borrow().is_some())
}

/// Decodes a descriptor encoded by [`serialize_fd`]: this process's own, taken from the
/// table it was started with.
fn deserialize_fd<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OwnedFd, D::Error> {
    let place = u32::deserialize(deserializer)? as usize;
    RECEIVED.with(|received| {
        received
            .borrow_mut()
            .as_mut()
            .and_then(|table| table.get_mut(place))
            .and_then(Option::take)
            .ok_or_else(|| {
                D::Error::custom("a descriptor this process was not given, or given once")
            })
    })
}

impl Serialize for Descriptor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fd(self.0.as_fd(), serializer)
    }
}

impl<'de> Deserialize<'de> for Descriptor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Descriptor, D::Error> {
        deserialize_fd(deserializer).map(Descriptor)
    }
}

/// Encodes the arguments of a process that is starting: their bytes, and the descriptors
/// they hold (copies), to go with it.
pub(crate) fn encode_args<T: Serialize + ?Sized>(args: &T) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    /// Ends the encoding however it ends: a `Serialize` that panics (and a caller that
    /// catches it) must not leave the table open, holding copies and taking descriptors
    /// that a message would then carry as places in it.
    struct Encoding;
    impl Drop for Encoding {
        fn drop(&mut self) {
            SENDING.with(|sending| sending.borrow_mut().take());
        }
    }
    SENDING.with(|sending| *sending.borrow_mut() = Some(Vec::new()));
    let encoding = Encoding;
    let mut bytes = Vec::new();
    let encoded = codec::encode_call_into(args, &mut bytes);
    let fds = SENDING.with(|sending| sending.borrow_mut().take().unwrap_or_default());
    drop(encoding);
    encoded.map(|()| (bytes, fds))
}

/// Runs `decode` (which decodes the arguments of this process) with the descriptors it was
/// started with available to them. Those not taken are closed afterwards. They are
/// close-on-exec already (`SCM_RIGHTS` with `MSG_CMSG_CLOEXEC`, or [`crate::spawn::init`]).
pub(crate) fn with_received<R>(fds: Vec<OwnedFd>, decode: impl FnOnce() -> R) -> R {
    RECEIVED.with(|received| *received.borrow_mut() = Some(fds.into_iter().map(Some).collect()));
    let result = decode();
    RECEIVED.with(|received| received.borrow_mut().take());
    result
}
