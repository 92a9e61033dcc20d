//! The parent's side of a crawl: it hands out one level's URLs to the workers, takes
//! their findings back, and decides what the next level is.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ipc::Queue;
use loader::MAX_REDIRECTS;
use loader::links::{self, Kind};

use crate::robots::Rules;
use crate::site_map::{Outcome, SiteMap};
use crate::url_set::UrlSet;
use crate::worker::{Found, LeftOut, Loaded, MAX_URL_BYTES, Task};

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
    /// Every URL taken so far, and at which depth: each is loaded (or recorded) once, at
    /// the smallest depth that reaches it.
    seen: HashMap<String, Taken>,
    /// The URLs taken to be recorded, not loaded, in the order they were taken: recorded
    /// once the level that named them is done, when no claim can change them any more.
    notes: Vec<String>,
    pub site_map: SiteMap,
    /// How many more URLs `--max-pages` lets the crawl load.
    loads_left: u64,
    /// The pages found once `--max-pages` URLs were taken: counted, each once, neither
    /// kept nor loaded.
    pub not_loaded: UrlSet,
    /// Links the workers counted but did not send (past `--max-links`, or too long), and
    /// redirects' targets too long to follow.
    pub left_out: LeftOut,
}

/// What the crawl does with a URL it has taken.
struct Taken {
    /// How far the URL is from the start, in links: final once the level before is done.
    depth: usize,
    /// How many redirects in a row led to it at that depth: 0 for a link.
    redirects: u32,
    fate: Fate,
}

/// Whether a URL taken is loaded, or only recorded, and why.
enum Fate {
    /// Loaded, or to be: it counts against `--max-pages`.
    Loads,
    /// An image, stylesheet or script, as the link said: to be recorded, never loaded.
    Embedded(Kind),
    /// A page robots.txt closes, and why: to be recorded, never loaded.
    Disallowed(&'static str),
    /// Recorded in the site map: nothing can change it any more.
    Recorded,
}

impl Taken {
    /// What the site map says of this URL if it is still to be recorded; it is then
    /// [`Fate::Recorded`], so that it is recorded once.
    fn note(&mut self) -> Option<Outcome> {
        match std::mem::replace(&mut self.fate, Fate::Recorded) {
            Fate::Embedded(kind) => Some(Outcome::Embedded(kind)),
            Fate::Disallowed(why) => Some(Outcome::Disallowed(why)),
            fate => {
                self.fate = fate;
                None
            }
        }
    }
}

/// The pages at one depth, to load.
pub struct Level {
    /// How far they are from the start, in links.
    pub depth: usize,
    /// The pages to load, in the order they were found.
    pages: VecDeque<String>,
}

impl Level {
    fn new(depth: usize) -> Level {
        Level {
            depth,
            pages: VecDeque::new(),
        }
    }

