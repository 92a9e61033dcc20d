//! `Pipe` and `Connection`: messages both ways between processes, the closed error,
//! and broken, oversized and huge frames.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::sync::Mutex;

use fork_test::{SignalStorm, time_limit};
use ipc::{Connection, Error, Pipe, Process};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{Signal, raise};
use serde::{Deserialize, Serialize};

/// Counts the bytes this test binary allocates, to show that refusing a frame costs nothing.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocated_by(f: impl FnOnce()) -> usize {
    let before = ALLOCATED.load(Ordering::Relaxed);
    f();
    ALLOCATED.load(Ordering::Relaxed) - before
}

/// Writes raw bytes into a connection's descriptor, bypassing the framing.
fn write_raw(conn: &Connection, bytes: &[u8]) {
    let mut file = File::from(conn.as_fd().try_clone_to_owned().unwrap());
    file.write_all(bytes).unwrap();
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Request {
    Load(String),
    Shutdown,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Reply {
    Page {
        url: String,
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
    },
}

fn a_duplex_pipe_carries_typed_messages_both_ways() {
    let (mut parent_conn, mut child_conn) = Pipe::new().unwrap();
    let mut p = Process::new(move || {
        while let Ok(Request::Load(url)) = child_conn.recv() {
            let body = format!("<p>{url}</p>").into_bytes();
            child_conn.send(&Reply::Page { url, body }).unwrap();
        }
    });
    p.start().unwrap();
    for url in ["/", "/about"] {
        parent_conn.send(&Request::Load(url.into())).unwrap();
        let Reply::Page { url: got, body } = parent_conn.recv().unwrap();
        assert_eq!(
            (got.as_str(), body),
            (url, format!("<p>{url}</p>").into_bytes())
        );
    }
    parent_conn.send(&Request::Shutdown).unwrap();
    assert_eq!(p.join().unwrap(), 0);
}

fn the_child_sees_the_end_when_the_parent_closes() {
    let (mut parent_conn, mut child_conn) = Pipe::new().unwrap();
    parent_conn.set_inheritable(false);
    let mut p = Process::with_exit_code(move || match child_conn.recv::<String>() {
        Err(Error::Closed) => 0,
        _ => 1,
    });
    p.start().unwrap();
    parent_conn.close();
    assert_eq!(p.join().unwrap(), 0, "the child got Closed, not a hang");
}

fn a_child_killed_while_the_parent_waits_gives_closed_at_once() {
    let (mut parent_conn, child_conn) = Pipe::new().unwrap();
    let mut p = Process::new(move || {
        let _keep = child_conn;
        std::thread::sleep(Duration::from_millis(100));
        raise(Signal::SIGKILL).unwrap();
    });
    p.start().unwrap();
    let started = Instant::now();
    assert!(matches!(parent_conn.recv::<String>(), Err(Error::Closed)));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "recv returned when the child died"
    );
    assert_eq!(p.join().unwrap(), -9);
}

fn a_one_way_pipe_only_goes_one_way() {
    let (mut rx, mut tx) = Pipe::one_way().unwrap();
    assert!(matches!(rx.send(&1u8), Err(Error::WrongDirection(_))));
    assert!(matches!(tx.recv::<u8>(), Err(Error::WrongDirection(_))));
    let mut p = Process::new(move || tx.send(&"from the child").unwrap());
    p.start().unwrap();
    assert_eq!(rx.recv::<String>().unwrap(), "from the child");
    assert_eq!(p.join().unwrap(), 0);
    assert!(matches!(rx.recv::<String>(), Err(Error::Closed)));
}

/// CPython's `test_empty_string`: an empty message is a message. `poll` says so, and
/// keeps saying so, until it is received.
fn an_empty_message_is_a_message() {
    let (mut a, mut b) = Pipe::new().unwrap();
    assert!(!a.poll(Duration::ZERO).unwrap());
    b.send_bytes(b"").unwrap();
    assert!(a.poll(Duration::ZERO).unwrap());
    assert!(a.poll(Duration::ZERO).unwrap());
    assert_eq!(a.recv_bytes().unwrap(), b"");
    assert!(!a.poll(Duration::ZERO).unwrap());
    b.send_bytes(b"").unwrap();
    b.send_bytes(b"after").unwrap();
    assert_eq!(a.recv_bytes().unwrap(), b"");
    assert_eq!(a.recv_bytes().unwrap(), b"after");
}

fn poll_waits_at_most_its_timeout() {
    let (mut a, mut b) = Pipe::new().unwrap();
    assert!(!a.poll(Duration::from_millis(20)).unwrap());
    b.send(&42u32).unwrap();
    assert!(a.poll(Duration::from_secs(10)).unwrap());
    assert_eq!(a.recv::<u32>().unwrap(), 42);
    assert!(!a.poll(Duration::ZERO).unwrap());
    // Two messages read by one system call: the second is in the buffer, and poll knows.
    b.send(&1u8).unwrap();
    b.send(&2u8).unwrap();
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(a.recv::<u8>().unwrap(), 1);
    assert!(a.poll(Duration::ZERO).unwrap());
    assert_eq!(a.recv::<u8>().unwrap(), 2);
}

fn an_oversized_frame_is_refused_before_allocating() {
    let (mut a, b) = Pipe::new().unwrap();
    a.set_max_message_size(1024 * 1024);
    write_raw(&b, &(200u32 * 1024 * 1024).to_be_bytes());
    let mut result = None;
    let bytes = allocated_by(|| result = Some(a.recv_bytes()));
    assert!(matches!(
        result,
        Some(Err(Error::TooLarge {
            len: 209_715_200,
            limit: 1_048_576
        }))
    ));
    assert!(
        bytes < 256 * 1024,
        "allocated {bytes} bytes for a refused frame"
    );
    // The sender refuses too, before writing anything.
    let mut small = Pipe::new().unwrap().0;
    small.set_max_message_size(8);
    assert!(matches!(
        small.send(&"far more than eight bytes"),
        Err(Error::TooLarge { .. })
    ));
}

fn a_truncated_frame_is_an_error() {
    let (mut a, b) = Pipe::new().unwrap();
    write_raw(&b, &100u32.to_be_bytes());
    write_raw(&b, &[7; 10]);
    drop(b);
    assert!(matches!(
        a.recv_bytes(),
        Err(Error::Truncated {
            expected: 104,
            got: 14
        })
    ));

    let (mut a, b) = Pipe::new().unwrap();
    write_raw(&b, &[0, 0]); // half a header
    drop(b);
    assert!(matches!(
        a.recv_bytes(),
        Err(Error::Truncated {
            expected: 4,
            got: 2
        })
    ));
}

fn a_corrupt_frame_is_an_error_not_a_panic() {
    let (mut a, mut b) = Pipe::new().unwrap();
    b.send_bytes(&[0xff, 0xff, 0xff]).unwrap();
    assert!(matches!(a.recv::<String>(), Err(Error::Decode(_))));
    b.send(&(1u8, 2u8)).unwrap();
    assert!(
        matches!(a.recv::<u8>(), Err(Error::Decode(_))),
        "left-over bytes"
    );
    // A string length inside the message that claims 2 GiB (varint: 0xfc, then a u32).
    b.send_bytes(&[1, 0xfc, 0xff, 0xff, 0xff, 0x7f]).unwrap();
    let mut result = None;
    let bytes = allocated_by(|| result = Some(a.recv::<Vec<String>>()));
    assert!(matches!(result, Some(Err(Error::Decode(_)))));
    assert!(
        bytes < 1024 * 1024,
        "allocated {bytes} bytes for a 6-byte message"
    );
    // Many pseudo-random messages: every one is a value or an error.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 0..2000 {
        let garbage: Vec<u8> = (0..len % 64)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        b.send_bytes(&garbage).unwrap();
        let _ = a.recv::<(String, Vec<u64>, Option<Request>)>();
    }
}

