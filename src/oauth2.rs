//! OAuth2 refresh grant (apiconfig's `refresh_oauth2_token`).

use crate::error::{Error, Result};
use crate::extract::{self, BodyFields, TokenSource};
use crate::fetcher::basic_authorization;
use crate::http::{self, ContentType, Method, Policy, Request};
use crate::text::CText;
use crate::token::{now_ms, Token};
use std::time::Duration;

/// POSTs `grant_type=refresh_token` to `token_url`. With a `client_secret` the client
/// authenticates by HTTP Basic; without, it is a public client and `client_id` goes in the
/// body. Connect failures, 408, 429 and 5xx are retried with backoff, honouring Retry-After;
/// a request that may have reached the server (timeout or I/O error after sending) is not,
/// since the server may already have rotated the refresh token. When the answer carries no
/// new refresh token, the returned token keeps the old one. `timeout_ms` 0 means the default
/// 30 s.
pub fn refresh(
    token_url: &str,
    refresh_token: &str,
    client_id: &str,
    client_secret: Option<&str>,
    timeout_ms: u64,
) -> Result<Token> {
    refresh_observed(token_url, refresh_token, client_id, client_secret, timeout_ms, None)
}

/// [`refresh`], telling `on_retry` of each retry.
pub fn refresh_observed(
    token_url: &str,
    refresh_token: &str,
    client_id: &str,
    client_secret: Option<&str>,
    timeout_ms: u64,
    on_retry: Option<&http::OnRetry<'_>>,
) -> Result<Token> {
    http::check_url(token_url)?;
    if refresh_token.is_empty() {
        return Err(Error::invalid_argument("refresh token must not be empty"));
    }
    if client_id.is_empty() {
        return Err(Error::invalid_argument("client_id must not be empty"));
    }
    let mut request = Request {
        method: Method::Post,
        url: token_url.to_string(),
        headers: Vec::new(),
        data: vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.to_string()),
        ],
        query: Vec::new(),
        content_type: ContentType::Form,
        raw_body: None,
    };
    match client_secret {
        Some(secret) => request
            .headers
            .push(("Authorization".into(), basic_authorization(client_id, secret, true))),
        None => request.data.push(("client_id".into(), client_id.to_string())),
    }
    let policy = Policy {
        timeout: Duration::from_millis(if timeout_ms == 0 { http::DEFAULT_TIMEOUT_MS } else { timeout_ms }),
        retry_after_send: false,
        ..Policy::default()
    };
    let response = http::send(&request, &policy, on_retry)?;
    let source = TokenSource::Body(BodyFields::default());
    let token = extract::token_from_response(&response, &source, None, now_ms())?;
    if token.refresh_token().is_some() {
        return Ok(token);
    }
    let old = CText::new(refresh_token).ok_or_else(|| Error::invalid_argument("refresh token contains NUL"))?;
    Ok(token.with_refresh_token(Some(&old)))
}
