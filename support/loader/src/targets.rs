//! What a chapter loads: the URLs on its command line, or, with none, pages of the
//! built-in demo site, started for the occasion so that everything works offline.

use std::process::ExitCode;

use demo_site::DemoSite;

/// The demo-site list of the pool chapters (2, and 6, which loads it under each start
/// method), in the shape of the tutorial's: its list has four URLs, two of them malformed
/// (`'[http://www.packt.com'`). Ours: two pages that answer after a delay, so that a pool's
/// gain shows, and two malformed URLs.
pub const POOL_DEMO_PAGES: [&str; 4] = [
    "/slow?ms=300",
    "/slow?ms=400",
    "[/about.html",
    "[/docs/faq.html",
];

/// The URLs to load, and the demo site serving them when they are its pages.
#[derive(Debug)]
pub struct Targets {
    /// The URLs, in order.
    pub urls: Vec<String>,
    /// Kept alive while the URLs are loaded; dropping it stops the site.
    pub site: Option<DemoSite>,
}

impl Targets {
    /// The command line's URLs if there are any (see [`urls_from_command_line`]);
    /// otherwise starts the demo site: see [`from_urls_or_demo`](Self::from_urls_or_demo).
    pub fn from_args_or_demo(demo_paths: &[&str]) -> ipc::Result<Targets> {
        Targets::from_urls_or_demo(urls_from_command_line(), demo_paths)
    }

    /// `urls` if there are any; otherwise starts the demo site, says so in one line, and
    /// makes URLs from `demo_paths`. A path that starts with `[` keeps it in front of the
    /// whole URL, to make it malformed the way two of the tutorial's are.
    pub fn from_urls_or_demo(urls: Vec<String>, demo_paths: &[&str]) -> ipc::Result<Targets> {
        if !urls.is_empty() {
            return Ok(Targets { urls, site: None });
        }
        let site = DemoSite::start()?;
        println!("Serving the demo site at {}", site.url("/"));
        let urls = demo_paths
            .iter()
            .map(|path| match path.strip_prefix('[') {
                Some(path) => format!("[{}", site.url(path)),
                None => site.url(path),
            })
            .collect();
        Ok(Targets {
            urls,
            site: Some(site),
        })
    }
}

/// The command line of a chapter that loads URLs.
#[derive(clap::Parser)]
#[command(
    about = "Loads each URL given, or with none, pages of a demo web site it serves on \
             127.0.0.1, and prints what it got.",
    after_help = "Exit status: 0 if every URL loaded; 1 if one did not, or the program could \
                  not go on; 2 for an argument it cannot take."
)]
struct CommandLine {
    /// The URLs to load [default: the demo site's pages]
    #[arg(value_name = "URL")]
    urls: Vec<String>,
}

/// The URLs on the command line (maybe none). `--help` prints how to call the program and
/// ends it; so does an argument that is not text (UTF-8), with an error and exit code 2.
pub fn urls_from_command_line() -> Vec<String> {
    <CommandLine as clap::Parser>::parse().urls
}

/// The program's exit status: failure if any load failed, so that scripts can tell.
pub fn exit_status(all_loaded: bool) -> ExitCode {
    if all_loaded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `n` and `noun`, in the plural unless `n` is 1: "1 page", "2 pages", "0 errors".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular() {
        assert_eq!(count(1, "page"), "1 page");
        assert_eq!(count(0, "error"), "0 errors");
        assert_eq!(count(2, "url"), "2 urls");
    }
}
