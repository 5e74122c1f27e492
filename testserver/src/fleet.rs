//! Helpers for tests and benchmarks of shared stores: a private temporary directory, a real
//! `redis-server` on a free loopback port, and forked processes started at one moment.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A private temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tf-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real redis-server on a free loopback port, stopped when dropped.
pub struct Redis {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut r = Redis { port, dir: TempDir::new("redis"), child: None };
        r.run();
        r
    }

    /// Starts it (again, after stop) on its port.
    pub fn run(&mut self) {
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

    pub fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let mut line = String::new();
        s.write_all(b"PING\r\n").is_ok() && BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("+PONG")
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes it (SIGSTOP): connections are accepted by the kernel, nothing is answered.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: i32) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        // SAFETY: pid is our child redis-server, not yet waited for.
        assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `n` forked processes that start `f` at the same moment; each returns a line (its
/// token, or what went wrong) that the parent collects, with how long the process took.
pub fn processes(n: usize, f: impl Fn(usize) -> String) -> Vec<(String, Duration)> {
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
                // SAFETY: alarm only schedules SIGALRM: a child that hangs dies, unreported,
                // and the test fails instead of hanging.
                unsafe { libc::alarm(60) };
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
    // The parent never writes reports: without its copy, the report pipe ends when the
    // children (and any processes that other tests forked meanwhile) have ended, so a child
    // that dies without reporting fails the test below instead of hanging it.
    // SAFETY: the parent's copy of the write end, not used again.
    unsafe { libc::close(report[1]) };
    // One byte per child starts them all at once.
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
    }
    assert_eq!(lines.len(), n, "every process reported");
    lines.sort_by_key(|l| l.0);
    lines.into_iter().map(|(_, s, d)| (s, d)).collect()
}
