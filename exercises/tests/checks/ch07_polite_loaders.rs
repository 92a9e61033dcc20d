//! Checks of `ch07_polite_loaders`: at most N loads at once, in all processes.

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, NOT_UTF8_PAGE};
use exercises::types::Tally;

use super::TIME_LIMIT;
use super::server::{PATIENCE, TestServer};

exercise! {
    name: ch07_polite_loaders,
    api: {
        load_politely: fn(&[String], usize, u32) -> ipc::Result<Tally>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        never_more_than_two_at_once,
        one_at_a_time_when_asked,
        two_at_once_really_happens,
        the_tally_counts_every_url_once,
        no_count_is_lost_when_loaders_add_at_once,
        no_urls_nothing_counted,
    ],
}

/// What a correct tally of `urls` is, from loads made here, one by one.
fn expected(urls: &[String]) -> Tally {
    let mut tally = Tally::default();
    for url in urls {
        match loader::load_url(url) {
            Ok(page) => {
                tally.pages += 1;
                tally.bytes += page.html.len() as u64;
            }
            Err(_) => tally.errors += 1,
        }
    }
    tally
}

/// `n` pages of the test server that take a while, and count how many are open at once.
fn busy_pages(server: &TestServer, n: usize) -> Vec<String> {
    (0..n).map(|i| server.url(&format!("/busy/{i}"))).collect()
}

fn never_more_than_two_at_once(api: Api) {
    let server = TestServer::start();
    let urls = busy_pages(&server, 8);
    let tally = (api.load_politely)(&urls, 4, 2).expect("load_politely returned an error");
    let most = server.most_busy();
    assert!(
        most <= 2,
        "4 loader processes, at most 2 loads at once: the server had {most} requests open \
         at the same time. Each load needs a permit of one Semaphore that all the \
         processes share."
    );
    assert_eq!(tally, expected(&urls), "the tally of 8 pages");
}

fn one_at_a_time_when_asked(api: Api) {
    let server = TestServer::start();
    let urls = busy_pages(&server, 5);
    let tally = (api.load_politely)(&urls, 3, 1).expect("load_politely returned an error");
    let most = server.most_busy();
    assert_eq!(
        most, 1,
        "3 loaders, at most 1 load at once: the server saw {most}"
    );
    assert_eq!(tally, expected(&urls), "the tally of 5 pages");
}

fn two_at_once_really_happens(api: Api) {
    let server = TestServer::start();
    let urls = server.meeting(2);
    let tally = (api.load_politely)(&urls, 3, 2).expect("load_politely returned an error");
    assert_eq!(
        tally.errors,
        0,
        "the test server answers these 2 pages only while both are being loaded at the \
         same time; it waited {} s, then answered 503. With 2 permits, two loads may run \
         at once: does each process load while the others do?",
        PATIENCE.as_secs()
    );
    assert_eq!(tally.pages, 2);
}

fn the_tally_counts_every_url_once(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = vec![
        site.url(FRONT_PAGE),
        site.url(BROKEN_LINK),
        format!("[{}", site.url(FRONT_PAGE)),
        site.url(NOT_UTF8_PAGE),
        site.url("/about.html"),
        site.url("/docs/faq.html"),
        site.url(demo_site::LARGE_PAGE),
    ];
    let tally = (api.load_politely)(&urls, 3, 2).expect("load_politely returned an error");
    assert_eq!(
        tally,
        expected(&urls),
        "pages, bytes (each page's text, `page.html.len()`) and errors, each URL once"
    );
}

/// Malformed URLs fail at once, without a server: four loaders then add to the tally
/// nearly all the time, and an addition that is not one step under the lock (a `get`,
/// then a `set`) loses counts.
fn no_count_is_lost_when_loaders_add_at_once(api: Api) {
    let urls = vec!["[http://127.0.0.1/".to_string(); 20_000];
    let tally = (api.load_politely)(&urls, 4, 4).expect("load_politely returned an error");
    assert_eq!(
        tally.errors, 20_000,
        "20 000 URLs that fail at once, 4 loaders adding their errors to the tally: {} of \
         them were counted. An update must happen under the lock, in one step \
         (`tally.lock()`): between a `get` and a `set`, another process's update is lost.",
        tally.errors
    );
}

fn no_urls_nothing_counted(api: Api) {
    let tally = (api.load_politely)(&[], 3, 2).expect("load_politely returned an error");
    assert_eq!(tally, Tally::default());
}
