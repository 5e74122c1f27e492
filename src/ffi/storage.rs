//! `tokenforge_storage`: a token store (TokenStorage strategy). Internally synchronised: use
//! it from many threads at once.

use super::error::callback_outcome;
use super::error::tokenforge_error;
use super::handle::{arg, clone_arc, take_arc, take_box, to_arc, to_box, Castable, OwnershipBox};
use super::result::ResultArg;
use super::token::tokenforge_token;
use super::userdata::{tokenforge_free_userdata, UserData};
use super::{fallible, guarded, out_arg, str_arg, write_out};
use crate::error::{Error, Result, ResultCode};
use crate::storage::{MemoryStorage, TokenStorage};
use crate::text::CText;
use crate::token::Token;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

/// A place to keep tokens by key. Thread-safe. Owned by the caller; pipelines using it keep
/// their own reference.
pub struct tokenforge_storage {
    _private: [u8; 0],
}

impl Castable for tokenforge_storage {
    type Ownership = OwnershipBox;
    type Rust = Arc<dyn TokenStorage>;
}

/// An empty in-memory storage, owned by the caller. Thread-safe.
#[no_mangle]
pub extern "C" fn tokenforge_storage_new_memory() -> *mut tokenforge_storage {
    guarded!(ptr::null_mut(), {
        let storage: Arc<dyn TokenStorage> = Arc::new(MemoryStorage::new());
        to_box(storage)
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
        // SAFETY: the caller passes what the Safety section says.
        let s = unsafe { arg(s, "storage") }?;
        // SAFETY: the caller passes what the Safety section says.
        let t = unsafe { clone_arc(t) }.ok_or_else(|| Error::invalid_argument("token is NULL"))?;
        // SAFETY: the caller passes what the Safety section says.
        s.store(unsafe { str_arg(key, "key") }?, &t)
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
        // SAFETY: the caller passes what the Safety section says.
        let s = unsafe { arg(s, "storage") }?;
        // SAFETY: the caller passes what the Safety section says.
        let key = unsafe { str_arg(key, "key") }?;
        out_arg(out)?;
        let token = s.retrieve(key)?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, token.map_or(ptr::null_mut(), to_arc)) }
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
        // SAFETY: the caller passes what the Safety section says.
        let s = unsafe { arg(s, "storage") }?;
        // SAFETY: the caller passes what the Safety section says.
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
    // SAFETY: the caller passes what the Safety section says.
    guarded!((), { drop(unsafe { take_box(s) }) })
}

/// The callbacks of a storage written in C. Set `struct_size` to
/// `sizeof(tokenforge_storage_callbacks)`: later versions may add fields at the end, and the
/// library reads only what the caller's struct has. Every callback is required, receives the
/// `userdata` given to `tokenforge_storage_new_custom`, may run on several threads at once,
/// and returns `TOKENFORGE_RESULT_OK` or a failure, optionally with an error from
/// `tokenforge_error_new` in `*err` (the library takes it). Any failure, or a value that is
/// no result code, reaches the caller as `TOKENFORGE_RESULT_STORAGE` with the callback's
/// message.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tokenforge_storage_callbacks {
    /// `sizeof(tokenforge_storage_callbacks)` as the caller compiled it.
    pub struct_size: u32,
    /// Stores a copy of `t` (borrowed for the call) under `key` (borrowed), replacing any.
    pub store_token: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            key: *const c_char,
            t: *const tokenforge_token,
            err: *mut *mut tokenforge_error,
        ) -> ResultArg,
    >,
    /// Sets `*out` to a new token (the library takes it; e.g. from `tokenforge_token_new` or
    /// `tokenforge_token_clone`), or leaves it NULL when `key` is absent, and returns OK.
    pub retrieve_token: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            key: *const c_char,
            out: *mut *mut tokenforge_token,
            err: *mut *mut tokenforge_error,
        ) -> ResultArg,
    >,
    /// Deletes the token under `key`; an absent key is OK.
    pub delete_token: Option<
        unsafe extern "C" fn(userdata: *mut c_void, key: *const c_char, err: *mut *mut tokenforge_error) -> ResultArg,
    >,
}

