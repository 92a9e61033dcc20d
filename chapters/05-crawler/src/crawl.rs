//! The parent's side of a crawl: it hands out one level's URLs to the workers, takes
//! their findings back, and decides what the next level is.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use ipc::Queue;
use loader::links::{self, Kind, Link};

use crate::robots::Rules;
use crate::site_map::{Outcome, SiteMap};
use crate::worker::{Found, LeftOut, Loaded, Task};

/// The parent's side of a crawl: the queues, and everything it knows so far.
pub struct Crawl {
    pub tasks: Queue,
    found: Queue,
    /// How many tasks may be out at once.
    window: usize,
    /// How long to wait for one finding: a worker that died would never report.
    wait: Duration,
    /// The site's rules for crawlers.
    robots: Rules,
    /// Every URL taken so far: each is loaded (or recorded) once.
    seen: HashSet<String>,
    pub site_map: SiteMap,
    /// How many more URLs `--max-pages` lets the crawl load.
    loads_left: u64,
    /// Links found once `--max-pages` URLs were known: counted, neither kept nor loaded.
    pub not_loaded: usize,
    /// Links the workers counted but did not send: past `--max-links`, or too long.
    pub left_out: LeftOut,
}

impl Crawl {
    /// A crawl that nothing is known of yet, with `workers` workers on the other ends of
    /// `tasks` and `found`, each allowed `timeout` for a page.
    pub fn new(
        tasks: Queue,
        found: Queue,
        workers: u16,
        timeout: Duration,
        max_pages: Option<u64>,
    ) -> Crawl {
        Crawl {
            tasks,
            found,
            window: 2 * usize::from(workers),
            wait: 2 * timeout + Duration::from_secs(5),
            robots: Rules::None,
            seen: HashSet::new(),
            site_map: SiteMap::new(),
            loads_left: max_pages.unwrap_or(u64::MAX),
            not_loaded: 0,
            left_out: LeftOut::default(),
        }
    }

    // ANCHOR: crawl_level
    /// Loads every URL of one level with the workers, records what they found, and returns
    /// the next level: the new page links. At most `window` tasks (two per worker) are out
    /// at a time, so that neither queue's pipe can fill up with the parent and the workers
    /// each waiting for the other. Every URL of `urls` has been [`take`](Self::take)n.
    pub fn level(
        &mut self,
        depth: usize,
        mut urls: VecDeque<String>,
        want_links: bool,
    ) -> ipc::Result<VecDeque<String>> {
        let mut next = VecDeque::new();
        let mut out = 0;
        loop {
            while out < self.window {
                let Some(url) = urls.pop_front() else { break };
                let links = want_links;
                self.tasks.put(&Task::Page { url, links })?;
                out += 1;
            }
            if out == 0 {
                return Ok(next);
            }
            let Found {
                url,
                worker,
                result,
            } = self.found.get_timeout(self.wait)?;
            out -= 1;
            let (outcome, links) = match result {
                Ok(Loaded::Page {
                    bytes,
                    links,
                    left_out,
                }) => {
                    self.left_out.past_max_links += left_out.past_max_links;
                    self.left_out.too_long += left_out.too_long;
                    (Outcome::Page(bytes), links)
                }
                Ok(Loaded::Redirect(to)) => {
                    let to = links::normalise(&to).unwrap_or(to);
                    let on_site = links::same_origin(&url, &to);
                    (Outcome::Redirect { to, on_site }, Vec::new())
                }
                Ok(Loaded::Other(media_type)) => (Outcome::Other(media_type), Vec::new()),
                Ok(Loaded::Text(_)) => unreachable!("pages are never asked for as text"),
                Err(e) => (Outcome::Failed(e), Vec::new()),
            };
            let followed = match &outcome {
                Outcome::Redirect { to, on_site: true } => Some(to.clone()),
                _ => None,
            };
            self.site_map.record(url, depth, outcome, Some(worker));
            // Where a redirect leads is as far from the start as the link to it.
            urls.extend(followed.and_then(|to| self.take(to, depth)));
            self.take_links(links, depth + 1, &mut next);
        }
    }

    /// Takes the links of a page, found at `depth`: a new page joins `next`; a new image,
    /// stylesheet or script is recorded at once, never loaded.
    fn take_links(&mut self, links: Vec<Link>, depth: usize, next: &mut VecDeque<String>) {
        for link in links {
            if link.kind == Kind::Page {
                next.extend(self.take(link.url, depth));
            } else if self.seen.insert(link.url.clone()) {
                self.site_map
                    .note(link.url, depth, Outcome::Embedded(link.kind));
            }
        }
    }

