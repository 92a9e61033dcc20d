//! Architecture invariants of `ipc` that a grep can check (see ARCHITECTURE.md).

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `ipc/src`, with its text.
fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut folders = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    files
}

/// The files under `ipc/src` that contain `needle`, by name.
fn files_naming(needle: &str) -> Vec<String> {
    let mut names: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.contains(needle))
        .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_fork_goes_through_the_fork_module() {
    assert_eq!(files_naming("unistd::fork("), ["fork.rs"]);
    assert!(files_naming("libc::fork").is_empty());
}

#[test]
fn only_the_codec_names_bincode() {
    assert_eq!(files_naming("bincode::"), ["codec.rs"]);
}
