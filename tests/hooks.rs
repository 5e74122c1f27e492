//! Hooks through the Rust API: request hook, error hook, custom fetcher, and panics in them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokenforge::hooks::{ErrorHook, FetchHook, RequestHook};
use tokenforge::{Context, Error, Fetcher, FetcherBuilder, ResultCode, Token};
use tokenforge_testserver::Server;

#[test]
fn request_hook_sees_context_and_shapes_the_request() {
    let s = Server::start().unwrap();
    let mut b = FetcherBuilder::body("user", &s.url(), "/echo");
    b.dependency("app").unwrap();
    b.request_data("username", "u").unwrap();
    b.request_data("drop-me", "x").unwrap();
    let hook: RequestHook = Arc::new(|ctx, req| {
        let app = ctx.and_then(|c| c.get("app")).expect("context given");
        req.set_header("X-App", app.access_token().as_str())?;
        req.set_data("app_token", app.access_token().as_str())?;
        req.remove_data("drop-me");
        req.set_query("v", "2")?;
        assert_eq!(req.header("x-app"), Some("app-1"));
        Ok(())
    });
    b.request_hook(hook);
    let f = b.build().unwrap();
    let mut ctx = Context::new();
    ctx.set("app", Token::new("app-1", None, None, None).unwrap());
    let t = f.fetch(Some(&ctx)).unwrap();
    assert_eq!(t.extra("header.x-app").unwrap().as_str(), "app-1");
    assert_eq!(t.extra("body").unwrap().as_str(), "username=u&app_token=app-1");
    assert_eq!(t.extra("query").unwrap().as_str(), "v=2");
}

#[test]
fn request_hook_raw_body_and_header_checks() {
    let s = Server::start().unwrap();
    let mut b = FetcherBuilder::body("raw", &s.url(), "/echo");
    let hook: RequestHook = Arc::new(|_, req| {
        assert!(req.set_header("X-Bad", "a\r\nb").is_err());
        assert!(req.set_data("", "v").is_err());
        req.set_body(b"<auth/>", Some("application/xml"))
    });
    b.request_hook(hook);
    let t = b.build().unwrap().fetch(None).unwrap();
    assert_eq!(t.extra("body").unwrap().as_str(), "<auth/>");
    assert_eq!(t.extra("content_type").unwrap().as_str(), "application/xml");
}

#[test]
fn failing_or_panicking_request_hook_sends_nothing() {
    let s = Server::start().unwrap();
    // A hook's own failure reaches the caller with its code and message; a panic is CALLBACK.
    for (hook, code, message) in [
        (
            Arc::new(|_: Option<&Context>, _: &mut tokenforge::http::Request| Err(Error::config("no"))) as RequestHook,
            ResultCode::Config,
            "no",
        ),
        (
            Arc::new(|_: Option<&Context>, _: &mut tokenforge::http::Request| -> tokenforge::Result<()> {
                panic!("hook bug")
            }) as RequestHook,
            ResultCode::Callback,
            "request hook panicked",
        ),
    ] {
        let mut b = FetcherBuilder::body("x", &s.url(), "/echo");
        b.request_hook(hook);
        let e = b.build().unwrap().fetch(None).unwrap_err();
        assert_eq!((e.code(), e.message()), (code, message), "{e}");
        assert_eq!(e.step().unwrap().as_str(), "x");
    }
    assert_eq!(s.hits("/echo"), 0);
}

#[test]
fn error_hook_runs_once_per_failure_only() {
    let s = Server::start().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let hook: ErrorHook = Arc::new(move |e, ctx| {
        assert_eq!(e.code(), ResultCode::HttpStatus);
        assert!(ctx.is_none());
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let mut b = FetcherBuilder::body("x", &s.url(), "/status/500");
    b.retry(2, 1).unwrap();
    b.error_hook(hook.clone());
    let f = b.build().unwrap();
    assert!(f.fetch(None).is_err());
    assert!(f.fetch(None).is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2, "once per failed fetch, not per attempt");
    let mut ok = FetcherBuilder::body("y", &s.url(), "/echo");
    ok.error_hook(hook);
    ok.build().unwrap().fetch(None).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn custom_fetcher_with_dependencies_ttl_and_unchanged_errors() {
    let fetch: FetchHook = Arc::new(|ctx| {
        let dev = ctx.unwrap().get("device").unwrap();
        Token::new(&format!("custom-{}", dev.access_token()), Some("Custom"), None, None)
    });
    let f = Fetcher::custom("c", &["device".to_string()], Some(60_000), fetch, None).unwrap();
    assert_eq!(f.fetch(None).unwrap_err().code(), ResultCode::Dependency);
    let mut ctx = Context::new();
    ctx.set("device", Token::new("d1", None, None, None).unwrap());
    let t = f.fetch(Some(&ctx)).unwrap();
    assert_eq!(t.authorization().as_str(), "Custom custom-d1");
    assert!(t.expires_at_ms().unwrap() > tokenforge::token::now_ms());

    let failing: FetchHook = Arc::new(|_| Err(Error::new(ResultCode::Oauth, "proprietary auth said no")));
    let e = Fetcher::custom("c", &[], None, failing, None).unwrap().fetch(None).unwrap_err();
    assert_eq!((e.code(), e.message()), (ResultCode::Oauth, "proprietary auth said no"));
    assert_eq!(e.step().unwrap().as_str(), "c");

    let panicking: FetchHook = Arc::new(|_| panic!("bug"));
    let e = Fetcher::custom("c", &[], None, panicking, None).unwrap().fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Callback);

    let ok: FetchHook = Arc::new(|_| Token::new("t", None, None, None));
    let code =
        |name: &str, deps: &[String], ttl| Fetcher::custom(name, deps, ttl, ok.clone(), None).unwrap_err().code();
    assert_eq!(code("", &[], None), ResultCode::InvalidArgument);
    assert_eq!(code("c", &["c".to_string()], None), ResultCode::Config);
    assert_eq!(code("c", &[], Some(0)), ResultCode::InvalidArgument);
}
