//! A pipeline inherited across `fork()` (as pre-fork servers do), including while a renewal
//! was running in the background: the child gets tokens normally. Real processes; the child
//! reports through its exit status.

use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};
use tokenforge::pipeline::{EventKind, Pipeline};
use tokenforge::FetcherBuilder;
use tokenforge_testserver::Server;

/// Runs `child` in a forked child process and returns its exit status (0: all held).
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child` (library calls on this test's pipeline, no locks of
    // the test harness) and leaves with _exit, never returning into the harness.
    match unsafe { libc::fork() } {
        0 => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(99);
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        -1 => panic!("fork failed"),
        pid => {
            let mut status = 0;
            // SAFETY: pid is our child; status is writable.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(libc::WIFEXITED(status), "child crashed: status {status}");
            libc::WEXITSTATUS(status)
        }
    }
}

#[test]
fn a_child_forked_during_a_background_renewal_gets_tokens() {
    let server = Server::start().unwrap();
    let mut slow = FetcherBuilder::body("slow", &server.url(), "/slow/1500");
    slow.ttl_ms(3_000).unwrap();
    slow.timeout_ms(5_000).unwrap();
    let mut quick = FetcherBuilder::body("quick", &server.url(), "/echo");
    quick.ttl_ms(3_000).unwrap();
    let mut p = Pipeline::new();
    p.add(Arc::new(slow.build().unwrap())).unwrap();
    p.add(Arc::new(quick.build().unwrap())).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = log.clone();
    p.set_event_hook(Arc::new(move |e| l2.lock().unwrap().push((e.kind, e.background)))).unwrap();
    let first = p.get("slow").unwrap();
    p.get("quick").unwrap();
    sleep(Duration::from_millis(1_600)); // stale (margin: half of 3 s)
    assert!(p.get("slow").unwrap().access_token() == first.access_token());
    let end = Instant::now() + Duration::from_secs(5);
    while !log.lock().unwrap().contains(&(EventKind::FetchStarted, true)) {
        assert!(Instant::now() < end, "no renewal started in the background");
        sleep(Duration::from_millis(1));
    }

    let status = in_child(|| {
        // The inherited, still valid token is served.
        let t = p.get("slow").unwrap();
        if t.access_token() != first.access_token() {
            return 1;
        }
        // New fetches work: fresh flight state and a fresh HTTP pool in the child.
        p.invalidate("quick").unwrap();
        let q = p.get("quick").unwrap();
        if q.access_token().as_str() != "echo-token" {
            return 2;
        }
        // Once the inherited token expires, the child fetches its own (the parent's renewal
        // does not exist here and must not be waited for).
        let end = Instant::now() + Duration::from_secs(6);
        loop {
            match p.get("slow") {
                Ok(t) if t.access_token() != first.access_token() => return 0,
                Ok(_) => {}
                Err(_) => return 3,
            }
            if Instant::now() > end {
                return 4;
            }
            sleep(Duration::from_millis(20));
        }
    });
    assert_eq!(status, 0, "child status");
    // The parent's own renewal finished normally.
    let end = Instant::now() + Duration::from_secs(5);
    while p.get("slow").unwrap().access_token() == first.access_token() {
        assert!(Instant::now() < end, "the parent's renewal did not finish");
        sleep(Duration::from_millis(20));
    }
}
