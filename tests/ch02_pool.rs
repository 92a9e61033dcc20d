//! Snapshots of chapter 2's `url_loader_pool`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

use std::net::TcpListener;

chapter_snapshots!(
    "ch02",
    "url_loader_pool",
    extra: [
        a_hung_url_is_waited_for_once,
        sigterm_in_the_default_run_leaves_no_process,
        a_fatal_error_is_said_in_words,
    ],
);

/// Short of descriptors, it stops with its error in words.
fn a_fatal_error_is_said_in_words() {
    support::a_fatal_error_is_said_in_words(BIN);
}

/// The default run: the demo site and the pool's workers end with the parent.
fn sigterm_in_the_default_run_leaves_no_process() {
    support::killed_alone_it_leaves_no_process(BIN, &[], 2, fork_test::Signal::SIGTERM);
}

/// A URL that never answers costs one time limit, not two: the comparison with loading one
/// by one does not load it again. The listener never accepts, so each attempt to load the
/// URL is one connection left waiting in its backlog, to be counted at the end.
fn a_hung_url_is_waited_for_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let output = support::run_merged(BIN, &[&url]).text;
    assert!(
        output.contains("no complete answer within 10 s"),
        "{output}"
    );
    listener.set_nonblocking(true).unwrap();
    let attempts = std::iter::from_fn(|| listener.accept().ok()).count();
    assert_eq!(attempts, 1, "times the hung URL was asked for");
}
