//! `tokenforge_oauth2_refresh` (apiconfig's refresh_oauth2_token).

use super::error::tokenforge_error;
use super::handle::to_arc;
use super::token::tokenforge_token;
use super::{fallible, opt_str_arg, out_arg, str_arg, write_out};
use crate::error::ResultCode;
use std::ffi::c_char;

/// POSTs `grant_type=refresh_token` to `token_url` and returns the new token with its expiry
/// computed. With `client_secret` the client authenticates by HTTP Basic; with NULL it is a
/// public client and `client_id` goes in the body. Connect failures, 408, 429 and 5xx are
/// retried (3 attempts) with backoff and jitter, honouring Retry-After; a request that may
/// have reached the server (timeout or I/O error after sending) is not retried, since the
/// server may have rotated the refresh token. If the answer carries no new refresh token the
/// result keeps `refresh_token`. `timeout_ms` is the total deadline (0: 30000). All strings
/// are copied. On success `*out` receives a token the caller owns. Errors:
/// `INVALID_ARGUMENT` (NULL, bad UTF-8, bad URL, empty refresh token or client id),
/// `TRANSPORT`, `TIMEOUT`, `HTTP_STATUS`, `OAUTH` (e.g. "invalid_grant"), `RESPONSE`.
/// Thread-safe; blocks for at most the deadline.
///
/// # Safety
/// Strings are NULL or NUL-terminated; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_oauth2_refresh(
    token_url: *const c_char,
    refresh_token: *const c_char,
    client_id: *const c_char,
    client_secret: *const c_char,
    timeout_ms: u64,
    out: *mut *mut tokenforge_token,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let token_url = unsafe { str_arg(token_url, "token_url") }?;
        // SAFETY: the caller passes what the Safety section says.
        let refresh_token = unsafe { str_arg(refresh_token, "refresh_token") }?;
        // SAFETY: the caller passes what the Safety section says.
        let client_id = unsafe { str_arg(client_id, "client_id") }?;
        // SAFETY: the caller passes what the Safety section says.
        let client_secret = unsafe { opt_str_arg(client_secret, "client_secret") }?;
        out_arg(out)?;
        let token = crate::oauth2::refresh(token_url, refresh_token, client_id, client_secret, timeout_ms)?;
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_arc::<tokenforge_token>(std::sync::Arc::new(token))) }
    })
}
