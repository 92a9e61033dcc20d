//! Checks of `ch02_summaries`: workers send summaries, the parent decides.

use std::collections::HashSet;

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, NOT_UTF8_PAGE, slow_page};
use exercises::types::Summary;
use fork_test::{Stream, capture};

use super::{TIME_LIMIT, expected_length};

exercise! {
    name: ch02_summaries,
    api: {
        summarize_all: fn(Vec<String>, usize) -> ipc::Result<Vec<Summary>>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        summaries_come_in_the_order_of_the_urls,
        the_pages_are_loaded_by_the_pool_workers,
        the_workers_print_nothing,
    ],
}

fn summaries_come_in_the_order_of_the_urls(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = vec![
        site.url(&slow_page(300)),
        site.url(FRONT_PAGE),
        format!("[{}", site.url(FRONT_PAGE)),
        site.url(BROKEN_LINK),
        site.url(NOT_UTF8_PAGE),
        site.url("/about.html"),
    ];
    let summaries = (api.summarize_all)(urls.clone(), 3).expect("summarize_all returned an error");
    let got: Vec<&str> = summaries.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(got, urls, "one summary per URL, in the order of the URLs");
    for summary in &summaries {
        assert_eq!(
            summary.result,
            expected_length(&summary.url),
            "the result for {}: the length of the page's text, or the load error",
            summary.url
        );
    }
}

fn the_pages_are_loaded_by_the_pool_workers(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls: Vec<String> = ["/", "/about.html", "/docs/faq.html"]
        .iter()
        .cycle()
        .take(8)
        .map(|path| site.url(path))
        .collect();
    let me = std::process::id();
    for processes in [2, 1] {
        let summaries =
            (api.summarize_all)(urls.clone(), processes).expect("summarize_all returned an error");
        let workers: HashSet<u32> = summaries.iter().map(|s| s.worker).collect();
        assert!(
            !workers.contains(&me),
            "a summary says the parent (pid {me}) loaded its page: the pool's workers should"
        );
        assert!(
            workers.len() <= processes,
            "{} different workers loaded the pages, for a pool of {processes}",
            workers.len()
        );
    }
}

fn the_workers_print_nothing(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = vec![site.url(FRONT_PAGE), site.url("/about.html")];
    let printed = capture(Stream::Stdout, || {
        (api.summarize_all)(urls, 2).expect("summarize_all returned an error");
    });
    assert!(
        printed.is_empty(),
        "summarize_all printed {} bytes, starting with {:?}: the summaries go back to the \
         caller, who decides what to print",
        printed.len(),
        printed.chars().take(60).collect::<String>()
    );
}
