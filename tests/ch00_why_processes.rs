//! The snapshot of chapter 0's `why_processes`: every experiment, with the times filtered.

// The comparison takes no URLs: the chapters' snapshot macro and bad URLs are not used here.
#[allow(unused_macros)]
mod support;

const BIN: &str = env!("CARGO_BIN_EXE_why_processes");

fn threads_rayon_tokio_and_processes_on_the_same_work() {
    support::check("ch00_default", BIN, &[], None, support::as_written);
}

fork_test::main!(threads_rayon_tokio_and_processes_on_the_same_work);
