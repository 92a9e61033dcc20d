//! Snapshots of chapter 2's `url_loader_pool`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

chapter_snapshots!("ch02", "url_loader_pool");
