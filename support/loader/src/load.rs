//! `load_url`: fetch a page and decode it as UTF-8, as the tutorial's
//! `urllib.request.urlopen(url).read().decode('utf-8')` does; and [`Loader::fetch`], the
//! crawler's way to load a page, which follows no redirect and reads no image.

use std::io::Read;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::errors::{LoadError, classify, refused, shown};
use crate::links;
use crate::resolve::NoPanicResolver;

/// How long one page may take, from connecting to the last byte, redirects included. A
/// hung server is cut off after this, with [`LoadError::Timeout`].
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The largest body read by default: 16 MiB (the demo site's largest page is just over
/// 1 MiB). A larger one is [`LoadError::TooLarge`]; [`Options::max_body`] changes it.
pub const MAX_BODY: u64 = 16 * 1024 * 1024;

/// The most of a `robots.txt` a crawler reads: RFC 9309 asks for at least 500 KiB.
pub const ROBOTS_MAX: u64 = 500 * 1024;

/// Redirects followed in a row before a load gives up ([`LoadError::BadAnswer`]): the
/// same as ureq's default, and Python's `urllib`'s.
pub const MAX_REDIRECTS: u32 = 10;

/// The User-Agent of every request, so that a site's owner can tell who is asking, and a
/// `robots.txt` can address this crawler by its first word.
pub const USER_AGENT: &str = concat!(
    "ipc-tutorial/",
    env!("CARGO_PKG_VERSION"),
    " (the crawler of a Rust multiprocessing tutorial)"
);

/// What a load may take: time and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// From connecting to the last byte.
    pub timeout: Duration,
    /// The most bytes of body read (after decompression).
    pub max_body: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: TIMEOUT,
            max_body: MAX_BODY,
        }
    }
}

/// A loaded page. It derives serde's traits so that a child can send it to its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The URL that was asked for.
    pub url: String,
    /// The page's text, decoded as UTF-8.
    pub html: String,
}

/// What [`Loader::fetch`] got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fetched {
    /// A `text/html` page, read and decoded.
    Html(Page),
    /// A redirect, not followed: the full URL it leads to.
    Redirect(String),
    /// Something that is not HTML, with its media type (`image/png`, or `none` if the
    /// server did not say); its body is not read.
    Other(String),
}

/// One load under way: the URL it was given, the one it asks for now (a redirect's target,
/// once redirected), and the moment its time is up. Every request of the load, redirects
/// and the error's probe included, gets only the time left, so that the load as a whole
/// ends within [`Options::timeout`].
#[derive(Debug)]
pub(crate) struct Attempt<'a> {
    /// The URL as given: every error names it.
    pub(crate) url: &'a str,
    /// Where a redirect led, if one did.
    pub(crate) redirected_to: Option<String>,
    /// When the load must be over.
    pub(crate) deadline: Instant,
    /// The limits it was started with.
    pub(crate) options: Options,
}

impl Attempt<'_> {
    /// The URL asked for now.
    pub(crate) fn at(&self) -> &str {
        self.redirected_to.as_deref().unwrap_or(self.url)
    }

    /// The URL asked for now, if it is a plain `http://` one (a wrong port's hint is for
    /// these only).
    pub(crate) fn plain_http(&self) -> Option<url::Url> {
        (url::Url::parse(self.at()).ok()).filter(|url| url.scheme() == "http")
    }

    /// The time left before the deadline (zero once it has passed).
    pub(crate) fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The error of a load that ran out of time.
    pub(crate) fn timeout(&self) -> LoadError {
        LoadError::Timeout {
            url: self.url.to_string(),
            limit: self.options.timeout,
            redirected_to: self.redirected_to.clone(),
        }
    }

    /// An answer the load cannot go on with, for `reason`.
    fn bad_answer(&self, reason: String) -> LoadError {
        LoadError::BadAnswer {
            url: self.url.to_string(),
            reason,
            redirected_to: self.redirected_to.clone(),
        }
    }
}

/// Loads pages with one HTTP agent, so that connections and the trusted certificates (read
/// from the system once) are shared between loads.
///
/// HTTPS trusts what the system trusts, as curl and Python do: `SSL_CERT_FILE` or
/// `SSL_CERT_DIR` if set, else the system's certificate store.
#[derive(Debug)]
pub struct Loader {
    agent: ureq::Agent,
    options: Options,
}

