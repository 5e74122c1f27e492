//! Reading tokens out of responses: JSON paths, lenient `expires_in`, header tokens, and the
//! classification of an answer as OAuth error, HTTP error or token.

use crate::error::{Error, Result};
use crate::http::Response;
use crate::token::Token;
use serde_json::{Map, Value};

/// Which fields of a JSON body hold what (BodyTokenFetcher's `*_field` options).
#[derive(Clone, Debug)]
pub struct BodyFields {
    pub token: String,
    pub token_type: String,
    pub expires_in: String,
    pub refresh_token: String,
    pub default_token_type: String,
}

impl Default for BodyFields {
    fn default() -> BodyFields {
        BodyFields {
            token: "access_token".into(),
            token_type: "token_type".into(),
            expires_in: "expires_in".into(),
            refresh_token: "refresh_token".into(),
            default_token_type: "Bearer".into(),
        }
    }
}

/// Where the token is found in a successful answer.
#[derive(Clone, Debug)]
pub enum TokenSource {
    Body(BodyFields),
    /// `header` is matched case-insensitively; a value starting with `token_type` and a space
    /// is stored without that prefix.
    Header {
        header: String,
        token_type: String,
    },
}

/// The value at `path`: an exact top-level key first, otherwise a dotted path into nested
/// objects ("data.auth.token").
pub fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = object.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = object.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// Lifetime in milliseconds from an `expires_in` value: an integer, a float or a numeric
/// string. `null`, absent, non-numeric and non-positive values mean unknown (as
/// golang.org/x/oauth2 treats 0).
pub fn expires_in_ms(value: Option<&Value>) -> Option<i64> {
    let seconds = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    Some((seconds * 1000.0).min(i64::MAX as f64 / 2.0) as i64)
}

