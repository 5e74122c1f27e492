//! `make bench`: one token fetch through the C ABI against nginx on loopback, side by side
//! with the same POST written to a kept-alive raw socket (the physical floor: one write, one
//! read) and with a bare ureq request, as ratios measured in one run. Prints figures;
//! asserts nothing (the targets are in the issue). Needs nginx (the Makefile installs it).

use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::ptr;
use std::time::{Duration, Instant};
use tokenforge::ffi::fetcher::*;
use tokenforge::ffi::fetcher_builder::*;
use tokenforge::ffi::token::*;
use tokenforge::ResultCode;
use tokenforge_testserver::fleet::TempDir;

const BODY: &str = r#"{"access_token":"eyJhbGciOiJSUzI1NiJ9.a-token-of-typical-length-for-a-jwt-0123456789abcdef","token_type":"Bearer","expires_in":3600}"#;
const FORM: &str = "grant_type=client_credentials&client_id=bench";

/// nginx on a free loopback port with a token endpoint, stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Nginx {
    fn start() -> Nginx {
        let dir = TempDir::new("nginx");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = format!(
            "worker_processes 1;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  keepalive_requests 100000000;\n  keepalive_timeout 600s;\n\
               server {{\n    listen 127.0.0.1:{port};\n    location = /token {{\n      default_type application/json;\n\
                   return 200 '{BODY}';\n    }}\n  }}\n}}\n",
            d = dir.path().display()
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .args(["-e", "stderr", "-p"])
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .spawn()
            .expect("nginx is not installed: `make bench` installs the Debian package nginx");
        let end = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, port, _dir: dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its worker too.
        // SAFETY: the pid is our child, not yet waited for.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// The floor: the request written in one `write` on a kept-alive socket, the answer read
/// until its Content-Length is complete.
struct RawSocket {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl RawSocket {
    fn connect(port: u16) -> RawSocket {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        let request = format!(
            "POST /token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{FORM}",
            FORM.len()
        )
        .into_bytes();
        RawSocket { stream, request, buf: vec![0; 4096] }
    }

    fn post(&mut self) {
        self.stream.write_all(&self.request).unwrap();
        let mut have = 0;
        loop {
            let n = self.stream.read(&mut self.buf[have..]).unwrap();
            assert!(n > 0, "nginx closed the connection");
            have += n;
            let text = &self.buf[..have];
            if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&text[..end]).unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap();
                if have >= end + 4 + length {
                    assert_eq!(length, BODY.len());
                    return;
                }
            }
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let nginx = Nginx::start();
    let url = CString::new(format!("http://127.0.0.1:{}", nginx.port)).unwrap();
    // SAFETY: the arguments are live objects of this bench, or NULL where the call allows it.
    let f = unsafe {
        let b = tokenforge_fetcher_builder_new_client_credentials(
            c"bench".as_ptr(),
            CString::new(format!("http://127.0.0.1:{}/token", nginx.port)).unwrap().as_ptr(),
            c"bench".as_ptr(),
            c"secret".as_ptr(),
            ptr::null(),
        );
        assert!(!b.is_null());
        tokenforge_fetcher_builder_set_client_auth(b, c"client_secret_post".as_ptr());
        let mut f = ptr::null_mut();
        assert_eq!(tokenforge_fetcher_builder_build(b, &mut f, ptr::null_mut()), ResultCode::Ok);
        f
    };
    drop(url);
    let fetch = || {
        let mut t = ptr::null_mut();
        // SAFETY: f is live; t is writable.
        let rc = unsafe { tokenforge_fetcher_fetch(f, ptr::null(), &mut t, ptr::null_mut()) };
        assert_eq!(rc, ResultCode::Ok);
        // SAFETY: t is the token just fetched.
        unsafe { tokenforge_token_free(t) };
    };
    let mut raw = RawSocket::connect(nginx.port);
    // ureq as it comes, and ureq on tokenforge's TCP transport (src/tcp.rs): the floor of
    // the HTTP client itself.
    let plain: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let ours = tokenforge::http::agent(ureq::tls::TlsConfig::default());
    let target = format!("http://127.0.0.1:{}/token", nginx.port);
    let bare = |agent: &ureq::Agent| {
        let mut r = agent
            .post(&target)
            .header("content-type", "application/x-www-form-urlencoded")
            .send(FORM.as_bytes())
            .unwrap();
        assert_eq!(r.body_mut().read_to_vec().unwrap().len(), BODY.len());
    };
    // `-- only tokenforge|raw|ureq|ureq-ours`: 1000 (or $TF_BENCH_N) requests of one client, for `strace -c`
    // or `perf`.
    let args: Vec<String> = std::env::args().collect();
    if let Some(which) = args.iter().position(|a| a == "only").and_then(|i| args.get(i + 1)) {
        let n: u32 = std::env::var("TF_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
        let usage = || {
            // SAFETY: an all-zero rusage is valid, and getrusage fills it.
            let mut u: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: u is writable.
            unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
            let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
            (us(u.ru_utime), us(u.ru_stime), Instant::now())
        };
        let before = usage();
        for _ in 0..n {
            match which.as_str() {
                "tokenforge" => fetch(),
                "raw" => raw.post(),
                "ureq-ours" => bare(&ours),
                _ => bare(&plain),
            }
        }
        let after = usage();
        println!(
            "{which}: per request {:.1} us elapsed, this thread {:.1} us user + {:.1} us system",
            after.2.duration_since(before.2).as_secs_f64() * 1e6 / f64::from(n),
            (after.0 - before.0) / f64::from(n),
            (after.1 - before.1) / f64::from(n)
        );
        // SAFETY: f is live and not used afterwards.
        unsafe { tokenforge_fetcher_free(f) };
        return;
    }
    const ROUNDS: usize = 12;
    const PER_ROUND: usize = 1_000;
    // Rounds of back-to-back requests of each client in turn, in a rotating order, so that
    // machine noise hits all alike; each request timed on its own, and the medians compared
    // (the first round warms up).
    let mut times: [Vec<f64>; 4] = Default::default();
    for round in 0..ROUNDS + 1 {
        for k in 0..4 {
            let which = (round + k) % 4;
            for _ in 0..PER_ROUND {
                let start = Instant::now();
                match which {
                    0 => fetch(),
                    1 => raw.post(),
                    2 => bare(&plain),
                    _ => bare(&ours),
                }
                if round > 0 {
                    times[which].push(start.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let m: Vec<f64> = times.iter_mut().map(median).collect();
    println!("one token fetch from nginx over a kept-alive loopback connection (medians of {} requests each, in {ROUNDS} interleaved rounds):", ROUNDS * PER_ROUND);
    println!("  raw socket POST (one write, one read)    {:6.1} us", m[1]);
    println!("  tokenforge_fetcher_fetch                 {:6.1} us  ratio to raw {:.3}", m[0], m[0] / m[1]);
    println!("  bare ureq, its own transport             {:6.1} us  ratio to raw {:.3}", m[2], m[2] / m[1]);
    println!("  bare ureq on tokenforge's transport      {:6.1} us  ratio to raw {:.3}", m[3], m[3] / m[1]);
    // SAFETY: f is live and not used afterwards.
    unsafe { tokenforge_fetcher_free(f) };
}
