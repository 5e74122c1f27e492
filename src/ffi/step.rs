//! `tokenforge_step`: one step of a pipeline, found once, for hot paths that skip the name
//! lookup, and for wrappers that cache the token on their side of the ABI.

use super::error::tokenforge_error;
use super::handle::{arg, take_box, to_arc, to_box, Castable, OwnershipBox};
use super::pipeline::tokenforge_pipeline;
use super::token::tokenforge_token;
use super::{fallible, guarded, out_arg, str_arg, write_out};
use crate::error::{Error, ResultCode};
use crate::pipeline::{Cacheable, StepHandle};
use std::ffi::c_char;
use std::ptr;

/// A handle on one step of a pipeline: `tokenforge_step_get` is `tokenforge_pipeline_get`
/// without the name lookup. It shares the pipeline's state and keeps it alive, also after
/// `tokenforge_pipeline_free`; a pipeline with step handles can no longer be configured
/// (`CONFIG`). Owned by the caller (`tokenforge_step_free`); thread-safe.
pub struct tokenforge_step {
    _private: [u8; 0],
}

impl Castable for tokenforge_step {
    type Ownership = OwnershipBox;
    type Rust = StepHandle;
}

/// Sets `*out` to a handle on `step` of `p`, owned by the caller. Take handles after
/// configuring the pipeline: from then on add and the set_* calls are `CONFIG` errors.
/// Errors: `INVALID_ARGUMENT` (NULL, bad UTF-8, unknown step), `CONFIG` (missing dependency
/// or cycle, as for get). Thread-safe.
///
/// # Safety
/// `p` is NULL or live; `step` is NULL or NUL-terminated; `out` and `err` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_pipeline_step(
    p: *const tokenforge_pipeline,
    step: *const c_char,
    out: *mut *mut tokenforge_step,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let p = unsafe { arg(p, "pipeline") }?;
        // SAFETY: the caller passes what the Safety section says.
        let step = unsafe { str_arg(step, "step") }?;
        out_arg(out)?;
        let handle = p.step(step)?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_box(handle)) }
    })
}

/// The token of the step, owned by the caller: exactly `tokenforge_pipeline_get` of its
/// pipeline and name, without looking the name up. Errors as for that call. Thread-safe.
///
/// # Safety
/// `s` is NULL or live; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_step_get(
    s: *const tokenforge_step,
    out: *mut *mut tokenforge_token,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let s = unsafe { arg(s, "step") }?;
        out_arg(out)?;
        let token = s.get()?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_arc::<tokenforge_token>(token)) }
    })
}

/// As `tokenforge_step_get`, also telling a wrapper how long it may hand the same token out
/// again without calling the library: `*changes` is the value of the step's change counter
/// (`tokenforge_step_changes`) that the token belongs to, and `*fresh_until_ms` (ms since the
/// Unix epoch) when it stops being fresh; 0 when it is not fresh now (a token due for
/// renewal, served while it is renewed). While the counter still reads `*changes` and the time
/// is before `*fresh_until_ms`, a get would return this same token. `changes` and
/// `fresh_until_ms` are nullable. Errors as for get. Thread-safe.
///
/// # Safety
/// `s` is NULL or live; `out`, `changes`, `fresh_until_ms` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_step_get_cacheable(
    s: *const tokenforge_step,
    out: *mut *mut tokenforge_token,
    changes: *mut u64,
    fresh_until_ms: *mut i64,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let s = unsafe { arg(s, "step") }?;
        out_arg(out)?;
        let got = s.get_cacheable()?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_cacheable(got, out, changes, fresh_until_ms) }
    })
}

/// Writes a cacheable get's outputs.
///
/// # Safety
/// `out` is writable; `changes` and `fresh_until_ms` are NULL or writable.
pub(super) unsafe fn write_cacheable(
    got: Cacheable,
    out: *mut *mut tokenforge_token,
    changes: *mut u64,
    fresh_until_ms: *mut i64,
) -> Result<(), Error> {
    if !changes.is_null() {
        // SAFETY: not NULL, so writable (Safety section).
        unsafe { changes.write(got.changes) };
    }
    if !fresh_until_ms.is_null() {
        // SAFETY: not NULL, so writable (Safety section).
        unsafe { fresh_until_ms.write(got.fresh_until_ms) };
    }
    // SAFETY: the caller passes what the Safety section says.
    unsafe { write_out(out, to_arc::<tokenforge_token>(got.token)) }
}

/// The address of the step's change counter, which the library increments whenever the
/// step's cached token changes (a new token, an invalidation, one taken from storage); see
/// `tokenforge_pipeline_step_changes`. It stays readable for the life of the process. Read
/// it with an atomic acquire load (C11: `atomic_load((_Atomic uint64_t *)p)`, GCC:
/// `__atomic_load_n(p, __ATOMIC_ACQUIRE)`, Go: `atomic.LoadUint64`); never write it. NULL
/// when `s` is NULL. Thread-safe.
///
/// # Safety
/// `s` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_step_changes(s: *const tokenforge_step) -> *const u64 {
    guarded!(ptr::null(), {
        // SAFETY: the caller passes what the Safety section says.
        match unsafe { arg(s, "step") } {
            Ok(s) => s.changes().as_ptr().cast_const(),
            Err(_) => ptr::null(),
        }
    })
}

/// Frees a step handle (the pipeline's state goes when the pipeline and its last handle are
/// freed). NULL is a no-op; freeing twice is undefined. Not while another thread uses it.
///
/// # Safety
/// `s` is NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_step_free(s: *mut tokenforge_step) {
    // SAFETY: the caller passes what the Safety section says.
    guarded!((), { drop(unsafe { take_box(s) }) })
}
