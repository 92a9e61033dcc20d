//! Why a page did not load, in plain words: [`LoadError`], and the sorting of ureq's many
//! errors into its kinds.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rustls::CertificateError;
use serde::{Deserialize, Serialize};
use ureq::Body;
use ureq::http::{Response, StatusCode};
use ureq_proto::Error as ProtocolError;
use url::Position;

use crate::load::{Attempt, USER_AGENT};
use crate::resolve;

/// Why a page did not load: each a one-line message, and serializable, so that a child can
/// send it to its parent as it would a page.
///
/// Every message begins with the URL as given. When a redirect led elsewhere and the
/// failure is there, it names that URL too (`redirected_to`), or the user could not tell
/// which server to blame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not an `http` or `https` URL, like the tutorial's `'[http://www.wikipedia.org'`.
    #[error("{}: malformed URL ({})", shown(url), shown(reason))]
    Malformed {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No answer could be had: host unknown, connection refused.
    #[error("{}: unreachable ({reason})", shown(url))]
    Unreachable {
        /// The URL as given.
        url: String,
        /// What the network said.
        reason: String,
    },
    /// The server answered in HTTP, but with something a browser could not use either: a
    /// redirect without a Location, redirects in a loop, a broken compressed body...
    #[error(
        "{}: the server's answer cannot be used ({reason}){}",
        shown(url),
        where_a_redirect_led(redirected_to.as_deref())
    )]
    BadAnswer {
        /// The URL as given.
        url: String,
        /// What is wrong with the answer.
        reason: String,
        /// The URL that answered, if a redirect led there.
        redirected_to: Option<String>,
    },
    /// The server did not answer in time.
    #[error(
        "{}: no complete answer within {} s{}",
        shown(url),
        seconds(*limit),
        where_a_redirect_led(redirected_to.as_deref())
    )]
    Timeout {
        /// The URL as given.
        url: String,
        /// The time limit, as it was given (a `Duration`, so that a fraction of a
        /// millisecond is kept and said).
        limit: Duration,
        /// The URL that answered, if a redirect led there.
        redirected_to: Option<String>,
    },
    /// The server answered with an error status, like Python's `HTTPError`.
    #[error(
        "{}: the server answered {status}{}",
        shown(url),
        where_a_redirect_led(redirected_to.as_deref())
    )]
    Status {
        /// The URL as given.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The URL that answered, if a redirect led there.
        redirected_to: Option<String>,
    },
    /// The body is not UTF-8: Python's `decode('utf-8')` raises `UnicodeDecodeError` here.
    #[error(
        "{}: the page is not valid UTF-8 (byte {position} of {len}){}",
        shown(url),
        where_a_redirect_led(redirected_to.as_deref())
    )]
    NotUtf8 {
        /// The URL as given.
        url: String,
        /// Where the first invalid byte is.
        position: usize,
        /// The body's length.
        len: usize,
        /// The URL that answered, if a redirect led there.
        redirected_to: Option<String>,
    },
    /// Something answered, but not in HTTP (an SSH or mail server, say).
    #[error(
        "{}: the server's answer is not HTTP{}",
        shown(url),
        where_a_redirect_led(redirected_to.as_deref())
    )]
    NotHttp {
        /// The URL as given.
        url: String,
        /// The URL that answered, if a redirect led there.
        redirected_to: Option<String>,
    },
    /// The body is longer than [`Options::max_body`].
    #[error(
        "{}: the body is larger than the limit of {}{}",
        shown(url),
        bytes(*limit),
        where_a_redirect_led(redirected_to.as_deref())
    )]
    TooLarge {
        /// The URL as given.
        url: String,
        /// The limit, in bytes.
        limit: u64,
        /// The URL that answered, if a redirect led there.
        redirected_to: Option<String>,
    },
    /// The connection closed before the end of the body (shorter than its Content-Length,
    /// or a chunked body without its last chunk).
    #[error(
        "{}: cut short (the connection closed before the end of the body){}",
        shown(url),
        where_a_redirect_led(redirected_to.as_deref())
    )]
    CutShort {
        /// The URL as given.
        url: String,
        /// The URL that answered, if a redirect led there.
        redirected_to: Option<String>,
    },
    /// An `http://` URL for a port where the server speaks TLS.
    #[error("{}: {}", shown(url), wrong_port(redirected_to.as_deref(), true))]
    HttpToTlsPort {
        /// The URL as given.
        url: String,
        /// The redirect's target, if it is the URL that led there (the server's mistake,
        /// then, not the user's).
        redirected_to: Option<String>,
    },
    /// An `https://` URL for a port where the server speaks plain HTTP (or anything but TLS).
    #[error("{}: {}", shown(url), wrong_port(redirected_to.as_deref(), false))]
    TlsToPlainPort {
        /// The URL as given.
        url: String,
        /// The redirect's target, if it is the URL that led there.
        redirected_to: Option<String>,
    },
    /// The TLS handshake failed: most often the server's certificate is refused.
    ///
    /// Where a redirect led is said before the problem, whose words end in a list of
    /// names or places of their own.
    #[error(
        "{}: TLS{}: {problem}",
        shown(url),
        where_a_redirect_led(redirected_to.as_deref())
    )]
    Tls {
        /// The URL as given.
        url: String,
        /// What went wrong.
        problem: TlsProblem,
        /// The URL that answered, if a redirect led there.
        redirected_to: Option<String>,
    },
}

