//! Snapshots of chapter 4's `url_loader_queue`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

chapter_snapshots!("ch04", "url_loader_queue");