    /// The URL of a page found at `depth`, if it is to be loaded: if it is new, robots.txt
    /// allows it, and `--max-pages` leaves room for it. Once that many are known, a link is
    /// only counted: neither `seen` nor the next level grows past `--max-pages` URLs, however
    /// many links the pages hold.
    pub fn take(&mut self, url: String, depth: usize) -> Option<String> {
        if self.seen.contains(&url) {
            return None; // loaded, or about to be, or recorded
        }
        if self.loads_left == 0 {
            self.not_loaded += 1;
            return None;
        }
        self.seen.insert(url.clone());
        if let Some(rule) = self.robots.refusal(&url) {
            self.site_map.note(url, depth, Outcome::Disallowed(rule));
            return None;
        }
        self.loads_left -= 1;
        self.site_map.expect(1);
        Some(url)
    }
    // ANCHOR_END: crawl_level

    /// Asks a worker for the site's `robots.txt`, and says what it found.
    pub fn read_robots(&mut self, start_url: &str) -> ipc::Result<()> {
        let Ok(robots_url) = texting_robots::get_robots_url(start_url) else {
            return Ok(());
        };
        self.tasks.put(&Task::Robots(robots_url.clone()))?;
        let found: Found = self.found.get_timeout(self.wait)?;
        let answer = found.result.map(|loaded| match loaded {
            Loaded::Text(text) => text,
            _ => unreachable!("robots.txt is asked for as text"),
        });
        let (rules, said) = Rules::from_answer(&robots_url, answer);
        println!("robots.txt: {said}");
        self.robots = rules;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: &str = "http://127.0.0.1:1/";

    /// A crawl with no worker: the test puts the findings on `found` itself, before the
    /// crawl asks for them, and the tasks stay on `tasks`, unread.
    fn crawl(max_pages: Option<u64>) -> Crawl {
        let (tasks, found) = (Queue::new().unwrap(), Queue::new().unwrap());
        Crawl::new(tasks, found, 1, Duration::from_millis(100), max_pages)
    }

    /// What a worker would say of the page at `path`, with these links.
    fn page(path: &str, links: Vec<Link>) -> Found {
        Found {
            url: format!("http://127.0.0.1:1{path}"),
            worker: 1,
            result: Ok(Loaded::Page {
                bytes: 10,
                links,
                left_out: LeftOut::default(),
            }),
        }
    }

    fn link(path: &str, kind: Kind) -> Link {
        let url = format!("http://127.0.0.1:1{path}");
        Link { url, kind }
    }

    #[test]
    fn the_progress_ends_at_its_length_and_never_passes_it() {
        let mut crawl = crawl(Some(2));
        let links = vec![
            link("/a.html", Kind::Page),
            link("/b.html", Kind::Page),
            link("/c.html", Kind::Page),
            link("/logo.png", Kind::Image),
        ];
        crawl.found.put(&page("/", links)).unwrap();
        crawl.found.put(&page("/a.html", Vec::new())).unwrap();
        let start = crawl.take(START.to_string(), 0).into_iter().collect();
        let next = crawl.level(0, start, true);
        let (position, length) = crawl.site_map.progress();
        assert!(position <= length, "{position}/{length} after level 0");
        crawl.level(1, next.unwrap(), true).unwrap();
        assert_eq!(
            crawl.site_map.progress(),
            (3, 3),
            "the start, a.html, logo.png"
        );
    }

    #[test]
    fn links_past_max_pages_are_counted_not_kept() {
        let mut crawl = crawl(Some(3));
        let links = (0..10_000)
            .map(|i| link(&format!("/{i}.html"), Kind::Page))
            .collect();
        crawl.found.put(&page("/", links)).unwrap();
        let start = crawl.take(START.to_string(), 0).into_iter().collect();
        let next = crawl.level(0, start, true);
        assert_eq!(
            next.unwrap().len(),
            2,
            "the two pages --max-pages still loads"
        );
        assert_eq!(crawl.seen.len(), 3, "the start and those two");
        assert_eq!(
            crawl.not_loaded, 9_998,
            "nothing lost: the others are counted"
        );
    }
}
