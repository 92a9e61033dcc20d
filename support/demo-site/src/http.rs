//! Just enough HTTP/1.1 for the site: reading and checking a request head, writing a response.
//!
//! Every connection carries one request and one response; the server then closes it, which is
//! the simplest behaviour that every client understands.

use std::borrow::Cow;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// Longest request head accepted, blank line included; far more than any real client sends.
pub(crate) const MAX_HEAD_LEN: usize = 8 * 1024;

/// The statuses the site answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    MovedPermanently,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    HeadTooLarge,
}

impl Status {
    pub(crate) fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::MovedPermanently => 301,
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::HeadTooLarge => 431,
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::MovedPermanently => "Moved Permanently",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::HeadTooLarge => "Request Header Fields Too Large",
        }
    }
}

/// The methods the site serves; any other is answered with 405.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
}

/// The parts of a well-formed request that decide the answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    /// Path, with the query string if there is one.
    pub(crate) target: &'a str,
}

/// A response, before it is written out.
pub(crate) struct Response {
    pub(crate) status: Status,
    pub(crate) content_type: &'static str,
    pub(crate) body: Cow<'static, [u8]>,
    /// Where a redirect leads.
    pub(crate) location: Option<&'static str>,
}

/// What came in on a connection, as far as the request head goes.
pub(crate) enum Incoming {
    /// A complete head, ending with its blank line.
    Head(Vec<u8>),
    /// Something that must be answered with this error status.
    Reject(Status),
    /// Nothing worth answering: the client left, timed out or the socket failed.
    Gone,
}

/// Reads a request head of at most [`MAX_HEAD_LEN`] bytes, giving up at `deadline`.
///
/// The deadline covers the whole head, so a client that trickles bytes cannot hold the
/// connection longer than one that sends nothing.
pub(crate) fn read_head(stream: &mut TcpStream, deadline: Instant) -> Incoming {
    const END: &[u8] = b"\r\n\r\n";
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0; 1024];
    let chunk_len = chunk.len();
    loop {
        let room = MAX_HEAD_LEN - head.len();
        if room == 0 {
            return Incoming::Reject(Status::HeadTooLarge);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            return Incoming::Gone;
        }
        let read = match stream.read(&mut chunk[..room.min(chunk_len)]) {
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Incoming::Gone,
        };
        if read == 0 {
            return if head.is_empty() {
                Incoming::Gone
            } else {
                Incoming::Reject(Status::BadRequest)
            };
        }
        // The end marker may straddle the previous read, so look a few bytes back.
        let from = head.len().saturating_sub(END.len() - 1);
        head.extend_from_slice(&chunk[..read]);
        if let Some(at) = head[from..].windows(END.len()).position(|w| w == END) {
            head.truncate(from + at + END.len());
            return Incoming::Head(head);
        }
    }
}

/// Checks a request head and picks out the method and target.
///
/// Strict on purpose: anything that is not a plain `METHOD /target HTTP/1.x` line followed by
/// `Name: value` lines is a 400, so the chapters can show what a malformed request gets.
pub(crate) fn parse_request(head: &[u8]) -> Result<Request<'_>, Status> {
    let head = std::str::from_utf8(head).map_err(|_| Status::BadRequest)?;
    let head = head.strip_suffix("\r\n\r\n").ok_or(Status::BadRequest)?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Status::BadRequest);
    };
    let well_formed = is_token(method)
        && is_origin_form(target)
        && matches!(version, "HTTP/1.1" | "HTTP/1.0")
        && lines.all(is_header_field);
    if !well_formed {
        return Err(Status::BadRequest);
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => return Err(Status::MethodNotAllowed),
    };
    Ok(Request { method, target })
}

/// Writes `response`; for a HEAD request (`with_body` false) everything but the body.
pub(crate) fn write_response(
    stream: &mut impl Write,
    response: &Response,
    with_body: bool,
) -> io::Result<()> {
    let allow = if response.status == Status::MethodNotAllowed {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let location = match response.location {
        Some(location) => format!("Location: {location}\r\n"),
        None => String::new(),
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{location}{allow}Connection: close\r\n\r\n",
        response.status.code(),
        response.status.reason(),
        response.content_type,
        response.body.len(),
    );
    // One write, so head and body do not wait on each other in separate packets.
    let mut bytes = head.into_bytes();
    if with_body {
        bytes.extend_from_slice(&response.body);
    }
    stream.write_all(&bytes)
}

/// A method or header name: one or more of the characters RFC 9110 allows in a token.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A target such as `/docs/faq.html?x=1`: starts with `/`, visible ASCII only.
fn is_origin_form(target: &str) -> bool {
    target.starts_with('/') && target.bytes().all(|b| b.is_ascii_graphic())
}

/// A `Name: value` line whose value holds no control characters other than tabs.
fn is_header_field(line: &str) -> bool {
    line.split_once(':').is_some_and(|(name, value)| {
        is_token(name) && value.chars().all(|c| c == '\t' || !c.is_control())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<Request<'_>, Status> {
        parse_request(head.as_bytes())
    }

    #[test]
    fn accepts_plain_requests() {
        assert_eq!(
            parse("GET /docs/faq.html?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n"),
            Ok(Request {
                method: Method::Get,
                target: "/docs/faq.html?x=1"
            })
        );
        assert_eq!(
            parse("HEAD / HTTP/1.0\r\n\r\n"),
            Ok(Request {
                method: Method::Head,
                target: "/"
            })
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nUser-Agent: caf\u{e9}\tbot\r\n\r\n").map(|r| r.target),
            Ok("/")
        );
    }

    #[test]
    fn refuses_other_methods() {
        for head in ["POST / HTTP/1.1\r\n\r\n", "get / HTTP/1.1\r\n\r\n"] {
            assert_eq!(parse(head), Err(Status::MethodNotAllowed), "{head:?}");
        }
    }

    #[test]
    fn rejects_malformed_heads() {
        for head in [
            "\r\n\r\n",
            "GET /\r\n\r\n",
            "GET / \r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 \r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET / http/1.1\r\n\r\n",
            "GET index.html HTTP/1.1\r\n\r\n",
            "GET http://127.0.0.1/ HTTP/1.1\r\n\r\n",
            "GET /caf\u{e9} HTTP/1.1\r\n\r\n",
            "G(ET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\n",
        ] {
            assert_eq!(parse(head), Err(Status::BadRequest), "{head:?}");
        }
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n"),
            Err(Status::BadRequest)
        );
    }

    #[test]
    fn writes_head_and_body() {
        let response = Response {
            status: Status::MethodNotAllowed,
            content_type: "text/plain",
            body: Cow::Borrowed(b"no"),
            location: None,
        };
        let mut out = Vec::new();
        write_response(&mut out, &response, true).unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\
              Allow: GET, HEAD\r\nConnection: close\r\n\r\nno"
        );
        out.clear();
        write_response(&mut out, &response, false).unwrap();
        assert!(
            out.ends_with(b"Content-Length: 2\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n")
        );
    }
}