    /// Whether there is nothing to load at this depth: the crawl is over.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
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
            seen: HashMap::new(),
            notes: Vec::new(),
            site_map: SiteMap::new(),
            loads_left: max_pages.unwrap_or(u64::MAX),
            not_loaded: UrlSet::default(),
            left_out: LeftOut::default(),
        }
    }

    // ANCHOR: crawl_level
    /// Level 0: the start page alone; none if robots.txt closes it (it is then recorded
    /// at once: nothing else can claim it).
    pub fn start(&mut self, url: String) -> Level {
        let mut level = Level::new(0);
        self.take(url, Kind::Page, 0, &mut level);
        self.record_notes();
        level
    }

    /// Loads every page of `this` level with the workers, records what they found, and
    /// returns the next level: the new URLs its pages link to. At most `window` tasks (two
    /// per worker) are out at a time, so that neither queue's pipe can fill up with the
    /// parent and the workers each waiting for the other.
    pub fn level(&mut self, mut this: Level, want_links: bool) -> ipc::Result<Level> {
        let mut next = Level::new(this.depth + 1);
        let mut out = 0;
        loop {
            while out < self.window {
                let Some(url) = this.pages.pop_front() else {
                    break;
                };
                let links = want_links;
                self.tasks.put(&Task::Page { url, links })?;
                out += 1;
            }
            if out == 0 {
                break;
            }
            let Found {
                url,
                worker,
                result,
            } = self.found.get_timeout(self.wait)?;
            out -= 1;
            let (outcome, links, followed) = match result {
                Ok(Loaded::Page {
                    bytes,
                    links,
                    left_out,
                }) => {
                    self.left_out.past_max_links += left_out.past_max_links;
                    self.left_out.too_long += left_out.too_long;
                    (Outcome::Page(bytes), links, None)
                }
                Ok(Loaded::Redirect(to)) => {
                    let (outcome, followed) = self.redirect(&url, to);
                    (outcome, Vec::new(), followed)
                }
                Ok(Loaded::Other(media_type)) => (Outcome::Other(media_type), Vec::new(), None),
                Ok(Loaded::Text(_)) => unreachable!("pages are never asked for as text"),
                Err(e) => (Outcome::Failed(e), Vec::new(), None),
            };
            self.site_map.record(url, this.depth, outcome, Some(worker));
            // Where a redirect leads is as far from the start as the link to it.
            if let Some((to, redirects)) = followed {
                self.take(to, Kind::Page, redirects, &mut this);
            }
            for link in links {
                self.take(link.url, link.kind, 0, &mut next);
            }
        }
        // The level is done: no redirect of it can claim a URL of the next one any more.
        self.record_notes();
        next.pages.retain(|url| self.seen[url].depth == next.depth);
        Ok(next)
    }

    /// What the redirect from `url` to `to` comes to, and the URL it leads to on the site,
    /// with how many redirects in a row lead there. Its target is as far from the start as
    /// `url`, so no `--depth` ends a chain of redirects, each to a new URL: after
    /// [`MAX_REDIRECTS`] in a row (the loader's limit, and Python's `urlopen`'s), the next
    /// is an error, not followed. A target over [`MAX_URL_BYTES`] is left out and counted,
    /// as a link that long is: the bound on what the crawl keeps holds for redirects too.
    fn redirect(&mut self, url: &str, to: String) -> (Outcome, Option<(String, u32)>) {
        let to = links::normalise(&to).unwrap_or(to);
        let on_site = links::same_origin(url, &to);
        let redirects = self.seen[url].redirects + 1;
        if !on_site {
            return (Outcome::Redirect { to, on_site }, None);
        }
        if redirects > MAX_REDIRECTS {
            return (Outcome::TooManyRedirects { to }, None);
        }
        if to.len() > MAX_URL_BYTES {
            self.left_out.too_long += 1;
            return (Outcome::Redirect { to, on_site }, None);
        }
        let followed = Some((to.clone(), redirects));
        (Outcome::Redirect { to, on_site }, followed)
    }

    /// Takes `url`, named at the depth of `level` by a link of this `kind`, or by a
    /// redirect, the last of `redirects` in a row (its target is a page): a page to load
    /// joins the level's pages, if robots.txt allows it and `--max-pages` leaves room for
    /// it; an image, stylesheet or script, or a page robots.txt closes, the notes, to be
    /// recorded, never loaded. Once `--max-pages` URLs are taken, a page robots.txt allows
    /// is only counted: the levels grow no more, and `seen` grows only by the images,
    /// stylesheets, scripts and closed pages that the pages loaded name, at most twice
    /// `--max-links` for each page, however many links it holds. So what the crawl keeps
    /// is bounded by `--max-pages` times `--max-links` URLs.
    ///
    /// A URL is taken once, at its smallest depth. The findings of a level come in any
    /// order: a link of this level may take a URL for the next level before a redirect of
    /// this level, which leads there too, comes in. The redirect then claims it. So does a
    /// link to a page, of a URL that a link of its own level took as an image: a page is
    /// loaded (if it is one, its media type shows it), however the findings came in. Past
    /// `--max-pages`, either claim makes the URL one counted, not one in the map; once
    /// counted, it stays so, whatever links name it.
    fn take(&mut self, url: String, kind: Kind, redirects: u32, level: &mut Level) {
        let depth = level.depth;
        match self.seen.get_mut(&url) {
            // Noted as an image (stylesheet, script) by a link of this level, and not yet
            // recorded: a link to a page wins, whichever finding comes first.
            Some(taken)
                if taken.depth == depth
                    && kind == Kind::Page
                    && matches!(taken.fate, Fate::Embedded(_)) => {} // taken anew
            Some(taken) if taken.depth < depth => return, // loaded, or about to be, or recorded
            Some(taken) if taken.depth == depth => {
                // The same depth by another way: the shortest chain of redirects counts, if
                // it comes before the URL's own finding (which reads the count).
                taken.redirects = taken.redirects.min(redirects);
                return;
            }
            Some(taken) if matches!(taken.fate, Fate::Loads) => {
                // To be loaded in the next level: loaded in this one instead, with the
                // place that `--max-pages` keeps for it.
                (taken.depth, taken.redirects) = (depth, redirects);
                return level.pages.push_back(url);
            }
            Some(_) => {} // to be recorded in the next level: taken anew
            None if self.not_loaded.contains(&url) => return, // a page past --max-pages
            None => {}
        }
        // robots.txt first: a page it closes is never loaded, so no --max-pages counts it.
        let fate = match kind {
            Kind::Page => self
                .robots
                .refusal(&url)
                .map_or(Fate::Loads, Fate::Disallowed),
            _ => Fate::Embedded(kind),
        };
        let loads = matches!(fate, Fate::Loads);
        if loads && self.loads_left == 0 {
            // Counted, and not kept, not even as the image a link may have noted.
            self.seen.remove(&url);
            self.not_loaded.insert(&url);
            return;
        }
        let taken = Taken {
            depth,
            redirects,
            fate,
        };
        self.seen.insert(url.clone(), taken);
        if loads {
            self.loads_left -= 1;
            self.site_map.expect(1);
            level.pages.push_back(url);
        } else {
            self.notes.push(url);
        }
    }

    /// Records the URLs taken not to be loaded, now that their levels are done and their
    /// depths final, each once, at its depth: a redirect may have claimed one for the
    /// level before the link that named it first.
    fn record_notes(&mut self) {
        for url in std::mem::take(&mut self.notes) {
            // Not in `seen` if a page link or a redirect claimed it past --max-pages.
            let Some(taken) = self.seen.get_mut(&url) else {
                continue;
            };
            if let Some(outcome) = taken.note() {
                self.site_map.note(url, taken.depth, outcome);
            }
        }
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
    use loader::links::Link;

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

    /// What a worker would say of a URL that redirects to `to`.
    fn redirect(path: &str, to: &str) -> Found {
        Found {
            url: format!("http://127.0.0.1:1{path}"),
            worker: 1,
            result: Ok(Loaded::Redirect(format!("http://127.0.0.1:1{to}"))),
        }
    }

    /// Level 1 of a crawl: `/a` redirects to `target`, which `/b.html` names by a link of
    /// this kind. b's finding comes first; had a's come first, `target` would be taken at
    /// depth 1, a redirect's target, and b's link to it ignored: the order must not
    /// matter. `target` is then loaded, if at all, with this finding. Returns `target`'s
    /// line in the site map, and the progress bar's count.
    fn claimed_by_a_redirect(
        mut crawl: Crawl,
        target: &str,
        kind: Kind,
        finding: Found,
    ) -> (String, (u64, u64)) {
        let start = vec![link("/a", Kind::Page), link("/b.html", Kind::Page)];
        crawl.found.put(&page("/", start)).unwrap();
        let b = page("/b.html", vec![link(target, kind)]);
        crawl.found.put(&b).unwrap();
        crawl.found.put(&redirect("/a", target)).unwrap();
        crawl.found.put(&finding).unwrap();
        let mut level = crawl.start(START.to_string());
        while !level.is_empty() {
            level = crawl.level(level, true).unwrap();
        }
        let url = format!("http://127.0.0.1:1{target}");
        let line = crawl.site_map.line_of(&url).expect("target in the map");
        (line, crawl.site_map.progress())
    }

    #[test]
    fn a_redirect_claims_its_target_from_an_image_link_of_the_same_level() {
        let loaded = Found {
            url: "http://127.0.0.1:1/x.png".into(),
            worker: 1,
            result: Ok(Loaded::Other("image/png".into())),
        };
        let (line, progress) = claimed_by_a_redirect(crawl(None), "/x.png", Kind::Image, loaded);
        assert_eq!(line, "  1 http://127.0.0.1:1/x.png (image/png: not a page)");
        assert_eq!(progress, (4, 4), "/, a, b.html, x.png, once each");
    }

    #[test]
    fn a_redirect_claims_its_target_from_a_closed_page_of_the_same_level() {
        let mut crawl = crawl(None);
        let robots = Ok("User-agent: *\nDisallow: /private/\n".to_string());
        crawl.robots = Rules::from_answer("http://127.0.0.1:1/robots.txt", robots).0;
        let never = page("/never", Vec::new()); // a closed page is not loaded
        let (line, progress) = claimed_by_a_redirect(crawl, "/private/x.html", Kind::Page, never);
        let closed = "  1 http://127.0.0.1:1/private/x.html (disallowed by robots.txt)";
        assert_eq!(line, closed);
        assert_eq!(progress, (4, 4), "/, a, b.html, x.html, once each");
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
        let start = crawl.start(START.to_string());
        let next = crawl.level(start, true);
        let (position, length) = crawl.site_map.progress();
        assert!(position <= length, "{position}/{length} after level 0");
        crawl.level(next.unwrap(), true).unwrap();
        assert_eq!(
            crawl.site_map.progress(),
            (3, 3),
            "the start, a.html, logo.png"
        );
    }

    #[test]
    fn a_url_past_max_pages_is_counted_once() {
        // The start, a.html and b.html are the three loads; both of those name x.html.
        let mut crawl = crawl(Some(3));
        let start = vec![link("/a.html", Kind::Page), link("/b.html", Kind::Page)];
        let to_x = || vec![link("/x.html", Kind::Page)];
        crawl.found.put(&page("/", start)).unwrap();
        crawl.found.put(&page("/a.html", to_x())).unwrap();
        crawl.found.put(&page("/b.html", to_x())).unwrap();
        let mut level = crawl.start(START.to_string());
        while !level.is_empty() {
            level = crawl.level(level, true).unwrap();
        }
        assert_eq!(crawl.not_loaded.len(), 1, "x.html, named twice");
    }

    /// Runs a crawl whose findings are `findings`, in this order, to its end.
    fn crawl_all(mut crawl: Crawl, findings: Vec<Found>) -> Crawl {
        for finding in findings {
            crawl.found.put(&finding).unwrap();
        }
        let mut level = crawl.start(START.to_string());
        while !level.is_empty() {
            level = crawl.level(level, true).unwrap();
        }
        crawl
    }

    #[test]
    fn a_redirect_target_past_max_pages_is_not_both_mapped_and_counted() {
        // Three loads: the start, a and b.html. b.html names x.png as an image, a
        // redirects there: x.png is one URL, either in the map or past --max-pages.
        let start = vec![link("/a", Kind::Page), link("/b.html", Kind::Page)];
        let findings = vec![
            page("/", start),
            page("/b.html", vec![link("/x.png", Kind::Image)]),
            redirect("/a", "/x.png"),
        ];
        let crawl = crawl_all(crawl(Some(3)), findings);
        let line = crawl.site_map.line_of("http://127.0.0.1:1/x.png");
        let counted = crawl.not_loaded.len();
        assert!(
            line.is_none() || counted == 0,
            "x.png both in the map ({line:?}) and counted past --max-pages ({counted})"
        );
    }

    #[test]
    fn a_url_named_as_an_image_and_as_a_page_past_max_pages_fares_alike_in_any_order() {
        // Three loads: the start, p1 and p2.html. p1 names x.html in an <img>, p2 in an
        // <a>: x.html is a page past --max-pages, whichever finding comes first.
        let run = |p1_first: bool| {
            let start = vec![link("/p1.html", Kind::Page), link("/p2.html", Kind::Page)];
            let p1 = page("/p1.html", vec![link("/x.html", Kind::Image)]);
            let p2 = page("/p2.html", vec![link("/x.html", Kind::Page)]);
            let (first, second) = if p1_first { (p1, p2) } else { (p2, p1) };
            let crawl = crawl_all(crawl(Some(3)), vec![page("/", start), first, second]);
            let line = crawl.site_map.line_of("http://127.0.0.1:1/x.html");
            (line, crawl.not_loaded.len())
        };
        assert_eq!(run(true), (None, 1), "the <img> first");
        assert_eq!(run(false), (None, 1), "the <a> first");
    }

    #[test]
    fn a_page_robots_txt_closes_is_not_said_past_max_pages() {
        // One load, the start; the page it names is closed by robots.txt: no --max-pages
        // would load it, and without --max-pages it is in the map as closed.
        let run = |max_pages| {
            let mut crawl = crawl(max_pages);
            let robots = Ok("User-agent: *\nDisallow: /private/\n".to_string());
            crawl.robots = Rules::from_answer("http://127.0.0.1:1/robots.txt", robots).0;
            let start = vec![link("/private/x.html", Kind::Page)];
            let crawl = crawl_all(crawl, vec![page("/", start)]);
            let line = crawl.site_map.line_of("http://127.0.0.1:1/private/x.html");
            (line, crawl.not_loaded.len())
        };
        let closed = "  1 http://127.0.0.1:1/private/x.html (disallowed by robots.txt)";
        assert_eq!(run(None), (Some(closed.to_string()), 0));
        assert_eq!(
            run(Some(1)),
            (Some(closed.to_string()), 0),
            "with --max-pages 1"
        );
    }

    #[test]
    fn a_url_named_as_an_image_and_as_a_page_in_one_level_fares_alike_in_any_order() {
        // p1.html names x.html in an <img>, p2.html in an <a>, both at level 1.
        let run = |p1_first: bool| {
            let start = vec![link("/p1.html", Kind::Page), link("/p2.html", Kind::Page)];
            let p1 = page("/p1.html", vec![link("/x.html", Kind::Image)]);
            let p2 = page("/p2.html", vec![link("/x.html", Kind::Page)]);
            let (first, second) = if p1_first { (p1, p2) } else { (p2, p1) };
            let findings = vec![page("/", start), first, second, page("/x.html", vec![])];
            let crawl = crawl_all(crawl(None), findings);
            crawl.site_map.line_of("http://127.0.0.1:1/x.html")
        };
        assert_eq!(
            run(true),
            run(false),
            "x.html: image link's finding first, or not"
        );
    }

    #[test]
    fn a_redirect_to_a_url_over_max_url_bytes_is_not_taken() {
        // A link that long is counted, not kept: a redirect to it must not make it a page.
        let long = format!("/{}", "l".repeat(crate::worker::MAX_URL_BYTES));
        let findings = vec![redirect("/", &long), page(&long, Vec::new())];
        let crawl = crawl_all(crawl(None), findings);
        let url = format!("http://127.0.0.1:1{long}");
        assert_eq!(crawl.seen.get(&url).map(|taken| taken.depth), None, "taken");
    }

    #[test]
    fn a_redirect_count_does_not_hang_on_which_chain_comes_first() {
        // Level 1: /b redirects to /c (one redirect in a row); /a leads there too, after
        // ten in a row (/a, /r1 .. /r9). /c redirects to /d. The shortest way to /c is one
        // redirect: /c's own is the second in a row, and followed, whichever finding of
        // the level comes first.
        let run = |short_first: bool| {
            let start = vec![link("/a", Kind::Page), link("/b", Kind::Page)];
            let mut chain = vec![redirect("/a", "/r1")];
            for i in 1..9 {
                chain.push(redirect(&format!("/r{i}"), &format!("/r{}", i + 1)));
            }
            chain.push(redirect("/r9", "/c"));
            let short = redirect("/b", "/c");
            let mut findings = vec![page("/", start)];
            if short_first {
                findings.push(short);
                findings.extend(chain);
            } else {
                findings.extend(chain);
                findings.push(short);
            }
            findings.push(redirect("/c", "/d"));
            findings.push(page("/d", Vec::new()));
            let crawl = crawl_all(crawl(None), findings);
            crawl.site_map.line_of("http://127.0.0.1:1/c")
        };
        assert_eq!(
            run(false),
            run(true),
            "the chain of ten first, then the short one"
        );
    }

    #[test]
    fn links_past_max_pages_are_counted_not_kept() {
        let mut crawl = crawl(Some(3));
        let links = (0..10_000)
            .map(|i| link(&format!("/{i}.html"), Kind::Page))
            .collect();
        crawl.found.put(&page("/", links)).unwrap();
        let start = crawl.start(START.to_string());
        let next = crawl.level(start, true);
        assert_eq!(
            next.unwrap().pages.len(),
            2,
            "the two pages --max-pages still loads"
        );
        assert_eq!(crawl.seen.len(), 3, "the start and those two");
        assert_eq!(
            crawl.not_loaded.len(),
            9_998,
            "nothing lost: the others are counted"
        );
    }
}
