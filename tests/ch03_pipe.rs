//! Snapshots of chapter 3's `url_load_pipe`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

chapter_snapshots!("ch03", "url_load_pipe");
