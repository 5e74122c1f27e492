//! `tokenforge_error`: what went wrong. Immutable; safe to read from many threads. Every
//! string it returns is borrowed from it and valid until `tokenforge_error_free`.

use super::handle::{arg_mut, borrow, take_box, to_box, Castable, OwnershipBox};
use super::result::ResultArg;
use super::userdata::{tokenforge_free_userdata, UserData};
use super::{fallible, guarded, str_arg};
use crate::error::{Error, ResultCode};
use crate::text::CText;
use std::ffi::{c_char, c_void};
use std::ptr;

/// An error: code, message (never a secret), HTTP status, step, RFC 6749 fields, Retry-After
/// and whether retrying may help. Owned by the caller; free with `tokenforge_error_free`.
pub struct tokenforge_error {
    _private: [u8; 0],
}

impl Castable for tokenforge_error {
    type Ownership = OwnershipBox;
    type Rust = Error;
}

fn ptr_of(text: Option<&CText>) -> *const c_char {
    text.map_or(ptr::null(), CText::as_ptr)
}

/// Turns a failure into its code, handing the error to C through `err` when it is not NULL.
///
/// # Safety
/// `err` is NULL or valid for a write.
pub(crate) unsafe fn fail(e: Error, err: *mut *mut tokenforge_error) -> ResultCode {
    let code = e.code();
    if !err.is_null() {
        // SAFETY: err is not NULL, and the caller vouches that it is valid for a write.
        unsafe { err.write(to_box(e)) };
    }
    code
}

/// The error reported when a panic is caught at the boundary.
pub(crate) fn panic_error() -> Error {
    Error::new(ResultCode::Panic, "internal error: a Rust panic was caught at the C boundary")
}

/// The error a callback's result code amounts to: `None` for OK. A code that is no
/// `tokenforge_result` is a `CALLBACK` error, as is any failure without an error object.
/// With an error object, its message, fields and cause are kept, under the returned code.
///
/// # Safety
/// `err` is NULL or an error the callback handed over (made by `tokenforge_error_new` or
/// received from the library), not used again.
pub(crate) unsafe fn callback_outcome(what: &str, rc: ResultArg, err: *mut tokenforge_error) -> Option<Error> {
    // SAFETY: the caller vouches that err is NULL or an owned error.
    let given = unsafe { take_box(err) };
    match rc.code() {
        Some(ResultCode::Ok) => None,
        Some(code) => Some(match given {
            Some(e) if e.code() == code => e,
            Some(e) => Error::new(code, e.message()).with_cause(e.cause().cloned()),
            None => Error::new(code, format!("{what} failed with {}", code.name())),
        }),
        None => Some(
            Error::new(ResultCode::Callback, format!("{what} returned {}, which is no result code", rc.0))
                .with_cause(given.and_then(|e| e.cause().cloned())),
        ),
    }
}

/// Makes an error, for callbacks to report failures. `message` is copied. Returns NULL when
/// `code` is OK or no result code, or `message` is NULL or not UTF-8. The caller owns the
/// result (or hands it to the library through a callback's `err`). Thread-safe.
///
/// # Safety
/// `message` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_new(code: ResultArg, message: *const c_char) -> *mut tokenforge_error {
    guarded!(ptr::null_mut(), {
        // SAFETY: the caller passes what the Safety section says.
        match (code.code(), unsafe { str_arg(message, "message") }) {
            (Some(code), Ok(message)) if code != ResultCode::Ok => to_box(Error::new(code, message)),
            _ => ptr::null_mut(),
        }
    })
}

/// The error's result code; `TOKENFORGE_RESULT_INVALID_ARGUMENT` for NULL.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_code(e: *const tokenforge_error) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ResultCode::Panic, { unsafe { borrow(e) }.map_or(ResultCode::InvalidArgument, Error::code) })
}

/// The message, never NULL (a static text for a NULL error). Borrowed from `e`.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_message(e: *const tokenforge_error) -> *const c_char {
    guarded!(c"(panic)".as_ptr(), {
        // SAFETY: the caller passes what the Safety section says.
        unsafe { borrow(e) }.map_or(c"(NULL error)".as_ptr(), |e| e.message_text().as_ptr())
    })
}

