//! Checks of `ch02_as_they_finish`: results as they finish.

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, slow_page};
use exercises::types::Summary;

use super::server::{PATIENCE, TestServer};
use super::{TIME_LIMIT, expected_length};

exercise! {
    name: ch02_as_they_finish,
    api: {
        load_as_they_finish: fn(Vec<String>, usize, &mut dyn FnMut(usize, Summary)) -> ipc::Result<()>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        each_summary_arrives_once_with_its_position,
        a_slow_page_does_not_hold_back_the_others,
        no_urls_no_calls,
    ],
}

fn each_summary_arrives_once_with_its_position(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = vec![
        site.url(&slow_page(300)),
        site.url(FRONT_PAGE),
        site.url(BROKEN_LINK),
        format!("[{}", site.url(FRONT_PAGE)),
        site.url("/about.html"),
    ];
    let mut arrived = Vec::new();
    (api.load_as_they_finish)(urls.clone(), 2, &mut |position, summary| {
        arrived.push((position, summary));
    })
    .expect("load_as_they_finish returned an error");
    arrived.sort_by_key(|(position, _)| *position);
    let positions: Vec<usize> = arrived.iter().map(|(position, _)| *position).collect();
    assert_eq!(
        positions,
        (0..urls.len()).collect::<Vec<_>>(),
        "on_each is called once per URL, with the URL's position in the list"
    );
    let me = std::process::id();
    for (position, summary) in &arrived {
        assert_eq!(
            summary.url, urls[*position],
            "the URL at position {position}"
        );
        assert_eq!(
            summary.result,
            expected_length(&summary.url),
            "the result for {}",
            summary.url
        );
        assert_ne!(
            summary.worker, me,
            "the parent loaded {}: a worker should",
            summary.url
        );
    }
}

fn a_slow_page_does_not_hold_back_the_others(api: Api) {
    let server = TestServer::start();
    let urls = vec![
        server.held(),
        server.url("/quick/1"),
        server.url("/quick/2"),
    ];
    let mut arrived = Vec::new();
    (api.load_as_they_finish)(urls, 2, &mut |position, summary| {
        if position != 0 && arrived.iter().all(|&(p, _)| p == 0) {
            server.release(); // the first news of a quick page lets the held one answer
        }
        arrived.push((position, summary.result.is_ok()));
    })
    .expect("load_as_they_finish returned an error");
    assert_eq!(arrived.len(), 3, "one call of on_each per URL: {arrived:?}");
    assert_ne!(
        arrived[0].0,
        0,
        "the first summary to reach on_each was that of the page at position 0, which the \
         test server held back until on_each had heard of another page (it gave up after \
         {} s and answered 503). Call on_each as each summary arrives.",
        PATIENCE.as_secs()
    );
    assert!(
        arrived.iter().all(|&(_, loaded)| loaded),
        "every page loads in the end: {arrived:?}"
    );
}

fn no_urls_no_calls(api: Api) {
    let mut calls = 0;
    (api.load_as_they_finish)(Vec::new(), 2, &mut |_, _| calls += 1)
        .expect("load_as_they_finish returned an error");
    assert_eq!(calls, 0, "on_each was called with no URLs to load");
}
