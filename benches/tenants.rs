//! `make bench`: pipelines of many steps through the C ABI with custom fetchers (one token per
//! customer account): build and validate time, resident memory per step (idle, then with a
//! cached token), and the cached get, for 1,000 and 100,000 independent steps and chains of
//! 100, 1,000 and 10,000. Prints a table; asserts nothing.

use std::ffi::{c_void, CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};
use tokenforge::ffi::context::tokenforge_context;
use tokenforge::ffi::error::{tokenforge_error, tokenforge_error_free, tokenforge_error_message};
use tokenforge::ffi::fetcher::*;
use tokenforge::ffi::pipeline::*;
use tokenforge::ffi::result::ResultArg;
use tokenforge::ffi::step::*;
use tokenforge::ffi::token::*;
use tokenforge::ResultCode;

unsafe extern "C" fn fetch(
    _: *mut c_void,
    _: *const tokenforge_context,
    out: *mut *mut tokenforge_token,
    _: *mut *mut tokenforge_error,
) -> ResultArg {
    // SAFETY: out is writable (the library's promise to a custom fetcher).
    unsafe {
        *out = tokenforge_token_new(
            c"a-customer-token-of-typical-length-0123456789".as_ptr(),
            ptr::null(),
            -1,
            ptr::null(),
        )
    };
    ResultArg(0)
}

/// Resident memory of this process, in bytes.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn name(i: usize) -> CString {
    CString::new(format!("customer-{i:06}")).unwrap()
}

struct Row {
    what: String,
    build: Duration,
    validate: Result<Duration, String>,
    idle_per_step: f64,
    cached_per_step: f64,
    get_ns: f64,
    handle_ns: f64,
    live_ms: f64,
}

