//! The one place that talks HTTP. ureq agents keep a connection pool with keep-alive: two
//! shared ones (TLS verified against the system store, and not, for fetchers that turn
//! verification off) and one per fetcher with its own CA file or client certificate
//! ([`crate::tls`]). Every request has a total deadline that covers all attempts and the
//! body; bodies are capped; redirects are returned, not followed; retries follow DESIGN.md.

use crate::error::{status_is_retryable, Error, Result, ResultCode};
use crate::tls::Tls;
use base64::Engine;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use ureq::http;
// The `unversioned` API may change in a minor ureq release; Cargo.lock pins the version.
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, NextTimeout, RustlsConnector};

/// Default total deadline of one request, all attempts included.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Default cap on a response body.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// GET or POST, the two methods token endpoints use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    /// Parses a method name, ignoring case.
    pub fn parse(s: &str) -> Result<Method> {
        if s.eq_ignore_ascii_case("GET") {
            Ok(Method::Get)
        } else if s.eq_ignore_ascii_case("POST") {
            Ok(Method::Post)
        } else {
            Err(Error::invalid_argument(format!("unsupported HTTP method \"{s}\": use GET or POST")))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// How request data is encoded in a POST body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    Form,
    Json,
}

/// A request ready to send: URL without query, headers, data, query and an optional raw body
/// that replaces the encoded data. With GET, data goes into the query string. No `Debug`: it
/// holds secrets.
#[derive(Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub data: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub content_type: ContentType,
    pub raw_body: Option<(Vec<u8>, String)>,
}

/// Replaces the value of `key` (case-insensitively for headers) or appends it.
pub fn upsert(list: &mut Vec<(String, String)>, key: &str, value: &str, ignore_case: bool) {
    let same = |k: &String| if ignore_case { k.eq_ignore_ascii_case(key) } else { k == key };
    match list.iter_mut().find(|(k, _)| same(k)) {
        Some(entry) => entry.1 = value.to_string(),
        None => list.push((key.to_string(), value.to_string())),
    }
}

fn non_empty_key(what: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid_argument(format!("{what} must not be empty")));
    }
    Ok(())
}

/// Changes a request hook may make. Each checks its input as the builder's setters do.
impl Request {
    /// Sets (or replaces, matching case-insensitively) a header.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<()> {
        check_header(name, value)?;
        upsert(&mut self.headers, name, value, true);
        Ok(())
    }

    /// Removes every header called `name` (any case); absent is not an error.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Sets (or replaces) a data field.
    pub fn set_data(&mut self, key: &str, value: &str) -> Result<()> {
        non_empty_key("data key", key)?;
        upsert(&mut self.data, key, value, false);
        Ok(())
    }

    /// The data field `key`, if the request has it.
    pub fn data(&self, key: &str) -> Option<&str> {
        self.data.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Removes the data field `key`; absent is not an error.
    pub fn remove_data(&mut self, key: &str) {
        self.data.retain(|(k, _)| k != key);
    }

    /// Sets (or replaces) a query parameter.
    pub fn set_query(&mut self, key: &str, value: &str) -> Result<()> {
        non_empty_key("query parameter name", key)?;
        upsert(&mut self.query, key, value, false);
        Ok(())
    }

    /// Sends `body` as it is, with `content_type` (`None`: "application/octet-stream"),
    /// instead of the encoded data (with GET too).
    pub fn set_body(&mut self, body: &[u8], content_type: Option<&str>) -> Result<()> {
        let content_type = content_type.unwrap_or("application/octet-stream");
        check_header("Content-Type", content_type)?;
        non_empty_key("content type", content_type.trim())?;
        self.raw_body = Some((body.to_vec(), content_type.to_string()));
        Ok(())
    }
}

/// Told of each retry: the attempt about to start (2 for the first retry) and the wait before it.
pub type OnRetry<'a> = dyn Fn(u32, Duration) + Sync + 'a;

/// Limits and retry rules of one call.
#[derive(Clone)]
pub struct Policy {
    pub timeout: Duration,
    /// TLS trust and identity (shared; a fetcher with its own CA or client certificate has
    /// its own agent).
    pub tls: Arc<Tls>,
    /// Attempts in all, at least 1.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_body: usize,
    /// False for refresh-token requests: a failure after the request may have reached the
    /// server (the server may have rotated the token) is not retried.
    pub retry_after_send: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            tls: Tls::system(),
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_body: DEFAULT_MAX_BODY,
            retry_after_send: true,
        }
    }
}

