//! `tokenforge_pipeline`: the token manager. Configure it from one thread (`*mut`), then use
//! it from any number of threads at once (`const *`).

use super::error::tokenforge_error;
use super::event::{event_hook, tokenforge_event_hook};
use super::fetcher::tokenforge_fetcher;
use super::handle::{arg, arg_mut, clone_arc, take_box, to_arc, to_box, Castable, OwnershipBox};
use super::storage::tokenforge_storage;
use super::token::tokenforge_token;
use super::userdata::{tokenforge_free_userdata, UserData};
use super::{bytes_arg, fallible, guarded, opt_str_arg, out_arg, str_arg, write_out};
use crate::error::{Error, ResultCode};
use crate::pipeline::Pipeline;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

/// Steps, their cached tokens and the rules to renew them. Configure (add, set_*) from one
/// thread before first use; then `get`, `invalidate` and `invalidate_if` are thread-safe.
/// Owned by the caller.
pub struct tokenforge_pipeline {
    _private: [u8; 0],
}

impl Castable for tokenforge_pipeline {
    type Ownership = OwnershipBox;
    type Rust = Pipeline;
}

/// An empty pipeline (refresh margin 60 s, default lifetime 10 min), owned by the caller.
#[no_mangle]
pub extern "C" fn tokenforge_pipeline_new() -> *mut tokenforge_pipeline {
    guarded!(ptr::null_mut(), { to_box(Pipeline::new()) })
}

/// Adds a step; the pipeline keeps its own reference to `f`, the caller still frees `f`.
/// Steps may be added in any order. Errors: `INVALID_ARGUMENT` (NULL), `CONFIG` (a step of
/// that name already exists). Before first use, from one thread.
///
/// # Safety
/// `p` and `f` are NULL or live; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_add(
    p: *mut tokenforge_pipeline,
    f: *const tokenforge_fetcher,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg_mut(p, "pipeline") }?;
        // SAFETY: the caller passes what the Safety section says.
        let f = unsafe { clone_arc(f) }.ok_or_else(|| Error::invalid_argument("fetcher is NULL"))?;
        p.add(f)
    })
}

/// Adds a step while other threads use the pipeline (`get`, step handles, invalidations go
/// on and never wait for it); the pipeline keeps its own reference to `f`, the caller still
/// frees `f`. The pipeline with the new step must be valid, or nothing changes: `CONFIG` for
/// a name already there, a dependency that is not a step, a cycle or a chain deeper than
/// `TOKENFORGE_MAX_DEPENDENCY_DEPTH`; `INVALID_ARGUMENT` for NULL. Each call copies the step
/// table (linear in the number of steps): to build a pipeline before first use,
/// `tokenforge_pipeline_add` is cheaper. Thread-safe (calls that change the pipeline take
/// turns).
///
/// # Safety
/// `p` and `f` are NULL or live; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_add_live(
    p: *const tokenforge_pipeline,
    f: *const tokenforge_fetcher,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg(p, "pipeline") }?;
        // SAFETY: the caller passes what the Safety section says.
        let f = unsafe { clone_arc(f) }.ok_or_else(|| Error::invalid_argument("fetcher is NULL"))?;
        p.add_live(f)
    })
}

/// Removes `step` while other threads use the pipeline: its cached token and, with a store,
/// its stored token are dropped; step handles on it fail with `INVALID_ARGUMENT` from then on
/// (they stay valid objects: free them as usual). Errors: `CONFIG` while other steps depend
/// on it (the message names them; remove them first), `INVALID_ARGUMENT` (NULL, bad UTF-8,
/// unknown step). Copies the step table, like `tokenforge_pipeline_add_live`. Thread-safe.
///
/// # Safety
/// `p` is NULL or live; `step` is NULL or NUL-terminated; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_remove(
    p: *const tokenforge_pipeline,
    step: *const c_char,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg(p, "pipeline") }?;
        // SAFETY: the caller passes what the Safety section says.
        let step = unsafe { str_arg(step, "step") }?;
        p.remove(step)
    })
}

/// Checks that every dependency is a step of the pipeline and that there is no cycle:
/// `CONFIG` naming the steps involved. `get` checks the same on first use. Thread-safe.
///
/// # Safety
/// `p` is NULL or live; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_validate(
    p: *const tokenforge_pipeline,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    fallible!(err, { unsafe { arg(p, "pipeline") }?.validate() })
}

/// Loads tokens from `s` (under "<key_prefix>:<step>"; prefix NULL: "tokenforge") before any
/// fetch and writes them after each fetch; invalidation deletes them. A second pipeline on the
/// same storage reuses valid tokens. The pipeline keeps its own reference to `s`. A failing
/// store is reported to the step's error hook; the fetched token is still returned.
/// `INVALID_ARGUMENT` for NULL `p` or `s`, or bad UTF-8. Before first use, from one thread.
///
/// # Safety
/// `p` and `s` are NULL or live; `key_prefix` is NULL or NUL-terminated; `err` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_set_storage(
    p: *mut tokenforge_pipeline,
    s: *const tokenforge_storage,
    key_prefix: *const c_char,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg_mut(p, "pipeline") }?;
        // SAFETY: the caller passes what the Safety section says.
        let s = unsafe { arg(s, "storage") }?;
        // SAFETY: the caller passes what the Safety section says.
        p.set_storage(Arc::clone(s), unsafe { opt_str_arg(key_prefix, "key_prefix") }?)
    })
}

