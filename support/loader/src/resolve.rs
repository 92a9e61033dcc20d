//! Host names to addresses within a time limit, for ureq and for the loader's own probe,
//! with an error in words where ureq's default resolver would panic.
//!
//! ureq's default resolver looks a name up on a thread it starts with `thread::spawn`,
//! which panics when no thread can be started (a low `ulimit -u`): a chapter's child would
//! print a panic instead of a one-line error. Here an IP address needs no lookup (and no
//! thread), and a thread that cannot be started is an error.
//!
//! ureq's `Resolver` trait lives in its `unversioned` module, outside its promise of
//! semantic versions: `Cargo.lock` pins the ureq it was written for, and a newer ureq may
//! need this file changed.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// The addresses of `host` (a name, or an IP address, IPv6 in brackets or not) at `port`.
/// A name is looked up on a thread of its own, so that the wait can end after `timeout`
/// (the system's lookup cannot be interrupted); the error is `TimedOut` then.
pub(crate) fn addresses(host: &str, port: u16, timeout: Duration) -> io::Result<Vec<SocketAddr>> {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if let Ok(ip) = literal.unwrap_or(host).parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (send, receive) = mpsc::sync_channel(1);
    let name = format!("{host}:{port}");
    thread::Builder::new()
        .name("resolve".into())
        .spawn(move || send.send(name.to_socket_addrs().map(Vec::from_iter)))
        .map_err(|e| {
            let message = format!("no thread could be started to look the host name up: {e}");
            io::Error::new(e.kind(), message)
        })?;
    match receive.recv_timeout(timeout) {
        Ok(addresses) => addresses,
        Err(RecvTimeoutError::Timeout) => Err(io::ErrorKind::TimedOut.into()),
        Err(RecvTimeoutError::Disconnected) => Err(io::Error::other("the lookup thread died")),
    }
}

/// ureq's resolver for the loader's agent: [`addresses`], so that an IP address starts no
/// thread and a failure to start one is an error, not a panic.
#[derive(Debug, Default)]
pub(crate) struct NoPanicResolver;

impl Resolver for NoPanicResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let default_port = match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        };
        let (Some(host), Some(port)) = (uri.host(), uri.port_u16().or(default_port)) else {
            return Err(ureq::Error::BadUri(format!("{uri}: no host, or no port")));
        };
        let found = addresses(host, port, *timeout.after).map_err(|e| match e.kind() {
            io::ErrorKind::TimedOut => ureq::Error::Timeout(timeout.reason),
            _ => ureq::Error::Io(e),
        })?;
        let mut result = self.empty();
        for address in config.ip_family().keep_wanted(found.into_iter()) {
            if result.try_push(address).is_err() {
                break;
            }
        }
        if result.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(result)
        }
    }
}