impl Loader {
    pub fn new(options: Options) -> Loader {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .max_redirects(0) // followed by `get`, which says where a bad one leads
            .http_status_as_error(false) // told by `get`, which may read the page
            .user_agent(USER_AGENT)
            .tls_config(tls)
            .build();
        let connector = ureq::unversioned::transport::DefaultConnector::default();
        let agent = ureq::Agent::with_parts(config, connector, NoPanicResolver);
        Loader { agent, options }
    }

    /// Loads `url`, following redirects, and decodes the body as UTF-8 whatever its type.
    pub fn load(&self, url: &str) -> Result<Page, LoadError> {
        let mut attempt = self.attempt(url);
        let mut response = self.get(&mut attempt, true)?;
        let html = text(&attempt, self.read_body(&attempt, &mut response)?)?;
        Ok(Page {
            url: url.to_string(),
            html,
        })
    }

    /// Loads `url` for a crawler: a redirect is returned, not followed (the crawler decides
    /// whether its target is on the site and new), and a body of another type than HTML
    /// (`text/html`, `application/xhtml+xml`) is not read. A body with no type is read,
    /// and is a page if it begins as one (see [`looks_like_html`]).
    pub fn fetch(&self, url: &str) -> Result<Fetched, LoadError> {
        let mut attempt = self.attempt(url);
        let mut response = self.get(&mut attempt, false)?;
        if is_followed_redirect(response.status()) {
            return redirect_target(&attempt, &response).map(Fetched::Redirect);
        }
        if response.status().is_redirection() {
            // 300, 304, 305: no page, and nowhere to go.
            return Err(LoadError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
                redirected_to: None, // fetch follows none
            });
        }
        let media_type = (response.headers().get("content-type"))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        let body = match media_type.as_deref() {
            Some("text/html" | "application/xhtml+xml") => {
                self.read_body(&attempt, &mut response)?
            }
            Some(_) => return Ok(Fetched::Other(media_type.unwrap_or_default())),
            // No type: the first bytes tell, as a browser reads them.
            None => {
                let body = self.read_body(&attempt, &mut response)?;
                if !looks_like_html(&body) {
                    return Ok(Fetched::Other("none".into()));
                }
                body
            }
        };
        Ok(Fetched::Html(Page {
            url: url.to_string(),
            html: text(&attempt, body)?,
        }))
    }

    /// Loads a site's `robots.txt` the way RFC 9309 asks a crawler to read one: redirects
    /// followed, at most its first [`ROBOTS_MAX`] bytes (the rest is ignored, not an
    /// error), and bytes that are not UTF-8 replaced (rules are ASCII: such bytes are in
    /// comments, most often).
    pub fn load_robots(&self, url: &str) -> Result<String, LoadError> {
        let mut attempt = self.attempt(url);
        let mut response = self.get(&mut attempt, true)?;
        let mut body = Vec::new();
        let reader = response.body_mut().as_reader();
        (reader.take(ROBOTS_MAX).read_to_end(&mut body))
            .map_err(|e| classify(&attempt, ureq::Error::from(e), true))?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// A load of `url` starting now.
    fn attempt<'a>(&self, url: &'a str) -> Attempt<'a> {
        Attempt {
            url,
            redirected_to: None,
            deadline: Instant::now() + self.options.timeout,
            options: self.options,
        }
    }

    /// The answer to a GET of `attempt`'s URL: a page, or a redirect not followed.
    /// Redirects are followed here, not by ureq, so that one to something that is not a
    /// web address (`mailto:`) is an error that says so (ureq would ask the same server for
    /// `/mailto:...`), and so that an error after a redirect can name its target.
    fn get(
        &self,
        attempt: &mut Attempt,
        follow_redirects: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, LoadError> {
        links::normalise(attempt.url).map_err(|reason| LoadError::Malformed {
            url: attempt.url.to_string(),
            reason,
        })?;
        let mut redirects = 0;
        loop {
            let response = self.get_one(attempt)?;
            let status = response.status();
            if follow_redirects && is_followed_redirect(status) {
                if redirects == MAX_REDIRECTS {
                    return Err(attempt.bad_answer(format!(
                        "more than {MAX_REDIRECTS} redirects in a row: a loop?"
                    )));
                }
                redirects += 1;
                attempt.redirected_to = Some(redirect_target(attempt, &response)?);
                continue;
            }
            // Any status that is not a page (404, 304, 999) is an error, but a redirect for
            // a caller that follows none.
            if status.is_success() || (status.is_redirection() && !follow_redirects) {
                return Ok(response);
            }
            return Err(refused(attempt, response));
        }
    }

    /// One request, for the URL `attempt` is at, in the time it has left.
    fn get_one(&self, attempt: &Attempt) -> Result<ureq::http::Response<ureq::Body>, LoadError> {
        let left = attempt.time_left();
        if left.is_zero() {
            return Err(attempt.timeout());
        }
        let request = (self.agent.get(attempt.at()).config()).timeout_global(Some(left));
        (request.build().call()).map_err(|e| classify(attempt, e, false))
    }

    /// The body, up to the size limit (and within the time left: ureq's global timeout
    /// of the last request covers its body).
    fn read_body(
        &self,
        attempt: &Attempt,
        response: &mut ureq::http::Response<ureq::Body>,
    ) -> Result<Vec<u8>, LoadError> {
        (response.body_mut().with_config())
            .limit(self.options.max_body)
            .read_to_vec()
            .map_err(|e| classify(attempt, e, true))
    }
}

