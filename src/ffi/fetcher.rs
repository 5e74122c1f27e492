//! `tokenforge_fetcher`: one step that obtains one token. Immutable and reference-counted:
//! any number of threads may fetch with it at once; a pipeline keeps its own reference.

use super::context::context_ptr;
use super::context::tokenforge_context;
use super::error::callback_outcome;
use super::error::tokenforge_error;
use super::handle::{arg, borrow, take_arc, to_arc, Castable, OwnershipArc};
use super::result::ResultArg;
use super::token::tokenforge_token;
use super::userdata::{tokenforge_free_userdata, UserData};
use super::{fallible, guarded, out_arg, str_arg, write_out};
use crate::context::Context;
use crate::error::{Error, Result, ResultCode};
use crate::fetcher::Fetcher;
use crate::text::CText;
use crate::token::Token;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

/// One step that obtains one token. Immutable and thread-safe: any number of threads may
/// fetch with it at once. Owned by the caller; a pipeline keeps its own reference.
pub struct tokenforge_fetcher {
    _private: [u8; 0],
}

impl Castable for tokenforge_fetcher {
    type Ownership = OwnershipArc;
    type Rust = Fetcher;
}

/// Fetches a token. `ctx` (nullable, only read) holds the tokens of the dependencies; each
/// declared dependency must be in it. On success `*out` receives a token the caller owns.
/// Blocks for at most the fetcher's deadline. Errors: `INVALID_ARGUMENT` (NULL `f` or `out`),
/// `DEPENDENCY`, `TRANSPORT`, `TIMEOUT`, `HTTP_STATUS`, `OAUTH`, `RESPONSE`; the error names
/// the step. Thread-safe: many threads may fetch with one fetcher at once (each with its own
/// context, or a shared one nobody changes meanwhile).
///
/// # Safety
/// `f` and `ctx` are NULL or live; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_fetch(
    f: *const tokenforge_fetcher,
    ctx: *const tokenforge_context,
    out: *mut *mut tokenforge_token,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let f = unsafe { arg(f, "fetcher") }?;
        out_arg(out)?;
        // SAFETY: the caller passes what the Safety section says.
        let token = f.fetch(unsafe { borrow(ctx) })?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_arc::<tokenforge_token>(Arc::new(token))) }
    })
}

/// The step name, borrowed from `f`; NULL when `f` is NULL.
///
/// # Safety
/// `f` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_name(f: *const tokenforge_fetcher) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { unsafe { borrow(f) }.map_or(ptr::null(), |f| f.name().as_ptr()) })
}

/// The number of declared dependencies; 0 when `f` is NULL.
///
/// # Safety
/// `f` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_dependency_count(f: *const tokenforge_fetcher) -> usize {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(0, { unsafe { borrow(f) }.map_or(0, |f| f.depends_on().len()) })
}

/// The name of dependency `index`, borrowed from `f`; NULL when out of range or `f` is NULL.
///
/// # Safety
/// `f` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_dependency(f: *const tokenforge_fetcher, index: usize) -> *const c_char {
    guarded!(ptr::null(), {
        // SAFETY: the caller passes what the Safety section says.
        unsafe { borrow(f) }.and_then(|f| f.depends_on().get(index)).map_or(ptr::null(), CText::as_ptr)
    })
}

/// Releases the caller's reference; pipelines holding the fetcher keep theirs. NULL is a
/// no-op; freeing twice is undefined. Not while another thread uses this pointer.
///
/// # Safety
/// `f` is NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_free(f: *mut tokenforge_fetcher) {
    // SAFETY: the caller passes what the Safety section says.
    guarded!((), { drop(unsafe { take_arc(f) }) })
}

/// A fetch written in C (CustomTokenFetcher). `ctx` (NULL when the fetch had none) is
/// borrowed for the call. Return `TOKENFORGE_RESULT_OK` with a new token in `*out` (the
/// library takes it), or another code, optionally with an error from `tokenforge_error_new`
/// in `*err` (the library takes it too): that code and message reach the caller unchanged.
/// OK without a token, or a value that is no result code, is a `CALLBACK` error.
pub type tokenforge_fetch_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        ctx: *const tokenforge_context,
        out: *mut *mut tokenforge_token,
        err: *mut *mut tokenforge_error,
    ) -> ResultArg,
>;

/// Makes a step whose fetch is `fetch`, with `n_depends_on` dependency names (copied; the
/// array may be NULL when `n_depends_on` is 0) and `ttl_ms` overriding the returned token's
/// expiry (< 0: none, 0 is `INVALID_ARGUMENT`). The library owns `userdata`: `free_userdata`
/// (nullable) is called exactly once, when the last owner of the fetcher is freed, or at once
/// if this call fails. On success `*out` receives a fetcher the caller owns. Errors:
/// `INVALID_ARGUMENT` (NULL name, fetch or out, a NULL or non-UTF-8 dependency, empty names),
/// `CONFIG` (a step depending on itself). The callback may run on several threads at once.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `depends_on` is NULL or `n_depends_on` readable
/// pointers, each NULL or NUL-terminated; functions are NULL or valid; `out` and `err` are
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_new_custom(
    name: *const c_char,
    depends_on: *const *const c_char,
    n_depends_on: usize,
    ttl_ms: i64,
    fetch: tokenforge_fetch_callback,
    userdata: *mut c_void,
    free_userdata: tokenforge_free_userdata,
    out: *mut *mut tokenforge_fetcher,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    let data = UserData::new(userdata, free_userdata);
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: the caller passes what the Safety section says.
        let deps = unsafe { str_array(depends_on, n_depends_on, "depends_on") }?;
        let fetch = fetch.ok_or_else(|| Error::invalid_argument("fetch callback is NULL"))?;
        out_arg(out)?;
        let ttl = if ttl_ms < 0 { None } else { Some(ttl_ms) };
        let hook = Arc::new(move |context: Option<&Context>| -> Result<Token> {
            let mut token: *mut tokenforge_token = ptr::null_mut();
            let mut error: *mut tokenforge_error = ptr::null_mut();
            // SAFETY: fetch is the caller's function for this userdata; the context is live for
            // the call and token and error are writable.
            let rc = unsafe { fetch(data.ptr(), context_ptr(context), &mut token, &mut error) };
            // SAFETY: the callback hands over the token and error it wrote (or NULL).
            let (token, outcome) = unsafe { (take_arc(token), callback_outcome("custom fetcher", rc, error)) };
            let token = token.map(Arc::unwrap_or_clone);
            match outcome {
                Some(e) => Err(e),
                None => {
                    token.ok_or_else(|| Error::new(ResultCode::Callback, "custom fetcher returned OK without a token"))
                }
            }
        });
        let fetcher = Fetcher::custom(name, &deps, ttl, hook, None)?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_arc::<tokenforge_fetcher>(Arc::new(fetcher))) }
    })
}

/// `n` C strings from `array`, copied; NULL array only with `n` 0.
///
/// # Safety
/// `array` is NULL or `n` readable pointers, each NULL or NUL-terminated.
unsafe fn str_array(array: *const *const c_char, n: usize, what: &str) -> Result<Vec<String>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if array.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    // SAFETY: the caller passes what the Safety section says.
    (0..n).map(|i| unsafe { str_arg(*array.add(i), what) }.map(str::to_string)).collect()
}
