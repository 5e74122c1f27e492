//! Proxies come from the environment. Its own test binary: the HTTP agents read the
//! environment once, on first use, and no other test may run before this one sets it.

use tokenforge::FetcherBuilder;
use tokenforge_testserver::Server;

#[test]
fn http_proxy_from_the_environment_is_used() {
    let proxy = Server::start().unwrap();
    std::env::set_var("HTTP_PROXY", proxy.url());
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    // A host that does not resolve: only the proxy can answer.
    let f = FetcherBuilder::body("p", "http://token-host.invalid", "/echo").build().unwrap();
    let t = f.fetch(None).expect("answered through the proxy");
    assert_eq!(t.extra("header.x-via-proxy").unwrap().as_str(), "token-host.invalid:80");
    assert_eq!(proxy.hits("/echo"), 1);
}
