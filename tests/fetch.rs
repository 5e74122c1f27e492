//! Fetchers against the loopback token server: every behaviour of DESIGN.md and issue 2.

use std::time::{Duration, Instant};
use tokenforge::http::ContentType;
use tokenforge::{Context, Error, FetcherBuilder, ResultCode, Token};
use tokenforge_testserver::Server;

fn body(server: &Server, name: &str, endpoint: &str) -> FetcherBuilder {
    FetcherBuilder::body(name, &server.url(), endpoint)
}

fn fetch(b: FetcherBuilder) -> Result<Token, Error> {
    b.build().expect("builds").fetch(None)
}

fn fetch_err(b: FetcherBuilder) -> Error {
    fetch(b).expect_err("fetch fails")
}

fn extra<'a>(t: &'a Token, k: &str) -> &'a str {
    t.extra(k).map(|v| v.as_str()).unwrap_or_else(|| panic!("no extra {k}"))
}

#[test]
fn post_form_with_headers_data_and_query() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "echo", "/echo");
    b.request_header("X-Api-Key", "k 1").unwrap();
    b.request_data("user name", "a&b").unwrap();
    b.query_param("q", "1 2").unwrap();
    let t = fetch(b).unwrap();
    assert_eq!(t.access_token().as_str(), "echo-token");
    assert_eq!(extra(&t, "method"), "POST");
    assert_eq!(extra(&t, "content_type"), "application/x-www-form-urlencoded");
    assert_eq!(extra(&t, "body"), "user+name=a%26b");
    assert_eq!(extra(&t, "query"), "q=1+2");
    assert_eq!(extra(&t, "header.x-api-key"), "k 1");
    assert!(extra(&t, "header.accept-encoding").contains("gzip"));
    assert!(t.expires_at_ms().is_some());
}

#[test]
fn post_json_body() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "echo", "/echo");
    b.content_type(ContentType::Json).unwrap();
    b.request_data("username", "u\"1").unwrap();
    b.request_header("Content-Type", "text/plain").unwrap();
    let t = fetch(b).unwrap();
    assert_eq!(extra(&t, "content_type"), "application/json", "the body says what it is");
    let sent: serde_json::Value = serde_json::from_str(extra(&t, "body")).unwrap();
    assert_eq!(sent, serde_json::json!({"username": "u\"1"}));
}

#[test]
fn get_puts_data_in_the_query() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "echo", "/echo");
    b.method("GET").unwrap();
    b.request_data("client_id", "c").unwrap();
    b.query_param("a", "1").unwrap();
    let t = fetch(b).unwrap();
    assert_eq!(extra(&t, "method"), "GET");
    assert_eq!(extra(&t, "query"), "a=1&client_id=c");
    assert_eq!(extra(&t, "body"), "");
}

#[test]
fn nested_fields_default_type_and_ttl() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "n", "/nested");
    b.token_field("data.auth.token").unwrap();
    b.token_type_field("data.auth.type").unwrap();
    b.expires_in_field("data.auth.ttl").unwrap();
    let before = tokenforge::token::now_ms();
    let t = fetch(b.clone()).unwrap();
    assert!(t.access_token().as_str().starts_with("nested-"));
    assert_eq!(t.token_type().as_str(), "Custom");
    let exp = t.expires_at_ms().unwrap();
    assert!(exp >= before + 120_000 && exp <= tokenforge::token::now_ms() + 120_000);
    assert_eq!(extra(&t, "session"), "s-1");

    b.ttl_ms(5_000).unwrap();
    let t = fetch(b).unwrap();
    assert!(t.expires_at_ms().unwrap() <= tokenforge::token::now_ms() + 5_000);

    let mut b = body(&s, "n", "/nested");
    b.token_field("data.auth.token").unwrap();
    b.default_token_type("Custom2").unwrap();
    let t = fetch(b).unwrap();
    assert_eq!(t.token_type().as_str(), "Custom2");
    assert_eq!(t.expires_at_ms(), None, "no expires_in field at the top level");
}

#[test]
fn header_token_case_insensitive_prefix_stripped() {
    let s = Server::start().unwrap();
    let mut b = FetcherBuilder::header("h", &s.url(), "/header-token");
    b.token_header("x-auth-token").unwrap();
    let t = fetch(b).unwrap();
    assert!(t.access_token().as_str().starts_with("hdr-"));
    assert_eq!(t.token_type().as_str(), "Bearer");

    let mut b = FetcherBuilder::header("session", &s.url(), "/auth/session");
    b.request_header("X-API-Key", "key").unwrap();
    b.token_header("X-Session-Token").unwrap();
    b.token_type("Session").unwrap();
    b.ttl_ms(86_400_000).unwrap();
    let t = fetch(b).unwrap();
    assert!(t.access_token().as_str().starts_with("sess-"));
    assert!(t.authorization().as_str().starts_with("Session sess-"));
    assert!(t.expires_at_ms().is_some());
}

