//! The slow path of a get: single-flight renewal, in the background while a valid token
//! exists and on the caller's behalf otherwise, with failure memory that lasts no longer than
//! the fault (DESIGN.md, "Behaviour we chose").

use super::graph::Graph;
use super::shared::{Leased, Stored};
use super::step::Entry;
use super::{EventKind, Inner};
use crate::context::Context;
use crate::error::{Error, Result, ResultCode};
use crate::hooks;
use crate::text::CText;
use crate::token::{now_ms, Token};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Renewal backoff while a valid token is served: this after the first failure, doubling...
const RENEW_BACKOFF_MS: i64 = 1_000;
/// ... up to this, and never more than a quarter of the token's remaining validity, so
/// that several attempts fit before it expires ...
const RENEW_BACKOFF_MAX_MS: i64 = 30_000;
/// ... nor less than this.
const RENEW_BACKOFF_MIN_MS: i64 = 10;
/// With no valid token, a get after a failure fetches again after this, doubling ...
const FETCH_PAUSE_MS: i64 = 100;
/// ... up to this: a working endpoint is never kept from being tried for longer.
const FETCH_PAUSE_MAX_MS: i64 = 500;

thread_local! {
    /// (pipeline, step address) pairs this thread is fetching: asking for one of them again from a
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

/// Why a fetch of a step failed: its own request, or a dependency (which keeps its own
/// failure memory, so that backoffs do not compound along a chain).
struct Failure {
    error: Error,
    own: bool,
}

/// What the requests upstream gave: a token, or one another process stored meanwhile.
enum Upstream {
    Fetched(Token, EventKind),
    Adopted(Arc<Token>),
}

impl Failure {
    fn own(error: Error) -> Failure {
        Failure { error, own: true }
    }
}

/// `base * 2^(failures-1)`, at most `max`.
fn doubling(base: i64, failures: u32, max: i64) -> i64 {
    base.saturating_mul(1 << failures.clamp(1, 16).saturating_sub(1)).min(max)
}

impl Inner {
    /// The slow path: the token is due for renewal, expired, or absent.
    pub(super) fn renew(self: &Arc<Self>, i: usize, graph: &Graph) -> Result<Arc<Token>> {
        let step = &self.steps[i];
        let name = step.fetcher.name().as_str();
        // Keyed by the step's address: indexes change when steps are added or removed live.
        if IN_FLIGHT.with(|f| f.borrow().contains(&(self.id, Arc::as_ptr(step) as usize))) {
            return Err(Error::config(format!(
                "step \"{name}\" was asked for from its own fetch (a hook or custom fetcher re-entered the pipeline)"
            ))
            .with_step_field(name));
        }
        let cell = step.cell();
        let deadline = Instant::now() + graph.wait_bound[i];
        let mut flight = cell.flight.lock();
        loop {
            let now = now_ms();
            let entry = step.entry_full();
            if let Some(e) = entry.as_ref().filter(|e| e.is_valid(now)) {
                // A valid token is served whatever happens; at most a renewal is started.
                if e.is_fresh(now) || flight.running || now < flight.renew_after_ms {
                    return Ok(e.token_for_thread());
                }
                flight.running = true;
                drop(flight);
                let token = e.token_for_thread();
                if self.settings.background_refresh && self.spawn_renewal(i, e.clone()) {
                    return Ok(token);
                }
                return self.run_round(i, graph, entry, false);
            }
            if flight.running {
                let round = flight.round;
                while flight.running && flight.round == round {
                    if cell.done.wait_until(&mut flight, deadline).timed_out() {
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
            if now < flight.fetch_after_ms {
                if let Some(e) = &flight.last_error {
                    return Err(e.clone());
                }
            }
            flight.running = true;
            drop(flight);
            return self.run_round(i, graph, entry, false);
        }
    }

    /// Starts a renewal of step `i` on a thread of its own; false when no thread could be
    /// started (the caller then renews it itself).
    fn spawn_renewal(self: &Arc<Self>, i: usize, old: Arc<Entry>) -> bool {
        let inner = self.clone();
        std::thread::Builder::new()
            .name("tokenforge-renew".into())
            .spawn(move || {
                if let Ok(graph) = inner.graph() {
                    let _ = inner.run_round(i, graph, Some(old), true);
                }
            })
            .is_ok()
    }

    /// One fetch or renewal of step `i`, which the caller has marked running: fetch, record
    /// the outcome and the failure memory, wake the waiters. On failure the old token is
    /// served while it is valid.
    fn run_round(
        self: &Arc<Self>,
        i: usize,
        graph: &Graph,
        old: Option<Arc<Entry>>,
        background: bool,
    ) -> Result<Arc<Token>> {
        let result = {
            let _mark = FlightMark::enter(self.id, Arc::as_ptr(&self.steps[i]) as usize);
            hooks::call("pipeline fetch", || Ok(self.fetch_step(i, graph, old.as_deref(), background)))
                .unwrap_or_else(|e| Err(Failure::own(e)))
        };
        let now = now_ms();
        let renewal = old.is_some();
        let valid_old = old.filter(|o| o.is_valid(now));
        match result {
            Ok(token) => {
                self.settle(i, None, Ok(token.clone()), now);
                if renewal && self.steps[i].fetcher.renews_dependents() {
                    self.renew_dependents(i, graph);
                }
                Ok(token)
            }
            Err(failure) => match valid_old {
                Some(o) => {
                    let e = &failure.error;
                    self.emit(i, EventKind::StaleServed, Duration::ZERO, Some(o.expires_at_ms), 0, Some(e), background);
                    let served = Ok(o.token_for_thread());
                    self.settle(i, Some((failure, Some(o.expires_at_ms))), served.clone(), now);
                    served
                }
                None => {
                    let e = failure.error.clone();
                    self.settle(i, Some((failure, None)), Err(e.clone()), now);
                    Err(e)
                }
            },
        }
    }

    /// Ends a round: records what it served and the failure memory, wakes the waiters.
    /// `failed` is the failure and, when a valid token is still served, when that expires.
    fn settle(&self, i: usize, failed: Option<(Failure, Option<i64>)>, served: Result<Arc<Token>>, now: i64) {
        let cell = self.steps[i].cell();
        let mut flight = cell.flight.lock();
        match failed {
            None => flight.forget_failures(),
            Some((failure, valid_until)) => {
                let retry_after = failure.error.retry_after_ms().map_or(0, |ms| now.saturating_add(ms));
                if failure.own {
                    flight.failures = flight.failures.saturating_add(1);
                }
                let failures = flight.failures.max(1);
                match valid_until {
                    Some(expires) => {
                        let quarter = (expires - now) / 4;
                        let pause = doubling(RENEW_BACKOFF_MS, failures, RENEW_BACKOFF_MAX_MS)
                            .min(quarter)
                            .max(RENEW_BACKOFF_MIN_MS);
                        flight.renew_after_ms = (now + pause).max(retry_after);
                        flight.fetch_after_ms = retry_after;
                    }
                    None if failure.own => {
                        flight.fetch_after_ms =
                            (now + doubling(FETCH_PAUSE_MS, failures, FETCH_PAUSE_MAX_MS)).max(retry_after);
                    }
                    // A dependency failed: it remembers that itself.
                    None => flight.fetch_after_ms = 0,
                }
                flight.last_error = Some(failure.error);
            }
        }
        flight.running = false;
        flight.round = flight.round.wrapping_add(1);
        flight.outcome = Some(served);
        cell.done.notify_all();
    }

    /// After a renewal of step `i` that renews its dependents: renews those that hold a
    /// token, in the background (or here, without background refresh).
    fn renew_dependents(self: &Arc<Self>, i: usize, graph: &Graph) {
        for &d in &graph.direct_dependents[i] {
            let Some(entry) = self.steps[d].entry_full() else { continue };
            let cell = self.steps[d].cell();
            let mut flight = cell.flight.lock();
            if flight.running {
                continue;
            }
            flight.running = true;
            drop(flight);
            if !(self.settings.background_refresh && self.spawn_renewal(d, entry.clone())) {
                let _ = self.run_round(d, graph, Some(entry), false);
            }
        }
    }

    /// The cache entry of `token`: renewed when less than min(margin, half its lifetime) is
    /// left, its lifetime running from when it was obtained (or `now`, when unknown) to its
    /// expiry (or the default lifetime).
    pub(super) fn entry_for(&self, token: Arc<Token>, now: i64) -> Entry {
        let issued = token.issued_at_ms().unwrap_or(now).min(now);
        let expires = token.expires_at_ms().unwrap_or_else(|| issued.saturating_add(self.settings.default_lifetime_ms));
        let lifetime = expires.saturating_sub(issued).max(0);
        let margin = self.settings.refresh_margin_ms.min(lifetime / 2);
        Entry::new(token, expires - margin, expires)
    }

    /// Fetches step `i` (or takes what another process stored), caches and stores it. On a
    /// shared store this is "re-read, take the lease, re-read, fetch, write, release"; a
    /// refresh grant is then sent only under the lease. A renewal leaves the dependents'
    /// tokens in place.
    fn fetch_step(
        self: &Arc<Self>,
        i: usize,
        graph: &Graph,
        old: Option<&Entry>,
        background: bool,
    ) -> std::result::Result<Arc<Token>, Failure> {
        let stored = self.stored(i);
        // The token whose refresh token a renewal uses: ours, or a newer one in the store.
        let mut base = old.map(|o| o.token.clone());
        if let Some(s) = &stored {
            if let Some(token) = self.read_stored(i, s, &mut base, background) {
                return Ok(token);
            }
        }
        let context = self.dependencies(i, graph).map_err(|error| Failure { error, own: false })?;
        let shared = stored.as_ref().and_then(|s| s.leases().map(|l| (s, l)));
        let lease = match shared {
            Some((s, leases)) => match self.take_lease(i, s, leases, &mut base, background) {
                Leased::Adopted(token) => return Ok(token),
                Leased::Held(lease) => Some(lease),
                Leased::Without => None,
            },
            None => None,
        };
        let may_refresh = shared.is_none() || lease.is_some();
        let started = Instant::now();
        let result = self.fetch_upstream(i, &context, base, may_refresh, stored.as_ref(), background);
        let outcome = match result {
            Ok(Upstream::Adopted(token)) => Ok(token),
            Ok(Upstream::Fetched(token, kind)) => {
                let token = Arc::new(token);
                let entry = Arc::new(self.entry_for(token.clone(), now_ms()));
                if let Some(s) = &stored {
                    self.write_stored(i, s, &entry, background);
                }
                self.steps[i].set_entry(Some(entry.clone()));
                self.emit(i, kind, started.elapsed(), Some(entry.expires_at_ms), 0, None, background);
                Ok(token)
            }
            Err(e) => {
                self.emit(i, EventKind::FetchFailed, started.elapsed(), None, 0, Some(&e), background);
                Err(Failure::own(e))
            }
        };
        if let (Some(lease), Some((_, leases))) = (lease, shared) {
            self.release(i, leases, lease, background);
        }
        outcome
    }

    /// The request(s) upstream: the refresh grant when `base` carries a refresh token and it
    /// may be sent; on `invalid_grant` the store is read again (another process may have
    /// rotated the refresh token: its token is used, or its refresh token tried once), and
    /// then the step's own fetch.
    fn fetch_upstream(
        &self,
        i: usize,
        context: &Context,
        mut base: Option<Arc<Token>>,
        may_refresh: bool,
        stored: Option<&Stored<'_>>,
        background: bool,
    ) -> Result<Upstream> {
        let fetcher = &self.steps[i].fetcher;
        self.emit(i, EventKind::FetchStarted, Duration::ZERO, None, 0, None, background);
        let on_retry =
            |attempt: u32, wait: Duration| self.emit(i, EventKind::Retry, wait, None, attempt, None, background);
        let mut tried: Vec<CText> = Vec::new();
        while may_refresh && tried.len() < 2 {
            let Some(refresh_token) =
                base.as_ref().and_then(|b| b.refresh_token()).filter(|r| !tried.contains(r)).cloned()
            else {
                break;
            };
            match fetcher.refresh_observed(Some(context), &refresh_token, Some(&on_retry)) {
                None => break,
                Some(Ok(token)) => return Ok(Upstream::Fetched(token, EventKind::Refreshed)),
                Some(Err(e)) if e.oauth_error().is_some_and(|c| c.as_str() == "invalid_grant") => {
                    tried.push(refresh_token);
                    if let Some(token) = stored.and_then(|s| self.read_stored(i, s, &mut base, background)) {
                        return Ok(Upstream::Adopted(token));
                    }
                }
                Some(Err(e)) => return Err(e),
            }
        }
        fetcher.fetch_observed(Some(context), Some(&on_retry)).map(|t| Upstream::Fetched(t, EventKind::FetchSucceeded))
    }

    /// The context of step `i`: exactly its dependencies' valid tokens; those without one are
    /// fetched (in parallel when there are several and background refresh is on).
    fn dependencies(self: &Arc<Self>, i: usize, graph: &Graph) -> Result<Context> {
        let deps = &graph.deps[i];
        let now = now_ms();
        let missing: Vec<usize> =
            deps.iter().copied().filter(|&d| self.steps[d].entry().as_ref().is_none_or(|e| !e.is_valid(now))).collect();
        let mut results: Vec<(usize, Result<Arc<Token>>)> = Vec::with_capacity(deps.len());
        if missing.len() > 1 && self.settings.background_refresh {
            std::thread::scope(|scope| {
                let handles: Vec<_> =
                    missing[1..].iter().map(|&d| (d, scope.spawn(move || self.token(d, graph)))).collect();
                results.push((missing[0], self.token(missing[0], graph)));
                for (d, h) in handles {
                    results.push((
                        d,
                        h.join().unwrap_or_else(|_| Err(Error::new(ResultCode::Panic, "a dependency fetch panicked"))),
                    ));
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
                    .with_cause(e.cause().cloned())
            })?;
            context.set(dep_name.as_str(), token);
        }
        Ok(context)
    }
}
