//! `tokenforge_request`: the token request a request hook reads and changes. It exists only
//! during the hook call, on the hook's thread; C never owns or frees it.

use super::context::context_ptr;
use super::context::tokenforge_context;
use super::error::tokenforge_error;
use super::handle::{arg, arg_mut, borrow, take_box, Castable, OwnershipRef};
use super::result::ResultArg;
use super::userdata::UserData;
use super::{fallible, guarded, opt_str_arg, str_arg};
use crate::context::Context;
use crate::error::{Error, Result, ResultCode};
use crate::hooks::RequestHook;
use crate::http::Request;
use crate::text::CText;
use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

/// The request a request hook may read and change. Valid only during the hook call; strings
/// it returns stay valid until the hook returns.
pub struct tokenforge_request {
    _private: [u8; 0],
}

/// (Internal.) A request being edited, the C strings handed out while the hook runs, and the failure the
/// hook reported, if it did.
pub struct RequestView<'a> {
    request: &'a mut Request,
    handed_out: RefCell<Vec<CText>>,
    failure: Option<Error>,
}

impl Castable for tokenforge_request {
    type Ownership = OwnershipRef;
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

/// Called before each request of a step is sent (its own grant, and in a pipeline its refresh
/// grant), after the options and templates are applied, with the context (NULL when the fetch
/// had none) and the request to read and change. Return `TOKENFORGE_RESULT_OK` to send it.
/// To refuse it with a code and message of your own, call `tokenforge_request_fail` (or
/// `tokenforge_request_fail_error`) and return that code: the fetch fails with them,
/// unchanged. Any other non-OK return aborts the fetch with `TOKENFORGE_RESULT_CALLBACK`.
/// Nothing is sent when the hook refuses. `ctx` and `req` are borrowed for the call.
///
/// Hooks run synchronously with no library lock held, on the fetching thread: the caller's,
/// or a library thread (a dependency fetched in parallel, a renewal in the background), and
/// possibly on several threads at once for one fetcher. A hook may call any tokenforge
/// function (a fetch with the same fetcher included; asking its own pipeline for the step
/// being fetched gives `TOKENFORGE_RESULT_CONFIG` at once, never a deadlock); it must not
/// free or keep its arguments, free the fetcher running it, or leave by longjmp or a C++
/// exception.
pub type tokenforge_request_hook = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        ctx: *const tokenforge_context,
        req: *mut tokenforge_request,
    ) -> ResultArg,
>;

/// The Rust request hook that calls the C one: the failure it reported, or for another
/// non-OK code a `CALLBACK` error saying so.
pub(crate) fn request_hook(
    hook: unsafe extern "C" fn(*mut c_void, *const tokenforge_context, *mut tokenforge_request) -> ResultArg,
    data: Arc<UserData>,
) -> RequestHook {
    Arc::new(move |context: Option<&Context>, request: &mut Request| {
        let mut view = RequestView { request, handed_out: RefCell::new(Vec::new()), failure: None };
        // Lent for the call: the view outlives it, and the hook may not keep the pointer.
        let req = ptr::from_mut(&mut view).cast::<tokenforge_request>();
        // SAFETY: hook is the caller's function for this userdata; ctx and req are live for
        // the call.
        let rc = unsafe { hook(data.ptr(), context_ptr(context), req) };
        match (view.failure, rc.code()) {
            (Some(e), _) => Err(e),
            (None, Some(ResultCode::Ok)) => Ok(()),
            (None, Some(code)) => Err(Error::new(
                ResultCode::Callback,
                format!("request hook returned {}; the request was not sent", code.name()),
            )),
            (None, None) => Err(Error::new(
                ResultCode::Callback,
                format!("request hook returned {}, which is no result code; the request was not sent", rc.0),
            )),
        }
    })
}

/// Runs one edit of the request a hook holds.
///
/// # Safety
/// `r` is NULL or the request passed to the running hook.
unsafe fn edit(r: *mut tokenforge_request, apply: impl FnOnce(&mut RequestView<'_>) -> Result<()>) -> ResultCode {
    // SAFETY: forwarded from the caller.
    fallible!(ptr::null_mut(), { apply(unsafe { arg_mut(r, "request") }?) })
}

/// Sets (or replaces, matching the name case-insensitively) a request header. Copies both.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8, a name that is not an HTTP token, or CR, LF or NUL
/// in the value. Only during the hook call, on its thread.
///
/// # Safety
/// `r` is the request passed to the running hook; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_set_header(
    r: *mut tokenforge_request,
    name: *const c_char,
    value: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { edit(r, |v| v.request.set_header(str_arg(name, "name")?, str_arg(value, "value")?)) }
}

/// Removes a request header (any case); absent is OK. `INVALID_ARGUMENT` for NULL or bad
/// UTF-8. Only during the hook call, on its thread.
///
/// # Safety
/// `r` is the request passed to the running hook; `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_remove_header(
    r: *mut tokenforge_request,
    name: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        edit(r, |v| {
            v.request.remove_header(str_arg(name, "name")?);
            Ok(())
        })
    }
}

/// Sets (or replaces) a data field (body, or query string with GET). Copies both.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8 or an empty key. Only during the hook call, on its
/// thread.
///
/// # Safety
/// `r` is the request passed to the running hook; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_set_data(
    r: *mut tokenforge_request,
    key: *const c_char,
    value: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { edit(r, |v| v.request.set_data(str_arg(key, "key")?, str_arg(value, "value")?)) }
}

