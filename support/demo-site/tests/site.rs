//! Talks to a running demo site over real sockets, with a bare-bones client.

use std::collections::{BTreeSet, VecDeque};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use demo_site::{
    BROKEN_LINK, DISALLOWED_PAGE, FRONT_PAGE, LARGE_PAGE, NOT_UTF8_PAGE, REDIRECT, asset_paths,
    page_paths, slow_page,
};

/// Starts a site of its own for one test, so tests cannot slow each other down.
fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || demo_site::serve(listener));
    addr
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Sends `request` as it is, then reads until the server closes the connection.
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    reply
}

fn parse(reply: &[u8]) -> Reply {
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of head");
    let head = std::str::from_utf8(&reply[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: reply[end + 4..].to_vec(),
    }
}

fn request(addr: SocketAddr, method: &str, target: &str) -> Reply {
    let head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: test\r\n\r\n");
    parse(&exchange(addr, head.as_bytes()))
}

fn get(addr: SocketAddr, target: &str) -> Reply {
    request(addr, "GET", target)
}

/// Checks what every response has, then hands the reply back.
fn well_formed(reply: Reply) -> Reply {
    assert_eq!(reply.header("Connection"), Some("close"));
    let length: usize = reply.header("Content-Length").unwrap().parse().unwrap();
    assert_eq!(length, reply.body.len());
    reply
}

#[test]
fn front_page() {
    let addr = start();
    let reply = well_formed(get(addr, FRONT_PAGE));
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let html = reply.text();
    assert!(html.starts_with("<!DOCTYPE html>\n"), "{html}");
    assert!(html.contains("<h1>Tidemark</h1>"), "{html}");
    assert!(html.ends_with("</html>\n"), "{html}");
}

#[test]
fn unknown_path_is_404() {
    let addr = start();
    for target in ["/no/such/page.html", BROKEN_LINK] {
        let reply = well_formed(get(addr, target));
        assert_eq!(reply.status, 404);
        assert!(reply.text().contains("404 Not Found"));
    }
}

#[test]
fn head_has_no_body() {
    let addr = start();
    for target in [FRONT_PAGE, LARGE_PAGE, "/missing"] {
        let full = get(addr, target);
        let head = request(addr, "HEAD", target);
        assert_eq!(head.status, full.status, "{target}");
        assert!(head.body.is_empty(), "{target}");
        assert_eq!(head.headers, full.headers, "{target}");
    }
}

#[test]
fn other_methods_are_405() {
    let addr = start();
    let reply = well_formed(request(addr, "POST", FRONT_PAGE));
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn malformed_request_lines_are_400() {
    let addr = start();
    for head in [
        "GET /\r\n\r\n",
        "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        "GET about.html HTTP/1.1\r\n\r\n",
        "\r\n\r\n",
    ] {
        let reply = well_formed(parse(&exchange(addr, head.as_bytes())));
        assert_eq!(reply.status, 400, "{head:?}");
    }
}

#[test]
fn garbage_is_400() {
    let addr = start();
    let reply = parse(&exchange(addr, b"\x00\xff\xfe\x80 nonsense \x07\r\n\r\n"));
    assert_eq!(reply.status, 400);
    let reply = parse(&exchange(addr, b"GET / HTTP/1.1\r\nName: caf\xe9\r\n\r\n"));
    assert_eq!(reply.status, 400);

    // Garbage that never ends its head, from a client that then stops sending.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    assert_eq!(parse(&reply).status, 400);
}

#[test]
fn oversized_head_is_rejected() {
    let addr = start();
    let head_of = |len: usize| {
        let mut head = b"GET / HTTP/1.1\r\nX-Padding: ".to_vec();
        let padding = len - head.len() - 4;
        head.extend(std::iter::repeat_n(b'a', padding));
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head.len(), len);
        head
    };
    assert_eq!(parse(&exchange(addr, &head_of(8 * 1024))).status, 200);
    for len in [8 * 1024 + 1, 16 * 1024, 64 * 1024] {
        let reply = well_formed(parse(&exchange(addr, &head_of(len))));
        assert_eq!(reply.status, 431, "{len}");
    }
}

#[test]
fn latin1_page_is_not_utf8() {
    let addr = start();
    let reply = well_formed(get(addr, NOT_UTF8_PAGE));
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/html; charset=iso-8859-1")
    );
    assert!(std::str::from_utf8(&reply.body).is_err());
    assert!(reply.body.contains(&0xE9));
    let latin1: String = reply.body.iter().map(|&b| char::from(b)).collect();
    assert!(latin1.contains("a été écrite"), "{latin1}");
}