/// A cached token is renewed when less than min(`margin_ms`, half its lifetime) is left
/// (default 60000). `INVALID_ARGUMENT` when negative. Before first use, from one thread.
///
/// # Safety
/// `p` is NULL or live; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_set_refresh_margin_ms(
    p: *mut tokenforge_pipeline,
    margin_ms: i64,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    fallible!(err, { unsafe { arg_mut(p, "pipeline") }?.set_refresh_margin_ms(margin_ms) })
}

/// The lifetime given to tokens with no known expiry and no TTL (default 600000): they are
/// never kept forever. `INVALID_ARGUMENT` unless positive. Before first use, from one thread.
///
/// # Safety
/// `p` is NULL or live; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_set_default_lifetime_ms(
    p: *mut tokenforge_pipeline,
    lifetime_ms: i64,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    fallible!(err, { unsafe { arg_mut(p, "pipeline") }?.set_default_lifetime_ms(lifetime_ms) })
}

/// Whether a token that is due for renewal but still valid is renewed in the background
/// (`true`, the default: no caller waits while a valid token exists; renewals run on
/// short-lived library threads) or by the caller that finds it due, on its own thread
/// (`false`: the pipeline starts no thread at all, and independent dependencies are fetched
/// one after another). `INVALID_ARGUMENT` for NULL. Before first use, from one thread.
///
/// # Safety
/// `p` is NULL or live; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_set_background_refresh(
    p: *mut tokenforge_pipeline,
    background: bool,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    fallible!(err, { unsafe { arg_mut(p, "pipeline") }?.set_background_refresh(background) })
}

/// The token of `step`, owned by the caller: the cached one while fresh (no lock, no
/// allocation beyond a reference count). A token due for renewal but still valid is returned
/// at once too, with one renewal started in the background (see
/// `tokenforge_pipeline_set_background_refresh`); a renewal leaves the dependents' tokens in
/// place. Without a valid token it is fetched after those of its dependencies that have none
/// (independent ones in parallel), once for all concurrent callers, who all get its result;
/// waiting is bounded by the fetch deadlines. A failed renewal keeps serving the valid token
/// (the error hook is told) and is retried with a backoff that fits within its remaining
/// validity; without a valid token, a get after a failure fetches again unless the last
/// attempt failed under half a second ago or the server's Retry-After forbids it (the last
/// error is returned meanwhile). Errors: `INVALID_ARGUMENT` (NULL, bad
/// UTF-8, unknown step), `CONFIG` (missing dependency, cycle, or a hook of this step's fetch
/// asking for this step), `DEPENDENCY`, `TIMEOUT` and the fetch errors. Thread-safe.
///
/// # Safety
/// `p` is NULL or live; `step` is NULL or NUL-terminated; `out` and `err` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_get(
    p: *const tokenforge_pipeline,
    step: *const c_char,
    out: *mut *mut tokenforge_token,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg(p, "pipeline") }?;
        // SAFETY: the caller passes what the Safety section says.
        let step = unsafe { bytes_arg(step, "step") }?;
        out_arg(out)?;
        let token = p.get_by_bytes(step)?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_arc::<tokenforge_token>(token)) }
    })
}

/// As `tokenforge_pipeline_get`, also telling a wrapper how long it may hand the same token
/// out again without calling the library; see `tokenforge_step_get_cacheable`, which this is
/// by name. `changes` and `fresh_until_ms` are nullable. Errors as for get. Thread-safe.
///
/// # Safety
/// `p` is NULL or live; `step` is NULL or NUL-terminated; `out`, `changes`, `fresh_until_ms`
/// and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_get_cacheable(
    p: *const tokenforge_pipeline,
    step: *const c_char,
    out: *mut *mut tokenforge_token,
    changes: *mut u64,
    fresh_until_ms: *mut i64,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg(p, "pipeline") }?;
        // SAFETY: the caller passes what the Safety section says.
        let step = unsafe { bytes_arg(step, "step") }?;
        out_arg(out)?;
        let got = p.get_cacheable(step)?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { super::step::write_cacheable(got, out, changes, fresh_until_ms) }
    })
}