fn a_100_mib_message_arrives_intact() {
    const LEN: usize = 100 * 1024 * 1024;
    let pattern = |i: usize| (i % 251) as u8;
    let (mut parent_conn, mut child_conn) = Pipe::new().unwrap();
    let mut p = Process::new(move || {
        let body: Vec<u8> = (0..LEN).map(pattern).collect();
        child_conn
            .send(&Reply::Page {
                url: "/big".into(),
                body: body.clone(),
            })
            .unwrap();
        child_conn.send_bytes(&body).unwrap();
    });
    p.start().unwrap();
    let Reply::Page { url, body } = parent_conn.recv().unwrap();
    assert_eq!(url, "/big");
    assert_eq!(body.len(), LEN);
    assert!(body.iter().enumerate().all(|(i, &b)| b == pattern(i)));
    let raw = parent_conn.recv_bytes().unwrap();
    assert!(raw == body, "send_bytes carries the same bytes");
    assert_eq!(p.join().unwrap(), 0);
}

fn wait_reports_every_ready_connection() {
    let (a, mut a_peer) = Pipe::new().unwrap();
    let (b, _b_peer) = Pipe::new().unwrap();
    let (c, c_peer) = Pipe::new().unwrap();
    a_peer.send(&()).unwrap();
    drop(c_peer);
    let ready = ipc::connection::wait(&[&a, &b, &c], Some(Duration::from_secs(10))).unwrap();
    assert_eq!(ready, [0, 2]);
    assert!(
        ipc::connection::wait(&[&b], Some(Duration::from_millis(10)))
            .unwrap()
            .is_empty()
    );
}

/// Python's `wait` returns every object that is ready (`test_wait_integer` expects all
/// three); one whose messages were read ahead into its buffer must not hide the others.
fn wait_beside_a_connection_with_buffered_messages_reports_the_others_too() {
    let (mut a, mut a_peer) = Pipe::new().unwrap();
    let (b, mut b_peer) = Pipe::new().unwrap();
    a_peer.send(&1u8).unwrap();
    a_peer.send(&2u8).unwrap();
    assert_eq!(a.recv::<u8>().unwrap(), 1); // reads the second one ahead too
    b_peer.send(&3u8).unwrap();
    let ready = ipc::connection::wait(&[&a, &b], Some(Duration::from_secs(10))).unwrap();
    assert_eq!(ready, [0, 1]);
}

