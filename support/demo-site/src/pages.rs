//! The pages of the site and which request target gets which page.
//!
//! The site belongs to Tidemark, a made-up tool that remembers how far you have read in a log
//! file. Its pages link to each other, forming a small graph for a crawler to walk from
//! [`FRONT_PAGE`]. Most links are absolute paths (`href="/..."`); the manual's pages hold
//! what a crawler must handle besides: a redirect ([`REDIRECT`]), links relative to the
//! address after it, `../`, a `<base href>`, single-quoted, unquoted and upper-case
//! attributes, a JavaScript template that looks like a link, an image, a stylesheet, and a
//! folder that `robots.txt` closes to crawlers ([`DISALLOWED_PAGE`]). No page links to the
//! two redirects that lead a crawler nowhere on the site ([`MOVED_AWAY`], [`REDIRECT_LOOP`]).

use std::borrow::Cow;
use std::iter;
use std::thread;
use std::time::Duration;

use crate::archive;
use crate::http::{Response, Status};

/// Path of the front page, where a visit or a crawl of the site starts.
pub const FRONT_PAGE: &str = "/";

/// Path of an old page written in Latin-1 (its Content-Type says `charset=iso-8859-1`), so the
/// chapters can show what happens when a body is not valid UTF-8.
pub const NOT_UTF8_PAGE: &str = "/legacy/latin1.html";

/// Path of the release archive, valid UTF-8 HTML of a little over 1 MiB, for showing what a
/// large page costs to load and to send between processes.
pub const LARGE_PAGE: &str = "/archive/all-releases.html";

/// Path that the about page links to but that the site does not serve (it answers 404), so
/// that a crawler meets one broken link.
pub const BROKEN_LINK: &str = "/contributors.html";

/// Path that answers with a redirect (301) to the manual's folder, `/manual/`.
pub const REDIRECT: &str = "/manual";

/// Path that answers with a redirect (301) to another site, as an `http://` address whose
/// site moved to `https://` does. No page links to it.
pub const MOVED_AWAY: &str = "/moved-away";

/// Where [`MOVED_AWAY`] leads: another host, so another site (never loaded by the tests).
pub const ELSEWHERE: &str = "http://localhost:9/";

/// Path that answers with a redirect (301) to itself, for ever. No page links to it.
pub const REDIRECT_LOOP: &str = "/loop";

/// Path of a page that exists, but that the site's `robots.txt` asks crawlers not to load.
pub const DISALLOWED_PAGE: &str = "/private/drafts.html";

/// The site's rules for crawlers: keep out of `/private/`.
pub const ROBOTS_TXT: &str = include_str!("pages/robots.txt");

/// The files that are not pages: images and a stylesheet, with their media types.
const ASSETS: [(&str, &str, &[u8]); 3] = [
    (
        "/static/style.css",
        "text/css",
        include_bytes!("pages/style.css"),
    ),
    (
        "/static/logo.png",
        "image/png",
        include_bytes!("pages/logo.png"),
    ),
    (
        "/static/tidemark.svg",
        "image/svg+xml",
        include_bytes!("pages/tidemark.svg"),
    ),
];

/// Route of the pages that answer after a delay given by their `ms` query parameter.
const SLOW_ROUTE: &str = "/slow";

/// The slow page the FAQ links to: two seconds, longer than the crawler chapter waits.
const SLOW_LINK: &str = "/slow?ms=2000";

/// Longest delay a slow page waits, whatever it is asked for.
const MAX_DELAY_MS: u64 = 30_000;

const UTF8_HTML: &str = "text/html; charset=utf-8";
const LATIN1_HTML: &str = "text/html; charset=iso-8859-1";

/// Path of a page that answers only after `ms` milliseconds (at most 30 seconds), for showing
/// that slow pages are worth loading concurrently.
pub fn slow_page(ms: u64) -> String {
    format!("{SLOW_ROUTE}?ms={ms}")
}

/// Every HTML page the site's links lead to (apart from [`BROKEN_LINK`], the redirect and
/// the files that are not pages), front page first, so a crawler chapter can check that it
/// found them all.
pub fn page_paths() -> impl Iterator<Item = &'static str> {
    PAGES
        .iter()
        .map(|page| page.path)
        .chain(iter::once(SLOW_LINK))
}

/// The paths of the files that are not pages: the stylesheet and the images.
pub fn asset_paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(path, ..)| *path)
}

