//! A token in a response header: any bytes as its value, and any body beside it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenforge::extract::{token_from_answer, TokenSource};
use tokenforge::http::Response;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (value, body) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let mut headers = http::HeaderMap::new();
    let Ok(value) = http::HeaderValue::from_bytes(value) else { return };
    headers.insert("x-auth-token", value);
    let response = Response { status: 200, headers, body: body.to_vec() };
    let source = TokenSource::Header { header: "X-Auth-Token".into(), token_type: "Bearer".into() };
    if let Ok(t) = token_from_answer(&response, &source, None, 0, "fuzz") {
        assert!(!t.access_token().as_str().is_empty());
        assert!(!t.authorization().as_str().contains(['\r', '\n']));
    }
});
