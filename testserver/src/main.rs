//! `tokenforge-testserver [--port-file FILE] [--tls-dir DIR] [--max-seconds N]`: runs the
//! loopback token server on 127.0.0.1 and a free port, prints `PORT=<n>` (and writes the port
//! to FILE), and stops when killed or when N seconds have passed (default 1800), so that a
//! forgotten server never lingers. With `--tls-dir`, a second server speaks HTTPS with a
//! certificate of a test CA made at start: it writes `DIR/ca.pem` and then `DIR/port`.

use std::time::Duration;

fn main() {
    let mut port_file = None;
    let mut tls_dir: Option<String> = None;
    let mut max_seconds = 1800u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port-file" => port_file = args.next(),
            "--tls-dir" => tls_dir = args.next(),
            "--max-seconds" => max_seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(max_seconds),
            other => {
                eprintln!("tokenforge-testserver: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let server = tokenforge_testserver::Server::start().expect("bind 127.0.0.1");
    if let Some(path) = port_file {
        write_atomically(&path, &server.port().to_string());
    }
    println!("PORT={}", server.port());
    let _tls = tls_dir.map(|dir| {
        use tokenforge_testserver::pki::{server_config, TestCa};
        let ca = TestCa::new("tokenforge test CA");
        let config = server_config(&ca.server(&["127.0.0.1", "localhost"]), None).expect("TLS config");
        let tls = tokenforge_testserver::Server::start_with_tls(config).expect("bind 127.0.0.1");
        std::fs::write(format!("{dir}/ca.pem"), &ca.cert_pem).expect("write ca.pem");
        write_atomically(&format!("{dir}/port"), &tls.port().to_string());
        tls
    });
    std::thread::sleep(Duration::from_secs(max_seconds));
}

fn write_atomically(path: &str, text: &str) {
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, text).expect("write port file");
    std::fs::rename(&tmp, path).expect("rename port file");
}
