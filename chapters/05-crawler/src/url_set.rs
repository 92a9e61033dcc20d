//! Counting URLs once each without keeping them: a URL can be 2 KiB long, and a page can
//! name a hundred thousand.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

/// A set of URLs that keeps an 8-byte hash of each, not the URL: enough to count them once
/// each. A large `HashSet<u64>` takes 10 to 21 bytes per entry (a control byte beside each
/// hash, in a table at most 7/8 full that doubles as it grows), whatever the URL's length;
/// a small one a little more. The hash has a key drawn at random for each set, so that no
/// page can choose URLs whose hashes are equal; by chance, two of a million URLs have equal
/// hashes once in about 37 million sets (the birthday bound, n² / 2⁶⁵), and the count is
/// then one short.
#[derive(Default)]
pub struct UrlSet {
    hashes: HashSet<u64>,
    key: RandomState,
}

impl UrlSet {
    /// Adds `url` to the set: true if it was not in it yet.
    pub fn insert(&mut self, url: &str) -> bool {
        self.hashes.insert(self.key.hash_one(url))
    }

    /// Whether `url` is in the set (or, by the chance above, another URL with its hash).
    pub fn contains(&self, url: &str) -> bool {
        self.hashes.contains(&self.key.hash_one(url))
    }

    /// How many URLs the set holds.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }
}