/// Python's `wait([], t)` sleeps `t` and returns `[]`: nothing to wait for is not "all ready".
fn wait_on_nothing_waits_its_timeout() {
    let started = Instant::now();
    let ready = ipc::connection::wait(&[], Some(Duration::from_millis(50))).unwrap();
    assert!(ready.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
}

fn an_end_kept_by_the_parent_but_moved_into_a_child_works_there() {
    for open_a_file_first in [true, false] {
        let (mut a, mut b) = Pipe::new().unwrap();
        a.set_inheritable(false);
        let mut p = Process::with_exit_code(move || {
            // If the child had closed `a`'s number, this file would get it, and `send`
            // would write into the file.
            let _file = open_a_file_first.then(|| File::open("/dev/null").unwrap());
            match a.send(&"from the child") {
                Ok(()) => 0,
                Err(_) => 1,
            }
        });
        p.start().unwrap();
        assert_eq!(b.recv::<String>().unwrap(), "from the child");
        assert_eq!(p.join().unwrap(), 0, "the child sent, then dropped its end");
    }
}

/// An end that stays in the parent, where a child can still reach it: a global.
static KEPT_BY_THE_PARENT: Mutex<Option<Connection>> = Mutex::new(None);

fn an_end_kept_by_the_parent_is_an_error_in_the_child_not_a_stray_descriptor() {
    let (mut a, _b) = Pipe::new().unwrap();
    a.set_inheritable(false);
    *KEPT_BY_THE_PARENT.lock().unwrap() = Some(a);
    let mut p = Process::with_exit_code(|| {
        let _file = File::open("/dev/null").unwrap();
        let mut kept = KEPT_BY_THE_PARENT.lock().unwrap();
        match kept.as_mut().unwrap().send(&1u8) {
            Err(e) if e.to_string().contains("set_inheritable") => 0,
            other => {
                eprintln!("{other:?}");
                1
            }
        }
    });
    p.start().unwrap();
    let code = p.join().unwrap();
    KEPT_BY_THE_PARENT.lock().unwrap().take();
    assert_eq!(code, 0);
}

fn timeouts_hold_while_signals_arrive() {
    time_limit(Duration::from_secs(30));
    let (a, _b) = Pipe::new().unwrap();
    let storm = SignalStorm::start(Duration::from_millis(20));
    let timeout = Duration::from_millis(500);
    for what in ["poll", "wait"] {
        let started = Instant::now();
        match what {
            "poll" => assert!(!a.poll(timeout).unwrap()),
            _ => assert!(
                ipc::connection::wait(&[&a], Some(timeout))
                    .unwrap()
                    .is_empty()
            ),
        }
        let took = started.elapsed();
        assert!(took >= timeout, "{what} returned early: {took:?}");
        assert!(
            took < timeout * 3,
            "{what} took {took:?} for a 500 ms timeout"
        );
    }
    drop(storm);
}

/// Runs `receive` in a child process whose address space is capped at 200 MB (as with
/// `ulimit -v 200000`), and returns its exit code: 0 if `receive` returned true.
fn in_a_small_child(receive: impl FnOnce() -> bool + 'static) -> i32 {
    let mut p = Process::with_exit_code(move || {
        setrlimit(Resource::RLIMIT_AS, 200_000 * 1024, 200_000 * 1024).unwrap();
        if receive() { 0 } else { 1 }
    });
    p.start().unwrap();
    p.join().unwrap()
}

fn a_frame_reserves_no_more_than_what_arrives() {
    // A 5-byte message whose string claims a billion bytes.
    let (mut a, mut b) = Pipe::new().unwrap();
    b.send_bytes(&[0xfc, 0x00, 0xca, 0x9a, 0x3b]).unwrap(); // 10^9 bytes
    let code = in_a_small_child(move || matches!(a.recv::<String>(), Err(Error::Decode(_))));
    assert_eq!(code, 0, "a 5-byte message is refused, not 1 GB reserved");
    // A header that claims 256 MiB, then 10 bytes, then the end.
    let (mut a, b) = Pipe::new().unwrap();
    write_raw(&b, &(256u32 * 1024 * 1024).to_be_bytes());
    write_raw(&b, &[7; 10]);
    drop(b);
    let code = in_a_small_child(move || matches!(a.recv_bytes(), Err(Error::Truncated { .. })));
    assert_eq!(code, 0, "a 14-byte frame was cut short, and said so");
}

/// Recursive types: a message can nest them as deep as its length allows.
#[derive(Serialize, Deserialize)]
enum Chain {
    End,
    Link(Box<Chain>),
}

#[derive(Serialize, Deserialize)]
struct Nest(Vec<Nest>);

fn a_deeply_nested_message_is_an_error_not_a_stack_overflow() {
    let deep_box: Vec<u8> = [vec![1u8; 60_000], vec![0]].concat(); // Link(Link(…End))
    let deep_vec: Vec<u8> = [vec![1u8; 30_000], vec![0]].concat(); // [[[…[]…]]]
    for (frame, what) in [(deep_box, "Box"), (deep_vec, "Vec")] {
        let (mut a, mut b) = Pipe::new().unwrap();
        b.send_bytes(&frame).unwrap();
        let mut p = Process::with_exit_code(move || {
            let refused = match what {
                "Box" => a.recv::<Chain>().map(std::mem::forget).is_err(),
                _ => a.recv::<Nest>().map(std::mem::forget).is_err(),
            };
            if refused { 0 } else { 1 }
        });
        p.start().unwrap();
        assert_eq!(
            p.join().unwrap(),
            0,
            "a {what} nested deep is a decode error"
        );
    }
}

fn a_refused_message_leaves_no_fake_message_behind() {
    let (mut a, mut b) = Pipe::new().unwrap();
    a.set_max_message_size(16);
    // A 32-byte body that starts like a frame of its own.
    let mut body = vec![0, 0, 0, 3, b'f', b'a', b'k'];
    body.resize(32, 0);
    b.send_bytes(&body).unwrap();
    assert!(matches!(
        a.recv_bytes(),
        Err(Error::TooLarge { len: 32, .. })
    ));
    let next = a.recv_bytes();
    assert!(next.is_err(), "after a refused message: {next:?}");
}

fn poll_on_the_sending_end_of_a_one_way_pipe_is_an_error() {
    let (_rx, tx) = Pipe::one_way().unwrap();
    assert!(matches!(
        tx.poll(Duration::ZERO),
        Err(Error::WrongDirection(_))
    ));
}

/// A big frame (decoded as it arrives) is held to the same rules as a small one: nesting,
/// lengths checked against what is left, and no memory reserved ahead of the bytes.
fn a_big_hostile_frame_is_refused_like_a_small_one() {
    // 100 000 nested `Box`es: over the size at which frames are decoded as they arrive.
    let deep: Vec<u8> = [vec![1u8; 100_000], vec![0]].concat();
    let (mut a, mut b) = Pipe::new().unwrap();
    b.send_bytes(&deep).unwrap();
    let code = in_a_small_child(move || a.recv::<Chain>().map(std::mem::forget).is_err());
    assert_eq!(
        code, 0,
        "a 100 KB nest is a decode error, not a stack overflow"
    );

    // A 200 000-byte body whose string claims a billion bytes.
    let mut body = vec![0xfc, 0x00, 0xca, 0x9a, 0x3b];
    body.resize(200_000, b'x');
    let (mut a, mut b) = Pipe::new().unwrap();
    b.send_bytes(&body).unwrap();
    let code = in_a_small_child(move || matches!(a.recv::<String>(), Err(Error::Decode(_))));
    assert_eq!(code, 0, "refused from the length alone");

    // A string that fits the frame's announced length, but the sender stops half-way:
    // the memory grows with what arrives, then the frame is cut short.
    let mut frame = (150u32 * 1024 * 1024 + 5).to_be_bytes().to_vec();
    frame.extend_from_slice(&[0xfc, 0x00, 0x00, 0x60, 0x09]); // 150 MiB
    frame.extend_from_slice(&[b'y'; 100_000]);
    let (mut a, b) = Pipe::new().unwrap();
    write_raw(&b, &frame);
    drop(b);
    let code = in_a_small_child(move || matches!(a.recv::<String>(), Err(Error::Truncated { .. })));
    assert_eq!(
        code, 0,
        "a 150 MiB string that stops after 100 KB is cut short, and cheap"
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Page {
    url: String,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

/// A big value whose encoding stops on the pass that writes it into the pipe, after its
/// string has gone (a value that encodes differently each time): with an error, or with a
/// panic if `panics`.
struct StopsHalfWay {
    text: String,
    panics: bool,
    passes: std::cell::Cell<usize>,
}

impl StopsHalfWay {
    fn new(panics: bool) -> StopsHalfWay {
        StopsHalfWay {
            text: "x".repeat(100_000),
            panics,
            passes: std::cell::Cell::new(0),
        }
    }
}

impl Serialize for StopsHalfWay {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        // Passes: 1, into a buffer, stops at the big string; 2, its length is counted;
        // 3, into the pipe.
        self.passes.set(self.passes.get() + 1);
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&self.text)?;
        if self.passes.get() >= 3 {
            if self.panics {
                panic!("panics half-way");
            }
            return Err(serde::ser::Error::custom("fails half-way"));
        }
        tuple.serialize_element(&0u8)?;
        tuple.end()
    }
}

/// A send that stops half-way through a message shuts the stream there: the reader sees
/// the message cut short, and every later send says why it cannot go. (It said `Closed`,
/// "the other end is closed", with the other end still there.)
fn a_send_that_stops_half_way_leaves_the_end_unwritable() {
    let (mut a, mut b) = Pipe::new().unwrap();
    let value = StopsHalfWay::new(false);
    match b.send(&value) {
        Err(Error::Encode(why)) => assert!(why.contains("fails half-way"), "{why}"),
        other => panic!("{other:?}"),
    }
    match b.send(&"next") {
        Err(Error::Unwritable(why)) => assert!(why.contains("fails half-way"), "{why}"),
        other => panic!("the next send: {other:?}"),
    }
    assert!(matches!(b.send_bytes(b"next"), Err(Error::Unwritable(_))));
    assert!(matches!(
        a.recv::<(String, u8)>(),
        Err(Error::Truncated { .. })
    ));
}

/// A send that a panic stops half-way through a message (caught by the caller) cuts the
/// frame as an error does: the next send must not complete the cut frame, or the reader
/// takes its bytes as the rest of the first message and gets a value nobody sent.
fn a_send_that_a_panic_stops_half_way_does_not_let_the_next_send_finish_its_frame() {
    let (mut a, mut b) = Pipe::new().unwrap();
    let value = StopsHalfWay::new(true);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.send(&value)));
    assert!(caught.is_err(), "the serializer panicked");
    let next = b.send(&5u8);
    drop(b);
    let got = a.recv::<(String, u8)>();
    assert!(
        matches!(got, Err(Error::Truncated { .. })),
        "the send after the panic: {next:?}; the reader got {:?}",
        got.map(|(text, n)| (text.len(), n))
    );
}

