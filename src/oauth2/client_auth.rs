//! Client authentication at a token endpoint (RFC 6749 section 2.3): how a confidential client
//! proves who it is, or how a public client names itself. The same rules apply to every
//! request a step sends: its own grant and its refresh grant.

use super::jwt::{client_assertion, SigningKey};
use crate::error::{Error, Result};
use crate::http::{basic_authorization, Request};
use std::sync::Arc;

/// How a confidential client authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret (the default).
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
    /// `tls_client_auth` (RFC 8705): the client certificate of the connection authenticates
    /// the client; the form carries its `client_id` only.
    Tls,
    /// `client_secret_jwt` (RFC 7523, OpenID Connect section 9): an HS256 assertion signed
    /// with the client secret.
    ClientSecretJwt,
    /// `private_key_jwt`: an RS256, PS256 or ES256 assertion signed with the client's key.
    PrivateKeyJwt,
    /// `none`: a public client, which sends its `client_id` only.
    None,
}

impl ClientAuthMethod {
    /// Parses a method name: `basic` or `client_secret_basic`; `post`, `body` or
    /// `client_secret_post`.
    pub fn parse(name: &str) -> Result<ClientAuthMethod> {
        match name {
            "basic" | "client_secret_basic" => Ok(ClientAuthMethod::Basic),
            "post" | "body" | "client_secret_post" => Ok(ClientAuthMethod::Post),
            "tls" | "tls_client_auth" | "self_signed_tls_client_auth" => Ok(ClientAuthMethod::Tls),
            "client_secret_jwt" => Ok(ClientAuthMethod::ClientSecretJwt),
            "private_key_jwt" => Ok(ClientAuthMethod::PrivateKeyJwt),
            "none" => Ok(ClientAuthMethod::None),
            other => Err(Error::invalid_argument(format!(
                "client authentication \"{}\" is not client_secret_basic (basic), client_secret_post (post), client_secret_jwt, private_key_jwt, tls_client_auth (tls) or none",
                other.escape_debug()
            ))),
        }
    }

    /// The name OpenID Connect registration uses for it.
    pub fn name(self) -> &'static str {
        match self {
            ClientAuthMethod::Basic => "client_secret_basic",
            ClientAuthMethod::Post => "client_secret_post",
            ClientAuthMethod::Tls => "tls_client_auth",
            ClientAuthMethod::ClientSecretJwt => "client_secret_jwt",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::None => "none",
        }
    }
}

/// An OAuth client: its id and, for a confidential client, its secret. No `Debug`: it holds a
/// secret.
#[derive(Clone)]
pub struct Client {
    pub id: String,
    /// `None`: a public client, which sends its `client_id` in the body and nothing else.
    pub secret: Option<String>,
}

/// How a step's client authenticates: the method, and the key of `private_key_jwt`.
#[derive(Clone)]
pub struct ClientAuth {
    pub method: ClientAuthMethod,
    pub key: Option<Arc<SigningKey>>,
}

