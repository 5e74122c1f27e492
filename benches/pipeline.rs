//! `make bench`: the pipeline's speed targets, measured through the C ABI against the
//! loopback token server. Prints figures; asserts nothing (targets are in the issue).

use std::ffi::{c_void, CStr, CString};
use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tokenforge::ffi::context::tokenforge_context;
use tokenforge::ffi::error::tokenforge_error;
use tokenforge::ffi::fetcher::*;
use tokenforge::ffi::fetcher_builder::*;
use tokenforge::ffi::pipeline::*;
use tokenforge::ffi::result::ResultArg;
use tokenforge::ffi::step::*;
use tokenforge::ffi::token::*;
use tokenforge::ResultCode;
use tokenforge_testserver::Server;

/// A pipeline pointer that may cross threads (the pipeline is thread-safe).
#[derive(Clone, Copy)]
struct Shared(*const tokenforge_pipeline);
// SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
unsafe impl Send for Shared {}
// SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
unsafe impl Sync for Shared {}

/// A step handle that may cross threads (step handles are thread-safe).
#[derive(Clone, Copy)]
struct SharedStep(*const tokenforge_step);
// SAFETY: the handle is thread-safe and outlives the threads that use it.
unsafe impl Send for SharedStep {}
// SAFETY: as above.
unsafe impl Sync for SharedStep {}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

unsafe extern "C" fn constant_token(
    _: *mut c_void,
    _: *const tokenforge_context,
    out: *mut *mut tokenforge_token,
    _: *mut *mut tokenforge_error,
) -> ResultArg {
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe {
        *out =
            tokenforge_token_new(c"a-cached-token-of-typical-length-0123456789".as_ptr(), ptr::null(), -1, ptr::null())
    };
    ResultArg(0)
}

fn pipeline_json(json: &str) -> *mut tokenforge_pipeline {
    let mut p = ptr::null_mut();
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    let rc = unsafe { tokenforge_pipeline_from_json(c(json).as_ptr(), &mut p, ptr::null_mut()) };
    assert_eq!(rc, ResultCode::Ok, "pipeline JSON");
    p
}

fn get(p: Shared, step: &CStr) -> Duration {
    let start = Instant::now();
    let mut t = ptr::null_mut();
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    let rc = unsafe { tokenforge_pipeline_get(p.0, step.as_ptr(), &mut t, ptr::null_mut()) };
    let took = start.elapsed();
    assert_eq!(rc, ResultCode::Ok);
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe { tokenforge_token_free(t) };
    took
}

/// How the cached-get bench gets its token.
#[derive(Clone, Copy, PartialEq)]
enum How {
    ByName,
    ByHandle,
    /// What any cached get has to do at least: load a pointer, count a reference; and drop
    /// it. Two calls that are not inlined, as through a C ABI.
    Floor,
}

#[inline(never)]
fn floor_get(slot: &AtomicPtr<[u8; 64]>) -> *const [u8; 64] {
    let p = slot.load(Ordering::Acquire);
    // SAFETY: p came from Arc::into_raw and the slot keeps its reference.
    unsafe { Arc::increment_strong_count(p) };
    p
}

#[inline(never)]
fn floor_free(p: *const [u8; 64]) {
    // SAFETY: floor_get counted this reference.
    unsafe { Arc::decrement_strong_count(p) };
}

fn cached_get() {
    let p = tokenforge_pipeline_new();
    let mut f = ptr::null_mut();
    let name = c"cached";
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe {
        tokenforge_fetcher_new_custom(
            name.as_ptr(),
            ptr::null(),
            0,
            3_600_000,
            Some(constant_token),
            ptr::null_mut(),
            None,
            &mut f,
            ptr::null_mut(),
        );
        tokenforge_pipeline_add(p, f, ptr::null_mut());
        tokenforge_fetcher_free(f);
    }
    let shared = Shared(p);
    get(shared, name);
    let mut handle = ptr::null_mut();
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    assert_eq!(unsafe { tokenforge_pipeline_step(p, name.as_ptr(), &mut handle, ptr::null_mut()) }, ResultCode::Ok);
    let step = SharedStep(handle);
    const N: u32 = 4_000_000;
    for threads in [1usize, 2] {
        let (mut results, mut floor) = (Vec::new(), 0.0);
        for how in [How::ByName, How::ByHandle, How::Floor] {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let barrier = Arc::new(Barrier::new(threads));
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        let barrier = barrier.clone();
                        std::thread::spawn(move || {
                            let (shared, step) = (shared, step);
                            // The floor's token: one per thread, as the library keeps per-thread copies.
                            let own = AtomicPtr::new(Arc::into_raw(Arc::new([0u8; 64])).cast_mut());
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..N {
                                let mut t = ptr::null_mut();
                                // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
                                unsafe {
                                    match how {
                                        How::ByHandle => {
                                            tokenforge_step_get(step.0, &mut t, ptr::null_mut());
                                            tokenforge_token_free(t);
                                        }
                                        How::ByName => {
                                            tokenforge_pipeline_get(shared.0, name.as_ptr(), &mut t, ptr::null_mut());
                                            tokenforge_token_free(t);
                                        }
                                        How::Floor => floor_free(floor_get(black_box(&own))),
                                    }
                                }
                            }
                            let took = start.elapsed();
                            // SAFETY: made by Arc::into_raw above, released once.
                            unsafe { drop(Arc::from_raw(own.load(Ordering::Relaxed))) };
                            took
                        })
                    })
                    .collect();
                let per_call: Vec<f64> =
                    handles.into_iter().map(|h| h.join().unwrap().as_nanos() as f64 / f64::from(N)).collect();
                best = best.min(per_call.iter().sum::<f64>() / per_call.len() as f64);
            }
            results.push(best);
            if how == How::Floor {
                floor = best;
            }
            let what = match how {
                How::ByName => "tokenforge_pipeline_get by name",
                How::ByHandle => "tokenforge_step_get",
                How::Floor => "floor: an atomic load and a reference count",
            };
            println!("cached get + free, {threads} thread(s), {what}: {best:.1} ns per call (best of 5 rounds of {N} per thread)");
        }
        println!("  ratio to the floor: by name {:.2}, by handle {:.2}", results[0] / floor, results[1] / floor);
    }
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe { tokenforge_step_free(handle) };
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe { tokenforge_pipeline_free(p) };
}

