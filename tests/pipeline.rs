//! Pipelines against the loopback server: graph checks, caching, freshness, single-flight,
//! parallel dependencies, stale-while-revalidate, refresh grants, invalidation, storage,
//! events and re-entrancy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::sleep;
use std::time::{Duration, Instant};
use tokenforge::hooks::{ErrorHook, FetchHook};
use tokenforge::pipeline::{EventKind, Pipeline};
use tokenforge::{Fetcher, FetcherBuilder, MemoryStorage, ResultCode, Token, TokenStorage};
use tokenforge_testserver::Server;

/// The same token (tokens are handed out as per-thread copies, so compare values).
fn same(a: &Token, b: &Token) -> bool {
    a.access_token() == b.access_token()
}

fn body(s: &Server, name: &str, endpoint: &str, deps: &[&str]) -> FetcherBuilder {
    let mut b = FetcherBuilder::body(name, &s.url(), endpoint);
    for d in deps {
        b.dependency(d).unwrap();
    }
    b
}

fn pipeline(builders: Vec<FetcherBuilder>) -> Pipeline {
    let mut p = Pipeline::new();
    for b in builders {
        p.add(Arc::new(b.build().unwrap())).unwrap();
    }
    p
}

/// Waits (up to 5 s) until `done` holds.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        sleep(Duration::from_millis(5));
    }
}

/// An event log: (kind, step, background) of each event.
type Log = Arc<Mutex<Vec<(EventKind, String, bool)>>>;

fn log_events(p: &mut Pipeline) -> Log {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let l2 = log.clone();
    p.set_event_hook(Arc::new(move |e| l2.lock().unwrap().push((e.kind, e.step.as_str().to_string(), e.background))))
        .unwrap();
    log
}

fn count(log: &Log, kind: EventKind, background: bool) -> usize {
    log.lock().unwrap().iter().filter(|e| e.0 == kind && e.2 == background).count()
}

fn custom(name: &str, deps: &[&str], token: &'static str) -> Arc<Fetcher> {
    let deps: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
    let f: FetchHook = Arc::new(move |_| Token::new(token, None, None, None));
    Arc::new(Fetcher::custom(name, &deps, None, f, None).unwrap())
}

#[test]
fn duplicates_missing_dependencies_and_cycles_are_config_errors() {
    let mut p = Pipeline::new();
    p.add(custom("a", &["b"], "t")).unwrap();
    let e = p.add(custom("a", &[], "t")).unwrap_err();
    assert_eq!(e.code(), ResultCode::Config);
    assert!(e.message().contains("\"a\""));
    let e = p.validate().unwrap_err();
    assert_eq!(e.code(), ResultCode::Config);
    assert!(e.message().contains("\"a\"") && e.message().contains("\"b\""), "{}", e.message());
    assert_eq!(p.get("a").unwrap_err().code(), ResultCode::Config, "get validates too");

    let mut p = Pipeline::new();
    p.add(custom("c", &["a"], "t")).unwrap();
    p.add(custom("a", &["b"], "t")).unwrap();
    p.add(custom("b", &["c"], "t")).unwrap();
    p.add(custom("ok", &[], "t")).unwrap();
    let e = p.validate().unwrap_err();
    assert_eq!(e.code(), ResultCode::Config);
    for step in ["a", "b", "c"] {
        assert!(e.message().contains(step), "{}", e.message());
    }
    assert!(!e.message().contains("ok"));
    assert_eq!(p.get("nope").unwrap_err().code(), ResultCode::Config);
}

/// A chain where each step needs the one before it.
fn chain(n: usize) -> Pipeline {
    let mut p = Pipeline::new();
    for i in 0..n {
        let deps: Vec<String> = if i > 0 { vec![format!("s{}", i - 1)] } else { vec![] };
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        p.add(custom(&format!("s{i}"), &deps, "t")).unwrap();
    }
    p
}

