//! `SSL_CERT_FILE` is honoured, as curl honours it: a CA named there is trusted by fetchers
//! without a CA file of their own. A test binary of its own, since the system trust store is
//! read once per process.

use tokenforge::FetcherBuilder;
use tokenforge_testserver::fleet::TempDir;
use tokenforge_testserver::pki::{server_config, TestCa};
use tokenforge_testserver::Server;

#[test]
fn a_ca_in_ssl_cert_file_is_trusted() {
    let dir = TempDir::new("ssl-cert-file");
    let ca = TestCa::new("tokenforge test CA");
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &ca.cert_pem).unwrap();
    std::env::set_var("SSL_CERT_FILE", &path);
    let server = Server::start_with_tls(server_config(&ca.server(&["127.0.0.1"]), None).unwrap()).unwrap();
    let t = FetcherBuilder::body("env", &server.url(), "/echo").build().unwrap().fetch(None).unwrap();
    assert_eq!(t.access_token().as_str(), "echo-token");
}
