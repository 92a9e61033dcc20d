//! Checks of `ch01_all_at_once`: start every child before joining any.

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, slow_page};

use super::TIME_LIMIT;
use super::server::{PATIENCE, TestServer};

exercise! {
    name: ch01_all_at_once,
    api: {
        load_all: fn(&[String]) -> ipc::Result<Vec<i32>>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        exit_codes_come_in_the_order_of_the_urls,
        the_pages_load_at_the_same_time,
        no_urls_no_children,
    ],
}

fn exit_codes_come_in_the_order_of_the_urls(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = [
        site.url(&slow_page(300)),
        site.url(BROKEN_LINK),
        format!("[{}", site.url(FRONT_PAGE)),
        site.url("/about.html"),
        site.url(FRONT_PAGE),
    ];
    let codes = (api.load_all)(&urls).expect("load_all returned an error");
    assert_eq!(
        codes,
        [0, 1, 1, 0, 0],
        "the exit codes for {urls:#?}\n(0: the page loaded, 1: it did not)"
    );
}

fn the_pages_load_at_the_same_time(api: Api) {
    let server = TestServer::start();
    let urls = server.meeting(3);
    let codes = (api.load_all)(&urls).expect("load_all returned an error");
    assert_eq!(
        codes,
        [0, 0, 0],
        "the test server answers these 3 pages only once all 3 loads are connected to it at \
         the same time; it waited {} s, then answered 503 (exit code 1). Start every child \
         before you join any.",
        PATIENCE.as_secs()
    );
}

fn no_urls_no_children(api: Api) {
    let codes = (api.load_all)(&[]).expect("load_all returned an error");
    assert_eq!(codes, Vec::<i32>::new());
}
