//! `tokenforge_token`: an immutable token, safe to read from many threads. Strings it
//! returns are borrowed from it and valid until `tokenforge_token_free`; its memory is
//! zeroed when freed.

use super::handle::{borrow, clone_arc, take_arc, to_arc, Castable, OwnershipArc};
use super::{guarded, opt_str_arg, str_arg};
use crate::text::CText;
use crate::token::{Token, NO_EXPIRY};
use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;

/// `expires_at_ms` value meaning "expiry unknown".
pub const TOKENFORGE_NO_EXPIRY: i64 = -1;

/// An access token with its type, expiry, refresh token and extra response fields.
/// Immutable; may be shared between threads. Owned by whoever received it as `*mut`.
pub struct tokenforge_token {
    _private: [u8; 0],
}

/// Tokens are reference-counted: a "copy" shares the immutable token, and its memory is
/// zeroed when the last reference goes.
impl Castable for tokenforge_token {
    type Ownership = OwnershipArc;
    type Rust = Token;
}

fn ptr_of(text: Option<&CText>) -> *const c_char {
    text.map_or(ptr::null(), CText::as_ptr)
}

/// Makes a token; all strings are copied. `token_type` NULL or empty means "Bearer" (it is
/// trimmed, and "bearer" in any case becomes "Bearer"); `expires_at_ms` is Unix epoch ms,
/// negative (`TOKENFORGE_NO_EXPIRY`) for unknown; `refresh_token` NULL or empty means none.
/// Returns NULL when `access_token` is NULL, empty or not UTF-8, when `token_type` or
/// `refresh_token` is not UTF-8, or when the access token or the (trimmed) type holds CR or
/// LF, which no header could carry. The caller owns the result and frees it with
/// `tokenforge_token_free`. Thread-safe.
///
/// # Safety
/// Each string is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_new(
    access_token: *const c_char,
    token_type: *const c_char,
    expires_at_ms: i64,
    refresh_token: *const c_char,
) -> *mut tokenforge_token {
    guarded!(ptr::null_mut(), {
        let made = (|| {
            // SAFETY: the caller passes what the Safety section says.
            let access = unsafe { str_arg(access_token, "access_token") }?;
            // SAFETY: the caller passes what the Safety section says.
            let token_type = unsafe { opt_str_arg(token_type, "token_type") }?;
            // SAFETY: the caller passes what the Safety section says.
            let refresh = unsafe { opt_str_arg(refresh_token, "refresh_token") }?;
            let expires = (expires_at_ms >= 0).then_some(expires_at_ms);
            Token::new(access, token_type, expires, refresh)
        })();
        made.map_or(ptr::null_mut(), |t| to_arc(Arc::new(t)))
    })
}

/// A copy of `t`, owned by the caller (tokens are immutable, so the copy shares the memory
/// and costs no allocation); NULL when `t` is NULL. Thread-safe.
///
/// # Safety
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_clone(t: *const tokenforge_token) -> *mut tokenforge_token {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null_mut(), { unsafe { clone_arc(t) }.map_or(ptr::null_mut(), to_arc) })
}

/// A new token equal to `t` with the extra response field `field` set to `value` (both
/// copied; `value` is kept as a string), replacing any field of that name: for a custom
/// fetcher to return an `id_token`, a `scope`, an `issued_token_type` or any other field that
/// `tokenforge_token_extra` (and templates) then read. `t` stays the caller's. Returns NULL
/// when an argument is NULL or not UTF-8, or `field` is empty. The caller owns the result.
/// Thread-safe.
///
/// # Safety
/// `t` is NULL or a live token; `field` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_with_extra(
    t: *const tokenforge_token,
    field: *const c_char,
    value: *const c_char,
) -> *mut tokenforge_token {
    guarded!(ptr::null_mut(), {
        // SAFETY: the caller passes what the Safety section says.
        let (t, field, value) = unsafe { (borrow(t), str_arg(field, "field").ok(), str_arg(value, "value").ok()) };
        match (t, field, value) {
            (Some(t), Some(f), Some(v)) if !f.is_empty() => {
                to_arc(Arc::new(Token::clone(t).with_extra(f, &serde_json::Value::String(v.to_string()))))
            }
            _ => ptr::null_mut(),
        }
    })
}

