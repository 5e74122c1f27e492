//! A child forked while a thread of its parent is reading the system trust store (the first
//! request of a process reads it, which takes milliseconds) gets tokens: it reads the store
//! itself instead of waiting for the parent's thread, which does not exist in the child.
//! Its own test binary, because `SSL_CERT_FILE` must be set before anything reads the store.
//!
//! `SSL_CERT_FILE` names a FIFO, so the reading thread stays inside the read until this test
//! lets it go, and opening the FIFO's write end tells the test when that thread is there.

use std::ffi::CString;
use std::os::unix::io::AsRawFd;
use std::thread::{sleep, spawn};
use std::time::Duration;
use tokenforge::pipeline::from_json;
use tokenforge_testserver::fleet::{processes, TempDir};
use tokenforge_testserver::Server;

fn fetch_once(url: &str) -> String {
    let json = format!(r#"{{"steps":[{{"name":"t","kind":"body","base_url":"{url}","endpoint":"/echo"}}]}}"#);
    match from_json(&json).and_then(|p| p.get("t")) {
        Ok(t) => t.access_token().as_str().to_string(),
        Err(e) => format!("error {e}"),
    }
}

#[test]
fn a_child_forked_while_its_parent_reads_the_trust_store_gets_tokens() {
    let dir = TempDir::new("trust-store");
    let fifo = dir.path().join("roots.pem");
    let path = CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: path is NUL-terminated.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    std::env::set_var("SSL_CERT_FILE", &fifo);
    let server = Server::start().unwrap();
    let url = server.url();

    // The parent's first request: it reads the trust store and blocks in the FIFO.
    let u2 = url.clone();
    let parent = spawn(move || fetch_once(&u2));
    // Opening the write end returns once that thread has opened the FIFO to read it.
    let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let writer_fd = writer.as_raw_fd();
    // The FIFO ends (empty: the bundled roots are used) after the child has started.
    let release = spawn(move || {
        sleep(Duration::from_millis(300));
        drop(writer);
    });
    let children = processes(1, |_| {
        // SAFETY: the child's copy of the write end, which would keep the FIFO from ending.
        unsafe { libc::close(writer_fd) };
        // SAFETY: alarm only schedules SIGALRM, which ends a child that hangs.
        unsafe { libc::alarm(10) };
        fetch_once(&url)
    });
    release.join().unwrap();
    assert!(children[0].0.starts_with("echo-"), "the child got a token: {children:?}");
    assert!(parent.join().unwrap().starts_with("echo-"), "and so did the parent");
}
