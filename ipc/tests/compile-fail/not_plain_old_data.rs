// Each of these would put in shared memory what another process cannot read.
fn main() {
    let _ = ipc::Value::new(String::from("a pointer into this process's heap"));
    let _ = ipc::Array::<&'static str>::new(3);
    let _ = ipc::RawValue::new(Box::new(7u8));
    let _ = ipc::Value::new(std::ptr::null::<u8>());
    let _ = ipc::Value::new(true); // a torn write could leave a byte that is no bool
}
