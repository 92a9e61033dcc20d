//! The release archive: one long page, generated the first time somebody asks for it.
//!
//! It lists every build the project has published, so it is big enough (a little over 1 MiB)
//! to show what loading a large page costs, without a 1 MiB file in the repository. It is made
//! from fixed lists by fixed arithmetic, so every run produces the same bytes.

use std::sync::OnceLock;

/// The list stops growing once the page is at least this long.
const MIN_LEN: usize = 1024 * 1024;

const TOP: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tidemark: every build ever published</title>
</head>
<body>
  <h1>Every build ever published</h1>
  <p>The build machine publishes a new build after every change. They are all listed
  here, oldest first, which makes this a rather long page.</p>
  <ol>
"#;

const BOTTOM: &str = r#"  </ol>
  <p>Read about <a href="/news/tidemark-1-0.html">Tidemark 1.0</a>, or go back to the
  <a href="/">front page</a>.</p>
</body>
</html>
"#;

/// People credited with builds; some names are not ASCII, so the page is UTF-8 for real.
const AUTHORS: [&str; 8] = [
    "Zoë Marchetti",
    "Jürgen Abt",
    "Tomás Ocaña",
    "Ayşe Demir",
    "Saoirse Ní Bhriain",
    "Kofi Mensah",
    "Lin Wei",
    "Maja Kovač",
];

const CHANGES: [&str; 12] = [
    "faster scanning of very long lines",
    "no crash when the log file vanishes halfway through a read",
    "a clearer message when a mark file is damaged",
    "reads gzip-compressed logs",
    "notices log rotation by inode as well as by size",
    "new --peek option",
    "typo fixes in the manual page",
    "mark files are replaced atomically",
    "a smaller binary",
    "handles CRLF line endings",
    "works when $HOME is not set",
    "documents the mark file format",
];

/// The archive page, built on first use and kept for the life of the process.
pub(crate) fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(build)
}

fn build() -> String {
    let mut html = String::with_capacity(MIN_LEN + 4096);
    html.push_str(TOP);
    let mut number = 0;
    while html.len() < MIN_LEN {
        number += 1;
        let author = AUTHORS[(number * 3 + number / 7) % AUTHORS.len()];
        let change = CHANGES[(number * 7 + number / 11) % CHANGES.len()];
        html.push_str(&format!(
            "    <li id=\"build-{number}\">Build {number} by {author}: {change}.</li>\n"
        ));
    }
    html.push_str(BOTTOM);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_little_over_one_mebibyte() {
        let len = page().len();
        assert!(len > MIN_LEN, "{len} bytes");
        assert!(len < MIN_LEN + 4096, "{len} bytes");
    }

    #[test]
    fn is_the_same_every_time() {
        assert_eq!(page(), build());
        assert!(page().contains("Build 1 by Ayşe Demir:"));
    }
}
