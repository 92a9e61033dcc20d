//! Checks of `ch01_exit_code`: say how the child ended.

use std::io::Write;
use std::net::TcpListener;

use demo_site::{BROKEN_LINK, DemoSite, FRONT_PAGE, NOT_UTF8_PAGE, slow_page};
use ipc::{Pipe, Process};
use nix::sys::signal::{Signal, raise};

use super::{TIME_LIMIT, harness, server};

exercise! {
    name: ch01_exit_code,
    api: {
        load_exit_code: fn(&str) -> i32,
        describe_child: fn(Process) -> ipc::Result<String>,
    },
    time_limit: TIME_LIMIT,
    checks: [
        the_sentence_names_the_child_and_its_exit_code,
        a_panic_and_a_signal_are_described_too,
        each_outcome_of_a_load_has_its_exit_code,
    ],
}

/// Checks that `sentence` reads `process PID ended: {ending}` with a pid that is not ours.
fn assert_sentence(sentence: &str, ending: &str) -> u32 {
    let pid = sentence
        .strip_prefix("process ")
        .and_then(|rest| rest.strip_suffix(&format!(" ended: {ending}")))
        .and_then(|pid| pid.parse::<u32>().ok());
    let Some(pid) = pid else {
        panic!("expected \"process PID ended: {ending}\", got {sentence:?}");
    };
    assert_ne!(
        pid,
        std::process::id(),
        "that is the parent's pid, not the child's"
    );
    pid
}

fn the_sentence_names_the_child_and_its_exit_code(api: Api) {
    for code in [0, 3] {
        let (mut parent_end, mut child_end) = Pipe::new().unwrap();
        let process = Process::with_exit_code(move || {
            child_end.send(&std::process::id()).unwrap();
            code
        });
        let sentence = (api.describe_child)(process).expect("describe_child returned an error");
        let child_pid: u32 = parent_end
            .recv()
            .expect("the child sends its pid first thing: was the process started?");
        let pid = assert_sentence(&sentence, &format!("exit code {code}"));
        assert_eq!(pid, child_pid, "the pid in {sentence:?} is not the child's");
    }
}

fn a_panic_and_a_signal_are_described_too(api: Api) {
    let panics = Process::new(|| harness::panic_on_purpose());
    let sentence = (api.describe_child)(panics).expect("describe_child returned an error");
    assert_sentence(&sentence, "exit code 101");

    let killed = Process::new(|| raise(Signal::SIGKILL).unwrap());
    let sentence = (api.describe_child)(killed).expect("describe_child returned an error");
    assert_sentence(&sentence, "killed by SIGKILL");
}

fn each_outcome_of_a_load_has_its_exit_code(api: Api) {
    let site = DemoSite::start().unwrap();
    let (not_http_url, mut not_http_server) = not_http();
    let cases = [
        (site.url(FRONT_PAGE), 0, "the front page"),
        (format!("[{}", site.url(FRONT_PAGE)), 2, "a malformed URL"),
        (
            "http://127.0.0.1:1/".to_string(),
            3,
            "a port nobody listens on",
        ),
        (site.url(BROKEN_LINK), 5, "a missing page (404)"),
        (site.url(NOT_UTF8_PAGE), 6, "a page that is not UTF-8"),
        (
            site.url(&slow_page(12_000)),
            4,
            "a page slower than the 10 s time limit",
        ),
        (not_http_url, 7, "a server that does not speak HTTP"),
    ];
    for (url, expected, what) in cases {
        let load_exit_code = api.load_exit_code;
        let target = url.clone();
        let mut child = Process::with_exit_code(move || load_exit_code(&target));
        child.start().unwrap();
        let code = child.join().unwrap();
        assert_eq!(
            code, expected,
            "a child running load_exit_code on {what} ({url}) should exit with {expected}"
        );
    }
    not_http_server.join().unwrap();
}

/// The URL of a server, in a process of its own, that answers its one connection with a
/// line that is not HTTP: a load of it fails in none of the ways that have a code of their
/// own. The process ends after that connection.
fn not_http() -> (String, Process) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let mut server = Process::new(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = server::read_head(&mut stream);
        let _ = stream.write_all(b"SSH-2.0-not-a-web-server\r\n");
    });
    server.start().unwrap();
    (url, server)
}

/// The harness's own test (reference mode): a check that makes a child panic on purpose,
/// as `a_panic_and_a_signal_are_described_too` does, and then fails because of the
/// learner's code, shows the learner's mistake and not the child's panic.
pub fn a_checks_own_panics_are_not_shown_as_the_learners() {
    fn wrong_sentence(mut process: Process) -> ipc::Result<String> {
        process.start()?;
        process.join()?;
        Ok("a wrong sentence".to_string())
    }
    let api = Api {
        load_exit_code: SOLUTION.load_exit_code,
        describe_child: wrong_sentence,
    };
    let check = a_panic_and_a_signal_are_described_too;
    let outcome = harness::run_check("panic_and_signal", check, api, TIME_LIMIT);
    assert!(!outcome.passed, "the check passed on a wrong sentence");
    assert!(
        outcome.output.contains("a wrong sentence"),
        "the failure shows the learner's sentence:\n{}",
        outcome.output
    );
    assert!(
        !outcome.output.contains("on purpose"),
        "the failure shows the check's own panic:\n{}",
        outcome.output
    );
}
