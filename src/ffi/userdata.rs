//! `userdata`: a pointer C hands over with its destructor, and what a C callback's result
//! amounts to.
//!
//! Once a function receives a `userdata` with its `free_userdata`, the library owns it:
//! `free_userdata` (when not NULL) is called exactly once, when the last owner is freed, or
//! at once when the call that received it fails. Callbacks may run on several threads at once
//! (and on library threads), so userdata must be safe to use from several threads.

use super::context::tokenforge_context;
use super::error::tokenforge_error;
use super::handle::take_box;
use super::result::ResultArg;
use crate::context::Context;
use crate::error::{Cause, Error, ResultCode};
use std::ffi::c_void;
use std::ptr;
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

/// The error a callback's result code amounts to: `None` for OK. A code that is no
/// `tokenforge_result` is a `CALLBACK` error, as is any failure without an error object.
/// With an error object, its message, fields and cause are kept, under the returned code.
///
/// # Safety
/// `err` is NULL or an error the callback handed over (made by `tokenforge_error_new` or
/// received from the library), not used again.
pub(crate) unsafe fn callback_outcome(what: &str, rc: ResultArg, err: *mut tokenforge_error) -> Option<Error> {
    // SAFETY: the caller vouches that err is NULL or an owned error.
    let given = unsafe { take_box(err) };
    match rc.code() {
        Some(ResultCode::Ok) => None,
        Some(code) => Some(match given {
            Some(e) if e.code() == code => e,
            Some(e) => Error::new(code, e.message()).with_cause(e.cause().cloned()),
            None => Error::new(code, format!("{what} failed with {}", code.name())),
        }),
        None => Some(
            Error::new(ResultCode::Callback, format!("{what} returned {}, which is no result code", rc.0))
                .with_cause(given.and_then(|e| e.cause().cloned())),
        ),
    }
}

/// The context pointer a callback receives: NULL when the fetch had none.
pub(crate) fn context_ptr(context: Option<&Context>) -> *const tokenforge_context {
    context.map_or(ptr::null(), |c| ptr::from_ref(c).cast())
}