/// A small value whose encoding panics after its first field (before anything of it could
/// be written: a small send is encoded into a buffer, then written whole).
struct PanicsAfterItsFirstField;

impl Serialize for PanicsAfterItsFirstField {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element("abc")?;
        panic!("panics half-way through a small value");
    }
}

/// A small send that a panic stops half-way through its encoding (caught by the caller)
/// wrote nothing yet: nothing of it may go with the next send, whose message must arrive
/// as the next one, whole. (The half-encoded value stayed in the connection's buffer
/// behind a header of zeros, and went out in front of the next message: the reader got
/// an empty message nobody sent, then read the first field's bytes as a frame header.)
fn a_small_send_that_a_panic_stops_leaves_nothing_behind_for_the_next_send() {
    let (mut a, mut b) = Pipe::new().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.send(&PanicsAfterItsFirstField)
    }));
    assert!(caught.is_err(), "the serializer panicked");
    let next = b.send(&"next");
    drop(b);
    // Every message, up to the end of the stream (or the first failure).
    let mut got = Vec::new();
    loop {
        match a.recv_bytes() {
            Ok(message) => got.push(format!("{message:?}")),
            Err(Error::Closed) => break,
            Err(e) => {
                got.push(format!("{e:?}"));
                break;
            }
        }
    }
    let expected = {
        let (mut x, mut y) = Pipe::new().unwrap();
        x.send(&"next").unwrap();
        format!("{:?}", y.recv_bytes().unwrap())
    };
    assert!(next.is_ok(), "the send after the panic: {next:?}");
    assert_eq!(
        got,
        [expected],
        "the reader got what nobody sent (the send after the panic: {next:?})"
    );
}

