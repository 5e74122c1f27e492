//! `FetcherBuilder`: the options of a fetcher, checked as they are set (bad values are
//! `INVALID_ARGUMENT` and leave the builder as it was) and as a whole when it is built.

use super::http_fetcher::Grant;
use super::{Fetcher, HttpFetcher, RefreshEndpoint};
use crate::error::{Error, Result};
use crate::extract::{BodyFields, TokenSource};
use crate::hooks::{ErrorHook, RequestHook};
use crate::http::{self, upsert, ContentType, Method, Policy};
use crate::oauth2::{Client, ClientAuthMethod};
use crate::template::Template;
use crate::tls::Tls;
use std::time::Duration;

/// What kind of fetcher a builder makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Token in the JSON response body (BodyTokenFetcher).
    Body,
    /// Token in a response header (HeaderTokenFetcher).
    Header,
    /// OAuth2 client_credentials grant: a body fetcher with the grant and client
    /// authentication filled in.
    ClientCredentials,
}

impl Kind {
    /// The name the pipeline JSON uses for it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Body => "body",
            Kind::Header => "header",
            Kind::ClientCredentials => "client_credentials",
        }
    }
}

/// Options of a fetcher under construction. Single-threaded.
#[derive(Clone)]
pub struct FetcherBuilder {
    kind: Kind,
    name: String,
    url: String,
    method: Method,
    headers: Vec<(String, String)>,
    data: Vec<(String, String)>,
    query: Vec<(String, String)>,
    content_type: ContentType,
    fields: BodyFields,
    token_header: String,
    token_type: String,
    basic_auth: Option<(String, String)>,
    client: Option<Client>,
    scope: Option<String>,
    client_auth: ClientAuthMethod,
    ttl_ms: Option<i64>,
    policy: Policy,
    verify_tls: bool,
    ca_file: Option<String>,
    client_cert: Option<(String, String)>,
    depends_on: Vec<String>,
    request_hook: Option<RequestHook>,
    error_hook: Option<ErrorHook>,
    refresh: Option<RefreshEndpoint>,
    renews_dependents: bool,
}

fn join_url(base_url: &str, endpoint: &str) -> String {
    if endpoint.is_empty() {
        return base_url.to_string();
    }
    format!("{}/{}", base_url.trim_end_matches('/'), endpoint.trim_start_matches('/'))
}

fn non_empty(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid_argument(format!("{what} must not be empty")));
    }
    Ok(())
}

impl FetcherBuilder {
    fn new(kind: Kind, name: &str, url: String) -> FetcherBuilder {
        FetcherBuilder {
            kind,
            name: name.to_string(),
            url,
            method: Method::Post,
            headers: Vec::new(),
            data: Vec::new(),
            query: Vec::new(),
            content_type: ContentType::Form,
            fields: BodyFields::default(),
            token_header: "Authorization".into(),
            token_type: "Bearer".into(),
            basic_auth: None,
            client: None,
            scope: None,
            client_auth: ClientAuthMethod::Basic,
            ttl_ms: None,
            policy: Policy::default(),
            verify_tls: true,
            ca_file: None,
            client_cert: None,
            depends_on: Vec::new(),
            request_hook: None,
            error_hook: None,
            refresh: None,
            renews_dependents: false,
        }
    }

    /// A fetcher reading the token from the JSON body of `base_url` + `endpoint`.
    pub fn body(name: &str, base_url: &str, endpoint: &str) -> FetcherBuilder {
        FetcherBuilder::new(Kind::Body, name, join_url(base_url, endpoint))
    }

    /// A fetcher reading the token from the `Authorization` header (by default) of the answer.
    pub fn header(name: &str, base_url: &str, endpoint: &str) -> FetcherBuilder {
        FetcherBuilder::new(Kind::Header, name, join_url(base_url, endpoint))
    }

