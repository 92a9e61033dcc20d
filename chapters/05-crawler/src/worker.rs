//! The worker processes: what they are asked, what they answer, and their loop.

use ipc::Queue;
use loader::links::{self, Link};
use loader::{Fetched, LoadError, Loader, Options};
use serde::{Deserialize, Serialize};

// ANCHOR: messages
/// What the parent asks a worker to do.
#[derive(Serialize, Deserialize)]
pub enum Task {
    /// Load the site's `robots.txt` from this URL, as text.
    Robots(String),
    /// Load a page; find its links only if `links` (pages at the last depth need none).
    Page { url: String, links: bool },
}

/// What a worker found at one URL, or why it failed.
#[derive(Serialize, Deserialize)]
pub struct Found {
    pub url: String,
    pub worker: u32,
    pub result: Result<Loaded, LoadError>,
}

/// What a load gave: never the page itself, only what the parent needs of it.
#[derive(Serialize, Deserialize)]
pub enum Loaded {
    /// An HTML page: its size, and its links on the same site, each once.
    Page { bytes: usize, links: Vec<Link> },
    /// A redirect, not followed: where it leads.
    Redirect(String),
    /// Not HTML: its media type. Its body was not read.
    Other(String),
    /// The text of `robots.txt`.
    Text(String),
}
// ANCHOR_END: messages

// ANCHOR: worker
/// A worker: take tasks until the task queue is closed; report what each URL held.
pub fn crawl_worker(tasks: &mut Queue, found: &mut Queue, options: Options) -> ipc::Result<()> {
    // One loader per worker: its connections and certificates serve every page.
    let loader = Loader::new(options);
    for task in tasks.iter::<Task>() {
        let (url, result) = match task? {
            Task::Robots(url) => {
                let text = loader.load_robots(&url).map(Loaded::Text);
                (url, text)
            }
            Task::Page { url, links } => {
                let loaded = loader.fetch(&url).map(|fetched| match fetched {
                    Fetched::Html(page) => Loaded::Page {
                        bytes: page.html.len(),
                        links: if links {
                            links::same_site(&url, &page.html)
                        } else {
                            Vec::new()
                        },
                    },
                    Fetched::Redirect(to) => Loaded::Redirect(to),
                    Fetched::Other(media_type) => Loaded::Other(media_type),
                });
                (url, loaded)
            }
        };
        let worker = std::process::id();
        found.put(&Found {
            url,
            worker,
            result,
        })?;
    }
    Ok(()) // the task queue is closed and empty
}
// ANCHOR_END: worker
