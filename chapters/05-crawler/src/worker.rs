//! The worker processes: what they are asked, what they answer, and their loop.

use ipc::Queue;
use loader::links::{self, Kind, Link};
use loader::{Fetched, LoadError, Loader, Options};
use serde::{Deserialize, Serialize};

use crate::url_set::UrlSet;

// ANCHOR: messages
/// What the parent asks a worker to do.
#[derive(Serialize, Deserialize)]
pub enum Task {
    /// Load the site's `robots.txt` from this URL, as text.
    Robots(String),
    /// Load a page; find its links only if `links` (pages at the last depth need none).
    Page { url: String, links: bool },
}

/// What a worker found at one URL, or why it failed.
#[derive(Serialize, Deserialize)]
pub struct Found {
    pub url: String,
    pub worker: u32,
    pub result: Result<Loaded, LoadError>,
}

/// What a load gave: never the page itself, only what the parent needs of it.
#[derive(Serialize, Deserialize)]
pub enum Loaded {
    /// An HTML page: its size, its first links on the same site (to pages, and to
    /// anything else), each once, and how many others it has (see [`page_links`]).
    Page {
        bytes: usize,
        links: Vec<Link>,
        left_out: LeftOut,
    },
    /// A redirect, not followed: where it leads.
    Redirect(String),
    /// Not HTML: its media type. Its body was not read.
    Other(String),
    /// The text of `robots.txt`.
    Text(String),
}

/// The links of a page that a worker counts, each once, but does not send.
#[derive(Serialize, Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// Past the page's first `--max-links` links to pages, or to anything else.
    pub past_max_links: usize,
    /// URLs longer than [`MAX_URL_BYTES`] (the parent adds redirects' targets that long).
    pub too_long: usize,
}
// ANCHOR_END: messages

/// The longest URL a worker sends: the sitemaps protocol's limit (2,048 characters), which
/// real pages keep to. With `--max-links`, it bounds what one finding holds.
pub const MAX_URL_BYTES: usize = 2048;

/// The links of the page at `url` that the parent gets: its first `max_links` links to
/// pages on the site, and its first `max_links` to anything else (images, stylesheets,
/// scripts), each once, none longer than [`MAX_URL_BYTES`]; the others are only counted,
/// each once too. A URL's first link on the page decides which it is, and whether it is
/// sent or counted (across pages, the parent lets a link to a page win). The two are apart
/// because a page's head names its styles, scripts and icons before any link to a page.
/// A finding is so at most twice `max_links` times 2 KiB (4 MiB by default), whatever the
/// page, and so is what the worker keeps while it looks, but for a hash of each URL the
/// page names ([`UrlSet`]: 10 to 21 bytes, where the shortest link takes about 10 bytes of
/// the page): 100,000 links under a 2,000-character `<base href>` would otherwise make
/// 200 MB of URLs in one message, for the parent to read, and keep.
pub fn page_links(url: &str, html: &str, max_links: usize) -> (Vec<Link>, LeftOut) {
    let mut links = Vec::new();
    let mut named = UrlSet::default();
    let (mut pages, mut others) = (0, 0); // links kept, of each sort
    let mut left_out = LeftOut::default();
    for link in links::each_on_site(url, html) {
        let kept = match link.kind {
            Kind::Page => &mut pages,
            _ => &mut others,
        };
        if !named.insert(&link.url) {
            // Named before on this page: already sent, or counted.
        } else if link.url.len() > MAX_URL_BYTES {
            left_out.too_long += 1;
        } else if *kept == max_links {
            left_out.past_max_links += 1;
        } else {
            *kept += 1;
            links.push(link);
        }
    }
    (links, left_out)
}

