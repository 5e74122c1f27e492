//! The identity providers companies run: JWT client authentication (private_key_jwt with
//! RS256, PS256 and ES256; client_secret_jwt), the JWT bearer grant, token exchange, and
//! discovery, against the loopback server, which verifies every assertion with the key (or
//! secret) and checks every claim, and accepts each jti once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::sync::Arc;
use tokenforge::oauth2::ClientAuthMethod;
use tokenforge::pipeline::Pipeline;
use tokenforge::{FetcherBuilder, ResultCode};
use tokenforge_testserver::fleet::TempDir;
use tokenforge_testserver::pki::{ec_key_pem, server_config, TestCa};
use tokenforge_testserver::Server;

const RSA_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/test-rsa-key.pem");

fn token_url(s: &Server) -> String {
    format!("{}/oauth/token", s.url())
}

/// A client_credentials step of `client` authenticating with `method`.
fn cc(s: &Server, client: &str, method: ClientAuthMethod) -> FetcherBuilder {
    let mut b = FetcherBuilder::client_credentials("svc", &token_url(s), client, "jwt-secret-0123456789", None);
    b.client_auth(method).unwrap();
    b.retry(1, 0).unwrap();
    b
}

#[test]
fn private_key_jwt_with_each_algorithm_and_client_secret_jwt() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("idp-keys");
    let ec_path = dir.path().join("ec.pem");
    let ec = ec_key_pem();
    std::fs::write(&ec_path, &ec).unwrap();
    let rsa = std::fs::read_to_string(RSA_KEY).unwrap();
    s.add_jwt_key("rs", "RS256", &rsa);
    s.add_jwt_key("ps", "PS256", &rsa);
    s.add_jwt_key("es", "ES256", &ec);
    s.add_jwt_key("hs", "HS256", "jwt-secret-0123456789");
    for (client, alg, key) in
        [("rs", "RS256", RSA_KEY), ("ps", "PS256", RSA_KEY), ("es", "ES256", ec_path.to_str().unwrap())]
    {
        let mut b = cc(&s, client, ClientAuthMethod::PrivateKeyJwt);
        b.jwt_key(key, alg, Some("key-1")).unwrap();
        let f = b.build().unwrap();
        // Two requests, two assertions: the server accepts each jti once.
        for _ in 0..2 {
            let t = f.fetch(None).unwrap();
            assert_eq!(t.extra("client_auth").map(|v| v.as_str()), Some("private_key_jwt"), "{alg}");
            assert_eq!(t.extra("client").map(|v| v.as_str()), Some(client));
        }
    }
    let f = cc(&s, "hs", ClientAuthMethod::ClientSecretJwt).build().unwrap();
    for _ in 0..2 {
        assert_eq!(f.fetch(None).unwrap().extra("client_auth").map(|v| v.as_str()), Some("client_secret_jwt"));
    }
    assert_eq!(s.hits("grant:rejected-assertion"), 0, "no assertion was refused (no jti reused)");
}

