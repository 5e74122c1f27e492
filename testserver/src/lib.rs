//! A scriptable loopback token server for tokenforge's tests, examples and demo, over HTTP
//! ([`Server::start`]) or HTTPS with a certificate made at start ([`Server::start_tls`];
//! rustls and rcgen). Binds 127.0.0.1 on a free port; one thread per connection, keep-alive.
//!
//! Routes (any method unless noted; request data is read from a form or JSON body, or from
//! the query string):
//!
//! | route | answer |
//! |---|---|
//! | `/health` | 200 `ok` |
//! | `/echo` | a token whose extra fields describe the request: `method`, `query`, `body`, `content_type`, `header.<lower-case name>` |
//! | `/oauth/token` | OAuth2 (client assertions verified against the keys of `add_jwt_key`, every claim checked, each `jti` once; a client with a certificate, over mutual TLS, by its `client_id` alone; `jwt-bearer` and `token-exchange` grants too): `client_credentials` (client `X` has secret `X-secret`, Basic or body; scope `offline` adds a refresh token) and `refresh_token` (rotates, and a used refresh token is refused with `invalid_grant`, as real servers do; `rt-static` is never rotated); RFC 6749 errors otherwise. `hits("grant:<type>")` counts each grant type, `hits("grant:rejected")` the reused refresh tokens |
//! | `/v1/app/token` | `{"token":"app-N","expires_in":3600}` for valid `client_id`/`client_secret` data |
//! | `/v1/user/token` | user token for `username`/`password` data and a valid `X-App-Token` header |
//! | `/device/register` | header `X-Device-Token: dev-N` for an `X-Device-ID` header |
//! | `/user/auth` | user token for a valid `X-Device-Token` (and, if sent, a valid `Authorization`) |
//! | `/auth/session` | header `X-Session-Token: Session sess-N` for an `X-API-Key` header |
//! | `/header-token` | header `X-Auth-Token: Bearer hdr-N` |
//! | `/nested` | `{"data":{"auth":{"token":…,"type":"Custom","ttl":"120"}},"session":"s-1"}` |
//! | `/status/<code>` | that status, plain-text body |
//! | `/oauth-error/<status>/<error>` | an RFC 6749 error body with that status |
//! | `/flaky/<key>/<n>` | 503 for the first n requests of `key`, then a token |
//! | `/ratelimit/<key>/<secs>` | 429 with `Retry-After: secs` the first time, then a token |
//! | `/slow/<ms>` | a token after `ms` |
//! | `/trickle/<ms>` | a 200 whose 1000-byte body arrives one byte every `ms` |
//! | `/big/<bytes>` | a token response padded to `bytes` |
//! | `/gzip` | a gzip-encoded token response |
//! | `/malformed/<kind>` | `not-json`, `array`, `empty`, `null-token`, `empty-token`, `number-token`, `html`, `truncated` |
//! | `/redirect` | 302 to `/oauth/token` |
//! | `/close` | closes the connection without answering |
//! | `/answer-then-close` | a token (without `Connection: close`), then closes the connection |
//! | `/switch/<key>` | a token `<key>-N`, or 503 while `key` is broken |
//! | `/_break/<key>`, `/_fix/<key>` | break or mend `/switch/<key>` |
//! | `/_count/<path>` | `{"access_token":"count","count":N}`: how many requests `/<path>` has had |
//! | `/faulty/<key>` | a token `<key>-N`, except that a share of requests fail (set with `/_faults`): half 503 with an OAuth `temporarily_unavailable` body, a quarter a dropped connection, a quarter a token held 0.3 s; 503 for all while `key` is broken (`/_break`) |
//! | `/_jwt_key` | registers the key verifying the JWT assertions of `issuer` (form: `issuer`, `alg`, `key`: a PKCS#8 PEM private key, or the HS256 secret) |
//! | `/.well-known/openid-configuration`, `/mismatch/...`, `/.well-known/oauth-authorization-server/tenant` | authorization server metadata (the last at RFC 8414's location only; `/mismatch` names another issuer) |
//! | `/_faults/<key>/<permille>` | sets the failing share of `/faulty/<key>` (0 to 1000) |
//! | `/custom/auth` | `{"custom_token":…,"ttl":3600,"session":…}` for an `X-API-Key` header and a JSON body `{"action":"authenticate"}` |
//!
//! It also acts as an HTTP proxy: after `CONNECT host:port` it serves the tunnelled requests
//! itself, adding the request header `X-Via-Proxy: host:port`, so that `/echo` shows whether
//! a client used a proxy.

