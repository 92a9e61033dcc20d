//! Checks of `ch01_deadline`: stop a child that takes too long.

use std::time::{Duration, Instant};

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, slow_page};
use exercises::types::Ending;

use super::TIME_LIMIT;

exercise! {
    name: ch01_deadline,
    api: {
        load_with_deadline: fn(&str, Duration) -> ipc::Result<Ending>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        a_quick_page_finishes_without_waiting_for_the_deadline,
        a_hung_page_is_stopped_at_the_deadline,
    ],
}

fn a_quick_page_finishes_without_waiting_for_the_deadline(api: Api) {
    let site = DemoSite::start().unwrap();
    let started = Instant::now();
    let ending = (api.load_with_deadline)(&site.url(FRONT_PAGE), Duration::from_secs(10))
        .expect("load_with_deadline returned an error");
    assert_eq!(
        ending,
        Ending::Finished { exitcode: 0 },
        "the front page, 10 s deadline"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the front page loads in milliseconds, but load_with_deadline took {:?} with a 10 s \
         deadline: return as soon as the child has ended",
        started.elapsed()
    );
    let ending = (api.load_with_deadline)(&site.url(BROKEN_LINK), Duration::from_secs(10))
        .expect("load_with_deadline returned an error");
    assert_eq!(
        ending,
        Ending::Finished { exitcode: 1 },
        "a missing page (404), 10 s deadline"
    );
}

fn a_hung_page_is_stopped_at_the_deadline(api: Api) {
    let site = DemoSite::start().unwrap();
    let url = site.url(&slow_page(30_000));
    let started = Instant::now();
    let ending = (api.load_with_deadline)(&url, Duration::from_millis(300))
        .expect("load_with_deadline returned an error");
    assert_eq!(
        ending,
        Ending::TimedOut { exitcode: -15 },
        "a page that takes 30 s, 300 ms deadline: terminate the child (SIGTERM, exit code -15)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "with a 300 ms deadline, load_with_deadline took {:?}",
        started.elapsed()
    );
}