#[test]
fn the_deepest_chain_allowed_works_on_a_small_stack_and_a_deeper_one_is_refused() {
    use tokenforge::pipeline::MAX_DEPENDENCY_DEPTH;
    // Getting the last step walks the chain on the caller's stack: 1 MiB (half a Rust
    // thread's default, an eighth of a Linux main thread's) is enough for the deepest chain in
    // a debug build (a release build needs less than a quarter of it).
    let p = chain(MAX_DEPENDENCY_DEPTH);
    let last = format!("s{}", MAX_DEPENDENCY_DEPTH - 1);
    let got = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || p.get(&last).map(|t| t.access_token().as_str().to_string()))
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert_eq!(got.unwrap(), "t");
    // One more level is a CONFIG error naming the limit, at validation and at get.
    for n in [MAX_DEPENDENCY_DEPTH + 1, 10_000] {
        let p = chain(n);
        let e = p.validate().unwrap_err();
        assert_eq!(e.code(), ResultCode::Config);
        assert!(e.message().contains(&format!("the limit is {MAX_DEPENDENCY_DEPTH}")), "{}", e.message());
        assert_eq!(e.step().unwrap().as_str(), format!("s{MAX_DEPENDENCY_DEPTH}"));
        assert_eq!(p.get(&format!("s{}", n - 1)).unwrap_err().code(), ResultCode::Config);
    }
}

#[test]
fn steps_are_added_and_removed_while_eight_threads_get_others() {
    let mut p = chain(1);
    for i in 0..200 {
        p.add(custom(&format!("base{i}"), &[], "b")).unwrap();
    }
    let p = Arc::new(p);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gets = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..8)
        .map(|t| {
            let (p, stop, gets) = (p.clone(), stop.clone(), gets.clone());
            std::thread::spawn(move || {
                let mut k = t;
                while !stop.load(Ordering::Relaxed) {
                    let t = p.get(&format!("base{}", k % 200)).expect("a get of a step that stays never fails");
                    assert_eq!(t.access_token().as_str(), "b");
                    gets.fetch_add(1, Ordering::Relaxed);
                    k += 1;
                }
            })
        })
        .collect();
    let mut handles = Vec::new();
    for round in 0..300 {
        let name = format!("tenant{round}");
        p.add_live(custom(&name, &["base0"], "n")).unwrap();
        assert_eq!(p.get(&name).unwrap().access_token().as_str(), "n");
        handles.push((name.clone(), p.step(&name).unwrap()));
        if round % 3 == 0 {
            p.remove(&name).unwrap();
            assert_eq!(p.get(&name).unwrap_err().code(), ResultCode::InvalidArgument);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("no reader failed");
    }
    assert!(gets.load(Ordering::Relaxed) > 0);
    assert_eq!(p.len(), 1 + 200 + 200);
    // Handles on removed steps fail cleanly; the others work.
    for (name, h) in &handles {
        let removed = name.trim_start_matches("tenant").parse::<usize>().unwrap() % 3 == 0;
        assert_eq!(h.get().is_err(), removed, "{name}");
    }
    // Adding what would break the pipeline changes nothing.
    assert_eq!(p.add_live(custom("tenant1", &[], "x")).unwrap_err().code(), ResultCode::Config, "duplicate");
    assert_eq!(p.add_live(custom("orphan", &["nope"], "x")).unwrap_err().code(), ResultCode::Config);
    assert_eq!(p.len(), 401);
}

#[test]
fn a_step_others_depend_on_is_not_removed_and_a_removed_one_leaves_its_store() {
    let storage: Arc<dyn TokenStorage> = Arc::new(MemoryStorage::new());
    let mut p = Pipeline::new();
    p.add(custom("app", &[], "a")).unwrap();
    p.add(custom("user", &["app"], "u")).unwrap();
    p.set_storage(storage.clone(), Some("t")).unwrap();
    p.get("user").unwrap();
    assert!(storage.retrieve("t:app").unwrap().is_some());
    let e = p.remove("app").unwrap_err();
    assert_eq!(e.code(), ResultCode::Config);
    assert!(e.message().contains("\"user\" depends on it"), "{}", e.message());
    assert_eq!(e.step().unwrap().as_str(), "app");
    assert_eq!(p.remove("nope").unwrap_err().code(), ResultCode::InvalidArgument);
    p.remove("user").unwrap();
    assert!(storage.retrieve("t:user").unwrap().is_none(), "its stored token went with it");
    p.remove("app").unwrap();
    assert!(p.is_empty() && storage.retrieve("t:app").unwrap().is_none());
}