/// The reading end for [`SwallowsAFailedWrite`], which drains it half-way through its own
/// encoding.
static DRAINED_BY_THE_VALUE: Mutex<Option<(Connection, usize)>> = Mutex::new(None);

/// A big value whose `Serialize` drops the error of its big piece and goes on, on the pass
/// that writes it into the pipe: that piece's write fails before any byte of the frame
/// went (the pipe is full, and poll(2) is refused under `RLIMIT_NOFILE` 0), then the value
/// makes room (it reads what filled the pipe) and writes its last field.
struct SwallowsAFailedWrite {
    big: Vec<u8>,
    passes: std::cell::Cell<usize>,
}

impl Serialize for SwallowsAFailedWrite {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        // Passes: 1, into a buffer, stops at the big piece; 2, its length is counted;
        // 3, into the pipe.
        self.passes.set(self.passes.get() + 1);
        let mut tuple = serializer.serialize_tuple(2)?;
        let big = serde_bytes::Bytes::new(&self.big);
        if self.passes.get() < 3 {
            tuple.serialize_element(big)?;
        } else {
            let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
            setrlimit(Resource::RLIMIT_NOFILE, 0, hard).unwrap();
            let failed = tuple.serialize_element(big);
            setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
            assert!(failed.is_err(), "the big piece's write failed");
            let (reader, filled) = DRAINED_BY_THE_VALUE.lock().unwrap().take().unwrap();
            let mut reader = reader;
            for _ in 0..filled {
                reader.recv_bytes().unwrap();
            }
            *DRAINED_BY_THE_VALUE.lock().unwrap() = Some((reader, 0));
        }
        tuple.serialize_element(&7u8)?;
        tuple.end()
    }
}

