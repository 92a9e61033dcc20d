//! The accept loop: one thread per connection, at most [`MAX_CONNECTIONS`] at a time.

use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{self, Incoming, Method, Response};
use crate::pages;

/// Connections served at once; when all are busy, new ones wait in the listen backlog instead
/// of being turned away, so a chapter that opens many at once still gets every page.
const MAX_CONNECTIONS: usize = 64;

/// Time a client has to send its whole request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Time one write of the response may block on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Time to wait, after answering, for the client to close its end (see [`send`]).
const LINGER: Duration = Duration::from_secs(1);

/// Most request bytes read and thrown away after answering.
const LINGER_BYTES: usize = 64 * 1024;

/// Pause after a failed `accept`, so a lasting failure does not spin the processor.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Failed `accept`s in a row (about 5 seconds of them) after which the listener is taken to
/// be broken for good.
const MAX_ACCEPT_FAILURES: u32 = 100;

/// Serves the demo site on `listener` until the process is killed, so it never returns `Ok`
/// in practice. Returns an error only if the listener itself stops working.
///
/// The caller binds the listener (normally to `127.0.0.1:0`) and so knows the address. Nothing
/// is printed; a failure on one connection just drops that connection.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    let slots = Arc::new(Slots::new(MAX_CONNECTIONS));
    let mut failures = 0;
    loop {
        let permit = Slots::acquire(&slots);
        match listener.accept() {
            Ok((stream, _)) => {
                failures = 0;
                // If no thread can be started, the closure is dropped, which closes the
                // connection and frees the slot: the client sees a reset and may retry.
                let _ = thread::Builder::new()
                    .name("demo-site connection".into())
                    .spawn(move || {
                        let _permit = permit;
                        connection(stream);
                    });
            }
            // The client gave up before it was accepted; nothing wrong with the listener.
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                        | ErrorKind::Interrupted
                ) => {}
            Err(error) => {
                failures += 1;
                if failures == MAX_ACCEPT_FAILURES {
                    return Err(error);
                }
                thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
}

/// Answers the one request on `stream`. Errors concern only this client, so they are dropped.
fn connection(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err() {
        return;
    }
    let (response, with_body) = match http::read_head(&mut stream, Instant::now() + READ_TIMEOUT) {
        Incoming::Head(head) => match http::parse_request(&head) {
            Ok(request) => (
                pages::respond(request.target),
                request.method == Method::Get,
            ),
            Err(status) => (pages::error_page(status), true),
        },
        Incoming::Reject(status) => (pages::error_page(status), true),
        Incoming::Gone => return,
    };
    let _ = send(&mut stream, &response, with_body);
}

/// Writes the response, then closes the connection gracefully.
///
/// Closing a socket that still holds unread request bytes (an oversized head, say) makes the
/// kernel reset the connection, and the reset can destroy the response before the client has
/// read it. So this signals the end of the response, then reads and discards what the client
/// still sends until it closes its end, within [`LINGER`] and [`LINGER_BYTES`].
fn send(stream: &mut TcpStream, response: &Response, with_body: bool) -> io::Result<()> {
    http::write_response(stream, response, with_body)?;
    stream.shutdown(Shutdown::Write)?;
    let deadline = Instant::now() + LINGER;
    let mut discarded = 0;
    let mut buffer = [0; 4096];
    while discarded < LINGER_BYTES {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(wait))?;
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => discarded += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// A counting semaphore: how many more connections may be served at once.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// One taken slot, given back when dropped, even if the connection thread panics.
struct Permit(Arc<Slots>);

impl Slots {
    fn new(count: usize) -> Self {
        Slots {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    /// Waits until a slot is free and takes it.
    fn acquire(slots: &Arc<Slots>) -> Permit {
        let free = slots.free.lock().unwrap_or_else(PoisonError::into_inner);
        let mut free = slots
            .freed
            .wait_while(free, |free| *free == 0)
            .unwrap_or_else(PoisonError::into_inner);
        *free -= 1;
        Permit(Arc::clone(slots))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn slots_make_the_next_connection_wait() {
        let slots = Arc::new(Slots::new(2));
        let first = Slots::acquire(&slots);
        let _second = Slots::acquire(&slots);
        let (sender, receiver) = mpsc::channel();
        let waiter = {
            let slots = Arc::clone(&slots);
            thread::spawn(move || {
                let third = Slots::acquire(&slots);
                sender.send(()).unwrap();
                drop(third);
            })
        };
        assert_eq!(
            receiver.recv_timeout(Duration::from_millis(100)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        drop(first);
        receiver.recv_timeout(Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
        assert_eq!(*slots.free.lock().unwrap(), 1);
    }
}
