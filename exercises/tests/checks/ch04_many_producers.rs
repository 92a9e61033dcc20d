//! Checks of `ch04_many_producers`: several producers, one close.

use std::collections::HashMap;
use std::time::Duration;

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, NOT_UTF8_PAGE};
use exercises::types::Summary;
use ipc::{Error, Process, Queue};

use super::expected_length;

exercise! {
    name: ch04_many_producers,
    api: {
        loader: fn(&mut Queue, &mut Queue) -> ipc::Result<()>,
        load_batches: fn(&[Vec<String>], usize) -> ipc::Result<Vec<Summary>>,
    },
    // The classic mistakes here hang: say so after 15 s rather than 20, before the
    // reference solution's own wait for a summary (20 s) would end in an error.
    time_limit: Duration::from_secs(15),
    checks: [
        loader_stops_once_the_queue_is_closed_and_empty,
        three_loaders_one_close,
        every_url_of_every_batch_once,
        a_batch_too_big_for_a_pipe,
    ],
}

/// A child running the exercise's `loader` on clones of `tasks` and `results`: it exits
/// with 0 if `loader` returned `Ok(())`, and says what it returned otherwise.
fn start_loader(api: Api, tasks: &Queue, results: &Queue) -> Process {
    let (mut tasks, mut results) = (tasks.try_clone().unwrap(), results.try_clone().unwrap());
    let loader = api.loader;
    let mut child = Process::with_exit_code(move || match loader(&mut tasks, &mut results) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("loader returned Err({e:?}): {e}");
            2
        }
    });
    child.start().unwrap();
    child
}

/// `n` summaries from `results`, then makes sure nothing more comes.
fn take_summaries(results: &mut Queue, n: usize) -> Vec<Summary> {
    let summaries: Vec<Summary> = (0..n)
        .map(|i| {
            results
                .get_timeout(Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("summary {} of {n}: {e}", i + 1))
        })
        .collect();
    match results.get_timeout::<Summary>(Duration::from_millis(100)) {
        Err(Error::Timeout) => {}
        other => panic!("only {n} summaries were expected, then came {other:?}"),
    }
    summaries
}

/// The loader's exit code, at most 5 s after the task queue was closed and emptied.
fn assert_ended(child: &mut Process, who: &str) {
    let code = child.join_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        code,
        Some(0),
        "{who}: `loader` should return Ok(()) once the task queue is closed and empty \
         (None: still running 5 s later; 2: it returned an error, printed above)"
    );
}

type Outcome = (String, Result<usize, loader::LoadError>);

/// What a correct loader finds at each of `urls`, sorted by URL (`worker` aside). The demo
/// site ignores query strings: a page that loaded once gives the same length whatever
/// follows its `?`, so 600 URLs of one page cost one load here.
fn expected(urls: &[String]) -> Vec<Outcome> {
    let mut lengths: HashMap<&str, usize> = HashMap::new();
    let mut expected: Vec<Outcome> = urls
        .iter()
        .map(|url| {
            let page = url.split('?').next().unwrap_or(url);
            let result = match lengths.get(page) {
                Some(&length) => Ok(length),
                None => expected_length(url),
            };
            if let Ok(length) = result {
                lengths.insert(page, length);
            }
            (url.clone(), result)
        })
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    expected
}

fn without_workers(summaries: &[Summary]) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = summaries
        .iter()
        .map(|s| (s.url.clone(), s.result.clone()))
        .collect();
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    outcomes
}

/// Panics, saying what is missing and what is extra, unless `got` is `expected` (both
/// sorted). Long lists are cut short: a URL of the big batch is 300 bytes of padding.
fn assert_same(got: &[Outcome], expected: &[Outcome]) {
    if got == expected {
        return;
    }
    // Both are sorted by URL: walk them side by side.
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    let (mut e, mut g) = (expected.iter().peekable(), got.iter().peekable());
    loop {
        match (e.peek(), g.peek()) {
            (None, None) => break,
            (Some(a), Some(b)) if a == b => {
                e.next();
                g.next();
            }
            (Some(a), Some(b)) if a.0 < b.0 => missing.extend(e.next()),
            (Some(a), Some(b)) if a.0 == b.0 => {
                missing.extend(e.next());
                extra.extend(g.next());
            }
            (Some(_), None) => missing.extend(e.next()),
            (_, Some(_)) => extra.extend(g.next()),
        }
    }
    let show = |outcomes: &[&Outcome]| {
        let mut lines: Vec<String> = outcomes
            .iter()
            .take(3)
            .map(|(url, result)| {
                let short: String = url.chars().take(60).collect();
                let cut = if short.len() < url.len() { "…" } else { "" };
                format!("\n    {short}{cut}: {result:?}")
            })
            .collect();
        if outcomes.len() > 3 {
            lines.push(format!("\n    and {} more", outcomes.len() - 3));
        }
        lines.concat()
    };
    panic!(
        "{} summaries for {} URLs: there should be exactly one per URL, and the same as a \
         load of that URL gives.\n  missing ({}):{}\n  unexpected ({}):{}",
        got.len(),
        expected.len(),
        missing.len(),
        show(&missing),
        extra.len(),
        show(&extra),
    );
}

