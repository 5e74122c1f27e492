//! Errors: a kind that maps to one `tokenforge_result` code, a message that never holds a
//! secret, and the fields a caller needs to decide what to do next (HTTP status, step, the
//! RFC 6749 section 5.2 error fields, Retry-After and whether trying again may help).

use crate::text::CText;
use std::any::Any;
use std::ffi::CStr;
use std::fmt;
use std::sync::Arc;

/// Something a caller attached to an error (a wrapper's own error value, say) that travels
/// with it and with the errors derived from it, and is dropped with the last of them.
pub type Cause = Arc<dyn Any + Send + Sync>;

/// The result codes of the C API. The numbers are stable.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    Ok = 0,
    /// NULL, bad UTF-8, bad option value, unknown step.
    InvalidArgument = 1,
    /// Duplicate step, missing dependency, cycle, bad template, bad JSON config.
    Config = 2,
    /// DNS, connect, TLS, I/O, truncated response.
    Transport = 3,
    /// The request's deadline passed.
    Timeout = 4,
    /// A non-2xx status without an OAuth error body (redirects included).
    HttpStatus = 5,
    /// An RFC 6749 section 5.2 error response.
    Oauth = 6,
    /// Not JSON, token field or header missing or empty, body too large.
    Response = 7,
    /// A dependency step failed or is absent from the context.
    Dependency = 8,
    /// A user callback reported failure.
    Callback = 9,
    /// A storage backend failed.
    Storage = 10,
    /// TLS refused the connection: the server's certificate is not trusted (unknown issuer,
    /// another host name, expired), or the server refused the client certificate.
    Tls = 11,
    /// A Rust panic was caught at the C boundary.
    Panic = 99,
}

impl ResultCode {
    /// The code's name without prefix, e.g. `"TIMEOUT"`.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("ASCII names")
    }

    /// [`Self::name`] as a static C string.
    pub fn c_name(self) -> &'static CStr {
        match self {
            ResultCode::Ok => c"OK",
            ResultCode::InvalidArgument => c"INVALID_ARGUMENT",
            ResultCode::Config => c"CONFIG",
            ResultCode::Transport => c"TRANSPORT",
            ResultCode::Timeout => c"TIMEOUT",
            ResultCode::HttpStatus => c"HTTP_STATUS",
            ResultCode::Oauth => c"OAUTH",
            ResultCode::Response => c"RESPONSE",
            ResultCode::Dependency => c"DEPENDENCY",
            ResultCode::Callback => c"CALLBACK",
            ResultCode::Storage => c"STORAGE",
            ResultCode::Tls => c"TLS",
            ResultCode::Panic => c"PANIC",
        }
    }

    /// The code for a raw number, or `None` for a number that is no code.
    pub fn from_raw(raw: i64) -> Option<ResultCode> {
        use ResultCode::*;
        [
            Ok,
            InvalidArgument,
            Config,
            Transport,
            Timeout,
            HttpStatus,
            Oauth,
            Response,
            Dependency,
            Callback,
            Storage,
            Tls,
            Panic,
        ]
        .into_iter()
        .find(|c| *c as i64 == raw)
    }
}

