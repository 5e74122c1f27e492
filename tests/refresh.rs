//! The refresh grant goes the way of the step's own request (DESIGN.md, "one road"): the
//! step's TLS settings, retry policy and Retry-After, request hook and client authentication.
//! Pipelines here renew on the caller's thread (no background refresh), so that a get right
//! after the token went stale returns the refresh grant's result.

use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::Duration;
use tokenforge::hooks::RequestHook;
use tokenforge::oauth2::ClientAuthMethod;
use tokenforge::pipeline::{EventKind, Pipeline};
use tokenforge::{FetcherBuilder, ResultCode};
use tokenforge_testserver::Server;

/// A client_credentials step whose first token carries a refresh token and lives 2 s.
fn step(s: &Server, name: &str) -> FetcherBuilder {
    let mut b = FetcherBuilder::client_credentials(
        name,
        &format!("{}/oauth/token", s.url()),
        "app",
        "app-secret",
        Some("offline"),
    );
    b.ttl_ms(2_000).unwrap();
    b
}

fn pipeline(b: FetcherBuilder) -> Pipeline {
    let mut p = Pipeline::new();
    p.add(Arc::new(b.build().unwrap())).unwrap();
    p.set_background_refresh(false).unwrap();
    p
}

/// The first token, then (once it is stale) the renewed one.
fn first_and_renewed(p: &Pipeline, step: &str) -> (String, tokenforge::Result<Arc<tokenforge::Token>>) {
    let first = p.get(step).unwrap();
    assert!(first.refresh_token().is_some(), "the first token carries a refresh token");
    sleep(Duration::from_millis(1_100)); // less than half of the 2 s lifetime is left
    (first.access_token().as_str().to_string(), p.get(step))
}

#[test]
fn a_step_that_does_not_verify_tls_refreshes_against_a_self_signed_endpoint() {
    let s = Server::start_tls().unwrap();
    let mut b = step(&s, "tls");
    b.verify_tls(false).unwrap();
    b.refresh_endpoint(Some(&format!("{}/oauth/token", s.url())), None, None).unwrap();
    let p = pipeline(b);
    let (first, renewed) = first_and_renewed(&p, "tls");
    assert!(first.starts_with("cc-"), "{first}");
    let renewed = renewed.unwrap();
    assert!(renewed.access_token().as_str().starts_with("rf-"), "refreshed over TLS: {:?}", renewed.access_token());

    // Verification is what let it through: a verifying step is refused by the same server.
    let e = FetcherBuilder::body("strict", &s.url(), "/echo").build().unwrap().fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Tls, "{e}");
}

#[test]
fn the_steps_retry_settings_hold_for_the_refresh_grant() {
    // One attempt: the refresh grant's 503 is not retried (the default policy would retry).
    let s = Server::start().unwrap();
    let mut b = step(&s, "once");
    b.retry(1, 0).unwrap();
    b.refresh_endpoint(Some(&format!("{}/flaky/once/1", s.url())), None, None).unwrap();
    let p = pipeline(b);
    let (first, renewed) = first_and_renewed(&p, "once");
    assert_eq!(renewed.unwrap().access_token().as_str(), first, "the failed refresh serves the valid token");
    assert_eq!(s.hits("/flaky/once/1"), 1, "one attempt only");

    // Three attempts, waiting what Retry-After asks.
    let mut b = step(&s, "patient");
    b.retry(3, 10).unwrap();
    b.refresh_endpoint(Some(&format!("{}/ratelimit/patient/1", s.url())), None, None).unwrap();
    let mut p = pipeline(b);
    let waits = Arc::new(Mutex::new(Vec::new()));
    let w2 = waits.clone();
    p.set_event_hook(Arc::new(move |e| {
        if e.kind == EventKind::Retry {
            w2.lock().unwrap().push(e.duration);
        }
    }))
    .unwrap();
    let (first, renewed) = first_and_renewed(&p, "patient");
    let renewed = renewed.unwrap();
    assert_ne!(renewed.access_token().as_str(), first);
    assert!(renewed.access_token().as_str().starts_with("rl-"));
    assert_eq!(s.hits("/ratelimit/patient/1"), 2);
    assert_eq!(waits.lock().unwrap().as_slice(), [Duration::from_secs(1)], "Retry-After: 1 honoured");
}

#[test]
fn the_request_hook_sees_and_changes_the_refresh_request() {
    let s = Server::start().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let hook: RequestHook = Arc::new(move |_, req| {
        let grant = req.data("grant_type").unwrap_or("").to_string();
        if grant == "refresh_token" {
            req.set_header("X-Refresh", "yes")?;
        }
        s2.lock().unwrap().push((grant, req.url.clone()));
        Ok(())
    });
    let mut b = step(&s, "hooked");
    b.refresh_endpoint(Some(&format!("{}/echo", s.url())), None, None).unwrap();
    b.request_hook(hook);
    let p = pipeline(b);
    let (_, renewed) = first_and_renewed(&p, "hooked");
    let renewed = renewed.unwrap();
    assert_eq!(renewed.extra("header.x-refresh").map(|v| v.as_str()), Some("yes"), "the hook's header was sent");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], ("client_credentials".to_string(), format!("{}/oauth/token", s.url())));
    assert_eq!(seen[1], ("refresh_token".to_string(), format!("{}/echo", s.url())));
}

#[test]
fn a_client_secret_post_client_refreshes_with_its_secret_in_the_body() {
    let s = Server::start().unwrap();
    let mut b = step(&s, "post");
    b.client_auth(ClientAuthMethod::Post).unwrap();
    b.refresh_endpoint(Some(&format!("{}/echo", s.url())), None, None).unwrap();
    let p = pipeline(b);
    let first = p.get("post").unwrap();
    assert_eq!(first.extra("client_auth").map(|v| v.as_str()), Some("body"), "its own grant posts the secret");
    sleep(Duration::from_millis(1_100));
    let renewed = p.get("post").unwrap();
    let body = renewed.extra("body").map(|v| v.as_str().to_string()).unwrap_or_default();
    assert!(body.contains("grant_type=refresh_token"), "{body}");
    assert!(body.contains("client_id=app") && body.contains("client_secret=app-secret"), "{body}");
    assert!(renewed.extra("header.authorization").is_none(), "no Basic header");
    assert_eq!(renewed.refresh_token(), first.refresh_token(), "an answer without one keeps the refresh token");
}
