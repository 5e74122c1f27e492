//! C callbacks: the userdata they carry, the request object a request hook edits, and the
//! hook setters of the fetcher builder.
//!
//! Once a function receives a `userdata` with its `free_userdata`, the library owns it:
//! `free_userdata` (when not NULL) is called exactly once, when the last owner is freed, or
//! at once when the call that received it fails. Hooks run synchronously on the thread that
//! called fetch, possibly on several threads at once for one fetcher, so userdata must be
//! safe to use from several threads (or the caller must fetch from one thread only).

use super::context::tokenforge_context;
use super::error::tokenforge_error;
use super::fetcher::tokenforge_fetcher_builder;
use super::result::ResultArg;
use super::{arg, arg_mut, fallible, guarded, opt_str_arg, str_arg, Castable};
use crate::context::Context;
use crate::error::{Error, Result, ResultCode};
use crate::http::Request;
use crate::text::CText;
use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

/// Frees a userdata; may be NULL.
pub type tokenforge_free_userdata = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// A `userdata` pointer and its destructor, called once when the last owner drops it.
pub(crate) struct UserData {
    ptr: *mut c_void,
    free: tokenforge_free_userdata,
}

// The C caller promises (see the module docs) that userdata may be used from the threads that
// run its hooks.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: tokenforge_free_userdata) -> Arc<UserData> {
        Arc::new(UserData { ptr, free })
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            unsafe { free(self.ptr) };
        }
    }
}

/// The error a callback's result code amounts to: `None` for OK. A code that is no
/// `tokenforge_result` is a `CALLBACK` error, as is any failure without an error object.
/// With an error object, its message (and fields) are kept, under the returned code.
///
/// # Safety
/// `err` is NULL or an error the callback handed over (made by `tokenforge_error_new` or
/// received from the library).
pub(crate) unsafe fn callback_outcome(what: &str, rc: ResultArg, err: *mut tokenforge_error) -> Option<Error> {
    let given = unsafe { super::take(err) };
    match rc.code() {
        Some(ResultCode::Ok) => None,
        Some(code) => Some(match given {
            Some(e) if e.code() == code => e,
            Some(e) => Error::new(code, e.message()),
            None => Error::new(code, format!("{what} failed with {}", code.name())),
        }),
        None => Some(Error::new(ResultCode::Callback, format!("{what} returned {}, which is no result code", rc.0))),
    }
}

/// The context pointer a callback receives: NULL when the fetch had none.
pub(crate) fn context_ptr(context: Option<&Context>) -> *const tokenforge_context {
    context.map_or(ptr::null(), |c| ptr::from_ref(c).cast())
}

/// The request a request hook may read and change. Valid only during the hook call; strings
/// it returns stay valid until the hook returns.
pub struct tokenforge_request {
    _private: [u8; 0],
}

/// A request being edited, and the C strings handed out while the hook runs.
pub(crate) struct RequestView<'a> {
    request: &'a mut Request,
    handed_out: RefCell<Vec<CText>>,
}

impl Castable for tokenforge_request {
    type Rust = RequestView<'static>;
}

impl RequestView<'_> {
    /// Keeps a C copy of `s` alive until the hook returns.
    fn hand_out(&self, s: &str) -> *const c_char {
        let text = CText::lossy(s);
        let p = text.as_ptr();
        self.handed_out.borrow_mut().push(text);
        p
    }
}

/// Called after the options and templates are applied, before the request is sent, with the
/// context (NULL when the fetch had none) and the request to read and change. Return
/// `TOKENFORGE_RESULT_OK` to send it; anything else aborts the fetch with
/// `TOKENFORGE_RESULT_CALLBACK` and nothing is sent. `ctx` and `req` are borrowed for the call.
///
/// Hooks run synchronously on the fetching thread with no library lock held, possibly on
/// several threads at once for one fetcher. A hook may call any tokenforge function (a fetch
/// with the same fetcher included; asking its own pipeline for the step being fetched gives
/// `TOKENFORGE_RESULT_CONFIG` at once, never a deadlock); it must not free or keep its
/// arguments, free the fetcher running it, or leave by longjmp or a C++ exception.
pub type tokenforge_request_hook = Option<
    unsafe extern "C" fn(userdata: *mut c_void, ctx: *const tokenforge_context, req: *mut tokenforge_request) -> ResultArg,
