//! `cargo run -p demo-site [PORT]`: serves the demo site in the foreground (default port
//! 8000, loopback only), to open its pages in a browser or load them with the Python
//! originals in `python/`. Ctrl-C stops it.

use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// Serves the demo site in the foreground, on 127.0.0.1 only, until Ctrl-C.
#[derive(Parser)]
struct Args {
    /// The port to listen on (0 picks a free one)
    #[arg(default_value_t = 8000)]
    port: u16,
}

/// An error ends the program with one line, its causes after colons (`{:#}`), and no
/// backtrace even with `RUST_BACKTRACE` set: a taken port is no bug.
fn main() -> ExitCode {
    match serve(Args::parse().port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).with_context(|| {
        format!("cannot serve on 127.0.0.1:{port} (another port: cargo run -p demo-site -- PORT)")
    })?;
    println!(
        "Serving the demo site at http://{}/ (Ctrl-C stops it)",
        listener.local_addr()?
    );
    Ok(demo_site::serve(listener)?)
}