/// A received answer: status, headers and the whole (capped, decompressed) body. No `Debug`:
/// the body holds tokens.
pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(http::HeaderValue::as_bytes)
    }

    /// `Retry-After` in milliseconds from now, given as seconds or as an HTTP date.
    pub fn retry_after_ms(&self, now_ms: i64) -> Option<i64> {
        let value = std::str::from_utf8(self.header("retry-after")?).ok()?.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX));
        }
        let at = httpdate::parse_http_date(value).ok()?;
        let at_ms = at.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_millis();
        Some((i64::try_from(at_ms).unwrap_or(i64::MAX) - now_ms).max(0))
    }

    #[cfg(test)]
    pub fn for_test(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), http::HeaderValue::from_str(v).unwrap());
        }
        Response { status, headers: map, body: body.to_vec() }
    }
}

/// ureq's resolver, except that an IP-literal host is used as it is. ureq resolves before
/// every request, pooled connection or not, and with a deadline its resolver spawns a thread
/// to bound the lookup: for a literal address that is pure cost (tens of microseconds).
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().map(|h| h.trim_start_matches('[').trim_end_matches(']'));
        let port = uri.port_u16().or(match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        if let (Some(ip), Some(port)) = (host.and_then(|h| h.parse::<IpAddr>().ok()), port) {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        self.0.resolve(uri, config, timeout)
    }
}

#[doc(hidden)]
pub fn agent(tls: ureq::tls::TlsConfig) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("tokenforge/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .max_idle_connections_per_host(8)
        .build();
    // ureq's default chain (CONNECT proxy, TCP, TLS) with our TCP transport (src/tcp.rs).
    let connector =
        ().chain(ConnectProxyConnector::default()).chain(crate::tcp::TcpConnector).chain(RustlsConnector::default());
    ureq::Agent::with_parts(config, connector, LiteralFirst::default())
}

/// `Basic base64(user:password)`; with `form_encoded`, each part is form-encoded first, as
/// RFC 6749 section 2.3.1 asks of OAuth clients.
pub fn basic_authorization(user: &str, password: &str, form_encoded: bool) -> String {
    let raw = if form_encoded {
        let mut raw = String::new();
        encode_component(user, &mut raw);
        raw.push(':');
        encode_component(password, &mut raw);
        raw
    } else {
        format!("{user}:{password}")
    };
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// Percent-encodes for `application/x-www-form-urlencoded` (and query strings).
pub fn form_encode(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(k, &mut out);
        out.push('=');
        encode_component(v, &mut out);
    }
    out
}

fn encode_component(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// `scheme://host[:port]/path` of a URL: no user-info, query or fragment, which may hold
/// secrets. Used in messages.
pub fn display_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut];
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Checks that `url` is an absolute http or https URL with a host.
pub fn check_url(url: &str) -> Result<()> {
    let bad = |why: &str| Error::invalid_argument(format!("bad URL \"{}\": {why}", display_url(url)));
    let uri: http::Uri = url.parse().map_err(|_| bad("not a valid URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(_) => return Err(bad("scheme must be http or https")),
        None => return Err(bad("not absolute (no scheme)")),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(bad("no host")),
    }
}

/// A header name is an RFC 9110 token; a value has no CR, LF or NUL.
pub fn check_header(name: &str, value: &str) -> Result<()> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() || name.is_empty() {
        return Err(Error::invalid_argument(format!("invalid header name \"{}\"", name.escape_debug())));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::invalid_argument(format!("value of header \"{name}\" contains a line break or NUL")));
    }
    Ok(())
}

/// What became of one attempt that did not give an answer.
struct Failure {
    error: Error,
    /// True when the request certainly did not reach the server (resolve or connect failed).
    before_send: bool,
}

impl Request {
    fn full_url(&self) -> String {
        let mut query = self.query.clone();
        if self.method == Method::Get && self.raw_body.is_none() {
            query.extend(self.data.iter().cloned());
        }
        if query.is_empty() {
            return self.url.clone();
        }
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{}", self.url, form_encode(&query))
    }

    /// The body and its Content-Type, or `None` for a request without body.
    fn body(&self) -> Option<(Vec<u8>, &str)> {
        if let Some((bytes, ct)) = &self.raw_body {
            return Some((bytes.clone(), ct.as_str()));
        }
        if self.method == Method::Get {
            return None;
        }
        Some(match self.content_type {
            ContentType::Form => (form_encode(&self.data).into_bytes(), "application/x-www-form-urlencoded"),
            ContentType::Json => {
                let map: serde_json::Map<String, serde_json::Value> =
                    self.data.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
                (serde_json::Value::Object(map).to_string().into_bytes(), "application/json")
            }
        })
    }