#[test]
fn validation_is_linear_in_steps_and_edges() {
    // 100,000 independent steps and a wide fan-in: each validates at once (it took 13.7 s).
    let mut p = Pipeline::new();
    for i in 0..100_000 {
        p.add(custom(&format!("c{i}"), &[], "t")).unwrap();
    }
    let deps: Vec<String> = (0..1000).map(|i| format!("c{i}")).collect();
    let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
    p.add(custom("all", &deps, "t")).unwrap();
    p.validate().unwrap();
    // Invalidating a step reaches its dependents only.
    assert_eq!(p.get("all").unwrap().access_token().as_str(), "t");
    p.invalidate("c5").unwrap();
    assert!(p.cached("all").unwrap().is_none() && p.cached("c6").unwrap().is_some());
}

#[test]
fn steps_in_any_order_cached_while_fresh_with_exact_context() {
    let s = Server::start().unwrap();
    let mut user = body(&s, "user", "/echo", &["app", "device"]);
    user.request_header("X-App", "{{app.access_token}}").unwrap();
    user.request_header("X-Device", "{{device.access_token}}").unwrap();
    let mut app = body(&s, "app", "/v1/app/token", &[]);
    app.request_data("client_id", "a").unwrap();
    app.request_data("client_secret", "a-secret").unwrap();
    app.token_field("token").unwrap();
    let seen = Arc::new(Mutex::new(0usize));
    let seen2 = seen.clone();
    let probe: FetchHook = Arc::new(move |ctx| {
        *seen2.lock().unwrap() = ctx.map_or(0, |c| c.len());
        Token::new("dev-1", None, None, None)
    });
    let mut p = pipeline(vec![user, app]);
    p.add(Arc::new(Fetcher::custom("device", &[], None, probe, None).unwrap())).unwrap();
    p.add(custom("unrelated", &[], "x")).unwrap();
    p.validate().unwrap();
    let t = p.get("user").unwrap();
    assert!(t.extra("header.x-app").unwrap().as_str().starts_with("app-"));
    assert_eq!(t.extra("header.x-device").unwrap().as_str(), "dev-1");
    assert_eq!(*seen.lock().unwrap(), 0, "a step without dependencies gets an empty context");
    let again = p.get("user").unwrap();
    assert!(same(&t, &again), "cached");
    assert_eq!(s.hits("/echo"), 1);
    assert_eq!(s.hits("/v1/app/token"), 1);
    assert_eq!(p.get("whatever").unwrap_err().code(), ResultCode::InvalidArgument);
}

#[test]
fn refresh_margin_is_capped_at_half_the_lifetime() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "t", "/echo", &[]);
    b.ttl_ms(4_000).unwrap();
    let p = pipeline(vec![b]);
    p.get("t").unwrap();
    sleep(Duration::from_millis(200));
    p.get("t").unwrap();
    assert_eq!(s.hits("/echo"), 1, "fresh: 60 s margin capped at 2 s of a 4 s lifetime");
    sleep(Duration::from_millis(2_000));
    let t = p.get("t").unwrap();
    assert!(!t.is_expired(0));
    eventually("renewed once less than half the lifetime is left", || s.hits("/echo") == 2);
}