#[test]
fn missing_header_is_response() {
    let s = Server::start().unwrap();
    let mut b = FetcherBuilder::header("h", &s.url(), "/header-token");
    b.token_header("X-Other").unwrap();
    let e = fetch_err(b);
    assert_eq!(e.code(), ResultCode::Response);
    assert!(e.message().contains("X-Other"), "{}", e.message());
    assert_eq!(e.step().unwrap().as_str(), "h");
}

#[test]
fn client_credentials_basic_and_body() {
    let s = Server::start().unwrap();
    let url = format!("{}/oauth/token", s.url());
    let t = fetch(FetcherBuilder::client_credentials("cc", &url, "app", "app-secret", Some("read write"))).unwrap();
    assert!(t.access_token().as_str().starts_with("cc-"));
    assert_eq!(t.token_type().as_str(), "Bearer", "'bearer' normalised");
    assert_eq!(t.scope().unwrap().as_str(), "read write");
    assert_eq!(extra(&t, "client_auth"), "basic");

    let mut b = FetcherBuilder::client_credentials("cc", &url, "app:1", "app:1-secret", None);
    b.client_auth_in_body(true).unwrap();
    let t = fetch(b).unwrap();
    assert_eq!(extra(&t, "client_auth"), "body");
    assert!(t.scope().is_none());

    let b = FetcherBuilder::client_credentials("cc", &url, "app:1", "app:1-secret", None);
    assert!(fetch(b).is_ok(), "Basic credentials are form-encoded first");
}

#[test]
fn oauth_error_fields_and_no_secret_in_message() {
    let s = Server::start().unwrap();
    let url = format!("{}/oauth/token", s.url());
    let e = fetch_err(FetcherBuilder::client_credentials("cc", &url, "app", "wrong-secret-XYZ", None));
    assert_eq!(e.code(), ResultCode::Oauth);
    assert_eq!(e.status(), 401);
    assert_eq!(e.oauth_error().unwrap().as_str(), "invalid_client");
    assert_eq!(e.oauth_description().unwrap().as_str(), "client authentication failed");
    assert_eq!(e.step().unwrap().as_str(), "cc");
    assert!(!e.is_retryable());
    assert!(!e.message().contains("wrong-secret-XYZ"));
    assert!(!format!("{e:?}").contains("wrong-secret-XYZ"));

    let e = fetch_err(body(&s, "x", "/oauth-error/200/access_denied"));
    assert_eq!((e.code(), e.status()), (ResultCode::Oauth, 200), "error body wins over 200");
}

#[test]
fn http_status_errors() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "x", "/status/404");
    b.retry(1, 0).unwrap();
    let e = fetch_err(b);
    assert_eq!((e.code(), e.status(), e.is_retryable()), (ResultCode::HttpStatus, 404, false));
    // The message names the endpoint the request went to (not "token endpoint"), without a
    // query, which may hold a secret.
    let want = format!("POST {}/status/404 answered HTTP 404", s.url());
    assert!(e.message().contains(&want) && !e.message().contains("token endpoint"), "{}", e.message());
    let mut b = body(&s, "x", "/status/404?api_key=s3cret");
    b.retry(1, 0).unwrap();
    let e = fetch_err(b);
    assert!(e.message().contains(&want) && !e.message().contains("s3cret"), "{}", e.message());
    let e = fetch_err(body(&s, "x", "/redirect"));
    assert_eq!((e.code(), e.status()), (ResultCode::HttpStatus, 302));
    assert!(e.message().contains("/redirect redirected (HTTP 302)"), "{}", e.message());
    assert_eq!(s.hits("/oauth/token"), 0, "redirect not followed");
}

#[test]
fn retries_5xx_then_succeeds() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "x", "/flaky/a/2");
    b.retry(3, 10).unwrap();
    assert!(fetch(b).unwrap().access_token().as_str().starts_with("flaky-"));
    assert_eq!(s.hits("/flaky/a/2"), 3);

    let mut b = body(&s, "x", "/flaky/b/5");
    b.retry(2, 10).unwrap();
    let e = fetch_err(b);
    assert_eq!((e.code(), e.status(), e.is_retryable()), (ResultCode::HttpStatus, 503, true));
    assert_eq!(s.hits("/flaky/b/5"), 2, "max_attempts is the total");
}

