//! `SharedMemory`: a block of bytes that processes share. Python:
//! `multiprocessing.shared_memory.SharedMemory`.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::{Mode, fstat, lstat};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::descriptor::{self, Descriptor, Lent};
use crate::error::{Error, Result};
use crate::mapping::{Mapping, cannot_receive, path_of};
use crate::synchronize::robust::{init_own_pid, own_pid};

/// The name of the memfd of a block without a name, which says what made the file.
const ANONYMOUS_FILE: &CStr = c"ipc-shared-memory";

/// A block of bytes in shared memory, with no lock and no type. Python:
/// `multiprocessing.shared_memory.SharedMemory`.
///
/// | Python | here |
/// |---|---|
/// | `SharedMemory(create=True, size=n)` | [`SharedMemory::new`]`(n)`: no name, for this process and its children |
/// | `SharedMemory(name, create=True, size=n)` | [`SharedMemory::create`]`(name, n)`: under `/dev/shm`, for any process |
/// | `SharedMemory(name)` | [`SharedMemory::open`]`(name)` |
/// | `shm.buf[i]`, `shm.buf[a:b] = data` | [`buf()`](Self::buf)`[i]`, [`write(a, data)`](Self::write) |
/// | `bytes(shm.buf[a:b])` | [`read(a, &mut out)`](Self::read), [`to_vec()`](Self::to_vec) |
/// | `shm.name`, `shm.size` | [`name()`](Self::name), [`size()`](Self::size) |
/// | `shm.close()`, `shm.unlink()` | drop it; [`unlink()`](Self::unlink) |
///
/// ```
/// use ipc::{Process, SharedMemory};
///
/// let shm = SharedMemory::new(16)?;
/// let mut child = Process::new({
///     let shm = shm.clone();
///     move || shm.write(0, b"hello")
/// });
/// child.start()?;
/// child.join()?;
/// let mut hello = [0; 5];
/// shm.read(0, &mut hello);
/// assert_eq!(&hello, b"hello");
/// # Ok::<(), ipc::Error>(())
/// ```
///
/// # Bytes that other processes write
///
/// Python hands out `buf`, a `memoryview` of the bytes. The Rust equivalent, a `&mut [u8]`
/// (or even a `&[u8]`), would promise the compiler that nobody else changes those bytes
/// while it lives, which another process may do at any moment: undefined behaviour. So
/// [`buf`](Self::buf) is a slice of [`AtomicU8`]: each byte is read and written with an
/// atomic access, which another process's write cannot tear or race, and [`read`]
/// and [`write`](Self::write) copy bytes in and out that way. Nothing orders the bytes of
/// a copy among themselves: to read a record that another process writes, agree on a
/// [`Lock`](crate::Lock) or an [`Event`](crate::Event) too. For typed data, a
/// [`Value`](crate::Value) or an [`Array`](crate::Array) carries its own lock.
///
/// # Names
///
/// A block made by [`create`](Self::create) has a name under `/dev/shm`, by which other
/// programs (Python's `SharedMemory(name)` included) can [`open`](Self::open) it. The name
/// lasts until [`unlink`](Self::unlink), or until the handles of the process that created
/// it are dropped (a child's copy, made by `fork` or received in its arguments, unlinks
/// nothing; nor does a handle whose name was unlinked and given to another block since,
/// unless that happens between the check and the unlink, two system calls apart):
/// Python leaves that to its resource tracker at exit. A program that opens the
/// block by name can also shrink it, and a process that touches a page past the new end
/// gets `SIGBUS`: share names only with programs you trust. A block made by [`new`](Self::new) has no name, and its size
/// is sealed.
///
/// [`read`]: Self::read
#[derive(Clone)]
pub struct SharedMemory {
    inner: Arc<Inner>,
}

struct Inner {
    mapping: Mapping,
    /// The name under `/dev/shm`, without the leading `/`.
    name: Option<String>,
    /// The process that created the name: only it unlinks the name when dropped.
    creator: Option<i32>,
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.inner.name)
            .field("size", &self.size())
            .finish()
    }
}