/// A failure, with everything the caller may inspect. Messages are written by this crate and
/// never contain tokens, secrets or request bodies.
#[derive(Clone)]
pub struct Error {
    code: ResultCode,
    message: CText,
    http_status: u16,
    step: Option<CText>,
    /// The configuration field the error is about (`CONFIG` errors of the pipeline JSON).
    /// Boxed: rare, and the error stays small (it is the `Err` of every fallible call).
    field: Option<Box<CText>>,
    oauth_error: Option<CText>,
    oauth_description: Option<CText>,
    retry_after_ms: Option<i64>,
    retryable: bool,
    cause: Option<Cause>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: ResultCode, message: impl AsRef<str>) -> Error {
        Error {
            code,
            message: CText::lossy(message.as_ref()),
            http_status: 0,
            step: None,
            field: None,
            oauth_error: None,
            oauth_description: None,
            retry_after_ms: None,
            retryable: matches!(code, ResultCode::Transport | ResultCode::Timeout),
            cause: None,
        }
    }

    pub fn invalid_argument(message: impl AsRef<str>) -> Error {
        Error::new(ResultCode::InvalidArgument, message)
    }

    pub fn config(message: impl AsRef<str>) -> Error {
        Error::new(ResultCode::Config, message)
    }

    pub fn response(message: impl AsRef<str>) -> Error {
        Error::new(ResultCode::Response, message)
    }

    pub fn dependency(message: impl AsRef<str>) -> Error {
        Error::new(ResultCode::Dependency, message)
    }

    pub fn storage(message: impl AsRef<str>) -> Error {
        Error::new(ResultCode::Storage, message)
    }

    /// A non-2xx answer. 408, 429 and 5xx are worth retrying.
    pub fn http_status(status: u16, message: impl AsRef<str>) -> Error {
        let mut e = Error::new(ResultCode::HttpStatus, message);
        e.http_status = status;
        e.retryable = status_is_retryable(status);
        e
    }

    /// An RFC 6749 section 5.2 error response. On a 5xx answer it is `HTTP_STATUS` (and
    /// retryable) with the OAuth fields filled, since callers read `OAUTH` as "refused, do not
    /// retry" (DESIGN.md).
    pub fn oauth(status: u16, error: &str, description: Option<&str>) -> Error {
        let mut message = format!("endpoint answered OAuth error \"{error}\"");
        if let Some(d) = description {
            message.push_str(": ");
            message.push_str(d);
        }
        if status != 0 {
            message.push_str(&format!(" (HTTP {status})"));
        }
        let code = if status >= 500 { ResultCode::HttpStatus } else { ResultCode::Oauth };
        let mut e = Error::new(code, message);
        e.http_status = status;
        e.oauth_error = Some(CText::lossy(error));
        e.oauth_description = description.map(CText::lossy);
        e.retryable =
            status_is_retryable(status) || matches!(error, "temporarily_unavailable" | "server_error" | "slow_down");
        e
    }

    /// Attaches `cause`, replacing any earlier one.
    pub fn with_cause(mut self, cause: Option<Cause>) -> Error {
        self.cause = cause;
        self
    }

    /// What the caller attached, carried along by the errors derived from this one.
    pub fn cause(&self) -> Option<&Cause> {
        self.cause.as_ref()
    }

    /// Names the step (fetcher) the error belongs to, prefixing the message with it, unless
    /// the error already names one.
    pub fn with_step(mut self, step: &str) -> Error {
        if self.step.is_none() {
            self.message = CText::lossy(&format!("step \"{step}\": {}", self.message));
            self.step = Some(CText::lossy(step));
        }
        self
    }

    /// Names the step without touching the message (for errors a user callback made, whose
    /// message reaches the caller unchanged).
    pub fn with_step_field(mut self, step: &str) -> Error {
        if self.step.is_none() {
            self.step = Some(CText::lossy(step));
        }
        self
    }

    /// Names the configuration field the error is about (a pipeline JSON key such as
    /// `request_headers.X-Device-Token`), without touching the message.
    pub fn with_field(mut self, field: &str) -> Error {
        if self.field.is_none() && !field.is_empty() {
            self.field = Some(Box::new(CText::lossy(field)));
        }
        self
    }

    /// Records the HTTP status of the answer the error came from.
    pub fn with_status(mut self, status: u16) -> Error {
        self.http_status = status;
        self
    }

    pub fn with_retry_after_ms(mut self, ms: Option<i64>) -> Error {
        self.retry_after_ms = ms;
        self
    }

    pub fn with_retryable(mut self, retryable: bool) -> Error {
        self.retryable = retryable;
        self
    }

    pub fn code(&self) -> ResultCode {
        self.code
    }

    pub fn message(&self) -> &str {
        self.message.as_str()
    }

    pub fn message_text(&self) -> &CText {
        &self.message
    }

    /// The HTTP status of the answer that caused the error, 0 when there was none.
    pub fn status(&self) -> u16 {
        self.http_status
    }

    pub fn step(&self) -> Option<&CText> {
        self.step.as_ref()
    }

    pub fn field(&self) -> Option<&CText> {
        self.field.as_deref()
    }

    pub fn oauth_error(&self) -> Option<&CText> {
        self.oauth_error.as_ref()
    }

    pub fn oauth_description(&self) -> Option<&CText> {
        self.oauth_description.as_ref()
    }

    pub fn retry_after_ms(&self) -> Option<i64> {
        self.retry_after_ms
    }

    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// 408 Request Timeout, 429 Too Many Requests and every 5xx.
pub fn status_is_retryable(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code)
            .field("message", &self.message)
            .field("http_status", &self.http_status)
            .field("step", &self.step)
            .field("field", &self.field)
            .field("oauth_error", &self.oauth_error)
            .field("retry_after_ms", &self.retry_after_ms)
            .field("retryable", &self.retryable)
            .finish()
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.code == other.code
            && self.message == other.message
            && self.http_status == other.http_status
            && self.step == other.step
            && self.field == other.field
            && self.oauth_error == other.oauth_error
            && self.oauth_description == other.oauth_description
            && self.retry_after_ms == other.retry_after_ms
            && self.retryable == other.retryable
            && match (&self.cause, &other.cause) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for Error {}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_have_names() {
        for raw in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99] {
            let c = ResultCode::from_raw(raw).unwrap();
            assert_eq!(c as i64, raw);
            assert!(!c.name().is_empty());
        }
        assert_eq!(ResultCode::from_raw(12), None);
        assert_eq!(ResultCode::Timeout.name(), "TIMEOUT");
    }

    #[test]
    fn oauth_error_carries_fields_and_retryability() {
        let e = Error::oauth(400, "invalid_grant", Some("expired"));
        assert_eq!(e.code(), ResultCode::Oauth);
        assert_eq!(e.status(), 400);
        assert_eq!(e.oauth_error().unwrap().as_str(), "invalid_grant");
        assert!(!e.is_retryable());
        let e = Error::oauth(503, "temporarily_unavailable", None);
        assert!(e.is_retryable());
        assert_eq!(e.code(), ResultCode::HttpStatus, "a 5xx is HTTP_STATUS whatever its body");
        assert_eq!(e.oauth_error().unwrap().as_str(), "temporarily_unavailable");
    }

    #[test]
    fn step_is_set_once() {
        let e = Error::response("no token").with_step("a").with_step("b");
        assert_eq!(e.step().unwrap().as_str(), "a");
        assert!(e.message().starts_with("step \"a\""));
    }
}
