//! TLS against real TLS servers with a private test CA: trust through a CA file, the clear
//! errors of an unknown issuer, another host name and an expired certificate, and mutual
//! TLS (a server that requires a client certificate accepts ours and refuses a request
//! without one; `tls_client_auth` authenticates by the certificate alone).

use std::path::{Path, PathBuf};
use tokenforge::oauth2::ClientAuthMethod;
use tokenforge::{FetcherBuilder, ResultCode};
use tokenforge_testserver::fleet::TempDir;
use tokenforge_testserver::pki::{server_config, Issued, TestCa};
use tokenforge_testserver::Server;

/// Writes `text` to `dir/name` and returns the path.
fn file(dir: &TempDir, name: &str, text: &str) -> String {
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn https(cert: &Issued, client_ca: Option<&TestCa>) -> Server {
    Server::start_with_tls(server_config(cert, client_ca).unwrap()).unwrap()
}

/// A body fetcher of `/echo` on `server`, trusting `ca_file`.
fn echo(server: &Server, url_host: &str, ca_file: Option<&str>) -> FetcherBuilder {
    let base = server.url().replace("127.0.0.1", url_host);
    let mut b = FetcherBuilder::body("tls", &base, "/echo");
    if let Some(ca) = ca_file {
        b.ca_file(ca).unwrap();
    }
    b.retry(1, 0).unwrap();
    b
}

#[test]
fn a_private_ca_is_trusted_through_ca_file_and_nothing_else() {
    let dir = TempDir::new("tls-ca");
    let ca = TestCa::new("tokenforge test CA");
    let ca_file = file(&dir, "ca.pem", &ca.cert_pem);
    let server = https(&ca.server(&["127.0.0.1", "localhost"]), None);
    let t = echo(&server, "127.0.0.1", Some(&ca_file)).build().unwrap().fetch(None).unwrap();
    assert_eq!(t.access_token().as_str(), "echo-token");
    let t = echo(&server, "localhost", Some(&ca_file)).build().unwrap().fetch(None).unwrap();
    assert_eq!(t.access_token().as_str(), "echo-token", "by host name too");

    // Without the CA file the system store does not know the test CA.
    let e = echo(&server, "127.0.0.1", None).build().unwrap().fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Tls, "{e}");
    assert!(e.message().contains("127.0.0.1") && e.message().contains("unknown issuer"), "{}", e.message());
    assert!(!e.is_retryable());

    // Another CA's file does not help either.
    let other = TestCa::new("another CA");
    let other_file = file(&dir, "other.pem", &other.cert_pem);
    let e = echo(&server, "127.0.0.1", Some(&other_file)).build().unwrap().fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Tls);
    assert!(e.message().contains("unknown issuer"), "{}", e.message());
}

#[test]
fn a_wrong_host_name_and_an_expired_certificate_each_say_so() {
    let dir = TempDir::new("tls-bad");
    let ca = TestCa::new("tokenforge test CA");
    let ca_file = file(&dir, "ca.pem", &ca.cert_pem);
    let elsewhere = https(&ca.server(&["auth.example.com"]), None);
    let e = echo(&elsewhere, "127.0.0.1", Some(&ca_file)).build().unwrap().fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Tls, "{e}");
    assert!(e.message().contains("127.0.0.1") && e.message().contains("another host name"), "{}", e.message());

    let expired = https(&ca.expired_server(&["127.0.0.1"]), None);
    let e = echo(&expired, "127.0.0.1", Some(&ca_file)).build().unwrap().fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Tls, "{e}");
    assert!(e.message().contains("expired"), "{}", e.message());

    // Turning verification off is explicit, and per fetcher.
    let mut off = echo(&expired, "127.0.0.1", None);
    off.verify_tls(false).unwrap();
    assert!(off.build().unwrap().fetch(None).is_ok());
}

#[test]
fn bad_ca_and_certificate_files_are_refused_when_built() {
    let dir = TempDir::new("tls-files");
    let not_pem = file(&dir, "junk.pem", "not a certificate");
    let mut b = FetcherBuilder::body("f", "https://127.0.0.1:1", "/t");
    b.ca_file(&not_pem).unwrap();
    let e = b.build().unwrap_err();
    assert_eq!(e.code(), ResultCode::InvalidArgument);
    assert!(e.message().contains("junk.pem") && e.message().contains("no certificate"), "{}", e.message());
    let mut b = FetcherBuilder::body("f", "https://127.0.0.1:1", "/t");
    b.ca_file(Path::new("/nonexistent/ca.pem").to_str().unwrap()).unwrap();
    assert!(b.build().unwrap_err().message().contains("/nonexistent/ca.pem"));
    let ca = TestCa::new("CA");
    let client = ca.client("svc");
    let cert = file(&dir, "client.pem", &client.cert_pem);
    let mut b = FetcherBuilder::body("f", "https://127.0.0.1:1", "/t");
    b.client_cert(&cert, &cert).unwrap(); // the certificate file has no key
    let e = b.build().unwrap_err();
    assert!(e.message().contains("no private key"), "{}", e.message());
}

#[test]
fn mutual_tls_presents_our_certificate_and_tls_client_auth_needs_nothing_else() {
    let dir = TempDir::new("tls-mtls");
    let ca = TestCa::new("tokenforge test CA");
    let ca_file = file(&dir, "ca.pem", &ca.cert_pem);
    let client = ca.client("svc");
    let cert = file(&dir, "client.pem", &client.cert_pem);
    let key = file(&dir, "client.key", &client.key_pem);
    let server = https(&ca.server(&["127.0.0.1"]), Some(&ca));

    let mut with = echo(&server, "127.0.0.1", Some(&ca_file));
    with.client_cert(&cert, &key).unwrap();
    let t = with.build().unwrap().fetch(None).unwrap();
    assert_eq!(t.extra("header.x-client-certificate").map(|v| v.as_str()), Some("present"));

    let e = echo(&server, "127.0.0.1", Some(&ca_file)).build().unwrap().fetch(None).unwrap_err();
    assert!(matches!(e.code(), ResultCode::Tls | ResultCode::Transport), "{e}");
    assert!(e.message().contains("certificate"), "a request without one is refused: {}", e.message());

    // tls_client_auth: the certificate is the client's only credential.
    let mut cc = FetcherBuilder::client_credentials("svc", &format!("{}/oauth/token", server.url()), "svc", "", None);
    cc.ca_file(&ca_file).unwrap();
    cc.client_cert(&cert, &key).unwrap();
    cc.client_auth(ClientAuthMethod::Tls).unwrap();
    let t = cc.build().unwrap().fetch(None).unwrap();
    assert_eq!(t.extra("client_auth").map(|v| v.as_str()), Some("tls"));
    assert_eq!(t.extra("client").map(|v| v.as_str()), Some("svc"));
}