/// The body parsed as a JSON object, or why it is not one.
fn json_object(body: &[u8]) -> Result<Map<String, Value>> {
    // A UTF-8 byte order mark before the JSON is skipped (some servers send one).
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::response("response body is empty"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::response(format!("response body is JSON {}, not an object", json_kind(&other)))),
        // serde_json's message names the position only, never the content.
        Err(e) => Err(Error::response(format!(
            "response body is not valid JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An RFC 6749 section 5.2 error in the body (an object with a string `error`), whatever the
/// status.
fn oauth_error(status: u16, object: &Map<String, Value>) -> Option<Error> {
    let error = object.get("error")?.as_str()?;
    let description = object.get("error_description").and_then(Value::as_str);
    Some(Error::oauth(status, error, description))
}

/// Turns an answer into a token or the error it amounts to, following DESIGN.md: redirects and
/// other non-2xx statuses are `HTTP_STATUS` unless the body is an OAuth error, which is `OAUTH`
/// even with 200; a 2xx must carry the token. `ttl_ms` overrides the answer's lifetime.
#[cfg(test)]
pub fn token_from_response(
    response: &Response,
    source: &TokenSource,
    ttl_ms: Option<i64>,
    now_ms: i64,
) -> Result<Token> {
    token_from_answer(response, source, ttl_ms, now_ms, "token endpoint")
}

/// [`token_from_response`] whose messages name the endpoint as `endpoint` (such as
/// `POST http://127.0.0.1:8080/user/auth`: what the request went to, never a secret).
pub fn token_from_answer(
    response: &Response,
    source: &TokenSource,
    ttl_ms: Option<i64>,
    now_ms: i64,
    endpoint: &str,
) -> Result<Token> {
    let status = response.status;
    let object = json_object(&response.body);
    if let Ok(object) = &object {
        if let Some(e) = oauth_error(status, object) {
            return Err(e.with_retry_after_ms(response.retry_after_ms(now_ms)));
        }
    }
    if (300..400).contains(&status) {
        return Err(Error::http_status(
            status,
            format!("{endpoint} redirected (HTTP {status}); redirects are not followed"),
        ));
    }
    if !(200..300).contains(&status) {
        return Err(Error::http_status(status, format!("{endpoint} answered HTTP {status}"))
            .with_retry_after_ms(response.retry_after_ms(now_ms)));
    }
    let token = match source {
        TokenSource::Body(fields) => object.and_then(|o| body_token(o, fields, now_ms)),
        TokenSource::Header { header, token_type } => header_token(response, header, token_type).map(|mut token| {
            if let Ok(object) = object {
                for (k, v) in &object {
                    token = token.with_extra(k, v);
                }
            }
            token
        }),
    }
    .map_err(|e| e.with_status(status))?;
    Ok(token.with_ttl(ttl_ms, now_ms).with_issued_at_ms(Some(now_ms)))
}

fn body_token(object: Map<String, Value>, fields: &BodyFields, now_ms: i64) -> Result<Token> {
    let access = match lookup(&object, &fields.token) {
        None | Some(Value::Null) => {
            return Err(Error::response(format!("token field \"{}\" is absent from the response", fields.token)))
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(Error::response(format!("token field \"{}\" is empty", fields.token)))
        }
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(Error::response(format!(
                "token field \"{}\" is {}, not a string",
                fields.token,
                json_kind(other)
            )))
        }
    };
    let token_type = match lookup(&object, &fields.token_type).and_then(Value::as_str) {
        Some(t) if !t.trim().is_empty() => t,
        _ => fields.default_token_type.as_str(),
    };
    let expires_at = expires_in_ms(lookup(&object, &fields.expires_in)).map(|ms| now_ms.saturating_add(ms));
    let refresh = lookup(&object, &fields.refresh_token).and_then(Value::as_str);
    let consumed = [&fields.token, &fields.token_type, &fields.expires_in, &fields.refresh_token];
    let mut token = Token::new(access, Some(token_type), expires_at, refresh)?;
    for (k, v) in &object {
        if !consumed.contains(&k) {
            token = token.with_extra(k, v);
        }
    }
    Ok(token)
}

fn header_token(response: &Response, header: &str, token_type: &str) -> Result<Token> {
    let raw = response.header(header).ok_or_else(|| Error::response(format!("response has no \"{header}\" header")))?;
    let value =
        std::str::from_utf8(raw).map_err(|_| Error::response(format!("header \"{header}\" is not UTF-8")))?.trim();
    let value = strip_scheme(value, token_type);
    if value.is_empty() {
        return Err(Error::response(format!("header \"{header}\" is empty")));
    }
    Token::new(value, Some(token_type), None, None)
}

/// `value` without a leading `scheme` (any case) and the spaces after it; a value that is
/// only the scheme gives "".
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> &'a str {
    match value.get(..scheme.len()) {
        Some(p) if p.eq_ignore_ascii_case(scheme) => {
            let rest = &value[scheme.len()..];
            if rest.is_empty() {
                ""
            } else if rest.starts_with(' ') {
                rest.trim_start()
            } else {
                value
            }
        }
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ResultCode;
    use serde_json::json;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response::for_test(status, headers, body.as_bytes())
    }

    fn body_source() -> TokenSource {
        TokenSource::Body(BodyFields::default())
    }

    #[test]
    fn a_byte_order_mark_before_the_json_is_skipped() {
        let r = Response::for_test(200, &[], b"\xEF\xBB\xBF{\"access_token\":\"a\"}");
        let t = token_from_response(&r, &TokenSource::Body(BodyFields::default()), None, 0).unwrap();
        assert_eq!(t.access_token().as_str(), "a");
    }

    #[test]
    fn lookup_prefers_exact_key_then_path() {
        let v = json!({"a.b": 1, "a": {"b": 2, "c": {"d": 3}}});
        let m = v.as_object().unwrap();
        assert_eq!(lookup(m, "a.b"), Some(&json!(1)));
        assert_eq!(lookup(m, "a.c.d"), Some(&json!(3)));
        assert_eq!(lookup(m, "a.x"), None);
        assert_eq!(lookup(m, "a.b.c"), None);
    }

    #[test]
    fn expires_in_is_lenient() {
        assert_eq!(expires_in_ms(Some(&json!(60))), Some(60_000));
        assert_eq!(expires_in_ms(Some(&json!(1.5))), Some(1_500));
        assert_eq!(expires_in_ms(Some(&json!(" 30 "))), Some(30_000));
        assert_eq!(expires_in_ms(Some(&json!(null))), None);
        assert_eq!(expires_in_ms(Some(&json!("soon"))), None);
        assert_eq!(expires_in_ms(Some(&json!(0))), None);
        assert_eq!(expires_in_ms(Some(&json!(-5))), None);
        assert_eq!(expires_in_ms(Some(&json!(true))), None);
        assert_eq!(expires_in_ms(None), None);
        assert!(expires_in_ms(Some(&json!(1e300))).unwrap() > 0);
    }

    #[test]
    fn body_token_with_everything() {
        let r = response(
            200,
            &[],
            r#"{"access_token":"t","token_type":"mac","expires_in":"10","refresh_token":"r","scope":"a b","id":7}"#,
        );
        let t = token_from_response(&r, &body_source(), None, 1_000).unwrap();
        assert_eq!(t.access_token().as_str(), "t");
        assert_eq!(t.token_type().as_str(), "mac");
        assert_eq!(t.expires_at_ms(), Some(11_000));
        assert_eq!(t.refresh_token().unwrap().as_str(), "r");
        assert_eq!(t.scope().unwrap().as_str(), "a b");
        assert_eq!(t.extra("id").unwrap().as_str(), "7");
        assert!(t.extra("access_token").is_none());
    }

    #[test]
    fn ttl_overrides_and_null_type_defaults() {
        let r = response(200, &[], r#"{"access_token":"t","token_type":null,"expires_in":5}"#);
        let t = token_from_response(&r, &body_source(), Some(100), 0).unwrap();
        assert_eq!(t.expires_at_ms(), Some(100));
        assert_eq!(t.token_type().as_str(), "Bearer");
    }

    #[test]
    fn malformed_bodies_are_response_errors() {
        for body in [
            "",
            "  ",
            "not json",
            "[1,2]",
            "\"str\"",
            "{\"access_token\":",
            "{}",
            r#"{"access_token":null}"#,
            r#"{"access_token":""}"#,
            r#"{"access_token":5}"#,
            r#"{"access_token":"a\r\nb"}"#,
        ] {
            let e = token_from_response(&response(200, &[], body), &body_source(), None, 0).unwrap_err();
            assert_eq!(e.code(), ResultCode::Response, "{body}: {e}");
        }
    }

    #[test]
    fn oauth_error_wins_even_with_200() {
        let body = r#"{"error":"invalid_client","error_description":"bad secret"}"#;
        for status in [200, 400, 401] {
            let e = token_from_response(&response(status, &[], body), &body_source(), None, 0).unwrap_err();
            assert_eq!(e.code(), ResultCode::Oauth);
            assert_eq!(e.status(), status);
            assert_eq!(e.oauth_description().unwrap().as_str(), "bad secret");
        }
    }

    #[test]
    fn statuses_and_retry_after() {
        let e = token_from_response(&response(302, &[("Location", "/x")], ""), &body_source(), None, 0).unwrap_err();
        assert_eq!((e.code(), e.status()), (ResultCode::HttpStatus, 302));
        let e = token_from_response(&response(429, &[("Retry-After", "3")], "slow down"), &body_source(), None, 0)
            .unwrap_err();
        assert_eq!((e.code(), e.status(), e.retry_after_ms()), (ResultCode::HttpStatus, 429, Some(3000)));
        assert!(e.is_retryable());
        let e = token_from_response(&response(404, &[], "{}"), &body_source(), None, 0).unwrap_err();
        assert!(!e.is_retryable());
    }

    #[test]
    fn header_token_case_insensitive_and_prefix_stripped() {
        let source = TokenSource::Header { header: "x-auth-token".into(), token_type: "Bearer".into() };
        let r = response(200, &[("X-Auth-Token", "bearer abc")], r#"{"session":"s1"}"#);
        let t = token_from_response(&r, &source, Some(1000), 0).unwrap();
        assert_eq!(t.access_token().as_str(), "abc");
        assert_eq!(t.authorization().as_str(), "Bearer abc");
        assert_eq!(t.extra("session").unwrap().as_str(), "s1");
        assert_eq!(t.expires_at_ms(), Some(1000));
        let r = response(200, &[("X-Auth-Token", "Bearerish")], "");
        assert_eq!(token_from_response(&r, &source, None, 0).unwrap().access_token().as_str(), "Bearerish");
        for headers in [&[][..], &[("X-Auth-Token", "")][..], &[("X-Auth-Token", "Bearer ")][..]] {
            let e = token_from_response(&response(200, headers, ""), &source, None, 0).unwrap_err();
            assert_eq!(e.code(), ResultCode::Response);
        }
    }
}
