//! What may not live in shared memory does not compile: a type that holds a pointer (it
//! would point into another process's memory), and one with bit patterns that are not
//! values (a torn write could make one). The compiler's messages are in
//! `compile-fail/*.stderr`; to refresh them after a compiler upgrade:
//! `TRYBUILD=overwrite cargo test -p ipc --test compile_fail`.

#[test]
fn values_with_pointers_or_invalid_bit_patterns_are_refused() {
    trybuild::TestCases::new().compile_fail("tests/compile-fail/*.rs");
}
