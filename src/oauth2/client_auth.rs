//! Client authentication at a token endpoint (RFC 6749 section 2.3): how a confidential client
//! proves who it is, or how a public client names itself. The same rules apply to every
//! request a step sends: its own grant and its refresh grant.

use crate::error::{Error, Result};
use crate::http::{basic_authorization, Request};

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
}

impl ClientAuthMethod {
    /// Parses a method name: `basic` or `client_secret_basic`; `post`, `body` or
    /// `client_secret_post`.
    pub fn parse(name: &str) -> Result<ClientAuthMethod> {
        match name {
            "basic" | "client_secret_basic" => Ok(ClientAuthMethod::Basic),
            "post" | "body" | "client_secret_post" => Ok(ClientAuthMethod::Post),
            "tls" | "tls_client_auth" | "self_signed_tls_client_auth" => Ok(ClientAuthMethod::Tls),
            other => Err(Error::invalid_argument(format!(
                "client authentication \"{}\" is not client_secret_basic (basic), client_secret_post (post, body) or tls_client_auth (tls)",
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

impl Client {
    /// Writes the client's authentication into `request`, replacing whatever the request had
    /// of it (`client_id` and `client_secret` fields, and with Basic the `Authorization`
    /// header).
    pub fn authenticate(&self, method: ClientAuthMethod, request: &mut Request) {
        request.data.retain(|(k, _)| k != "client_id" && k != "client_secret");
        match (&self.secret, method) {
            (None, _) | (_, ClientAuthMethod::Tls) => request.data.push(("client_id".into(), self.id.clone())),
            (Some(secret), ClientAuthMethod::Basic) => {
                request.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
                request.headers.push(("Authorization".into(), basic_authorization(&self.id, secret, true)));
            }
            (Some(secret), ClientAuthMethod::Post) => {
                request.data.push(("client_id".into(), self.id.clone()));
                request.data.push(("client_secret".into(), secret.clone()));
            }
        }
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

    #[test]
    fn basic_post_and_public() {
        let client = Client { id: "app".into(), secret: Some("s".into()) };
        let mut r = request();
        client.authenticate(ClientAuthMethod::Basic, &mut r);
        assert_eq!(r.header("Authorization"), Some(basic_authorization("app", "s", true).as_str()));
        assert_eq!(r.data, vec![("grant_type".to_string(), "x".to_string())]);
        let mut r = request();
        client.authenticate(ClientAuthMethod::Post, &mut r);
        assert_eq!(r.header("Authorization"), Some("Bearer old"), "post leaves other headers alone");
        assert_eq!(r.data.iter().filter(|(k, _)| k == "client_id").count(), 1);
        assert!(r.data.contains(&("client_secret".into(), "s".into())));
        let public = Client { id: "pub".into(), secret: None };
        let mut r = request();
        public.authenticate(ClientAuthMethod::Basic, &mut r);
        assert!(r.data.contains(&("client_id".into(), "pub".into())));
        assert!(!r.data.iter().any(|(k, _)| k == "client_secret"));
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