impl SharedMemory {
    /// A new block of `size` zero bytes, with no name (a memfd): for this process and the
    /// children it forks. Python: `SharedMemory(create=True, size=size)`, which makes up a
    /// name.
    pub fn new(size: usize) -> Result<SharedMemory> {
        init_own_pid();
        Ok(SharedMemory::from_parts(
            Mapping::new(ANONYMOUS_FILE, positive(size)?)?,
            None,
            None,
        ))
    }

    /// A new block of `size` zero bytes named `name` (under `/dev/shm`, as `/dev/shm/NAME`),
    /// for any process that knows the name; an error if the name is taken. Python:
    /// `SharedMemory(name, create=True, size=size)`.
    ///
    /// The name is removed when the creator drops its last handle. A creator that is
    /// killed (or leaves by `std::process::exit`, which runs no destructor) leaves the name
    /// behind, until a process [`open`](Self::open)s and [`unlink`](Self::unlink)s it or
    /// `/dev/shm/NAME` is deleted: `ipc` has no resource tracker, the process Python starts
    /// to remove such names after a crash.
    pub fn create(name: &str, size: usize) -> Result<SharedMemory> {
        init_own_pid();
        let size = positive(size)?;
        let path = shm_path(name)?;
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC;
        let fd = shm_open(path.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|errno| naming(&path, errno))?;
        let made = nix::unistd::ftruncate(&fd, size as nix::libc::off_t)
            .map_err(std::io::Error::from)
            .and_then(|()| Mapping::from_fd(fd));
        match made {
            Ok(mapping) => Ok(SharedMemory::from_parts(
                mapping,
                Some(name.to_string()),
                Some(own_pid()),
            )),
            Err(e) => {
                let _ = shm_unlink(path.as_str());
                Err(e.into())
            }
        }
    }

    /// Opens the block named `name`, made by this or another program. Python:
    /// `SharedMemory(name)`.
    pub fn open(name: &str) -> Result<SharedMemory> {
        init_own_pid();
        let path = shm_path(name)?;
        let fd = shm_open(
            path.as_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| naming(&path, errno))?;
        let mapping = Mapping::from_fd(fd)?;
        Ok(SharedMemory::from_parts(
            mapping,
            Some(name.to_string()),
            None,
        ))
    }

    fn from_parts(mapping: Mapping, name: Option<String>, creator: Option<i32>) -> SharedMemory {
        SharedMemory {
            inner: Arc::new(Inner {
                mapping,
                name,
                creator,
            }),
        }
    }

    /// The block's name, if it has one. Python: `shm.name`.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// Its size in bytes. Python: `shm.size`.
    pub fn size(&self) -> usize {
        self.inner.mapping.len()
    }

    /// The bytes, each an [`AtomicU8`]: `buf()[i].load(Ordering::Relaxed)` reads byte `i`.
    /// Python: `shm.buf`. See [above](Self#bytes-that-other-processes-write) for why atomics.
    pub fn buf(&self) -> &[AtomicU8] {
        let mapping = &self.inner.mapping;
        // SAFETY: the mapping is `len` bytes, valid as long as `self` (which keeps it);
        // `AtomicU8` has the size and alignment of `u8`, and every access through this
        // slice is atomic, so writes by other threads or processes are no data race.
        unsafe {
            std::slice::from_raw_parts(mapping.ptr().cast::<AtomicU8>().as_ptr(), mapping.len())
        }
    }