fn fetch_vs_bare(server: &Server) {
    const N: u32 = 2_000;
    let url = c(&server.url());
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    let b = unsafe { tokenforge_fetcher_builder_new_body(c"bench".as_ptr(), url.as_ptr(), c"/big/200".as_ptr()) };
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe { tokenforge_fetcher_builder_add_request_data(b, c"client_id".as_ptr(), c"bench".as_ptr()) };
    let mut f = ptr::null_mut();
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    assert_eq!(unsafe { tokenforge_fetcher_builder_build(b, &mut f, ptr::null_mut()) }, ResultCode::Ok);
    let fetch_once = || {
        let mut t = ptr::null_mut();
        // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
        let rc = unsafe { tokenforge_fetcher_fetch(f, ptr::null(), &mut t, ptr::null_mut()) };
        assert_eq!(rc, ResultCode::Ok);
        // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
        unsafe { tokenforge_token_free(t) };
    };
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let target = format!("{}/big/200", server.url());
    // The same POST with the same client library: plain, and with the total deadline that
    // every tokenforge request carries (ureq then re-arms socket timeouts on each read/write).
    let bare = |deadline: Option<Duration>| {
        let mut r = agent
            .post(&target)
            .config()
            .timeout_global(deadline)
            .build()
            .header("content-type", "application/x-www-form-urlencoded")
            .send(&b"client_id=bench"[..])
            .unwrap();
        let body = r.body_mut().read_to_vec().unwrap();
        assert!(!body.is_empty());
    };
    let bare_plain = || bare(None);
    let bare_deadline = || bare(Some(Duration::from_secs(30)));
    let time = |f: &dyn Fn()| {
        for _ in 0..200 {
            f();
        }
        let start = Instant::now();
        for _ in 0..N {
            f();
        }
        start.elapsed().as_secs_f64() * 1e6 / f64::from(N)
    };
    // Interleave rounds so that machine noise hits all alike; keep the best round of each.
    let mut best = [f64::MAX; 3];
    for _ in 0..7 {
        best[0] = best[0].min(time(&fetch_once));
        best[1] = best[1].min(time(&bare_plain));
        best[2] = best[2].min(time(&bare_deadline));
    }
    println!(
        "one fetch over loopback keep-alive: {:.1} us; bare ureq request: {:.1} us (ratio {:.3}); bare with the same 30 s deadline: {:.1} us (ratio {:.3})",
        best[0],
        best[1],
        best[0] / best[1],
        best[2],
        best[0] / best[2]
    );
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe { tokenforge_fetcher_free(f) };
}

fn stampede(server: &Server) {
    let json = format!(
        r#"{{"steps":[{{"name":"stale","kind":"body","base_url":"{}","endpoint":"/slow/100"}}]}}"#,
        server.url()
    );
    let p = Shared(pipeline_json(&json));
    let before = server.hits("/slow/100");
    let barrier = Arc::new(Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                get(p, c"stale")
            })
        })
        .collect();
    let mut waits: Vec<Duration> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    waits.sort();
    let p99 = waits[(waits.len() * 99).div_ceil(100) - 1];
    println!(
        "64 threads on one stale step (server answers in 100 ms): {} upstream request(s), p99 wait {:.1} ms, max {:.1} ms",
        server.hits("/slow/100") - before,
        p99.as_secs_f64() * 1e3,
        waits[waits.len() - 1].as_secs_f64() * 1e3
    );
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe { tokenforge_pipeline_free(p.0.cast_mut()) };
}

fn parallel_dependencies(server: &Server) {
    let deps: Vec<String> = (0..4)
        .map(|i| format!(r#"{{"name":"d{i}","kind":"body","base_url":"{}","endpoint":"/slow/200"}}"#, server.url()))
        .collect();
    let json = format!(
        r#"{{"steps":[{},{{"name":"top","kind":"body","base_url":"{}","endpoint":"/echo","depends_on":["d0","d1","d2","d3"]}}]}}"#,
        deps.join(","),
        server.url()
    );
    let p = Shared(pipeline_json(&json));
    let took = get(p, c"top");
    println!("four independent 200 ms steps behind one step: {:.1} ms wall time", took.as_secs_f64() * 1e3);
    // SAFETY: the arguments are live objects of this test, or NULL where the call allows it.
    unsafe { tokenforge_pipeline_free(p.0.cast_mut()) };
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench --bench pipeline -- NAME` runs the parts whose name contains NAME.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let server = Server::start().expect("loopback server");
    if wanted("cached") {
        cached_get();
    }
    if wanted("fetch") {
        fetch_vs_bare(&server);
    }
    if wanted("stampede") {
        stampede(&server);
    }
    if wanted("parallel") {
        parallel_dependencies(&server);
    }
}