/// `openssl x509 -fingerprint -<digest>` of `cert`, as base64url: a thumbprint computed by
/// another implementation.
fn openssl_thumbprint(cert: &std::path::Path, digest: &str) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", &format!("-{digest}"), "-in"])
        .arg(cert)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let hex: String = text.trim().split_once('=').unwrap().1.replace(':', "");
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn a_certificate_credential_carries_the_certificates_thumbprints() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("idp-cert");
    let cert = dir.path().join("app.pem");
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-new", "-key", RSA_KEY, "-subj", "/CN=app", "-days", "2", "-out"])
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    s.add_jwt_key("entra", "RS256", &std::fs::read_to_string(RSA_KEY).unwrap());
    let mut b = cc(&s, "entra", ClientAuthMethod::PrivateKeyJwt);
    b.jwt_key(RSA_KEY, "RS256", None).unwrap();
    b.jwt_certificate(cert.to_str().unwrap()).unwrap();
    let t = b.build().unwrap().fetch(None).unwrap();
    let shown = |k: &str| t.extra(k).map(|v| v.as_str().to_string());
    assert_eq!(shown("assertion_x5t"), Some(openssl_thumbprint(&cert, "sha1")));
    assert_eq!(shown("assertion_x5t_s256"), Some(openssl_thumbprint(&cert, "sha256")));
    assert_eq!(shown("assertion_kid"), None);
    // Without a certificate, no thumbprints.
    let mut b = cc(&s, "entra", ClientAuthMethod::PrivateKeyJwt);
    b.jwt_key(RSA_KEY, "RS256", Some("k")).unwrap();
    let t = b.build().unwrap().fetch(None).unwrap();
    assert_eq!((t.extra("assertion_x5t"), t.extra("assertion_kid").map(|v| v.as_str())), (None, Some("k")));
    // Bad certificate files are refused when the fetcher is built, naming the file.
    for (file, why) in [("/nonexistent/app.pem", "cannot read"), (RSA_KEY, "holds no certificate")] {
        let mut b = cc(&s, "entra", ClientAuthMethod::PrivateKeyJwt);
        b.jwt_key(RSA_KEY, "RS256", None).unwrap();
        b.jwt_certificate(file).unwrap();
        let e = b.build().unwrap_err();
        assert_eq!(e.code(), ResultCode::InvalidArgument, "{e}");
        assert!(e.message().contains(file) && e.message().contains(why), "{}", e.message());
    }
    let mut b = cc(&s, "entra", ClientAuthMethod::Post);
    b.jwt_certificate(cert.to_str().unwrap()).unwrap();
    assert_eq!(b.build().unwrap_err().code(), ResultCode::Config, "a certificate without its key");
}

#[test]
fn a_wrong_key_or_secret_is_refused_by_the_server() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("idp-wrong");
    let other = dir.path().join("other.pem");
    std::fs::write(&other, ec_key_pem()).unwrap();
    s.add_jwt_key("es", "ES256", &ec_key_pem());
    let mut b = cc(&s, "es", ClientAuthMethod::PrivateKeyJwt);
    b.jwt_key(other.to_str().unwrap(), "ES256", None).unwrap();
    let e = b.build().unwrap().fetch(None).unwrap_err();
    assert_eq!((e.code(), e.oauth_error().map(|c| c.as_str())), (ResultCode::Oauth, Some("invalid_client")), "{e}");
    assert!(e.message().contains("bad signature"), "{}", e.message());
    s.add_jwt_key("hs", "HS256", "the-real-secret");
    let e = cc(&s, "hs", ClientAuthMethod::ClientSecretJwt).build().unwrap().fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Oauth);
    // A key that does not fit its algorithm is refused when the fetcher is built.
    let mut b = cc(&s, "es", ClientAuthMethod::PrivateKeyJwt);
    b.jwt_key(RSA_KEY, "ES256", None).unwrap();
    assert_eq!(b.build().unwrap_err().code(), ResultCode::InvalidArgument);
    let b = cc(&s, "es", ClientAuthMethod::PrivateKeyJwt);
    assert_eq!(b.build().unwrap_err().code(), ResultCode::Config, "private_key_jwt without a key");
}

#[test]
fn the_jwt_bearer_grant_signs_the_claims_google_service_accounts_use() {
    let s = Server::start().unwrap();
    let rsa = std::fs::read_to_string(RSA_KEY).unwrap();
    s.add_jwt_key("svc@project.iam.example", "RS256", &rsa);
    let mut b = FetcherBuilder::jwt_bearer(
        "sa",
        &token_url(&s),
        "svc@project.iam.example",
        Some("user@example.com"),
        Some("https://www.googleapis.com/auth/cloud-platform"),
    );
    b.jwt_key(RSA_KEY, "RS256", None).unwrap();
    b.assertion_lifetime_ms(3_600_000).unwrap();
    let f = b.build().unwrap();
    let t = f.fetch(None).unwrap();
    assert!(t.access_token().as_str().starts_with("jb-"));
    assert_eq!(t.extra("sub").map(|v| v.as_str()), Some("user@example.com"));
    assert_eq!(t.scope().map(|v| v.as_str()), Some("https://www.googleapis.com/auth/cloud-platform"));
    assert!(f.fetch(None).is_ok(), "a fresh assertion (jti) each time");
    let mut no_key = FetcherBuilder::jwt_bearer("sa", &token_url(&s), "i", None, None);
    assert_eq!(no_key.build().unwrap_err().code(), ResultCode::Config);
    no_key = FetcherBuilder::jwt_bearer("sa", &token_url(&s), "i", None, None);
    assert!(no_key.assertion_lifetime_ms(7_200_000).is_err());
}