#[test]
fn large_page_is_over_a_mebibyte_of_utf8() {
    let addr = start();
    let reply = well_formed(get(addr, LARGE_PAGE));
    assert_eq!(reply.status, 200);
    let len = reply.body.len();
    assert!((1 << 20..2 << 20).contains(&len), "{len} bytes");
    assert!(reply.text().ends_with("</html>\n"));
    assert_eq!(get(addr, LARGE_PAGE).body, reply.body);
}

#[test]
fn slow_page_waits() {
    let addr = start();
    let started = Instant::now();
    let reply = well_formed(get(addr, &slow_page(200)));
    let took = started.elapsed();
    assert_eq!(reply.status, 200);
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(reply.text().contains("200 ms"));
    for target in ["/slow", "/slow?ms=soon", "/slow?ms=-5"] {
        assert_eq!(get(addr, target).status, 400, "{target}");
    }
}

/// Loads `count` copies of a slow page at once and returns how long it took in all.
fn load_at_once(count: usize, ms: u64) -> Duration {
    let addr = start();
    let started = Instant::now();
    let clients: Vec<_> = (0..count)
        .map(|_| thread::spawn(move || get(addr, &slow_page(ms)).status))
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), 200);
    }
    started.elapsed()
}

#[test]
fn slow_pages_are_served_concurrently() {
    let took = load_at_once(8, 300);
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let took = load_at_once(32, 50);
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

#[test]
fn silent_clients_are_dropped() {
    let addr = start();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    stream.write_all(b"GET / HTT").unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let took = started.elapsed();
    assert!(reply.is_empty());
    assert!(took >= Duration::from_secs(4), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}

/// The paths `html`, the page at `path`, links to on this site, as the crawler finds them.
fn links(addr: SocketAddr, path: &str, html: &[u8]) -> Vec<String> {
    // The Latin-1 page's links are plain ASCII: read it as UTF-8, lossily.
    let html = String::from_utf8_lossy(html);
    let origin = format!("http://{addr}");
    loader::links::same_site(&format!("{origin}{path}"), &html)
        .into_iter()
        .map(|link| link.url[origin.len()..].to_string())
        .collect()
}

#[test]
fn every_link_works_but_one() {
    let addr = start();
    let mut pages = BTreeSet::new();
    let mut others = BTreeSet::new();
    let mut broken = BTreeSet::new();
    let mut redirects = BTreeSet::new();
    let mut seen = BTreeSet::from([FRONT_PAGE.to_owned()]);
    let mut queue = VecDeque::from([FRONT_PAGE.to_owned()]);
    while let Some(path) = queue.pop_front() {
        let reply = well_formed(get(addr, &path));
        let found = match reply.status {
            200 if reply
                .header("Content-Type")
                .unwrap()
                .starts_with("text/html") =>
            {
                pages.insert(path.clone());
                links(addr, &path, &reply.body)
            }
            200 => {
                others.insert(path);
                continue;
            }
            301 => {
                redirects.insert(path);
                vec![reply.header("Location").unwrap().to_owned()]
            }
            404 => {
                broken.insert(path);
                continue;
            }
            status => panic!("{path}: {status}"),
        };
        for link in found {
            if seen.insert(link.clone()) {
                queue.push_back(link);
            }
        }
    }
    assert_eq!(broken, BTreeSet::from([BROKEN_LINK.to_owned()]));
    assert_eq!(redirects, BTreeSet::from([REDIRECT.to_owned()]));
    let listed: BTreeSet<String> = page_paths().map(str::to_owned).collect();
    assert_eq!(pages, listed);
    let assets: BTreeSet<String> = asset_paths().map(str::to_owned).collect();
    assert_eq!(others, assets);
    assert!(pages.contains(NOT_UTF8_PAGE) && pages.contains(LARGE_PAGE));
    assert!(pages.contains(DISALLOWED_PAGE));
    assert!(pages.iter().any(|path| path.starts_with("/slow?ms=")));
}

/// `cargo run -p demo-site -- PORT` on a port that is taken: the error in words, and how
/// to choose another port, not the `Debug` form of an `io::Error`.
#[test]
fn a_taken_port_is_said_in_words() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    // One line, with or without RUST_BACKTRACE: no backtrace, no "Caused by:".
    for backtrace in [None, Some("1")] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_demo-site"));
        command
            .arg(port.to_string())
            .env_remove("RUST_LIB_BACKTRACE");
        match backtrace {
            Some(value) => command.env("RUST_BACKTRACE", value),
            None => command.env_remove("RUST_BACKTRACE"),
        };
        let run = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{stderr}");
        let said = format!("Error: cannot serve on 127.0.0.1:{port} (another port:");
        assert!(stderr.starts_with(&said), "{stderr}");
        assert!(!stderr.contains("kind:"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