/// Frees a token, zeroing its secrets. NULL is a no-op; freeing twice is undefined. Not while
/// another thread reads it.
///
/// # Safety
/// `t` is NULL or a token owned by the caller, not used afterwards. Tokens borrowed from a
/// context are freed with the context, never here.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_free(t: *mut tokenforge_token) {
    // SAFETY: the caller passes what the Safety section says.
    guarded!((), { drop(unsafe { take_arc(t) }) })
}

/// The access token; NULL when `t` is NULL. Borrowed from `t`.
///
/// # Safety
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_access_token(t: *const tokenforge_token) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(t) }.map(Token::access_token)) })
}

/// The token type ("Bearer" when the response gave none); NULL when `t` is NULL. Borrowed.
///
/// # Safety
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_token_type(t: *const tokenforge_token) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(t) }.map(Token::token_type)) })
}

/// The refresh token; NULL when none. Borrowed from `t`.
///
/// # Safety
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_refresh_token(t: *const tokenforge_token) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(t) }.and_then(Token::refresh_token)) })
}

/// The `scope` of the token response; NULL when none. Borrowed from `t`.
///
/// # Safety
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_scope(t: *const tokenforge_token) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(t) }.and_then(Token::scope)) })
}

/// Expiry in Unix epoch ms; `TOKENFORGE_NO_EXPIRY` when unknown or `t` is NULL.
///
/// # Safety
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_expires_at_ms(t: *const tokenforge_token) -> i64 {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(NO_EXPIRY, { unsafe { borrow(t) }.and_then(Token::expires_at_ms).unwrap_or(NO_EXPIRY) })
}

/// True when the token expires within `margin_ms` from now (or has expired). A token of
/// unknown expiry never is. True for NULL, so that a caller refetches.
///
/// # Safety
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_is_expired(t: *const tokenforge_token, margin_ms: i64) -> bool {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(true, { unsafe { borrow(t) }.is_none_or(|t| t.is_expired(margin_ms)) })
}

/// "<type> <token>", the value for an Authorization header; NULL when `t` is NULL. Borrowed.
///
/// # Safety
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_authorization(t: *const tokenforge_token) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(t) }.map(Token::authorization)) })
}

/// Another field of the token response (id_token, custom fields): strings as they are, other
/// JSON values as JSON text. NULL when absent, or `t` or `field` is NULL or not UTF-8.
/// Borrowed from `t`.
///
/// # Safety
/// `t` is NULL or a live token; `field` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_extra(t: *const tokenforge_token, field: *const c_char) -> *const c_char {
    guarded!(ptr::null(), {
        // SAFETY: the caller passes what the Safety section says.
        let field = unsafe { str_arg(field, "field") }.ok();
        // SAFETY: the caller passes what the Safety section says.
        ptr_of(unsafe { borrow(t) }.zip(field).and_then(|(t, f)| t.extra(f)))
    })
}

/// How many extra response fields `t` has (scope and issued_token_type among them when the
/// server sent them); 0 when `t` is NULL. With `tokenforge_token_extra_name` it lists them.
///
/// # Safety
/// `t` is NULL or a live token. Any thread.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_extra_count(t: *const tokenforge_token) -> usize {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(0, { unsafe { borrow(t) }.map_or(0, Token::extra_count) })
}

/// The name of the `index`-th extra response field of `t` (0-based; a JSON response's fields
/// come sorted by name, a custom fetcher's in the order it added them);
/// `tokenforge_token_extra` gives its value. NULL when `index` is not below
/// `tokenforge_token_extra_count(t)` or `t` is NULL. Borrowed from `t`.
///
/// # Safety
/// `t` is NULL or a live token. Any thread.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_token_extra_name(t: *const tokenforge_token, index: usize) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(t) }.and_then(|t| t.extra_name(index))) })
}