/// Why a TLS handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum TlsProblem {
    /// Signed by nobody this machine trusts (or self-signed).
    #[error(
        "the certificate is not trusted: unknown issuer (trusted are SSL_CERT_FILE, \
         SSL_CERT_DIR, or the system's certificates)"
    )]
    UnknownIssuer,
    /// A certificate authority's certificate, used as the server's own: webpki, which
    /// rustls uses, refuses it even where it is trusted (OpenSSL, so curl and Python,
    /// take it).
    #[error(
        "the certificate is a certificate authority's, used as the server's own (self-signed \
         with CA:TRUE, as `openssl req -x509` makes it): rustls takes a server's certificate \
         only if an authority signed it"
    )]
    AuthorityAsServer,
    /// Valid, but for other names.
    #[error("the certificate is for {}, not for {expected}", presented.join(", "))]
    WrongName {
        /// The host name in the URL.
        expected: String,
        /// The names the certificate is for.
        presented: Vec<String>,
    },
    /// Out of date.
    #[error("the certificate has expired")]
    Expired,
    /// Not valid yet (or this machine's clock is wrong).
    #[error("the certificate is not valid yet")]
    NotYetValid,
    /// This machine trusts no certificate at all.
    #[error(
        "no trusted certificates on this machine: install the ca-certificates package, or \
         set SSL_CERT_FILE"
    )]
    NoTrustedCertificates,
    /// Anything else, in rustls' words.
    #[error("{0}")]
    Other(String),
}

