//! Tokens shared by processes: the file store and Redis, with cross-process single-flight.
//! Real parts: forked processes, a real `redis-server` started on a free loopback port with a
//! temporary directory (the Makefile installs the Debian package when it is missing), and
//! the loopback token server.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};
use tokenforge::pipeline::{from_json, EventKind, Pipeline};
use tokenforge::storage::{FileStorage, RedisStorage, TokenStorage};
use tokenforge::{ResultCode, Token};
use tokenforge_testserver::fleet::{processes, Redis, TempDir};
use tokenforge_testserver::Server;

/// The JSON of a store for pipelines.
fn store_json(store: &Store) -> String {
    match store {
        Store::File(dir) => format!(r#"{{"kind":"file","dir":"{}"}}"#, dir.display()),
        Store::Redis(url) => format!(r#"{{"kind":"redis","url":"{url}"}}"#),
    }
}

enum Store {
    File(PathBuf),
    Redis(String),
}

/// A pipeline of one step `t` on `endpoint`, on the shared store, renewing on the caller's
/// thread (a process here is one caller).
fn pipeline(server: &Server, store: &Store, step: &str) -> Pipeline {
    from_json(&format!(
        r#"{{"background_refresh":false,"storage":{},"steps":[{step}]}}"#,
        store_json(store),
        step = step.replace("$URL", &server.url())
    ))
    .unwrap()
}

fn token_of(p: &Pipeline, step: &str) -> String {
    match p.get(step) {
        Ok(t) => t.access_token().as_str().to_string(),
        Err(e) => format!("error {}", e),
    }
}

fn sixteen_processes_share_one_fetch(store: Store) {
    let server = Server::start().unwrap();
    let step = r#"{"name":"t","kind":"body","base_url":"$URL","endpoint":"/slow/300"}"#;
    let got = processes(16, |_| token_of(&pipeline(&server, &store, step), "t"));
    assert_eq!(server.hits("/slow/300"), 1, "one upstream request for 16 processes: {got:?}");
    assert!(got[0].0.starts_with("slow-"), "{got:?}");
    assert!(got.iter().all(|g| g.0 == got[0].0), "all got the same token: {got:?}");
    // A later process reuses it without a request.
    let later = processes(1, |_| token_of(&pipeline(&server, &store, step), "t"));
    assert_eq!(later[0].0, got[0].0);
    assert_eq!(server.hits("/slow/300"), 1);
}

fn a_killed_lease_holder_is_taken_over(store: Store) {
    let server = Server::start().unwrap();
    let step = r#"{"name":"k","kind":"body","base_url":"$URL","endpoint":"/slow/1500","timeout_ms":3000}"#;
    // The holder: starts the fetch, and is killed in the middle of it.
    // SAFETY: the child only builds a pipeline and fetches, then leaves with _exit.
    let holder = match unsafe { libc::fork() } {
        0 => {
            let _ = token_of(&pipeline(&server, &store, step), "k");
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(0) }
        }
        pid => pid,
    };
    let end = Instant::now() + Duration::from_secs(5);
    while server.hits("/slow/1500") == 0 {
        assert!(Instant::now() < end, "the holder never fetched");
        sleep(Duration::from_millis(5));
    }
    let killer = std::thread::spawn(move || {
        sleep(Duration::from_millis(300));
        // SAFETY: holder is our child.
        unsafe {
            libc::kill(holder, libc::SIGKILL);
            libc::waitpid(holder, std::ptr::null_mut(), 0);
        }
    });
    let got = processes(4, |_| token_of(&pipeline(&server, &store, step), "k"));
    killer.join().unwrap();
    let requests = server.hits("/slow/1500");
    assert!(requests <= 2, "{requests} requests");
    assert!(got.iter().all(|g| g.0.starts_with("slow-") && g.0 == got[0].0), "{got:?}");
    // The dead holder's lease (fetch deadline + 1 s), then a fetch, with a second of slack
    // for a busy machine.
    let bound = Duration::from_millis(4_000 + 1_500 + 1_000);
    assert!(got.iter().all(|g| g.1 < bound), "nobody waits past lease + fetch: {got:?}");
}

fn eight_processes_renew_a_rotating_refresh_token_once(store: Store) {
    let server = Server::start().unwrap();
    let step = r#"{"name":"r","kind":"client_credentials","token_url":"$URL/oauth/token","client_id":"app",
        "client_secret":"app-secret","scope":"offline","ttl_ms":2000,
        "refresh_endpoint":{"token_url":"$URL/oauth/token"}}"#;
    let first = token_of(&pipeline(&server, &store, step), "r");
    assert!(first.starts_with("cc-"), "{first}");
    sleep(Duration::from_millis(1_100)); // stale in the store
    let got = processes(8, |_| token_of(&pipeline(&server, &store, step), "r"));
    assert!(got.iter().all(|g| g.0.starts_with("rf-") && g.0 == got[0].0), "{got:?}");
    assert_eq!(server.hits("grant:refresh_token"), 1, "one refresh grant for 8 processes");
    assert_eq!(server.hits("grant:rejected"), 0, "no refresh token was sent twice");
}

