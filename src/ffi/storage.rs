//! `tokenforge_storage`: a token store (TokenStorage strategy). Internally synchronised: use
//! it from many threads at once.

use super::error::tokenforge_error;
use super::token::tokenforge_token;
use super::{arg, fallible, guarded, str_arg, take, to_c, write_out, Castable};
use crate::error::{Error, ResultCode};
use crate::storage::{MemoryStorage, TokenStorage};
use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;

/// A place to keep tokens by key. Thread-safe. Owned by the caller; pipelines using it keep
/// their own reference.
pub struct tokenforge_storage {
    _private: [u8; 0],
}

impl Castable for tokenforge_storage {
    type Rust = Arc<dyn TokenStorage>;
}

/// An empty in-memory storage, owned by the caller. Thread-safe.
#[no_mangle]
pub extern "C" fn tokenforge_storage_new_memory() -> *mut tokenforge_storage {
    guarded!(ptr::null_mut(), {
        let storage: Arc<dyn TokenStorage> = Arc::new(MemoryStorage::new());
        to_c(storage)
    })
}

/// Stores a copy of `t` under `key` (copied), replacing any earlier token. Errors:
/// `INVALID_ARGUMENT` (NULL, bad UTF-8), `STORAGE`. Thread-safe.
///
/// # Safety
/// `s` and `t` are NULL or live; `key` is NULL or NUL-terminated; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_storage_store(
    s: *const tokenforge_storage,
    key: *const c_char,
    t: *const tokenforge_token,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        let s = unsafe { arg(s, "storage") }?;
        s.store(unsafe { str_arg(key, "key") }?, unsafe { arg(t, "token") }?)
    })
}

/// Retrieves the token under `key`: `*out` receives a copy the caller owns, or NULL when the
/// key is absent (still OK). Errors: `INVALID_ARGUMENT` (NULL, bad UTF-8), `STORAGE`.
/// Thread-safe.
///
/// # Safety
/// `s` is NULL or live; `key` is NULL or NUL-terminated; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_storage_retrieve(
    s: *const tokenforge_storage,
    key: *const c_char,
    out: *mut *mut tokenforge_token,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        let s = unsafe { arg(s, "storage") }?;
        let key = unsafe { str_arg(key, "key") }?;
        if out.is_null() {
            return Err(Error::invalid_argument("out-parameter is NULL"));
        }
        let token = s.retrieve(key)?;
        unsafe { write_out(out, token.map_or(ptr::null_mut(), to_c)) }
    })
}

/// Deletes the token under `key`; an absent key is OK. Errors: `INVALID_ARGUMENT` (NULL, bad
/// UTF-8), `STORAGE`. Thread-safe.
///
/// # Safety
/// `s` is NULL or live; `key` is NULL or NUL-terminated; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_storage_delete(
    s: *const tokenforge_storage,
    key: *const c_char,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        let s = unsafe { arg(s, "storage") }?;
        s.delete(unsafe { str_arg(key, "key") }?)
    })
}

/// Releases the caller's reference; the tokens are zeroed when the last reference goes. NULL
/// is a no-op; freeing twice is undefined.
///
/// # Safety
/// `s` is NULL or live, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_storage_free(s: *mut tokenforge_storage) {
    guarded!((), { drop(unsafe { take(s) }) })
}
