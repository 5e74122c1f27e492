//! Result codes, version and library-owned strings.

use super::guarded;
use crate::error::ResultCode;
use std::ffi::{c_char, CString};

/// A result code as C passes it in: any 32-bit value, checked before use. Appears in the
/// header as `tokenforge_result`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct ResultArg(pub i32);

impl ResultArg {
    pub(crate) fn code(self) -> Option<ResultCode> {
        ResultCode::from_raw(i64::from(self.0))
    }
}

/// The name of a result code without prefix, e.g. "TIMEOUT"; "UNKNOWN" for a value that is no
/// code. The string is static: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn tokenforge_result_name(code: ResultArg) -> *const c_char {
    guarded!(c"PANIC".as_ptr(), { code.code().map_or(c"UNKNOWN", ResultCode::c_name).as_ptr() })
}

/// The library version, "MAJOR.MINOR.PATCH". Static: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn tokenforge_version() -> *const c_char {
    static VERSION: &std::ffi::CStr =
        match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version has no NUL"),
        };
    VERSION.as_ptr()
}

/// Frees a `char *` that the library returned as owned by the caller. NULL is a no-op;
/// freeing twice, or freeing a `const char *` borrowed from an object, is undefined.
/// Thread-safe.
///
/// # Safety
/// `s` is NULL or a string returned as owned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_string_free(s: *mut c_char) {
    guarded!((), {
        if !s.is_null() {
            // SAFETY: the caller passes what the Safety section says.
            let mut owned = unsafe { CString::from_raw(s) }.into_bytes();
            zeroize::Zeroize::zeroize(&mut owned);
        }
    })
}