/// Sets `*out` to the address of the change counter of `step`: the library increments it
/// whenever the step's cached token changes (a new token, an invalidation, one taken from
/// storage), and once more when the pipeline is freed. The address stays readable for the
/// life of the process, also after the pipeline is freed, so a wrapper may read it without
/// holding the pipeline; a value once read never comes back. Read it with an atomic acquire
/// load (C11: `atomic_load((_Atomic uint64_t *)p)`, GCC: `__atomic_load_n(p,
/// __ATOMIC_ACQUIRE)`, Go: `atomic.LoadUint64`); never write it. Errors: `INVALID_ARGUMENT`
/// (NULL, unknown step). Thread-safe.
///
/// # Safety
/// `p` is NULL or live; `step` is NULL or NUL-terminated; `out` and `err` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_step_changes(
    p: *const tokenforge_pipeline,
    step: *const c_char,
    out: *mut *const u64,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg(p, "pipeline") }?;
        // SAFETY: the caller passes what the Safety section says.
        let step = unsafe { bytes_arg(step, "step") }?;
        out_arg(out)?;
        let counter = p.changes(step)?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, counter.as_ptr().cast_const()) }
    })
}

/// Drops the cached (and stored) token of `step` and of every step that depends on it,
/// directly or not, and forgets their failures, so that the next get fetches. A store that
/// fails to delete is reported to the step's error hook and the event hook, not returned.
/// Errors: `INVALID_ARGUMENT` (NULL, bad UTF-8, unknown step), `CONFIG`. Thread-safe.
///
/// # Safety
/// `p` is NULL or live; `step` is NULL or NUL-terminated; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_invalidate(
    p: *const tokenforge_pipeline,
    step: *const c_char,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    fallible!(err, { unsafe { arg(p, "pipeline") }?.invalidate(unsafe { str_arg(step, "step") }?) })
}

/// As `tokenforge_pipeline_invalidate`, but only when the cached token of `step` still has
/// `access_token` (so that many callers retrying after a 401 cause one refetch).
/// `*invalidated` (nullable) tells whether it did. Errors as for invalidate. Thread-safe.
///
/// # Safety
/// `p` is NULL or live; strings are NULL or NUL-terminated; `invalidated` and `err` are NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_invalidate_if(
    p: *const tokenforge_pipeline,
    step: *const c_char,
    access_token: *const c_char,
    invalidated: *mut bool,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg(p, "pipeline") }?;
        let done =
            // SAFETY: the caller passes what the Safety section says.
            p.invalidate_if(unsafe { str_arg(step, "step") }?, unsafe { str_arg(access_token, "access_token") }?)?;
        if !invalidated.is_null() {
            // SAFETY: the caller passes what the Safety section says.
            unsafe { invalidated.write(done) };
        }
        Ok(())
    })
}

/// Reports each cache hit, fetch start, success and failure, refresh, retry, invalidation,
/// stale token served, token loaded from storage and storage failure, with the step name,
/// timings and whether it happened in a background renewal. The
/// library owns `userdata` (see `tokenforge_free_userdata`). `INVALID_ARGUMENT` when `p` or
/// `hook` is NULL. Before first use, from one thread.
///
/// # Safety
/// `p` is NULL or live; functions are NULL or valid; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_set_event_hook(
    p: *mut tokenforge_pipeline,
    hook: tokenforge_event_hook,
    userdata: *mut c_void,
    free_userdata: tokenforge_free_userdata,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    let data = UserData::new(userdata, free_userdata);
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg_mut(p, "pipeline") }?;
        let hook = hook.ok_or_else(|| Error::invalid_argument("hook is NULL"))?;
        p.set_event_hook(event_hook(hook, data))
    })
}

/// A whole pipeline from JSON text (the format is in the README): steps of kind body,
/// header, client_credentials, jwt_bearer or token_exchange with their options,
/// dependencies, templates, refresh endpoints and margins; `${env:NAME}` in a string is
/// replaced by that environment variable. On success `*out` receives a validated pipeline
/// the caller owns. Errors: `INVALID_ARGUMENT` (NULL, bad UTF-8), `CONFIG` (bad JSON, unknown
/// key, wrong type, bad value, missing variable, missing dependency, a template field that is
/// a near miss of a standard one such as `{{a.acess_token}}`, cycle). Every problem of the
/// file is reported in one error: its message lists them all ("pipeline JSON has 3 problems:
/// (1) ...; (2) ..."), each naming its step and field, with "did you mean" for near misses of
/// keys, kinds and step names; `tokenforge_error_step` and `tokenforge_error_field` give the
/// first one's. Thread-safe.
///
/// # Safety
/// `json` is NULL or NUL-terminated; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_from_json(
    json: *const c_char,
    out: *mut *mut tokenforge_pipeline,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let json = unsafe { str_arg(json, "json") }?;
        out_arg(out)?;
        let p = crate::pipeline::from_json(json)?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_box(p)) }
    })
}

/// Frees a pipeline and its cached tokens (zeroed); fetchers and storage it shares with the
/// caller stay the caller's. Returns at once, also while a renewal runs in the background:
/// that renewal keeps what it needs until it ends (within its fetch deadline), its hooks may
/// run until then, and each `free_userdata` is called after the last call of its hook. NULL
/// is a no-op; freeing twice is undefined. Not while another thread uses it.
///
/// # Safety
/// `p` is NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_free(p: *mut tokenforge_pipeline) {
    // SAFETY: the caller passes what the Safety section says.
    guarded!((), { drop(unsafe { take_box(p) }) })
}
