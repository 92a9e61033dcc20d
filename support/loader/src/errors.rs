//! Why a page did not load, in plain words: [`LoadError`], and the sorting of ureq's many
//! errors into its kinds.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use rustls::CertificateError;
use serde::{Deserialize, Serialize};
use ureq_proto::Error as ProtocolError;

use crate::load::{MAX_REDIRECTS, Options};

/// Why a page did not load: each a one-line message, and serializable, so that a child can
/// send it to its parent as it would a page.
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
    #[error("{}: the server's answer cannot be used ({reason})", shown(url))]
    BadAnswer {
        /// The URL as given.
        url: String,
        /// What is wrong with the answer.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("{}: no complete answer within {} s", shown(url), *millis as f64 / 1000.0)]
    Timeout {
        /// The URL as given.
        url: String,
        /// The time limit, in milliseconds.
        millis: u64,
    },
    /// The server answered with an error status, like Python's `HTTPError`.
    #[error("{}: the server answered {status}", shown(url))]
    Status {
        /// The URL as given.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The body is not UTF-8: Python's `decode('utf-8')` raises `UnicodeDecodeError` here.
    #[error(
        "{}: the page is not valid UTF-8 (byte {position} of {len})",
        shown(url)
    )]
    NotUtf8 {
        /// The URL as given.
        url: String,
        /// Where the first invalid byte is.
        position: usize,
        /// The body's length.
        len: usize,
    },
    /// Something answered, but not in HTTP (an SSH or mail server, say).
    #[error("{}: the server's answer is not HTTP", shown(url))]
    NotHttp {
        /// The URL as given.
        url: String,
    },
    /// The body is longer than [`Options::max_body`].
    #[error("{}: the body is larger than the limit of {}", shown(url), bytes(*limit))]
    TooLarge {
        /// The URL as given.
        url: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The connection closed before the end of the body (shorter than its Content-Length,
    /// or a chunked body without its last chunk).
    #[error(
        "{}: cut short (the connection closed before the end of the body)",
        shown(url)
    )]
    CutShort {
        /// The URL as given.
        url: String,
    },
    /// An `http://` URL for a port where the server speaks TLS.
    #[error("{}: the server speaks TLS on this port: try https://", shown(url))]
    HttpToTlsPort {
        /// The URL as given.
        url: String,
    },
    /// An `https://` URL for a port where the server speaks plain HTTP (or anything but TLS).
    #[error(
        "{}: the server does not speak TLS on this port: try http://",
        shown(url)
    )]
    TlsToPlainPort {
        /// The URL as given.
        url: String,
    },
    /// The TLS handshake failed: most often the server's certificate is refused.
    #[error("{}: TLS: {problem}", shown(url))]
    Tls {
        /// The URL as given.
        url: String,
        /// What went wrong.
        problem: TlsProblem,
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

/// `limit` bytes in the largest whole unit.
fn bytes(limit: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if limit >= MIB && limit.is_multiple_of(MIB) {
        format!("{} MiB", limit / MIB)
    } else {
        format!("{limit} bytes")
    }
}

/// Sorts ureq's many errors into the kinds a reader needs to tell apart. `in_body`: the
/// error came while reading the body, after the head had arrived.
pub(crate) fn classify(url: &str, options: &Options, e: ureq::Error, in_body: bool) -> LoadError {
    let url = url.to_string();
    let unreachable = |reason: String| LoadError::Unreachable {
        url: url.clone(),
        reason,
    };
    let bad_answer = |reason: String| LoadError::BadAnswer {
        url: url.clone(),
        reason,
    };
    match e {
        ureq::Error::StatusCode(status) => LoadError::Status { url, status },
        ureq::Error::Timeout(_) => LoadError::Timeout {
            url,
            millis: options.timeout.as_millis().try_into().unwrap_or(u64::MAX),
        },
        ureq::Error::Http(_) | ureq::Error::BadUri(_) => LoadError::Malformed {
            url,
            reason: e.to_string(),
        },
        ureq::Error::HostNotFound => unreachable("host not found".into()),
        ureq::Error::BodyExceedsLimit(limit) => LoadError::TooLarge { url, limit },
        ureq::Error::Protocol(_) if speaks_tls(&url, options.timeout) => {
            LoadError::HttpToTlsPort { url }
        }
        ureq::Error::Protocol(
            ProtocolError::HttpParseFail(_) | ProtocolError::UnsupportedVersion,
        ) => LoadError::NotHttp { url },
        ureq::Error::Protocol(e) => bad_answer(match e {
            ProtocolError::NoLocationHeader => "a redirect without a Location".into(),
            ProtocolError::BadLocationHeader(to) => {
                format!("a redirect to a malformed Location: {to}")
            }
            other => other.to_string(),
        }),
        ureq::Error::TooManyRedirects => bad_answer(format!(
            "more than {MAX_REDIRECTS} redirects in a row: a loop?"
        )),
        ureq::Error::LargeResponseHeader(..) | ureq::Error::Decompress(..) => {
            bad_answer(e.to_string())
        }
        ureq::Error::Rustls(e) => tls(url, e),
        ureq::Error::Io(e) => match e.kind() {
            _ if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
                let inner = e.into_inner().expect("checked above");
                tls(
                    url,
                    *inner.downcast::<rustls::Error>().expect("checked above"),
                )
            }
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset if in_body => {
                LoadError::CutShort { url }
            }
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                if speaks_tls(&url, options.timeout) =>
            {
                LoadError::HttpToTlsPort { url }
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

fn tls(url: String, e: rustls::Error) -> LoadError {
    let problem = match e {
        rustls::Error::InvalidMessage(_) => return LoadError::TlsToPlainPort { url },
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
    LoadError::Tls { url, problem }
}

/// `localhost` out of rustls' `DnsName("localhost")`.
fn plain_name(name: &str) -> String {
    let inner = name
        .split_once("(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"));
    inner.unwrap_or(name).to_string()
}

/// Whether the server at `url`'s host and port answers plain text with a TLS record (an
/// alert, most often): what a TLS server does when it is spoken to in plain HTTP. Asked
/// only once a plain `http://` load has failed, to say why.
fn speaks_tls(url: &str, timeout: Duration) -> bool {
    let addr = (url::Url::parse(url).ok())
        .filter(|parsed| parsed.scheme() == "http")
        .and_then(|parsed| parsed.socket_addrs(|| None).ok()?.into_iter().next());
    let Some(addr) = addr else {
        return false;
    };
    let mut first = [0; 3];
    let answered = TcpStream::connect_timeout(&addr, timeout).and_then(|mut stream| {
        stream.set_read_timeout(Some(timeout))?;
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
        stream.read_exact(&mut first)
    });
    // A record of type alert (21) or handshake (22), version 3.x.
    answered.is_ok() && matches!(first, [21 | 22, 3, 0..=4])
}