/// `url` (or a text that quotes it) as it can be shown on one line: its control characters (a CR or LF, an escape
/// sequence) written out as Rust writes them (`\r`, `\u{1b}`), so that an error stays one
/// line and cannot move the terminal's cursor.
pub(crate) fn shown(url: &str) -> String {
    url.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `" at URL, where a redirect led"`, or nothing if no redirect did.
fn where_a_redirect_led(redirected_to: Option<&str>) -> String {
    redirected_to
        .map(|to| format!(" at {}, where a redirect led", shown(to)))
        .unwrap_or_default()
}

/// What [`LoadError::HttpToTlsPort`] (`speaks_tls`) and [`LoadError::TlsToPlainPort`] say:
/// the scheme to try instead, or, if a redirect led there, its target, which the user can
/// only report.
fn wrong_port(redirected_to: Option<&str>, speaks_tls: bool) -> String {
    match (redirected_to, speaks_tls) {
        (None, true) => "the server speaks TLS on this port: try https://".into(),
        (None, false) => "the server does not speak TLS on this port: try http://".into(),
        (Some(to), true) => format!("redirected to {}, where the server speaks TLS", shown(to)),
        (Some(to), false) => format!(
            "redirected to {}, where the server does not speak TLS",
            shown(to)
        ),
    }
}

/// `limit` bytes in the largest whole unit.
fn bytes(limit: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if limit >= MIB && limit.is_multiple_of(MIB) {
        format!("{} MiB", limit / MIB)
    } else {
        format!("{limit} bytes")
    }
}

/// `limit` in seconds, with every digit it has and no more: `10`, `1.5`, `0.0019`. Written
/// from its whole seconds and nanoseconds, so it is exact for any limit, where a float
/// keeps only about 16 digits.
fn seconds(limit: Duration) -> String {
    let nanos = format!("{:09}", limit.subsec_nanos());
    match nanos.trim_end_matches('0') {
        "" => limit.as_secs().to_string(),
        fraction => format!("{}.{fraction}", limit.as_secs()),
    }
}

/// Sorts ureq's many errors into the kinds a reader needs to tell apart. `in_body`: the
/// error came while reading the body, after the head had arrived.
pub(crate) fn classify(attempt: &Attempt, e: ureq::Error, in_body: bool) -> LoadError {
    let url = attempt.url.to_string();
    // Unreachable after a redirect: the given URL's server was reached, its target not.
    let unreachable = |reason: String| LoadError::Unreachable {
        url: url.clone(),
        reason: match &attempt.redirected_to {
            Some(to) => format!("redirected to {}: {reason}", shown(to)),
            None => reason,
        },
    };
    let redirected_to = attempt.redirected_to.clone();
    let bad_answer = |reason: String| LoadError::BadAnswer {
        url: url.clone(),
        reason,
        redirected_to: redirected_to.clone(),
    };
    match e {
        ureq::Error::Timeout(_) => attempt.timeout(),
        // A redirect's target that the url crate takes and http's `Uri` does not (`{`): the
        // server's answer is at fault, not the URL given.
        ureq::Error::Http(_) | ureq::Error::BadUri(_) if redirected_to.is_some() => {
            bad_answer(format!("a redirect to a URL that cannot be asked for: {e}"))
        }
        ureq::Error::Http(_) | ureq::Error::BadUri(_) => LoadError::Malformed {
            url,
            reason: e.to_string(),
        },
        ureq::Error::HostNotFound => unreachable("host not found".into()),
        ureq::Error::BodyExceedsLimit(limit) => LoadError::TooLarge {
            url,
            limit,
            redirected_to,
        },
        ureq::Error::Protocol(_) if speaks_tls(attempt) => {
            LoadError::HttpToTlsPort { url, redirected_to }
        }
        ureq::Error::Protocol(
            ProtocolError::HttpParseFail(_) | ProtocolError::UnsupportedVersion,
        ) => LoadError::NotHttp { url, redirected_to },
        ureq::Error::Protocol(e) => bad_answer(e.to_string()),
        ureq::Error::LargeResponseHeader(..) | ureq::Error::Decompress(..) => {
            bad_answer(e.to_string())
        }
        ureq::Error::Rustls(e) => tls(url, redirected_to, e),
        ureq::Error::Io(e) => match e.kind() {
            _ if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
                let inner = e.into_inner().expect("checked above");
                let inner = *inner.downcast::<rustls::Error>().expect("checked above");
                tls(url, redirected_to, inner)
            }
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset if in_body => {
                LoadError::CutShort { url, redirected_to }
            }
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                if speaks_tls(attempt) =>
            {
                LoadError::HttpToTlsPort { url, redirected_to }
            }
            io::ErrorKind::UnexpectedEof => {
                unreachable("the server closed the connection without answering".into())
            }
            io::ErrorKind::ConnectionRefused => unreachable("connection refused".into()),
            io::ErrorKind::ConnectionReset => unreachable("connection reset".into()),
            _ => unreachable(e.to_string()),
        },
        _ => unreachable(e.to_string()),
    }
}