fn run(n: usize, chain: bool) -> Row {
    let names: Vec<CString> = (0..n).map(name).collect();
    let before = resident();
    let start = Instant::now();
    let p = tokenforge_pipeline_new();
    for i in 0..n {
        let deps: Vec<*const i8> = if chain && i > 0 { vec![names[i - 1].as_ptr()] } else { vec![] };
        let mut f = ptr::null_mut();
        // SAFETY: live arguments of this bench.
        unsafe {
            let rc = tokenforge_fetcher_new_custom(
                names[i].as_ptr(),
                deps.as_ptr(),
                deps.len(),
                3_600_000,
                Some(fetch),
                ptr::null_mut(),
                None,
                &mut f,
                ptr::null_mut(),
            );
            assert_eq!(rc, ResultCode::Ok);
            assert_eq!(tokenforge_pipeline_add(p, f, ptr::null_mut()), ResultCode::Ok);
            tokenforge_fetcher_free(f);
        }
    }
    let build = start.elapsed();
    let start = Instant::now();
    let mut err = ptr::null_mut();
    // SAFETY: live arguments of this bench.
    let rc = unsafe { tokenforge_pipeline_validate(p, &mut err) };
    let validate = if rc == ResultCode::Ok {
        Ok(start.elapsed())
    } else {
        // SAFETY: err was set by the failed call.
        let m = unsafe { CStr::from_ptr(tokenforge_error_message(err)) }.to_string_lossy().into_owned();
        // SAFETY: as above.
        unsafe { tokenforge_error_free(err) };
        Err(m)
    };
    let idle = resident();
    let what = if chain { format!("chain of {n} steps") } else { format!("{n} independent steps") };
    if validate.is_err() {
        // SAFETY: live pipeline of this bench.
        unsafe { tokenforge_pipeline_free(p) };
        return Row {
            what,
            build,
            validate,
            idle_per_step: 0.0,
            cached_per_step: 0.0,
            get_ns: 0.0,
            handle_ns: 0.0,
            live_ms: 0.0,
        };
    }
    // Every step once: a cached token each (a chain fetches all with its last step).
    let order: Vec<usize> = if chain { vec![n - 1] } else { (0..n).collect() };
    for &i in &order {
        let mut t = ptr::null_mut();
        // SAFETY: live arguments of this bench.
        unsafe {
            assert_eq!(tokenforge_pipeline_get(p, names[i].as_ptr(), &mut t, ptr::null_mut()), ResultCode::Ok);
            tokenforge_token_free(t);
        }
    }
    let cached = resident();
    // The cached get by name over steps spread across the pipeline, then by step handle.
    let picks: Vec<usize> = (0..1024).map(|k| (k * 7919) % n).collect();
    let rounds = 2_000_000 / picks.len();
    let start = Instant::now();
    for _ in 0..rounds {
        for &i in &picks {
            let mut t = ptr::null_mut();
            // SAFETY: live arguments of this bench.
            unsafe {
                tokenforge_pipeline_get(p, names[i].as_ptr(), &mut t, ptr::null_mut());
                tokenforge_token_free(t);
            }
        }
    }
    let get_ns = start.elapsed().as_nanos() as f64 / (rounds * picks.len()) as f64;
    let handles: Vec<*mut tokenforge_step> = picks
        .iter()
        .map(|&i| {
            let mut s = ptr::null_mut();
            // SAFETY: live arguments of this bench.
            let rc = unsafe { tokenforge_pipeline_step(p, names[i].as_ptr(), &mut s, ptr::null_mut()) };
            assert_eq!(rc, ResultCode::Ok);
            s
        })
        .collect();
    let start = Instant::now();
    for _ in 0..rounds {
        for &s in &handles {
            let mut t = ptr::null_mut();
            // SAFETY: live arguments of this bench.
            unsafe {
                tokenforge_step_get(s, &mut t, ptr::null_mut());
                tokenforge_token_free(t);
            }
        }
    }
    let handle_ns = start.elapsed().as_nanos() as f64 / (rounds * handles.len()) as f64;
    for s in handles {
        // SAFETY: made above, freed once.
        unsafe { tokenforge_step_free(s) };
    }
    // Adding and removing a step while serving: each copies the step table.
    let start = Instant::now();
    for k in 0..20 {
        let n = CString::new(format!("late-{k}")).unwrap();
        let mut f = ptr::null_mut();
        // SAFETY: live arguments of this bench.
        unsafe {
            tokenforge_fetcher_new_custom(
                n.as_ptr(),
                ptr::null(),
                0,
                3_600_000,
                Some(fetch),
                ptr::null_mut(),
                None,
                &mut f,
                ptr::null_mut(),
            );
            assert_eq!(tokenforge_pipeline_add_live(p, f, ptr::null_mut()), ResultCode::Ok);
            tokenforge_fetcher_free(f);
            assert_eq!(tokenforge_pipeline_remove(p, n.as_ptr(), ptr::null_mut()), ResultCode::Ok);
        }
    }
    let live_ms = start.elapsed().as_secs_f64() * 1e3 / 20.0;
    // SAFETY: live pipeline of this bench.
    unsafe { tokenforge_pipeline_free(p) };
    Row {
        what,
        build,
        validate,
        idle_per_step: idle.saturating_sub(before) as f64 / n as f64,
        cached_per_step: cached.saturating_sub(idle) as f64 / n as f64,
        get_ns,
        handle_ns,
        live_ms,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("many tenants: custom-fetcher steps through the C ABI (one run; resident memory from /proc/self/statm)");
    println!(
        "| pipeline | build | validate | resident per idle step | per cached token | cached get by name | by step handle | add + remove while serving |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (n, chain) in [(1_000, false), (100_000, false), (64, true), (100, true), (1_000, true), (10_000, true)] {
        let r = run(n, chain);
        match &r.validate {
            Ok(v) => println!(
                "| {} | {:.1} ms | {:.1} ms | {:.0} B | {:.0} B | {:.0} ns | {:.0} ns | {:.2} ms |",
                r.what,
                r.build.as_secs_f64() * 1e3,
                v.as_secs_f64() * 1e3,
                r.idle_per_step,
                r.cached_per_step,
                r.get_ns,
                r.handle_ns,
                r.live_ms
            ),
            Err(m) => println!("| {} | {:.1} ms | refused: {m} | | | | | |", r.what, r.build.as_secs_f64() * 1e3),
        }
    }
}
