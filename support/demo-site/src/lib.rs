//! The tutorial's built-in offline demo web site.
//!
//! The chapters show how to load web pages from several processes at once. So that they work
//! without a network connection and print the same thing on every machine, they load their pages
//! from this site by default: a handful of short pages about Tidemark, a made-up command-line
//! tool, held in memory and served over plain HTTP/1.1 on a loopback listener.
//!
//! A few pages exist to misbehave on purpose, so the chapters have something to handle: one
//! that is not valid UTF-8 ([`NOT_UTF8_PAGE`]), one of more than 1 MiB ([`LARGE_PAGE`]), pages
//! that answer only after a delay ([`slow_page`]) and a link that leads nowhere
//! ([`BROKEN_LINK`]). Others hold what a crawler must handle: a redirect ([`REDIRECT`]), a
//! `<base href>`, links written in every way HTML allows, an image and a stylesheet
//! ([`asset_paths`]), and a `robots.txt` that closes one folder ([`DISALLOWED_PAGE`]). Two
//! addresses no page links to give a crawler a start page with nothing to crawl: one
//! redirects to another site ([`MOVED_AWAY`]), one to itself ([`REDIRECT_LOOP`]).

mod archive;
mod http;
mod pages;
mod server;

pub use pages::{
    BROKEN_LINK, DISALLOWED_PAGE, ELSEWHERE, FRONT_PAGE, LARGE_PAGE, MOVED_AWAY, NOT_UTF8_PAGE,
    REDIRECT, REDIRECT_LOOP, ROBOTS_TXT, asset_paths, page_paths, slow_page,
};
pub use server::serve;

use std::net::{SocketAddr, TcpListener};

/// The demo site, running in a child process of its own until this value is dropped.
///
/// A process rather than a thread: the chapters fork, and forking is only safe from a
/// process with a single thread. The server's threads live in the server's process.
///
/// ```no_run
/// let site = demo_site::DemoSite::start()?;
/// println!("front page at {}", site.url(demo_site::FRONT_PAGE));
/// # Ok::<(), ipc::Error>(())
/// ```
#[derive(Debug)]
pub struct DemoSite {
    addr: SocketAddr,
    /// Dropping it kills and reaps the server.
    _server: ipc::Process,
}

impl DemoSite {
    /// Binds a free port on 127.0.0.1 (loopback only: nothing outside this machine can
    /// reach it) and starts serving there.
    pub fn start() -> ipc::Result<DemoSite> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut server = ipc::Process::new(move || {
            let _ = serve(listener);
        });
        server.start()?;
        Ok(DemoSite {
            addr,
            _server: server,
        })
    }

    /// The address the site listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The full URL of `path` on this site, e.g. `http://127.0.0.1:41234/about.html`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}
