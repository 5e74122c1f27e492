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
use crate::storage::{owner_id, FileStorage, Lease, Leases, MemoryStorage, RedisStorage, TokenStorage};
use crate::text::CText;
use crate::token::Token;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

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

/// A store in the directory `dir` (copied), shared by the processes of this machine: one file
/// per key, written atomically (temporary file, fsync, rename) with mode 0600. The directory
/// is created with mode 0700 when absent; an existing one that other users may use, or that
/// belongs to another user, is refused. Pipelines on it do cross-process single-flight with a
/// kernel lock (`flock`) that dies with its process. A truncated, corrupt or foreign file, or
/// one that others may read, is a `STORAGE` error from `tokenforge_storage_retrieve`; a
/// pipeline treats it as absent and reports it. On success `*out` receives a storage the
/// caller owns. Errors: `INVALID_ARGUMENT` (NULL, bad UTF-8, empty), `STORAGE` (naming the
/// directory and the reason). Thread-safe.
///
/// # Safety
/// `dir` is NULL or NUL-terminated; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_storage_new_file(
    dir: *const c_char,
    out: *mut *mut tokenforge_storage,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let dir = unsafe { str_arg(dir, "dir") }?;
        out_arg(out)?;
        let storage: Arc<dyn TokenStorage> = Arc::new(FileStorage::open(dir)?);
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_box(storage)) }
    })
}

/// A store in Redis, shared by a fleet: `redis://[user:password@]host:port[/db]`,
/// `rediss://` (TLS, verified against the system trust store) or `redis+unix:///path`
/// (copied). Keys expire with their token (PX; an entry with a refresh token lives as long as
/// the refresh token). Every call has a 250 ms timeout; after a failure Redis is left alone
/// for a second, and pipelines go on fetching by themselves meanwhile. Pipelines on it do
/// cross-process single-flight with a lease (`SET NX PX`, compare-and-delete) and wait for
/// the holder's write on a pub/sub channel. Only the URL is checked here: the connection is
/// made at first use. The password never appears in messages. On success `*out` receives a
/// storage the caller owns. Errors: `INVALID_ARGUMENT` (NULL, bad UTF-8, not a Redis URL).
/// Thread-safe.
///
/// # Safety
/// `url` is NULL or NUL-terminated; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_storage_new_redis(
    url: *const c_char,
    out: *mut *mut tokenforge_storage,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let url = unsafe { str_arg(url, "url") }?;
        out_arg(out)?;
        let storage: Arc<dyn TokenStorage> = Arc::new(RedisStorage::open(url)?);
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_box(storage)) }
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
    /// Optional, with `release_lease` (both NULL, or a `struct_size` that ends before them:
    /// single-flight stays within each process). Cross-process single-flight: tries to take
    /// the lease on `key` (borrowed) for the holder `owner` (a unique string the library made,
    /// borrowed) for `ttl_ms`, and sets `*acquired`: true when taken, false when another
    /// holder has it. The lease must end by itself after `ttl_ms` (or when its process dies),
    /// so that a crashed holder is taken over.
    pub acquire_lease: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            key: *const c_char,
            owner: *const c_char,
            ttl_ms: i64,
            acquired: *mut bool,
            err: *mut *mut tokenforge_error,
        ) -> ResultArg,
    >,
    /// Releases the lease on `key` if `owner` still holds it (compare-and-delete); OK when it
    /// does not.
    pub release_lease: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            key: *const c_char,
            owner: *const c_char,
            err: *mut *mut tokenforge_error,
        ) -> ResultArg,
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

    fn leases(&self) -> Option<&dyn Leases> {
        (self.callbacks.acquire_lease.is_some() && self.callbacks.release_lease.is_some()).then_some(self)
    }
}

impl Leases for CallbackStorage {
    fn try_lease(&self, key: &str, ttl: Duration) -> Result<Option<Lease>> {
        let acquire = self.callbacks.acquire_lease.expect("leases() checked it");
        let owner = owner_id();
        let owner_c = CText::lossy(&owner);
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let mut acquired = false;
        // SAFETY: acquire is the caller's callback for this userdata; key, owner, acquired and
        // e are live for the call.
        self.call("acquire_lease callback", key, |k, e| unsafe {
            acquire(self.data.ptr(), k, owner_c.as_ptr(), ttl_ms, &mut acquired, e)
        })?;
        Ok(acquired.then(|| Lease { key: key.to_string(), owner, hold: None }))
    }

    fn release(&self, lease: Lease) -> Result<()> {
        let release = self.callbacks.release_lease.expect("leases() checked it");
        let owner = CText::lossy(&lease.owner);
        // SAFETY: release is the caller's callback for this userdata; key, owner and e are live
        // for the call.
        self.call("release_lease callback", &lease.key, |k, e| unsafe {
            release(self.data.ptr(), k, owner.as_ptr(), e)
        })
    }
}

/// Makes a storage of C callbacks (copied from `*callbacks`, as far as `struct_size` says:
/// a struct from an older header, without the lease callbacks, is fine). The library owns
/// `userdata`: `free_userdata` (nullable) is called exactly once, when the last owner of the
/// storage is freed, or at once if this call fails. On success `*out` receives a storage the
/// caller owns. `INVALID_ARGUMENT` when `callbacks` or `out` is NULL, `struct_size` is too
/// small to hold the three required callbacks, one of them is NULL, or only one of the two
/// lease callbacks is set. Thread-safe.
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
        let required = std::mem::offset_of!(tokenforge_storage_callbacks, acquire_lease);
        if size < required {
            return Err(Error::invalid_argument(format!(
                "callbacks.struct_size is {size}; set it to sizeof(tokenforge_storage_callbacks)"
            )));
        }
        let mut copy = tokenforge_storage_callbacks {
            struct_size: 0,
            store_token: None,
            retrieve_token: None,
            delete_token: None,
            acquire_lease: None,
            release_lease: None,
        };
        let known = size.min(std::mem::size_of::<tokenforge_storage_callbacks>());
        // SAFETY: the caller's struct is readable for struct_size bytes (Safety section), of
        // which `known` are copied into a struct of the same layout; every field is a plain
        // integer or a nullable function pointer, valid for any bytes the caller wrote.
        unsafe { ptr::copy_nonoverlapping(callbacks.cast::<u8>(), ptr::from_mut(&mut copy).cast::<u8>(), known) };
        let callbacks = copy;
        if callbacks.store_token.is_none() || callbacks.retrieve_token.is_none() || callbacks.delete_token.is_none() {
            return Err(Error::invalid_argument("store_token, retrieve_token and delete_token are all required"));
        }
        if callbacks.acquire_lease.is_some() != callbacks.release_lease.is_some() {
            return Err(Error::invalid_argument("acquire_lease and release_lease go together"));
        }
        if out.is_null() {
            return Err(Error::invalid_argument("out-parameter is NULL"));
        }
        let storage: Arc<dyn TokenStorage> = Arc::new(CallbackStorage { callbacks, data });
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_box(storage)) }
    })
}
