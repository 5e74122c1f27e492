//! OAuth2: the form fields of each grant, and client authentication. Requests are built and
//! sent by a step's fetcher (DESIGN.md, "one road"); this module only says what goes in them.

mod client_auth;
pub mod discovery;
pub mod jwt;

pub use client_auth::{Client, ClientAuth, ClientAuthMethod};

use crate::error::{Error, Result};
use crate::fetcher::FetcherBuilder;
use crate::text::CText;
use crate::token::Token;

/// Form fields every grant owns: a request's own fields of these names are replaced.
pub(crate) const GRANT_FIELDS: [&str; 5] = ["grant_type", "scope", "client_id", "client_secret", "assertion"];

/// `grant_type=client_credentials` and the scope, when there is one.
pub(crate) fn client_credentials_form(scope: Option<&str>) -> Vec<(String, String)> {
    let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
    if let Some(scope) = scope {
        form.push(("scope".into(), scope.to_string()));
    }
    form
}

/// `grant_type=refresh_token` with the refresh token (RFC 6749 section 6).
pub(crate) fn refresh_form(refresh_token: &str) -> Vec<(String, String)> {
    vec![
        ("grant_type".to_string(), "refresh_token".to_string()),
        ("refresh_token".to_string(), refresh_token.to_string()),
    ]
}

/// POSTs `grant_type=refresh_token` to `token_url` (apiconfig's `refresh_oauth2_token`). With
/// a `client_secret` the client authenticates by HTTP Basic; without, it is a public client
/// and `client_id` goes in the body. The request is sent as a pipeline step's refresh is:
/// connect failures, 408, 429 and 5xx are retried (3 attempts) with backoff, honouring
/// Retry-After; a request that may have reached the server (timeout or I/O error after
/// sending) is not, since the server may already have rotated the refresh token. When the
/// answer carries no new refresh token, the returned token keeps the old one. `timeout_ms` 0
/// means the default 30 s.
pub fn refresh(
    token_url: &str,
    refresh_token: &str,
    client_id: &str,
    client_secret: Option<&str>,
    timeout_ms: u64,
) -> Result<Token> {
    if refresh_token.is_empty() {
        return Err(Error::invalid_argument("refresh token must not be empty"));
    }
    let refresh_token =
        CText::new(refresh_token).ok_or_else(|| Error::invalid_argument("refresh token contains NUL"))?;
    let mut b = FetcherBuilder::body("refresh", token_url, "");
    b.refresh_endpoint(Some(token_url), Some(client_id), client_secret)?;
    if timeout_ms > 0 {
        b.timeout_ms(timeout_ms)?;
    }
    let fetcher = b.build_http()?;
    fetcher.refresh(None, None, &refresh_token, None, None).expect("a refresh endpoint is set")
}
