//! What the site's `robots.txt` allows, read as RFC 9309 asks.
//!
//! The `texting_robots` crate matches a URL's path against the rules as written. But
//! `/%61.html` and `/a.html` are one page (RFC 3986, 6.2.2.2: a percent-encoded unreserved
//! character is that character, and servers serve them as one): both sides are brought to
//! one spelling first, by [`normalise_escapes`], so that neither slips past a rule.

use std::borrow::Cow;

use loader::{LoadError, USER_AGENT};
use texting_robots::Robot;

/// What the site's `robots.txt` allows.
pub enum Rules {
    /// It has none, or they are ignored: every page may be loaded.
    None,
    /// These rules.
    Read(Robot),
    /// It could not be read: no page may be loaded (RFC 9309).
    Unreadable,
}

impl Rules {
    /// The rules that the answer for `robots_url` gives, and a line that says so. As RFC
    /// 9309 has it: none (4xx) means every page may be loaded; one that cannot be read
    /// (5xx, no answer) means none may. A TLS port asked in plain HTTP is a 400 for nginx,
    /// and none for every server: the pages' own errors then say to use https://.
    pub fn from_answer(robots_url: &str, answer: Result<String, LoadError>) -> (Rules, String) {
        // The name that robots.txt rules address: the User-Agent's first word.
        let agent = USER_AGENT.split('/').next().unwrap_or(USER_AGENT);
        match answer {
            Ok(text) => match Robot::new(agent, normalise_escapes(&text).as_bytes()) {
                Ok(robot) => (Rules::Read(robot), format!("{robots_url} read")),
                Err(e) => (Rules::None, format!("{robots_url} ignored: {e}")),
            },
            Err(LoadError::Status { status, .. }) if (400..500).contains(&status) => {
                (Rules::None, format!("{robots_url}: none ({status})"))
            }
            // Plain HTTP to the site's port, which speaks TLS (nginx says so in a 400): the
            // pages will fail the same way, and their errors say what to do (https://); "no
            // page may be loaded, try --ignore-robots" would send the user the wrong way. A
            // robots.txt redirected to such a port is one that cannot be read.
            Err(
                e @ LoadError::HttpToTlsPort {
                    redirected_to: None,
                    ..
                },
            ) => (Rules::None, format!("{e}: none")),
            Err(e) => (
                Rules::Unreadable,
                format!("{e}: no page is loaded (--ignore-robots loads them)"),
            ),
        }
    }

    /// Why these rules keep `url` from being loaded, if they do.
    pub fn refusal(&self, url: &str) -> Option<&'static str> {
        match self {
            Rules::Unreadable => Some("robots.txt could not be read"),
            Rules::Read(robot) if !robot.allowed(&literal_patterns_escaped(url)) => {
                Some("disallowed by robots.txt")
            }
            _ => None,
        }
    }
}

