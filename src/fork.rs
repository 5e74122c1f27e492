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