/// The project's first home page, from before the site used UTF-8: é is the single byte 0xE9.
///
/// Kept as escapes here rather than in a file of its own, so no editor "fixes" its encoding.
const LATIN1_PAGE: &[u8] = b"<!DOCTYPE html>
<html lang=\"fr\">
<head>
  <meta charset=\"iso-8859-1\">
  <title>Tidemark - premi\xE8re page</title>
</head>
<body>
  <h1>Tidemark 0.1</h1>
  <p>Bienvenue\xA0! Tidemark retient o\xF9 vous en \xEAtes dans la lecture
  d'un journal, et ne vous montre ensuite que les lignes ajout\xE9es depuis.</p>
  <p>Cette page a \xE9t\xE9 \xE9crite pour la toute premi\xE8re version,
  bien avant que le site passe \xE0 UTF-8.</p>
  <h2>Installation</h2>
  <p>D\xE9compressez l'archive, puis copiez le programme dans un r\xE9pertoire
  de votre PATH. C'est tout\xA0: il n'y a rien \xE0 configurer.</p>
  <p><a href=\"/about.html\">Retour \xE0 la page \xAB\xA0about\xA0\xBB</a></p>
</body>
</html>
";

/// A page held in memory.
struct Page {
    path: &'static str,
    body: Body,
}

