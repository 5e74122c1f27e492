//! The HTTP fetch shared by body, header and client_credentials fetchers, and the one road
//! that every request of such a step takes: its own grant and its refresh grant are built
//! here, shaped by the request hook and sent under the step's policy by [`HttpFetcher::exchange`].

use crate::context::Context;
use crate::error::{Error, Result};
use crate::extract::{self, BodyFields, TokenSource};
use crate::hooks::{self, RequestHook};
use crate::http::{self, basic_authorization, ContentType, Method, OnRetry, Policy, Request};
use crate::oauth2::{self, Client, ClientAuthMethod};
use crate::template::Template;
use crate::text::CText;
use crate::token::{now_ms, Token};

/// The grant a fetcher's own request carries, when it is an OAuth grant.
#[derive(Clone)]
pub(super) enum Grant {
    ClientCredentials { scope: Option<String> },
}

/// Where a pipeline renews a token that carries a refresh token (`grant_type=refresh_token`).
#[derive(Clone)]
pub struct RefreshEndpoint {
    pub token_url: String,
    /// The client to authenticate as; `None`: the step's own.
    pub client: Option<Client>,
}

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
    pub(super) grant: Option<Grant>,
    /// The step's OAuth client: the client_credentials client, or the Basic user.
    pub(super) client: Option<Client>,
    pub(super) client_auth: ClientAuthMethod,
    pub(super) refresh: Option<RefreshEndpoint>,
    pub(super) policy: Policy,
    pub(super) request_hook: Option<RequestHook>,
}

fn render(list: &[(String, Template)], context: &Context) -> Result<Vec<(String, String)>> {
    list.iter().map(|(k, t)| Ok((k.clone(), t.render(context)?))).collect()
}

/// Names the step an error belongs to: errors a hook made keep their message (only the step
/// field is set), the library's own are prefixed with the step.
fn named(name: Option<&str>, from_hook: bool) -> impl Fn(Error) -> Error + '_ {
    move |e| match name {
        Some(n) if from_hook => e.with_step_field(n),
        Some(n) => e.with_step(n),
        None => e,
    }
}

impl HttpFetcher {
    /// The request of the step's own fetch for `context`, before any hook.
    pub fn request(&self, context: &Context) -> Result<Request> {
        let headers = render(&self.headers, context)?;
        for (k, v) in &headers {
            http::check_header(k, v)
                .map_err(|_| Error::dependency(format!("template for header \"{k}\" produced a line break or NUL")))?;
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
        if let Some(Grant::ClientCredentials { scope }) = &self.grant {
            request.data.retain(|(k, _)| !oauth2::GRANT_FIELDS.contains(&k.as_str()));
            let mut form = oauth2::client_credentials_form(scope.as_deref());
            form.append(&mut request.data);
            request.data = form;
            if let Some(client) = &self.client {
                client.authenticate(self.client_auth, &mut request);
            }
        }
        Ok(request)
    }

    /// The refresh grant for `refresh_token`, before any hook: a form POSTed to the refresh
    /// endpoint, the client authenticated as the step's own grant is. `None` without a
    /// refresh endpoint.
    pub fn refresh_request(&self, refresh_token: &str) -> Option<Request> {
        let endpoint = self.refresh.as_ref()?;
        let mut request = Request {
            method: Method::Post,
            url: endpoint.token_url.clone(),
            headers: Vec::new(),
            data: oauth2::refresh_form(refresh_token),
            query: Vec::new(),
            content_type: ContentType::Form,
            raw_body: None,
        };
        if let Some(client) = endpoint.client.as_ref().or(self.client.as_ref()) {
            client.authenticate(self.client_auth, &mut request);
        }
        Some(request)
    }

    /// The total deadline of one fetch.
    pub fn timeout(&self) -> std::time::Duration {
        self.policy.timeout
    }

    pub fn refresh_endpoint(&self) -> Option<&RefreshEndpoint> {
        self.refresh.as_ref()
    }

    /// The step's own fetch: builds the request from options and context, then [`Self::exchange`].
    /// Errors name the step `name`.
    pub fn fetch(
        &self,
        name: Option<&str>,
        context: Option<&Context>,
        ttl_ms: Option<i64>,
        on_retry: Option<&OnRetry<'_>>,
    ) -> Result<Token> {
        let empty = Context::new();
        let request = self.request(context.unwrap_or(&empty)).map_err(named(name, false))?;
        self.exchange(name, request, context, &self.policy, &self.source, ttl_ms, on_retry)
    }

    /// The refresh grant (`None` without a refresh endpoint), through [`Self::exchange`] under
    /// the step's policy, except that a request whose fate is unknown is not retried (the
    /// server may have rotated the refresh token). An answer without a new refresh token
    /// keeps `refresh_token`.
    pub fn refresh(
        &self,
        name: Option<&str>,
        context: Option<&Context>,
        refresh_token: &CText,
        ttl_ms: Option<i64>,
        on_retry: Option<&OnRetry<'_>>,
    ) -> Option<Result<Token>> {
        let request = self.refresh_request(refresh_token.as_str())?;
        let policy = Policy { retry_after_send: false, ..self.policy.clone() };
        let source = TokenSource::Body(BodyFields::default());
        let result = self.exchange(name, request, context, &policy, &source, ttl_ms, on_retry);
        Some(result.map(|t| match t.refresh_token() {
            Some(_) => t,
            None => t.with_refresh_token(Some(refresh_token)),
        }))
    }

    /// The one road of every request a step sends: the request hook shapes it, it is sent
    /// under `policy` (TLS, deadline, retries, Retry-After), and the token is read out of the
    /// answer. `ttl_ms` overrides the answer's lifetime.
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &self,
        name: Option<&str>,
        mut request: Request,
        context: Option<&Context>,
        policy: &Policy,
        source: &TokenSource,
        ttl_ms: Option<i64>,
        on_retry: Option<&OnRetry<'_>>,
    ) -> Result<Token> {
        if let Some(hook) = &self.request_hook {
            hooks::run_request_hook(hook, context, &mut request).map_err(named(name, true))?;
        }
        let response = http::send(&request, policy, on_retry).map_err(named(name, false))?;
        extract::token_from_response(&response, source, ttl_ms, now_ms()).map_err(named(name, false))
    }
}
