//! A small HTTP server whose pages answer when the checks want them to, so that checks
//! about *when* things happen need no clock: "these loads ran at the same time" and
//! "this result was handed over before that one" become plain facts the server sees.
//!
//! - `/meet/N/...`: answers only once N requests for `/meet/N/...` are open at the same
//!   time, as they are when N children load them at once.
//! - `/held`: answers only after a request for `/release` has arrived.
//! - `/fan/N`: links to `N` pages `/fan/N/I-xxx…` (with 200 bytes of `x`), each of which
//!   links back to `/fan/N`: many links, with long URLs.
//! - `/requests`: how many times each path was asked for (this one aside), a line
//!   `COUNT PATH` each, for [`TestServer::requests`].
//! - `/busy/...`: answers after [`BUSY_FOR`]; the server counts how many of these are
//!   open at once, and `/most-busy` says the most it has seen ([`TestServer::most_busy`]).
//! - anything else: a short page, at once; or, on a server started
//!   [`with_links`](TestServer::with_links), a page with those links, if the path has an
//!   entry there, and "404 Not Found" if not.
//!
//! A page that waits gives up after [`PATIENCE`] and answers "503 Service Unavailable",
//! saying why; after that, every `/meet` request gets the 503 at once. Like the demo site,
//! the server runs in a process of its own (with a thread per connection), stopped when
//! the [`TestServer`] is dropped.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use ipc::Process;

/// How long a waiting page waits. A correct program makes it wait milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// How long a `/busy` page takes: long enough that loads which overlap are seen to.
pub const BUSY_FOR: Duration = Duration::from_millis(100);

/// Pages and the paths they link to, for [`TestServer::with_links`].
pub type Links = &'static [(&'static str, &'static [&'static str])];

/// The server, running until dropped.
pub struct TestServer {
    addr: SocketAddr,
    _process: Process,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_links(&[])
    }

    /// A server whose pages are those of `links`, each with a link (`href="/path"`) to
    /// each of the paths given for it; a path not there answers 404. The routes above
    /// (`/held`, `/release`, `/fan/N`...) work as always, with the links of their entry
    /// if they have one.
    pub fn with_links(links: Links) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let addr = listener.local_addr().expect("its address");
        let mut process = Process::new(move || serve(listener, links));
        process.start().expect("start the test server");
        TestServer {
            addr,
            _process: process,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `n` URLs that answer only when all `n` are being loaded at the same time.
    pub fn meeting(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| self.url(&format!("/meet/{n}/{i}")))
            .collect()
    }

    /// The URL that answers only after [`release`](Self::release).
    pub fn held(&self) -> String {
        self.url("/held")
    }

    /// Lets the held page answer.
    pub fn release(&self) {
        loader::load_url(&self.url("/release")).expect("the test server takes /release");
    }

    /// The most `/busy` pages that were being loaded at the same time so far.
    pub fn most_busy(&self) -> usize {
        let page = loader::load_url(&self.url("/most-busy")).expect("the test server's /most-busy");
        let text = page
            .html
            .split("<p>")
            .nth(1)
            .and_then(|t| t.split("</p>").next());
        text.and_then(|n| n.parse().ok())
            .expect("/most-busy answers a number")
    }

    /// How many times each path (with its query string) was asked for so far.
    pub fn requests(&self) -> BTreeMap<String, usize> {
        let page = loader::load_url(&self.url("/requests")).expect("the test server's /requests");
        page.html
            .lines()
            .filter_map(|line| {
                let (count, path) = line.split_once(' ')?;
                Some((path.to_string(), count.parse().ok()?))
            })
            .collect()
    }
}

#[derive(Default)]
struct State {
    /// `/meet` requests waiting now.
    meeting: usize,
    /// Set when all of a meeting were there: they may all answer.
    met: bool,
    /// Set when a `/meet` request gave up waiting.
    gave_up: bool,
    released: bool,
    /// `/busy` requests being answered now, and the most there were at once.
    busy: usize,
    most_busy: usize,
    /// How many times each path was asked for.
    requests: BTreeMap<String, usize>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

fn serve(listener: TcpListener, links: Links) {
    let shared: Shared = Arc::default();
    for stream in listener.incoming().flatten() {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            let _ = handle(stream, &shared, links);
        });
    }
}