>;

/// Called once for every failed fetch with the error and the context (NULL when none), both
/// borrowed for the call. Must not free them.
pub type tokenforge_error_hook =
    Option<unsafe extern "C" fn(userdata: *mut c_void, error: *const tokenforge_error, ctx: *const tokenforge_context)>;

/// Sets the request hook of a body, header or client_credentials builder, replacing any
/// earlier one (whose `free_userdata` is then called). The library owns `userdata` from now
/// on: `free_userdata` (nullable) is called exactly once, when the last owner (builder or
/// fetcher) is freed, or at once if this call fails. `INVALID_ARGUMENT` when `b` or `hook` is
/// NULL. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `hook` and `free_userdata` are NULL or valid functions.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_request_hook(
    b: *mut tokenforge_fetcher_builder,
    hook: tokenforge_request_hook,
    userdata: *mut c_void,
    free_userdata: tokenforge_free_userdata,
) -> ResultCode {
    let data = UserData::new(userdata, free_userdata);
    fallible!(ptr::null_mut(), {
        let b = unsafe { arg_mut(b, "builder") }?;
        let hook = hook.ok_or_else(|| Error::invalid_argument("hook is NULL"))?;
        b.request_hook(Arc::new(move |context: Option<&Context>, request: &mut Request| {
            let mut view = RequestView { request, handed_out: RefCell::new(Vec::new()) };
            let req: *mut tokenforge_request = ptr::from_mut(&mut view).cast();
            let rc = unsafe { hook(data.ptr(), context_ptr(context), req) };
            match unsafe { callback_outcome("request hook", rc, ptr::null_mut()) } {
                None => Ok(()),
                Some(e) => Err(Error::new(
                    ResultCode::Callback,
                    format!("request hook returned {}; the request was not sent", e.code().name()),
                )),
            }
        }));
        Ok(())
    })
}

/// Sets the error hook of a builder, replacing any earlier one. Ownership of `userdata` as
/// for `tokenforge_fetcher_builder_set_request_hook`. `INVALID_ARGUMENT` when `b` or `hook`
/// is NULL. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `hook` and `free_userdata` are NULL or valid functions.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_error_hook(
    b: *mut tokenforge_fetcher_builder,
    hook: tokenforge_error_hook,
    userdata: *mut c_void,
    free_userdata: tokenforge_free_userdata,
) -> ResultCode {
    let data = UserData::new(userdata, free_userdata);
    fallible!(ptr::null_mut(), {
        let b = unsafe { arg_mut(b, "builder") }?;
        let hook = hook.ok_or_else(|| Error::invalid_argument("hook is NULL"))?;
        b.error_hook(Arc::new(move |error: &Error, context: Option<&Context>| unsafe {
            hook(data.ptr(), ptr::from_ref(error).cast(), context_ptr(context))
        }));
        Ok(())
    })
}

/// Runs one edit of the request a hook holds.
unsafe fn edit(r: *mut tokenforge_request, apply: impl FnOnce(&mut Request) -> Result<()>) -> ResultCode {
    fallible!(ptr::null_mut(), { apply(unsafe { arg_mut(r, "request") }?.request) })
}

/// Sets (or replaces, matching the name case-insensitively) a request header. Copies both.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8, a name that is not an HTTP token, or CR, LF or NUL
/// in the value. Only during the hook call.
///
/// # Safety
/// `r` is the request passed to the running hook; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_set_header(r: *mut tokenforge_request, name: *const c_char, value: *const c_char) -> ResultCode {
    unsafe { edit(r, |q| q.set_header(str_arg(name, "name")?, str_arg(value, "value")?)) }
}