/// A big send whose frame's first write fails before any byte went leaves the stream whole
/// (nothing is cut): the frame did not go, and the send must fail, whatever the value's
/// `Serialize` does with the error. If it drops it and writes on, the frame's later writes
/// must be refused too. (They went: the send was Ok, the header and the big piece never
/// went, and the reader took the last field's byte for the start of a header: the next
/// message was read as garbage.)
fn a_big_send_whose_first_write_failed_writes_nothing_more_of_its_frame() {
    let mut p = Process::new(|| {
        let (a, mut b) = Pipe::new().unwrap();
        fcntl(b.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
        // Fill the pipe with whole messages of one byte each.
        let raw = b.as_fd().try_clone_to_owned().unwrap();
        let mut filled = 0;
        while nix::sys::socket::send(
            std::os::fd::AsRawFd::as_raw_fd(&raw),
            &[0, 0, 0, 1, 9],
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        )
        .is_ok()
        {
            filled += 1;
        }
        drop(raw);
        *DRAINED_BY_THE_VALUE.lock().unwrap() = Some((a, filled));
        let value = SwallowsAFailedWrite {
            big: vec![1; 100_000],
            passes: std::cell::Cell::new(0),
        };
        let sent = b.send(&value);
        let next = b.send(&"next");
        drop(b);
        let (mut a, left) = DRAINED_BY_THE_VALUE.lock().unwrap().take().unwrap();
        assert_eq!(left, 0, "the value drained the pipe");
        let mut got = Vec::new();
        loop {
            match a.recv_bytes() {
                Ok(bytes) => got.push(format!("{} bytes", bytes.len())),
                Err(Error::Closed) => break,
                Err(e) => {
                    got.push(format!("{e:?}"));
                    break;
                }
            }
        }
        println!("the send: {sent:?}; the next: {next:?}; the reader got {got:?}");
        // Either the send failed and the next message arrives alone and whole, or the
        // value arrived whole, then the next one.
        let next_len = 4 + "next".len() + 1; // bincode: a length byte, then the text
        let whole = format!("{} bytes", next_len - 4);
        let ok = match &sent {
            Err(_) => got == [whole.clone()],
            Ok(()) => got.len() == 2 && got[1] == whole,
        };
        assert!(
            ok,
            "the send: {sent:?}; the next: {next:?}; the reader got {got:?}"
        );
    });
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
}

/// A big send (encoded into the pipe as it goes) to an end whose reader is gone is
/// `Closed`, and so is the next send: nothing stopped half-way on this side, so nothing is
/// `Unwritable`. (A pool worker tells `Closed`, "the parent stopped listening", from a
/// failure it must report, by it.)
fn a_big_send_to_a_reader_that_is_gone_is_closed_not_unwritable() {
    let (a, mut b) = Pipe::new().unwrap();
    drop(a);
    let big = "x".repeat(1 << 20);
    let first = b.send(&big);
    let next = b.send(&"next");
    assert!(
        matches!((&first, &next), (Err(Error::Closed), Err(Error::Closed))),
        "the big send: {first:?}; the next: {next:?}"
    );
}

/// A `send_bytes` (header and body in one write, as `send` writes a small value) whose write
/// fails after part of the message went cuts the stream there, as a big typed send does:
/// the reader sees the message cut short, and the next send is refused. (The end stayed writable: the next message went on
/// behind the cut one, and the reader took its bytes as the rest of the first, a message
/// nobody sent.) The write is made to fail as it waits for room: the end is non-blocking,
/// so what fits goes and the rest waits in poll(2), which refuses more descriptors than
/// `RLIMIT_NOFILE` allows (here none).
fn a_send_bytes_whose_write_fails_half_way_leaves_the_end_unwritable() {
    const LEN: usize = 4 << 20; // much more than the socket's buffer holds
    let (mut a, mut b) = Pipe::new().unwrap();
    let (mut said, mut say) = Pipe::new().unwrap();
    let mut p = Process::new(move || {
        fcntl(b.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        setrlimit(Resource::RLIMIT_NOFILE, 0, hard).unwrap();
        let first = b.send_bytes(&vec![1; LEN]);
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
        say.send(&format!("{first:?}")).unwrap();
        let next = b.send_bytes(&vec![2; LEN]);
        say.send(&format!("{next:?}")).unwrap();
    });
    p.start().unwrap();
    let first: String = said.recv().unwrap();
    // Read to the end of the stream: a writer that goes on waits for room.
    let mut received = Vec::new();
    loop {
        let message = a.recv_bytes();
        let end = message.is_err();
        received.push(message.map(|bytes| {
            let ones = bytes.iter().filter(|&&byte| byte == 1).count();
            format!(
                "{} bytes, {ones} of them from the first message",
                bytes.len()
            )
        }));
        if end {
            break;
        }
    }
    let next: String = said.recv().unwrap();
    p.join().unwrap();
    println!("the send: {first}; the next send: {next}; the reader got {received:?}");
    assert!(first.contains("Invalid argument"), "the send: {first}");
    assert!(next.starts_with("Err(Unwritable("), "the next send: {next}");
    assert!(
        matches!(received[..], [Err(Error::Truncated { .. })]),
        "the reader got {received:?}"
    );
}

fn a_big_message_of_the_wrong_type_leaves_the_next_one_readable() {
    let (mut a, mut b) = Pipe::new().unwrap();
    let page = || Page {
        url: "/big".into(),
        body: vec![9; 300_000],
    };
    let mut p = Process::new(move || {
        b.send(&page()).unwrap();
        b.send(&"after").unwrap();
        b.send(&page()).unwrap();
    });
    p.start().unwrap();
    assert!(matches!(a.recv::<(u8, u8)>(), Err(Error::Decode(_))));
    assert_eq!(
        a.recv::<String>().unwrap(),
        "after",
        "the wrong one was skipped whole"
    );
    assert_eq!(a.recv::<Page>().unwrap(), page());
    assert_eq!(p.join().unwrap(), 0);
}

/// A value whose encoding is longer each time it is encoded: the first pass (to count the
/// frame's length) and the second (to send it) disagree.
struct Growing(std::cell::Cell<usize>);

impl Serialize for Growing {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.set(self.0.get() + 1);
        serde_bytes::Bytes::new(&vec![1u8; 100_000 * self.0.get()]).serialize(serializer)
    }
}

/// Its encoding grows between the count and the send, in its one big piece, which is
/// refused before any of the frame goes: the send fails, and the stream is whole, so the
/// next message goes and arrives as it should. (One that fails after part of its frame
/// went cuts the stream: `a_send_that_stops_half_way_leaves_the_end_unwritable`.)
fn a_big_value_that_changes_before_it_goes_is_refused_and_the_stream_goes_on() {
    let (mut a, mut b) = Pipe::new().unwrap();
    let mut p = Process::new(move || {
        assert!(matches!(
            b.send(&Growing(std::cell::Cell::new(0))),
            Err(Error::Encode(_))
        ));
        b.send(&1u8).unwrap();
    });
    p.start().unwrap();
    assert_eq!(a.recv::<u8>().unwrap(), 1, "the next message, whole");
    assert_eq!(p.join().unwrap(), 0);
}

/// A field of this process's `/proc/self/status`, in bytes.
fn memory(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Starts counting this process's peak resident memory again, from what it holds now;
/// returns that.
fn reset_peak_memory() -> usize {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    memory("VmRSS:")
}

/// A byte buffer over 32 MiB is received into memory reserved at its full length: the
/// reservation is address space only, and a frame that lies about its length or stops
/// early costs the memory of what arrived, not of what it claimed.
fn a_big_byte_buffer_takes_memory_only_as_it_arrives() {
    time_limit(Duration::from_secs(60));
    const CLAIMED: usize = 200 * 1024 * 1024;
    const SENT: usize = 4 * 1024 * 1024;
    let (mut a, mut b) = Pipe::new().unwrap();
    b.set_inheritable(false);
    let mut p = Process::with_exit_code(move || {
        let before = reset_peak_memory();
        let got = a.recv::<serde_bytes::ByteBuf>();
        let peak = memory("VmHWM:") - before;
        if !matches!(got, Err(Error::Truncated { .. })) {
            eprintln!("a frame cut short: {got:?}");
            return 1;
        }
        if peak > 3 * SENT {
            eprintln!("{peak} bytes of memory for {SENT} bytes received");
            return 2;
        }
        match a.recv::<u8>() {
            Err(Error::Unreadable(_)) => 0,
            other => {
                eprintln!("after a frame cut short: {other:?}");
                3
            }
        }
    });
    p.start().unwrap();
    // A frame of 200 MiB holding a byte buffer of 200 MiB less its 5-byte length, which
    // stops after 4 MiB.
    let mut frame = (CLAIMED as u32).to_be_bytes().to_vec();
    frame.push(0xfc);
    frame.extend_from_slice(&(CLAIMED as u32 - 5).to_le_bytes());
    frame.resize(frame.len() + SENT, 0xa5);
    write_raw(&b, &frame);
    drop(b);
    assert_eq!(p.join().unwrap(), 0);

    // The wrong type: 40 MiB that are not UTF-8, received as a `String`, are refused
    // whole, and the next message is read from its own beginning.
    let (mut a, mut b) = Pipe::new().unwrap();
    let mut p = Process::new(move || {
        b.send(serde_bytes::Bytes::new(&vec![0xff; 40 * 1024 * 1024]))
            .unwrap();
        b.send(&"after").unwrap();
    });
    p.start().unwrap();
    assert!(matches!(a.recv::<String>(), Err(Error::Decode(_))));
    assert_eq!(a.recv::<String>().unwrap(), "after");
    assert_eq!(p.join().unwrap(), 0);
}

/// A big message of many small values (a pool's chunk of results) is encoded whole (or,
/// past 4 MiB, as it is sent) and decoded as it arrives, a few bytes at a time across the
/// reads from the kernel.
fn a_big_message_of_small_values_arrives_intact() {
    for count in [40_000u64, 400_000] {
        // About 0.5 MB, then 5 MB.
        let values: Vec<(u64, String)> = (0..count)
            .map(|i| (i * i * i, format!("{}", i % 1000)))
            .collect();
        let (mut a, mut b) = Pipe::new().unwrap();
        let sent = values.clone();
        let mut p = Process::new(move || {
            b.send(&sent).unwrap();
            b.send(&sent).unwrap();
        });
        p.start().unwrap();
        for _ in 0..2 {
            assert!(a.recv::<Vec<(u64, String)>>().unwrap() == values);
        }
        assert_eq!(p.join().unwrap(), 0);
    }
}

/// A page whose url and body borrow from the buffer it was received into.
#[derive(Deserialize, Debug, PartialEq)]
struct PageRef<'a> {
    url: &'a str,
    #[serde(with = "serde_bytes")]
    body: &'a [u8],
}

fn a_borrowed_receive_reuses_its_buffer_and_copies_nothing() {
    let (mut a, mut b) = Pipe::new().unwrap();
    let body = |i: u8| vec![i; 200_000];
    let mut p = Process::new(move || {
        for i in 0..3 {
            b.send(&Page {
                url: format!("/{i}"),
                body: body(i),
            })
            .unwrap();
        }
    });
    p.start().unwrap();
    let mut buf = Vec::new();
    let first: PageRef<'_> = a.recv_borrowed(&mut buf).unwrap();
    assert_eq!((first.url, first.body), ("/0", &body(0)[..]));
    for i in 1..3u8 {
        // The buffer has room for the next page: receiving it allocates nothing.
        let url = format!("/{i}");
        let allocated = allocated_by(|| {
            let page: PageRef<'_> = a.recv_borrowed(&mut buf).unwrap();
            assert_eq!(page.url, url);
            assert!(page.body.iter().all(|&byte| byte == i) && page.body.len() == 200_000);
        });
        assert_eq!(allocated, 0, "page {i}");
    }
    assert_eq!(p.join().unwrap(), 0);
}

fn a_borrowed_receive_of_the_wrong_type_leaves_the_next_message_readable() {
    let (mut a, mut b) = Pipe::new().unwrap();
    let mut p = Process::new(move || {
        b.send(&"not a page").unwrap();
        b.send(&Page {
            url: "/".into(),
            body: vec![1; 100_000],
        })
        .unwrap();
        b.send(&"after").unwrap();
    });
    p.start().unwrap();
    let mut buf = Vec::new();
    assert!(matches!(
        a.recv_borrowed::<PageRef<'_>>(&mut buf),
        Err(Error::Decode(_))
    ));
    assert_eq!(a.recv_borrowed::<PageRef<'_>>(&mut buf).unwrap().url, "/");
    assert_eq!(a.recv_borrowed::<&str>(&mut buf).unwrap(), "after");
    assert_eq!(p.join().unwrap(), 0);
}

/// The iterator ends after an error that leaves nothing more to read (as Python's loop
/// ends at the exception): it does not yield the same error for ever. A message that
/// does not decode is skipped whole, and the iterator goes on.
fn iter_ends_after_an_error_that_leaves_nothing_to_read() {
    let (mut a, mut b) = Pipe::new().unwrap();
    b.set_max_message_size(8);
    a.send(&1u8).unwrap();
    a.send(&"no").unwrap(); // not a u8: bytes left over
    a.send(&2u8).unwrap();
    a.send_bytes(&[0; 9]).unwrap(); // over the limit: nothing after it can be read
    a.send(&3u8).unwrap();
    drop(a);
    let got: Vec<_> = b.iter::<u8>().take(10).collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(matches!(
        got[..],
        [
            Ok(1),
            Err(Error::Decode(_)),
            Ok(2),
            Err(Error::TooLarge { .. })
        ]
    ));

    let (_rx, mut tx) = Pipe::one_way().unwrap();
    let got: Vec<_> = tx.iter::<u8>().take(10).collect();
    assert!(
        matches!(got[..], [Err(Error::WrongDirection(_))]),
        "{got:?}"
    );
}

/// A zero-sized element (`()`, a unit struct) takes no byte of a message, so a few bytes
/// can announce more of them than a program could count: refused, at once.
fn a_sequence_of_more_nothings_than_a_message_could_mean_is_refused_at_once() {
    #[derive(Deserialize, Debug)]
    struct Nothing;
    let (a, mut b) = Pipe::new().unwrap();
    // A 9-byte body: bincode's tag for an 8-byte length, then u64::MAX.
    let mut frame = vec![0, 0, 0, 9, 253];
    frame.extend_from_slice(&u64::MAX.to_le_bytes());
    write_raw(&a, &frame);
    let started = Instant::now();
    assert!(matches!(b.recv::<Vec<Nothing>>(), Err(Error::Decode(_))));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // Nor can they make the receiver build something of nothing: a node each.
    let mut nothing = vec![253];
    nothing.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(ipc::codec::decode::<std::collections::LinkedList<()>>(&nothing).is_err());
    // A big message, decoded as it arrives, counts its elements against the bytes that
    // have come: here 13 bytes of a frame that claims 256 MiB.
    let (a, mut b) = Pipe::new().unwrap();
    let mut frame = (256u32 << 20).to_be_bytes().to_vec();
    frame.push(253);
    frame.extend_from_slice(&((256u64 << 20) + (1 << 24)).to_le_bytes());
    write_raw(&a, &frame);
    drop(a);
    let started = Instant::now();
    assert!(b.recv::<std::collections::LinkedList<()>>().is_err());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // A program's own sequences of nothing still go, by the million.
    let (mut a, mut b) = Pipe::new().unwrap();
    a.send(&vec![(); 4_000_000]).unwrap();
    assert_eq!(b.recv::<Vec<()>>().unwrap().len(), 4_000_000);
    a.send(&vec![vec![(); 1000]; 5000]).unwrap();
    assert_eq!(b.recv::<Vec<Vec<()>>>().unwrap().len(), 5000);
}

/// A message cut short says how many of its bytes came: all of them, not only those
/// decoded (it said 9 of 70 004 where 1 009 had come).
fn a_truncated_big_message_counts_every_byte_that_came() {
    let (a, mut b) = Pipe::new().unwrap();
    // A frame of 70 000 bytes: a byte buffer of 69 995 (bincode's tag for a 4-byte length,
    // then the length), of which 1 000 bytes come before the end.
    let mut frame = 70_000u32.to_be_bytes().to_vec();
    frame.push(252);
    frame.extend_from_slice(&69_995u32.to_le_bytes());
    frame.extend_from_slice(&[7; 1000]);
    write_raw(&a, &frame);
    drop(a);
    match b.recv::<serde_bytes::ByteBuf>() {
        Err(Error::Truncated { expected, got }) => assert_eq!((expected, got), (70_004, 1009)),
        other => panic!("{:?}", other.map(|bytes| bytes.len())),
    }
}

fork_test::main!(
    a_duplex_pipe_carries_typed_messages_both_ways,
    the_child_sees_the_end_when_the_parent_closes,
    a_child_killed_while_the_parent_waits_gives_closed_at_once,
    a_one_way_pipe_only_goes_one_way,
    poll_waits_at_most_its_timeout,
    an_empty_message_is_a_message,
    an_oversized_frame_is_refused_before_allocating,
    a_truncated_frame_is_an_error,
    a_corrupt_frame_is_an_error_not_a_panic,
    a_100_mib_message_arrives_intact,
    wait_reports_every_ready_connection,
    wait_beside_a_connection_with_buffered_messages_reports_the_others_too,
    wait_on_nothing_waits_its_timeout,
    an_end_kept_by_the_parent_but_moved_into_a_child_works_there,
    an_end_kept_by_the_parent_is_an_error_in_the_child_not_a_stray_descriptor,
    timeouts_hold_while_signals_arrive,
    a_frame_reserves_no_more_than_what_arrives,
    a_deeply_nested_message_is_an_error_not_a_stack_overflow,
    a_refused_message_leaves_no_fake_message_behind,
    poll_on_the_sending_end_of_a_one_way_pipe_is_an_error,
    a_big_hostile_frame_is_refused_like_a_small_one,
    a_big_message_of_the_wrong_type_leaves_the_next_one_readable,
    a_send_that_stops_half_way_leaves_the_end_unwritable,
    a_send_that_a_panic_stops_half_way_does_not_let_the_next_send_finish_its_frame,
    a_small_send_that_a_panic_stops_leaves_nothing_behind_for_the_next_send,
    a_big_send_whose_first_write_failed_writes_nothing_more_of_its_frame,
    a_big_send_to_a_reader_that_is_gone_is_closed_not_unwritable,
    a_send_bytes_whose_write_fails_half_way_leaves_the_end_unwritable,
    a_big_value_that_changes_before_it_goes_is_refused_and_the_stream_goes_on,
    a_big_byte_buffer_takes_memory_only_as_it_arrives,
    a_big_message_of_small_values_arrives_intact,
    a_borrowed_receive_reuses_its_buffer_and_copies_nothing,
    a_borrowed_receive_of_the_wrong_type_leaves_the_next_message_readable,
    iter_ends_after_an_error_that_leaves_nothing_to_read,
    a_sequence_of_more_nothings_than_a_message_could_mean_is_refused_at_once,
    a_truncated_big_message_counts_every_byte_that_came,
);