/// Reads a request's head, up to the blank line that ends it (a GET has no body), or
/// `None` if the connection ends first or the head is over 64 KiB. Closed with bytes left
/// unread, a connection is reset, which can throw away the answer before it is read.
pub fn read_head(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(Some(head))
}

fn handle(mut stream: TcpStream, shared: &Shared, links: Links) -> io::Result<()> {
    stream.set_read_timeout(Some(PATIENCE))?;
    let Some(head) = read_head(&mut stream)? else {
        return Ok(());
    };
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let (status, mut text) = respond(path, shared, links);
    if status.starts_with("200") {
        let entry = links.iter().find(|(page, _)| *page == path);
        for link in entry.map_or(&[][..], |(_, to)| to) {
            text.push_str(&format!(" <a href=\"{link}\">{link}</a>"));
        }
    }
    let body = format!(
        "<!DOCTYPE html>\n<html><head><title>{status}</title></head><body><p>{text}</p></body></html>\n"
    );
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)
}

fn respond(path: &str, shared: &Shared, links: Links) -> (&'static str, String) {
    const OK: &str = "200 OK";
    const GAVE_UP: &str = "503 Service Unavailable";
    let (state, changed) = &**shared;
    let lock = || state.lock().unwrap_or_else(PoisonError::into_inner);
    if path == "/requests" {
        let counts: Vec<String> = (lock().requests.iter())
            .map(|(path, count)| format!("\n{count} {path}"))
            .collect();
        return (OK, format!("{}\n", counts.concat()));
    }
    if path == "/most-busy" {
        return (OK, lock().most_busy.to_string());
    }
    *lock().requests.entry(path.to_string()).or_default() += 1;
    if path.starts_with("/busy/") {
        {
            let mut s = lock();
            s.busy += 1;
            s.most_busy = s.most_busy.max(s.busy);
        }
        thread::sleep(BUSY_FOR);
        lock().busy -= 1;
        return (OK, format!("a page that took {} ms", BUSY_FOR.as_millis()));
    }
    if let Some(rest) = path.strip_prefix("/fan/") {
        let (n, leaf) = rest.split_once('/').unwrap_or((rest, ""));
        if !leaf.is_empty() {
            return (OK, format!("<a href=\"/fan/{n}\">back</a>"));
        }
        let padding = "x".repeat(200);
        let n: usize = n.parse().unwrap_or(0);
        let links: Vec<String> = (0..n)
            .map(|i| format!("<a href=\"/fan/{n}/{i}-{padding}\">{i}</a>\n"))
            .collect();
        return (OK, links.concat());
    }
    if let Some(rest) = path.strip_prefix("/meet/") {
        let n: usize = rest
            .split('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let mut s = lock();
        if s.gave_up {
            return (GAVE_UP, "an earlier meeting failed".into());
        }
        s.meeting += 1;
        if s.meeting >= n {
            s.met = true;
        }
        changed.notify_all();
        let (mut s, _) = changed
            .wait_timeout_while(s, PATIENCE, |s| !s.met && !s.gave_up)
            .unwrap_or_else(PoisonError::into_inner);
        if s.met {
            return (OK, format!("all {n} loads were here at the same time"));
        }
        let here = s.meeting;
        s.gave_up = true;
        changed.notify_all();
        return (
            GAVE_UP,
            format!("only {here} of {n} loads were here at the same time"),
        );
    }
    match path {
        "/held" => {
            let (s, _) = changed
                .wait_timeout_while(lock(), PATIENCE, |s| !s.released)
                .unwrap_or_else(PoisonError::into_inner);
            if s.released {
                (OK, "released".into())
            } else {
                (GAVE_UP, "nobody asked for /release in time".into())
            }
        }
        "/release" => {
            lock().released = true;
            changed.notify_all();
            (OK, "the held page may answer now".into())
        }
        _ if !links.is_empty() && !links.iter().any(|(page, _)| *page == path) => {
            ("404 Not Found", format!("no page here: {path}"))
        }
        _ => (OK, format!("a quick page: {path}")),
    }
}
