//! The C ABI: `extern "C"` functions only, one file per C type. Nothing here decides
//! behaviour; it checks pointers and strings, moves ownership, and catches panics.
//!
//! Handles are Rust values behind opaque C types; [`handle`] ties each opaque type to its
//! Rust type and ownership kind, so that the pointer conversions live in one place and
//! freeing a borrowed handle does not compile.
//!
//! Every `extern "C"` function's safety argument is its `# Safety` section: the caller passes
//! what it says, and each `unsafe` block inside relies on exactly that.

#![allow(non_camel_case_types)]

pub mod context;
pub mod error;
pub mod event;
pub mod fetcher;
pub mod fetcher_builder;
pub mod handle;
pub mod log;
pub mod oauth2;
pub mod pipeline;
pub mod request;
pub mod result;
pub mod step;
pub mod storage;
pub mod token;
pub mod userdata;

use crate::error::Error;
use std::ffi::{c_char, CStr};

/// A required string argument: `INVALID_ARGUMENT` for NULL or invalid UTF-8.
///
/// # Safety
/// `p` is NULL or points at a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    // SAFETY: p is not NULL, and the caller vouches that it is NUL-terminated.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| Error::invalid_argument(format!("{what} is not valid UTF-8")))
}

/// A string argument as bytes, unchecked for UTF-8 (for lookups, which check by failing):
/// NULL is `INVALID_ARGUMENT`.
///
/// # Safety
/// `p` is NULL or NUL-terminated.
#[inline]
pub(crate) unsafe fn bytes_arg<'a>(p: *const c_char, what: &str) -> Result<&'a [u8], Error> {
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    // SAFETY: p is not NULL, and the caller vouches that it is NUL-terminated.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// An optional string argument: NULL is `None`, invalid UTF-8 is `INVALID_ARGUMENT`.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { str_arg(p, what) }.map(Some)
}

/// Fails with `INVALID_ARGUMENT` when the out-parameter `out` is NULL: checked before the
/// work, so that nothing is done for a result nobody can receive.
pub(crate) fn out_arg<T>(out: *mut T) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::invalid_argument("out-parameter is NULL"));
    }
    Ok(())
}

/// Writes `value` to the out-parameter `out`.
///
/// # Safety
/// `out` is NULL or valid for a write.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> Result<(), Error> {
    out_arg(out)?;
    // SAFETY: out is not NULL, and the caller vouches that it is valid for a write.
    unsafe { out.write(value) };
    Ok(())
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
            // SAFETY: $err is NULL or writable: every fallible function's Safety section says so.
            Ok(Err(e)) => unsafe { $crate::ffi::error::fail(e, err) },
            // SAFETY: as above.
            Err(_) => unsafe { $crate::ffi::error::fail($crate::ffi::error::panic_error(), err) },
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
        // SAFETY: err is the error the boundary just made; it is freed once.
        unsafe {
            assert_eq!(tokenforge_error_code(err), ResultCode::Panic);
            tokenforge_error_free(err);
        }
        assert_eq!(guarded!(7, { panic!("boom") }), 7);
    }
}
