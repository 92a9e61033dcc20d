//! Does not compile, on purpose (chapter 2's pitfalls): each worker opens a file and hands
//! it to the parent. A `File` is a descriptor number that means something only in the
//! process that opened it, so it cannot travel through a pipe: it is not `Serialize`.
//! `tests/compile_fail.rs` checks that the compiler still says so, in these words.

use std::fs::File;

use ipc::Pool;

// ANCHOR: open_in_workers
fn main() -> ipc::Result<()> {
    let pool = Pool::new(2);
    let paths = ["Cargo.toml", "src/main.rs"];
    let files: Vec<File> = pool.map(|path| File::open(path).unwrap(), paths)?;
    println!("{} files open", files.len());
    Ok(())
}
// ANCHOR_END: open_in_workers
