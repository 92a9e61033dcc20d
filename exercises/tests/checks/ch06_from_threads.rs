//! Checks of `ch06_from_threads`: workers for a program with threads.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE};
use exercises::types::Summary;
use ipc::StartMethod;
use loader::LoadError;

use super::server::{PATIENCE, TestServer};
use super::{TIME_LIMIT, expected_length};

exercise! {
    name: ch06_from_threads,
    api: {
        summarize_all: fn(StartMethod, Vec<String>, Duration, usize) -> ipc::Result<Vec<Summary>>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        from_a_program_with_threads_both_methods_summarize_every_url,
        every_load_keeps_to_the_timeout,
    ],
}

/// This process set up as chapter 6's `main`: the forkserver started while it had one
/// thread, then another thread, which runs until the value is dropped.
struct ProgramWithThreads {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ProgramWithThreads {
    /// Call it after the forks of the check's own servers: it ends this process's time with
    /// one thread.
    fn start() -> ProgramWithThreads {
        ipc::forkserver::start().expect("the forkserver starts (one thread so far)");
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = stopped.recv();
        });
        ProgramWithThreads {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for ProgramWithThreads {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        ipc::forkserver::stop(); // the check must leave no process behind
    }
}

fn from_a_program_with_threads_both_methods_summarize_every_url(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = vec![
        site.url(FRONT_PAGE),
        site.url(BROKEN_LINK),
        format!("[{}", site.url(FRONT_PAGE)),
        site.url("/about.html"),
    ];
    let _threads = ProgramWithThreads::start();
    let me = std::process::id();
    for method in [StartMethod::Forkserver, StartMethod::Spawn] {
        let summaries = (api.summarize_all)(method, urls.clone(), loader::TIMEOUT, 2)
            .unwrap_or_else(|e| panic!("summarize_all with {method} returned an error: {e}"));
        let got: Vec<&str> = summaries.iter().map(|s| s.url.as_str()).collect();
        assert_eq!(
            got, urls,
            "with {method}: one summary per URL, in the order of the URLs"
        );
        for summary in &summaries {
            assert_eq!(
                summary.result,
                expected_length(&summary.url),
                "with {method}: the result for {}",
                summary.url
            );
            assert_ne!(
                summary.worker, me,
                "with {method}: the parent loaded {}; a worker should",
                summary.url
            );
        }
    }
}

fn every_load_keeps_to_the_timeout(api: Api) {
    let server = TestServer::start();
    let urls = vec![server.held(), server.url("/quick")];
    let _threads = ProgramWithThreads::start();
    let timeout = Duration::from_secs(1);
    let summaries = (api.summarize_all)(StartMethod::Forkserver, urls, timeout, 2)
        .unwrap_or_else(|e| panic!("summarize_all returned an error: {e}"));
    assert!(
        matches!(summaries[0].result, Err(LoadError::Timeout { .. })),
        "the held page, loaded with a timeout of 1 s, is a LoadError::Timeout; got {:?} \
         (the test server answers it after {} s only)",
        summaries[0].result,
        PATIENCE.as_secs()
    );
    assert!(
        summaries[1].result.is_ok(),
        "the quick page loads: {:?}",
        summaries[1].result
    );
}
