//! The loader's TLS errors, against TLS servers on 127.0.0.1 with certificates made here.
//!
//! Which certificates are trusted is read from the environment (`SSL_CERT_FILE`), and a
//! program should not change its own environment once threads may be running. So this test
//! makes the certificates, then runs itself again with `SSL_CERT_FILE` naming its own
//! authority's certificate; the second run holds the checks.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::{env, fs, thread};

use loader::{LoadError, TlsProblem, load_url};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Set in the second run: the folder with the certificates.
const CERTS: &str = "LOADER_TLS_TEST_CERTS";

fn main() {
    match env::var_os(CERTS) {
        Some(dir) => checks(Path::new(&dir)),
        None => run_with_trusted_authority(),
    }
}

fn run_with_trusted_authority() {
    let dir = env::temp_dir().join(format!("loader-tls-test-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let authority = authority("Loader test authority");
    let stranger = authority_stranger();
    let own_authority = self_signed_authority(&dir, "self-signed");
    // Trusted: the authority, and the self-signed authority too (as `curl --cacert` would).
    fs::write(dir.join("ca.pem"), authority.pem() + &own_authority).unwrap();
    leaf(&dir, "good", &authority, false);
    leaf(&dir, "expired", &authority, true);
    leaf(&dir, "unknown", &stranger, false);
    let status = Command::new(env::current_exe().unwrap())
        .env(CERTS, &dir)
        .env("SSL_CERT_FILE", dir.join("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .status()
        .unwrap();
    fs::remove_dir_all(&dir).unwrap();
    assert!(status.success(), "the checks failed: {status}");
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn authority_stranger() -> CertifiedIssuer<'static, KeyPair> {
    authority("Nobody trusts this one")
}

/// A certificate for `localhost` that is its own authority (`openssl req -x509` makes
/// these): `NAME.pem` and `NAME.key`. Returns the certificate.
fn self_signed_authority(dir: &Path, name: &str) -> String {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    cert.pem()
}

/// A certificate for `localhost`, signed by `issuer`: `NAME.pem` and `NAME.key`.
fn leaf(dir: &Path, name: &str, issuer: &CertifiedIssuer<'static, KeyPair>, expired: bool) {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

/// A TLS server with certificate `NAME` from `dir`, on a free port; answers "ok".
fn tls_server(dir: &Path, name: &str) -> u16 {
    let cert_path: PathBuf = dir.join(format!("{name}.pem"));
    let certs = vec![CertificateDer::from_pem_file(cert_path).unwrap()];
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            thread::spawn(move || answer_ok(tcp, config));
        }
    });
    port
}

fn answer_ok(tcp: TcpStream, config: Arc<rustls::ServerConfig>) {
    let connection = rustls::ServerConnection::new(config).unwrap();
    let mut stream = BufReader::new(rustls::StreamOwned::new(connection, tcp));
    let mut line = String::new();
    // Up to the blank line that ends the request head; a failed handshake ends it early.
    while stream.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
    let _ = stream
        .get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let stream = stream.get_mut();
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

/// A plain HTTP server: it answers anything with a 400, as web servers do to a TLS hello.
fn plain_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    port
}

/// A plain HTTP server that redirects anything to `location`.
fn redirecting_to(location: &str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let _ = tcp.write_all(answer.as_bytes());
        }
    });
    port
}

fn checks(dir: &Path) {
    let good = tls_server(dir, "good");
    let page = load_url(&format!("https://localhost:{good}/")).expect("SSL_CERT_FILE is trusted");
    assert_eq!(page.html, "ok");
    let mut passed = 1;

    let expect = |url: String, expected: LoadError, message: &str| {
        let error = load_url(&url).unwrap_err();
        assert_eq!(error, expected);
        assert_eq!(error.to_string(), format!("{url}: {message}"));
    };
    // A TLS error of a URL loaded with no redirect.
    let tls = |url: &str, problem| LoadError::Tls {
        url: url.into(),
        problem,
        redirected_to: None,
    };
    let url = format!("https://127.0.0.1:{good}/");
    let problem = TlsProblem::WrongName {
        expected: "127.0.0.1".into(),
        presented: vec!["localhost".into()],
    };
    expect(
        url.clone(),
        tls(&url, problem),
        "TLS: the certificate is for localhost, not for 127.0.0.1",
    );
    passed += 1;

    let url = format!("https://localhost:{}/", tls_server(dir, "expired"));
    let problem = TlsProblem::Expired;
    expect(
        url.clone(),
        tls(&url, problem),
        "TLS: the certificate has expired",
    );
    passed += 1;

    let url = format!("https://localhost:{}/", tls_server(dir, "unknown"));
    let problem = TlsProblem::UnknownIssuer;
    let message = "TLS: the certificate is not trusted: unknown issuer (trusted are \
                   SSL_CERT_FILE, SSL_CERT_DIR, or the system's certificates)";
    expect(url.clone(), tls(&url, problem), message);
    passed += 1;

    // Trusted, but an authority's certificate: rustls refuses it as a server's, and
    // pointing at SSL_CERT_FILE would not help.
    let url = format!("https://localhost:{}/", tls_server(dir, "self-signed"));
    let problem = TlsProblem::AuthorityAsServer;
    let message = "TLS: the certificate is a certificate authority's, used as the server's \
                   own (self-signed with CA:TRUE, as `openssl req -x509` makes it): rustls \
                   takes a server's certificate only if an authority signed it";
    expect(url.clone(), tls(&url, problem), message);
    passed += 1;

    let url = format!("https://localhost:{}/", plain_server());
    let message = "the server does not speak TLS on this port: try http://";
    expect(
        url.clone(),
        LoadError::TlsToPlainPort {
            url,
            redirected_to: None,
        },
        message,
    );
    passed += 1;

    // A redirect from http:// to https:// on a port that speaks plain HTTP: the URL given
    // was right, the redirect's target is the one that failed.
    let to = format!("https://localhost:{}/a.html", plain_server());
    let url = format!("http://localhost:{}/tohttps", redirecting_to(&to));
    let message = format!("redirected to {to}, where the server does not speak TLS");
    let redirected_to = Some(to);
    expect(
        url.clone(),
        LoadError::TlsToPlainPort { url, redirected_to },
        &message,
    );
    passed += 1;

    // A redirect to a server whose certificate is refused: the error says which server.
    let to = format!("https://localhost:{}/", tls_server(dir, "expired"));
    let url = format!("http://localhost:{}/", redirecting_to(&to));
    let message = format!("TLS at {to}, where a redirect led: the certificate has expired");
    let expected = LoadError::Tls {
        url: url.clone(),
        problem: TlsProblem::Expired,
        redirected_to: Some(to),
    };
    expect(url, expected, &message);
    passed += 1;

    let url = format!("http://localhost:{good}/");
    let message = "the server speaks TLS on this port: try https://";
    expect(
        url.clone(),
        LoadError::HttpToTlsPort {
            url,
            redirected_to: None,
        },
        message,
    );
    passed += 1;

    println!("tls: {passed} passed, 0 failed");
}