#[test]
fn three_steps_over_https_with_a_private_ca_key_then_exchange_then_call() {
    let dir = TempDir::new("idp-chain");
    let ca = TestCa::new("corporate CA");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.cert_pem).unwrap();
    let ca_file = ca_file.to_str().unwrap().to_string();
    let s = Server::start_with_tls(server_config(&ca.server(&["127.0.0.1"]), None).unwrap()).unwrap();
    let ec = ec_key_pem();
    let key = dir.path().join("svc.pem");
    std::fs::write(&key, &ec).unwrap();
    s.add_jwt_key("svc", "ES256", &ec);

    let mut svc = cc(&s, "svc", ClientAuthMethod::PrivateKeyJwt);
    svc.jwt_key(key.to_str().unwrap(), "ES256", Some("svc-key")).unwrap();
    svc.ca_file(&ca_file).unwrap();
    let mut user = FetcherBuilder::token_exchange("user", &token_url(&s), "{{svc.access_token}}", None);
    user.dependency("svc").unwrap();
    user.request_data("requested_token_type", "urn:ietf:params:oauth:token-type:access_token").unwrap();
    user.request_data("audience", "https://api.example").unwrap();
    user.ca_file(&ca_file).unwrap();
    let mut api = FetcherBuilder::body("api", &s.url(), "/echo");
    api.dependency("user").unwrap();
    api.request_header("Authorization", "{{user.authorization}}").unwrap();
    api.ca_file(&ca_file).unwrap();
    let mut p = Pipeline::new();
    for b in [svc, user, api] {
        p.add(Arc::new(b.build().unwrap())).unwrap();
    }
    let call = p.get("api").unwrap();
    let exchanged = p.get("user").unwrap();
    assert!(exchanged.access_token().as_str().starts_with("tx-"));
    assert_eq!(
        exchanged.extra("issued_token_type").map(|v| v.as_str()),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    assert_eq!(exchanged.extra("audience").map(|v| v.as_str()), Some("https://api.example"));
    assert_eq!(exchanged.extra("subject").map(|v| v.as_str()), Some(p.get("svc").unwrap().access_token().as_str()));
    assert_eq!(
        call.extra("header.authorization").map(|v| v.as_str().to_string()),
        Some(format!("Bearer {}", exchanged.access_token()))
    );
}

#[test]
fn discovery_is_fetched_once_per_issuer_and_checked() {
    let s = Server::start().unwrap();
    let discovered = |issuer: &str| {
        let mut b = FetcherBuilder::client_credentials("d", "https://ignored.example/token", "app", "app-secret", None);
        b.issuer(issuer).unwrap();
        b.retry(1, 0).unwrap();
        b.build().unwrap()
    };
    for _ in 0..3 {
        let f = discovered(&s.url());
        for _ in 0..2 {
            assert!(f.fetch(None).unwrap().access_token().as_str().starts_with("cc-"));
        }
    }
    assert_eq!(s.hits("/.well-known/openid-configuration"), 1, "one metadata request for six fetches");
    assert_eq!(s.hits("/oauth/token"), 6);

    // RFC 8414's location, when the OpenID Connect one has nothing.
    let t = discovered(&format!("{}/tenant", s.url())).fetch(None).unwrap();
    assert!(t.access_token().as_str().starts_with("cc-"));

    // A document of another issuer is refused, naming the issuer and the document.
    let issuer = format!("{}/mismatch", s.url());
    let e = discovered(&issuer).fetch(None).unwrap_err();
    assert_eq!(e.code(), ResultCode::Response, "{e}");
    assert!(e.message().contains(&issuer) && e.message().contains("openid-configuration"), "{}", e.message());
    assert!(e.message().contains("https://issuer.example"), "{}", e.message());
    assert_eq!(e.step().map(|s| s.as_str()), Some("d"));
}
