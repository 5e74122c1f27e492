//! The HTTP fetch shared by body, header and OAuth grant fetchers, and the one road that
//! every request of such a step takes: its own grant, its refresh grant and its discovery
//! document are built here, shaped by the request hook and sent under the step's policy by
//! [`HttpFetcher::send`].

use crate::context::Context;
use crate::error::{Error, Result};
use crate::extract::{self, BodyFields, TokenSource};
use crate::hooks::{self, RequestHook};
use crate::http::{self, basic_authorization, ContentType, Method, OnRetry, Policy, Request, Response};
use crate::oauth2::jwt::{jti, SigningKey};
use crate::oauth2::{self, discovery, Client, ClientAuth};
use crate::template::Template;
use crate::text::CText;
use crate::token::{now_ms, Token};
use serde_json::{json, Value};
use std::sync::Arc;

/// Where the step's token endpoint is.
#[derive(Clone)]
pub(super) enum Endpoint {
    Url(String),
    /// Found in the issuer's metadata (RFC 8414, OpenID Connect Discovery).
    Issuer(String),
}

/// The claims of a JWT bearer grant's assertion (RFC 7523 section 2.1).
#[derive(Clone)]
pub(super) struct BearerAssertion {
    pub issuer: String,
    pub subject: Option<String>,
    /// `None`: the token endpoint.
    pub audience: Option<String>,
    pub scope: Option<String>,
    pub lifetime_s: i64,
    pub key: Arc<SigningKey>,
}

/// The grant a fetcher's own request carries, when it is an OAuth grant.
#[derive(Clone)]
pub(super) enum Grant {
    ClientCredentials {
        scope: Option<String>,
    },
    JwtBearer(BearerAssertion),
    /// RFC 8693; its parameters (subject token and the rest) are request data templates.
    TokenExchange,
}

pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub(super) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Where a pipeline renews a token that carries a refresh token (`grant_type=refresh_token`).
#[derive(Clone)]
pub struct RefreshEndpoint {
    /// `None`: the step's own token endpoint.
    pub token_url: Option<String>,
    /// The client to authenticate as; `None`: the step's own.
    pub client: Option<Client>,
}

/// An immutable HTTP token request description.
pub struct HttpFetcher {
    pub(super) method: Method,
    pub(super) endpoint: Endpoint,
    pub(super) headers: Vec<(String, Template)>,
    pub(super) data: Vec<(String, Template)>,
    pub(super) query: Vec<(String, Template)>,
    pub(super) content_type: ContentType,
    pub(super) source: TokenSource,
    pub(super) basic_auth: Option<(String, String)>,
    pub(super) grant: Option<Grant>,
    /// The client the step's own request authenticates (client_credentials, or one given).
    pub(super) client: Option<Client>,
    pub(super) client_auth: ClientAuth,
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
    /// The token endpoint: configured, or discovered from the issuer's metadata (fetched once
    /// per issuer through this step's fetcher, then cached).
    pub fn token_url(&self, name: Option<&str>, context: Option<&Context>) -> Result<String> {
        match &self.endpoint {
            Endpoint::Url(url) => Ok(url.clone()),
            Endpoint::Issuer(issuer) => {
                discovery::token_endpoint(issuer, |request| self.send(name, request, context, &self.policy, None))
                    .map_err(named(name, false))
            }
        }
    }

    /// The request of the step's own fetch to `url` for `context`, before any hook.
    pub fn request(&self, url: String, context: &Context) -> Result<Request> {
        let headers = render(&self.headers, context)?;
        for (k, v) in &headers {
            http::check_header(k, v)
                .map_err(|_| Error::dependency(format!("template for header \"{k}\" produced a line break or NUL")))?;
        }
        let mut request = Request {
            method: self.method,
            url,
            headers,
            data: render(&self.data, context)?,
            query: render(&self.query, context)?,
            content_type: self.content_type,
            raw_body: None,
        };
        if let Some((user, password)) = &self.basic_auth {
            request.headers.push(("Authorization".into(), basic_authorization(user, password, false)));
        }
        if let Some(grant) = &self.grant {
            request.data.retain(|(k, _)| !oauth2::GRANT_FIELDS.contains(&k.as_str()));
            let mut form = match grant {
                Grant::ClientCredentials { scope } => oauth2::client_credentials_form(scope.as_deref()),
                Grant::JwtBearer(a) => self.bearer_form(a, &request.url)?,
                Grant::TokenExchange => vec![("grant_type".to_string(), TOKEN_EXCHANGE.to_string())],
            };
            form.append(&mut request.data);
            request.data = form;
        }
        if let Some(client) = &self.client {
            self.client_auth.authenticate(client, &mut request)?;
        }
        Ok(request)
    }

    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and a fresh assertion.
    fn bearer_form(&self, a: &BearerAssertion, token_url: &str) -> Result<Vec<(String, String)>> {
        let now = now_ms() / 1000;
        let mut claims = json!({
            "iss": a.issuer,
            "aud": a.audience.as_deref().unwrap_or(token_url),
            "iat": now,
            "exp": now + a.lifetime_s,
            "jti": jti()?,
        });
        if let Some(sub) = &a.subject {
            claims["sub"] = Value::String(sub.clone());
        }
        if let Some(scope) = &a.scope {
            claims["scope"] = Value::String(scope.clone());
        }
        let mut form =
            vec![("grant_type".to_string(), JWT_BEARER.to_string()), ("assertion".to_string(), a.key.sign(&claims)?)];
        if let Some(scope) = &a.scope {
            form.push(("scope".into(), scope.clone()));
        }
        Ok(form)
    }

