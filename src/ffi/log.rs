//! `tokenforge_set_log_callback`: the library's log lines for a program's own logging.

use super::userdata::{tokenforge_free_userdata, UserData};
use crate::error::{Error, ResultCode};
use crate::log::{self, LogLevel};
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

/// A log level as C passes it in: any 32-bit value, checked before use. Appears in the
/// header as `tokenforge_log_level`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct LogLevelArg(pub u32);

/// Receives one log line (NUL-terminated, no newline, borrowed for the call) at `level`.
/// Called synchronously on the thread where the event happened (a caller's, or a library
/// thread for parallel and background fetches), possibly from several threads at once; must
/// be quick and must not call into a pipeline.
pub type tokenforge_log_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: LogLevel, line: *const c_char)>;

/// Sends the library's log lines at `level` and more severe ones (one per pipeline event:
/// step, event, timings, HTTP status, attempt, error code and message; never a secret) to
/// `callback` instead of stderr, for programs with their own logging. Lines look like
/// `warn step=app_token event=retry attempt=2 wait_ms=200`. A NULL `callback` or
/// `TOKENFORGE_LOG_LEVEL_OFF` goes back to the `TOKENFORGE_LOG` environment variable
/// (`error`, `warn`, `info` or `debug`: lines to stderr; unset: none). Replacing or removing
/// a callback releases the previous `userdata` (its `free_userdata` is called once no call
/// uses it any more); `userdata` is owned by the library from this call on, also when the
/// call fails. Process-wide; thread-safe. Errors: `INVALID_ARGUMENT` for a level that is no
/// `tokenforge_log_level` (nothing changes).
///
/// # Safety
/// `callback` is NULL or a valid function; `free_userdata` is NULL or valid for `userdata`.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_set_log_callback(
    level: LogLevelArg,
    callback: tokenforge_log_callback,
    userdata: *mut c_void,
    free_userdata: tokenforge_free_userdata,
) -> ResultCode {
    let data = UserData::new(userdata, free_userdata);
    super::guarded!(ResultCode::Panic, {
        let Some(level) = LogLevel::from_raw(level.0) else {
            return Error::invalid_argument("log level is not a tokenforge_log_level").code();
        };
        let sink: Option<log::LogSink> = callback.map(|f| {
            Arc::new(move |level: LogLevel, line: &str| {
                let line = CString::new(line).unwrap_or_default();
                // SAFETY: f is the caller's function for this userdata; the line lives for the call.
                unsafe { f(data.ptr(), level, line.as_ptr()) }
            }) as log::LogSink
        });
        log::set_callback(level, sink);
        ResultCode::Ok
    })
}
