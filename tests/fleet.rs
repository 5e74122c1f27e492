//! Tokens shared by processes: the file store and Redis, with cross-process single-flight.
//! Real parts: forked processes, a real `redis-server` started on a free loopback port with a
//! temporary directory (the Makefile installs the Debian package when it is missing), and
//! the loopback token server.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};
use tokenforge::pipeline::{from_json, EventKind, Pipeline};
use tokenforge::storage::{FileStorage, RedisStorage, TokenStorage};
use tokenforge::ResultCode;
use tokenforge_testserver::Server;

/// A private temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tf-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real redis-server on a free loopback port, stopped when dropped.
struct Redis {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut r = Redis { port, dir: TempDir::new("redis"), child: None };
        r.run();
        r
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: `make test` installs the Debian package redis-server");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < end, "redis-server did not start on port {}", self.port);
            sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let mut line = String::new();
        s.write_all(b"PING\r\n").is_ok() && BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("+PONG")
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

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

/// Runs `n` forked processes that start `f` at the same moment; each returns a line (its
/// token, or what went wrong) that the parent collects, with how long the process took.
fn processes(n: usize, f: impl Fn(usize) -> String) -> Vec<(String, Duration)> {
    let mut go = [0i32; 2];
    let mut report = [0i32; 2];
    // SAFETY: both arrays have room for two descriptors.
    assert!(unsafe { libc::pipe(go.as_mut_ptr()) == 0 && libc::pipe(report.as_mut_ptr()) == 0 });
    let mut pids = Vec::new();
    for i in 0..n {
        // SAFETY: the child runs `f` (library calls) and writes to a pipe, then leaves with
        // _exit, never returning into the test harness.
        match unsafe { libc::fork() } {
            0 => {
                let mut byte = 0u8;
                // SAFETY: go[0] is the read end of the start pipe; byte is writable.
                unsafe { libc::read(go[0], (&mut byte as *mut u8).cast(), 1) };
                let start = Instant::now();
                let line = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i)))
                    .unwrap_or_else(|_| "panicked".to_string());
                let msg = format!("{i} {} {}\n", start.elapsed().as_millis(), line.replace('\n', " "));
                // SAFETY: report[1] is the write end of the report pipe; a line under
                // PIPE_BUF is written at once.
                unsafe {
                    libc::write(report[1], msg.as_ptr().cast(), msg.len());
                    libc::_exit(0)
                }
            }
            -1 => panic!("fork failed"),
            pid => pids.push(pid),
        }
    }
    // One byte per child starts them all at once. (Nothing here waits for the end of a pipe:
    // processes that other tests fork at the same time hold copies of its ends.)
    let start = vec![1u8; n];
    // SAFETY: go[1] is the write end of the start pipe; the buffer holds n bytes.
    assert_eq!(unsafe { libc::write(go[1], start.as_ptr().cast(), n) }, n as isize);
    // SAFETY: report[0] is the read end of the report pipe, owned by the File from now on.
    let file = unsafe { <std::fs::File as std::os::unix::io::FromRawFd>::from_raw_fd(report[0]) };
    let mut lines: Vec<(usize, String, Duration)> = BufReader::new(file)
        .lines()
        .take(n)
        .map_while(|l| l.ok())
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let i: usize = parts.next().unwrap().parse().unwrap();
            let ms: u64 = parts.next().unwrap().parse().unwrap();
            (i, parts.next().unwrap_or("").to_string(), Duration::from_millis(ms))
        })
        .collect();
    for pid in &pids {
        let mut status = 0;
        // SAFETY: pid is our child; status is writable.
        unsafe { libc::waitpid(*pid, &mut status, 0) };
    }
    // SAFETY: the parent's remaining ends of the pipes.
    unsafe {
        libc::close(go[0]);
        libc::close(go[1]);
        libc::close(report[1]);
    }
    assert_eq!(lines.len(), n, "every process reported");
    lines.sort_by_key(|l| l.0);
    lines.into_iter().map(|(_, s, d)| (s, d)).collect()
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
    sixteen_processes_share_one_fetch(Store::File(dir.0.clone()));
}

#[test]
fn redis_store_sixteen_processes_share_one_fetch() {
    let redis = Redis::start();
    sixteen_processes_share_one_fetch(Store::Redis(redis.url()));
}

#[test]
fn file_store_a_killed_lease_holder_is_taken_over() {
    let dir = TempDir::new("kill");
    a_killed_lease_holder_is_taken_over(Store::File(dir.0.clone()));
}

#[test]
fn redis_store_a_killed_lease_holder_is_taken_over() {
    let redis = Redis::start();
    a_killed_lease_holder_is_taken_over(Store::Redis(redis.url()));
}

#[test]
fn file_store_eight_processes_renew_a_rotating_refresh_token_once() {
    let dir = TempDir::new("rotate");
    eight_processes_renew_a_rotating_refresh_token_once(Store::File(dir.0.clone()));
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

fn token_file(dir: &Path, step: &str) -> PathBuf {
    dir.join(format!("tokenforge%3A{step}.token"))
}

#[test]
fn file_store_modes_and_a_corrupt_file() {
    let server = Server::start().unwrap();
    let dir = TempDir::new("modes");
    let fresh = dir.0.join("new");
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
    let open = dir.0.join("open");
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
    let wrong = RedisStorage::open(&format!("redis://user:s3cret-pw@127.0.0.1:{}/0", redis.port)).unwrap();
    let e = wrong.retrieve("k").unwrap_err();
    assert_eq!(e.code(), ResultCode::Storage);
    assert!(!e.message().contains("s3cret-pw"), "{}", e.message());
    assert!(e.message().contains(&format!("127.0.0.1:{}", redis.port)), "{}", e.message());
}
