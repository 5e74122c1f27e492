//! `userdata`: a pointer C hands over with its destructor.
//!
//! Once a function receives a `userdata` with its `free_userdata`, the library owns it:
//! `free_userdata` (when not NULL) is called exactly once, when the last owner is freed, or
//! at once when the call that received it fails. Callbacks may run on several threads at once
//! (and on library threads), so userdata must be safe to use from several threads.

use crate::error::Cause;
use std::ffi::c_void;
use std::sync::Arc;

/// Frees a userdata; may be NULL.
pub type tokenforge_free_userdata = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// A `userdata` pointer and its destructor, called once when the last owner drops it.
pub(crate) struct UserData {
    ptr: *mut c_void,
    free: tokenforge_free_userdata,
}

// SAFETY: the C caller promises (module docs, header) that a userdata may be used, and freed,
// from any thread that runs its callbacks.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: tokenforge_free_userdata) -> Arc<UserData> {
        Arc::new(UserData { ptr, free })
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// The userdata behind an error's cause, when a C caller attached one.
    pub(crate) fn of_cause(cause: &Cause) -> Option<&UserData> {
        cause.downcast_ref::<UserData>()
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller handed ptr over with this destructor, to be called once; this
            // is the last owner.
            unsafe { free(self.ptr) };
        }
    }
}