/// `text` with its percent-encoded unreserved characters (letters, digits, `-._~`) decoded,
/// and the hex digits of the other escapes in upper case: one spelling for each URL, as RFC
/// 3986 (6.2.2) normalises them. Other escapes stay: `%2F` is not a `/`, nor `%25` a `%`.
/// Applied to the whole of robots.txt, it changes the paths of the rules and nothing else
/// that matters (a name of user agent is letters, `-` and `_`).
fn normalise_escapes(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes.get(i + 1..i + 3).filter(|_| bytes[i] == b'%');
        match escape.and_then(hex_byte) {
            Some(byte) if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) => {
                out.push(byte);
                i += 3;
            }
            Some(_) => {
                out.push(b'%');
                out.extend(bytes[i + 1..i + 3].to_ascii_uppercase());
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    // Only ASCII bytes were changed, each into ASCII: the text is still UTF-8.
    Cow::Owned(String::from_utf8(out).expect("UTF-8 in, UTF-8 out"))
}

/// `url` in the spelling of [`normalise_escapes`], with its `*` and `$` escaped: in a rule
/// they are patterns (any characters; the end of the path), and a rule that means the
/// characters themselves writes them `%2A` and `%24` (RFC 9309, 2.2.3), which a URL must
/// then spell the same way to match.
fn literal_patterns_escaped(url: &str) -> String {
    normalise_escapes(url)
        .replace('*', "%2A")
        .replace('$', "%24")
}

/// The byte that two hex digits spell, if they are two hex digits.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |d: u8| (d as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(text: &str) -> Rules {
        Rules::from_answer("http://h/robots.txt", Ok(text.to_string())).0
    }

    #[test]
    fn a_percent_encoded_letter_is_the_letter() {
        // RFC 9309, 2.2.2: `%61` is `a`, and a server serves /%61.html as /a.html.
        let rules = rules_of("User-agent: *\nDisallow: /a.html\nDisallow: /%7Euser/\n");
        assert!(rules.refusal("http://h/a.html").is_some());
        assert!(rules.refusal("http://h/%61.html").is_some());
        assert!(rules.refusal("http://h/%61%2e%68tml").is_some());
        assert!(rules.refusal("http://h/~user/x").is_some());
        assert!(rules.refusal("http://h/%7euser/x").is_some());
        // Other escapes: the case of their hex digits does not matter, but `%2F` is not
        // `/`, and `%25` is a percent sign: they are not unreserved characters.
        let rules_2 = rules_of("User-agent: *\nDisallow: /caf%c3%a9\nDisallow: /x/y\n");
        assert!(rules_2.refusal("http://h/caf%C3%A9").is_some());
        assert!(rules_2.refusal("http://h/caf%c3%a9").is_some());
        assert!(rules_2.refusal("http://h/x%2Fy").is_none());
        assert!(rules.refusal("http://h/%2561.html").is_none());
        assert!(rules.refusal("http://h/b.html").is_none());
    }

    #[test]
    fn an_escaped_star_or_dollar_is_the_character_itself() {
        // RFC 9309, 2.2.3: `%2A` and `%24` in a rule are a `*` and a `$` in the path,
        // while `*` and `$` themselves are patterns.
        let rules =
            rules_of("User-agent: *\nDisallow: /star-%2A\nDisallow: /dollar%24\nDisallow: /end$\n");
        assert!(rules.refusal("http://h/star-*.html").is_some());
        assert!(rules.refusal("http://h/dollar$.html").is_some());
        assert!(rules.refusal("http://h/star-x.html").is_none());
        assert!(rules.refusal("http://h/end").is_some());
        assert!(rules.refusal("http://h/end/more").is_none());
    }

    #[test]
    fn a_robots_txt_that_a_tls_port_refuses_in_plain_http_is_none() {
        // A server asked in plain HTTP on its TLS port answers 400 and says so (Go's words
        // here; nginx's and Apache's are alike): the loader's `HttpToTlsPort`. For robots.txt
        // that is a 4xx, none: the pages load, and their own errors say to use https://.
        // (Read as "cannot be read", it kept every page and advised --ignore-robots.)
        use std::io::{Read, Write};
        let answer =
            "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/robots.txt", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            stream.write_all(answer.as_bytes()).unwrap();
        });
        let answer = loader::Loader::new(loader::Options::default()).load_robots(&url);
        server.join().unwrap();
        let (rules, said) = Rules::from_answer(&url, answer);
        assert!(rules.refusal("http://h/a.html").is_none(), "{said}");
    }

    #[test]
    fn a_robots_txt_redirected_to_a_tls_port_is_unreadable_not_none() {
        // The site's own port speaks plain HTTP: its robots.txt redirects to another port,
        // which speaks TLS (its first bytes are a TLS alert), so no answer comes. The pages
        // load fine, with no error to say "try https://": the robots.txt could not be read, and
        // RFC 9309 (2.3.1.4) closes every page then, as `from_answer` says for "no answer".
        use std::io::{Read, Write};
        use std::net::TcpListener;
        fn serve(listener: TcpListener, answer: Vec<u8>) {
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    let mut request = Vec::new();
                    let mut byte = [0];
                    while !request.ends_with(b"\r\n\r\n") && matches!(stream.read(&mut byte), Ok(1))
                    {
                        request.push(byte[0]);
                    }
                    let _ = stream.write_all(&answer);
                }
            });
        }
        let tls = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = format!("http://{}/robots.txt", tls.local_addr().unwrap());
        serve(tls, vec![21, 3, 3, 0, 2, 2, 70]); // alert: protocol version
        let site = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", site.local_addr().unwrap());
        let moved = format!(
            "HTTP/1.1 301 Moved Permanently\r\nLocation: {target}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        );
        serve(site, moved.into_bytes());
        let url = format!("{origin}/robots.txt");
        let answer = loader::Loader::new(loader::Options::default()).load_robots(&url);
        let (rules, said) = Rules::from_answer(&url, answer);
        assert!(
            rules.refusal(&format!("{origin}/a.html")).is_some(),
            "every page of {origin} may be loaded: {said}"
        );
    }
}
