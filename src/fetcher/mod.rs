//! Fetchers: one step that obtains one token. A [`FetcherBuilder`] collects options and
//! builds an immutable [`Fetcher`] that any number of threads may use at once.

mod builder;
mod http_fetcher;

pub use builder::{FetcherBuilder, Kind};
pub use http_fetcher::{basic_authorization, HttpFetcher};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::text::CText;
use crate::token::Token;
use std::fmt;

/// One step of a token flow: its name, the steps whose tokens it needs, and how it fetches.
pub struct Fetcher {
    name: CText,
    depends_on: Vec<CText>,
    ttl_ms: Option<i64>,
    imp: HttpFetcher,
}

impl Fetcher {
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

    /// Fetches the token. Every declared dependency must be in `context` (`DEPENDENCY`
    /// otherwise). Errors name this step.
    pub fn fetch(&self, context: Option<&Context>) -> Result<Token> {
        let empty = Context::new();
        let context = context.unwrap_or(&empty);
        self.check_dependencies(context)
            .and_then(|()| self.imp.fetch(context, self.ttl_ms))
            .map_err(|e| e.with_step(self.name.as_str()))
    }

    fn check_dependencies(&self, context: &Context) -> Result<()> {
        match self.depends_on.iter().find(|d| context.get(d.as_str()).is_none()) {
            Some(d) => Err(Error::dependency(format!("dependency \"{d}\" is absent from the context"))),
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
