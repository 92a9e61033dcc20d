//! The listing of chapter 2 that does not compile, on purpose, still does not, and the
//! compiler's message is still the one the book shows (`compile-fail/*.stderr`).
//! To refresh the message after a compiler upgrade: `TRYBUILD=overwrite cargo test -p
//! ch02-pool --test compile_fail`, then read the new message in the book.

#[test]
fn a_result_that_cannot_be_serialized_does_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile-fail/*.rs");
}