enum Body {
    Utf8(&'static str),
    Latin1(&'static [u8]),
    /// Generated on first use, see [`archive`].
    Archive,
}

static PAGES: [Page; 12] = [
    Page {
        path: FRONT_PAGE,
        body: Body::Utf8(include_str!("pages/index.html")),
    },
    Page {
        path: "/docs/getting-started.html",
        body: Body::Utf8(include_str!("pages/getting-started.html")),
    },
    Page {
        path: "/docs/faq.html",
        body: Body::Utf8(include_str!("pages/faq.html")),
    },
    Page {
        path: "/news/tidemark-1-0.html",
        body: Body::Utf8(include_str!("pages/news-1-0.html")),
    },
    Page {
        path: "/about.html",
        body: Body::Utf8(include_str!("pages/about.html")),
    },
    Page {
        path: NOT_UTF8_PAGE,
        body: Body::Latin1(LATIN1_PAGE),
    },
    Page {
        path: LARGE_PAGE,
        body: Body::Archive,
    },
    Page {
        path: "/manual/",
        body: Body::Utf8(include_str!("pages/manual-index.html")),
    },
    Page {
        path: "/manual/options.html",
        body: Body::Utf8(include_str!("pages/manual-options.html")),
    },
    Page {
        path: "/changelog.html",
        body: Body::Utf8(include_str!("pages/changelog.html")),
    },
    Page {
        path: "/news/tidemark-1-1.html",
        body: Body::Utf8(include_str!("pages/news-1-1.html")),
    },
    Page {
        path: DISALLOWED_PAGE,
        body: Body::Utf8(include_str!("pages/drafts.html")),
    },
];

/// The answer to a GET for `target` (a path, perhaps with a query string).
///
/// Query strings are ignored except on the slow pages, whose answer this call delays.
pub(crate) fn respond(target: &str) -> Response {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == SLOW_ROUTE {
        return slow(query);
    }
    let redirects = [
        (REDIRECT, "/manual/"),
        (MOVED_AWAY, ELSEWHERE),
        (REDIRECT_LOOP, REDIRECT_LOOP),
    ];
    for (from, to) in redirects {
        if path == from {
            return Response {
                status: Status::MovedPermanently,
                content_type: UTF8_HTML,
                body: Cow::Borrowed(b""),
                location: Some(to),
            };
        }
    }
    if path == "/robots.txt" {
        return ok("text/plain; charset=utf-8", ROBOTS_TXT.as_bytes());
    }
    if let Some((_, content_type, body)) = ASSETS.iter().find(|(p, ..)| *p == path) {
        return ok(content_type, body);
    }
    let Some(page) = PAGES.iter().find(|page| page.path == path) else {
        return error_page(Status::NotFound);
    };
    let (content_type, body) = match page.body {
        Body::Utf8(html) => (UTF8_HTML, html.as_bytes()),
        Body::Latin1(html) => (LATIN1_HTML, html),
        Body::Archive => (UTF8_HTML, archive::page().as_bytes()),
    };
    ok(content_type, body)
}

fn ok(content_type: &'static str, body: &'static [u8]) -> Response {
    Response {
        status: Status::Ok,
        content_type,
        body: Cow::Borrowed(body),
        location: None,
    }
}

/// A short HTML page saying what went wrong.
pub(crate) fn error_page(status: Status) -> Response {
    let (code, reason) = (status.code(), status.reason());
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{code} {reason}</title></head>\n\
         <body><h1>{code} {reason}</h1></body>\n</html>\n"
    );
    Response {
        status,
        content_type: UTF8_HTML,
        body: Cow::Owned(html.into_bytes()),
        location: None,
    }
}

/// Waits as long as the `ms` query parameter says (capped), then answers; 400 without it.
fn slow(query: &str) -> Response {
    let ms = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("ms="))
        .and_then(|ms| ms.parse::<u64>().ok());
    let Some(ms) = ms else {
        return error_page(Status::BadRequest);
    };
    let ms = ms.min(MAX_DELAY_MS);
    thread::sleep(Duration::from_millis(ms));
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tidemark: download mirror status</title>
</head>
<body>
  <h1>Mirror status</h1>
  <p>The download mirror is up. It took {ms} ms to say so.</p>
  <p><a href="/">Back to the front page</a></p>
</body>
</html>
"#
    );
    Response {
        status: Status::Ok,
        content_type: UTF8_HTML,
        body: Cow::Owned(html.into_bytes()),
        location: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_page_is_served() {
        for path in page_paths() {
            assert_eq!(respond(path).status, Status::Ok, "{path}");
        }
        assert_eq!(page_paths().next(), Some(FRONT_PAGE));
    }

    #[test]
    fn front_page_is_the_shortest_and_fits_a_terminal() {
        let front = respond(FRONT_PAGE).body;
        let lines = front.iter().filter(|&&b| b == b'\n').count();
        assert!(lines <= 30, "{lines} lines");
        for page in &PAGES[1..] {
            let len = respond(page.path).body.len();
            assert!(len > front.len(), "{} is {len} bytes", page.path);
        }
    }

    #[test]
    fn two_redirects_lead_nowhere_on_the_site() {
        let away = respond(MOVED_AWAY);
        assert_eq!(away.status, Status::MovedPermanently);
        assert_eq!(away.location, Some(ELSEWHERE));
        assert!(
            ELSEWHERE.starts_with("http://localhost:"),
            "another host: another site"
        );
        let round = respond(REDIRECT_LOOP);
        assert_eq!(round.status, Status::MovedPermanently);
        assert_eq!(round.location, Some(REDIRECT_LOOP));
    }

    #[test]
    fn the_manual_redirects_and_robots_txt_closes_the_drafts() {
        let redirect = respond(REDIRECT);
        assert_eq!(redirect.status, Status::MovedPermanently);
        assert_eq!(redirect.location, Some("/manual/"));
        assert_eq!(respond("/manual/").status, Status::Ok);
        let robots = respond("/robots.txt");
        assert_eq!(robots.content_type, "text/plain; charset=utf-8");
        assert!(ROBOTS_TXT.contains("Disallow: /private/\n"));
        assert!(DISALLOWED_PAGE.starts_with("/private/"));
    }

    #[test]
    fn assets_have_their_media_types() {
        for (path, content_type) in [
            ("/static/style.css", "text/css"),
            ("/static/logo.png", "image/png"),
            ("/static/tidemark.svg", "image/svg+xml"),
        ] {
            let response = respond(path);
            assert_eq!(response.status, Status::Ok, "{path}");
            assert_eq!(response.content_type, content_type, "{path}");
        }
        assert!(respond("/static/logo.png").body.starts_with(b"\x89PNG\r\n"));
        assert_eq!(asset_paths().count(), 3);
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for target in [
            BROKEN_LINK,
            "/index.html",
            "/docs",
            "/docs/",
            "/about.html/",
        ] {
            assert_eq!(respond(target).status, Status::NotFound, "{target}");
        }
    }

    #[test]
    fn query_strings_are_ignored_on_ordinary_pages() {
        assert_eq!(
            respond("/about.html?lang=fr").body,
            respond("/about.html").body
        );
    }

    #[test]
    fn slow_pages_need_a_number_of_milliseconds() {
        assert_eq!(slow_page(0), "/slow?ms=0");
        assert_eq!(respond(&slow_page(0)).status, Status::Ok);
        assert_eq!(respond("/slow?x=1&ms=1").status, Status::Ok);
        for target in [
            "/slow",
            "/slow?",
            "/slow?ms=",
            "/slow?ms=-1",
            "/slow?ms=1.5",
            "/slow?x=1",
        ] {
            assert_eq!(respond(target).status, Status::BadRequest, "{target}");
        }
    }

    #[test]
    fn error_pages_name_the_status() {
        let page = error_page(Status::NotFound);
        let html = std::str::from_utf8(&page.body).unwrap();
        assert!(html.contains("<title>404 Not Found</title>"), "{html}");
    }
}
