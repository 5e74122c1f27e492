//! Pipelines: the token manager many threads share. "Give me the user token" does whatever
//! steps are needed, once, for all threads: cached tokens while fresh, refresh ahead of
//! expiry, single-flight fetches, independent dependencies in parallel, stale-while-revalidate,
//! backoff after failures, refresh grants, invalidation that cascades, and optional storage.

mod event;
mod graph;
mod json;

pub use event::{Event, EventHook, EventKind};
pub use json::from_json;

use crate::context::Context;
use crate::error::{Error, Result, ResultCode};
use crate::fetcher::Fetcher;
use crate::hooks;
use crate::storage::TokenStorage;
use crate::text::CText;
use crate::token::{now_ms, Token};
use arc_swap::ArcSwapOption;
use graph::Graph;
use once_cell::sync::OnceCell;
use parking_lot::{Condvar, Mutex};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default refresh margin: a token is renewed when less than this is left (capped at half
/// its lifetime).
pub const DEFAULT_REFRESH_MARGIN_MS: i64 = 60_000;
/// Storage keys are `<prefix>:<step>`; this prefix unless the caller gives one.
pub const DEFAULT_STORAGE_PREFIX: &str = "tokenforge";
/// Lifetime assumed for a token with no known expiry and no TTL.
pub const DEFAULT_LIFETIME_MS: i64 = 600_000;
/// Longest pause after repeated failures of a step.
const MAX_BACKOFF_MS: i64 = 30_000;
/// First pause after a failure.
const BASE_BACKOFF_MS: i64 = 1_000;

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

/// A cached token (in [`SHARDS`] identical copies) and when to renew it.
struct Entry {
    token: Arc<Token>,
    copies: Vec<Arc<Token>>,
    refresh_at_ms: i64,
    expires_at_ms: i64,
}

impl Entry {
    /// The token for this thread: equal to `token`, maybe another copy.
    fn token_for_thread(&self) -> Arc<Token> {
        SHARD.with(|s| self.copies[*s].clone())
    }

    fn is_fresh(&self, now: i64) -> bool {
        now < self.refresh_at_ms
    }

    fn is_valid(&self, now: i64) -> bool {
        now < self.expires_at_ms
    }
}

/// The single-flight state of a step.
#[derive(Default)]
struct Flight {
    running: bool,
    /// Bumped when a fetch ends, so waiters know theirs is over.
    round: u64,
    /// What the last fetch served (a new token, the stale one, or the error).
    outcome: Option<std::result::Result<Arc<Token>, Error>>,
    failures: u32,
    backoff_until_ms: i64,
    last_error: Option<Error>,
    storage_checked: bool,
}

struct Step {
    fetcher: Arc<Fetcher>,
    entry: ArcSwapOption<Entry>,
    flight: Mutex<Flight>,
    done: Condvar,
}

/// Configuration a pipeline is built with.
struct Settings {
    refresh_margin_ms: i64,
    default_lifetime_ms: i64,
    storage: Option<(Arc<dyn TokenStorage>, String)>,
    event_hook: Option<EventHook>,
}

/// Steps, their cached tokens, and the rules to renew them. Configure with `&mut self`, then
/// share (`&self`, e.g. in an `Arc`) between any number of threads.
pub struct Pipeline {
    id: u64,
    steps: Vec<Step>,
    index: HashMap<String, usize, BuildHasherDefault<Fnv>>,
    settings: Settings,
    graph: OnceCell<std::result::Result<Graph, Error>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// FNV-1a: step names are short and chosen by the program, so a fast hash will do.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

thread_local! {
    /// (pipeline, step) pairs this thread is fetching: asking for one of them again from a
    /// hook or custom fetcher would wait for itself.
    static IN_FLIGHT: RefCell<Vec<(u64, usize)>> = const { RefCell::new(Vec::new()) };
}

/// Removes its (pipeline, step) pair from `IN_FLIGHT` when the fetch ends, even by panic.
struct FlightMark(u64, usize);

impl FlightMark {
    fn enter(pipeline: u64, step: usize) -> FlightMark {
        IN_FLIGHT.with(|f| f.borrow_mut().push((pipeline, step)));
        FlightMark(pipeline, step)
    }
}

impl Drop for FlightMark {
    fn drop(&mut self) {
        IN_FLIGHT.with(|f| {
            let mut f = f.borrow_mut();
            if let Some(pos) = f.iter().rposition(|p| *p == (self.0, self.1)) {
                f.remove(pos);
            }
        });
    }
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline::new()
    }
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            steps: Vec::new(),
            index: HashMap::default(),
            settings: Settings {
                refresh_margin_ms: DEFAULT_REFRESH_MARGIN_MS,
                default_lifetime_ms: DEFAULT_LIFETIME_MS,
                storage: None,
                event_hook: None,
            },
            graph: OnceCell::new(),
        }
    }

    /// Adds a step, in any order. A duplicate name is `CONFIG`.
    pub fn add(&mut self, fetcher: Arc<Fetcher>) -> Result<()> {
        let name = fetcher.name().as_str().to_string();
        if self.index.contains_key(&name) {
            return Err(Error::config(format!("duplicate step \"{name}\"")).with_step_field(&name));
        }
        self.index.insert(name, self.steps.len());
        self.steps.push(Step {
            fetcher,
            entry: ArcSwapOption::empty(),
            flight: Mutex::new(Flight::default()),
            done: Condvar::new(),
        });
        self.graph = OnceCell::new();
        Ok(())
    }

    /// Tokens are loaded from `storage` (under `prefix:step`) before any fetch and written
    /// after each fetch, so pipelines sharing a storage reuse valid tokens. `None`:
    /// [`DEFAULT_STORAGE_PREFIX`].
    pub fn set_storage(&mut self, storage: Arc<dyn TokenStorage>, prefix: Option<&str>) {
        let prefix = prefix.unwrap_or(DEFAULT_STORAGE_PREFIX);
        self.settings.storage = Some((storage, prefix.to_string()));
    }

    /// The refresh margin: a token is renewed when less than min(margin, half its lifetime) is
    /// left. Negative is `INVALID_ARGUMENT`.
    pub fn set_refresh_margin_ms(&mut self, margin_ms: i64) -> Result<()> {
        if margin_ms < 0 {
            return Err(Error::invalid_argument("refresh margin must not be negative"));
        }
        self.settings.refresh_margin_ms = margin_ms;
        Ok(())
    }

    /// The lifetime given to tokens with no known expiry and no TTL; must be positive.
    pub fn set_default_lifetime_ms(&mut self, lifetime_ms: i64) -> Result<()> {
        if lifetime_ms <= 0 {
            return Err(Error::invalid_argument("default lifetime must be positive"));
        }
        self.settings.default_lifetime_ms = lifetime_ms;
        Ok(())
    }

    pub fn set_event_hook(&mut self, hook: EventHook) {
        self.settings.event_hook = Some(hook);
    }

    /// Checks that every dependency is a step and there is no cycle (`CONFIG`, naming the
    /// steps involved). Done once; `get` does it too.
    pub fn validate(&self) -> Result<()> {
        self.graph().map(|_| ())
    }

    fn graph(&self) -> Result<&Graph> {
        self.graph
            .get_or_init(|| {
                let fetchers: Vec<Arc<Fetcher>> = self.steps.iter().map(|s| s.fetcher.clone()).collect();
                Graph::build(&fetchers, &self.index)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn step_index(&self, step: &str) -> Result<usize> {
        self.index
            .get(step)
            .copied()
            .ok_or_else(|| Error::invalid_argument(format!("unknown step \"{step}\"")))
    }

    /// The token of `step`: the cached one while fresh; otherwise fetched (once, whatever the
    /// number of callers), after its stale dependencies, independent ones in parallel.
    pub fn get(&self, step: &str) -> Result<Arc<Token>> {
        let graph = self.graph()?;
        let i = self.step_index(step)?;
        self.token(i, graph)
    }

    fn token(&self, i: usize, graph: &Graph) -> Result<Arc<Token>> {
        if let Some(entry) = &*self.steps[i].entry.load() {
            if entry.is_fresh(now_ms()) {
                self.emit(i, EventKind::CacheHit, Duration::ZERO, Some(entry.expires_at_ms), 0, None);
                return Ok(entry.token_for_thread());
            }
        }
        self.renew(i, graph)
    }

    fn emit(&self, i: usize, kind: EventKind, duration: Duration, expires_at_ms: Option<i64>, attempt: u32, error: Option<&Error>) {
        if let Some(hook) = &self.settings.event_hook {
            let event = Event { kind, step: self.steps[i].fetcher.name(), duration, expires_at_ms, attempt, error };
            let _ = hooks::call("event hook", || {
                hook(&event);
                Ok(())
            });
        }
    }

    /// The slow path: single-flight renewal of step `i`.
    fn renew(&self, i: usize, graph: &Graph) -> Result<Arc<Token>> {
        let step = &self.steps[i];
        let name = step.fetcher.name().as_str();
        if IN_FLIGHT.with(|f| f.borrow().contains(&(self.id, i))) {
            return Err(Error::config(format!(
                "step \"{name}\" was asked for from its own fetch (a hook or custom fetcher re-entered the pipeline)"
            ))
            .with_step_field(name));
        }
        let deadline = Instant::now() + graph.wait_bound[i];
        let mut flight = step.flight.lock();
        loop {
            let now = now_ms();
            if let Some(entry) = &*step.entry.load() {
                if entry.is_fresh(now) {
                    return Ok(entry.token.clone());
                }
            }
            if flight.running {
                let round = flight.round;
                while flight.running && flight.round == round {
                    if step.done.wait_until(&mut flight, deadline).timed_out() {
                        return Err(Error::new(
                            ResultCode::Timeout,
                            format!("waited for the fetch of step \"{name}\" past its deadline"),
                        )
                        .with_step_field(name));
                    }
                }
                if let Some(outcome) = &flight.outcome {
                    return outcome.clone();
                }
                continue;
            }
            if now < flight.backoff_until_ms {
                if let Some(entry) = step.entry.load_full().filter(|e| e.is_valid(now)) {
                    return Ok(entry.token.clone());
                }
                if let Some(e) = &flight.last_error {
                    return Err(e.clone());
                }
            }
            flight.running = true;
            break;
        }
        let check_storage = !std::mem::replace(&mut flight.storage_checked, true);
        drop(flight);

        let old = step.entry.load_full();
        let result = {
            let _mark = FlightMark::enter(self.id, i);
            hooks::call("pipeline fetch", || self.fetch_step(i, graph, old.as_deref(), check_storage))
        };
        match result {
            Ok(token) => self.settle(i, Ok(()), Ok(token)),
            Err(e) => match old.as_ref().filter(|o| o.is_valid(now_ms())) {
                Some(o) => {
                    self.emit(i, EventKind::StaleServed, Duration::ZERO, Some(o.expires_at_ms), 0, Some(&e));
                    self.settle(i, Err(e), Ok(o.token.clone()))
                }
                None => self.settle(i, Err(e.clone()), Err(e)),
            },
        }
    }

    /// Ends a fetch: records the outcome, sets or clears the backoff, wakes the waiters.
    fn settle(&self, i: usize, fetched: std::result::Result<(), Error>, served: Result<Arc<Token>>) -> Result<Arc<Token>> {
        let step = &self.steps[i];
        let mut flight = step.flight.lock();
        match fetched {
            Ok(()) => {
                flight.failures = 0;
                flight.backoff_until_ms = 0;
                flight.last_error = None;
            }
            Err(e) => {
                flight.failures = flight.failures.saturating_add(1);
                let pause = BASE_BACKOFF_MS.saturating_mul(1 << flight.failures.min(16).saturating_sub(1)).min(MAX_BACKOFF_MS);
                flight.backoff_until_ms = now_ms().saturating_add(pause);
                flight.last_error = Some(e);
            }
        }
        flight.running = false;
        flight.round = flight.round.wrapping_add(1);
        flight.outcome = Some(served.clone());
        step.done.notify_all();
        served
    }

    fn entry_for(&self, token: Arc<Token>, now: i64) -> Entry {
        let expires = token
            .expires_at_ms()
            .unwrap_or_else(|| now.saturating_add(self.settings.default_lifetime_ms));
        let lifetime = expires.saturating_sub(now).max(0);
        let margin = self.settings.refresh_margin_ms.min(lifetime / 2);
        let mut copies = vec![token.clone()];
        copies.extend((1..SHARDS).map(|_| Arc::new(Token::clone(&token))));
        Entry { token, copies, refresh_at_ms: expires - margin, expires_at_ms: expires }
    }

    fn storage_key(&self, i: usize) -> Option<(&Arc<dyn TokenStorage>, String)> {
        let (storage, prefix) = self.settings.storage.as_ref()?;
        Some((storage, format!("{prefix}:{}", self.steps[i].fetcher.name())))
    }

    /// Fetches step `i` upstream (or takes it from storage), caches and stores it, and drops
    /// its dependents' tokens.
    fn fetch_step(&self, i: usize, graph: &Graph, old: Option<&Entry>, check_storage: bool) -> Result<Arc<Token>> {
        let step = &self.steps[i];
        let fetcher = &step.fetcher;
        if check_storage && old.is_none() {
            if let Some(token) = self.load_stored(i) {
                return Ok(token);
            }
        }
        let context = self.dependencies(i, graph)?;
        let started = Instant::now();
        self.emit(i, EventKind::FetchStarted, Duration::ZERO, None, 0, None);
        let on_retry = |attempt: u32, wait: Duration| self.emit(i, EventKind::Retry, wait, None, attempt, None);
        let refreshed = old.and_then(|o| self.try_refresh_grant(i, o, &context, &on_retry));
        let (token, kind) = match refreshed {
            Some(Ok(token)) => (token, EventKind::Refreshed),
            Some(Err(e)) => return Err(self.failed(i, e, started)),
            None => match fetcher.fetch_observed(Some(&context), Some(&on_retry)) {
                Ok(token) => (token, EventKind::FetchSucceeded),
                Err(e) => return Err(self.failed(i, e, started)),
            },
        };
        let token = Arc::new(token);
        let entry = Arc::new(self.entry_for(token.clone(), now_ms()));
        if let Some((storage, key)) = self.storage_key(i) {
            if let Err(e) = storage.store(&key, &token) {
                self.storage_failed(i, e, Some(&context));
            }
        }
        step.entry.store(Some(entry.clone()));
        self.emit(i, kind, started.elapsed(), Some(entry.expires_at_ms), 0, None);
        if old.is_some() {
            self.drop_tokens(&graph.dependents[i]);
        }
        Ok(token)
    }

    fn failed(&self, i: usize, error: Error, started: Instant) -> Error {
        self.emit(i, EventKind::FetchFailed, started.elapsed(), None, 0, Some(&error));
        error
    }

    /// A storage failure never fails a get (DESIGN.md): it goes to the step's error hook and
    /// the event hook, and the get goes on without the store.
    fn storage_failed(&self, i: usize, e: Error, context: Option<&Context>) {
        let fetcher = &self.steps[i].fetcher;
        let e = e.with_step_field(fetcher.name().as_str());
        fetcher.report(&e, context);
        self.emit(i, EventKind::StorageFailed, Duration::ZERO, None, 0, Some(&e));
    }

    /// A token from storage that is still fresh, cached as if fetched. A store that fails is
    /// a miss.
    fn load_stored(&self, i: usize) -> Option<Arc<Token>> {
        let (storage, key) = self.storage_key(i)?;
        let token = match storage.retrieve(&key) {
            Ok(token) => token?,
            Err(e) => {
                self.storage_failed(i, e, None);
                return None;
            }
        };
        let now = now_ms();
        let entry = self.entry_for(token.clone(), now);
        if !entry.is_fresh(now) {
            return None;
        }
        self.emit(i, EventKind::LoadedFromStorage, Duration::ZERO, Some(entry.expires_at_ms), 0, None);
        self.steps[i].entry.store(Some(Arc::new(entry)));
        Some(token)
    }

    /// The refresh grant for a cached token that carries a refresh token, when the step has a
    /// refresh endpoint, sent by the step's fetcher. `invalid_grant` gives `None` (fall back to
    /// a full fetch). A rotated refresh token is kept in the returned token.
    fn try_refresh_grant(&self, i: usize, old: &Entry, context: &Context, on_retry: &crate::http::OnRetry<'_>) -> Option<Result<Token>> {
        let refresh_token = old.token.refresh_token()?;
        match self.steps[i].fetcher.refresh_observed(Some(context), refresh_token, Some(on_retry))? {
            Err(e) if e.oauth_error().is_some_and(|c| c.as_str() == "invalid_grant") => None,
            result => Some(result),
        }
    }

    /// The context of step `i`: exactly its dependencies' fresh tokens, stale ones renewed
    /// (in parallel when there are several).
    fn dependencies(&self, i: usize, graph: &Graph) -> Result<Context> {
        let deps = &graph.deps[i];
        let now = now_ms();
        let stale: Vec<usize> = deps
            .iter()
            .copied()
            .filter(|&d| self.steps[d].entry.load().as_ref().is_none_or(|e| !e.is_fresh(now)))
            .collect();
        let mut results: Vec<(usize, Result<Arc<Token>>)> = Vec::with_capacity(deps.len());
        if stale.len() > 1 {
            std::thread::scope(|scope| {
                let handles: Vec<_> = stale[1..]
                    .iter()
                    .map(|&d| (d, scope.spawn(move || self.token(d, graph))))
                    .collect();
                results.push((stale[0], self.token(stale[0], graph)));
                for (d, h) in handles {
                    results.push((d, h.join().unwrap_or_else(|_| Err(Error::new(ResultCode::Panic, "a dependency fetch panicked")))));
                }
            });
        }
        let mut context = Context::new();
        for &d in deps {
            let result = match results.iter().position(|(r, _)| *r == d) {
                Some(pos) => results.swap_remove(pos).1,
                None => self.token(d, graph),
            };
            let dep_name = self.steps[d].fetcher.name();
            let token = result.map_err(|e| {
                Error::new(ResultCode::Dependency, format!("dependency \"{dep_name}\" failed: {}", e.message()))
                    .with_step_field(self.steps[i].fetcher.name().as_str())
            })?;
            context.set(dep_name.as_str(), token);
        }
        Ok(context)
    }

    /// Drops the cached (and stored) tokens of `steps`.
    fn drop_tokens(&self, steps: &[usize]) {
        for &s in steps {
            let had = self.steps[s].entry.swap(None);
            self.steps[s].flight.lock().backoff_until_ms = 0;
            self.delete_stored(s);
            if had.is_some() {
                self.emit(s, EventKind::Invalidated, Duration::ZERO, None, 0, None);
            }
        }
    }

    /// Deletes the stored token of step `i`; a failing store is reported.
    fn delete_stored(&self, i: usize) {
        if let Some((storage, key)) = self.storage_key(i) {
            if let Err(e) = storage.delete(&key) {
                self.storage_failed(i, e, None);
            }
        }
    }

    /// Drops the cached token of `step` and of every step that depends on it. A store that
    /// fails to delete is reported (error hook, event), not returned.
    pub fn invalidate(&self, step: &str) -> Result<()> {
        let graph = self.graph()?;
        let i = self.step_index(step)?;
        let mut all = vec![i];
        all.extend_from_slice(&graph.dependents[i]);
        self.drop_tokens(&all);
        Ok(())
    }

    /// [`Self::invalidate`], but only when the cached token of `step` still has
    /// `access_token`: concurrent callers retrying after a 401 cause one refetch, not many.
    /// Returns whether it invalidated.
    pub fn invalidate_if(&self, step: &str, access_token: &str) -> Result<bool> {
        let graph = self.graph()?;
        let i = self.step_index(step)?;
        let current = self.steps[i].entry.load_full();
        let Some(entry) = current.as_ref().filter(|e| e.token.access_token().as_str() == access_token) else {
            return Ok(false);
        };
        let previous = self.steps[i].entry.compare_and_swap(&Some(entry.clone()), None);
        if !(*previous).as_ref().is_some_and(|p| Arc::ptr_eq(p, entry)) {
            return Ok(false);
        }
        self.emit(i, EventKind::Invalidated, Duration::ZERO, None, 0, None);
        self.steps[i].flight.lock().backoff_until_ms = 0;
        self.delete_stored(i);
        self.drop_tokens(&graph.dependents[i]);
        Ok(true)
    }

    /// The step names, in the order they were added.
    pub fn steps(&self) -> impl Iterator<Item = &CText> {
        self.steps.iter().map(|s| s.fetcher.name())
    }
}
