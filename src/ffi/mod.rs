//! The C ABI: `extern "C"` functions only, one file per C type. Nothing here decides
//! behaviour; it checks pointers and strings, moves ownership, and catches panics.
//!
//! Handles are `Box`es of Rust values behind opaque C types; [`Castable`] ties each opaque
//! type to its Rust type so that the pointer conversions live here, in one place.

#![allow(non_camel_case_types)]

pub mod context;
pub mod error;
pub mod fetcher;
pub mod hooks;
pub mod oauth2;
pub mod pipeline;
pub mod result;
pub mod storage;
pub mod token;

use crate::error::{Error, ResultCode};
use std::ffi::{c_char, CStr};

/// Ties an opaque C type to the Rust value its pointers point at.
pub(crate) trait Castable {
    type Rust;
}

/// Boxes `value` and hands it to C as `*mut C`.
pub(crate) fn to_c<C: Castable>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Borrows the value behind `p`; `None` for NULL.
///
/// # Safety
/// `p` is NULL or was made by [`to_c`] for the same `C` and not yet freed.
pub(crate) unsafe fn borrow<'a, C: Castable>(p: *const C) -> Option<&'a C::Rust> {
    unsafe { p.cast::<C::Rust>().as_ref() }
}

/// Borrows the value behind `p` mutably; `None` for NULL.
///
/// # Safety
/// As [`borrow`], and no other reference to the value exists during the borrow.
pub(crate) unsafe fn borrow_mut<'a, C: Castable>(p: *mut C) -> Option<&'a mut C::Rust> {
    unsafe { p.cast::<C::Rust>().as_mut() }
}

/// Takes back ownership of the value behind `p`; `None` for NULL.
///
/// # Safety
/// As [`borrow`]; `p` is not used again.
pub(crate) unsafe fn take<C: Castable>(p: *mut C) -> Option<C::Rust> {
    if p.is_null() {
        return None;
    }
    Some(*unsafe { Box::from_raw(p.cast::<C::Rust>()) })
}

/// A required object argument, or `INVALID_ARGUMENT` naming it.
///
/// # Safety
/// As [`borrow`].
pub(crate) unsafe fn arg<'a, C: Castable>(p: *const C, what: &str) -> Result<&'a C::Rust, Error> {
    unsafe { borrow(p) }.ok_or_else(|| Error::invalid_argument(format!("{what} is NULL")))
}

/// A required mutable object argument, or `INVALID_ARGUMENT` naming it.
///
/// # Safety
/// As [`borrow_mut`].
pub(crate) unsafe fn arg_mut<'a, C: Castable>(p: *mut C, what: &str) -> Result<&'a mut C::Rust, Error> {
    unsafe { borrow_mut(p) }.ok_or_else(|| Error::invalid_argument(format!("{what} is NULL")))
}

/// A required string argument: `INVALID_ARGUMENT` for NULL or invalid UTF-8.
///
/// # Safety
/// `p` is NULL or points at a NUL-terminated string.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::invalid_argument(format!("{what} is not valid UTF-8")))
}

/// An optional string argument: NULL is `None`, invalid UTF-8 is `INVALID_ARGUMENT`.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        return Ok(None);
    }
    unsafe { str_arg(p, what) }.map(Some)
}

/// Writes `value` to the out-parameter `out` (checked non-NULL by the caller's code path).
///
/// # Safety
/// `out` is NULL or valid for a write.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::invalid_argument("out-parameter is NULL"));
    }
    unsafe { out.write(value) };
    Ok(())
}

/// Turns a failure into its code, handing the error to C through `err` when it is not NULL.
///
/// # Safety
/// `err` is NULL or valid for a write.
pub(crate) unsafe fn fail(e: Error, err: *mut *mut error::tokenforge_error) -> ResultCode {
    let code = e.code();
    if !err.is_null() {
        unsafe { err.write(to_c(e)) };
    }
    code
}

/// The error reported when a panic is caught at the boundary.
pub(crate) fn panic_error() -> Error {
    Error::new(ResultCode::Panic, "internal error: a Rust panic was caught at the C boundary")
}

/// Body of a fallible `extern "C"` function: runs the block (which returns
/// `Result<(), Error>`) inside `catch_unwind`; errors and panics become a result code and,
/// when `$err` is not NULL, a `tokenforge_error`.
macro_rules! fallible {
    ($err:expr, $body:block) => {{
        let err: *mut *mut $crate::ffi::error::tokenforge_error = $err;
        let run = || -> ::std::result::Result<(), $crate::error::Error> { $body };
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(run)) {
            Ok(Ok(())) => $crate::error::ResultCode::Ok,
            Ok(Err(e)) => unsafe { $crate::ffi::fail(e, err) },
            Err(_) => unsafe { $crate::ffi::fail($crate::ffi::panic_error(), err) },
        }
    }};
}

/// Body of an infallible `extern "C"` function: a panic gives `$default` instead.
macro_rules! guarded {
    ($default:expr, $body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => $default,
        }
    }};
}

pub(crate) use {fallible, guarded};

#[cfg(test)]
mod tests {
    use super::error::{tokenforge_error, tokenforge_error_code, tokenforge_error_free};
    use crate::error::{Error, ResultCode};
    use std::ptr;

    fn run(outcome: u8, err: *mut *mut tokenforge_error) -> ResultCode {
        fallible!(err, {
            match outcome {
                0 => Ok(()),
                1 => Err(Error::config("bad")),
                _ => panic!("boom"),
            }
        })
    }

    #[test]
    fn boundary_turns_errors_and_panics_into_codes() {
        let mut err: *mut tokenforge_error = ptr::null_mut();
        assert_eq!(run(0, &mut err), ResultCode::Ok);
        assert!(err.is_null(), "no error on success");
        assert_eq!(run(1, ptr::null_mut()), ResultCode::Config, "err may be NULL");
        assert_eq!(run(2, &mut err), ResultCode::Panic);
        assert_eq!(unsafe { tokenforge_error_code(err) }, ResultCode::Panic);
        unsafe { tokenforge_error_free(err) };
        assert_eq!(guarded!(7, { panic!("boom") }), 7);
    }
}
