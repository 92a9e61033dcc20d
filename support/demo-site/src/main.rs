//! `cargo run -p demo-site [PORT]`: serves the demo site in the foreground (default port
//! 8000, loopback only), to open its pages in a browser or load them with the Python
//! originals in `python/`. Ctrl-C stops it.

use std::net::TcpListener;

use anyhow::Context;
use clap::Parser;

/// Serves the demo site in the foreground, on 127.0.0.1 only, until Ctrl-C.
#[derive(Parser)]
struct Args {
    /// The port to listen on (0 picks a free one)
    #[arg(default_value_t = 8000)]
    port: u16,
}

fn main() -> anyhow::Result<()> {
    let port = Args::parse().port;
    let listener = TcpListener::bind(("127.0.0.1", port)).with_context(|| {
        format!("cannot serve on 127.0.0.1:{port} (another port: cargo run -p demo-site -- PORT)")
    })?;
    println!(
        "Serving the demo site at http://{}/ (Ctrl-C stops it)",
        listener.local_addr()?
    );
    Ok(demo_site::serve(listener)?)
}
