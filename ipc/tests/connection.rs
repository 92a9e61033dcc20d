fork_test::main!(placeholder); fn placeholder() {}
