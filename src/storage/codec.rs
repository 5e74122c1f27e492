//! The stored form of a token, shared by the file and Redis stores: a JSON object with every
//! field of the token and until when the stored entry is worth keeping. The encoded bytes
//! hold secrets and are zeroed when dropped (as are the callers' read buffers).

use crate::error::{Error, Result};
use crate::extract::expires_in_ms;
use crate::token::Token;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// The marker and version of the format.
const FORMAT: &str = "tokenforge_token";
const VERSION: i64 = 1;
/// How long an entry that carries a refresh token is kept when the server did not say how
/// long the refresh token lives (`refresh_expires_in`): after a rotation the store holds the
/// fleet's only valid refresh token, so it must outlive the access token.
pub const REFRESH_ENTRY_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

/// Until when the stored entry of `token` is kept (Unix ms), `None` for ever: with a refresh
/// token, its lifetime (`refresh_expires_in`, else [`REFRESH_ENTRY_LIFETIME_MS`]); otherwise
/// the access token's expiry.
pub fn entry_expires_at_ms(token: &Token, now_ms: i64) -> Option<i64> {
    if token.refresh_token().is_some() {
        let lifetime = token
            .extra("refresh_expires_in")
            .and_then(|v| expires_in_ms(Some(&Value::String(v.as_str().to_string()))))
            .unwrap_or(REFRESH_ENTRY_LIFETIME_MS);
        return Some(now_ms.saturating_add(lifetime).max(token.expires_at_ms().unwrap_or(0)));
    }
    token.expires_at_ms()
}

/// The stored form of `token`, kept until `entry_expires_at_ms`.
pub fn encode(token: &Token, entry_expires_at_ms: Option<i64>) -> Zeroizing<Vec<u8>> {
    let extras: Vec<Value> = token.extras().map(|(k, v)| json!([k, v])).collect();
    let value = json!({
        "format": FORMAT,
        "version": VERSION,
        "access_token": token.access_token().as_str(),
        "token_type": token.token_type().as_str(),
        "expires_at_ms": token.expires_at_ms(),
        "issued_at_ms": token.issued_at_ms(),
        "refresh_token": token.refresh_token().map(|r| r.as_str()),
        "extras": extras,
        "entry_expires_at_ms": entry_expires_at_ms,
    });
    Zeroizing::new(value.to_string().into_bytes())
}

/// A token back from its stored form, with the entry's expiry. Anything else (truncated,
/// corrupt, another program's data, a later format) is `STORAGE`; the message never shows the
/// content.
pub fn decode(bytes: &[u8]) -> Result<(Token, Option<i64>)> {
    let bad = |why: &str| Error::storage(format!("not a tokenforge token entry ({why})"));
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| bad(&format!("{:?} JSON at column {}", e.classify(), e.column())))?;
    let object = value.as_object().ok_or_else(|| bad("not a JSON object"))?;
    if object.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(bad("no tokenforge_token marker"));
    }
    if object.get("version").and_then(Value::as_i64) != Some(VERSION) {
        return Err(bad("unknown version"));
    }
    let text = |field: &str| object.get(field).and_then(Value::as_str);
    let number = |field: &str| object.get(field).and_then(Value::as_i64);
    let access = text("access_token").ok_or_else(|| bad("no access_token"))?;
    let mut token = Token::new(access, text("token_type"), number("expires_at_ms"), text("refresh_token"))
        .map_err(|_| bad("bad access token or type"))?
        .with_issued_at_ms(number("issued_at_ms"));
    for pair in object.get("extras").and_then(Value::as_array).into_iter().flatten() {
        let (Some(k), Some(v)) = (pair.get(0).and_then(Value::as_str), pair.get(1)) else {
            return Err(bad("bad extra field"));
        };
        token = token.with_extra(k, v);
    }
    Ok((token, number("entry_expires_at_ms")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let t = Token::new("a", Some("MAC"), Some(5_000), Some("r"))
            .unwrap()
            .with_issued_at_ms(Some(1_000))
            .with_extra("scope", &json!("read"))
            .with_extra("n", &json!({"x": 1}));
        let (back, entry) = decode(&encode(&t, Some(9_000))).unwrap();
        assert_eq!(back, t);
        assert_eq!(entry, Some(9_000));
        for bad in
            [&b""[..], b"{\"format\":\"tokenforge_token\",\"version\":1", b"[1]", b"{\"format\":\"x\"}", b"\xff\xfe"]
        {
            let e = decode(bad).unwrap_err();
            assert_eq!(e.code(), crate::ResultCode::Storage);
        }
        let secret = br#"{"format":"tokenforge_token","version":1,"access_token":"s3cret\r\n"}"#;
        assert!(!decode(secret).unwrap_err().message().contains("s3cret"));
    }

    #[test]
    fn entries_with_refresh_tokens_outlive_the_access_token() {
        let plain = Token::new("a", None, Some(5_000), None).unwrap();
        assert_eq!(entry_expires_at_ms(&plain, 1_000), Some(5_000));
        let rt = Token::new("a", None, Some(5_000), Some("r")).unwrap();
        assert_eq!(entry_expires_at_ms(&rt, 1_000), Some(1_000 + REFRESH_ENTRY_LIFETIME_MS));
        let told = rt.with_extra("refresh_expires_in", &json!(1800));
        assert_eq!(entry_expires_at_ms(&told, 1_000), Some(1_000 + 1_800_000));
    }
}
