//! `tokenforge_event`: what a pipeline tells its event hook. Borrowed for the hook call.

use super::error::tokenforge_error;
use super::userdata::UserData;
use crate::pipeline::{Event, EventHook, EventKind};
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

/// One pipeline event, borrowed for the duration of the event hook call.
#[repr(C)]
pub struct tokenforge_event {
    /// What happened.
    pub kind: EventKind,
    /// The step concerned.
    pub step: *const c_char,
    /// Fetch and refresh events: how long it took; retry events: the wait before the retry.
    pub duration_us: i64,
    /// Expiry of the token concerned (Unix epoch ms), `TOKENFORGE_NO_EXPIRY` when unknown.
    pub expires_at_ms: i64,
    /// Retry events: the number of the attempt about to start (2 for the first retry).
    pub attempt: u32,
    /// Failure, stale-served and storage events: the error; NULL otherwise.
    pub error: *const tokenforge_error,
    /// True for the events of a renewal running in the background, which no caller waits
    /// for; false for a fetch a caller waits for, cache hits and invalidations.
    pub background: bool,
}

/// Called once per event, synchronously, on the thread where it happened (a cache hit on the
/// caller's thread, a parallel dependency fetch or a background renewal on a library
/// thread). Must be quick and must not call back into the same pipeline.
pub type tokenforge_event_hook = Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const tokenforge_event)>;

/// The Rust event hook that calls the C one with each event.
pub(crate) fn event_hook(
    hook: unsafe extern "C" fn(*mut c_void, *const tokenforge_event),
    data: Arc<UserData>,
) -> EventHook {
    Arc::new(move |e: &Event<'_>| {
        let event = tokenforge_event {
            kind: e.kind,
            step: e.step.as_ptr(),
            duration_us: i64::try_from(e.duration.as_micros()).unwrap_or(i64::MAX),
            expires_at_ms: e.expires_at_ms.unwrap_or(crate::token::NO_EXPIRY),
            attempt: e.attempt,
            error: e.error.map_or(ptr::null(), |x| ptr::from_ref(x).cast()),
            background: e.background,
        };
        // SAFETY: hook is the caller's function for this userdata; the event is live for the
        // call.
        unsafe { hook(data.ptr(), &event) };
    })
}