#[test]
fn tokens_without_expiry_live_for_the_default_lifetime() {
    let s = Server::start().unwrap();
    let mut b = FetcherBuilder::header("h", &s.url(), "/header-token");
    b.token_header("X-Auth-Token").unwrap();
    let mut p = pipeline(vec![b]);
    p.set_default_lifetime_ms(1_000).unwrap();
    p.set_refresh_margin_ms(100).unwrap();
    assert_eq!(p.get("h").unwrap().expires_at_ms(), None);
    p.get("h").unwrap();
    assert_eq!(s.hits("/header-token"), 1);
    sleep(Duration::from_millis(1_000));
    p.get("h").unwrap();
    assert_eq!(s.hits("/header-token"), 2, "never kept forever");
    assert!(p.set_refresh_margin_ms(-1).is_err());
    assert!(p.set_default_lifetime_ms(0).is_err());
}

#[test]
fn single_flight_many_threads_one_fetch() {
    let s = Server::start().unwrap();
    let p = Arc::new(pipeline(vec![body(&s, "slow", "/slow/300", &[])]));
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || p.get("slow").unwrap().access_token().as_str().to_string())
        })
        .collect();
    let tokens: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(s.hits("/slow/300"), 1);
    assert!(tokens.iter().all(|t| t == &tokens[0]));
}

#[test]
fn single_flight_shares_the_error_too() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "down", "/status/503", &[]);
    b.retry(1, 0).unwrap();
    let p = Arc::new(pipeline(vec![b]));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || p.get("down").unwrap_err().code())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), ResultCode::HttpStatus);
    }
    assert_eq!(s.hits("/status/503"), 1, "one fetch, then backoff: no storm");
}

#[test]
fn independent_dependencies_are_fetched_in_parallel() {
    let s = Server::start().unwrap();
    let mut builders: Vec<FetcherBuilder> = (0..4).map(|i| body(&s, &format!("d{i}"), "/slow/300", &[])).collect();
    builders.push(body(&s, "top", "/echo", &["d0", "d1", "d2", "d3"]));
    let p = pipeline(builders);
    p.get("top").unwrap();
    assert_eq!(s.hits("/slow/300"), 4);
    assert!(s.max_concurrent() >= 2, "dependencies overlapped: {}", s.max_concurrent());
}

#[test]
fn a_failed_background_renewal_serves_the_valid_token_and_backs_off_within_its_validity() {
    let s = Server::start().unwrap();
    let errors = Arc::new(AtomicUsize::new(0));
    let e2 = errors.clone();
    let hook: ErrorHook = Arc::new(move |_, _| {
        e2.fetch_add(1, Ordering::SeqCst);
    });
    let mut b = body(&s, "sw", "/switch/sw", &[]);
    b.ttl_ms(4_000).unwrap();
    b.retry(1, 0).unwrap();
    b.error_hook(hook);
    let mut p = pipeline(vec![b]);
    let log = log_events(&mut p);
    let first = p.get("sw").unwrap();
    s.set_broken("sw", true);
    sleep(Duration::from_millis(2_100)); // stale (margin: half of 4 s), still valid
    let served = p.get("sw").unwrap();
    assert!(same(&first, &served), "the valid token is served at once");
    eventually("the renewal failed", || count(&log, EventKind::StaleServed, true) == 1);
    assert_eq!(errors.load(Ordering::SeqCst), 1, "error hook told");
    assert_eq!(count(&log, EventKind::FetchStarted, false), 1, "only the first fetch had a caller waiting");
    let again = p.get("sw").unwrap();
    assert!(same(&first, &again));
    assert_eq!(s.hits("/switch/sw"), 2, "backing off: no new request at once");
    // The backoff is a quarter of the remaining validity at most: a few attempts fit.
    eventually("renewal retried within the token's validity", || {
        assert!(same(&first, &p.get("sw").unwrap()));
        s.hits("/switch/sw") >= 4
    });
    assert!(!first.is_expired(0), "retried before the token expired");
    s.set_broken("sw", false);
    eventually("renewed once the endpoint is back", || !same(&first, &p.get("sw").unwrap()));
}

