//! Checks of `ch05_no_levels`: a crawl that waits for no level.

use std::collections::BTreeMap;
use std::time::Duration;

use loader::LoadError;

use super::expected_length;
use super::server::{Links, PATIENCE, TestServer};

type Pages = BTreeMap<String, Result<usize, LoadError>>;

exercise! {
    name: ch05_no_levels,
    api: {
        crawl: fn(&str, usize) -> ipc::Result<Pages>,
    },
    // A crawl that jams hangs: say so after 15 s rather than 20, before the
    // reference solution's own wait for a finding (20 s) would end in an error.
    time_limit: Duration::from_secs(15),
    checks: [
        every_page_once_through_the_cycles,
        a_slow_page_holds_up_no_other,
        a_page_with_hundreds_of_links,
        a_start_page_that_does_not_load,
    ],
}

/// Links that go round in circles, and one that leads nowhere (`/missing`: 404).
const CYCLES: Links = &[
    ("/", &["/a", "/b", "/missing"]),
    ("/a", &["/", "/a#top", "/b"]),
    ("/b", &["/c", "/a"]),
    ("/c", &["/b", "/"]),
];

/// `/held` answers only once `/release` has been asked for, three links further on.
const HELD: Links = &[
    ("/", &["/held", "/one"]),
    ("/held", &["/after-held"]),
    ("/one", &["/two"]),
    ("/two", &["/release"]),
    ("/release", &["/"]),
    ("/after-held", &[]),
];

/// Checks that the pages `crawl` found are exactly `paths` on `server`, each asked for once.
fn assert_found(server: &TestServer, pages: &Pages, paths: &[&str]) {
    let requests = server.requests();
    let mut expected: Vec<String> = paths.iter().map(|path| server.url(path)).collect();
    expected.sort();
    let found: Vec<String> = pages.keys().cloned().collect();
    assert_eq!(
        found, expected,
        "the pages crawl found: every page the start page leads to, and nothing else"
    );
    let not_once: Vec<_> = requests.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        not_once.is_empty(),
        "each page is loaded once; these were asked for another number of times (path, \
         times): {not_once:?}"
    );
}

/// The pages, a line each: the URL and its result.
fn show(pages: &Pages) -> String {
    let lines: Vec<String> = pages
        .iter()
        .map(|(url, result)| match result {
            Ok(size) => format!("  {url}: {size} bytes"),
            Err(e) => format!("  {e}"),
        })
        .collect();
    lines.join("\n")
}

/// Checks that each page's result is what a load of it gives.
fn assert_results(pages: &Pages) {
    for (url, result) in pages {
        assert_eq!(result, &expected_length(url), "what crawl found at {url}");
    }
}

fn every_page_once_through_the_cycles(api: Api) {
    for workers in [1, 3] {
        let server = TestServer::with_links(CYCLES);
        let pages = (api.crawl)(&server.url("/"), workers).expect("crawl returned an error");
        assert_found(&server, &pages, &["/", "/a", "/b", "/c", "/missing"]);
        assert_results(&pages);
        assert!(
            matches!(
                pages[&server.url("/missing")],
                Err(LoadError::Status { status: 404, .. })
            ),
            "a broken link is in the map too, with its error"
        );
    }
}

fn a_slow_page_holds_up_no_other(api: Api) {
    let server = TestServer::with_links(HELD);
    let pages = (api.crawl)(&server.url("/"), 3).expect("crawl returned an error");
    let held = server.url("/held");
    assert!(
        matches!(pages.get(&held), Some(Ok(_))),
        "{held} answers only once /release has been asked for, and /release is three links \
         from the front page, behind /one and /two. A crawler that waits for every page of \
         a level before it hands out the next never asks for it in time: the test server \
         gave up after {} s and answered 503. crawl found:\n{}",
        PATIENCE.as_secs(),
        show(&pages)
    );
    let paths = ["/", "/held", "/one", "/two", "/release", "/after-held"];
    assert_found(&server, &pages, &paths);
    assert!(
        pages.values().all(Result::is_ok),
        "every page loads:\n{}",
        show(&pages)
    );
}

fn a_page_with_hundreds_of_links(api: Api) {
    // 800 links of some 240 bytes each: far more than a pipe holds (64 KiB), whether they
    // are handed out as tasks at once or come back as findings.
    let server = TestServer::start();
    let pages = (api.crawl)(&server.url("/fan/800"), 3).expect("crawl returned an error");
    let requests = server.requests();
    assert_eq!(
        pages.len(),
        801,
        "the page and its 800 links (each of which links back to it)"
    );
    let failed: Vec<_> = pages.iter().filter(|(_, r)| r.is_err()).take(3).collect();
    assert!(failed.is_empty(), "every page loads: {failed:#?}");
    assert_eq!(requests.len(), 801, "the pages asked for");
    assert!(
        requests.values().all(|&n| n == 1),
        "each page is loaded once"
    );
}

fn a_start_page_that_does_not_load(api: Api) {
    let server = TestServer::with_links(CYCLES);
    for (start, what) in [
        (server.url("/missing"), "a start page that is not there"),
        (format!("[{}", server.url("/")), "a malformed start URL"),
    ] {
        let pages = (api.crawl)(&start, 2).expect("crawl returned an error");
        let expected = BTreeMap::from([(
            start.clone(),
            loader::load_url(&start).map(|p| p.html.len()),
        )]);
        assert_eq!(
            pages, expected,
            "{what}: the map has it, with its error, and nothing more"
        );
    }
}
