//! The HTTP fetch shared by body, header and client_credentials fetchers: render the request
//! from options and context, send it, read the token out of the answer.

use super::builder::ClientCredentials;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::extract::{self, TokenSource};
use crate::hooks::{self, RequestHook};
use crate::http::{self, ContentType, Method, OnRetry, Policy, Request};
use crate::template::Template;
use crate::token::{now_ms, Token};
use base64::Engine;

/// An immutable HTTP token request description.
pub struct HttpFetcher {
    pub(super) method: Method,
    pub(super) url: String,
    pub(super) headers: Vec<(String, Template)>,
    pub(super) data: Vec<(String, Template)>,
    pub(super) query: Vec<(String, Template)>,
    pub(super) content_type: ContentType,
    pub(super) source: TokenSource,
    pub(super) basic_auth: Option<(String, String)>,
    pub(super) client: Option<ClientCredentials>,
    pub(super) policy: Policy,
    pub(super) request_hook: Option<RequestHook>,
}

/// `Basic base64(user:password)`; with `form_encoded`, each part is form-encoded first, as
/// RFC 6749 section 2.3.1 asks of OAuth clients.
pub fn basic_authorization(user: &str, password: &str, form_encoded: bool) -> String {
    let (user, password) = if form_encoded {
        let enc = |s: &str| http::form_encode(&[(s.to_string(), String::new())]).trim_end_matches('=').to_string();
        (enc(user), enc(password))
    } else {
        (user.to_string(), password.to_string())
    };
    let raw = format!("{user}:{password}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

fn render(list: &[(String, Template)], context: &Context) -> Result<Vec<(String, String)>> {
    list.iter().map(|(k, t)| Ok((k.clone(), t.render(context)?))).collect()
}

impl HttpFetcher {
    /// The request this fetcher sends for `context`, before any hook.
    pub fn request(&self, context: &Context) -> Result<Request> {
        let headers = render(&self.headers, context)?;
        for (k, v) in &headers {
            http::check_header(k, v).map_err(|_| {
                Error::dependency(format!("template for header \"{k}\" produced a line break or NUL"))
            })?;
        }
        let mut request = Request {
            method: self.method,
            url: self.url.clone(),
            headers,
            data: render(&self.data, context)?,
            query: render(&self.query, context)?,
            content_type: self.content_type,
            raw_body: None,
        };
        if let Some((user, password)) = &self.basic_auth {
            request.headers.push(("Authorization".into(), basic_authorization(user, password, false)));
        }
        if let Some(c) = &self.client {
            request.data.retain(|(k, _)| !matches!(k.as_str(), "grant_type" | "scope" | "client_id" | "client_secret"));
            request.data.insert(0, ("grant_type".into(), "client_credentials".into()));
            if let Some(scope) = &c.scope {
                request.data.push(("scope".into(), scope.clone()));
            }
            if c.in_body {
                request.data.push(("client_id".into(), c.id.clone()));
                request.data.push(("client_secret".into(), c.secret.clone()));
            } else {
                request.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
                request.headers.push(("Authorization".into(), basic_authorization(&c.id, &c.secret, true)));
            }
        }
        Ok(request)
    }

    /// The total deadline of one fetch.
    pub fn timeout(&self) -> std::time::Duration {
        self.policy.timeout
    }

    /// Builds the request (options, templates, then the request hook), sends it and reads
    /// the token out of the answer.
    pub fn fetch(&self, context: Option<&Context>, ttl_ms: Option<i64>, on_retry: Option<&OnRetry<'_>>) -> Result<Token> {
        let empty = Context::new();
        let mut request = self.request(context.unwrap_or(&empty))?;
        if let Some(hook) = &self.request_hook {
            hooks::run_request_hook(hook, context, &mut request)?;
        }
        let response = http::send(&request, &self.policy, on_retry)?;
        extract::token_from_response(&response, &self.source, ttl_ms, now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authorization_encodes() {
        assert_eq!(basic_authorization("Aladdin", "open sesame", false), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        // RFC 6749 2.3.1: form-encoded first, so ':' in the id cannot split it.
        assert_eq!(basic_authorization("a:b", "c d", true), basic_authorization("a%3Ab", "c+d", false));
    }
}