#[test]
fn refresh_grant_first_rotated_token_stored_then_invalid_grant_falls_back() {
    let s = Server::start().unwrap();
    let url = format!("{}/oauth/token", s.url());
    let mut cc = FetcherBuilder::client_credentials("cc", &url, "app", "app-secret", Some("offline"));
    cc.ttl_ms(2_000).unwrap();
    cc.refresh_endpoint(Some(&url), Some("app"), Some("app-secret")).unwrap();
    let mut p = pipeline(vec![cc]);
    let storage = Arc::new(MemoryStorage::new());
    p.set_storage(storage.clone(), Some("test")).unwrap();
    // Without background refresh the caller that finds the token due renews it itself.
    p.set_background_refresh(false).unwrap();
    let first = p.get("cc").unwrap();
    assert!(first.access_token().as_str().starts_with("cc-"));
    sleep(Duration::from_millis(1_100));
    let refreshed = p.get("cc").unwrap();
    assert!(refreshed.access_token().as_str().starts_with("rf-"), "refresh grant used");
    let rotated = refreshed.refresh_token().unwrap().as_str().to_string();
    assert_ne!(rotated, first.refresh_token().unwrap().as_str());
    let stored = storage.retrieve("test:cc").unwrap().unwrap();
    assert_eq!(stored.refresh_token().unwrap().as_str(), rotated, "rotated refresh token stored");

    // A refresh token the server does not know: invalid_grant, then a full fetch.
    let mut n = body(&s, "n", "/nested", &[]);
    n.token_field("data.auth.token").unwrap();
    n.refresh_token_field("session").unwrap();
    n.ttl_ms(2_000).unwrap();
    n.refresh_endpoint(Some(&url), Some("public"), None).unwrap();
    let p = pipeline(vec![n]);
    let old = p.get("n").unwrap();
    sleep(Duration::from_millis(1_100));
    eventually("renewed in the background", || !same(&old, &p.get("n").unwrap()));
    let t = p.get("n").unwrap();
    assert!(t.access_token().as_str().starts_with("nested-"));
    assert_eq!(s.hits("/nested"), 2);
}

#[test]
fn invalidation_cascades_and_invalidate_if_compares() {
    let s = Server::start().unwrap();
    let p = pipeline(vec![
        body(&s, "a", "/switch/a", &[]),
        body(&s, "b", "/switch/b", &["a"]),
        body(&s, "c", "/switch/c", &["b"]),
        body(&s, "x", "/switch/x", &[]),
    ]);
    let c1 = p.get("c").unwrap();
    let x1 = p.get("x").unwrap();
    p.invalidate("a").unwrap();
    let c2 = p.get("c").unwrap();
    assert!(!same(&c1, &c2), "dependent dropped");
    assert!(same(&x1, &p.get("x").unwrap()), "unrelated kept");
    assert_eq!((s.hits("/switch/a"), s.hits("/switch/b"), s.hits("/switch/c")), (2, 2, 2));

    assert!(!p.invalidate_if("c", "not-the-token").unwrap());
    assert!(same(&c2, &p.get("c").unwrap()));
    assert!(p.invalidate_if("c", c2.access_token().as_str()).unwrap());
    assert!(!p.invalidate_if("c", c2.access_token().as_str()).unwrap(), "only once");
    assert_eq!(p.invalidate("zzz").unwrap_err().code(), ResultCode::InvalidArgument);
}

#[test]
fn a_renewal_leaves_the_dependents_tokens_in_place() {
    let s = Server::start().unwrap();
    let mut a = body(&s, "a", "/switch/ra", &[]);
    a.ttl_ms(2_000).unwrap();
    let mut b = body(&s, "b", "/switch/rb", &["a"]);
    b.request_header("Authorization", "{{a.authorization}}").unwrap();
    let mut p = pipeline(vec![a, b]);
    let log = log_events(&mut p);
    let b1 = p.get("b").unwrap();
    let a1 = p.get("a").unwrap();
    sleep(Duration::from_millis(1_100));
    assert!(same(&a1, &p.get("a").unwrap()), "still valid: served while renewing");
    eventually("a renewed", || !same(&a1, &p.get("a").unwrap()));
    assert!(same(&b1, &p.get("b").unwrap()), "b keeps its token");
    assert_eq!((s.hits("/switch/ra"), s.hits("/switch/rb")), (2, 1), "no request for b");
    assert_eq!(count(&log, EventKind::Invalidated, false), 0);
}