#[test]
fn retry_after_is_honoured_and_never_past_the_deadline() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "x", "/ratelimit/a/1");
    b.retry(3, 1).unwrap();
    let start = Instant::now();
    assert!(fetch(b).is_ok());
    assert!(start.elapsed() >= Duration::from_millis(1000), "waited as Retry-After asked");

    let mut b = body(&s, "x", "/ratelimit/b/120");
    b.retry(3, 1).unwrap();
    b.timeout_ms(2_000).unwrap();
    let start = Instant::now();
    let e = fetch_err(b);
    assert!(start.elapsed() < Duration::from_millis(1_500), "no wait past the deadline");
    assert_eq!((e.code(), e.status(), e.retry_after_ms()), (ResultCode::HttpStatus, 429, Some(120_000)));
    assert_eq!(s.hits("/ratelimit/b/120"), 1);
}

#[test]
fn deadline_holds_against_slow_and_trickling_servers() {
    let s = Server::start().unwrap();
    for endpoint in ["/slow/3000", "/trickle/50"] {
        let mut b = body(&s, "x", endpoint);
        b.timeout_ms(500).unwrap();
        let start = Instant::now();
        let e = fetch_err(b);
        assert_eq!(e.code(), ResultCode::Timeout, "{endpoint}: {e}");
        assert!(start.elapsed() < Duration::from_millis(1_500), "{endpoint}: {:?}", start.elapsed());
        assert!(e.is_retryable());
    }
}

#[test]
fn a_kept_connection_the_server_closed_is_not_reused() {
    let s = Server::start().unwrap();
    let f = body(&s, "x", "/answer-then-close").build().unwrap();
    let mut echo = body(&s, "y", "/echo");
    echo.retry(1, 0).unwrap(); // a reused dead connection would fail it
    let echo = echo.build().unwrap();
    for round in 0..3 {
        assert!(f.fetch(None).unwrap().access_token().as_str().starts_with("atc-"));
        std::thread::sleep(Duration::from_millis(20)); // the close reaches us
        assert_eq!(echo.fetch(None).unwrap().access_token().as_str(), "echo-token", "round {round}");
    }
    // The fetchers share one pool: each closing answer ends the connection it came on (the
    // first one's own, then the one echo opened), and each echo after it opens a new one.
    assert_eq!(s.connections(), 4, "one connection per closing answer, plus the first");
}

#[test]
fn requests_with_bodies_and_without_on_one_connection() {
    // The head of a request waits for its body, to go out in one write; a request without a
    // body goes out when the answer is awaited.
    let s = Server::start().unwrap();
    let mut post = body(&s, "p", "/echo");
    post.request_data("k", "v").unwrap();
    let post = post.build().unwrap();
    let mut get = body(&s, "g", "/echo");
    get.method("GET").unwrap();
    let get = get.build().unwrap();
    for _ in 0..5 {
        let t = post.fetch(None).unwrap();
        assert_eq!(
            (t.extra("method").map(|v| v.as_str()), t.extra("body").map(|v| v.as_str())),
            (Some("POST"), Some("k=v"))
        );
        assert_eq!(get.fetch(None).unwrap().extra("method").map(|v| v.as_str()), Some("GET"));
    }
    assert_eq!(s.connections(), 1, "one kept-alive connection for all ten");
}

#[test]
fn body_cap_and_gzip() {
    let s = Server::start().unwrap();
    let e = fetch_err(body(&s, "x", "/big/2000000"));
    assert_eq!(e.code(), ResultCode::Response);
    assert!(e.message().contains("1048576"), "{}", e.message());
    assert!(fetch(body(&s, "x", "/big/900000")).is_ok());
    assert!(fetch(body(&s, "x", "/gzip")).unwrap().access_token().as_str().starts_with("gz-"));
}

#[test]
fn malformed_responses() {
    let s = Server::start().unwrap();
    for kind in ["not-json", "array", "empty", "null-token", "empty-token", "number-token", "html"] {
        let e = fetch_err(body(&s, "x", &format!("/malformed/{kind}")));
        assert_eq!(e.code(), ResultCode::Response, "{kind}: {e}");
    }
    let mut b = body(&s, "x", "/malformed/truncated");
    b.retry(1, 0).unwrap();
    assert_eq!(fetch_err(b).code(), ResultCode::Transport);
    let mut b = body(&s, "x", "/close");
    b.retry(1, 0).unwrap();
    assert_eq!(fetch_err(b).code(), ResultCode::Transport);
}

#[test]
fn refused_connection_is_transport_and_retried() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut b = FetcherBuilder::body("x", &format!("http://127.0.0.1:{port}"), "/t");
    b.retry(2, 10).unwrap();
    let e = fetch_err(b);
    assert_eq!(e.code(), ResultCode::Transport, "{e}");
    assert!(e.is_retryable());
}