// ANCHOR: worker
/// A worker: take tasks until the task queue is closed; report what each URL held, with at
/// most `max_links` links to pages of a page, and as many to anything else.
pub fn crawl_worker(
    tasks: &mut Queue,
    found: &mut Queue,
    options: Options,
    max_links: usize,
) -> ipc::Result<()> {
    // One loader per worker: its connections and certificates serve every page.
    let loader = Loader::new(options);
    for task in tasks.iter::<Task>() {
        let (url, result) = match task? {
            Task::Robots(url) => {
                let text = loader.load_robots(&url).map(Loaded::Text);
                (url, text)
            }
            Task::Page { url, links } => {
                let loaded = loader.fetch(&url).map(|fetched| match fetched {
                    Fetched::Html(page) => {
                        let (links, left_out) = match links {
                            true => page_links(&url, &page.html, max_links),
                            false => (Vec::new(), LeftOut::default()),
                        };
                        let bytes = page.html.len();
                        Loaded::Page {
                            bytes,
                            links,
                            left_out,
                        }
                    }
                    Fetched::Redirect(to) => Loaded::Redirect(to),
                    Fetched::Other(media_type) => Loaded::Other(media_type),
                });
                (url, loaded)
            }
        };
        let worker = std::process::id();
        found.put(&Found {
            url,
            worker,
            result,
        })?;
    }
    Ok(()) // the task queue is closed and empty
}
// ANCHOR_END: worker

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    use super::*;

    /// A server on a thread of this test process (no fork here, so threads are fine) that
    /// answers every request with the page `html`.
    fn serving(html: String) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/page.html", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                // The request's head, to its blank line: a GET has no body.
                let (mut request, mut buf) = (Vec::new(), [0; 1024]);
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    html.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(html.as_bytes());
            }
        });
        url
    }

    /// What a worker sends of the page at `url`.
    fn finding_of(url: String) -> Found {
        let (mut tasks, mut found) = (Queue::new().unwrap(), Queue::new().unwrap());
        tasks.put(&Task::Page { url, links: true }).unwrap();
        tasks.close().unwrap();
        let options = Options {
            timeout: Duration::from_secs(10),
            max_body: loader::MAX_BODY,
        };
        crawl_worker(&mut tasks, &mut found, options, 1000).unwrap();
        found.get().unwrap()
    }

    /// The URLs of `links`, without the origin.
    fn paths(links: &[Link]) -> Vec<&str> {
        let origin = "http://127.0.0.1:1";
        links.iter().map(|link| &link.url[origin.len()..]).collect()
    }

    #[test]
    fn max_links_counts_links_to_pages_and_as_many_others_apart() {
        // A page's head names its styles, scripts and icons first: they must not take the
        // places of the links to pages that `--max-links` says it follows.
        let html = "<link rel=stylesheet href=/s.css><script src=/s.js></script>\
                    <img src=/a.png><a href=/1.html>1</a><a href=/2.html>2</a>\
                    <a href=/3.html>3</a>";
        let (links, left_out) = page_links("http://127.0.0.1:1/", html, 2);
        assert_eq!(paths(&links), ["/s.css", "/s.js", "/1.html", "/2.html"]);
        let counted = LeftOut {
            past_max_links: 2, // a.png, 3.html
            too_long: 0,
        };
        assert_eq!(left_out, counted);
    }

    #[test]
    fn a_link_left_out_is_counted_once_on_its_page() {
        let long = format!("/{}", "l".repeat(MAX_URL_BYTES));
        let html = format!(
            "<a href=/1.html>1</a><a href=/2.html>2</a><a href=/2.html>again</a>\
             <a href={long}>long</a><a href={long}>again</a>"
        );
        let (links, left_out) = page_links("http://127.0.0.1:1/", &html, 1);
        assert_eq!(paths(&links), ["/1.html"]);
        let counted = LeftOut {
            past_max_links: 1, // 2.html
            too_long: 1,
        };
        assert_eq!(left_out, counted);
    }

    #[test]
    fn a_page_of_many_long_links_gets_a_finding_of_bounded_size() {
        // A `<base>` of 3,000 characters makes each relative link a URL longer than that;
        // the links from the root are short, and ten times more than are followed.
        let base = format!("/{}", "d/".repeat(1500));
        let mut html = format!("<!doctype html><base href=\"{base}\">");
        for i in 0..10_000 {
            html.push_str(&format!("<a href={i}>r</a><a href=/{i}.html>a</a>\n"));
        }
        let Found { result, .. } = finding_of(serving(html));
        let Ok(Loaded::Page {
            links, left_out, ..
        }) = result
        else {
            panic!("not a page")
        };
        let bytes: usize = links.iter().map(|link| link.url.len()).sum();
        assert_eq!(links.len(), 1000, "the first 1000 short links");
        assert!(bytes < 1000 * 100, "{bytes} bytes of URLs");
        // Nothing lost: every other link is counted.
        let counted = LeftOut {
            past_max_links: 9_000,
            too_long: 10_000,
        };
        assert_eq!(left_out, counted);
    }
}