/// Removes a data field; absent is OK. `INVALID_ARGUMENT` for NULL or bad UTF-8. Only during
/// the hook call, on its thread.
///
/// # Safety
/// `r` is the request passed to the running hook; `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_remove_data(r: *mut tokenforge_request, key: *const c_char) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        edit(r, |v| {
            v.request.remove_data(str_arg(key, "key")?);
            Ok(())
        })
    }
}

/// Sets (or replaces) a query parameter. Copies both. `INVALID_ARGUMENT` for NULL, bad UTF-8
/// or an empty key. Only during the hook call, on its thread.
///
/// # Safety
/// `r` is the request passed to the running hook; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_set_query(
    r: *mut tokenforge_request,
    key: *const c_char,
    value: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { edit(r, |v| v.request.set_query(str_arg(key, "key")?, str_arg(value, "value")?)) }
}

/// Sends `len` bytes at `body` (copied) as the request body instead of the encoded data, with
/// the given Content-Type (NULL: "application/octet-stream"). `INVALID_ARGUMENT` when `body`
/// is NULL with `len` > 0, or the content type is bad UTF-8 or holds CR or LF. Only during the
/// hook call, on its thread.
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
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        edit(r, |v| {
            let bytes = match (body.is_null(), len) {
                (_, 0) => &[][..],
                (true, _) => return Err(Error::invalid_argument("body is NULL")),
                (false, n) => std::slice::from_raw_parts(body, n),
            };
            v.request.set_body(bytes, opt_str_arg(content_type, "content_type")?)
        })
    }
}

/// Refuses the request with `code` and `message` (copied; NULL: a message naming the code):
/// the request is not sent, and the fetch fails with exactly this code and message (the
/// error's step field names the step). The hook should then return `code`; the failure
/// stands whatever it returns. A later call replaces an earlier one. `INVALID_ARGUMENT` when
/// `r` is NULL, `code` is OK or no result code, or `message` is not UTF-8. Only during the
/// hook call, on its thread.
///
/// # Safety
/// `r` is the request passed to the running hook; `message` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_fail(
    r: *mut tokenforge_request,
    code: ResultArg,
    message: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        edit(r, |v| {
            let code = code
                .code()
                .filter(|c| *c != ResultCode::Ok)
                .ok_or_else(|| Error::invalid_argument(format!("{} is no failure code", code.0)))?;
            let message = opt_str_arg(message, "message")?
                .map_or_else(|| format!("request hook failed with {}", code.name()), str::to_string);
            v.failure = Some(Error::new(code, message));
            Ok(())
        })
    }
}

/// Refuses the request with the error `e` (made by `tokenforge_error_new`, maybe with a cause
/// attached): as `tokenforge_request_fail` with its code and message, and the caller's error
/// carries `e`'s cause. Takes ownership of `e`, also when it fails. `INVALID_ARGUMENT` when
/// `r` or `e` is NULL. Only during the hook call, on its thread.
///
/// # Safety
/// `r` is the request passed to the running hook; `e` is NULL or an error the caller owns, not
/// used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_fail_error(
    r: *mut tokenforge_request,
    e: *mut tokenforge_error,
) -> ResultCode {
    // SAFETY: the caller hands over e as the Safety section says.
    let e = unsafe { take_box(e) };
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        edit(r, |v| {
            v.failure = Some(e.ok_or_else(|| Error::invalid_argument("error is NULL"))?);
            Ok(())
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
        // SAFETY: the caller passes what the Safety section says.
        unsafe { borrow(r) }.map_or(ptr::null(), |v| match v.request.method {
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
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null(), { unsafe { borrow(r) }.map_or(ptr::null(), |v| v.hand_out(&v.request.url)) })
}

/// The value of a request header (any case), valid until the hook returns; NULL when absent,
/// or an argument is NULL or not UTF-8.
///
/// # Safety
/// `r` is NULL or the request passed to the running hook; `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_header(r: *const tokenforge_request, name: *const c_char) -> *const c_char {
    guarded!(ptr::null(), {
        // SAFETY: the caller passes what the Safety section says.
        let (view, name) = unsafe { (arg(r, "request").ok(), str_arg(name, "name").ok()) };
        view.zip(name).and_then(|(v, n)| v.request.header(n).map(|value| v.hand_out(value))).unwrap_or(ptr::null())
    })
}

/// The value of a request data field (form or JSON body, or query string with GET), such as
/// "grant_type"; valid until the hook returns. NULL when absent, or an argument is NULL or
/// not UTF-8. A body set with `tokenforge_request_set_body` is not parsed.
///
/// # Safety
/// `r` is NULL or the request passed to the running hook; `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_request_data(r: *const tokenforge_request, key: *const c_char) -> *const c_char {
    guarded!(ptr::null(), {
        // SAFETY: the caller passes what the Safety section says.
        let (view, key) = unsafe { (arg(r, "request").ok(), str_arg(key, "key").ok()) };
        view.zip(key).and_then(|(v, k)| v.request.data(k).map(|value| v.hand_out(value))).unwrap_or(ptr::null())
    })
}