#[test]
fn file_store_sixteen_processes_share_one_fetch() {
    let dir = TempDir::new("fleet");
    sixteen_processes_share_one_fetch(Store::File(dir.path().to_path_buf()));
}

#[test]
fn redis_store_sixteen_processes_share_one_fetch() {
    let redis = Redis::start();
    sixteen_processes_share_one_fetch(Store::Redis(redis.url()));
}

#[test]
fn file_store_a_killed_lease_holder_is_taken_over() {
    let dir = TempDir::new("kill");
    a_killed_lease_holder_is_taken_over(Store::File(dir.path().to_path_buf()));
}

#[test]
fn redis_store_a_killed_lease_holder_is_taken_over() {
    let redis = Redis::start();
    a_killed_lease_holder_is_taken_over(Store::Redis(redis.url()));
}

#[test]
fn file_store_eight_processes_renew_a_rotating_refresh_token_once() {
    let dir = TempDir::new("rotate");
    eight_processes_renew_a_rotating_refresh_token_once(Store::File(dir.path().to_path_buf()));
}

#[test]
fn redis_store_eight_processes_renew_a_rotating_refresh_token_once() {
    let redis = Redis::start();
    eight_processes_renew_a_rotating_refresh_token_once(Store::Redis(redis.url()));
}

/// (kind, background) of every event.
fn events(p: &mut Pipeline) -> Arc<Mutex<Vec<EventKind>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = log.clone();
    p.set_event_hook(Arc::new(move |e| l2.lock().unwrap().push(e.kind))).unwrap();
    log
}

#[test]
fn gets_go_on_while_redis_is_down_and_sharing_comes_back_with_it() {
    let server = Server::start().unwrap();
    let mut redis = Redis::start();
    let store = Store::Redis(redis.url());
    let step = r#"{"name":"d","kind":"body","base_url":"$URL","endpoint":"/switch/down"}"#;
    let mut p = pipeline(&server, &store, step);
    let log = events(&mut p);
    let direct = RedisStorage::open(&redis.url()).unwrap();
    p.get("d").unwrap();
    assert!(direct.retrieve("tokenforge:d").unwrap().is_some(), "written to Redis");
    redis.stop();
    for _ in 0..3 {
        p.invalidate("d").unwrap();
        assert!(p.get("d").is_ok(), "a get works without the store");
    }
    let failures = log.lock().unwrap().iter().filter(|k| **k == EventKind::StorageFailed).count();
    assert!(failures >= 3, "the store's failures are reported: {failures}");
    redis.run();
    sleep(Duration::from_millis(1_100)); // the store is left alone for a second after a failure
    p.invalidate("d").unwrap();
    let t = p.get("d").unwrap();
    let stored = direct.retrieve("tokenforge:d").unwrap().expect("written again once Redis is back");
    assert_eq!(stored.access_token(), t.access_token());
}

