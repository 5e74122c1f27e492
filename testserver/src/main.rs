//! `tokenforge-testserver [--port-file FILE] [--max-seconds N]`: runs the loopback token
//! server on 127.0.0.1 and a free port, prints `PORT=<n>` (and writes the port to FILE), and
//! stops when killed or when N seconds have passed (default
//! 1800), so that a forgotten server never lingers.

use std::time::Duration;

fn main() {
    let mut port_file = None;
    let mut max_seconds = 1800u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port-file" => port_file = args.next(),
            "--max-seconds" => max_seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(max_seconds),
            other => {
                eprintln!("tokenforge-testserver: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let server = tokenforge_testserver::Server::start().expect("bind 127.0.0.1");
    if let Some(path) = port_file {
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, server.port().to_string()).expect("write port file");
        std::fs::rename(&tmp, &path).expect("rename port file");
    }
    println!("PORT={}", server.port());
    std::thread::sleep(Duration::from_secs(max_seconds));
}