/// The redirects a browser follows by itself (300 and 304 are not).
fn is_followed_redirect(status: ureq::http::StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Where the redirect `response` leads, joined to the URL it answered: an `http` or
/// `https` URL, or an error that names what the Location held instead.
fn redirect_target(
    attempt: &Attempt,
    response: &ureq::http::Response<ureq::Body>,
) -> Result<String, LoadError> {
    let Some(location) = response.headers().get("location") else {
        return Err(attempt.bad_answer("a redirect without a Location".into()));
    };
    let location = String::from_utf8_lossy(location.as_bytes());
    let target = (url::Url::parse(attempt.at()).ok())
        .and_then(|base| base.join(&location).ok())
        .ok_or_else(|| {
            let location = shown(&location);
            attempt.bad_answer(format!("a redirect to a malformed Location: {location}"))
        })?;
    if !matches!(target.scheme(), "http" | "https") {
        let target = shown(target.as_str());
        return Err(attempt.bad_answer(format!(
            "a redirect to {target}, which is not an http or https address"
        )));
    }
    Ok(target.into())
}

/// `body` as text: UTF-8, or an error that says where it is not.
fn text(attempt: &Attempt, body: Vec<u8>) -> Result<String, LoadError> {
    let len = body.len();
    String::from_utf8(body).map_err(|e| LoadError::NotUtf8 {
        url: attempt.url.to_string(),
        position: e.utf8_error().valid_up_to(),
        len,
        redirected_to: attempt.redirected_to.clone(),
    })
}

/// Whether a body that came with no media type is HTML, by the test browsers use (the
/// WHATWG's MIME Sniffing standard, "rules for identifying an unknown MIME type"): after
/// white space, one of the tags an HTML page begins with, ended by a space or `>`.
fn looks_like_html(body: &[u8]) -> bool {
    const OPENINGS: [&[u8]; 17] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ];
    let start = body.iter().position(|b| !b"\t\n\x0c\r ".contains(b));
    let body = &body[start.unwrap_or(body.len())..];
    OPENINGS.iter().any(|opening| {
        body.len() > opening.len()
            && body[..opening.len()].eq_ignore_ascii_case(opening)
            && matches!(body[opening.len()], b' ' | b'>')
    })
}

/// Loads `url` and returns its text. Python:
/// `urllib.request.urlopen(url).read().decode('utf-8')`.
pub fn load_url(url: &str) -> Result<Page, LoadError> {
    load_url_with_timeout(url, TIMEOUT)
}

