//! `tokenforge_context`: tokens of earlier steps by step name. Single-threaded: one thread at
//! a time may use it; fetchers only read it.

use super::handle::{arg_mut, borrow, clone_arc, take_box, to_box, Castable, OwnershipBox};
use super::token::tokenforge_token;
use super::{fallible, guarded, str_arg};
use crate::context::Context;
use crate::error::Error;
use std::ffi::c_char;
use std::ptr;

/// Step name -> token. Owned by the caller; free with `tokenforge_context_free`.
pub struct tokenforge_context {
    _private: [u8; 0],
}

impl Castable for tokenforge_context {
    type Ownership = OwnershipBox;
    type Rust = Context;
}

/// An empty context, owned by the caller. Any thread may make one; the context itself is used
/// by one thread at a time.
#[no_mangle]
pub extern "C" fn tokenforge_context_new() -> *mut tokenforge_context {
    guarded!(ptr::null_mut(), { to_box(Context::new()) })
}

/// Sets the token of step `name` to a copy of `t` (replacing any earlier one; tokens borrowed
/// from the earlier one become invalid). `name` is copied. `INVALID_ARGUMENT` when an argument
/// is NULL, or `name` is empty or not UTF-8. One thread at a time.
///
/// # Safety
/// `c` and `t` are NULL or live; `name` is NULL or NUL-terminated; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_context_set(
    c: *mut tokenforge_context,
    name: *const c_char,
    t: *const tokenforge_token,
    err: *mut *mut super::error::tokenforge_error,
) -> crate::error::ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let c = unsafe { arg_mut(c, "context") }?;
        // SAFETY: the caller passes what the Safety section says.
        let name = unsafe { str_arg(name, "name") }?;
        if name.is_empty() {
            return Err(Error::invalid_argument("name must not be empty"));
        }
        // SAFETY: the caller passes what the Safety section says.
        let t = unsafe { clone_arc(t) }.ok_or_else(|| Error::invalid_argument("token is NULL"))?;
        c.set(name, t);
        Ok(())
    })
}

/// The token of step `name`, borrowed from `c` until `c` is freed or that step is set again;
/// NULL when absent or an argument is NULL or not UTF-8. Never free it.
///
/// # Safety
/// `c` is NULL or live; `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_context_get(
    c: *const tokenforge_context,
    name: *const c_char,
) -> *const tokenforge_token {
    guarded!(ptr::null(), {
        // SAFETY: the caller passes what the Safety section says.
        let name = unsafe { str_arg(name, "name") }.ok();
        // SAFETY: the caller passes what the Safety section says.
        unsafe { borrow(c) }.zip(name).and_then(|(c, n)| c.get(n)).map_or(ptr::null(), |t| ptr::from_ref(t).cast())
    })
}

/// The number of tokens in `c`; 0 for NULL.
///
/// # Safety
/// `c` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_context_len(c: *const tokenforge_context) -> usize {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(0, { unsafe { borrow(c) }.map_or(0, Context::len) })
}

/// Frees a context and the tokens in it (zeroed). NULL is a no-op; freeing twice is undefined.
///
/// # Safety
/// `c` is NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_context_free(c: *mut tokenforge_context) {
    // SAFETY: the caller passes what the Safety section says.
    guarded!((), { drop(unsafe { take_box(c) }) })
}

/// The context pointer a callback receives: NULL when the fetch had none.
pub(crate) fn context_ptr(context: Option<&Context>) -> *const tokenforge_context {
    context.map_or(ptr::null(), |c| ptr::from_ref(c).cast())
}