#[test]
fn a_step_that_renews_its_dependents_renews_them_with_it() {
    let s = Server::start().unwrap();
    let mut a = body(&s, "a", "/switch/da", &[]);
    a.ttl_ms(2_000).unwrap();
    a.renews_dependents(true).unwrap();
    let b = body(&s, "b", "/switch/db", &["a"]);
    let c = body(&s, "c", "/switch/dc", &["b"]);
    let mut p = pipeline(vec![a, b, c]);
    let log = log_events(&mut p);
    let c1 = p.get("c").unwrap();
    let b1 = p.get("b").unwrap();
    sleep(Duration::from_millis(1_100));
    p.get("a").unwrap();
    eventually("b renewed after a", || s.hits("/switch/db") == 2);
    eventually("b's new token cached", || !same(&b1, &p.get("b").unwrap()));
    assert!(same(&c1, &p.get("c").unwrap()), "c does not renew with b: only a asked for it");
    assert_eq!(s.hits("/switch/dc"), 1);
    assert_eq!(count(&log, EventKind::FetchStarted, false), 3, "callers waited only for the first fetches");
}

#[test]
fn a_stale_valid_token_is_served_to_every_caller_while_one_renewal_runs() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "slow", "/slow/400", &[]);
    b.ttl_ms(2_000).unwrap();
    let mut p = pipeline(vec![b]);
    let log = log_events(&mut p);
    let first = p.get("slow").unwrap();
    sleep(Duration::from_millis(1_100));
    let p = Arc::new(p);
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (p, barrier) = (p.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..50).map(|_| p.get("slow").unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let served: Vec<Arc<Token>> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let renewing = s.hits("/slow/400") == 1 || count(&log, EventKind::FetchSucceeded, true) == 0;
    assert!(renewing || served.iter().any(|t| !same(t, &first)), "the renewal is slow");
    assert!(served.iter().filter(|t| same(t, &first)).count() >= 8, "the valid token was served meanwhile");
    eventually("renewed", || count(&log, EventKind::FetchSucceeded, true) == 1);
    assert_eq!(s.hits("/slow/400"), 2, "one renewal for 400 gets");
    assert_eq!(count(&log, EventKind::FetchStarted, true), 1, "in the background");
    assert_eq!(count(&log, EventKind::FetchStarted, false), 1, "only the very first fetch had a caller waiting");
    assert!(!same(&first, &p.get("slow").unwrap()));
}

#[test]
fn after_an_outage_the_first_get_after_the_endpoint_returns_fetches() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "o", "/switch/o", &[]);
    b.ttl_ms(1_000).unwrap();
    b.retry(1, 0).unwrap();
    let p = pipeline(vec![b]);
    p.get("o").unwrap();
    s.set_broken("o", true);
    sleep(Duration::from_millis(1_100)); // expired
    for _ in 0..3 {
        assert_eq!(p.get("o").unwrap_err().code(), ResultCode::HttpStatus);
        sleep(Duration::from_millis(200));
    }
    let during = s.hits("/switch/o");
    assert!(during >= 3, "a failed attempt is remembered briefly only: {during} requests");
    assert_eq!(p.get("o").unwrap_err().code(), ResultCode::HttpStatus);
    s.set_broken("o", false);
    sleep(Duration::from_millis(600)); // longer than any pause after a failure
    let t = p.get("o").unwrap();
    assert!(t.access_token().as_str().starts_with("o-"));
}

