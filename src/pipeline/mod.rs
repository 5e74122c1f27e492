//! Pipelines: the token manager many threads share. "Give me the user token" does whatever
//! steps are needed, once, for all threads: cached tokens while fresh; renewal ahead of
//! expiry in the background while the token is still valid, so that no caller waits for it;
//! single-flight fetches; independent dependencies in parallel; refresh grants; failure
//! memory no longer than the fault; invalidation that cascades; and optional storage.

mod changes;
mod event;
mod graph;
mod json;
mod renew;
mod shared;
mod step;

pub use event::{Event, EventHook, EventKind};
pub use graph::MAX_DEPENDENCY_DEPTH;
pub use json::from_json;

use crate::error::{Error, Result};
use crate::fetcher::Fetcher;
use crate::hooks;
use crate::storage::TokenStorage;
use crate::text::CText;
use crate::token::{now_ms, Token};
use graph::Graph;
use once_cell::race::OnceBox;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use step::Step;

/// Default refresh margin: a token is renewed when less than this is left (capped at half
/// its lifetime).
pub const DEFAULT_REFRESH_MARGIN_MS: i64 = 60_000;
/// Storage keys are `<prefix>:<step>`; this prefix unless the caller gives one.
pub const DEFAULT_STORAGE_PREFIX: &str = "tokenforge";
/// Lifetime assumed for a token with no known expiry and no TTL.
pub const DEFAULT_LIFETIME_MS: i64 = 600_000;

/// Configuration a pipeline is built with.
struct Settings {
    refresh_margin_ms: i64,
    default_lifetime_ms: i64,
    background_refresh: bool,
    storage: Option<(Arc<dyn TokenStorage>, String)>,
    event_hook: Option<EventHook>,
}

/// Steps, their cached tokens, and the rules to renew them. Configure with `&mut self`, then
/// share (`&self`, e.g. in an `Arc`) between any number of threads.
pub struct Pipeline {
    inner: Arc<Inner>,
}

