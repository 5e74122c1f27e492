//! Result codes, version and library-owned strings.

use super::guarded;
use crate::error::ResultCode;
use std::ffi::{c_char, CStr, CString};

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

/// The major version of the header (the library's SONAME is `libtokenforge.so.MAJOR`).
pub const TOKENFORGE_VERSION_MAJOR: u32 = 0;
/// The minor version of the header.
pub const TOKENFORGE_VERSION_MINOR: u32 = 1;
/// The patch version of the header.
pub const TOKENFORGE_VERSION_PATCH: u32 = 0;
/// The library version as C sees it; the header's `TOKENFORGE_VERSION` string macro is the
/// same text (in cbindgen.toml: cbindgen cannot export a string constant).
const TOKENFORGE_VERSION: &CStr = c"0.1.0";

/// The library version, "MAJOR.MINOR.PATCH" (`TOKENFORGE_VERSION` of the header it was built
/// with; a program may compare the two). Static: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn tokenforge_version() -> *const c_char {
    TOKENFORGE_VERSION.as_ptr()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The header's macros are literals (cbindgen copies them): they must be the crate's.
    #[test]
    fn version_macros_are_the_crate_version() {
        assert_eq!(TOKENFORGE_VERSION.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        let header = include_str!("../../include/tokenforge.h");
        let define = format!("#define TOKENFORGE_VERSION \"{}\"", env!("CARGO_PKG_VERSION"));
        assert!(header.contains(&define), "the header lacks {define}: see after_includes in cbindgen.toml");
        let parts =
            [TOKENFORGE_VERSION_MAJOR, TOKENFORGE_VERSION_MINOR, TOKENFORGE_VERSION_PATCH].map(|p| p.to_string());
        assert_eq!(parts.join("."), env!("CARGO_PKG_VERSION"));
    }
}