    fn build(&self) -> Result<http::Request<Vec<u8>>> {
        let body = self.body();
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(self.full_url())
            .header("accept", "application/json");
        for (k, v) in &self.headers {
            if body.is_some() && k.eq_ignore_ascii_case("content-type") {
                continue; // the body says what it is
            }
            builder = builder.header(k.as_str(), v.as_str());
        }
        let bytes = match body {
            Some((bytes, ct)) => {
                builder = builder.header("content-type", ct);
                bytes
            }
            None => Vec::new(),
        };
        builder
            .body(bytes)
            .map_err(|_| Error::invalid_argument(format!("cannot build a request to {}", display_url(&self.url))))
    }
}

/// Sends `request` under `policy`: retries connect failures, 408, 429 and 5xx with exponential
/// backoff and jitter, honouring Retry-After, never past the deadline. Returns the final
/// answer whatever its status; transport failures are errors. `on_retry` hears of each retry
/// (the attempt about to start and the wait before it).
pub fn send(request: &Request, policy: &Policy, on_retry: Option<&OnRetry<'_>>) -> Result<Response> {
    let deadline = Instant::now() + policy.timeout;
    let prepared = request.build()?;
    let mut attempt = 1u32;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(timeout_error(request, policy));
        }
        let outcome = attempt_once(prepared.clone(), remaining, policy);
        let wait = match &outcome {
            Ok(r) if status_is_retryable(r.status) => {
                r.retry_after_ms(crate::token::now_ms()).map(|ms| Duration::from_millis(ms as u64))
            }
            Ok(_) => return outcome.map_err(|f| f.error),
            Err(f) if f.error.is_retryable() && (f.before_send || policy.retry_after_send) => None,
            Err(_) => return outcome.map_err(|f| f.error),
        };
        let wait = wait.unwrap_or_else(|| backoff(policy.base_delay, attempt));
        if attempt >= policy.max_attempts || Instant::now() + wait >= deadline {
            return outcome.map_err(|f| f.error);
        }
        attempt += 1;
        if let Some(f) = on_retry {
            f(attempt, wait);
        }
        std::thread::sleep(wait);
    }
}

fn attempt_once(
    req: http::Request<Vec<u8>>,
    remaining: Duration,
    policy: &Policy,
) -> std::result::Result<Response, Failure> {
    let agent = policy.tls.agent(agent);
    let uri = req.uri().clone();
    let req = agent.configure_request(req).timeout_global(Some(remaining)).build();
    let fail = |e: ureq::Error| classify(e, &uri.to_string(), policy);
    let (parts, mut body) = agent.run(req).map_err(fail)?.into_parts();
    let body = body.with_config().limit(policy.max_body as u64).read_to_vec().map_err(fail)?;
    Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body })
}

fn timeout_error(request: &Request, policy: &Policy) -> Error {
    Error::new(
        ResultCode::Timeout,
        format!(
            "request to {} did not complete within its {} ms deadline",
            display_url(&request.url),
            policy.timeout.as_millis()
        ),
    )
}

fn classify(e: ureq::Error, url: &str, policy: &Policy) -> Failure {
    use std::io::ErrorKind;
    let url = display_url(url);
    let transport = |what: String| Error::new(ResultCode::Transport, format!("{what} ({url})"));
    let (error, before_send) = match e {
        ureq::Error::Timeout(kind) => (
            Error::new(
                ResultCode::Timeout,
                format!("request to {url} did not complete within its {} ms deadline", policy.timeout.as_millis()),
            ),
            matches!(kind, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ),
        ureq::Error::HostNotFound => (transport("host not found".into()), true),
        ureq::Error::ConnectionFailed => (transport("connection failed".into()), true),
        ureq::Error::Io(io) if io.kind() == ErrorKind::ConnectionRefused => {
            (transport("connection refused".into()), true)
        }
        ureq::Error::Io(io) if io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()).is_some() => {
            let err = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()).expect("checked");
            (tls_error(host_of(&url), &tls_reason(err)), false)
        }
        ureq::Error::Io(io) => (transport(format!("I/O error: {io}")), false),
        ureq::Error::BodyExceedsLimit(limit) => {
            (Error::response(format!("response body exceeds the {limit} byte limit ({url})")), false)
        }
        ureq::Error::LargeResponseHeader(..) => {
            (Error::response(format!("response headers are too large ({url})")), false)
        }
        ureq::Error::Decompress(..) => {
            (Error::response(format!("response body could not be decompressed ({url})")), false)
        }
        ureq::Error::Tls(msg) => (tls_error(host_of(&url), msg), false),
        ureq::Error::Rustls(err) => (tls_error(host_of(&url), &tls_reason(&err)), false),
        ureq::Error::Protocol(err) => (transport(format!("HTTP protocol error: {err}")), false),
        ureq::Error::InvalidProxyUrl | ureq::Error::ConnectProxyFailed(_) => {
            (transport("proxy from the environment could not be used".into()), true)
        }
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
            (Error::invalid_argument(format!("invalid request URL ({url})")), true)
        }
        _ => (transport("HTTP request failed".into()), false),
    };
    Failure { error, before_send }
}