fn loader_stops_once_the_queue_is_closed_and_empty(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = [
        site.url(FRONT_PAGE),
        site.url(BROKEN_LINK),
        site.url("/about.html"),
    ];
    let (mut tasks, mut results) = (Queue::new().unwrap(), Queue::new().unwrap());
    for url in &urls {
        tasks.put(url).unwrap();
    }
    tasks.close().unwrap();
    let mut child = start_loader(api, &tasks, &results);
    let summaries = take_summaries(&mut results, urls.len());
    assert_same(&without_workers(&summaries), &expected(&urls));
    let pid = child.pid().unwrap() as u32;
    for summary in &summaries {
        assert_eq!(
            summary.worker, pid,
            "`worker` is the loader's own pid, std::process::id(): {summary:?}"
        );
    }
    assert_ended(&mut child, "one loader, three URLs, then the close");
}

fn three_loaders_one_close(api: Api) {
    let site = DemoSite::start().unwrap();
    let (mut tasks, mut results) = (Queue::new().unwrap(), Queue::new().unwrap());
    // The loaders start on an empty queue: they must wait for tasks, not stop.
    let mut children: Vec<Process> = (0..3)
        .map(|_| start_loader(api, &tasks, &results))
        .collect();
    let urls: Vec<String> = (0..6)
        .map(|i| site.url(&format!("/about.html?copy={i}")))
        .collect();
    for url in &urls {
        tasks.put(url).unwrap();
    }
    let summaries = take_summaries(&mut results, urls.len());
    assert_same(&without_workers(&summaries), &expected(&urls));
    // One close, for all three.
    tasks.close().unwrap();
    for (i, child) in children.iter_mut().enumerate() {
        assert_ended(child, &format!("loader {} of 3", i + 1));
    }
}

/// Checks `load_batches(batches, loaders)` against a load of each URL.
fn check_load_batches(api: Api, batches: &[Vec<String>], loaders: usize) {
    let summaries = (api.load_batches)(batches, loaders).expect("load_batches returned an error");
    assert_same(&without_workers(&summaries), &expected(&batches.concat()));
    let me = std::process::id();
    let mut workers: Vec<u32> = summaries.iter().map(|s| s.worker).collect();
    workers.sort();
    workers.dedup();
    assert!(
        !workers.contains(&me),
        "the loader processes load the pages, not the parent (pid {me}): workers {workers:?}"
    );
    assert!(
        workers.len() <= loaders,
        "{} different workers, for {loaders} loader processes",
        workers.len()
    );
}

fn every_url_of_every_batch_once(api: Api) {
    let site = DemoSite::start().unwrap();
    let batches = vec![
        // An empty batch, whose producer is done at once: the others are not.
        vec![],
        vec![
            site.url(FRONT_PAGE),
            site.url(BROKEN_LINK),
            site.url("/about.html"),
        ],
        vec![format!("[{}", site.url(FRONT_PAGE))],
        vec![
            site.url(NOT_UTF8_PAGE),
            site.url("/docs/faq.html"),
            site.url("/about.html?again"),
            site.url("/docs/getting-started.html"),
        ],
    ];
    check_load_batches(api, &batches, 2);
    check_load_batches(api, &[vec![], vec![]], 2);
    check_load_batches(api, &[], 3);
}

fn a_batch_too_big_for_a_pipe(api: Api) {
    let site = DemoSite::start().unwrap();
    // 600 URLs of some 330 bytes: about 200 KB of tasks, and as much of summaries. A
    // pipe holds 64 KiB: the producer of this batch can end only while the loaders take
    // its tasks, and the loaders can go on only while someone takes their summaries.
    let padding = "x".repeat(300);
    let big: Vec<String> = (0..600)
        .map(|i| site.url(&format!("/about.html?{i}&{padding}")))
        .collect();
    let batches = vec![big, vec![site.url(FRONT_PAGE)], vec![]];
    check_load_batches(api, &batches, 2);
}