fn stored(text: &str) -> Arc<Token> {
    Arc::new(Token::new(text, None, Some(tokenforge::token::now_ms() + 600_000), None).unwrap())
}

#[test]
fn redis_store_a_fork_child_talks_on_its_own_connection() {
    let redis = Redis::start();
    let store = Arc::new(RedisStorage::open(&redis.url()).unwrap());
    store.store("parent", &stored("parent-token")).unwrap();
    store.store("child", &stored("child-token")).unwrap();
    // The parent's connection is made and kept; a child inherits it.
    assert!(store.retrieve("parent").unwrap().is_some());
    let read = |store: &RedisStorage, key: &str, want: &str| -> String {
        for i in 0..300 {
            match store.retrieve(key) {
                Ok(Some(t)) if t.access_token().as_str() == want => {}
                Ok(other) => {
                    return format!("read {i} of {key}: {:?}", other.map(|t| t.access_token().as_str().to_string()))
                }
                Err(e) => return format!("read {i} of {key}: {e}"),
            }
        }
        "ok".to_string()
    };
    let s2 = store.clone();
    let parent = std::thread::spawn(move || read(&s2, "parent", "parent-token"));
    let children = processes(2, |_| read(&store, "child", "child-token"));
    assert_eq!(parent.join().unwrap(), "ok", "the parent reads only its own answers");
    for (line, _) in &children {
        assert_eq!(line, "ok", "each child reads only its own answers: {children:?}");
    }
}

#[test]
fn redis_store_a_fork_child_does_not_wait_for_a_call_its_parent_was_making() {
    let redis = Redis::start();
    let store = Arc::new(RedisStorage::open(&redis.url()).unwrap());
    store.store("k", &stored("the-token")).unwrap();
    redis.pause();
    let (started, calling) = std::sync::mpsc::channel();
    let s2 = store.clone();
    // This call holds the connection until Redis answers (after its 400 ms pause) or times out.
    let parent = std::thread::spawn(move || {
        started.send(()).unwrap();
        let start = Instant::now();
        let _ = s2.retrieve("k");
        start.elapsed()
    });
    calling.recv().unwrap();
    sleep(Duration::from_millis(60));
    let resumer = std::thread::spawn(move || {
        sleep(Duration::from_millis(400));
        redis.resume();
        redis
    });
    let children = processes(1, |_| {
        // SAFETY: alarm only schedules SIGALRM, which ends a child that hangs.
        unsafe { libc::alarm(10) };
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match store.retrieve("k") {
                Ok(Some(t)) => return t.access_token().as_str().to_string(),
                _ if Instant::now() < end => sleep(Duration::from_millis(50)),
                other => return format!("{other:?}"),
            }
        }
    });
    let _redis = resumer.join().unwrap();
    let call = parent.join().unwrap();
    assert!(call >= Duration::from_millis(200), "the parent's call was still running at the fork: {call:?}");
    assert_eq!(children[0].0, "the-token", "the child made its own connection: {children:?}");
}

fn token_file(dir: &Path, step: &str) -> PathBuf {
    dir.join(format!("tokenforge%3A{step}.token"))
}