/// `host[:port]` of a displayed URL.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    &rest[..rest.find('/').unwrap_or(rest.len())]
}

/// A TLS failure: not retryable, and its own result code, since only a change of trust or
/// certificates mends it.
fn tls_error(host: &str, reason: &str) -> Error {
    Error::new(ResultCode::Tls, format!("TLS with {host} failed: {reason}")).with_retryable(false)
}

/// What a rustls error means for the person reading the message.
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C};
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                "the server's certificate is not trusted: unknown issuer (not signed by a trusted CA; see ca_file)"
                    .into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the server's certificate is for another host name".into()
            }
            C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "the server's certificate is not valid yet".into(),
            C::Revoked => "the server's certificate has been revoked".into(),
            C::BadSignature => "the server's certificate has a bad signature".into(),
            other => format!("the server's certificate is not acceptable ({other:?})"),
        },
        rustls::Error::AlertReceived(
            a @ (A::CertificateRequired | A::BadCertificate | A::UnknownCA | A::CertificateUnknown | A::AccessDenied),
        ) => {
            format!("the server refused our client certificate, or wanted one and got none (alert {a:?})")
        }
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
        other => format!("{other}"),
    }
}

/// `base * 2^(attempt-1)`, capped at 30 s, with jitter: uniform in its upper half.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let full = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(Duration::from_secs(30));
    let half = full / 2;
    let random = RandomState::new().hash_one(Instant::now());
    half + Duration::from_nanos(random % (half.as_nanos() as u64 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_verified_unless_turned_off() {
        let verifying = Tls::new(true, None, None).unwrap().agent(agent);
        let not = Tls::new(false, None, None).unwrap().agent(agent);
        assert!(!verifying.config().tls_config().disable_verification());
        assert!(not.config().tls_config().disable_verification());
        assert_eq!(verifying.config().max_redirects(), 0);
        assert!(!verifying.config().http_status_as_error());
    }

    #[test]
    fn basic_authorization_encodes() {
        assert_eq!(basic_authorization("Aladdin", "open sesame", false), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        // RFC 6749 2.3.1: form-encoded first, so ':' in the id cannot split it.
        assert_eq!(basic_authorization("a:b", "c d", true), basic_authorization("a%3Ab", "c+d", false));
    }

    #[test]
    fn form_encoding() {
        let pairs = vec![("a b".into(), "x&y=z".into()), ("ü".into(), "~*".into())];
        assert_eq!(form_encode(&pairs), "a+b=x%26y%3Dz&%C3%BC=%7E*");
    }

    #[test]
    fn urls_are_shown_without_secrets() {
        assert_eq!(display_url("https://u:p@h:8/p/q?secret=1#f"), "https://h:8/p/q");
        assert_eq!(display_url("http://h"), "http://h");
    }

    #[test]
    fn url_checks() {
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("https://example.com").is_ok());
        for bad in ["", "example.com/x", "ftp://h/x", "http://", "http://exa mple.com", "http:///x"] {
            assert_eq!(check_url(bad).unwrap_err().code(), ResultCode::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn header_checks() {
        assert!(check_header("X-A", "v").is_ok());
        assert!(check_header("X A", "v").is_err());
        assert!(check_header("", "v").is_err());
        assert!(check_header("X-A\r\n", "v").is_err());
        assert!(check_header("X-A", "v\r\nX-B: w").is_err());
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let base = Duration::from_millis(100);
        for attempt in 1..5 {
            let full = base * (1 << (attempt - 1));
            let d = backoff(base, attempt);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert!(backoff(base, 40) <= Duration::from_secs(30));
    }

    #[test]
    fn get_moves_data_to_the_query() {
        let r = Request {
            method: Method::Get,
            url: "http://h/p".into(),
            headers: vec![],
            data: vec![("d".into(), "1".into())],
            query: vec![("q".into(), "2".into())],
            content_type: ContentType::Form,
            raw_body: None,
        };
        assert_eq!(r.full_url(), "http://h/p?q=2&d=1");
        assert!(r.body().is_none());
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let r = Response::for_test(429, &[("Retry-After", "7")], b"");
        assert_eq!(r.retry_after_ms(0), Some(7000));
        let r = Response::for_test(503, &[("Retry-After", "Thu, 01 Jan 1970 00:00:10 GMT")], b"");
        assert_eq!(r.retry_after_ms(4000), Some(6000));
        let r = Response::for_test(503, &[("Retry-After", "soon")], b"");
        assert_eq!(r.retry_after_ms(0), None);
    }
}