    /// Copies `out.len()` bytes from `offset` into `out`. Panics if that goes past the end.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        let bytes = &self.buf()[offset..offset + out.len()];
        for (out, byte) in out.iter_mut().zip(bytes) {
            *out = byte.load(Ordering::Relaxed);
        }
    }

    /// Copies `data` into the block at `offset`. Panics if that goes past the end.
    pub fn write(&self, offset: usize, data: &[u8]) {
        let bytes = &self.buf()[offset..offset + data.len()];
        for (byte, value) in bytes.iter().zip(data) {
            byte.store(*value, Ordering::Relaxed);
        }
    }

    /// A copy of every byte.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut bytes = vec![0; self.size()];
        self.read(0, &mut bytes);
        bytes
    }

    /// Removes the name, so that no other process can open the block (those that have it
    /// keep it). Python: `shm.unlink()`. Nothing to do for a block without a name.
    ///
    /// An error if the name is gone (Python's `FileNotFoundError`), or if it was unlinked
    /// and now names another block: that block keeps its name (Python would remove it).
    /// The check and the unlink are two system calls (Linux cannot unlink a name only if
    /// it is still a given file): a name unlinked and taken again by another process in
    /// between is still removed.
    pub fn unlink(&self) -> Result<()> {
        let Some(name) = &self.inner.name else {
            return Ok(());
        };
        let path = shm_path(name)?;
        // Anything at the name, a symlink included (shm_unlink would remove it too).
        let taken = Path::new(&shm_file(name)).symlink_metadata().is_ok();
        if !still_named(self.as_fd(), name) && taken {
            let why =
                format!("shared memory {path}: the name was unlinked, and is another block's now");
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, why).into());
        }
        shm_unlink(path.as_str()).map_err(|errno| naming(&path, errno))
    }
}

/// How a block travels. Python pickles a `SharedMemory` as its name, and the receiver
/// opens it again by name, in a new process's arguments as in any message.
#[derive(Serialize)]
enum Outgoing<'a> {
    /// A block without a name, in a new process's arguments: its descriptor, its size.
    Anonymous(Lent<'a>, u64),
    /// A named block, in a new process's arguments: its descriptor (which works even if
    /// the name was unlinked meanwhile), its name, its size.
    Named(Lent<'a>, &'a str, u64),
    /// A named block in a message or a pool's task: its name and size, as in Python.
    ByName(&'a str, u64),
}

/// What [`Outgoing`] was, decoded.
#[derive(Deserialize)]
enum Incoming {
    Anonymous(Descriptor, u64),
    Named(Descriptor, String, u64),
    ByName(String, u64),
}

/// A `SharedMemory` can go to a process as it starts, in its arguments (see [`Descriptor`])
/// or its pool's initializer's, with the forkserver and spawn methods: the new process
/// maps the same bytes (by its descriptor), and keeps its name if it has one. A named block can also go in a message or a pool's task, by its
/// name (the receiver opens it again), as Python sends every `SharedMemory`; a block
/// without a name cannot, since nothing but its descriptor leads to it.
///
/// The receiver never unlinks the name when it drops its copy: that is the creator's
/// (or an explicit [`unlink`](SharedMemory::unlink)), as in Python.
impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let size = self.size() as u64;
        let fd = Lent(self.as_fd());
        match self.name() {
            None => Outgoing::Anonymous(fd, size),
            Some(name) if descriptor::starting_a_process() => Outgoing::Named(fd, name, size),
            Some(name) => Outgoing::ByName(name, size),
        }
        .serialize(serializer)
    }
}

/// Checks what it receives before it maps it: the memfd of a block without a name, or the
/// file under `/dev/shm` of the name it came with; of the size it came with.
impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<SharedMemory, D::Error> {
        let received = match Incoming::deserialize(deserializer)? {
            Incoming::Anonymous(fd, size) => receive_anonymous(fd.into_owned(), size),
            Incoming::Named(fd, name, size) => receive_named(fd.into_owned(), name, size),
            Incoming::ByName(name, size) => SharedMemory::open(&name)
                .map_err(|e| e.to_string())
                .and_then(|shm| same_size(shm, size)),
        };
        received.map_err(|why| cannot_receive("a SharedMemory", why))
    }
}

fn receive_anonymous(fd: OwnedFd, size: u64) -> std::result::Result<SharedMemory, String> {
    init_own_pid();
    let size = usize::try_from(size).map_err(|_| format!("a size of {size}"))?;
    let mapping = Mapping::receive(fd, &[ANONYMOUS_FILE], size)?;
    same_size(SharedMemory::from_parts(mapping, None, None), size as u64)
}

