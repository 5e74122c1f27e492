//! `fork()` awareness. A child process inherits the memory of its parent but none of its
//! threads: a lock held by another thread, a renewal running in the background and the
//! connections of the HTTP pool (shared with the parent) are all unusable there. State that
//! such things touch is stamped with the fork generation it was made in; a child sees a newer
//! generation and starts that state afresh, while cached tokens are kept. The child also
//! closes its copies of the lock files of the parent's leases (the file store).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static WATCH: Once = Once::new();

extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
    crate::storage::close_inherited_locks();
}

/// Installs the handler when the library is loaded, before any thread of the program can
/// fork, so that the `Once` below is complete in every child (a `Once` that a parent thread
/// was running when it forked would never complete in the child). Where the linker leaves
/// this out (a static archive member nothing else pulls in), the first use installs it.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
#[used]
#[link_section = ".init_array"]
static INSTALL_AT_LOAD: extern "C" fn() = install_at_load;

#[cfg(target_os = "macos")]
#[used]
#[link_section = "__DATA,__mod_init_func"]
static INSTALL_AT_LOAD: extern "C" fn() = install_at_load;

extern "C" fn install_at_load() {
    let _ = generation();
}

/// The number of forks between the process that started the library and this one: 0 in the
/// original process, higher in its children. One atomic load.
pub fn generation() -> u64 {
    WATCH.call_once(|| {
        // SAFETY: in_child is async-signal-safe (atomics and close), as a handler that runs in
        // the child of fork() must be.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
    GENERATION.load(Ordering::SeqCst)
}
