//! A token endpoint's answer, any status and body: a token or a clean error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenforge::extract::{token_from_answer, BodyFields, TokenSource};
use tokenforge::http::Response;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let status = [200u16, 201, 204, 302, 400, 401, 429, 500, 503][usize::from(first) % 9];
    let mut headers = http::HeaderMap::new();
    if first & 0x10 != 0 {
        headers.insert("retry-after", http::HeaderValue::from_static("3"));
    }
    let response = Response { status, headers, body: body.to_vec() };
    let fields = if first & 0x20 != 0 {
        BodyFields { token: "data.auth.token".into(), expires_in: "data.auth.ttl".into(), ..BodyFields::default() }
    } else {
        BodyFields::default()
    };
    if let Ok(t) = token_from_answer(&response, &TokenSource::Body(fields), None, 1_000, "fuzz") {
        assert!(!t.access_token().as_str().is_empty());
    }
});
