//! Reference solution of `ch03_loader_service`: a long-lived loader child.

use ipc::{Connection, Pipe, Process};
use loader::load_url;

use crate::types::{Reply, Request, Session};

// ANCHOR: serve
/// The loader child's loop: answer each request on `conn` until told to shut down.
/// Returns the child's exit code: 0 after a `Shutdown`, 1 if the pipe closed or broke first.
pub fn serve(mut conn: Connection) -> i32 {
    let mut served = 0;
    loop {
        let reply = match conn.recv::<Request>() {
            Ok(Request::Load(url)) => {
                served += 1;
                match load_url(&url) {
                    Ok(page) => Reply::Loaded(page),
                    Err(e) => Reply::Failed(e),
                }
            }
            Ok(Request::Shutdown) => {
                return match conn.send(&Reply::Bye { served }) {
                    Ok(()) => 0,
                    Err(_) => 1,
                };
            }
            // `Closed`: the parent went away without saying goodbye. Anything else: the
            // pipe is broken. Either way nobody is left to serve.
            Err(_) => return 1,
        };
        if conn.send(&reply).is_err() {
            return 1;
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: load_many
/// Starts one loader child, has it load every URL, one request at a time, then shuts it
/// down.
pub fn load_many(urls: &[String]) -> ipc::Result<Session> {
    let (mut conn, child_conn) = Pipe::new()?;
    // The parent's end stays in the parent: if the parent dies, the child sees `Closed`.
    conn.set_inheritable(false);
    let mut child = Process::with_exit_code(move || serve(child_conn));
    child.start()?;

    let mut replies = Vec::with_capacity(urls.len());
    for url in urls {
        conn.send(&Request::Load(url.clone()))?;
        replies.push(conn.recv::<Reply>()?);
    }
    conn.send(&Request::Shutdown)?;
    let served = match conn.recv::<Reply>()? {
        Reply::Bye { served } => served,
        other => panic!("the loader answered {other:?} to Shutdown"),
    };
    let exitcode = child.join()?;
    Ok(Session {
        replies,
        served,
        exitcode,
    })
}
// ANCHOR_END: load_many
