//! Checks of `ch03_loader_service`: a long-lived loader child.

use std::time::Duration;

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, NOT_UTF8_PAGE};
use exercises::types::{Reply, Request, Session};
use ipc::{Connection, Pipe, Process};

use super::TIME_LIMIT;

exercise! {
    name: ch03_loader_service,
    api: {
        serve: fn(Connection) -> i32,
        load_many: fn(&[String]) -> ipc::Result<Session>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        serve_answers_each_request_then_says_bye,
        serve_returns_1_when_the_parent_hangs_up,
        load_many_uses_one_child_for_every_url,
        load_many_with_no_urls_still_says_goodbye,
    ],
}

/// The reply a correct loader gives for `url`.
fn expected_reply(url: &str) -> Reply {
    match loader::load_url(url) {
        Ok(page) => Reply::Loaded(page),
        Err(e) => Reply::Failed(e),
    }
}

/// A child running the exercise's `serve`, and the parent's end of its pipe.
fn start_serve(api: Api) -> (Process, Connection) {
    let (mut conn, child_conn) = Pipe::new().unwrap();
    conn.set_inheritable(false);
    let serve = api.serve;
    let mut child = Process::with_exit_code(move || serve(child_conn));
    child.start().unwrap();
    (child, conn)
}

fn serve_answers_each_request_then_says_bye(api: Api) {
    let site = DemoSite::start().unwrap();
    let (mut child, mut conn) = start_serve(api);
    for url in [
        site.url(FRONT_PAGE),
        site.url(BROKEN_LINK),
        site.url("/about.html"),
    ] {
        conn.send(&Request::Load(url.clone())).unwrap();
        let reply: Reply = conn
            .recv()
            .unwrap_or_else(|e| panic!("no reply to Load({url:?}): {e}"));
        assert_eq!(reply, expected_reply(&url), "the reply to Load({url:?})");
    }
    conn.send(&Request::Shutdown).unwrap();
    let reply: Reply = conn
        .recv()
        .unwrap_or_else(|e| panic!("no reply to Shutdown: {e}"));
    assert_eq!(
        reply,
        Reply::Bye { served: 3 },
        "the reply to Shutdown after 3 loads"
    );
    assert_eq!(
        child.join_timeout(Duration::from_secs(5)).unwrap(),
        Some(0),
        "serve returns 0 after Shutdown (None: still running 5 s later)"
    );
}

fn serve_returns_1_when_the_parent_hangs_up(api: Api) {
    let site = DemoSite::start().unwrap();
    let (mut child, mut conn) = start_serve(api);
    conn.send(&Request::Load(site.url(FRONT_PAGE))).unwrap();
    let _: Reply = conn.recv().expect("a reply to Load");
    conn.close(); // no Shutdown: the parent just goes away
    assert_eq!(
        child.join_timeout(Duration::from_secs(5)).unwrap(),
        Some(1),
        "when the parent closes its end without a Shutdown, recv fails in the child: serve \
         should return 1 (None: still running 5 s later)"
    );
}

fn load_many_uses_one_child_for_every_url(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = [
        site.url(FRONT_PAGE),
        format!("[{}", site.url(FRONT_PAGE)),
        site.url("/about.html"),
        site.url(NOT_UTF8_PAGE),
    ];
    let session = (api.load_many)(&urls).expect("load_many returned an error");
    let expected: Vec<Reply> = urls.iter().map(|url| expected_reply(url)).collect();
    assert_eq!(
        session.replies, expected,
        "the replies, in the order of the URLs"
    );
    assert_eq!(session.served, urls.len(), "the count in the child's Bye");
    assert_eq!(session.exitcode, 0, "the child's exit code after Shutdown");
}

fn load_many_with_no_urls_still_says_goodbye(api: Api) {
    let session = (api.load_many)(&[]).expect("load_many returned an error");
    let expected = Session {
        replies: Vec::new(),
        served: 0,
        exitcode: 0,
    };
    assert_eq!(session, expected);
}
