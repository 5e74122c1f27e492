//! `make bench`, part two: a pipeline under load against a failing token endpoint, through the
//! C ABI. 8 threads each call `tokenforge_pipeline_get` 5,000 times a second; tokens live
//! 600 ms with a 300 ms refresh margin; each fetch may make 4 attempts; the endpoint fails 30%
//! of attempts (half 503 with an OAuth error body, a quarter a dropped connection, a quarter
//! an answer held 0.3 s). Measured for one step and for a chain a -> b -> c (gets ask for the
//! last step), then through three 4 s outages. Prints figures; asserts nothing.
//!
//! `TOKENFORGE_LOAD_SECONDS` (default 60) sets the length of the fault-mix phase.

use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tokenforge::ffi::pipeline::*;
use tokenforge::ffi::token::*;
use tokenforge::ResultCode;
use tokenforge_testserver::Server;

const THREADS: usize = 8;
const PER_SECOND: u64 = 5_000;
const OUTAGE: Duration = Duration::from_secs(4);

/// A pipeline pointer that may cross threads (the pipeline is thread-safe).
#[derive(Clone, Copy)]
struct Shared(*const tokenforge_pipeline);
// SAFETY: a tokenforge_pipeline may be used from many threads at once (header, thread safety).
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

/// One get: when it started (since the phase began), how long it took, whether it failed.
#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    took: Duration,
    ok: bool,
}

fn step_json(name: &str, server: &Server, depends_on: Option<&str>) -> String {
    let deps = match depends_on {
        Some(d) => {
            format!(r#","depends_on":["{d}"],"request_headers":{{"Authorization":"{{{{{d}.authorization}}}}"}}"#)
        }
        None => String::new(),
    };
    format!(
        r#"{{"name":"{name}","kind":"body","base_url":"{}","endpoint":"/faulty/{name}","ttl_ms":600,"timeout_ms":2000,"retry":{{"max_attempts":4,"base_delay_ms":10}}{deps}}}"#,
        server.url()
    )
}

fn pipeline(server: &Server, chain: bool) -> *mut tokenforge_pipeline {
    let steps = if chain {
        [step_json("a", server, None), step_json("b", server, Some("a")), step_json("c", server, Some("b"))].join(",")
    } else {
        step_json("one", server, None)
    };
    let json = CString::new(format!(r#"{{"refresh_margin_ms":300,"steps":[{steps}]}}"#)).unwrap();
    let mut p = ptr::null_mut();
    // SAFETY: json is NUL-terminated, p is writable.
    let rc = unsafe { tokenforge_pipeline_from_json(json.as_ptr(), &mut p, ptr::null_mut()) };
    assert_eq!(rc, ResultCode::Ok, "pipeline JSON");
    p
}

fn get(p: Shared, step: &CStr) -> bool {
    let mut t = ptr::null_mut();
    // SAFETY: p is a live pipeline, step NUL-terminated, t writable; t is freed once.
    unsafe {
        let rc = tokenforge_pipeline_get(p.0, step.as_ptr(), &mut t, ptr::null_mut());
        tokenforge_token_free(t);
        rc == ResultCode::Ok
    }
}

/// Runs THREADS paced callers (each with room for `length` of samples, touched beforehand so
/// that recording them does not grow the resident set) until `control`, run on this thread
/// with the phase's start, returns. Returns every sample.
fn phase(p: Shared, step: &'static CStr, length: Duration, control: impl FnOnce(Instant)) -> Vec<Sample> {
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let start = Arc::new(parking_lot::Mutex::new(None::<Instant>));
    let capacity = (PER_SECOND * length.as_secs().max(1) * 11 / 10) as usize;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (stop, barrier, start) = (stop.clone(), barrier.clone(), start.clone());
            std::thread::spawn(move || {
                let blank = Sample { at: Duration::ZERO, took: Duration::ZERO, ok: false };
                let mut samples = vec![blank; capacity];
                samples.clear();
                barrier.wait();
                let begin = start.lock().expect("set before the barrier");
                let interval = Duration::from_nanos(1_000_000_000 / PER_SECOND);
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let due = interval * n;
                    let now = begin.elapsed();
                    if now < due {
                        std::thread::sleep(due - now);
                    }
                    let at = begin.elapsed();
                    let t0 = Instant::now();
                    let ok = get(p, step);
                    samples.push(Sample { at, took: t0.elapsed(), ok });
                    n += 1;
                }
                samples
            })
        })
        .collect();
    let begin = Instant::now();
    *start.lock() = Some(begin);
    barrier.wait();
    control(begin);
    stop.store(true, Ordering::Relaxed);
    handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
}

fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    pages * 4
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn run(server: &Server, chain: bool, seconds: u64) {
    let keys: &[&str] = if chain { &["a", "b", "c"] } else { &["one"] };
    let step: &'static CStr = if chain { c"c" } else { c"one" };
    let label = if chain { "chain a -> b -> c" } else { "one step" };
    for k in keys {
        server.set_faults(k, 0);
        server.set_broken(k, false);
    }
    let p = Shared(pipeline(server, chain));
    assert!(get(p, step), "warm-up get");
    for k in keys {
        server.set_faults(k, 300);
    }
    let upstream = || keys.iter().map(|k| server.hits(&format!("/faulty/{k}"))).sum::<u64>();
    let length = Duration::from_secs(seconds);
    let mut before = (0, 0, 0);
    let mut after = (0, 0, 0);
    let mut samples = phase(p, step, length, |_| {
        before = (resident_kib(), open_fds(), upstream());
        std::thread::sleep(length);
        after = (resident_kib(), open_fds(), upstream());
    });
    let ((rss_before, fds_before, hits_before), (rss_after, fds_after, hits_after)) = (before, after);
    let hits = hits_after - hits_before;
    let failed = samples.iter().filter(|s| !s.ok).count();
    let slow: Vec<Duration> = samples.iter().filter(|s| s.took > Duration::from_millis(50)).map(|s| s.took).collect();
    samples.sort_by_key(|s| s.took);
    let pct = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1].took;
    println!(
        "load, {label}: {} gets in {seconds} s by {THREADS} threads, endpoint failing 30% of attempts",
        samples.len()
    );
    println!("  failed gets: {failed}");
    println!(
        "  gets over 50 ms: {}{}",
        slow.len(),
        slow.iter().max().map_or(String::new(), |m| format!(", slowest {:.0} ms", ms(*m)))
    );
    println!(
        "  get latency: p50 {:.2} us, p99 {:.2} us, p99.9 {:.2} us, max {:.1} ms",
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        pct(0.999).as_secs_f64() * 1e6,
        ms(samples[samples.len() - 1].took)
    );
    println!("  upstream requests: {:.1} per second", hits as f64 / seconds as f64);
    println!(
        "  resident memory: {rss_before} KiB before, {rss_after} KiB after; open descriptors: {fds_before} before, {fds_after} after"
    );
    drop(samples);

    // Outages: every key broken for OUTAGE, then mended; when did the last get fail?
    let mut recoveries = Vec::new();
    for _ in 0..3 {
        let back = Arc::new(parking_lot::Mutex::new(Duration::ZERO));
        let back_at = back.clone();
        let samples = phase(p, step, OUTAGE + Duration::from_secs(4), |begin| {
            std::thread::sleep(Duration::from_millis(500));
            for k in keys {
                server.set_broken(k, true);
            }
            std::thread::sleep(OUTAGE);
            for k in keys {
                server.set_broken(k, false);
            }
            *back_at.lock() = begin.elapsed();
            std::thread::sleep(Duration::from_secs(4));
        });
        let back = *back.lock();
        let last_failed = samples.iter().filter(|s| !s.ok).map(|s| s.at + s.took).max();
        recoveries.push(last_failed.map_or(f64::NAN, |t| t.as_secs_f64() - back.as_secs_f64()));
    }
    let shown: Vec<String> = recoveries.iter().map(|r| format!("{r:+.2} s")).collect();
    println!("  after a 4 s outage, last failed get relative to the endpoint's return: {}", shown.join(", "));
    // SAFETY: p came from tokenforge_pipeline_from_json and no thread uses it any more.
    unsafe { tokenforge_pipeline_free(p.0.cast_mut()) };
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = std::env::var("TOKENFORGE_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let server = Server::start().expect("loopback server");
    run(&server, false, seconds);
    run(&server, true, seconds);
}