/// The HTTP status of the answer behind the error; 0 when none (or `e` is NULL).
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_http_status(e: *const tokenforge_error) -> i32 {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(0, { unsafe { borrow(e) }.map_or(0, |e| i32::from(e.status())) })
}

/// The name of the fetcher or step that failed; NULL when none. Borrowed from `e`.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_step(e: *const tokenforge_error) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(e) }.and_then(Error::step)) })
}

/// The configuration field a `CONFIG` error is about (a pipeline JSON key, such as
/// `"depends_on"` or `"request_headers.X-Device-Token"`; nested keys joined with dots);
/// NULL when none. When loading JSON reports several problems, this is the first one's
/// field (and `tokenforge_error_step` its step). Borrowed from `e`. Thread-safe.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_field(e: *const tokenforge_error) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(e) }.and_then(Error::field)) })
}

/// The RFC 6749 `error` value (e.g. "invalid_client"); NULL when none. Borrowed from `e`.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_oauth_error(e: *const tokenforge_error) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(e) }.and_then(Error::oauth_error)) })
}

/// The RFC 6749 `error_description`; NULL when none. Borrowed from `e`.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_oauth_description(e: *const tokenforge_error) -> *const c_char {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { ptr_of(unsafe { borrow(e) }.and_then(Error::oauth_description)) })
}

/// How long the server asked to wait (Retry-After), in ms; -1 when it did not say.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_retry_after_ms(e: *const tokenforge_error) -> i64 {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(-1, { unsafe { borrow(e) }.and_then(Error::retry_after_ms).unwrap_or(-1) })
}

/// True when trying again later may succeed (transport failures, timeouts, 408, 429, 5xx,
/// temporary OAuth errors). False for NULL.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_is_retryable(e: *const tokenforge_error) -> bool {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(false, { unsafe { borrow(e) }.is_some_and(Error::is_retryable) })
}

/// Frees an error. NULL is a no-op; freeing twice is undefined. Not while another thread
/// reads it.
///
/// # Safety
/// `e` is NULL or a live error, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_free(e: *mut tokenforge_error) {
    // SAFETY: the caller passes what the Safety section says.
    guarded!((), { drop(unsafe { take_box(e) }) })
}

/// Attaches `cause` to `e`, replacing any earlier cause: a userdata of the caller's (a host
/// language's own error value, say) that travels with the error through the library. The
/// library owns `cause` from now on (see `tokenforge_free_userdata`): errors the library
/// derives from `e` (copies handed to callers sharing a fetch, a dependent step's
/// `DEPENDENCY` error, a storage error) carry the same cause, and `free_cause` (nullable) is
/// called once, when the last of them is freed (which may be later than `e`: a pipeline keeps
/// a step's last failure). Only the code that attached a cause knows what it is; recognise
/// your own before using one. `INVALID_ARGUMENT` when `e` is NULL (`free_cause` is then
/// called at once). Before handing `e` on, from one thread.
///
/// # Safety
/// `e` is NULL or a live error the caller owns; `free_cause` is NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_set_cause(
    e: *mut tokenforge_error,
    cause: *mut c_void,
    free_cause: tokenforge_free_userdata,
) -> ResultCode {
    let data = UserData::new(cause, free_cause);
    fallible!(std::ptr::null_mut(), {
        // SAFETY: the caller passes what the Safety section says.
        let e = unsafe { arg_mut(e, "error") }?;
        *e = e.clone().with_cause(Some(data));
        Ok(())
    })
}

/// The cause attached with `tokenforge_error_set_cause` to this error or to the error it was
/// derived from; NULL when none (or `e` is NULL). Still owned by the library.
///
/// # Safety
/// `e` is NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_error_cause(e: *const tokenforge_error) -> *mut c_void {
    guarded!(std::ptr::null_mut(), {
        // SAFETY: the caller passes what the Safety section says.
        unsafe { borrow(e) }
            .and_then(Error::cause)
            .and_then(UserData::of_cause)
            .map_or(std::ptr::null_mut(), UserData::ptr)
    })
}