/// [`load_url`] with another time limit.
pub fn load_url_with_timeout(url: &str, timeout: Duration) -> Result<Page, LoadError> {
    let options = Options {
        timeout,
        ..Options::default()
    };
    Loader::new(options).load(url)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;
    use std::time::Instant;

    use super::*;

    /// The demo site on a thread of this test process (no fork here, so threads are fine).
    fn demo_site() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        thread::spawn(move || demo_site::serve(listener));
        base
    }

    /// A server that answers every connection with `answer`, whatever it is asked, then
    /// closes it. An HTTP answer says `Connection: close`: the client would otherwise keep
    /// the connection for its next request (a redirect's), and find it closed.
    fn answering(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                read_request(&mut stream);
                let _ = stream.write_all(answer);
            }
        });
        url
    }

    /// A server that answers everything with a redirect to `location`.
    fn redirecting_to(location: &str) -> String {
        let answer = format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        );
        answering(answer.into_bytes().leak())
    }

    /// Reads a request up to the blank line that ends its head (a GET has no body): closed
    /// with bytes left unread, a connection is reset, which can throw away the answer
    /// before the client reads it (one `read` may return only part of the request).
    fn read_request(stream: &mut std::net::TcpStream) -> String {
        let mut request = Vec::new();
        let mut buf = [0; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&request).into_owned()
    }

    #[test]
    fn a_page_loads_as_text() {
        let base = demo_site();
        let page = load_url(&format!("{base}{}", demo_site::FRONT_PAGE)).unwrap();
        assert!(page.html.contains("<title>Tidemark</title>"));
    }

    #[test]
    fn each_failure_has_its_own_error() {
        let base = demo_site();
        assert!(matches!(
            load_url("[http://127.0.0.1/"),
            Err(LoadError::Malformed { .. })
        ));
        assert!(matches!(
            load_url("http://127.0.0.1:1/"),
            Err(LoadError::Unreachable { .. })
        ));
        assert!(matches!(
            load_url(&format!("{base}{}", demo_site::BROKEN_LINK)),
            Err(LoadError::Status { status: 404, .. })
        ));
        let latin1 = format!("{base}{}", demo_site::NOT_UTF8_PAGE);
        assert!(matches!(load_url(&latin1), Err(LoadError::NotUtf8 { .. })));
    }

    #[test]
    fn errors_are_one_line_in_plain_words() {
        let not_http = answering(b"SSH-2.0-OpenSSH_9.2\r\n");
        let cut_short =
            answering(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nhalf");
        let cases = [
            (
                "[http://127.0.0.1/".to_string(),
                "[http://127.0.0.1/: malformed URL ([http is not a scheme (a letter, then \
                 letters, digits, +, - or .))",
            ),
            (
                "ftp://127.0.0.1/".to_string(),
                "ftp://127.0.0.1/: malformed URL (ftp: is not http or https)",
            ),
            (
                "http://127.0.0.1:1/".to_string(),
                "http://127.0.0.1:1/: unreachable (connection refused)",
            ),
            (not_http.clone(), "the server's answer is not HTTP"),
            (
                answering(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n"),
                "the server answered 304",
            ),
            (
                answering(
                    b"HTTP/1.1 999 Who Knows\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
                ),
                "the server answered 999",
            ),
            (
                answering(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                "the server's answer cannot be used (a redirect without a Location)",
            ),
            (
                cut_short.clone(),
                "cut short (the connection closed before the end of the body)",
            ),
        ];
        for (url, expected) in cases {
            let message = load_url(&url).unwrap_err().to_string();
            assert!(message.ends_with(expected), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
        let cut = load_url(&cut_short).unwrap_err();
        assert!(matches!(cut, LoadError::CutShort { .. }), "{cut:?}");
        let other = load_url(&not_http).unwrap_err();
        assert!(matches!(other, LoadError::NotHttp { .. }), "{other:?}");
    }

    #[test]
    fn robots_txt_is_read_whatever_its_bytes_and_length() {
        // Latin-1 in a comment, and 600 KiB of comments after the rules.
        let mut robots = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n".to_vec();
        robots.extend_from_slice(b"# R\xe9gles\nUser-agent: *\nDisallow: /private/\n");
        robots.extend(std::iter::repeat_n(b'#', 600 * 1024));
        let url = answering(robots.leak());
        let loader = Loader::new(Options::default());
        let text = loader.load_robots(&url).unwrap();
        assert!(text.starts_with("# R\u{fffd}gles\nUser-agent: *\nDisallow: /private/\n"));
        assert_eq!(
            text.len() as u64,
            ROBOTS_MAX + 2,
            "one replaced byte takes three"
        );
        // An error in the body is told as `load` tells it.
        let broken = answering(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!",
        );
        let error = loader.load_robots(&broken).unwrap_err();
        assert!(matches!(error, LoadError::BadAnswer { .. }), "{error:?}");
    }

    #[test]
    fn a_body_over_the_limit_is_too_large_and_says_the_limit() {
        let base = demo_site();
        let url = format!("{base}{}", demo_site::LARGE_PAGE);
        let loader = Loader::new(Options {
            max_body: 1024 * 1024,
            ..Options::default()
        });
        let error = loader.load(&url).unwrap_err();
        assert_eq!(
            error,
            LoadError::TooLarge {
                url: url.clone(),
                limit: 1024 * 1024,
                redirected_to: None,
            }
        );
        assert!(
            error
                .to_string()
                .ends_with("the body is larger than the limit of 1 MiB"),
            "{error}"
        );
        assert!(Loader::new(Options::default()).load(&url).is_ok());
    }

    #[test]
    fn fetch_follows_no_redirect_and_reads_no_image() {
        let redirect = answering(
            b"HTTP/1.1 301 Moved\r\nLocation: /book/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        let image = answering(
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 4\r\n\r\n\x89PNG",
        );
        let loader = Loader::new(Options::default());
        assert_eq!(
            loader.fetch(&redirect),
            Ok(Fetched::Redirect(format!("{redirect}book/")))
        );
        assert_eq!(loader.fetch(&image), Ok(Fetched::Other("image/png".into())));
        // No type: a page is told by its first bytes, as a browser tells it.
        let untyped = |body: &str| {
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            loader.fetch(&answering(answer.into_bytes().leak()))
        };
        let html = "\n <!DOCTYPE html><title>Untyped</title>";
        assert!(matches!(untyped(html), Ok(Fetched::Html(page)) if page.html == html));
        assert!(matches!(untyped("<HTML><p>hi"), Ok(Fetched::Html(_))));
        assert_eq!(
            untyped("{\"not\": \"html\"}"),
            Ok(Fetched::Other("none".into()))
        );
        assert_eq!(untyped("<htmlx"), Ok(Fetched::Other("none".into())));
        let xhtml = answering(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/xhtml+xml\r\nContent-Length: 7\r\n\r\n<html/>",
        );
        assert!(matches!(loader.fetch(&xhtml), Ok(Fetched::Html(_))));
        let page = loader.fetch(&format!("{}/", demo_site()));
        assert!(matches!(page, Ok(Fetched::Html(_))), "{page:?}");
    }

    #[test]
    fn requests_name_the_project() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let request = read_request(&mut stream);
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            request
        });
        load_url(&url).unwrap();
        let request = server.join().unwrap();
        assert!(
            request.contains(&format!("user-agent: {USER_AGENT}\r\n")),
            "{request}"
        );
    }

    /// A server whose first connection is answered with bytes that are not HTTP after
    /// `first_after`; every later one (the loader's probe for TLS) one byte every
    /// `probe_every`. Returns the URL and the requests it read, in order.
    fn not_http_then_slow(
        first_after: Duration,
        probe_every: Duration,
    ) -> (String, std::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/page", listener.local_addr().unwrap());
        let (requests, received) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for (n, stream) in listener.incoming().flatten().enumerate() {
                let requests = requests.clone();
                thread::spawn(move || {
                    let mut stream = stream;
                    let _ = requests.send(read_request(&mut stream));
                    if n == 0 {
                        thread::sleep(first_after);
                        let _ = stream.write_all(b"\x00\x01garbage, not http\r\n\r\n");
                    } else {
                        for byte in b"abc" {
                            thread::sleep(probe_every);
                            let _ = stream.write_all(&[*byte]);
                        }
                    }
                    thread::sleep(Duration::from_secs(1));
                });
            }
        });
        (url, received)
    }

    #[test]
    fn a_load_ends_within_its_time_limit_probe_included() {
        let (url, _) = not_http_then_slow(Duration::from_millis(800), Duration::from_millis(900));
        let started = Instant::now();
        let result = load_url_with_timeout(&url, Duration::from_secs(1));
        let took = started.elapsed();
        assert!(
            matches!(result, Err(LoadError::NotHttp { .. })),
            "{result:?}"
        );
        assert!(took < Duration::from_millis(1300), "took {took:?}");
    }

    #[test]
    fn the_probe_for_tls_is_a_request_like_the_others() {
        let (url, requests) = not_http_then_slow(Duration::ZERO, Duration::ZERO);
        let result = load_url(&url);
        assert!(
            matches!(result, Err(LoadError::NotHttp { .. })),
            "{result:?}"
        );
        let first = requests.recv().unwrap();
        let probe = requests.recv().unwrap();
        let authority = url.trim_start_matches("http://").trim_end_matches("/page");
        for request in [first, probe] {
            assert!(request.starts_with("GET /page HTTP/1.1\r\n"), "{request}");
            let request = request.to_ascii_lowercase();
            assert!(
                request.contains(&format!("\r\nhost: {authority}\r\n")),
                "{request}"
            );
            let agent = format!("\r\nuser-agent: {}\r\n", USER_AGENT.to_ascii_lowercase());
            assert!(request.contains(&agent), "{request}");
        }
    }

    #[test]
    fn a_redirect_to_what_is_not_a_web_address_says_where() {
        // Followed (a load), and not followed (a crawler's fetch): the same error.
        let redirect = |location: &str, follow: bool| {
            let url = redirecting_to(location);
            match follow {
                true => load_url(&url).unwrap_err(),
                false => Loader::new(Options::default()).fetch(&url).err().unwrap(),
            }
        };
        let cases = [
            (
                "mailto:a@b.c",
                "the server's answer cannot be used (a redirect to mailto:a@b.c, which is not \
                 an http or https address)",
            ),
            (
                "http://[::1/zz",
                "the server's answer cannot be used (a redirect to a malformed Location: \
                 http://[::1/zz)",
            ),
        ];
        for ((location, expected), follow) in
            cases.into_iter().flat_map(|c| [(c, true), (c, false)])
        {
            let error = redirect(location, follow);
            assert!(matches!(error, LoadError::BadAnswer { .. }), "{error:?}");
            assert!(error.to_string().ends_with(expected), "{error}");
        }
    }

    #[test]
    fn an_error_status_after_a_redirect_names_the_url_that_answered() {
        let missing =
            answering(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let url = redirecting_to(&missing);
        let error = load_url(&url).unwrap_err().to_string();
        let expected = format!("{url}: the server answered 404 at {missing}, where a redirect led");
        assert_eq!(error, expected);
    }

    #[test]
    fn every_error_at_a_redirect_target_names_it() {
        let cases = [
            (never_answering(), "no complete answer within 0.3 s"),
            (
                answering(b"SSH-2.0-OpenSSH_9.2\r\n"),
                "the server's answer is not HTTP",
            ),
            (
                answering(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n\xe9t\xe9",
                ),
                "the page is not valid UTF-8 (byte 0 of 3)",
            ),
            (
                answering(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n12345678",
                ),
                "the body is larger than the limit of 5 bytes",
            ),
            (
                answering(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nhalf",
                ),
                "cut short (the connection closed before the end of the body)",
            ),
            (
                answering(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                "the server's answer cannot be used (a redirect without a Location)",
            ),
            (
                redirecting_to("/"),
                "the server's answer cannot be used (more than 10 redirects in a row: a loop?)",
            ),
        ];
        let loader = Loader::new(Options {
            timeout: Duration::from_millis(300),
            max_body: 5,
        });
        for (target, said) in cases {
            let url = redirecting_to(&target);
            let error = loader.load(&url).unwrap_err();
            let expected = format!("{url}: {said} at {target}, where a redirect led");
            assert_eq!(error.to_string(), expected);
            // Where it led crosses to another process with the rest.
            let mut sent = Vec::new();
            ipc::codec::encode_into(&error, &mut sent).unwrap();
            assert_eq!(ipc::codec::decode::<LoadError>(&sent).unwrap(), error);
        }
    }

    #[test]
    fn a_plain_request_that_a_tls_port_refuses_in_words_gets_the_hint() {
        // What nginx (1.22, on loopback), Apache and Go's server answer a plain request on a
        // port where they speak TLS: a 400, and a page that says so.
        let nginx = "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port\
                     </title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n\
                     <center>The plain HTTP request was sent to HTTPS port</center>\r\n\
                     <hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
        let apache = "<html><head>\n<title>400 Bad Request</title>\n</head><body>\n\
                      <h1>Bad Request</h1>\n<p>Your browser sent a request that this server could \
                      not understand.<br />\nReason: You're speaking plain HTTP to an SSL-enabled \
                      server port.<br />\nInstead use the HTTPS scheme to access this URL, \
                      please.<br />\n</p>\n</body></html>\n";
        let with_length = |body: &str| {
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            answering(answer.into_bytes().leak())
        };
        let go = answering(
            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
        );
        for url in [with_length(nginx), with_length(apache), go] {
            let error = load_url(&url).unwrap_err();
            let said = format!("{url}: the server speaks TLS on this port: try https://");
            assert_eq!(error.to_string(), said);
            let redirected_to = None;
            assert_eq!(error, LoadError::HttpToTlsPort { url, redirected_to });
        }
        // The same after a redirect: its target is the server to tell about.
        let target = with_length(nginx);
        let url = redirecting_to(&target);
        let said = format!("{url}: redirected to {target}, where the server speaks TLS");
        assert_eq!(load_url(&url).unwrap_err().to_string(), said);
        // Any other 400 is only a 400.
        let other = with_length("<html><title>400 Bad Request</title>Missing parameter");
        let error = load_url(&other).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{other}: the server answered 400")
        );
    }

    #[test]
    fn a_redirect_to_a_url_the_client_cannot_ask_for_names_it() {
        // `{` passes the url crate (and so `redirect_target`), but not http's `Uri`: the
        // request to the target fails before it is sent. The URL given is not malformed;
        // the redirect's target is, and the error must say which it is.
        let target = "http://a{b/";
        let url = redirecting_to(target);
        let error = load_url(&url).unwrap_err();
        let said = error.to_string();
        assert!(said.contains(target), "the target is not named: {said}");
        assert!(
            !matches!(error, LoadError::Malformed { .. }),
            "the URL given is blamed: {error:?}"
        );
    }

    #[test]
    fn an_unreachable_redirect_target_is_named() {
        let url = answering(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/ok\r\nContent-Length: 0\r\n\
              Connection: close\r\n\r\n",
        );
        let said = load_url(&url).unwrap_err().to_string();
        assert_eq!(
            said,
            format!("{url}: unreachable (redirected to http://127.0.0.1:1/ok: connection refused)")
        );
    }

    #[test]
    fn a_url_is_shown_on_one_line_whatever_it_holds() {
        let error = load_url("http://127.0.0.1:1/a\r\nb\x1b[2J").unwrap_err();
        let said = error.to_string();
        assert!(
            said.starts_with("http://127.0.0.1:1/a\\r\\nb\\u{1b}[2J: "),
            "{said}"
        );
        assert!(!said.chars().any(char::is_control), "{said:?}");
        // A reason that quotes the URL, too.
        let said = load_url("\x1b[2J://x/").unwrap_err().to_string();
        assert!(!said.chars().any(char::is_control), "{said:?}");
    }

    #[test]
    fn redirects_share_the_time_limit() {
        // Each answer, a redirect to the same page, comes after 400 ms: the third is
        // past the limit of 1 s.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                read_request(&mut stream);
                thread::sleep(Duration::from_millis(400));
                let _ = stream.write_all(
                    b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\
                      Connection: close\r\n\r\n",
                );
            }
        });
        let started = Instant::now();
        let result = load_url_with_timeout(&url, Duration::from_secs(1));
        assert!(
            matches!(result, Err(LoadError::Timeout { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(1300));
    }

    /// A server that accepts every connection and then says nothing, holding it open.
    fn never_answering() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        thread::spawn(move || {
            let held: Vec<_> = listener.incoming().collect();
            drop(held);
        });
        url
    }

    #[test]
    fn a_server_that_never_answers_is_cut_off() {
        let url = never_answering();
        let started = Instant::now();
        let result = load_url_with_timeout(&url, Duration::from_millis(300));
        assert!(
            matches!(result, Err(LoadError::Timeout { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // The limit as it was given, not rounded down to whole seconds.
        let said = result.unwrap_err().to_string();
        assert!(said.ends_with("no complete answer within 0.3 s"), "{said}");
    }

    #[test]
    fn the_time_limit_is_said_as_it_was_given() {
        // Fractions of a millisecond included: `--timeout 0.0019` is said as given.
        let url = never_answering();
        for (seconds, said) in [(0.0019, "0.0019"), (0.0125, "0.0125")] {
            let limit = Duration::from_secs_f64(seconds);
            let error = load_url_with_timeout(&url, limit).unwrap_err();
            let expected = format!("{url}: no complete answer within {said} s");
            assert_eq!(error.to_string(), expected);
        }
        // Whole seconds and longer fractions, without waiting for them.
        for (limit, said) in [
            (Duration::from_secs(10), "10"),
            (Duration::from_millis(1500), "1.5"),
        ] {
            let url = url.clone();
            let redirected_to = None;
            let error = LoadError::Timeout {
                url,
                limit,
                redirected_to,
            };
            assert!(
                error.to_string().ends_with(&format!(" within {said} s")),
                "{error}"
            );
        }
    }
}
