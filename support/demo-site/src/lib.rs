//! The tutorial's built-in offline demo web site.
//!
//! The chapters show how to load web pages from several processes at once. So that they work
//! without a network connection and print the same thing on every machine, they load their pages
//! from this site by default: a handful of short pages about Tidemark, a made-up command-line
//! tool, held in memory and served over plain HTTP/1.1 on a loopback listener.
//!
//! A few pages exist to misbehave on purpose, so the chapters have something to handle: one
//! that is not valid UTF-8 ([`NOT_UTF8_PAGE`]), one of more than 1 MiB ([`LARGE_PAGE`]), pages
//! that answer only after a delay ([`slow_page`]) and a link that leads nowhere
//! ([`BROKEN_LINK`]).

mod archive;
mod http;
mod pages;
mod server;

pub use pages::{BROKEN_LINK, FRONT_PAGE, LARGE_PAGE, NOT_UTF8_PAGE, page_paths, slow_page};
pub use server::serve;