#[test]
fn a_retry_after_keeps_a_step_from_asking_again_until_it_has_passed() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "rl", "/ratelimit/p/1", &[]);
    b.retry(1, 0).unwrap();
    let p = pipeline(vec![b]);
    let e = p.get("rl").unwrap_err();
    assert_eq!((e.code(), e.retry_after_ms()), (ResultCode::HttpStatus, Some(1_000)));
    sleep(Duration::from_millis(600)); // past the usual pause, within Retry-After
    assert_eq!(p.get("rl").unwrap_err().code(), ResultCode::HttpStatus);
    assert_eq!(s.hits("/ratelimit/p/1"), 1, "Retry-After honoured");
    sleep(Duration::from_millis(500));
    assert!(p.get("rl").is_ok());
    assert_eq!(s.hits("/ratelimit/p/1"), 2);
}

#[test]
fn backoffs_do_not_compound_along_a_chain() {
    let s = Server::start().unwrap();
    let mut a = body(&s, "a", "/switch/ca", &[]);
    a.ttl_ms(1_000).unwrap();
    a.retry(1, 0).unwrap();
    let mut b = body(&s, "b", "/switch/cb", &["a"]);
    b.ttl_ms(1_000).unwrap();
    let mut c = body(&s, "c", "/switch/cc", &["b"]);
    c.ttl_ms(1_000).unwrap();
    let p = pipeline(vec![a, b, c]);
    p.get("c").unwrap();
    s.set_broken("ca", true);
    sleep(Duration::from_millis(1_100));
    for _ in 0..5 {
        assert_eq!(p.get("c").unwrap_err().code(), ResultCode::Dependency);
    }
    s.set_broken("ca", false);
    sleep(Duration::from_millis(600)); // a's own pause has passed; b and c keep none
    assert!(p.get("c").is_ok(), "the chain recovers as soon as its first step does");
}

#[test]
fn a_second_pipeline_on_the_same_storage_reuses_valid_tokens() {
    let s = Server::start().unwrap();
    let storage: Arc<dyn TokenStorage> = Arc::new(MemoryStorage::new());
    let mut p1 = pipeline(vec![body(&s, "t", "/echo", &[])]);
    p1.set_storage(storage.clone(), Some("svc")).unwrap();
    let t1 = p1.get("t").unwrap();
    let mut p2 = pipeline(vec![body(&s, "t", "/echo", &[])]);
    p2.set_storage(storage.clone(), Some("svc")).unwrap();
    let kinds = Arc::new(Mutex::new(Vec::new()));
    let k2 = kinds.clone();
    p2.set_event_hook(Arc::new(move |e| k2.lock().unwrap().push(e.kind))).unwrap();
    let t2 = p2.get("t").unwrap();
    assert_eq!(t1.access_token(), t2.access_token());
    assert_eq!(s.hits("/echo"), 1);
    assert_eq!(kinds.lock().unwrap().as_slice(), [EventKind::LoadedFromStorage]);
    p2.invalidate("t").unwrap();
    assert!(storage.retrieve("svc:t").unwrap().is_none(), "invalidation deletes the stored token");
}