    /// The refresh grant to `url` for `refresh_token`, before any hook: a form POSTed to the
    /// refresh endpoint, the client authenticated as the step's own grant is.
    pub fn refresh_request(&self, url: String, refresh_token: &str) -> Result<Request> {
        let mut request = Request {
            method: Method::Post,
            url,
            headers: Vec::new(),
            data: oauth2::refresh_form(refresh_token),
            query: Vec::new(),
            content_type: ContentType::Form,
            raw_body: None,
        };
        let basic =
            self.basic_auth.as_ref().map(|(id, secret)| Client { id: id.clone(), secret: Some(secret.clone()) });
        let endpoint_client = self.refresh.as_ref().and_then(|r| r.client.as_ref());
        if let Some(client) = endpoint_client.or(self.client.as_ref()).or(basic.as_ref()) {
            self.client_auth.authenticate(client, &mut request)?;
        }
        Ok(request)
    }

    /// The total deadline of one fetch.
    pub fn timeout(&self) -> std::time::Duration {
        self.policy.timeout
    }

    pub fn refresh_endpoint(&self) -> Option<&RefreshEndpoint> {
        self.refresh.as_ref()
    }

    /// The step's own fetch: builds the request from options and context, then sends it and
    /// reads the token. Errors name the step `name`.
    pub fn fetch(
        &self,
        name: Option<&str>,
        context: Option<&Context>,
        ttl_ms: Option<i64>,
        on_retry: Option<&OnRetry<'_>>,
    ) -> Result<Token> {
        let empty = Context::new();
        let url = self.token_url(name, context)?;
        let request = self.request(url, context.unwrap_or(&empty)).map_err(named(name, false))?;
        let endpoint = shown_endpoint(&request);
        let response = self.send(name, request, context, &self.policy, on_retry)?;
        self.token(name, &response, &self.source, ttl_ms, &endpoint)
    }

    /// The refresh grant (`None` without a refresh endpoint), under the step's policy, except
    /// that a request whose fate is unknown is not retried (the server may have rotated the
    /// refresh token). An answer without a new refresh token keeps `refresh_token`.
    pub fn refresh(
        &self,
        name: Option<&str>,
        context: Option<&Context>,
        refresh_token: &CText,
        ttl_ms: Option<i64>,
        on_retry: Option<&OnRetry<'_>>,
    ) -> Option<Result<Token>> {
        let endpoint = self.refresh.as_ref()?;
        let result = (|| {
            let url = match &endpoint.token_url {
                Some(url) => url.clone(),
                None => self.token_url(name, context)?,
            };
            let request = self.refresh_request(url, refresh_token.as_str()).map_err(named(name, false))?;
            let endpoint = format!("refresh endpoint {}", shown_endpoint(&request));
            let policy = Policy { retry_after_send: false, ..self.policy.clone() };
            let response = self.send(name, request, context, &policy, on_retry)?;
            self.token(name, &response, &TokenSource::Body(BodyFields::default()), ttl_ms, &endpoint)
        })();
        Some(result.map(|t| match t.refresh_token() {
            Some(_) => t,
            None => t.with_refresh_token(Some(refresh_token)),
        }))
    }

    /// The one road of every request a step sends: the request hook shapes it, and it is sent
    /// under `policy` (TLS, deadline, retries, Retry-After).
    fn send(
        &self,
        name: Option<&str>,
        mut request: Request,
        context: Option<&Context>,
        policy: &Policy,
        on_retry: Option<&OnRetry<'_>>,
    ) -> Result<Response> {
        if let Some(hook) = &self.request_hook {
            hooks::run_request_hook(hook, context, &mut request).map_err(named(name, true))?;
        }
        http::send(&request, policy, on_retry).map_err(named(name, false))
    }

    /// The token in an answer; `ttl_ms` overrides its lifetime.
    fn token(
        &self,
        name: Option<&str>,
        response: &Response,
        source: &TokenSource,
        ttl_ms: Option<i64>,
        endpoint: &str,
    ) -> Result<Token> {
        extract::token_from_answer(response, source, ttl_ms, now_ms(), endpoint).map_err(named(name, false))
    }
}

/// The method and URL of a request for messages: without user information or query, which
/// may hold secrets.
fn shown_endpoint(request: &Request) -> String {
    let url = request.url.split(['?', '#']).next().unwrap_or_default();
    let url = match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((authority, path)) => {
                format!("{scheme}://{}/{path}", authority.rsplit_once('@').map_or(authority, |(_, host)| host))
            }
            None => format!("{scheme}://{}", rest.rsplit_once('@').map_or(rest, |(_, host)| host)),
        },
        None => url.to_string(),
    };
    format!("{} {url}", request.method.as_str())
}