/// What a pipeline is, shared with the renewals it runs in the background.
struct Inner {
    id: u64,
    steps: Vec<Step>,
    index: Index,
    settings: Settings,
    /// Built at first use. A `OnceBox` never waits (a fork child of a parent that was building
    /// it builds its own).
    graph: OnceBox<std::result::Result<Graph, Error>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Step names to indexes. Looked up by bytes, so the C ABI needs no UTF-8 check on the way
/// in; foldhash hashes a short name in a few instructions (names are the program's, not an
/// attacker's, so a fixed seed will do).
type Index = HashMap<Box<[u8]>, usize, foldhash::fast::FixedState>;

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline::new()
    }
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                steps: Vec::new(),
                index: HashMap::default(),
                settings: Settings {
                    refresh_margin_ms: DEFAULT_REFRESH_MARGIN_MS,
                    default_lifetime_ms: DEFAULT_LIFETIME_MS,
                    background_refresh: true,
                    storage: None,
                    event_hook: None,
                },
                graph: OnceBox::new(),
            }),
        }
    }

    /// The pipeline to change: refused (`CONFIG`) while a renewal running in the background
    /// or a step handle shares it. Configure before first use.
    fn configure(&mut self) -> Result<&mut Inner> {
        Arc::get_mut(&mut self.inner).ok_or_else(|| {
            Error::config(
                "the pipeline is in use (a renewal in the background or a step handle shares it): configure it \
                 before its first use",
            )
        })
    }

    /// Adds a step, in any order. A duplicate name is `CONFIG`.
    pub fn add(&mut self, fetcher: Arc<Fetcher>) -> Result<()> {
        let inner = self.configure()?;
        let name = fetcher.name().as_str();
        if inner.index.contains_key(name.as_bytes()) {
            return Err(Error::config(format!("duplicate step \"{name}\"")).with_step_field(name));
        }
        inner.index.insert(name.as_bytes().into(), inner.steps.len());
        inner.steps.push(Step::new(fetcher));
        inner.graph = OnceBox::new();
        Ok(())
    }

    /// Tokens are loaded from `storage` (under `prefix:step`) before any fetch and written
    /// after each fetch, so pipelines sharing a storage reuse valid tokens. `None`:
    /// [`DEFAULT_STORAGE_PREFIX`].
    pub fn set_storage(&mut self, storage: Arc<dyn TokenStorage>, prefix: Option<&str>) -> Result<()> {
        let prefix = prefix.unwrap_or(DEFAULT_STORAGE_PREFIX);
        let inner = self.configure()?;
        inner.settings.storage = Some((storage, prefix.to_string()));
        inner.graph = OnceBox::new(); // waits are longer on a shared store
        Ok(())
    }

    /// The refresh margin: a token is renewed when less than min(margin, half its lifetime) is
    /// left. Negative is `INVALID_ARGUMENT`.
    pub fn set_refresh_margin_ms(&mut self, margin_ms: i64) -> Result<()> {
        if margin_ms < 0 {
            return Err(Error::invalid_argument("refresh margin must not be negative"));
        }
        self.configure()?.settings.refresh_margin_ms = margin_ms;
        Ok(())
    }

    /// The lifetime given to tokens with no known expiry and no TTL; must be positive.
    pub fn set_default_lifetime_ms(&mut self, lifetime_ms: i64) -> Result<()> {
        if lifetime_ms <= 0 {
            return Err(Error::invalid_argument("default lifetime must be positive"));
        }
        self.configure()?.settings.default_lifetime_ms = lifetime_ms;
        Ok(())
    }

    /// Whether a token due for renewal but still valid is renewed in the background (the
    /// default: no caller waits while a valid token exists) or by the caller that finds it
    /// due, on its own thread. With `false` the pipeline starts no thread at all: independent
    /// dependencies are then fetched one after another.
    pub fn set_background_refresh(&mut self, background: bool) -> Result<()> {
        self.configure()?.settings.background_refresh = background;
        Ok(())
    }

    pub fn set_event_hook(&mut self, hook: EventHook) -> Result<()> {
        self.configure()?.settings.event_hook = Some(hook);
        Ok(())
    }

    /// Checks that every dependency is a step and there is no cycle (`CONFIG`, naming the
    /// steps involved). Done once; `get` does it too.
    pub fn validate(&self) -> Result<()> {
        self.inner.graph().map(|_| ())
    }

    /// The token of `step`: the cached one while fresh; while still valid but due for
    /// renewal, the cached one too, with a renewal started in the background; otherwise
    /// fetched (once, whatever the number of callers), after the dependencies that have no
    /// valid token, independent ones in parallel.
    pub fn get(&self, step: &str) -> Result<Arc<Token>> {
        self.get_by_bytes(step.as_bytes())
    }

    /// [`Self::get`] with the step name as bytes (`INVALID_ARGUMENT` when they are no step's
    /// name, or not UTF-8).
    #[inline]
    pub fn get_by_bytes(&self, step: &[u8]) -> Result<Arc<Token>> {
        let graph = self.inner.graph()?;
        let i = self.inner.step_index(step)?;
        self.inner.token(i, graph)
    }

    /// [`Self::get_by_bytes`], with what a wrapper needs to cache the token (see
    /// [`StepHandle::get_cacheable`]).
    pub fn get_cacheable(&self, step: &[u8]) -> Result<Cacheable> {
        let graph = self.inner.graph()?;
        let i = self.inner.step_index(step)?;
        self.inner.token_cacheable(i, graph)
    }

    /// The change counter of `step` (see [`StepHandle::changes`]).
    pub fn changes(&self, step: &[u8]) -> Result<&'static AtomicU64> {
        Ok(self.inner.steps[self.inner.step_index(step)?].changes())
    }

    /// A handle on `step`, whose gets skip the name lookup. It shares the pipeline (which
    /// can then no longer be configured) and keeps it alive.
    pub fn step(&self, step: &str) -> Result<StepHandle> {
        self.inner.graph()?;
        let index = self.inner.step_index(step.as_bytes())?;
        Ok(StepHandle { inner: self.inner.clone(), index })
    }

    /// Drops the cached (and stored) token of `step` and of every step that depends on it,
    /// and forgets their failures, so that the next get fetches. A store that fails to
    /// delete is reported (error hook, event), not returned.
    pub fn invalidate(&self, step: &str) -> Result<()> {
        let graph = self.inner.graph()?;
        let i = self.inner.step_index(step.as_bytes())?;
        self.inner.drop_tokens(std::iter::once(i).chain(graph.dependents_of(i)));
        Ok(())
    }

    /// [`Self::invalidate`], but only when the cached token of `step` still has
    /// `access_token`: concurrent callers retrying after a 401 cause one refetch, not many.
    /// Returns whether it invalidated.
    pub fn invalidate_if(&self, step: &str, access_token: &str) -> Result<bool> {
        let graph = self.inner.graph()?;
        let i = self.inner.step_index(step.as_bytes())?;
        let step = &self.inner.steps[i];
        let Some(cached) = step.entry_full().filter(|e| e.token.access_token().as_str() == access_token) else {
            return Ok(false);
        };
        if !step.take_entry_if(&cached) {
            return Ok(false);
        }
        self.inner.emit(i, EventKind::Invalidated, Duration::ZERO, None, 0, None, false);
        self.inner.drop_tokens(std::iter::once(i).chain(graph.dependents_of(i)));
        Ok(true)
    }

    /// The step names, in the order they were added.
    pub fn steps(&self) -> impl Iterator<Item = &CText> {
        self.inner.steps.iter().map(|s| s.fetcher.name())
    }

    /// The steps `step` depends on, as configured (`INVALID_ARGUMENT` for an unknown step).
    pub fn dependencies(&self, step: &str) -> Result<&[CText]> {
        Ok(self.inner.steps[self.inner.step_index(step.as_bytes())?].fetcher.depends_on())
    }

    /// The pipeline's shared store and its key prefix, when it has one.
    pub fn storage(&self) -> Option<(&Arc<dyn TokenStorage>, &str)> {
        self.inner.settings.storage.as_ref().map(|(s, prefix)| (s, prefix.as_str()))
    }

    /// The key under which `step`'s token is stored (`prefix:step`), when there is a store.
    pub fn storage_key(&self, step: &str) -> Option<String> {
        self.storage().map(|(_, prefix)| format!("{prefix}:{step}"))
    }

    /// The token this process holds for `step` now, fresh or not, without fetching.
    pub fn cached(&self, step: &str) -> Result<Option<Arc<Token>>> {
        let i = self.inner.step_index(step.as_bytes())?;
        Ok(self.inner.steps[i].entry_full().map(|e| e.token.clone()))
    }
}

