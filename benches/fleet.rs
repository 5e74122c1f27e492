//! `make bench`, part three: tokens shared by processes. For the file store and for a real
//! redis-server: N processes (1, 4, 16) on one store ask for a token that none of them has
//! (one expiry), several rounds; prints the upstream requests per round (target 1) and the
//! p99 time to token. Then the cached get with a shared store configured against the same
//! get with an in-memory store (target: within 5%). Prints figures; asserts nothing.

use std::ffi::CString;
use std::ptr;
use std::time::{Duration, Instant};
use tokenforge::ffi::pipeline::*;
use tokenforge::ffi::token::*;
use tokenforge::ResultCode;
use tokenforge_testserver::fleet::{processes, Redis, TempDir};
use tokenforge_testserver::Server;

const ROUNDS: usize = 5;

fn pipeline(json: &str) -> *mut tokenforge_pipeline {
    let json = CString::new(json).unwrap();
    let mut p = ptr::null_mut();
    // SAFETY: json is NUL-terminated and p writable.
    let rc = unsafe { tokenforge_pipeline_from_json(json.as_ptr(), &mut p, ptr::null_mut()) };
    assert_eq!(rc, ResultCode::Ok, "pipeline JSON");
    p
}

fn get(p: *const tokenforge_pipeline) -> bool {
    let mut t = ptr::null_mut();
    // SAFETY: p is a live pipeline, the step name NUL-terminated, t writable and freed once.
    unsafe {
        let ok = tokenforge_pipeline_get(p, c"t".as_ptr(), &mut t, ptr::null_mut()) == ResultCode::Ok;
        tokenforge_token_free(t);
        ok
    }
}

fn config(server: &Server, storage: &str, endpoint: &str) -> String {
    format!(
        r#"{{"background_refresh":false,"storage":{storage},"steps":[{{"name":"t","kind":"body","base_url":"{}","endpoint":"{endpoint}"}}]}}"#,
        server.url()
    )
}

fn fleet(server: &Server, label: &str, storage: &str, wipe: &dyn Fn()) {
    for n in [1usize, 4, 16] {
        let endpoint = "/slow/50";
        let path = endpoint;
        let mut requests = Vec::new();
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            wipe();
            let before = server.hits(path);
            let got = processes(n, |_| {
                let p = pipeline(&config(server, storage, endpoint));
                let ok = get(p);
                // SAFETY: p came from tokenforge_pipeline_from_json and is not used again.
                unsafe { tokenforge_pipeline_free(p) };
                if ok {
                    "ok".to_string()
                } else {
                    "failed".to_string()
                }
            });
            requests.push(server.hits(path) - before);
            times.extend(got.iter().filter(|g| g.0 == "ok").map(|g| g.1));
            assert!(got.iter().all(|g| g.0 == "ok"), "{got:?}");
        }
        times.sort();
        let p99 = times[((times.len() as f64 * 0.99).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "fleet, {label} store, {n:>2} process(es), {ROUNDS} expiries: upstream requests per expiry {:?}; p99 time to token {:.0} ms (endpoint answers in 50 ms)",
            requests,
            p99.as_secs_f64() * 1e3
        );
    }
}

/// ns per cached get + free on one thread, best of 7 rounds of 1 M.
fn cached(p: *const tokenforge_pipeline) -> f64 {
    assert!(get(p));
    let mut best = f64::MAX;
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..1_000_000 {
            get(p);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / 1e6);
    }
    best
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let server = Server::start().expect("loopback server");
    let dir = TempDir::new("bench-fleet");
    let store_dir = dir.path().join("store");
    let file = format!(r#"{{"kind":"file","dir":"{}"}}"#, store_dir.display());
    let wipe_files = || {
        let _ = std::fs::remove_dir_all(&store_dir);
    };
    fleet(&server, "file", &file, &wipe_files);
    let redis = Redis::start();
    let redis_json = format!(r#"{{"kind":"redis","url":"{}"}}"#, redis.url());
    let wipe_redis = || {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
        std::io::Write::write_all(&mut c, b"FLUSHALL\r\n").unwrap();
        let mut buf = [0u8; 16];
        let _ = std::io::Read::read(&mut c, &mut buf);
    };
    fleet(&server, "redis", &redis_json, &wipe_redis);

    let memory = pipeline(&config(&server, r#"{"kind":"memory"}"#, "/echo"));
    let on_file = pipeline(&config(&server, &file, "/echo"));
    let on_redis = pipeline(&config(&server, &redis_json, "/echo"));
    let (m, f, r) = (cached(memory), cached(on_file), cached(on_redis));
    println!(
        "cached get + free, 1 thread: {m:.1} ns in memory, {f:.1} ns on the file store (ratio {:.3}), {r:.1} ns on Redis (ratio {:.3})",
        f / m,
        r / m
    );
    for p in [memory, on_file, on_redis] {
        // SAFETY: each came from tokenforge_pipeline_from_json and is not used again.
        unsafe { tokenforge_pipeline_free(p) };
    }
    std::thread::sleep(Duration::from_millis(10));
}