pub mod fleet;
mod jwt;
pub mod pki;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Default)]
struct State {
    counter: AtomicU64,
    connections: AtomicU64,
    active: AtomicU64,
    max_active: AtomicU64,
    broken: Mutex<HashSet<String>>,
    faults: Mutex<HashMap<String, u64>>,
    hits: Mutex<HashMap<String, u64>>,
    issued: Mutex<HashSet<String>>,
    stopping: AtomicBool,
    /// `http(s)://127.0.0.1:PORT`: the audience of assertions, the issuer of the metadata.
    base: Mutex<String>,
    verifier: jwt::Verifier,
}

impl State {
    fn next(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("{prefix}-{n}");
        self.issued.lock().unwrap().insert(token.clone());
        token
    }

    fn is_issued(&self, token: &str) -> bool {
        self.issued.lock().unwrap().contains(token)
    }

    fn revoke(&self, token: &str) -> bool {
        self.issued.lock().unwrap().remove(token)
    }

    fn hit(&self, path: &str) -> u64 {
        let mut hits = self.hits.lock().unwrap();
        let n = hits.entry(path.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

/// A running server; stopped when dropped.
pub struct Server {
    port: u16,
    state: Arc<State>,
    accept: Option<thread::JoinHandle<()>>,
    /// Whether it speaks HTTPS.
    tls: bool,
    /// The PEM certificate of an HTTPS server made by [`Server::start_tls`] (self-signed, for
    /// 127.0.0.1 and localhost).
    certificate: Option<String>,
}

impl Server {
    /// Starts an HTTP server on 127.0.0.1 on a port the OS chooses.
    pub fn start() -> std::io::Result<Server> {
        Server::start_with(None)
    }

    /// Starts an HTTPS server on 127.0.0.1 on a port the OS chooses, with a self-signed
    /// certificate made now for `127.0.0.1` and `localhost` (see [`Server::certificate_pem`]).
    pub fn start_tls() -> std::io::Result<Server> {
        let invalid = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .map_err(|e| invalid(&e))?;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(&e))?
            .with_no_client_auth()
            .with_single_cert(vec![made.cert.der().clone()], key)
            .map_err(|e| invalid(&e))?;
        let mut server = Server::start_with(Some(Arc::new(config)))?;
        server.certificate = Some(made.cert.pem());
        Ok(server)
    }

    /// Starts an HTTPS server with a rustls configuration of the caller's (see
    /// [`pki::server_config`]: certificates of a test CA, client certificates required...).
    /// Requests on a connection whose client presented a certificate carry the header
    /// `X-Client-Certificate: present`, and `/oauth/token` then accepts a client by its
    /// `client_id` alone (`tls_client_auth`, RFC 8705).
    pub fn start_with_tls(config: Arc<rustls::ServerConfig>) -> std::io::Result<Server> {
        Server::start_with(Some(config))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<Server> {
        let is_tls = tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State::default());
        *state.base.lock().unwrap() = format!("{}://127.0.0.1:{port}", if is_tls { "https" } else { "http" });
        let st = state.clone();
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if st.stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    st.connections.fetch_add(1, Ordering::SeqCst);
                    let st = st.clone();
                    let tls = tls.clone();
                    thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
                        let _ = stream.set_nodelay(true);
                        match tls.map(rustls::ServerConnection::new) {
                            None => serve_connection(stream, &st, |_| false),
                            Some(Ok(tls)) => serve_connection(rustls::StreamOwned::new(tls, stream), &st, |s| {
                                s.conn.peer_certificates().is_some_and(|c| !c.is_empty())
                            }),
                            Some(Err(_)) => {}
                        }
                    });
                }
            }
        });
        Ok(Server { port, state, accept: Some(accept), tls: is_tls, certificate: None })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, or `https://` for a server made by [`Server::start_tls`].
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The PEM certificate of an HTTPS server, to trust it; `None` for plain HTTP.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate.as_deref()
    }

    /// How many connections clients have opened (keep-alive reuses them).
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// The most requests the server has been answering at the same time.
    pub fn max_concurrent(&self) -> u64 {
        self.state.max_active.load(Ordering::SeqCst)
    }

    /// Makes `/switch/<key>` and `/faulty/<key>` answer 503 (`broken`) or tokens again.
    pub fn set_broken(&self, key: &str, broken: bool) {
        let mut set = self.state.broken.lock().unwrap();
        if broken {
            set.insert(key.to_string());
        } else {
            set.remove(key);
        }
    }

    /// Registers the key that verifies the JWT assertions of `issuer` (a client id, for
    /// client assertions; the `iss` of jwt_bearer grants): for RS256, PS256 and ES256 the
    /// public half of the PKCS#8 private key in `key` (PEM), for HS256 the secret itself.
    pub fn add_jwt_key(&self, issuer: &str, alg: &str, key: &str) {
        self.state.verifier.keys.lock().unwrap().insert(issuer.to_string(), jwt::VerifyKey::new(alg, key));
    }

    /// Makes `permille` of the requests to `/faulty/<key>` fail (0: none; 1000: all).
    pub fn set_faults(&self, key: &str, permille: u64) {
        self.state.faults.lock().unwrap().insert(key.to_string(), permille.min(1000));
    }

    /// How many requests `path` has had.
    pub fn hits(&self, path: &str) -> u64 {
        self.state.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Request data: the form or JSON body, else the query string.
    fn data(&self) -> HashMap<String, String> {
        let ct = self.header("content-type").unwrap_or("");
        if ct.starts_with("application/json") {
            return parse_json_object(&String::from_utf8_lossy(&self.body));
        }
        let mut map = parse_form(&self.query);
        map.extend(parse_form(&String::from_utf8_lossy(&self.body)));
        map
    }
}

