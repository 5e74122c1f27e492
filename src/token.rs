//! `Token`: one obtained credential with its type, expiry, refresh token and any other fields
//! of the response. Every string is zeroed when the token is dropped and `Debug` redacts them.

use crate::error::{Error, Result};
use crate::text::CText;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// `expires_at_ms` value meaning "unknown" in the C API.
pub const NO_EXPIRY: i64 = -1;

/// Milliseconds since the Unix epoch, now. On Linux from the coarse real-time clock (a few
/// ms of resolution, a fraction of the cost), which is plenty for token lifetimes.
pub fn now_ms() -> i64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: ts is a valid, writable timespec; the clock id is a constant Linux knows.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        if rc == 0 {
            // time_t and c_long are i64 here, narrower on some other targets.
            #[allow(clippy::useless_conversion)]
            let (secs, nanos) = (i64::from(ts.tv_sec), i64::from(ts.tv_nsec));
            return secs.saturating_mul(1000) + nanos / 1_000_000;
        }
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// An access token and what came with it. Immutable once built.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    access_token: CText,
    token_type: CText,
    expires_at_ms: Option<i64>,
    /// When the token was obtained, when known: a token's lifetime runs from then to its
    /// expiry, wherever (and whenever) it is read later.
    issued_at_ms: Option<i64>,
    refresh_token: Option<CText>,
    authorization: CText,
    extras: Vec<(CText, CText)>,
}

/// Text that may go into an HTTP header: non-empty, no NUL, CR or LF.
fn header_safe(what: &str, value: &str) -> Result<CText> {
    if value.is_empty() {
        return Err(Error::response(format!("{what} is empty")));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::response(format!("{what} contains a line break or NUL")));
    }
    Ok(CText::new(value).expect("NUL checked"))
}

impl Token {
    /// A token of type `token_type` (`None` or empty: "Bearer"). Fails with `RESPONSE` when the
    /// access token or type is empty or holds CR, LF or NUL, which no header could carry.
    pub fn new(
        access_token: &str,
        token_type: Option<&str>,
        expires_at_ms: Option<i64>,
        refresh_token: Option<&str>,
    ) -> Result<Token> {
        let access_token = header_safe("access token", access_token)?;
        let token_type = match token_type.map(str::trim) {
            None | Some("") => "Bearer",
            Some(t) if t.eq_ignore_ascii_case("bearer") => "Bearer",
            Some(t) => t,
        };
        let token_type = header_safe("token type", token_type)?;
        let refresh_token = match refresh_token {
            None | Some("") => None,
            Some(r) => Some(CText::new(r).ok_or_else(|| Error::response("refresh token contains NUL"))?),
        };
        let authorization =
            CText::new(&format!("{} {}", token_type.as_str(), access_token.as_str())).expect("parts are NUL-free");
        Ok(Token {
            access_token,
            token_type,
            expires_at_ms,
            issued_at_ms: None,
            refresh_token,
            authorization,
            extras: Vec::new(),
        })
    }

    /// Adds (or replaces) an extra field. Values holding NUL are kept as JSON text.
    pub fn with_extra(mut self, name: &str, value: &serde_json::Value) -> Token {
        let Some(name) = CText::new(name) else { return self };
        let text = match value {
            serde_json::Value::String(s) => CText::new(s),
            _ => None,
        }
        .unwrap_or_else(|| CText::new(&value.to_string()).expect("JSON text escapes NUL"));
        self.extras.retain(|(n, _)| n != &name);
        self.extras.push((name, text));
        self
    }

    pub fn with_issued_at_ms(mut self, issued_at_ms: Option<i64>) -> Token {
        self.issued_at_ms = issued_at_ms;
        self
    }

    pub fn with_expires_at_ms(mut self, expires_at_ms: Option<i64>) -> Token {
        self.expires_at_ms = expires_at_ms;
        self
    }

    /// Applies a configured lifetime: with `Some(ttl)` the token expires `ttl` ms after
    /// `now_ms`, whatever the response said; `None` leaves it as it is.
    pub fn with_ttl(self, ttl_ms: Option<i64>, now_ms: i64) -> Token {
        match ttl_ms {
            Some(ttl) => self.with_expires_at_ms(Some(now_ms.saturating_add(ttl))),
            None => self,
        }
    }

    /// Replaces the refresh token (used when a refresh answer did not rotate it).
    pub fn with_refresh_token(mut self, refresh_token: Option<&CText>) -> Token {
        self.refresh_token = refresh_token.cloned();
        self
    }