/// A `TokenStorage` whose operations are C callbacks.
struct CallbackStorage {
    callbacks: tokenforge_storage_callbacks,
    data: Arc<UserData>,
}

impl CallbackStorage {
    /// Runs one callback with `key` as a C string; failures become `STORAGE`.
    fn call(
        &self,
        what: &str,
        key: &str,
        f: impl FnOnce(*const c_char, *mut *mut tokenforge_error) -> ResultArg,
    ) -> Result<()> {
        let key = CText::new(key).ok_or_else(|| Error::invalid_argument("key contains NUL"))?;
        let mut error: *mut tokenforge_error = ptr::null_mut();
        let rc = f(key.as_ptr(), &mut error);
        // SAFETY: the callback hands over the error it wrote (or NULL).
        match unsafe { callback_outcome(what, rc, error) } {
            None => Ok(()),
            Some(e) => Err(Error::storage(format!("{what} failed: {}", e.message())).with_cause(e.cause().cloned())),
        }
    }
}

impl TokenStorage for CallbackStorage {
    fn store(&self, key: &str, token: &Arc<Token>) -> Result<()> {
        let store = self.callbacks.store_token.expect("checked at construction");
        let t: *const tokenforge_token = Arc::as_ptr(token).cast();
        // SAFETY: store is the caller's callback for this userdata; key, t and e are live for
        // the call.
        self.call("store_token callback", key, |k, e| unsafe { store(self.data.ptr(), k, t, e) })
    }

    fn retrieve(&self, key: &str) -> Result<Option<Arc<Token>>> {
        let retrieve = self.callbacks.retrieve_token.expect("checked at construction");
        let mut out: *mut tokenforge_token = ptr::null_mut();
        // SAFETY: retrieve is the caller's callback for this userdata; key, out and e are live
        // for the call.
        let result =
            self.call("retrieve_token callback", key, |k, e| unsafe { retrieve(self.data.ptr(), k, &mut out, e) });
        // SAFETY: the callback hands over the token it wrote (or NULL).
        let token = unsafe { take_arc(out) };
        result.map(|()| token)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let delete = self.callbacks.delete_token.expect("checked at construction");
        // SAFETY: delete is the caller's callback for this userdata; key and e are live for the
        // call.
        self.call("delete_token callback", key, |k, e| unsafe { delete(self.data.ptr(), k, e) })
    }
}

/// Makes a storage of C callbacks (copied from `*callbacks`). The library owns `userdata`:
/// `free_userdata` (nullable) is called exactly once, when the last owner of the storage is
/// freed, or at once if this call fails. On success `*out` receives a storage the caller
/// owns. `INVALID_ARGUMENT` when `callbacks` or `out` is NULL, `struct_size` is too small, or
/// a callback is NULL. Thread-safe.
///
/// # Safety
/// `callbacks` is NULL or readable for `struct_size` bytes; the functions in it stay valid
/// while the storage lives; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_storage_new_custom(
    callbacks: *const tokenforge_storage_callbacks,
    userdata: *mut c_void,
    free_userdata: tokenforge_free_userdata,
    out: *mut *mut tokenforge_storage,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    let data = UserData::new(userdata, free_userdata);
    fallible!(err, {
        if callbacks.is_null() {
            return Err(Error::invalid_argument("callbacks is NULL"));
        }
        // SAFETY: the caller passes what the Safety section says.
        let size = unsafe { ptr::addr_of!((*callbacks).struct_size).read() } as usize;
        if size < std::mem::size_of::<tokenforge_storage_callbacks>() {
            return Err(Error::invalid_argument(format!(
                "callbacks.struct_size is {size}; set it to sizeof(tokenforge_storage_callbacks)"
            )));
        }
        // SAFETY: the caller passes what the Safety section says.
        let callbacks = unsafe { callbacks.read() };
        if callbacks.store_token.is_none() || callbacks.retrieve_token.is_none() || callbacks.delete_token.is_none() {
            return Err(Error::invalid_argument("store_token, retrieve_token and delete_token are all required"));
        }
        if out.is_null() {
            return Err(Error::invalid_argument("out-parameter is NULL"));
        }
        let storage: Arc<dyn TokenStorage> = Arc::new(CallbackStorage { callbacks, data });
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_box(storage)) }
    })
}
