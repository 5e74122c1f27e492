//! Pipeline events, for logging and measuring: one per cache hit, fetch, refresh, retry,
//! failure, stale token served, token loaded from storage, storage failure, and invalidation.

use crate::error::Error;
use std::sync::Arc;
use std::time::Duration;

/// What happened.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A fresh cached token was returned.
    CacheHit = 0,
    /// An upstream fetch (or refresh grant) of the step began: on a caller's behalf, or in the
    /// background (see `background`).
    FetchStarted = 1,
    /// A fetch gave a new token; `duration` is how long it took.
    FetchSucceeded = 2,
    /// A fetch failed; `error` says why.
    FetchFailed = 3,
    /// The cached token was renewed through the refresh endpoint.
    Refreshed = 4,
    /// An HTTP attempt is about to be retried; `attempt` is its number, `duration` the wait.
    Retry = 5,
    /// The step's cached token was dropped (invalidated, directly or through a dependency).
    Invalidated = 6,
    /// A refresh failed while the old token was still valid: the old token was served.
    StaleServed = 7,
    /// A token was taken from storage instead of being fetched.
    LoadedFromStorage = 8,
    /// The storage failed (read, write or delete); `error` says why. The get went on
    /// without it.
    StorageFailed = 9,
}

/// One event. Borrowed for the duration of the hook call.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    pub kind: EventKind,
    pub step: &'a crate::text::CText,
    pub duration: Duration,
    /// Expiry of the token concerned, when known.
    pub expires_at_ms: Option<i64>,
    pub attempt: u32,
    pub error: Option<&'a Error>,
    /// True for the events of a renewal running in the background (no caller waits for it),
    /// false for those of a fetch a caller waits for, and for cache hits and invalidations.
    pub background: bool,
}

/// Called synchronously, on the thread where the event happened.
pub type EventHook = Arc<dyn Fn(&Event<'_>) + Send + Sync>;
