//! Snapshots of chapter 4's `url_loader_queue`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

chapter_snapshots!(
    "ch04",
    "url_loader_queue",
    extra: [
        sigint_to_the_parent_alone_leaves_no_process,
        a_fatal_error_is_said_in_words,
    ],
);

/// Short of descriptors, it stops with its error in words.
fn a_fatal_error_is_said_in_words() {
    support::a_fatal_error_is_said_in_words(BIN);
}

/// Ctrl-C reaches a whole process group; `kill -INT` the parent alone: its loader, waiting
/// for a slow page, ends with it.
fn sigint_to_the_parent_alone_leaves_no_process() {
    let site = demo_site::DemoSite::start().unwrap();
    let url = site.url(&demo_site::slow_page(20_000));
    support::killed_alone_it_leaves_no_process(BIN, &[&url], 1, fork_test::Signal::SIGINT);
}