#[test]
fn file_store_modes_and_a_corrupt_file() {
    let server = Server::start().unwrap();
    let dir = TempDir::new("modes");
    let fresh = dir.path().join("new");
    let store = Store::File(fresh.clone());
    let step = r#"{"name":"m","kind":"body","base_url":"$URL","endpoint":"/switch/modes"}"#;
    let mut p = pipeline(&server, &store, step);
    let log = events(&mut p);
    let first = p.get("m").unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&fresh), 0o700, "the directory is created private");
    assert_eq!(mode(&token_file(&fresh, "m")), 0o600, "token files are private");

    // A corrupt or truncated file is absent for the pipeline (reported), then replaced.
    for garbage in [&b"{\"format\":\"tokenforge_tok"[..], b"\x00\x01garbage", b"{}"] {
        std::fs::write(token_file(&fresh, "m"), garbage).unwrap();
        p.invalidate("m").unwrap(); // deletes the file: write it again
        std::fs::write(token_file(&fresh, "m"), garbage).unwrap();
        std::fs::set_permissions(token_file(&fresh, "m"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let before = log.lock().unwrap().iter().filter(|k| **k == EventKind::StorageFailed).count();
        let t = p.get("m").unwrap();
        assert_ne!(t.access_token(), first.access_token());
        let after = log.lock().unwrap().iter().filter(|k| **k == EventKind::StorageFailed).count();
        assert!(after > before, "the corrupt file is reported");
        let stored = FileStorage::open(&fresh).unwrap().retrieve("tokenforge:m").unwrap().unwrap();
        assert_eq!(stored.access_token(), t.access_token(), "and replaced");
    }

    // A file that others may read is not trusted.
    std::fs::set_permissions(token_file(&fresh, "m"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = FileStorage::open(&fresh).unwrap().retrieve("tokenforge:m").unwrap_err();
    assert_eq!(e.code(), ResultCode::Storage);
    assert!(e.message().contains("0644"), "{}", e.message());

    // A directory that others may use is refused.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = FileStorage::open(&open).unwrap_err();
    assert_eq!(e.code(), ResultCode::Storage);
    assert!(e.message().contains("0755") && e.message().contains("0700"), "{}", e.message());
    let e =
        from_json(&format!(r#"{{"storage":{{"kind":"file","dir":"{}"}},"steps":[]}}"#, open.display())).err().unwrap();
    assert_eq!(e.code(), ResultCode::Config);
}

#[test]
fn redis_urls_and_messages_keep_the_password_out() {
    let redis = Redis::start();
    for bad in ["http://127.0.0.1:1", "redis://"] {
        let e = RedisStorage::open(bad).unwrap_err();
        assert_eq!(e.code(), ResultCode::InvalidArgument, "{bad}");
    }
    let wrong = RedisStorage::open(&format!("redis://user:s3cret-pw@127.0.0.1:{}/0", redis.port())).unwrap();
    let e = wrong.retrieve("k").unwrap_err();
    assert_eq!(e.code(), ResultCode::Storage);
    assert!(!e.message().contains("s3cret-pw"), "{}", e.message());
    assert!(e.message().contains(&format!("127.0.0.1:{}", redis.port())), "{}", e.message());
}

#[test]
fn a_child_forked_during_a_renewal_does_not_keep_the_parents_file_lease() {
    let server = Server::start().unwrap();
    let dir = TempDir::new("forklock");
    let store = Store::File(dir.path().to_path_buf());
    let step = r#"{"name":"f","kind":"body","base_url":"$URL","endpoint":"/slow/800"}"#;
    let p = Arc::new(pipeline(&server, &store, step));
    let p2 = p.clone();
    let renewal = std::thread::spawn(move || p2.get("f").map(|t| t.access_token().as_str().to_string()));
    let end = Instant::now() + Duration::from_secs(5);
    while server.hits("/slow/800") == 0 {
        assert!(Instant::now() < end, "no fetch started");
        sleep(Duration::from_millis(5));
    }
    // A pre-fork worker is made while the lease is held, and lives on.
    // SAFETY: the child only sleeps and leaves with _exit.
    let worker = match unsafe { libc::fork() } {
        0 => {
            sleep(Duration::from_secs(5));
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(0) }
        }
        pid => pid,
    };
    assert!(renewal.join().unwrap().unwrap().starts_with("slow-"));
    // The parent released its lease: nobody holds it, though the worker inherited its lock file.
    let files = FileStorage::open(dir.path()).unwrap();
    let leases = tokenforge::storage::TokenStorage::leases(&files).unwrap();
    let lease = leases.try_lease("tokenforge:f", Duration::from_secs(1)).unwrap();
    assert!(lease.is_some(), "the lease is free once its holder released it");
    // SAFETY: worker is our child.
    unsafe {
        libc::kill(worker, libc::SIGKILL);
        libc::waitpid(worker, std::ptr::null_mut(), 0);
    }
}
