//! The snapshot of chapter 0's `why_processes`: every experiment, with the times filtered.

// The comparison takes no URLs: the chapters' snapshot macro and bad URLs are not used here.
#[allow(unused_macros)]
mod support;

const BIN: &str = env!("CARGO_BIN_EXE_why_processes");

fn threads_rayon_tokio_and_processes_on_the_same_work() {
    support::check("ch00_default", BIN, &[], None, support::as_written);
}

fn help_and_an_argument_that_is_not_text_end_without_a_panic() {
    support::help_and_an_argument_that_is_not_text_end_without_a_panic(BIN);
}

fork_test::main!(
    threads_rayon_tokio_and_processes_on_the_same_work,
    help_and_an_argument_that_is_not_text_end_without_a_panic,
);