impl Default for ClientAuth {
    fn default() -> ClientAuth {
        ClientAuth { method: ClientAuthMethod::Basic, key: None }
    }
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl ClientAuth {
    /// Writes `client`'s authentication into `request`, replacing whatever the request had
    /// of it (`client_id`, `client_secret` and assertion fields, and with Basic the
    /// `Authorization` header). A JWT assertion is made afresh for each request, with the
    /// request's URL (the token endpoint) as its audience.
    pub fn authenticate(&self, client: &Client, request: &mut Request) -> Result<()> {
        request.data.retain(|(k, _)| {
            !matches!(k.as_str(), "client_id" | "client_secret" | "client_assertion" | "client_assertion_type")
        });
        let assertion = |key: &SigningKey, request: &mut Request| -> Result<()> {
            let now = crate::token::now_ms() / 1000;
            let jwt = client_assertion(key, &client.id, &request.url, now)?;
            request.data.push(("client_id".into(), client.id.clone()));
            request.data.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
            request.data.push(("client_assertion".into(), jwt));
            Ok(())
        };
        match (&client.secret, self.method) {
            (_, ClientAuthMethod::PrivateKeyJwt) => {
                let key = self
                    .key
                    .as_ref()
                    .ok_or_else(|| Error::config("private_key_jwt needs the client's signing key (jwt_key)"))?;
                assertion(key, request)?;
            }
            (Some(secret), ClientAuthMethod::ClientSecretJwt) => assertion(&SigningKey::hmac(secret), request)?,
            (None, ClientAuthMethod::ClientSecretJwt) => {
                return Err(Error::config("client_secret_jwt needs the client secret"));
            }
            (None, _) | (_, ClientAuthMethod::Tls | ClientAuthMethod::None) => {
                request.data.push(("client_id".into(), client.id.clone()))
            }
            (Some(secret), ClientAuthMethod::Basic) => {
                request.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
                request.headers.push(("Authorization".into(), basic_authorization(&client.id, secret, true)));
            }
            (Some(secret), ClientAuthMethod::Post) => {
                request.data.push(("client_id".into(), client.id.clone()));
                request.data.push(("client_secret".into(), secret.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{ContentType, Method};

    fn request() -> Request {
        Request {
            method: Method::Post,
            url: "http://h/t".into(),
            headers: vec![("authorization".into(), "Bearer old".into())],
            data: vec![("client_id".into(), "stale".into()), ("grant_type".into(), "x".into())],
            query: vec![],
            content_type: ContentType::Form,
            raw_body: None,
        }
    }

    fn auth(method: ClientAuthMethod) -> ClientAuth {
        ClientAuth { method, key: None }
    }

    #[test]
    fn basic_post_and_public() {
        let client = Client { id: "app".into(), secret: Some("s".into()) };
        let mut r = request();
        auth(ClientAuthMethod::Basic).authenticate(&client, &mut r).unwrap();
        assert_eq!(r.header("Authorization"), Some(basic_authorization("app", "s", true).as_str()));
        assert_eq!(r.data, vec![("grant_type".to_string(), "x".to_string())]);
        let mut r = request();
        auth(ClientAuthMethod::Post).authenticate(&client, &mut r).unwrap();
        assert_eq!(r.header("Authorization"), Some("Bearer old"), "post leaves other headers alone");
        assert_eq!(r.data.iter().filter(|(k, _)| k == "client_id").count(), 1);
        assert!(r.data.contains(&("client_secret".into(), "s".into())));
        let public = Client { id: "pub".into(), secret: None };
        let mut r = request();
        auth(ClientAuthMethod::Basic).authenticate(&public, &mut r).unwrap();
        assert!(r.data.contains(&("client_id".into(), "pub".into())));
        assert!(!r.data.iter().any(|(k, _)| k == "client_secret"));
    }

    #[test]
    fn jwt_assertions_replace_secrets_and_need_their_key() {
        let client = Client { id: "app".into(), secret: Some("s".into()) };
        let mut r = request();
        auth(ClientAuthMethod::ClientSecretJwt).authenticate(&client, &mut r).unwrap();
        assert_eq!(r.data("client_assertion_type"), Some(ASSERTION_TYPE));
        assert_eq!(r.data("client_assertion").map(|a| a.split('.').count()), Some(3));
        assert!(r.data("client_secret").is_none(), "the secret itself is never sent");
        let e = auth(ClientAuthMethod::PrivateKeyJwt).authenticate(&client, &mut request()).unwrap_err();
        assert_eq!(e.code(), crate::ResultCode::Config);
    }

    #[test]
    fn method_names() {
        for (name, m) in [
            ("basic", ClientAuthMethod::Basic),
            ("client_secret_post", ClientAuthMethod::Post),
            ("body", ClientAuthMethod::Post),
        ] {
            assert_eq!(ClientAuthMethod::parse(name).unwrap(), m);
        }
        assert!(ClientAuthMethod::parse("jwt").is_err());
        assert_eq!(ClientAuthMethod::Post.name(), "client_secret_post");
    }
}
