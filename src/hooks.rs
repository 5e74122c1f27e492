//! Hooks: user code that shapes a request, hears about failures, or fetches a token itself.
//! They run synchronously on the thread that called fetch, with no lock held, so a hook may
//! call back into the library (fetch with the same fetcher included). A hook that panics is
//! caught: the fetch fails with `CALLBACK` instead.

use crate::context::Context;
use crate::error::{Error, Result, ResultCode};
use crate::http::Request;
use crate::token::Token;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Called after options and templates are applied, before the request is sent (every
/// request of the step: its own grant and its refresh grant). An error aborts the fetch
/// (nothing is sent) and reaches the caller with its code and message. `None` when the fetch
/// had no context.
pub type RequestHook = Arc<dyn Fn(Option<&Context>, &mut Request) -> Result<()> + Send + Sync>;

/// Called once for every failed fetch.
pub type ErrorHook = Arc<dyn Fn(&Error, Option<&Context>) + Send + Sync>;

/// A fetch written by the user (CustomTokenFetcher).
pub type FetchHook = Arc<dyn Fn(Option<&Context>) -> Result<Token> + Send + Sync>;

/// Runs `f`, turning a panic into a `CALLBACK` error naming `what`.
pub(crate) fn call<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Error::new(ResultCode::Callback, format!("{what} panicked"))))
}

/// Runs the request hook; its failure is returned as it is, a panic becomes `CALLBACK`.
pub(crate) fn run_request_hook(hook: &RequestHook, context: Option<&Context>, request: &mut Request) -> Result<()> {
    call("request hook", || hook(context, request))
}

/// Tells the error hook; a panic in it is swallowed (the fetch has failed already).
pub(crate) fn run_error_hook(hook: &ErrorHook, error: &Error, context: Option<&Context>) {
    let _ = call("error hook", || {
        hook(error, context);
        Ok(())
    });
}
