//! `load_url`: fetch a page and decode it as UTF-8, as the tutorial's
//! `urllib.request.urlopen(url).read().decode('utf-8')` does.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long one page may take, from connecting to the last byte. A hung server is cut off
/// after this, with [`LoadError::Timeout`].
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The largest page `load_url` reads (the demo site's largest is just over 1 MiB).
const MAX_PAGE: u64 = 16 * 1024 * 1024;

/// A loaded page. It derives serde's traits so that a child can send it to its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The URL that was asked for.
    pub url: String,
    /// The page's text, decoded as UTF-8.
    pub html: String,
}

/// Why a page did not load: each a one-line message, and serializable, so that a child can
/// send it to its parent as it would a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LoadError {
    /// Not a URL ureq can use, like the tutorial's `'[http://www.wikipedia.org'`.
    #[error("{url}: malformed URL ({reason})")]
    Malformed {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No answer could be had: host unknown, connection refused or cut.
    #[error("{url}: unreachable ({reason})")]
    Unreachable {
        /// The URL as given.
        url: String,
        /// What the network said.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("{url}: no complete answer within {seconds} s")]
    Timeout {
        /// The URL as given.
        url: String,
        /// The time limit.
        seconds: u64,
    },
    /// The server answered with an error status, like Python's `HTTPError`.
    #[error("{url}: the server answered {status}")]
    Status {
        /// The URL as given.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The body is not UTF-8: Python's `decode('utf-8')` raises `UnicodeDecodeError` here.
    #[error("{url}: the page is not valid UTF-8 (byte {position} of {len})")]
    NotUtf8 {
        /// The URL as given.
        url: String,
        /// Where the first invalid byte is.
        position: usize,
        /// The body's length.
        len: usize,
    },
}

/// Loads `url` and returns its text. Python:
/// `urllib.request.urlopen(url).read().decode('utf-8')`.
pub fn load_url(url: &str) -> Result<Page, LoadError> {
    load_url_with_timeout(url, TIMEOUT)
}

/// [`load_url`] with another time limit.
pub fn load_url_with_timeout(url: &str, timeout: Duration) -> Result<Page, LoadError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into();
    let failed = |e| classify(url, timeout, e);
    let mut response = agent.get(url).call().map_err(failed)?;
    let body = (response.body_mut().with_config().limit(MAX_PAGE))
        .read_to_vec()
        .map_err(failed)?;
    let len = body.len();
    let html = String::from_utf8(body).map_err(|e| LoadError::NotUtf8 {
        url: url.to_string(),
        position: e.utf8_error().valid_up_to(),
        len,
    })?;
    Ok(Page {
        url: url.to_string(),
        html,
    })
}

/// Sorts ureq's many errors into the few a reader needs to tell apart.
fn classify(url: &str, timeout: Duration, e: ureq::Error) -> LoadError {
    let url = url.to_string();
    match e {
        ureq::Error::StatusCode(status) => LoadError::Status { url, status },
        ureq::Error::Timeout(_) => LoadError::Timeout {
            url,
            seconds: timeout.as_secs(),
        },
        ureq::Error::Http(_) | ureq::Error::BadUri(_) => LoadError::Malformed {
            url,
            reason: e.to_string(),
        },
        _ => LoadError::Unreachable {
            url,
            reason: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
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
    fn a_server_that_never_answers_is_cut_off() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        // Accept and then say nothing, holding the connection open.
        thread::spawn(move || {
            let held: Vec<_> = listener.incoming().collect();
            drop(held);
        });
        let started = Instant::now();
        let result = load_url_with_timeout(&url, Duration::from_millis(300));
        assert!(
            matches!(result, Err(LoadError::Timeout { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