/// A named block's descriptor: it must be the file of that name under `/dev/shm` (unlinked
/// since, or not), not the memory of another kind of object. Its size is not sealed: a
/// program that opens the name can change it, as the [type's docs](SharedMemory#names)
/// say.
fn receive_named(
    fd: OwnedFd,
    name: String,
    size: u64,
) -> std::result::Result<SharedMemory, String> {
    init_own_pid();
    let file = shm_file(&name);
    if shm_path(&name).is_err() || !has_or_had_path(fd.as_fd(), &name)? {
        let path = path_of(fd.as_fd()).map_err(|e| e.to_string())?;
        return Err(format!(
            "the descriptor is {path}, not {file} (nor that file, unlinked since)"
        ));
    }
    let mapping = Mapping::from_fd(fd).map_err(|e| e.to_string())?;
    same_size(SharedMemory::from_parts(mapping, Some(name), None), size)
}

/// Whether `fd` is the file named `name` under `/dev/shm` now, or the one that was there
/// until it was unlinked. The path `/proc` gives cannot tell: an unlinked file's is its old
/// path with " (deleted)" after it, which a live file named so has too. So a live file is
/// the one at that path ([`still_named`]), and an unlinked one has no name left at all.
fn has_or_had_path(fd: BorrowedFd<'_>, name: &str) -> std::result::Result<bool, String> {
    if still_named(fd, name) {
        return Ok(true);
    }
    let own = fstat(fd).map_err(|e| e.to_string())?;
    let path = path_of(fd).map_err(|e| e.to_string())?;
    Ok(own.st_nlink == 0 && path == format!("{} (deleted)", shm_file(name)))
}

/// Whether the name `name` leads to `fd`'s file: the same file (device and inode) as the
/// one at `/dev/shm/NAME` (not one a symlink there leads to: `shm_open` follows none).
/// A name can be unlinked and given to another block since it was this one's.
fn still_named(fd: BorrowedFd<'_>, name: &str) -> bool {
    let (Ok(own), Ok(there)) = (fstat(fd), lstat(shm_file(name).as_str())) else {
        return false;
    };
    (there.st_dev, there.st_ino) == (own.st_dev, own.st_ino)
}

/// The file of the name `name`: `/dev/shm/NAME`, where Linux keeps `shm_open`'s names.
fn shm_file(name: &str) -> String {
    format!("/dev/shm/{name}")
}

/// `shm`, if it is `size` bytes, as the sender said.
fn same_size(shm: SharedMemory, size: u64) -> std::result::Result<SharedMemory, String> {
    if shm.size() as u64 != size {
        return Err(format!(
            "it is {} bytes, and the sender's was {size}",
            shm.size()
        ));
    }
    Ok(shm)
}

impl AsFd for SharedMemory {
    /// The descriptor of the block's file: sent to another process over a Unix socket
    /// (`SCM_RIGHTS`), it lets that process map the same bytes.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.mapping.fd()
    }
}

impl Drop for Inner {
    /// The process that created a name unlinks it, as a `TempDir` deletes its folder, if
    /// the name is still this block's: unlinked already, it may name another block now,
    /// which keeps it. In any other process this only unmaps.
    fn drop(&mut self) {
        if let (Some(name), Some(creator)) = (&self.name, self.creator)
            && creator == own_pid()
            && still_named(self.mapping.fd(), name)
            && let Ok(path) = shm_path(name)
        {
            let _ = shm_unlink(path.as_str());
        }
    }
}

/// `errno` from `shm_open(path)`, with the block's name in its text, as Python's
/// `FileExistsError: [Errno 17] File exists: '/NAME'`.
fn naming(path: &str, errno: nix::errno::Errno) -> Error {
    let error = std::io::Error::from(errno);
    std::io::Error::new(error.kind(), format!("shared memory {path}: {error}")).into()
}

/// `/NAME` for `shm_open`, if `name` is one: not empty, no `/`, and short enough.
fn shm_path(name: &str) -> Result<String> {
    if name.is_empty() || name.contains(['/', '\0']) || name.len() > 250 {
        let why =
            format!("{name:?} is not a shared memory name: 1 to 250 bytes, without '/' or NUL");
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why).into());
    }
    Ok(format!("/{name}"))
}

fn positive(size: usize) -> Result<usize> {
    if size == 0 {
        let why = "a shared memory block needs a size above 0";
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why).into());
    }
    Ok(size)
}
