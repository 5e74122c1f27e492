//! Fetchers: one step that obtains one token. A [`FetcherBuilder`] collects options and
//! builds an immutable [`Fetcher`] that any number of threads may use at once; a custom
//! fetcher runs the user's own fetch function.

mod builder;
mod http_fetcher;

pub use builder::{FetcherBuilder, Kind};
pub use http_fetcher::{HttpFetcher, RefreshEndpoint};

use crate::context::Context;
use crate::error::{Error, Result, ResultCode};
use crate::hooks::{self, ErrorHook, FetchHook};
use crate::http::OnRetry;
use crate::text::CText;
use crate::token::{now_ms, Token};
use std::fmt;
use std::time::Duration;

enum Imp {
    Http(Box<HttpFetcher>),
    Custom(FetchHook),
}

/// One step of a token flow: its name, the steps whose tokens it needs, and how it fetches.
pub struct Fetcher {
    name: CText,
    depends_on: Vec<CText>,
    ttl_ms: Option<i64>,
    imp: Imp,
    error_hook: Option<ErrorHook>,
    renews_dependents: bool,
}

/// Checks a step name and its dependencies: `INVALID_ARGUMENT` for empty names, `CONFIG` for
/// a step depending on itself. Duplicate dependencies are dropped.
fn check_names(name: &str, depends_on: &[String]) -> Result<(CText, Vec<CText>)> {
    let text = |what: &str, s: &str| {
        if s.trim().is_empty() {
            return Err(Error::invalid_argument(format!("{what} must not be empty")));
        }
        CText::new(s).ok_or_else(|| Error::invalid_argument(format!("{what} contains NUL")))
    };
    let name_text = text("step name", name)?;
    let mut deps: Vec<CText> = Vec::new();
    for d in depends_on {
        if d == name {
            return Err(Error::config("step depends on itself"));
        }
        let d = text("dependency name", d)?;
        if !deps.contains(&d) {
            deps.push(d);
        }
    }
    Ok((name_text, deps))
}

impl Fetcher {
    fn new(
        name: &str,
        depends_on: &[String],
        ttl_ms: Option<i64>,
        imp: Imp,
        error_hook: Option<ErrorHook>,
    ) -> Result<Fetcher> {
        let (name, depends_on) = check_names(name, depends_on)?;
        Ok(Fetcher { name, depends_on, ttl_ms, imp, error_hook, renews_dependents: false })
    }

    /// A step whose fetch is `fetch` (CustomTokenFetcher). `ttl_ms` overrides the returned
    /// token's expiry. Its errors reach the caller with their code and message unchanged.
    pub fn custom(
        name: &str,
        depends_on: &[String],
        ttl_ms: Option<i64>,
        fetch: FetchHook,
        error_hook: Option<ErrorHook>,
    ) -> Result<Fetcher> {
        if ttl_ms.is_some_and(|t| t <= 0) {
            return Err(Error::invalid_argument("ttl_ms must be positive"));
        }
        Fetcher::new(name, depends_on, ttl_ms, Imp::Custom(fetch), error_hook).map_err(|e| e.with_step(name))
    }

    pub fn name(&self) -> &CText {
        &self.name
    }

    pub fn depends_on(&self) -> &[CText] {
        &self.depends_on
    }

    /// The configured lifetime that overrides the response's, if any.
    pub fn ttl_ms(&self) -> Option<i64> {
        self.ttl_ms
    }

    /// Where a pipeline renews this step's tokens, if anywhere.
    pub fn refresh_endpoint(&self) -> Option<&RefreshEndpoint> {
        match &self.imp {
            Imp::Http(h) => h.refresh_endpoint(),
            Imp::Custom(_) => None,
        }
    }

    /// In a pipeline, whether a renewal of this step renews its dependents at once (for
    /// servers that bind derived tokens to their parent), instead of when they go stale.
    pub fn renews_dependents(&self) -> bool {
        self.renews_dependents
    }

    /// The total deadline of one fetch (30 s for custom fetchers, which set their own).
    pub fn timeout(&self) -> Duration {
        match &self.imp {
            Imp::Http(h) => h.timeout(),
            Imp::Custom(_) => Duration::from_millis(crate::http::DEFAULT_TIMEOUT_MS),
        }
    }

    /// Fetches the token. Every declared dependency must be in `context` (`DEPENDENCY`
    /// otherwise; nothing is sent). Errors name this step; the error hook hears of each.
    pub fn fetch(&self, context: Option<&Context>) -> Result<Token> {
        self.fetch_observed(context, None)
    }

    /// [`Self::fetch`], telling `on_retry` of each HTTP retry.
    pub fn fetch_observed(&self, context: Option<&Context>, on_retry: Option<&OnRetry<'_>>) -> Result<Token> {
        let result = self.check_dependencies(context).and_then(|()| match &self.imp {
            Imp::Http(h) => h.fetch(Some(self.name.as_str()), context, self.ttl_ms, on_retry),
            Imp::Custom(f) => self.fetch_custom(f, context),
        });
        if let Err(e) = &result {
            self.report(e, context);
        }
        result
    }

    /// Renews a token through the step's refresh endpoint (`grant_type=refresh_token`) by the
    /// same road as [`Self::fetch`]: the step's TLS settings, deadline, retries, request hook,
    /// error hook and client authentication. `None` when the step has no refresh endpoint.
    pub fn refresh_observed(
        &self,
        context: Option<&Context>,
        refresh_token: &CText,
        on_retry: Option<&OnRetry<'_>>,
    ) -> Option<Result<Token>> {
        let Imp::Http(h) = &self.imp else { return None };
        let result = h.refresh(Some(self.name.as_str()), context, refresh_token, self.ttl_ms, on_retry)?;
        if let Err(e) = &result {
            self.report(e, context);
        }
        Some(result)
    }

    /// Tells the error hook (if any) of a failure that concerns this step.
    pub fn report(&self, error: &Error, context: Option<&Context>) {
        if let Some(hook) = &self.error_hook {
            hooks::run_error_hook(hook, error, context);
        }
    }

    fn fetch_custom(&self, fetch: &FetchHook, context: Option<&Context>) -> Result<Token> {
        let token =
            hooks::call("custom fetcher", || fetch(context)).map_err(|e| e.with_step_field(self.name.as_str()))?;
        Ok(token.with_ttl(self.ttl_ms, now_ms()))
    }

    fn check_dependencies(&self, context: Option<&Context>) -> Result<()> {
        let missing = self.depends_on.iter().find(|d| context.and_then(|c| c.get(d.as_str())).is_none());
        match missing {
            Some(d) => {
                Err(Error::new(ResultCode::Dependency, format!("dependency \"{d}\" is absent from the context"))
                    .with_step(self.name.as_str()))
            }
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("name", &self.name)
            .field("depends_on", &self.depends_on)
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}