#[cold]
fn unknown_step(step: &[u8]) -> Error {
    match std::str::from_utf8(step) {
        Ok(name) => Error::invalid_argument(format!("unknown step \"{name}\"")),
        Err(_) => Error::invalid_argument("step name is not UTF-8"),
    }
}

/// One step of a pipeline, found once: its gets skip the name lookup. Shares the pipeline's
/// state and keeps it alive (a pipeline with step handles can no longer be configured).
/// Thread-safe.
#[derive(Clone)]
pub struct StepHandle {
    inner: Arc<Inner>,
    index: usize,
}

/// A token with what a wrapper needs to hand it out again without asking the library.
pub struct Cacheable {
    pub token: Arc<Token>,
    /// The value of [`StepHandle::changes`] the token belongs to.
    pub changes: u64,
    /// Until when (ms since the epoch) the token is fresh; 0 when it is not (a stale token
    /// served while it is renewed, or one that is not the step's cached token).
    pub fresh_until_ms: i64,
}

impl StepHandle {
    /// [`Pipeline::get`] of this step.
    #[inline]
    pub fn get(&self) -> Result<Arc<Token>> {
        let graph = self.inner.graph()?;
        self.inner.token(self.index, graph)
    }

    /// [`Self::get`], with the change count and freshness of the token: while
    /// [`Self::changes`] still reads `changes` and the time is before `fresh_until_ms`, a get
    /// would return this same token.
    pub fn get_cacheable(&self) -> Result<Cacheable> {
        let graph = self.inner.graph()?;
        self.inner.token_cacheable(self.index, graph)
    }