    /// The OAuth2 client_credentials grant, POSTed as a form to `token_url`, with the client
    /// authenticated by HTTP Basic (or in the body, see [`Self::client_auth_in_body`]).
    pub fn client_credentials(
        name: &str,
        token_url: &str,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> FetcherBuilder {
        let mut b = FetcherBuilder::new(Kind::ClientCredentials, name, token_url.to_string());
        b.client = Some(Client { id: client_id.to_string(), secret: Some(client_secret.to_string()) });
        b.scope = scope.filter(|s| !s.is_empty()).map(str::to_string);
        b
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn require(&self, kinds: &[Kind], option: &str) -> Result<()> {
        if kinds.contains(&self.kind) {
            Ok(())
        } else {
            Err(Error::invalid_argument(format!("option {option} does not apply to a {} fetcher", self.kind.name())))
        }
    }

    /// "GET" or "POST" (any case). The client_credentials preset always POSTs.
    pub fn method(&mut self, method: &str) -> Result<()> {
        let m = Method::parse(method)?;
        if self.kind == Kind::ClientCredentials && m != Method::Post {
            return Err(Error::invalid_argument("a client_credentials fetcher always uses POST"));
        }
        self.method = m;
        Ok(())
    }

    /// Adds or replaces a request header. The value may hold `{{step.field}}` templates.
    pub fn request_header(&mut self, name: &str, value: &str) -> Result<()> {
        http::check_header(name, value)?;
        upsert(&mut self.headers, name, value, true);
        Ok(())
    }

    /// Adds or replaces a request data field (body, or query string with GET).
    pub fn request_data(&mut self, key: &str, value: &str) -> Result<()> {
        non_empty("data key", key)?;
        upsert(&mut self.data, key, value, false);
        Ok(())
    }

    /// Adds or replaces a query parameter.
    pub fn query_param(&mut self, key: &str, value: &str) -> Result<()> {
        non_empty("query parameter name", key)?;
        upsert(&mut self.query, key, value, false);
        Ok(())
    }

    pub fn content_type(&mut self, content_type: ContentType) -> Result<()> {
        if self.kind == Kind::ClientCredentials && content_type != ContentType::Form {
            return Err(Error::invalid_argument("a client_credentials fetcher always sends a form"));
        }
        self.content_type = content_type;
        Ok(())
    }

    fn body_field(&mut self, option: &str, path: &str, pick: fn(&mut BodyFields) -> &mut String) -> Result<()> {
        self.require(&[Kind::Body, Kind::ClientCredentials], option)?;
        non_empty(option, path)?;
        *pick(&mut self.fields) = path.to_string();
        Ok(())
    }

    pub fn token_field(&mut self, path: &str) -> Result<()> {
        self.body_field("token_field", path, |f| &mut f.token)
    }

    pub fn token_type_field(&mut self, path: &str) -> Result<()> {
        self.body_field("token_type_field", path, |f| &mut f.token_type)
    }

    pub fn expires_in_field(&mut self, path: &str) -> Result<()> {
        self.body_field("expires_in_field", path, |f| &mut f.expires_in)
    }

    pub fn refresh_token_field(&mut self, path: &str) -> Result<()> {
        self.body_field("refresh_token_field", path, |f| &mut f.refresh_token)
    }

    pub fn default_token_type(&mut self, token_type: &str) -> Result<()> {
        self.require(&[Kind::Body, Kind::ClientCredentials], "default_token_type")?;
        http::check_header("Authorization", token_type)?;
        non_empty("default_token_type", token_type)?;
        self.fields.default_token_type = token_type.trim().to_string();
        Ok(())
    }

    /// The response header holding the token (header fetchers).
    pub fn token_header(&mut self, header: &str) -> Result<()> {
        self.require(&[Kind::Header], "token_header")?;
        http::check_header(header, "")?;
        self.token_header = header.to_string();
        Ok(())
    }

    /// The type given to the header token, and the scheme prefix stripped from it.
    pub fn token_type(&mut self, token_type: &str) -> Result<()> {
        self.require(&[Kind::Header], "token_type")?;
        non_empty("token_type", token_type)?;
        http::check_header("Authorization", token_type)?;
        self.token_type = token_type.trim().to_string();
        Ok(())
    }

    /// HTTP Basic authentication of the token request. The user may not contain ':'.
    pub fn basic_auth(&mut self, user: &str, password: &str) -> Result<()> {
        if user.contains(':') {
            return Err(Error::invalid_argument("a Basic auth user name may not contain ':'"));
        }
        self.basic_auth = Some((user.to_string(), password.to_string()));
        Ok(())
    }

    /// How the client authenticates, to the client_credentials grant and to the refresh
    /// endpoint: [`ClientAuthMethod::Basic`] (the default) or [`ClientAuthMethod::Post`].
    pub fn client_auth(&mut self, method: ClientAuthMethod) -> Result<()> {
        self.client_auth = method;
        Ok(())
    }

    /// Sends client_id and client_secret in the body (`client_secret_post`), not by Basic.
    pub fn client_auth_in_body(&mut self, in_body: bool) -> Result<()> {
        self.client_auth(if in_body { ClientAuthMethod::Post } else { ClientAuthMethod::Basic })
    }

    /// Lifetime that overrides the response's; must be positive.
    pub fn ttl_ms(&mut self, ttl_ms: i64) -> Result<()> {
        if ttl_ms <= 0 {
            return Err(Error::invalid_argument(format!("ttl_ms must be positive, not {ttl_ms}")));
        }
        self.ttl_ms = Some(ttl_ms);
        Ok(())
    }

    /// Total deadline of one fetch, all attempts and the body included; must be positive.
    pub fn timeout_ms(&mut self, ms: u64) -> Result<()> {
        if ms == 0 {
            return Err(Error::invalid_argument("timeout_ms must be positive"));
        }
        self.policy.timeout = Duration::from_millis(ms);
        Ok(())
    }

    /// Whether the server's certificate is verified (default true), for every request of
    /// the step. Turn off only for test servers.
    pub fn verify_tls(&mut self, verify: bool) -> Result<()> {
        self.verify_tls = verify;
        Ok(())
    }

    /// Trusts the CA certificates in the PEM file `path` instead of the system store (as
    /// curl's `--cacert`); read when the fetcher is built.
    pub fn ca_file(&mut self, path: &str) -> Result<()> {
        non_empty("ca_file", path)?;
        self.ca_file = Some(path.to_string());
        Ok(())
    }

    /// Presents the certificate chain in `cert_path` with the key in `key_path` (PEM) to
    /// servers that ask for one: mutual TLS (RFC 8705). Read when the fetcher is built.
    pub fn client_cert(&mut self, cert_path: &str, key_path: &str) -> Result<()> {
        non_empty("client certificate", cert_path)?;
        non_empty("client key", key_path)?;
        self.client_cert = Some((cert_path.to_string(), key_path.to_string()));
        Ok(())
    }

    /// Attempts in all (1 to 10; 1 means no retry) and the first backoff delay (at most 60 s).
    pub fn retry(&mut self, max_attempts: u32, base_delay_ms: u64) -> Result<()> {
        if !(1..=10).contains(&max_attempts) {
            return Err(Error::invalid_argument(format!("max_attempts must be 1 to 10, not {max_attempts}")));
        }
        if base_delay_ms > 60_000 {
            return Err(Error::invalid_argument("base_delay_ms must be at most 60000"));
        }
        self.policy.max_attempts = max_attempts;
        self.policy.base_delay = Duration::from_millis(base_delay_ms);
        Ok(())
    }

    /// Declares that this step needs the token of `step` (idempotent).
    pub fn dependency(&mut self, step: &str) -> Result<()> {
        non_empty("dependency name", step)?;
        if !self.depends_on.iter().any(|d| d == step) {
            self.depends_on.push(step.to_string());
        }
        Ok(())
    }

    /// In a pipeline, a cached token that carries a refresh token is renewed at `token_url`
    /// (grant_type=refresh_token) before falling back to a full fetch. The request goes the
    /// way of the step's own: same TLS settings, deadline, retries, hooks and client
    /// authentication method. `client_id` `None`: the step's own client (the
    /// client_credentials client, or the Basic user), and then `client_secret` must be `None`
    /// too; a `client_id` without secret is a public client.
    pub fn refresh_endpoint(
        &mut self,
        token_url: &str,
        client_id: Option<&str>,
        client_secret: Option<&str>,
    ) -> Result<()> {
        http::check_url(token_url)?;
        let client = match (client_id, client_secret) {
            (None, Some(_)) => {
                return Err(Error::invalid_argument("a refresh endpoint's client_secret needs its client_id"))
            }
            (None, None) => None,
            (Some(id), secret) => {
                non_empty("client_id", id)?;
                Some(Client { id: id.to_string(), secret: secret.map(str::to_string) })
            }
        };
        self.refresh = Some(RefreshEndpoint { token_url: token_url.to_string(), client });
        Ok(())
    }

    /// In a pipeline, a renewal of this step renews its dependents at once (for servers that
    /// bind derived tokens to their parent); by default they keep their tokens and renew when
    /// they go stale themselves.
    pub fn renews_dependents(&mut self, renews: bool) -> Result<()> {
        self.renews_dependents = renews;
        Ok(())
    }

    /// Replaces the request hook (dropping any earlier one).
    pub fn request_hook(&mut self, hook: RequestHook) {
        self.request_hook = Some(hook);
    }

    /// Replaces the error hook (dropping any earlier one).
    pub fn error_hook(&mut self, hook: ErrorHook) {
        self.error_hook = Some(hook);
    }

    /// Checks the options as a whole and makes the fetcher: a bad name or URL is
    /// `INVALID_ARGUMENT`; a bad template, a template naming a step that is not a dependency,
    /// or a step depending on itself is `CONFIG`.
    pub fn build(self) -> Result<Fetcher> {
        let error_hook = self.error_hook.clone();
        let depends_on = self.depends_on.clone();
        let (name, ttl_ms, renews_dependents) = (self.name.clone(), self.ttl_ms, self.renews_dependents);
        let imp = self.build_http()?;
        let mut fetcher = Fetcher::new(&name, &depends_on, ttl_ms, super::Imp::Http(Box::new(imp)), error_hook)
            .map_err(|e| e.with_step(&name))?;
        fetcher.renews_dependents = renews_dependents;
        Ok(fetcher)
    }

    fn templates(&self, list: &[(String, String)], what: &str) -> Result<Vec<(String, Template)>> {
        list.iter()
            .map(|(k, v)| {
                let t = Template::parse(v)
                    .map_err(|e| Error::config(format!("{what} \"{k}\": {}", e.message())).with_step(&self.name))?;
                if let Some(step) = t.steps().find(|s| !self.depends_on.iter().any(|d| d == s)) {
                    return Err(Error::config(format!(
                        "{what} \"{k}\" uses step \"{step}\", which is not a declared dependency"
                    ))
                    .with_step(&self.name));
                }
                Ok((k.clone(), t))
            })
            .collect()
    }

    /// The HTTP part of [`Self::build`] (URL and templates checked), without the step.
    pub(crate) fn build_http(self) -> Result<HttpFetcher> {
        http::check_url(&self.url).map_err(|e| e.with_step(&self.name))?;
        let source = match self.kind {
            Kind::Header => {
                TokenSource::Header { header: self.token_header.clone(), token_type: self.token_type.clone() }
            }
            Kind::Body | Kind::ClientCredentials => TokenSource::Body(self.fields.clone()),
        };
        Ok(HttpFetcher {
            method: self.method,
            url: self.url.clone(),
            headers: self.templates(&self.headers, "request header")?,
            data: self.templates(&self.data, "request data")?,
            query: self.templates(&self.query, "query parameter")?,
            content_type: self.content_type,
            source,
            basic_auth: self.basic_auth.clone(),
            grant: match self.kind {
                Kind::ClientCredentials => Some(Grant::ClientCredentials { scope: self.scope.clone() }),
                Kind::Body | Kind::Header => None,
            },
            client: self.client.clone().or_else(|| {
                self.basic_auth
                    .as_ref()
                    .map(|(user, password)| Client { id: user.clone(), secret: Some(password.clone()) })
            }),
            client_auth: self.client_auth,
            refresh: self.refresh.clone(),
            policy: Policy {
                tls: Tls::new(
                    self.verify_tls,
                    self.ca_file.as_deref(),
                    self.client_cert.as_ref().map(|(c, k)| (c.as_str(), k.as_str())),
                )
                .map_err(|e| e.with_step(&self.name))?,
                ..self.policy.clone()
            },
            request_hook: self.request_hook.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ResultCode;

    #[test]
    fn joins_urls() {
        assert_eq!(join_url("http://h/", "/t"), "http://h/t");
        assert_eq!(join_url("http://h", "t"), "http://h/t");
        assert_eq!(join_url("http://h/a", ""), "http://h/a");
    }

    #[test]
    fn setters_refuse_bad_values_and_keep_the_builder() {
        let mut b = FetcherBuilder::body("s", "http://127.0.0.1:1", "/t");
        assert_eq!(b.method("DELETE").unwrap_err().code(), ResultCode::InvalidArgument);
        assert!(b.method("get").is_ok());
        assert!(b.request_header("X-A\r\n", "v").is_err());
        assert!(b.request_header("X-A", "v\r\n").is_err());
        assert!(b.token_header("X-T").is_err(), "header option on a body fetcher");
        assert!(b.ttl_ms(0).is_err());
        assert!(b.timeout_ms(0).is_err());
        assert!(b.retry(0, 10).is_err());
        assert!(b.retry(3, 60_001).is_err());
        assert!(b.token_field("").is_err());
        assert!(b.basic_auth("a:b", "p").is_err());
        assert!(b.build().is_ok());
        let mut h = FetcherBuilder::header("h", "http://127.0.0.1:1", "/t");
        assert!(h.token_field("x").is_err(), "body option on a header fetcher");
        let mut c = FetcherBuilder::client_credentials("c", "http://127.0.0.1:1/t", "id", "s", None);
        assert!(c.method("GET").is_err());
        assert!(c.content_type(ContentType::Json).is_err());
    }

    #[test]
    fn build_checks_name_url_templates_and_dependencies() {
        let code = |b: FetcherBuilder| b.build().unwrap_err().code();
        assert_eq!(code(FetcherBuilder::body("", "http://h", "/t")), ResultCode::InvalidArgument);
        assert_eq!(code(FetcherBuilder::body("s", "not a url", "/t")), ResultCode::InvalidArgument);
        let mut b = FetcherBuilder::body("s", "http://h", "/t");
        b.request_header("X-A", "{{app.access_token}}").unwrap();
        let e = b.clone().build().unwrap_err();
        assert_eq!(e.code(), ResultCode::Config);
        assert!(e.message().contains("app"), "{}", e.message());
        assert_eq!(e.step().unwrap().as_str(), "s");
        b.dependency("app").unwrap();
        assert!(b.build().is_ok());
        let mut b = FetcherBuilder::body("s", "http://h", "/t");
        b.request_data("k", "{{app.access_token").unwrap();
        b.dependency("app").unwrap();
        assert_eq!(code(b), ResultCode::Config);
        let mut b = FetcherBuilder::body("s", "http://h", "/t");
        b.dependency("s").unwrap();
        assert_eq!(code(b), ResultCode::Config);
    }
}
