//! The state of one step: its cached token (read without a lock) and its single-flight and
//! failure memory (behind a lock that a child process after `fork()` makes afresh).

use super::changes::Counter;
use crate::error::Error;
use crate::fetcher::Fetcher;
use crate::fork;
use crate::token::Token;
use arc_swap::{ArcSwap, ArcSwapOption};
use once_cell::race::OnceBox;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Copies of a cached token handed out, so that threads on different cores do not all count
/// references on one cache line.
const SHARDS: usize = 8;

thread_local! {
    /// Which copy of a cached token this thread hands out.
    static SHARD: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        (NEXT.fetch_add(1, Ordering::Relaxed) as usize) % SHARDS
    };
}

/// A cached token and when to renew it. Threads in shard 0 hand out `token` itself; a thread
/// of another shard makes that shard's copy the first time it reads the entry, so a token
/// read from one thread costs at most one copy, and the copies exist only for tokens that
/// several threads read.
pub(super) struct Entry {
    pub token: Arc<Token>,
    copies: [OnceBox<Arc<Token>>; SHARDS - 1],
    pub refresh_at_ms: i64,
    pub expires_at_ms: i64,
}

impl Entry {
    /// An entry for `token`, renewed `margin_ms` before it expires at `expires_at_ms`.
    pub fn new(token: Arc<Token>, refresh_at_ms: i64, expires_at_ms: i64) -> Entry {
        Entry { token, copies: Default::default(), refresh_at_ms, expires_at_ms }
    }

    /// The token for this thread: equal to `token`, maybe another copy.
    #[inline]
    pub fn token_for_thread(&self) -> Arc<Token> {
        match SHARD.with(|s| *s) {
            0 => self.token.clone(),
            s => self.copies[s - 1].get_or_init(|| Box::new(Arc::new(Token::clone(&self.token)))).clone(),
        }
    }

    /// Whether `token` is this entry's token (one of its copies).
    pub fn holds(&self, token: &Arc<Token>) -> bool {
        Arc::ptr_eq(&self.token, token) || self.copies.iter().any(|c| c.get().is_some_and(|c| Arc::ptr_eq(c, token)))
    }

    /// Fresh: no renewal due yet.
    pub fn is_fresh(&self, now: i64) -> bool {
        now < self.refresh_at_ms
    }

    /// Valid: not expired (it may be stale, due for renewal).
    pub fn is_valid(&self, now: i64) -> bool {
        now < self.expires_at_ms
    }
}

/// The single-flight state and failure memory of a step.
#[derive(Default)]
pub(super) struct Flight {
    /// A fetch or renewal of the step is running.
    pub running: bool,
    /// Bumped when a fetch ends, so waiters know theirs is over.
    pub round: u64,
    /// What the last fetch served (a new token, the still valid old one, or the error).
    pub outcome: Option<Result<Arc<Token>, Error>>,
    /// Failures of the step's own fetch in a row.
    pub failures: u32,
    /// While a valid token exists: no renewal before this (backoff after failures).
    pub renew_after_ms: i64,
    /// Once no valid token exists: no fetch before this (a failure moments ago, or the
    /// server's Retry-After); the last error is returned meanwhile.
    pub fetch_after_ms: i64,
    pub last_error: Option<Error>,
}

impl Flight {
    /// Forgets failures (a success, or an invalidation asking for a new fetch).
    pub fn forget_failures(&mut self) {
        self.failures = 0;
        self.renew_after_ms = 0;
        self.fetch_after_ms = 0;
        self.last_error = None;
    }
}

/// A step's flight behind its lock, made in one fork generation.
pub(super) struct FlightCell {
    fork_generation: u64,
    pub flight: Mutex<Flight>,
    pub done: Condvar,
}

pub(super) struct Step {
    pub fetcher: Arc<Fetcher>,
    /// Set when the step is removed from its pipeline (step handles on it then fail).
    removed: AtomicBool,
    entry: ArcSwapOption<Entry>,
    /// Incremented after every change of `entry`. Its address is handed to wrappers, which
    /// cache tokens while it reads the same; it lives for the whole process (see changes.rs).
    changes: Counter,
    cell: ArcSwap<FlightCell>,
}

impl FlightCell {
    fn new(fork_generation: u64) -> FlightCell {
        FlightCell { fork_generation, flight: Mutex::new(Flight::default()), done: Condvar::new() }
    }
}

impl Step {
    pub fn new(fetcher: Arc<Fetcher>) -> Step {
        Step {
            fetcher,
            removed: AtomicBool::new(false),
            entry: ArcSwapOption::empty(),
            changes: Counter::new(),
            cell: ArcSwap::from_pointee(FlightCell::new(fork::generation())),
        }
    }

    /// The cached entry, for a quick look.
    #[inline]
    pub fn entry(&self) -> arc_swap::Guard<Option<Arc<Entry>>> {
        self.entry.load()
    }

    /// The cached entry, to keep.
    pub fn entry_full(&self) -> Option<Arc<Entry>> {
        self.entry.load_full()
    }

    /// Marks the step removed from its pipeline.
    pub fn mark_removed(&self) {
        self.removed.store(true, Ordering::Release);
    }

    #[inline]
    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    /// Replaces the cached entry.
    pub fn set_entry(&self, entry: Option<Arc<Entry>>) {
        self.entry.store(entry);
        self.changes.get().fetch_add(1, Ordering::Release);
    }

    /// Drops the cached entry, returning it.
    pub fn take_entry(&self) -> Option<Arc<Entry>> {
        let had = self.entry.swap(None);
        if had.is_some() {
            self.changes.get().fetch_add(1, Ordering::Release);
        }
        had
    }

    /// Drops the cached entry if it is still `current`; reports whether it did.
    pub fn take_entry_if(&self, current: &Arc<Entry>) -> bool {
        let previous = self.entry.compare_and_swap(&Some(current.clone()), None);
        let taken = (*previous).as_ref().is_some_and(|p| Arc::ptr_eq(p, current));
        if taken {
            self.changes.get().fetch_add(1, Ordering::Release);
        }
        taken
    }

    /// The change counter of the cached entry, readable for the life of the process.
    pub fn changes(&self) -> &'static AtomicU64 {
        self.changes.get()
    }

    /// The step's flight cell. In a child process after `fork()` the inherited one may be
    /// locked by, or wait for, a thread that does not exist there: the child starts a fresh
    /// one (the cached token stays).
    pub fn cell(&self) -> Arc<FlightCell> {
        let current = self.cell.load_full();
        let generation = fork::generation();
        if current.fork_generation == generation {
            return current;
        }
        let fresh = Arc::new(FlightCell::new(generation));
        let previous = self.cell.compare_and_swap(&current, fresh.clone());
        if Arc::ptr_eq(&*previous, &current) {
            fresh
        } else {
            self.cell()
        }
    }
}
