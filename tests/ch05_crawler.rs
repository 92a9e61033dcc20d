//! Snapshots of chapter 5's `crawler`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

chapter_snapshots!("ch05", "crawler");
