//! Checks of `ch03_until_closed`: read until the other end closes.

use std::time::Duration;

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, NOT_UTF8_PAGE};
use loader::{LoadError, Page, load_url};

exercise! {
    name: ch03_until_closed,
    api: {
        load_until_closed: fn(&[String]) -> ipc::Result<Vec<Result<Page, LoadError>>>,
    },
    // The classic mistake here hangs: say so after 10 s rather than 20.
    time_limit: Duration::from_secs(10),
    checks: [
        every_url_gets_its_result_in_order,
        many_urls_and_no_urls,
    ],
}

fn every_url_gets_its_result_in_order(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = [
        site.url(FRONT_PAGE),
        site.url(BROKEN_LINK),
        site.url("/about.html"),
        site.url(NOT_UTF8_PAGE),
        format!("[{}", site.url(FRONT_PAGE)),
    ];
    let results = (api.load_until_closed)(&urls).expect("load_until_closed returned an error");
    let expected: Vec<_> = urls.iter().map(|url| load_url(url)).collect();
    assert_eq!(results, expected, "the results for {urls:#?}");
}

fn many_urls_and_no_urls(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = vec![site.url("/about.html"); 40];
    let results = (api.load_until_closed)(&urls).expect("load_until_closed returned an error");
    assert_eq!(results.len(), 40, "one result per URL");
    assert!(results.iter().all(Result::is_ok), "every page loaded");

    let results = (api.load_until_closed)(&[]).expect("load_until_closed returned an error");
    assert!(results.is_empty(), "no URLs, no results: {results:?}");
}