    /// The step's change counter: it grows whenever the step's cached token changes (a new
    /// token, an invalidation), and once more when the step goes away. Its address stays
    /// readable for the life of the process.
    pub fn changes(&self) -> &'static AtomicU64 {
        self.inner.steps[self.index].changes()
    }

    /// The step's name.
    pub fn name(&self) -> &CText {
        self.inner.steps[self.index].fetcher.name()
    }
}

impl Inner {
    fn graph(&self) -> Result<&Graph> {
        self.graph
            .get_or_init(|| {
                let fetchers: Vec<Arc<Fetcher>> = self.steps.iter().map(|s| s.fetcher.clone()).collect();
                let shared = self.settings.storage.as_ref().is_some_and(|(s, _)| s.leases().is_some());
                Box::new(Graph::build(&fetchers, &self.index, shared))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    #[inline]
    fn step_index(&self, step: &[u8]) -> Result<usize> {
        match self.index.get(step) {
            Some(&i) => Ok(i),
            None => Err(unknown_step(step)),
        }
    }

    /// [`Self::token`] with what a wrapper needs to cache it (see [`Cacheable`]).
    fn token_cacheable(self: &Arc<Self>, i: usize, graph: &Graph) -> Result<Cacheable> {
        let token = self.token(i, graph)?;
        let step = &self.steps[i];
        // The count first: an entry read after it is at least as new as the count says.
        let changes = step.changes().load(Ordering::Acquire);
        let fresh_until_ms = match &*step.entry() {
            Some(entry) if entry.holds(&token) && entry.is_fresh(now_ms()) => entry.refresh_at_ms,
            _ => 0,
        };
        Ok(Cacheable { token, changes, fresh_until_ms })
    }

    /// The hot path: a fresh cached token, without a lock; anything else goes to
    /// [`Self::renew`].
    #[inline]
    fn token(self: &Arc<Self>, i: usize, graph: &Graph) -> Result<Arc<Token>> {
        if let Some(entry) = &*self.steps[i].entry() {
            if entry.is_fresh(now_ms()) {
                self.emit(i, EventKind::CacheHit, Duration::ZERO, Some(entry.expires_at_ms), 0, None, false);
                return Ok(entry.token_for_thread());
            }
        }
        self.renew(i, graph)
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        i: usize,
        kind: EventKind,
        duration: Duration,
        expires_at_ms: Option<i64>,
        attempt: u32,
        error: Option<&Error>,
        background: bool,
    ) {
        let hook = self.settings.event_hook.as_ref();
        if hook.is_none() && !crate::log::enabled(crate::log::LogLevel::of(kind)) {
            return;
        }
        let event =
            Event { kind, step: self.steps[i].fetcher.name(), duration, expires_at_ms, attempt, error, background };
        if let Some(hook) = hook {
            let _ = hooks::call("event hook", || {
                hook(&event);
                Ok(())
            });
        }
        crate::log::event(&event);
    }

    /// Drops the cached and stored tokens of `steps` and forgets their failures.
    fn drop_tokens(&self, steps: impl Iterator<Item = usize>) {
        for s in steps {
            let had = self.steps[s].take_entry();
            {
                let cell = self.steps[s].cell();
                let mut flight = cell.flight.lock();
                flight.forget_failures();
                flight.outcome = None;
            }
            if let Some(stored) = self.stored(s) {
                if let Err(e) = stored.storage.delete(&stored.key) {
                    self.storage_failed(s, e, None, false);
                }
            }
            if had.is_some() {
                self.emit(s, EventKind::Invalidated, Duration::ZERO, None, 0, None, false);
            }
        }
    }
}