#[test]
fn events_report_fetches_hits_retries_failures_and_invalidations() {
    let s = Server::start().unwrap();
    let mut f = body(&s, "f", "/flaky/ev/1", &[]);
    f.retry(2, 1).unwrap();
    let mut p = pipeline(vec![f]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    p.set_event_hook(Arc::new(move |e| {
        s2.lock().unwrap().push((e.kind, e.step.as_str().to_string(), e.attempt, e.duration))
    }))
    .unwrap();
    p.get("f").unwrap();
    p.get("f").unwrap();
    p.invalidate("f").unwrap();
    let kinds: Vec<EventKind> = seen.lock().unwrap().iter().map(|e| e.0).collect();
    assert_eq!(
        kinds,
        [
            EventKind::FetchStarted,
            EventKind::Retry,
            EventKind::FetchSucceeded,
            EventKind::CacheHit,
            EventKind::Invalidated
        ]
    );
    let events = seen.lock().unwrap();
    assert!(events.iter().all(|e| e.1 == "f"));
    assert_eq!(events[1].2, 2, "retry attempt number");
    assert!(events[2].3 > Duration::ZERO, "fetch duration measured");
}

#[test]
fn a_step_asking_for_itself_gets_an_error_not_a_deadlock() {
    let cell: Arc<OnceLock<Weak<Pipeline>>> = Arc::new(OnceLock::new());
    let c2 = cell.clone();
    let f: FetchHook = Arc::new(move |_| {
        let p = c2.get().and_then(Weak::upgrade).expect("pipeline");
        let e = p.get("self").unwrap_err();
        Err(e)
    });
    let mut p = Pipeline::new();
    p.add(Arc::new(Fetcher::custom("self", &[], None, f, None).unwrap())).unwrap();
    let p = Arc::new(p);
    cell.set(Arc::downgrade(&p)).unwrap();
    let e = p.get("self").unwrap_err();
    assert_eq!(e.code(), ResultCode::Config);
    assert!(e.message().contains("own fetch"), "{}", e.message());
}

#[test]
fn many_threads_across_expiry() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "t", "/echo", &[]);
    b.ttl_ms(1_000).unwrap();
    let p = Arc::new(pipeline(vec![b]));
    let stop = std::time::Instant::now() + Duration::from_millis(2_500);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while std::time::Instant::now() < stop {
                    let t = p.get("t").unwrap();
                    assert!(!t.is_expired(0), "never an expired token");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let calls: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let hits = s.hits("/echo");
    assert!(hits >= 3, "renewed as it crossed expiry: {hits}");
    assert!((hits as usize) < calls / 10, "but shared: {hits} fetches for {calls} calls");
}

#[test]
fn step_handles_tell_when_a_token_may_be_handed_out_again() {
    let s = Server::start().unwrap();
    let mut a = body(&s, "a", "/slow/300", &[]);
    a.ttl_ms(1_200).unwrap(); // fresh for 600 ms (half the lifetime), then renewed
    let mut b = body(&s, "b", "/switch/hb", &["a"]);
    b.ttl_ms(60_000).unwrap();
    let mut p = pipeline(vec![a, b]);
    p.set_storage(Arc::new(MemoryStorage::new()), None).unwrap();
    let ha = p.step("a").unwrap();
    let hb = p.step("b").unwrap();
    assert!(p.set_refresh_margin_ms(10).is_err(), "no configuration while handles exist");
    let first = ha.get_cacheable().unwrap();
    let now = tokenforge::token::now_ms();
    assert!(first.fresh_until_ms > now + 300 && first.fresh_until_ms <= now + 600, "{}", first.fresh_until_ms - now);
    assert_eq!(first.changes, ha.changes().load(Ordering::Acquire));
    let again = ha.get_cacheable().unwrap();
    assert!(Arc::ptr_eq(&first.token, &again.token) || same(&first.token, &again.token));
    assert_eq!(again.changes, first.changes, "a cached get changes nothing");
    // Stale but valid: served while the renewal (300 ms) runs, and not to be cached.
    sleep(Duration::from_millis(650));
    let stale = ha.get_cacheable().unwrap();
    assert!(same(&stale.token, &first.token));
    assert_eq!(stale.fresh_until_ms, 0, "a stale token is not handed out again without asking");
    eventually("the renewal lands", || ha.changes().load(Ordering::Acquire) > first.changes);
    let renewed = ha.get_cacheable().unwrap();
    assert!(!same(&renewed.token, &first.token) && renewed.fresh_until_ms > tokenforge::token::now_ms());
    // b's counter moves when b's token is dropped, even by invalidating a.
    let b1 = hb.get_cacheable().unwrap();
    p.invalidate("a").unwrap();
    assert!(hb.changes().load(Ordering::Acquire) > b1.changes, "invalidation cascades to b's counter");
    assert!(!same(&hb.get().unwrap(), &b1.token));
}