fn read_request(reader: &mut BufReader<impl Read>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len.min(16 << 20)];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Request { method, path, query, headers, body })
}

/// Serves the requests of one connection (plain or TLS) until it closes; dropping the stream
/// closes it. `client_certificate` tells whether the client presented a certificate.
fn serve_connection<S: Read + Write>(stream: S, state: &State, client_certificate: impl Fn(&S) -> bool) {
    let mut reader = BufReader::new(stream);
    let mut via_proxy = None;
    while let Some(mut req) = read_request(&mut reader) {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        if req.method == "CONNECT" {
            // Act as an HTTP proxy tunnelling to itself; note the tunnel's target.
            via_proxy = Some(req.path.clone());
            if reader.get_mut().write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
                return;
            }
            continue;
        }
        if let Some(target) = &via_proxy {
            req.headers.push(("X-Via-Proxy".to_string(), target.clone()));
        }
        req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("x-client-certificate"));
        if client_certificate(reader.get_ref()) {
            req.headers.push(("X-Client-Certificate".to_string(), "present".to_string()));
        }
        state.hit(&req.path);
        let active = state.active.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_active.fetch_max(active, Ordering::SeqCst);
        let keep = handle(&req, state, reader.get_mut());
        state.active.fetch_sub(1, Ordering::SeqCst);
        if !keep {
            return;
        }
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, body: String) -> Answer {
        Answer { status, headers: vec![("Content-Type".into(), "application/json".into())], body: body.into_bytes() }
    }

    fn text(status: u16, body: &str) -> Answer {
        Answer { status, headers: vec![("Content-Type".into(), "text/plain".into())], body: body.as_bytes().to_vec() }
    }

    fn header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Answer {
    Answer::json(status, format!(r#"{{"error":"{error}","error_description":"{description}"}}"#))
}

fn token_json(token: &str, expires_in: u64, extra: &str) -> String {
    format!(r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{expires_in}{extra}}}"#)
}

fn write_answer(out: &mut dyn Write, a: &Answer) -> bool {
    let mut head = format!("HTTP/1.1 {} {}\r\n", a.status, reason(a.status));
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", a.body.len()));
    // One write: a head and a body in two small writes meet Nagle and delayed ACKs (40 ms).
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&a.body);
    out.write_all(&bytes).is_ok() && out.flush().is_ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Answers one request; false when the connection must close.
fn handle(req: &Request, state: &State, out: &mut dyn Write) -> bool {
    if let Some(answer) = metadata(&req.path, state) {
        return write_answer(out, &answer);
    }
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let answer = match segments.as_slice() {
        ["health"] => Answer::text(200, "ok"),
        ["echo"] => echo(req),
        ["oauth", "token"] => oauth_token(req, state),
        ["v1", "app", "token"] => {
            let d = req.data();
            match (d.get("client_id"), d.get("client_secret")) {
                (Some(id), Some(secret)) if *secret == format!("{id}-secret") => {
                    Answer::json(200, format!(r#"{{"token":"{}","expires_in":3600}}"#, state.next("app")))
                }
                _ => oauth_error(401, "invalid_client", "unknown app"),
            }
        }
        ["v1", "user", "token"] => {
            let d = req.data();
            let app_ok = req.header("x-app-token").is_some_and(|t| state.is_issued(t));
            if !app_ok {
                oauth_error(401, "invalid_token", "missing or unknown app token")
            } else if !d.contains_key("username") || !d.contains_key("password") {
                oauth_error(400, "invalid_request", "username and password required")
            } else {
                let extra = format!(r#","refresh_token":"{}""#, state.next("rt"));
                Answer::json(200, token_json(&state.next("user"), 1800, &extra))
            }
        }
        ["device", "register"] => match req.header("x-device-id") {
            Some(_) => Answer::json(200, r#"{"registered":true}"#.into()).header("X-Device-Token", &state.next("dev")),
            None => oauth_error(400, "invalid_request", "X-Device-ID required"),
        },
        ["user", "auth"] => {
            let device_ok = req.header("x-device-token").is_some_and(|t| state.is_issued(t));
            let app_ok =
                req.header("authorization").is_none_or(|a| a.split_once(' ').is_some_and(|(_, t)| state.is_issued(t)));
            if device_ok && app_ok {
                Answer::json(200, token_json(&state.next("user"), 900, ""))
            } else {
                oauth_error(401, "invalid_token", "device or app token not valid")
            }
        }
        ["auth", "session"] => match req.header("x-api-key") {
            Some(_) => Answer::text(200, "").header("X-Session-Token", &format!("Session {}", state.next("sess"))),
            None => oauth_error(401, "invalid_client", "X-API-Key required"),
        },
        ["custom", "auth"] => {
            let action = req.data().get("action").cloned();
            match (req.header("x-api-key"), action.as_deref()) {
                (Some(_), Some("authenticate")) => Answer::json(
                    200,
                    format!(
                        r#"{{"custom_token":"{}","ttl":3600,"session":"{}"}}"#,
                        state.next("cust"),
                        state.next("session")
                    ),
                ),
                _ => Answer::text(401, "custom auth failed"),
            }
        }
        ["switch", key] => {
            if state.broken.lock().unwrap().contains(*key) {
                Answer::text(503, "switched off")
            } else {
                Answer::json(200, token_json(&state.next(key), 3600, ""))
            }
        }
        ["faulty", key] if state.broken.lock().unwrap().contains(*key) => {
            oauth_error(503, "temporarily_unavailable", "switched off")
        }
        ["faulty", key] => match fault(state, key) {
            Fault::None => Answer::json(200, token_json(&state.next(key), 3600, "")),
            Fault::Unavailable => oauth_error(503, "temporarily_unavailable", "try again later"),
            Fault::Drop => return false,
            Fault::Hold => {
                thread::sleep(Duration::from_millis(300));
                Answer::json(200, token_json(&state.next(key), 3600, ""))
            }
        },
        ["_jwt_key"] => {
            // Registers a key for JWT assertions, for tests in other processes (Go, C++).
            let d = req.data();
            match (d.get("issuer"), d.get("alg"), d.get("key")) {
                (Some(issuer), Some(alg), Some(key)) => {
                    state.verifier.keys.lock().unwrap().insert(issuer.clone(), jwt::VerifyKey::new(alg, key));
                    Answer::json(200, r#"{"access_token":"ok"}"#.into())
                }
                _ => oauth_error(400, "invalid_request", "issuer, alg and key required"),
            }
        }
        ["_faults", key, permille] => {
            state.faults.lock().unwrap().insert(key.to_string(), permille.parse::<u64>().unwrap_or(0).min(1000));
            Answer::json(200, r#"{"access_token":"ok"}"#.into())
        }
        ["_break", key] | ["_fix", key] => {
            let mut set = state.broken.lock().unwrap();
            if segments[0] == "_break" {
                set.insert(key.to_string());
            } else {
                set.remove(*key);
            }
            Answer::json(200, r#"{"access_token":"ok"}"#.into())
        }
        ["jwt-token"] => {
            // A JWT-shaped access token (unsigned: for showing claims, not for verifying).
            use base64::Engine;
            let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
            let claims =
                format!(r#"{{"sub":"user-1","scope":"read write","jti":"{}","exp":4102444800}}"#, state.next("jwt"));
            let jwt = format!("{}.{}.c2lnbmF0dXJl", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&claims));
            Answer::json(200, token_json(&jwt, 3600, ""))
        }
        ["header-token"] => Answer::text(200, "").header("X-Auth-Token", &format!("Bearer {}", state.next("hdr"))),
        ["nested"] => Answer::json(
            200,
            format!(
                r#"{{"data":{{"auth":{{"token":"{}","type":"Custom","ttl":"120"}}}},"session":"s-1"}}"#,
                state.next("nested")
            ),
        ),
        ["status", code] => {
            let code = code.parse().unwrap_or(500);
            Answer::text(code, &format!("status {code}"))
        }
        ["oauth-error", status, error] => {
            oauth_error(status.parse().unwrap_or(400), error, &format!("described {error}"))
        }
        ["flaky", key, n] => {
            let hits = state.hit(&format!("flaky:{key}"));
            if hits <= n.parse().unwrap_or(0) {
                Answer::text(503, "try again")
            } else {
                Answer::json(200, token_json(&state.next("flaky"), 3600, ""))
            }
        }
        ["ratelimit", key, secs] => {
            if state.hit(&format!("ratelimit:{key}")) == 1 {
                Answer::text(429, "slow down").header("Retry-After", secs)
            } else {
                Answer::json(200, token_json(&state.next("rl"), 3600, ""))
            }
        }
        ["slow", ms] => {
            thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
            Answer::json(200, token_json(&state.next("slow"), 3600, ""))
        }
        ["trickle", ms] => return trickle(out, ms.parse().unwrap_or(100)),
        ["big", bytes] => {
            let n: usize = bytes.parse().unwrap_or(0);
            Answer::json(200, format!(r#"{{"access_token":"big","pad":"{}"}}"#, "x".repeat(n.saturating_sub(40))))
        }
        ["gzip"] => {
            let body = token_json(&state.next("gz"), 3600, "");
            Answer {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: gzip_stored(body.as_bytes()),
            }
            .header("Content-Encoding", "gzip")
        }
        ["malformed", kind] => {
            match *kind {
                "not-json" => Answer::json(200, "access_token=abc".into()),
                "array" => Answer::json(200, r#"[{"access_token":"abc"}]"#.into()),
                "empty" => Answer::json(200, String::new()),
                "null-token" => Answer::json(200, r#"{"access_token":null}"#.into()),
                "empty-token" => Answer::json(200, r#"{"access_token":""}"#.into()),
                "number-token" => Answer::json(200, r#"{"access_token":12345}"#.into()),
                "html" => Answer {
                    status: 200,
                    headers: vec![("Content-Type".into(), "text/html".into())],
                    body: b"<html>login</html>".to_vec(),
                },
                "truncated" => {
                    let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"access_tok");
                    return false;
                }
                _ => Answer::text(404, "unknown kind"),
            }
        }
        ["redirect"] => Answer::text(302, "").header("Location", "/oauth/token"),
        ["close"] => return false,
        ["answer-then-close"] => {
            // A token, as on a kept-alive connection (no Connection: close), then the
            // connection closes: what a server does when it drops an idle connection.
            write_answer(out, &Answer::json(200, format!(r#"{{"access_token":"{}"}}"#, state.next("atc"))));
            return false;
        }
        ["_count", rest @ ..] => {
            let path = format!("/{}", rest.join("/"));
            let n = state.hits.lock().unwrap().get(&path).copied().unwrap_or(0);
            Answer::json(200, format!(r#"{{"access_token":"count","count":{n}}}"#))
        }
        _ => Answer::text(404, "no such route"),
    };
    write_answer(out, &answer)
}

enum Fault {
    None,
    Unavailable,
    Drop,
    Hold,
}

/// What becomes of the next request to `/faulty/<key>`: a pseudo-random draw (SplitMix64 of
/// the request's number), so that a run is repeatable.
fn fault(state: &State, key: &str) -> Fault {
    let permille = state.faults.lock().unwrap().get(key).copied().unwrap_or(0);
    let mut x = state.hit(&format!("faulty:{key}")).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    if x % 1000 >= permille {
        return Fault::None;
    }
    match (x / 1000) % 4 {
        0 | 1 => Fault::Unavailable,
        2 => Fault::Drop,
        _ => Fault::Hold,
    }
}

fn echo(req: &Request) -> Answer {
    let mut fields = vec![
        ("access_token".to_string(), "echo-token".to_string()),
        ("method".to_string(), req.method.clone()),
        ("query".to_string(), req.query.clone()),
        ("body".to_string(), String::from_utf8_lossy(&req.body).into_owned()),
        ("content_type".to_string(), req.header("content-type").unwrap_or("").to_string()),
    ];
    for (k, v) in &req.headers {
        fields.push((format!("header.{}", k.to_ascii_lowercase()), v.clone()));
    }
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{}", json_string(k), json_string(v))).collect();
    Answer::json(200, format!("{{{},\"expires_in\":3600}}", body.join(",")))
}

fn client_auth(req: &Request, data: &HashMap<String, String>) -> Option<(String, Option<String>, &'static str)> {
    if let Some(basic) = req.header("authorization").and_then(|a| a.strip_prefix("Basic ")) {
        let decoded = String::from_utf8(base64_decode(basic)?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        return Some((form_decode(id), Some(form_decode(secret)), "basic"));
    }
    let id = data.get("client_id")?.clone();
    Some((id, data.get("client_secret").cloned(), "body"))
}

const CLIENT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Authorization server metadata at the OpenID Connect and RFC 8414 locations: for the
/// server itself (issuer = its URL), for `/tenant` (RFC 8414 location only), and for
/// `/mismatch`, whose document names another issuer.
fn metadata(path: &str, state: &State) -> Option<Answer> {
    let base = state.base.lock().unwrap().clone();
    let tenant = match path {
        "/.well-known/openid-configuration" => "",
        "/mismatch/.well-known/openid-configuration" => "/mismatch",
        "/.well-known/oauth-authorization-server/tenant" => "/tenant",
        _ => return None,
    };
    let issuer = if tenant == "/mismatch" { "https://issuer.example".to_string() } else { format!("{base}{tenant}") };
    Some(Answer::json(
        200,
        format!(
            r#"{{"issuer":{},"token_endpoint":{},"grant_types_supported":["client_credentials","refresh_token"]}}"#,
            json_string(&issuer),
            json_string(&format!("{base}/oauth/token"))
        ),
    ))
}

fn oauth_token(req: &Request, state: &State) -> Answer {
    if req.method != "POST" {
        return oauth_error(405, "invalid_request", "POST required");
    }
    let data = req.data();
    let client = client_auth(req, &data);
    state.hit(&format!("grant:{}", data.get("grant_type").map_or("", String::as_str)));
    let base = state.base.lock().unwrap().clone();
    let audiences = [format!("{base}/oauth/token"), base.clone()];
    // A client assertion (RFC 7523 section 2.2) authenticates the client when present.
    let asserted = match data.get("client_assertion") {
        None => None,
        Some(_) if data.get("client_assertion_type").map(String::as_str) != Some(CLIENT_ASSERTION) => {
            return oauth_error(400, "invalid_client", "client_assertion_type is not jwt-bearer")
        }
        Some(jwt) => match state.verifier.verify(jwt, &audiences, 300, true) {
            Ok((claims, alg, header)) => {
                let id = claims["iss"].as_str().unwrap_or("").to_string();
                if data.get("client_id").is_some_and(|c| *c != id) {
                    return oauth_error(401, "invalid_client", "client_id is not the assertion's issuer");
                }
                // The certificate thumbprints of the header, shown on the token.
                let mut thumbprints = String::new();
                for (name, shown) in
                    [("x5t", "assertion_x5t"), ("x5t#S256", "assertion_x5t_s256"), ("kid", "assertion_kid")]
                {
                    if let Some(v) = header[name].as_str() {
                        thumbprints.push_str(&format!(r#","{shown}":{}"#, json_string(v)));
                    }
                }
                Some((id, if alg == "HS256" { "client_secret_jwt" } else { "private_key_jwt" }, thumbprints))
            }
            Err(why) => {
                state.hit("grant:rejected-assertion");
                return oauth_error(401, "invalid_client", &format!("client assertion refused: {why}"));
            }
        },
    };
    match data.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let Some(assertion) = data.get("assertion") else {
                return oauth_error(400, "invalid_request", "assertion required");
            };
            match state.verifier.verify(assertion, &audiences, 3600, false) {
                Ok((claims, alg, _)) => {
                    let mut extra = format!(
                        r#","assertion_alg":"{alg}","iss":{}"#,
                        json_string(claims["iss"].as_str().unwrap_or(""))
                    );
                    if let Some(sub) = claims["sub"].as_str() {
                        extra.push_str(&format!(r#","sub":{}"#, json_string(sub)));
                    }
                    if let Some(scope) = claims["scope"].as_str() {
                        extra.push_str(&format!(r#","scope":{}"#, json_string(scope)));
                    }
                    Answer::json(200, token_json(&state.next("jb"), 3600, &extra))
                }
                Err(why) => oauth_error(400, "invalid_grant", &format!("assertion refused: {why}")),
            }
        }
        Some("urn:ietf:params:oauth:grant-type:token-exchange") => {
            if let Some((id, Some(secret), _)) = &client {
                if asserted.is_none() && *secret != format!("{id}-secret") {
                    return oauth_error(401, "invalid_client", "client authentication failed");
                }
            }
            let (Some(subject), Some(_)) = (data.get("subject_token"), data.get("subject_token_type")) else {
                return oauth_error(400, "invalid_request", "subject_token and subject_token_type required");
            };
            if !state.is_issued(subject) {
                return oauth_error(400, "invalid_grant", "the subject token was not issued here");
            }
            if data.get("actor_token").is_some_and(|a| !state.is_issued(a)) {
                return oauth_error(400, "invalid_grant", "the actor token was not issued here");
            }
            let issued = data
                .get("requested_token_type")
                .cloned()
                .unwrap_or("urn:ietf:params:oauth:token-type:access_token".into());
            let mut extra =
                format!(r#","issued_token_type":{},"subject":{}"#, json_string(&issued), json_string(subject));
            for field in ["audience", "resource", "scope", "actor_token"] {
                if let Some(v) = data.get(field) {
                    extra.push_str(&format!(r#",{}:{}"#, json_string(field), json_string(v)));
                }
            }
            Answer::json(200, token_json(&state.next("tx"), 3600, &extra))
        }
        Some("client_credentials") => {
            let mtls = req.header("x-client-certificate") == Some("present");
            let (id, how, thumbprints) = match (asserted, client) {
                (Some(asserted), _) => asserted,
                (None, Some((id, None, _))) if mtls => (id, "tls", String::new()),
                (None, Some((id, Some(secret), how))) if secret == format!("{id}-secret") => (id, how, String::new()),
                _ => return oauth_error(401, "invalid_client", "client authentication failed"),
            };
            let scope = data.get("scope").cloned().unwrap_or_default();
            let mut extra = format!(r#","client_auth":"{how}","client":{}{thumbprints}"#, json_string(&id));
            if !scope.is_empty() {
                extra.push_str(&format!(r#","scope":{}"#, json_string(&scope)));
            }
            if scope.split(' ').any(|s| s == "offline") {
                extra.push_str(&format!(r#","refresh_token":"{}""#, state.next("rt")));
            }
            Answer::json(200, token_json(&state.next("cc"), 3600, &extra))
        }
        Some("refresh_token") => {
            match &client {
                Some((id, Some(secret), _)) if *secret != format!("{id}-secret") => {
                    return oauth_error(401, "invalid_client", "client authentication failed")
                }
                None => return oauth_error(401, "invalid_client", "client_id required"),
                _ => {}
            }
            let rt = data.get("refresh_token").map(String::as_str).unwrap_or("");
            if rt == "rt-static" {
                return Answer::json(200, token_json(&state.next("rf"), 3600, ""));
            }
            if !state.revoke(rt) {
                state.hit("grant:rejected");
                return oauth_error(400, "invalid_grant", "refresh token is invalid or expired");
            }
            let extra = format!(r#","refresh_token":"{}""#, state.next("rt"));
            Answer::json(200, token_json(&state.next("rf"), 3600, &extra))
        }
        _ => oauth_error(400, "unsupported_grant_type", "grant type not supported"),
    }
}

fn trickle(out: &mut dyn Write, ms: u64) -> bool {
    if out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n").is_err() {
        return false;
    }
    for _ in 0..1000 {
        thread::sleep(Duration::from_millis(ms));
        if out.write_all(b" ").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    false
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_form(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// A flat JSON object of string values, as tokenforge sends; enough for this server.
fn parse_json_object(s: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut strings = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            let mut cur = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(e) = chars.next() {
                            cur.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            })
                        }
                    }
                    c => cur.push(c),
                }
            }
            strings.push(cur);
        }
    }
    for pair in strings.chunks(2) {
        if let [k, v] = pair {
            map.insert(k.clone(), v.clone());
        }
    }
    map
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.trim().bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

/// A gzip member holding `data` in stored (uncompressed) deflate blocks.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65535).collect() };
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(base64_decode("YTpi").unwrap(), b"a:b");
        assert_eq!(form_decode("a+b%3Dc%"), "a b=c%");
        assert_eq!(parse_json_object(r#"{"a":"1","b":"x\"y"}"#)["b"], "x\"y");
    }
}
