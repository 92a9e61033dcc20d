//! `cargo run -p demo-site [PORT]`: serves the demo site in the foreground (default port
//! 8000, loopback only), to open its pages in a browser or load them with the Python
//! originals in `python/`. Ctrl-C stops it.

use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let port = match std::env::args().nth(1) {
        None => 8000,
        Some(arg) => arg.parse().map_err(|_| {
            std::io::Error::other(format!("{arg:?} is not a port number (0 picks a free one)"))
        })?,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!(
        "Serving the demo site at http://{}/ (Ctrl-C stops it)",
        listener.local_addr()?
    );
    demo_site::serve(listener)
}
