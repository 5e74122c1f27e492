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
use arc_swap::ArcSwap;
use graph::Graph;
use once_cell::race::OnceBox;
use parking_lot::Mutex;
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
#[derive(Clone)]
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
    /// The steps as they are now: replaced whole (copy on write) when a step is added or
    /// removed while the pipeline serves, so that a get never waits for a change.
    inner: ArcSwap<Inner>,
    /// Held by the calls that change a serving pipeline, one at a time.
    changing: Mutex<()>,
}

/// What a pipeline is, shared with the renewals it runs in the background.
struct Inner {
    id: u64,
    /// Shared between the pipeline's versions: a step keeps its cached token and state when
    /// others are added or removed.
    steps: Vec<Arc<Step>>,
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
            changing: Mutex::new(()),
            inner: ArcSwap::from_pointee(Inner { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), ..Inner::empty() }),
        }
    }

    /// Changes the pipeline in place with `f`: refused (`CONFIG`) while a renewal running in
    /// the background or a step handle shares it. Configure before first use (or add and
    /// remove steps with [`Self::add_live`] and [`Self::remove`]).
    fn configure<T>(&mut self, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        let placeholder = Arc::new(Inner::empty());
        let mut inner = self.inner.swap(placeholder);
        let result = match Arc::get_mut(&mut inner) {
            Some(inner) => f(inner),
            None => Err(Error::config(
                "the pipeline is in use (a renewal in the background or a step handle shares it): configure it \
                 before its first use, or add and remove steps with tokenforge_pipeline_add_live and \
                 tokenforge_pipeline_remove",
            )),
        };
        self.inner.store(inner);
        result
    }

    /// Adds a step, in any order. A duplicate name is `CONFIG`.
    pub fn add(&mut self, fetcher: Arc<Fetcher>) -> Result<()> {
        self.configure(|inner| {
            let name = fetcher.name().as_str();
            if inner.index.contains_key(name.as_bytes()) {
                return Err(Error::config(format!("duplicate step \"{name}\"")).with_step_field(name));
            }
            inner.index.insert(name.as_bytes().into(), inner.steps.len());
            inner.steps.push(Arc::new(Step::new(fetcher)));
            inner.graph = OnceBox::new();
            Ok(())
        })
    }

    /// Adds a step while other threads use the pipeline (their gets never wait for it). The
    /// pipeline with the step must be valid: a duplicate name, a missing dependency, a cycle
    /// or too deep a chain is `CONFIG` and changes nothing. Costs a copy of the step table
    /// (linear in the number of steps); before first use, [`Self::add`] is cheaper.
    pub fn add_live(&self, fetcher: Arc<Fetcher>) -> Result<()> {
        let _one_at_a_time = self.changing.lock();
        let old = self.inner.load_full();
        let name = fetcher.name().as_str();
        if old.index.contains_key(name.as_bytes()) {
            return Err(Error::config(format!("duplicate step \"{name}\"")).with_step_field(name));
        }
        let mut steps = old.steps.clone();
        let mut index = old.index.clone();
        index.insert(name.as_bytes().into(), steps.len());
        steps.push(Arc::new(Step::new(fetcher)));
        let new = Inner { id: old.id, steps, index, settings: old.settings.clone(), graph: OnceBox::new() };
        new.graph()?;
        self.inner.store(Arc::new(new));
        Ok(())
    }

    /// Removes `step` while other threads use the pipeline: its cached token and its stored
    /// one go, and step handles on it fail from then on (`INVALID_ARGUMENT`). Refused with
    /// `CONFIG` while other steps depend on it (remove them first); `INVALID_ARGUMENT` for an
    /// unknown step. Costs a copy of the step table.
    pub fn remove(&self, step: &str) -> Result<()> {
        let _one_at_a_time = self.changing.lock();
        let old = self.inner.load_full();
        let i = old.step_index(step.as_bytes())?;
        let graph = old.graph()?;
        if !graph.direct_dependents[i].is_empty() {
            let names: Vec<&str> =
                graph.direct_dependents[i].iter().map(|&d| old.steps[d].fetcher.name().as_str()).collect();
            return Err(Error::config(format!(
                "step \"{step}\" cannot be removed: {} depend{} on it (remove them first)",
                names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "),
                if names.len() == 1 { "s" } else { "" }
            ))
            .with_step_field(step)
            .with_field("depends_on"));
        }
        let mut steps = Vec::with_capacity(old.steps.len() - 1);
        let mut index = Index::default();
        index.reserve(old.steps.len() - 1);
        for (j, s) in old.steps.iter().enumerate() {
            if j != i {
                index.insert(s.fetcher.name().as_str().as_bytes().into(), steps.len());
                steps.push(s.clone());
            }
        }
        let new = Inner { id: old.id, steps, index, settings: old.settings.clone(), graph: OnceBox::new() };
        self.inner.store(Arc::new(new));
        old.steps[i].mark_removed();
        old.drop_tokens(std::iter::once(i));
        Ok(())
    }

    /// Tokens are loaded from `storage` (under `prefix:step`) before any fetch and written
    /// after each fetch, so pipelines sharing a storage reuse valid tokens. `None`:
    /// [`DEFAULT_STORAGE_PREFIX`].
    pub fn set_storage(&mut self, storage: Arc<dyn TokenStorage>, prefix: Option<&str>) -> Result<()> {
        let prefix = prefix.unwrap_or(DEFAULT_STORAGE_PREFIX);
        self.configure(|inner| {
            inner.settings.storage = Some((storage, prefix.to_string()));
            inner.graph = OnceBox::new(); // waits are longer on a shared store
            Ok(())
        })
    }

    /// The refresh margin: a token is renewed when less than min(margin, half its lifetime) is
    /// left. Negative is `INVALID_ARGUMENT`.
    pub fn set_refresh_margin_ms(&mut self, margin_ms: i64) -> Result<()> {
        if margin_ms < 0 {
            return Err(Error::invalid_argument("refresh margin must not be negative"));
        }
        self.configure(|inner| {
            inner.settings.refresh_margin_ms = margin_ms;
            Ok(())
        })
    }

    /// The lifetime given to tokens with no known expiry and no TTL; must be positive.
    pub fn set_default_lifetime_ms(&mut self, lifetime_ms: i64) -> Result<()> {
        if lifetime_ms <= 0 {
            return Err(Error::invalid_argument("default lifetime must be positive"));
        }
        self.configure(|inner| {
            inner.settings.default_lifetime_ms = lifetime_ms;
            Ok(())
        })
    }

    /// Whether a token due for renewal but still valid is renewed in the background (the
    /// default: no caller waits while a valid token exists) or by the caller that finds it
    /// due, on its own thread. With `false` the pipeline starts no thread at all: independent
    /// dependencies are then fetched one after another.
    pub fn set_background_refresh(&mut self, background: bool) -> Result<()> {
        self.configure(|inner| {
            inner.settings.background_refresh = background;
            Ok(())
        })
    }

    pub fn set_event_hook(&mut self, hook: EventHook) -> Result<()> {
        self.configure(|inner| {
            inner.settings.event_hook = Some(hook);
            Ok(())
        })
    }

    /// Checks that every dependency is a step and there is no cycle (`CONFIG`, naming the
    /// steps involved). Done once; `get` does it too.
    pub fn validate(&self) -> Result<()> {
        self.inner.load().graph().map(|_| ())
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
        let inner = self.inner.load();
        let graph = inner.graph()?;
        let i = inner.step_index(step)?;
        inner.token(i, graph)
    }

    /// [`Self::get_by_bytes`], with what a wrapper needs to cache the token (see
    /// [`StepHandle::get_cacheable`]).
    pub fn get_cacheable(&self, step: &[u8]) -> Result<Cacheable> {
        let inner = self.inner.load();
        let graph = inner.graph()?;
        let i = inner.step_index(step)?;
        inner.token_cacheable(i, graph)
    }

    /// The change counter of `step` (see [`StepHandle::changes`]).
    pub fn changes(&self, step: &[u8]) -> Result<&'static AtomicU64> {
        let inner = self.inner.load();
        Ok(inner.steps[inner.step_index(step)?].changes())
    }

    /// A handle on `step`, whose gets skip the name lookup. It shares the pipeline (which
    /// can then no longer be configured, only changed with [`Self::add_live`] and
    /// [`Self::remove`]) and keeps it alive.
    pub fn step(&self, step: &str) -> Result<StepHandle> {
        let inner = self.inner.load_full();
        inner.graph()?;
        let index = inner.step_index(step.as_bytes())?;
        Ok(StepHandle { inner, index })
    }

    /// Drops the cached (and stored) token of `step` and of every step that depends on it,
    /// and forgets their failures, so that the next get fetches. A store that fails to
    /// delete is reported (error hook, event), not returned.
    pub fn invalidate(&self, step: &str) -> Result<()> {
        let inner = self.inner.load();
        let graph = inner.graph()?;
        let i = inner.step_index(step.as_bytes())?;
        inner.drop_tokens(std::iter::once(i).chain(graph.dependents_of(i)));
        Ok(())
    }

    /// [`Self::invalidate`], but only when the cached token of `step` still has
    /// `access_token`: concurrent callers retrying after a 401 cause one refetch, not many.
    /// Returns whether it invalidated.
    pub fn invalidate_if(&self, step: &str, access_token: &str) -> Result<bool> {
        let inner = self.inner.load();
        let graph = inner.graph()?;
        let i = inner.step_index(step.as_bytes())?;
        let step = &inner.steps[i];
        let Some(cached) = step.entry_full().filter(|e| e.token.access_token().as_str() == access_token) else {
            return Ok(false);
        };
        if !step.take_entry_if(&cached) {
            return Ok(false);
        }
        inner.emit(i, EventKind::Invalidated, Duration::ZERO, None, 0, None, false);
        inner.drop_tokens(std::iter::once(i).chain(graph.dependents_of(i)));
        Ok(true)
    }

    /// The step names, in the order they were added.
    pub fn steps(&self) -> Vec<CText> {
        self.inner.load().steps.iter().map(|s| s.fetcher.name().clone()).collect()
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.inner.load().steps.len()
    }

    /// Whether the pipeline has no step.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The steps `step` depends on, as configured (`INVALID_ARGUMENT` for an unknown step).
    pub fn dependencies(&self, step: &str) -> Result<Vec<CText>> {
        let inner = self.inner.load();
        Ok(inner.steps[inner.step_index(step.as_bytes())?].fetcher.depends_on().to_vec())
    }

    /// Every step that depends on `step`, directly or not: those an invalidation of `step`
    /// drops too (`INVALID_ARGUMENT` for an unknown step, `CONFIG` for a bad graph).
    pub fn dependents(&self, step: &str) -> Result<Vec<CText>> {
        let inner = self.inner.load();
        let graph = inner.graph()?;
        let i = inner.step_index(step.as_bytes())?;
        Ok(graph.dependents_of(i).into_iter().map(|d| inner.steps[d].fetcher.name().clone()).collect())
    }

    /// The pipeline's shared store and its key prefix, when it has one.
    pub fn storage(&self) -> Option<(Arc<dyn TokenStorage>, String)> {
        self.inner.load().settings.storage.clone()
    }

    /// The key under which `step`'s token is stored (`prefix:step`), when there is a store.
    pub fn storage_key(&self, step: &str) -> Option<String> {
        self.storage().map(|(_, prefix)| format!("{prefix}:{step}"))
    }

    /// The token this process holds for `step` now, fresh or not, without fetching.
    pub fn cached(&self, step: &str) -> Result<Option<Arc<Token>>> {
        let inner = self.inner.load();
        let i = inner.step_index(step.as_bytes())?;
        Ok(inner.steps[i].entry_full().map(|e| e.token.clone()))
    }
}

#[cold]
fn removed(step: &str) -> Error {
    Error::invalid_argument(format!("step \"{step}\" was removed from its pipeline")).with_step_field(step)
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
        self.live()?;
        self.inner.token(self.index, graph)
    }

    /// `INVALID_ARGUMENT` once the step was removed from its pipeline.
    #[inline]
    fn live(&self) -> Result<()> {
        if self.inner.steps[self.index].is_removed() {
            return Err(removed(self.inner.steps[self.index].fetcher.name().as_str()));
        }
        Ok(())
    }

    /// [`Self::get`], with the change count and freshness of the token: while
    /// [`Self::changes`] still reads `changes` and the time is before `fresh_until_ms`, a get
    /// would return this same token.
    pub fn get_cacheable(&self) -> Result<Cacheable> {
        let graph = self.inner.graph()?;
        self.live()?;
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
    /// No steps, the default settings (a new pipeline, and what one holds for the moment it
    /// is changed in place).
    fn empty() -> Inner {
        Inner {
            id: 0,
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
        }
    }

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