/// Removes a request header (any case); absent is OK. `INVALID_ARGUMENT` for NULL or bad
/// UTF-8. Only during the hook call.
///
/// # Safety
/// `r` is the request passed to the running hook; `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_remove_header(r: *mut tokenforge_request, name: *const c_char) -> ResultCode {
    unsafe {
        edit(r, |q| {
            q.remove_header(str_arg(name, "name")?);
            Ok(())
        })
    }
}

/// Sets (or replaces) a data field (body, or query string with GET). Copies both.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8 or an empty key. Only during the hook call.
///
/// # Safety
/// `r` is the request passed to the running hook; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_set_data(r: *mut tokenforge_request, key: *const c_char, value: *const c_char) -> ResultCode {
    unsafe { edit(r, |q| q.set_data(str_arg(key, "key")?, str_arg(value, "value")?)) }
}

/// Removes a data field; absent is OK. `INVALID_ARGUMENT` for NULL or bad UTF-8. Only during
/// the hook call.
///
/// # Safety
/// `r` is the request passed to the running hook; `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_remove_data(r: *mut tokenforge_request, key: *const c_char) -> ResultCode {
    unsafe {
        edit(r, |q| {
            q.remove_data(str_arg(key, "key")?);
            Ok(())
        })
    }
}

/// Sets (or replaces) a query parameter. Copies both. `INVALID_ARGUMENT` for NULL, bad UTF-8
/// or an empty key. Only during the hook call.
///
/// # Safety
/// `r` is the request passed to the running hook; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_set_query(r: *mut tokenforge_request, key: *const c_char, value: *const c_char) -> ResultCode {
    unsafe { edit(r, |q| q.set_query(str_arg(key, "key")?, str_arg(value, "value")?)) }
}

/// Sends `len` bytes at `body` (copied) as the request body instead of the encoded data, with
/// the given Content-Type (NULL: "application/octet-stream"). `INVALID_ARGUMENT` when `body`
/// is NULL with `len` > 0, or the content type is bad UTF-8 or holds CR or LF. Only during the
/// hook call.
///
/// # Safety
/// `r` is the request passed to the running hook; `body` is NULL or `len` readable bytes;
/// `content_type` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_set_body(
    r: *mut tokenforge_request,
    body: *const u8,
    len: usize,
    content_type: *const c_char,
) -> ResultCode {
    unsafe {
        edit(r, |q| {
            let bytes = match (body.is_null(), len) {
                (_, 0) => &[][..],
                (true, _) => return Err(Error::invalid_argument("body is NULL")),
                (false, n) => std::slice::from_raw_parts(body, n),
            };
            q.set_body(bytes, opt_str_arg(content_type, "content_type")?)
        })
    }
}

/// The request's method, "GET" or "POST" (static); NULL when `r` is NULL.
///
/// # Safety
/// `r` is NULL or the request passed to the running hook.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_method(r: *const tokenforge_request) -> *const c_char {
    guarded!(ptr::null(), {
        unsafe { super::borrow(r) }.map_or(ptr::null(), |v| match v.request.method {
            crate::http::Method::Get => c"GET".as_ptr(),
            crate::http::Method::Post => c"POST".as_ptr(),
        })
    })
}

/// The URL the request goes to, without the query parameters (see
/// `tokenforge_request_set_query`); valid until the hook returns. NULL when `r` is NULL.
///
/// # Safety
/// `r` is NULL or the request passed to the running hook.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_url(r: *const tokenforge_request) -> *const c_char {
    guarded!(ptr::null(), { unsafe { super::borrow(r) }.map_or(ptr::null(), |v| v.hand_out(&v.request.url)) })
}

/// The value of a request header (any case), valid until the hook returns; NULL when absent,
/// or an argument is NULL or not UTF-8.
///
/// # Safety
/// `r` is NULL or the request passed to the running hook; `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_header(r: *const tokenforge_request, name: *const c_char) -> *const c_char {
    guarded!(ptr::null(), {
        let view = unsafe { arg(r, "request") }.ok();
        let name = unsafe { str_arg(name, "name") }.ok();
        view.zip(name)
            .and_then(|(v, n)| v.request.header(n).map(|value| v.hand_out(value)))
            .unwrap_or(ptr::null())
    })
}
