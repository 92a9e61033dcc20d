//! Reference solution of `ch03_until_closed`: read until the other end closes.

use ipc::{Error, Pipe, Process};
use loader::{LoadError, Page, load_url};

// ANCHOR: load_until_closed
/// Sends every URL to one child over a one-way pipe and closes it; the child loads them
/// until it sees the end, sending each result back over a second one-way pipe, which the
/// parent reads until it closes in turn.
pub fn load_until_closed(urls: &[String]) -> ipc::Result<Vec<Result<Page, LoadError>>> {
    let (mut url_rx, mut url_tx) = Pipe::one_way()?;
    let (mut result_rx, mut result_tx) = Pipe::one_way()?;
    // The parent's ends must not live on in the child: a child holding a copy of `url_tx`
    // would wait forever for the end of its own URLs.
    url_tx.set_inheritable(false);
    result_rx.set_inheritable(false);

    let mut child = Process::new(move || {
        // `recv` fails with `Closed` once every copy of `url_tx` is closed.
        while let Ok(url) = url_rx.recv::<String>() {
            if result_tx.send(&load_url(&url)).is_err() {
                break; // the parent is gone
            }
        }
        // Returning drops `result_tx`: the parent's `recv` sees `Closed` next.
    });
    child.start()?;

    for url in urls {
        url_tx.send(url)?;
    }
    url_tx.close(); // the end of the URLs

    // Spelled out here; `result_rx.iter()` is the same loop, as an iterator.
    let mut results = Vec::new();
    loop {
        match result_rx.recv() {
            Ok(result) => results.push(result),
            Err(Error::Closed) => break, // the child has sent everything and left
            Err(e) => return Err(e),
        }
    }
    child.join()?;
    Ok(results)
}
// ANCHOR_END: load_until_closed
