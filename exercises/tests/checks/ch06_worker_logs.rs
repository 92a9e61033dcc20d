//! Checks of `ch06_worker_logs`: each worker keeps a log.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, slow_page};
use exercises::types::Summary;

use super::{TIME_LIMIT, expected_length};

exercise! {
    name: ch06_worker_logs,
    api: {
        summarize_logged: fn(Vec<String>, PathBuf, usize) -> ipc::Result<Vec<Summary>>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        each_worker_logs_the_urls_it_summarized,
        every_worker_opens_its_log_as_it_starts,
    ],
}

/// The logs in `dir`: each file's name, and its lines.
fn logs(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            (name, text.lines().map(String::from).collect())
        })
        .collect()
}

fn each_worker_logs_the_urls_it_summarized(api: Api) {
    let site = DemoSite::start().unwrap();
    let urls = vec![
        site.url(&slow_page(200)),
        site.url(FRONT_PAGE),
        format!("[{}", site.url(FRONT_PAGE)),
        site.url(BROKEN_LINK),
        site.url("/about.html"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let summaries = (api.summarize_logged)(urls.clone(), dir.path().to_path_buf(), 2)
        .unwrap_or_else(|e| panic!("summarize_logged returned an error: {e}"));
    let got: Vec<&str> = summaries.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(got, urls, "one summary per URL, in the order of the URLs");
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for summary in &summaries {
        assert_eq!(
            summary.result,
            expected_length(&summary.url),
            "the result for {}",
            summary.url
        );
        expected
            .entry(format!("{}.log", summary.worker))
            .or_default()
            .insert(summary.url.clone());
    }
    let mut found = logs(dir.path());
    found.retain(|_, lines| !lines.is_empty());
    assert_eq!(
        found, expected,
        "the logs with lines in them (by file name, PID.log), against what each worker \
         summarized"
    );
}

fn every_worker_opens_its_log_as_it_starts(api: Api) {
    let site = DemoSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let urls = vec![site.url(FRONT_PAGE)];
    (api.summarize_logged)(urls, dir.path().to_path_buf(), 3)
        .unwrap_or_else(|e| panic!("summarize_logged returned an error: {e}"));
    let found = logs(dir.path());
    assert_eq!(
        found.len(),
        3,
        "three workers, three logs, each created as its worker starts, before (and \
         whether or not) it gets a task: {found:?}"
    );
    let lines: usize = found.values().map(BTreeSet::len).sum();
    assert_eq!(lines, 1, "one URL, one line in all the logs: {found:?}");
}