/// The error of an answer with an error `status`: [`LoadError::Status`], but for a 400 to a
/// plain `http://` request whose page says, in the words of nginx, Apache or Go's server,
/// that the port speaks TLS: [`LoadError::HttpToTlsPort`]. These servers answer a plain
/// request on their TLS port in plain HTTP, so [`speaks_tls`] cannot tell; their pages are
/// fixed texts, and what they say leaves no doubt. Another server, or a custom page, says
/// only its 400.
pub(crate) fn refused(attempt: &Attempt, mut response: Response<Body>) -> LoadError {
    /// What each says, nginx's first. The pages are a few hundred bytes long.
    const PLAIN_ON_TLS: [&str; 3] = [
        "The plain HTTP request was sent to HTTPS port",
        "You're speaking plain HTTP to an SSL-enabled server port",
        "Client sent an HTTP request to an HTTPS server",
    ];
    const READ_AT_MOST: u64 = 4096;
    let status = response.status();
    let url = attempt.url.to_string();
    let redirected_to = attempt.redirected_to.clone();
    if status == StatusCode::BAD_REQUEST && attempt.plain_http().is_some() {
        let mut page = Vec::new();
        let reader = response.body_mut().as_reader();
        // A page cut short or late is read as far as it came.
        let _ = reader.take(READ_AT_MOST).read_to_end(&mut page);
        let page = String::from_utf8_lossy(&page);
        if PLAIN_ON_TLS.iter().any(|words| page.contains(words)) {
            return LoadError::HttpToTlsPort { url, redirected_to };
        }
    }
    LoadError::Status {
        url,
        status: status.as_u16(),
        redirected_to,
    }
}

/// A TLS error in words. `redirected_to`: where a redirect led, if one did.
fn tls(url: String, redirected_to: Option<String>, e: rustls::Error) -> LoadError {
    let problem = match e {
        rustls::Error::InvalidMessage(_) => {
            return LoadError::TlsToPlainPort { url, redirected_to };
        }
        rustls::Error::InvalidCertificate(e) => match e {
            CertificateError::UnknownIssuer => TlsProblem::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsProblem::NotYetValid
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => TlsProblem::WrongName {
                expected: expected.to_str().into_owned(),
                presented: presented.iter().map(|name| plain_name(name)).collect(),
            },
            // webpki's words for a certificate that is its own authority.
            other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
                TlsProblem::AuthorityAsServer
            }
            other => TlsProblem::Other(format!("the certificate is refused: {other}")),
        },
        rustls::Error::General(message) if message.contains("No CA certificates") => {
            TlsProblem::NoTrustedCertificates
        }
        other => TlsProblem::Other(other.to_string()),
    };
    LoadError::Tls {
        url,
        problem,
        redirected_to,
    }
}

/// `localhost` out of rustls' `DnsName("localhost")`.
fn plain_name(name: &str) -> String {
    let inner = name
        .split_once("(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"));
    inner.unwrap_or(name).to_string()
}

/// Whether the server the failed request went to answers a plain request with a TLS
/// record (an alert, most often): what a TLS server does when it is spoken to in plain
/// HTTP. Asked only once a plain `http://` request has failed with an answer that is not
/// HTTP, or none, to tell "try https://" from "not HTTP" or "closed without answering".
/// ureq keeps no bytes of a failed answer, hence a second connection; it gets only the
/// load's time left (none left: no probe, and the plain error), and it is the request the
/// load made, Host and User-Agent included.
fn speaks_tls(attempt: &Attempt) -> bool {
    let Some(url) = attempt.plain_http() else {
        return false;
    };
    let Some(mut stream) = probe_connection(&url, attempt) else {
        return false;
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n",
        &url[Position::BeforePath..Position::AfterQuery],
        &url[Position::BeforeHost..Position::AfterPort],
    );
    let mut first = [0; 3];
    let answered = stream
        .set_write_timeout(Some(attempt.time_left().max(Duration::from_millis(1))))
        .and_then(|()| stream.write_all(request.as_bytes()))
        .and_then(|()| read_before(&mut stream, &mut first, attempt.deadline));
    // A record of type alert (21) or handshake (22), version 3.x.
    answered.is_ok() && matches!(first, [21 | 22, 3, 0..=4])
}

/// A connection to `url`'s host and port, made before `attempt`'s deadline, or none.
fn probe_connection(url: &url::Url, attempt: &Attempt) -> Option<TcpStream> {
    let host = url.host()?;
    let port = url.port_or_known_default()?;
    let addrs = resolve::addresses(&host.to_string(), port, attempt.time_left()).ok()?;
    addrs.into_iter().find_map(|addr| {
        let left = attempt.time_left();
        (!left.is_zero())
            .then(|| TcpStream::connect_timeout(&addr, left).ok())
            .flatten()
    })
}

/// Fills `buf` from `stream` before `deadline`, each read waiting only for the time left.
fn read_before(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[filled..])? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    Ok(())
}