#[test]
fn templates_fill_from_context_and_dependencies_are_checked() {
    let s = Server::start().unwrap();
    let mut b = body(&s, "user", "/echo");
    b.dependency("app").unwrap();
    b.request_header("X-App", "{{app.access_token}}").unwrap();
    b.request_header("Authorization", "{{app.authorization}}").unwrap();
    b.request_data("sid", "{{app.session}}").unwrap();
    b.query_param("t", "{{app.token_type}}").unwrap();
    let f = b.build().unwrap();
    assert_eq!(f.depends_on().len(), 1);

    let e = f.fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Dependency);
    assert_eq!(s.hits("/echo"), 0, "nothing sent without the dependency");

    let mut ctx = Context::new();
    let app = Token::new("app-tok", Some("MAC"), None, None).unwrap().with_extra("session", &serde_json::json!("s 9"));
    ctx.set("app", app);
    let t = f.fetch(Some(&ctx)).unwrap();
    assert_eq!(extra(&t, "header.x-app"), "app-tok");
    assert_eq!(extra(&t, "header.authorization"), "MAC app-tok");
    assert_eq!(extra(&t, "body"), "sid=s+9");
    assert_eq!(extra(&t, "query"), "t=MAC");

    let mut ctx = Context::new();
    ctx.set("app", Token::new("app-tok", None, None, None).unwrap());
    assert_eq!(f.fetch(Some(&ctx)).unwrap_err().code(), ResultCode::Dependency, "missing extra field");
}

#[test]
fn two_step_flow() {
    let s = Server::start().unwrap();
    let mut app = body(&s, "app_token", "/v1/app/token");
    app.request_data("client_id", "app-id").unwrap();
    app.request_data("client_secret", "app-id-secret").unwrap();
    app.token_field("token").unwrap();
    app.ttl_ms(3_600_000).unwrap();
    let app = fetch(app).unwrap();

    let mut user = body(&s, "user_token", "/v1/user/token");
    user.dependency("app_token").unwrap();
    user.request_header("X-App-Token", "{{app_token.access_token}}").unwrap();
    user.request_data("username", "user@example.com").unwrap();
    user.request_data("password", "password123").unwrap();
    let mut ctx = Context::new();
    ctx.set("app_token", app);
    let t = user.build().unwrap().fetch(Some(&ctx)).unwrap();
    assert!(t.access_token().as_str().starts_with("user-"));
    assert!(t.refresh_token().is_some());
}

#[test]
fn oauth2_refresh_rotates_and_reports_invalid_grant() {
    let s = Server::start().unwrap();
    let url = format!("{}/oauth/token", s.url());
    let first = fetch(FetcherBuilder::client_credentials("cc", &url, "app", "app-secret", Some("offline"))).unwrap();
    let rt = first.refresh_token().unwrap().as_str().to_string();

    let t = tokenforge::oauth2::refresh(&url, &rt, "app", Some("app-secret"), 0).unwrap();
    assert!(t.access_token().as_str().starts_with("rf-"));
    let rotated = t.refresh_token().unwrap().as_str().to_string();
    assert_ne!(rotated, rt);
    assert!(t.expires_at_ms().unwrap() > tokenforge::token::now_ms());

    let e = tokenforge::oauth2::refresh(&url, &rt, "app", Some("app-secret"), 0).unwrap_err();
    assert_eq!((e.code(), e.oauth_error().unwrap().as_str()), (ResultCode::Oauth, "invalid_grant"));
    assert!(!e.message().contains(&rt));

    let t = tokenforge::oauth2::refresh(&url, &rotated, "public-app", None, 1_000).unwrap();
    assert!(t.refresh_token().is_some(), "public client, id in the body");
    let t = tokenforge::oauth2::refresh(&url, "rt-static", "app", None, 0).unwrap();
    assert_eq!(t.refresh_token().unwrap().as_str(), "rt-static", "kept when not rotated");
}

#[test]
fn refresh_is_not_retried_after_a_timeout() {
    let s = Server::start().unwrap();
    let url = format!("{}/slow/2000", s.url());
    let e = tokenforge::oauth2::refresh(&url, "rt-x", "app", None, 300).unwrap_err();
    assert_eq!(e.code(), ResultCode::Timeout);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.hits("/slow/2000"), 1);

    let url = format!("{}/flaky/r/1", s.url());
    assert!(tokenforge::oauth2::refresh(&url, "rt-x", "app", None, 0).is_ok(), "an answered 503 is retried");
    assert_eq!(s.hits("/flaky/r/1"), 2);
}

#[test]
fn many_threads_share_one_fetcher() {
    let s = Server::start().unwrap();
    let f = std::sync::Arc::new(body(&s, "x", "/echo").build().unwrap());
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || (0..10).all(|_| f.fetch(None).is_ok()))
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
    assert_eq!(s.hits("/echo"), 80);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let s = Server::start().unwrap();
    let f = body(&s, "x", "/echo").build().unwrap();
    for _ in 0..5 {
        f.fetch(None).unwrap();
    }
    assert_eq!(s.hits("/echo"), 5);
    assert_eq!(s.connections(), 1, "pooled connection reused");
}
