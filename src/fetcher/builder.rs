//! `FetcherBuilder`: the options of a fetcher, checked as they are set (bad values are
//! `INVALID_ARGUMENT` and leave the builder as it was) and as a whole when it is built.

use super::http_fetcher::{BearerAssertion, Endpoint, Grant};
use super::{Fetcher, HttpFetcher, RefreshEndpoint};
use crate::error::{Error, Result};
use crate::extract::{BodyFields, TokenSource};
use crate::hooks::{ErrorHook, RequestHook};
use crate::http::{self, upsert, ContentType, Method, Policy};
use crate::oauth2::jwt::{Algorithm, SigningKey};
use crate::oauth2::{Client, ClientAuth, ClientAuthMethod};
use crate::template::Template;
use crate::tls::Tls;
use std::sync::Arc;
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
    /// The JWT bearer grant (RFC 7523 section 2.1; Google service accounts): a signed
    /// assertion exchanged for a token.
    JwtBearer,
    /// Token exchange (RFC 8693): a subject token (from a dependency, through a template)
    /// exchanged for another.
    TokenExchange,
}

impl Kind {
    /// The name the pipeline JSON uses for it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Body => "body",
            Kind::Header => "header",
            Kind::ClientCredentials => "client_credentials",
            Kind::JwtBearer => "jwt_bearer",
            Kind::TokenExchange => "token_exchange",
        }
    }

    /// An OAuth grant: a form POSTed to a token endpoint.
    pub fn is_grant(self) -> bool {
        matches!(self, Kind::ClientCredentials | Kind::JwtBearer | Kind::TokenExchange)
    }

    /// The token is read from a JSON body.
    pub fn reads_body(self) -> bool {
        self != Kind::Header
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
    /// A key from a PEM file: the jwt_bearer assertion's, and private_key_jwt's.
    jwt_key: Option<(String, Algorithm, Option<String>)>,
    jwt_certificate: Option<String>,
    /// Discovery: the token endpoint is in this issuer's metadata.
    issuer: Option<String>,
    /// jwt_bearer: the assertion's claims.
    bearer: Option<(String, Option<String>)>,
    assertion_audience: Option<String>,
    assertion_lifetime_s: i64,
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
            jwt_key: None,
            jwt_certificate: None,
            issuer: None,
            bearer: None,
            assertion_audience: None,
            assertion_lifetime_s: 300,
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

    /// The JWT bearer grant (RFC 7523 section 2.1) at `token_url`: an assertion signed with
    /// the key of [`Self::jwt_key`], with `iss` = `issuer`, `sub` = `subject` (when given),
    /// `aud` = the token endpoint (see [`Self::assertion_audience`]), `scope` (also sent as a
    /// parameter), a fresh `jti`, `iat` and `exp` (5 minutes; [`Self::assertion_lifetime_ms`]).
    pub fn jwt_bearer(
        name: &str,
        token_url: &str,
        issuer: &str,
        subject: Option<&str>,
        scope: Option<&str>,
    ) -> FetcherBuilder {
        let mut b = FetcherBuilder::new(Kind::JwtBearer, name, token_url.to_string());
        b.bearer = Some((issuer.to_string(), subject.filter(|s| !s.is_empty()).map(str::to_string)));
        b.scope = scope.filter(|s| !s.is_empty()).map(str::to_string);
        b
    }

    /// Token exchange (RFC 8693) at `token_url`: `subject_token` (usually a template such as
    /// `{{user.access_token}}`) of `subject_token_type` (`None`: an access token) exchanged for
    /// another token. `requested_token_type`, `audience`, `resource` and `scope` are request
    /// data ([`Self::request_data`]); [`Self::actor_token`] adds an actor. The answer's
    /// `issued_token_type` is kept on the token.
    pub fn token_exchange(
        name: &str,
        token_url: &str,
        subject_token: &str,
        subject_token_type: Option<&str>,
    ) -> FetcherBuilder {
        let mut b = FetcherBuilder::new(Kind::TokenExchange, name, token_url.to_string());
        let kind =
            subject_token_type.filter(|t| !t.is_empty()).unwrap_or("urn:ietf:params:oauth:token-type:access_token");
        b.data.push(("subject_token".into(), subject_token.to_string()));
        b.data.push(("subject_token_type".into(), kind.to_string()));
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

    /// "GET" or "POST" (any case). OAuth grants always POST.
    pub fn method(&mut self, method: &str) -> Result<()> {
        let m = Method::parse(method)?;
        if self.kind.is_grant() && m != Method::Post {
            return Err(Error::invalid_argument(format!("a {} fetcher always uses POST", self.kind.name())));
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
        if self.kind.is_grant() && content_type != ContentType::Form {
            return Err(Error::invalid_argument(format!("a {} fetcher always sends a form", self.kind.name())));
        }
        self.content_type = content_type;
        Ok(())
    }

    fn body_field(&mut self, option: &str, path: &str, pick: fn(&mut BodyFields) -> &mut String) -> Result<()> {
        self.require(&[Kind::Body, Kind::ClientCredentials, Kind::JwtBearer, Kind::TokenExchange], option)?;
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
        self.require(
            &[Kind::Body, Kind::ClientCredentials, Kind::JwtBearer, Kind::TokenExchange],
            "default_token_type",
        )?;
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

    /// The client that authenticates the step's own request (for body, header, jwt_bearer
    /// and token_exchange steps; a client_credentials step has its own), as
    /// [`Self::client_auth`] says. `secret` `None`: a public client, or one that
    /// authenticates by key or certificate.
    pub fn client(&mut self, id: &str, secret: Option<&str>) -> Result<()> {
        non_empty("client_id", id)?;
        self.client = Some(Client { id: id.to_string(), secret: secret.map(str::to_string) });
        Ok(())
    }

    /// The private key (PEM file `path`; RSA for RS256 and PS256, P-256 for ES256) that signs
    /// the jwt_bearer assertion and `private_key_jwt` client assertions, with an optional
    /// `kid`. Read when the fetcher is built.
    pub fn jwt_key(&mut self, path: &str, alg: &str, kid: Option<&str>) -> Result<()> {
        non_empty("key file", path)?;
        let alg = Algorithm::parse(alg)?;
        if alg == Algorithm::Hs256 {
            return Err(Error::invalid_argument(
                "HS256 signs with the client secret (client_secret_jwt), not a key file",
            ));
        }
        self.jwt_key = Some((path.to_string(), alg, kid.filter(|k| !k.is_empty()).map(str::to_string)));
        Ok(())
    }

    /// The X.509 certificate (PEM file `path`) of the key of [`Self::jwt_key`]: the signed
    /// assertions then carry its thumbprints in their header (`x5t` and `x5t#S256`), as
    /// Microsoft Entra ID certificate credentials need. Read when the fetcher is built.
    pub fn jwt_certificate(&mut self, path: &str) -> Result<()> {
        non_empty("certificate file", path)?;
        self.jwt_certificate = Some(path.to_string());
        Ok(())
    }

    /// Discovery (RFC 8414, OpenID Connect): the token endpoint is the one in `issuer`'s
    /// metadata, fetched (once per issuer) at the first fetch; it replaces the URL given to
    /// the constructor.
    pub fn issuer(&mut self, issuer: &str) -> Result<()> {
        http::check_url(issuer)?;
        self.issuer = Some(issuer.to_string());
        Ok(())
    }

    /// jwt_bearer: the assertion's `aud` (default: the token endpoint).
    pub fn assertion_audience(&mut self, audience: &str) -> Result<()> {
        self.require(&[Kind::JwtBearer], "assertion_audience")?;
        non_empty("assertion audience", audience)?;
        self.assertion_audience = Some(audience.to_string());
        Ok(())
    }

    /// jwt_bearer: how long the assertion is valid (1 s to 1 h; default 5 minutes).
    pub fn assertion_lifetime_ms(&mut self, ms: i64) -> Result<()> {
        self.require(&[Kind::JwtBearer], "assertion_lifetime_ms")?;
        if !(1_000..=3_600_000).contains(&ms) {
            return Err(Error::invalid_argument(format!("assertion_lifetime_ms must be 1000 to 3600000, not {ms}")));
        }
        self.assertion_lifetime_s = ms / 1000;
        Ok(())
    }

    /// token_exchange: the actor token (a template, usually) and its type (`None`: an
    /// access token).
    pub fn actor_token(&mut self, token: &str, token_type: Option<&str>) -> Result<()> {
        self.require(&[Kind::TokenExchange], "actor_token")?;
        let kind = token_type.filter(|t| !t.is_empty()).unwrap_or("urn:ietf:params:oauth:token-type:access_token");
        upsert(&mut self.data, "actor_token", token, false);
        upsert(&mut self.data, "actor_token_type", kind, false);
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
    /// (`None`: the step's own token endpoint; grant_type=refresh_token) before falling back
    /// to a full fetch. The request goes the
    /// way of the step's own: same TLS settings, deadline, retries, hooks and client
    /// authentication method. `client_id` `None`: the step's own client (the
    /// client_credentials client, or the Basic user), and then `client_secret` must be `None`
    /// too; a `client_id` without secret is a public client.
    pub fn refresh_endpoint(
        &mut self,
        token_url: Option<&str>,
        client_id: Option<&str>,
        client_secret: Option<&str>,
    ) -> Result<()> {
        if let Some(url) = token_url {
            http::check_url(url)?;
        }
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
        self.refresh = Some(RefreshEndpoint { token_url: token_url.map(str::to_string), client });
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

    /// The HTTP part of [`Self::build`] (URL, templates, key and certificates checked),
    /// without the step.
    pub(crate) fn build_http(self) -> Result<HttpFetcher> {
        let step = |e: Error| e.with_step(&self.name);
        let endpoint = match &self.issuer {
            Some(issuer) => Endpoint::Issuer(issuer.clone()),
            None => {
                http::check_url(&self.url).map_err(step)?;
                Endpoint::Url(self.url.clone())
            }
        };
        let source = match self.kind {
            Kind::Header => {
                TokenSource::Header { header: self.token_header.clone(), token_type: self.token_type.clone() }
            }
            _ => TokenSource::Body(self.fields.clone()),
        };
        let key = match &self.jwt_key {
            Some((path, alg, kid)) => {
                let key = SigningKey::from_pem_file(path, *alg, kid.as_deref()).map_err(step)?;
                let key = match &self.jwt_certificate {
                    Some(cert) => key.with_certificate(cert).map_err(step)?,
                    None => key,
                };
                Some(Arc::new(key))
            }
            None if self.jwt_certificate.is_some() => {
                return Err(step(Error::config("a JWT certificate (jwt_key cert) needs its key (jwt_key file)")))
            }
            None => None,
        };
        if self.client_auth == ClientAuthMethod::PrivateKeyJwt && key.is_none() {
            return Err(step(Error::config("client_auth private_key_jwt needs a key (jwt_key)")));
        }
        let grant = match self.kind {
            Kind::ClientCredentials => Some(Grant::ClientCredentials { scope: self.scope.clone() }),
            Kind::JwtBearer => {
                let (issuer, subject) = self.bearer.clone().expect("set by the constructor");
                let key = key.clone().ok_or_else(|| step(Error::config("a jwt_bearer step needs a key (jwt_key)")))?;
                Some(Grant::JwtBearer(BearerAssertion {
                    issuer,
                    subject,
                    audience: self.assertion_audience.clone(),
                    scope: self.scope.clone(),
                    lifetime_s: self.assertion_lifetime_s,
                    key,
                }))
            }
            Kind::TokenExchange => Some(Grant::TokenExchange),
            Kind::Body | Kind::Header => None,
        };
        Ok(HttpFetcher {
            method: self.method,
            endpoint,
            headers: self.templates(&self.headers, "request header")?,
            data: self.templates(&self.data, "request data")?,
            query: self.templates(&self.query, "query parameter")?,
            content_type: self.content_type,
            source,
            basic_auth: self.basic_auth.clone(),
            grant,
            client: self.client.clone(),
            client_auth: ClientAuth { method: self.client_auth, key },
            refresh: self.refresh.clone(),
            policy: Policy {
                tls: Tls::new(
                    self.verify_tls,
                    self.ca_file.as_deref(),
                    self.client_cert.as_ref().map(|(c, k)| (c.as_str(), k.as_str())),
                )
                .map_err(step)?,
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