    pub fn access_token(&self) -> &CText {
        &self.access_token
    }

    pub fn token_type(&self) -> &CText {
        &self.token_type
    }

    pub fn refresh_token(&self) -> Option<&CText> {
        self.refresh_token.as_ref()
    }

    /// The `scope` field of the response, when it was a string.
    pub fn scope(&self) -> Option<&CText> {
        self.extra("scope")
    }

    pub fn expires_at_ms(&self) -> Option<i64> {
        self.expires_at_ms
    }

    /// When the token was obtained from a server, when known.
    pub fn issued_at_ms(&self) -> Option<i64> {
        self.issued_at_ms
    }

    /// `"<type> <token>"`, the value of an `Authorization` header.
    pub fn authorization(&self) -> &CText {
        &self.authorization
    }

    /// Another field of the token response: strings as they are, other values as JSON text.
    pub fn extra(&self, name: &str) -> Option<&CText> {
        self.extras.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v)
    }

    /// The name of the `index`-th extra field, in the order they were added; None past the end.
    pub fn extra_name(&self, index: usize) -> Option<&CText> {
        self.extras.get(index).map(|(n, _)| n)
    }

    /// How many extra fields the token has.
    pub fn extra_count(&self) -> usize {
        self.extras.len()
    }

    pub fn extras(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extras.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// True when the expiry is known and less than `margin_ms` away (or past).
    pub fn is_expired(&self, margin_ms: i64) -> bool {
        self.is_expired_at(now_ms(), margin_ms)
    }

    pub fn is_expired_at(&self, now_ms: i64, margin_ms: i64) -> bool {
        match self.expires_at_ms {
            Some(at) => now_ms.saturating_add(margin_ms.max(0)) >= at,
            None => false,
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("extras", &self.extras.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_normalises_the_type() {
        let t = Token::new("abc", None, None, None).unwrap();
        assert_eq!(t.token_type().as_str(), "Bearer");
        assert_eq!(t.authorization().as_str(), "Bearer abc");
        let t = Token::new("abc", Some("bearer"), None, None).unwrap();
        assert_eq!(t.authorization().as_str(), "Bearer abc");
        let t = Token::new("abc", Some("MAC"), None, Some("")).unwrap();
        assert_eq!(t.authorization().as_str(), "MAC abc");
        assert!(t.refresh_token().is_none());
    }

    #[test]
    fn refuses_empty_and_header_breaking_tokens() {
        assert!(Token::new("", None, None, None).is_err());
        assert!(Token::new("a\r\nX: y", None, None, None).is_err());
        assert!(Token::new("a", Some("B\nC"), None, None).is_err());
        assert!(Token::new("a\0", None, None, None).is_err());
    }

    #[test]
    fn expiry_with_margin() {
        let t = Token::new("a", None, Some(1_000), None).unwrap();
        assert!(!t.is_expired_at(0, 500));
        assert!(t.is_expired_at(500, 500));
        assert!(t.is_expired_at(2_000, 0));
        let forever = Token::new("a", None, None, None).unwrap();
        assert!(!forever.is_expired_at(i64::MAX, i64::MAX));
    }

    #[test]
    fn extras_keep_strings_and_json() {
        let t = Token::new("a", None, None, None)
            .unwrap()
            .with_extra("scope", &json!("read write"))
            .with_extra("n", &json!({"x": [1, 2]}))
            .with_extra("nul", &json!("a\u{0}b"));
        assert_eq!(t.scope().unwrap().as_str(), "read write");
        assert_eq!(t.extra("n").unwrap().as_str(), r#"{"x":[1,2]}"#);
        assert_eq!(t.extra("nul").unwrap().as_str(), r#""a\u0000b""#);
        assert!(t.extra("missing").is_none());
        let names: Vec<&str> = (0..t.extra_count()).map(|i| t.extra_name(i).unwrap().as_str()).collect();
        assert_eq!(names, ["scope", "n", "nul"]);
        assert!(t.extra_name(3).is_none());
        // replacing a field moves it to the end, listed once
        let t = t.with_extra("scope", &json!("read"));
        let names: Vec<&str> = (0..t.extra_count()).map(|i| t.extra_name(i).unwrap().as_str()).collect();
        assert_eq!(names, ["n", "nul", "scope"]);
    }

    #[test]
    fn debug_redacts_secrets() {
        let t = Token::new("secret-access", None, None, Some("secret-refresh")).unwrap();
        let d = format!("{t:?}");
        assert!(!d.contains("secret"), "{d}");
    }
}
