//! Authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0): a step configured
//! with an `issuer` instead of a token URL finds its token endpoint in the issuer's metadata.
//! The document is fetched through the step's fetcher (its TLS trust, deadline, retries and
//! request hook) once per issuer and process, checked (its `issuer` must be the one asked
//! for), and cached; a failed discovery is not cached, so the next fetch tries again.

use crate::error::{Error, Result};
use crate::http::{self, ContentType, Method, Request, Response};
use arc_swap::ArcSwapOption;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Issuer -> token endpoint. Copy-on-write (writes are once per issuer), lock-free to read and
/// to write, so a fork child never waits for a parent's thread.
static CACHE: ArcSwapOption<HashMap<String, String>> = ArcSwapOption::const_empty();

/// Where the metadata of `issuer` may be: the OpenID Connect location, then RFC 8414's
/// (`/.well-known/oauth-authorization-server` inserted before the issuer's path).
fn locations(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let mut out = vec![format!("{trimmed}/.well-known/openid-configuration")];
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        out.push(format!("{scheme}://{authority}/.well-known/oauth-authorization-server{path}"));
    }
    out
}

fn get(url: &str) -> Request {
    Request {
        method: Method::Get,
        url: url.to_string(),
        headers: Vec::new(),
        data: Vec::new(),
        query: Vec::new(),
        content_type: ContentType::Form,
        raw_body: None,
    }
}

/// The token endpoint that `issuer`'s metadata names, sending requests with `send`. Errors
/// name the issuer and the document's URL: `RESPONSE` for a document that is not metadata of
/// that issuer, and the transport or status errors of the requests.
pub fn token_endpoint(issuer: &str, send: impl Fn(Request) -> Result<Response>) -> Result<String> {
    if let Some(url) = CACHE.load().as_deref().and_then(|cache| cache.get(issuer)) {
        return Ok(url.clone());
    }
    let mut last = None;
    for url in locations(issuer) {
        let about = |e: Error| {
            Error::new(e.code(), format!("discovery of issuer {issuer} ({}): {}", http::display_url(&url), e.message()))
                .with_status(e.status())
                .with_retryable(e.is_retryable())
        };
        let response = send(get(&url)).map_err(about)?;
        if response.status == 404 {
            last = Some(about(Error::http_status(404, "no metadata there (HTTP 404)")));
            continue;
        }
        let endpoint = read(issuer, &response).map_err(about)?;
        CACHE.rcu(|cache| {
            let mut cache = cache.as_deref().cloned().unwrap_or_default();
            cache.insert(issuer.to_string(), endpoint.clone());
            Some(Arc::new(cache))
        });
        return Ok(endpoint);
    }
    Err(last.unwrap_or_else(|| Error::response(format!("issuer {issuer} is not a URL"))))
}

/// The token endpoint in a metadata document of `issuer`.
fn read(issuer: &str, response: &Response) -> Result<String> {
    if !(200..300).contains(&response.status) {
        return Err(Error::http_status(response.status, format!("HTTP {}", response.status)));
    }
    let body = response.body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&response.body);
    let doc: Value = serde_json::from_slice(body).map_err(|_| Error::response("the metadata is not JSON"))?;
    let said =
        doc.get("issuer").and_then(Value::as_str).ok_or_else(|| Error::response("the metadata has no issuer"))?;
    if said != issuer {
        return Err(Error::response(format!("the metadata is of issuer \"{said}\", not of this one: refused")));
    }
    let endpoint = doc
        .get("token_endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::response("the metadata names no token_endpoint"))?;
    http::check_url(endpoint).map_err(|_| Error::response("the metadata's token_endpoint is not an http(s) URL"))?;
    Ok(endpoint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_locations() {
        assert_eq!(
            locations("https://idp.example/realms/tf/"),
            [
                "https://idp.example/realms/tf/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server/realms/tf"
            ]
        );
    }

    #[test]
    fn documents_are_checked() {
        let ok = Response::for_test(200, &[], br#"{"issuer":"https://i","token_endpoint":"https://i/token"}"#);
        assert_eq!(read("https://i", &ok).unwrap(), "https://i/token");
        let other = Response::for_test(200, &[], br#"{"issuer":"https://evil","token_endpoint":"https://evil/t"}"#);
        assert!(read("https://i", &other).unwrap_err().message().contains("https://evil"));
        let bad = Response::for_test(200, &[], br#"{"issuer":"https://i","token_endpoint":"ftp://x"}"#);
        assert!(read("https://i", &bad).is_err());
    }
}
