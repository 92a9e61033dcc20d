//! Snapshots of chapter 1's `url_loader`: see `support::chapter_snapshots`.

#[macro_use]
mod support;

chapter_snapshots!("ch01", "url_loader", settle: |text| {
    support::child_lines_after(&text, "Waiting for the spawned process to exit")
});
