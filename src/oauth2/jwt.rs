//! Signed JWTs (RFC 7515 compact form) for client assertions (RFC 7523 section 2.2, OpenID
//! Connect Core section 9) and the JWT bearer grant (RFC 7523 section 2.1): RS256, PS256,
//! ES256 with a key from a PEM file, and HS256 with a client secret. The signatures are
//! `ring`'s, the crypto the TLS stack already brings; this module only lays out the JSON.

use crate::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde_json::{json, Value};
use std::fmt;

/// A JWS signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Ps256,
    Es256,
    Hs256,
}

impl Algorithm {
    pub fn parse(name: &str) -> Result<Algorithm> {
        match name {
            "RS256" => Ok(Algorithm::Rs256),
            "PS256" => Ok(Algorithm::Ps256),
            "ES256" => Ok(Algorithm::Es256),
            "HS256" => Ok(Algorithm::Hs256),
            other => Err(Error::invalid_argument(format!(
                "signature algorithm \"{}\" is not RS256, PS256, ES256 or HS256",
                other.escape_debug()
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
            Algorithm::Es256 => "ES256",
            Algorithm::Hs256 => "HS256",
        }
    }
}

enum Material {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Hmac(ring::hmac::Key),
}

/// A key that signs JWTs, with its algorithm, optional key id and optional certificate
/// thumbprints. No `Debug` of the key.
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    /// `x5t` and `x5t#S256`: base64url SHA-1 and SHA-256 of the certificate's DER.
    thumbprints: Option<(String, String)>,
    material: Material,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("x5t", &self.thumbprints.as_ref().map(|t| &t.0))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The private key in the PEM file `path` (RSA: PKCS#8 or PKCS#1; EC P-256: PKCS#8) for
    /// `alg` (RS256, PS256 or ES256), with an optional `kid` for the header. A key that does
    /// not fit the algorithm is `INVALID_ARGUMENT`, naming the file.
    pub fn from_pem_file(path: &str, alg: Algorithm, kid: Option<&str>) -> Result<SigningKey> {
        let bad = |why: &str| Error::invalid_argument(format!("the JWT signing key \"{path}\" {why}"));
        let pem = zeroize::Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| Error::invalid_argument(format!("cannot read the JWT signing key \"{path}\": {e}")))?,
        );
        let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| bad("holds no PEM private key"))?;
        let material = match (alg, &key) {
            (Algorithm::Rs256 | Algorithm::Ps256, PrivateKeyDer::Pkcs8(der)) => {
                Material::Rsa(RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(|_| bad("is not an RSA key"))?)
            }
            (Algorithm::Rs256 | Algorithm::Ps256, PrivateKeyDer::Pkcs1(der)) => {
                Material::Rsa(RsaKeyPair::from_der(der.secret_pkcs1_der()).map_err(|_| bad("is not a valid RSA key"))?)
            }
            (Algorithm::Es256, PrivateKeyDer::Pkcs8(der)) => Material::Ecdsa(
                EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der.secret_pkcs8_der(),
                    &SystemRandom::new(),
                )
                .map_err(|_| bad("is not a P-256 EC key"))?,
            ),
            (Algorithm::Es256, _) => {
                return Err(bad("must be PKCS#8 (openssl pkcs8 -topk8 -nocrypt converts a SEC1 key)"))
            }
            (Algorithm::Hs256, _) => return Err(bad("cannot be used with HS256, which signs with a client secret")),
            _ => return Err(bad("is not an RSA or EC key")),
        };
        Ok(SigningKey { alg, kid: kid.map(str::to_string), thumbprints: None, material })
    }

    /// The key with its X.509 certificate (the first in the PEM file `path`): assertions then
    /// carry the certificate's thumbprints, `x5t` (SHA-1) and `x5t#S256` (SHA-256), in their
    /// header, which is how Microsoft Entra ID finds the key of a certificate credential.
    /// That the certificate is the key's is for the server to check.
    pub fn with_certificate(mut self, path: &str) -> Result<SigningKey> {
        let certs = crate::tls::certificates("JWT certificate", path)?;
        let der = certs[0].der();
        let thumbprint = |alg| URL_SAFE_NO_PAD.encode(ring::digest::digest(alg, der));
        self.thumbprints =
            Some((thumbprint(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY), thumbprint(&ring::digest::SHA256)));
        Ok(self)
    }

    /// An HS256 key made of a client secret (client_secret_jwt).
    pub fn hmac(secret: &str) -> SigningKey {
        SigningKey {
            alg: Algorithm::Hs256,
            kid: None,
            thumbprints: None,
            material: Material::Hmac(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes())),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// `claims` signed: `header.payload.signature`, base64url without padding.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let mut header = json!({ "alg": self.alg.name(), "typ": "JWT" });
        if let Some(kid) = &self.kid {
            header["kid"] = Value::String(kid.clone());
        }
        if let Some((sha1, sha256)) = &self.thumbprints {
            header["x5t"] = Value::String(sha1.clone());
            header["x5t#S256"] = Value::String(sha256.clone());
        }
        let mut jwt =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let rng = SystemRandom::new();
        let failed = || Error::new(crate::ResultCode::Callback, "signing the JWT failed");
        let signature = match &self.material {
            Material::Rsa(key) => {
                let scheme: &dyn signature::RsaEncoding = if self.alg == Algorithm::Ps256 {
                    &signature::RSA_PSS_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; key.public().modulus_len()];
                key.sign(scheme, &rng, jwt.as_bytes(), &mut sig).map_err(|_| failed())?;
                sig
            }
            Material::Ecdsa(key) => key.sign(&rng, jwt.as_bytes()).map_err(|_| failed())?.as_ref().to_vec(),
            Material::Hmac(key) => ring::hmac::sign(key, jwt.as_bytes()).as_ref().to_vec(),
        };
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jwt)
    }
}

/// A random JWT id: 128 bits, base64url.
pub fn jti() -> Result<String> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::new(crate::ResultCode::Callback, "no randomness for a jti"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// How long a client assertion is valid.
pub const CLIENT_ASSERTION_LIFETIME_S: i64 = 60;

/// A client assertion (RFC 7523 section 2.2): `iss` = `sub` = the client id, `aud` = the token
/// endpoint, a fresh `jti`, `iat` and `nbf` now (Microsoft Entra ID lists `nbf` among the
/// claims it reads) and an `exp` a minute later.
pub fn client_assertion(key: &SigningKey, client_id: &str, audience: &str, now_s: i64) -> Result<String> {
    key.sign(&json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": jti()?,
        "iat": now_s,
        "nbf": now_s,
        "exp": now_s + CLIENT_ASSERTION_LIFETIME_S,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(jwt: &str) -> (Value, Value, usize) {
        let p: Vec<&str> = jwt.split('.').collect();
        assert_eq!(p.len(), 3, "{jwt}");
        let decode = |s: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
        (decode(p[0]), decode(p[1]), URL_SAFE_NO_PAD.decode(p[2]).unwrap().len())
    }

    #[test]
    fn hs256_assertions_have_every_claim_and_verify() {
        let key = SigningKey::hmac("secret");
        let jwt = client_assertion(&key, "app", "https://idp/token", 1_000).unwrap();
        let (header, claims, sig_len) = parts(&jwt);
        assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
        assert_eq!(
            (claims["iss"].as_str(), claims["sub"].as_str(), claims["aud"].as_str()),
            (Some("app"), Some("app"), Some("https://idp/token"))
        );
        assert_eq!(
            (claims["iat"].as_i64(), claims["nbf"].as_i64(), claims["exp"].as_i64()),
            (Some(1_000), Some(1_000), Some(1_060))
        );
        assert_eq!(sig_len, 32);
        let (signed, sig) = jwt.rsplit_once('.').unwrap();
        let verify = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret");
        ring::hmac::verify(&verify, signed.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        let other = client_assertion(&key, "app", "https://idp/token", 1_000).unwrap();
        assert_ne!(parts(&other).1["jti"], claims["jti"], "a fresh jti each time");
    }

    #[test]
    fn algorithms_and_keys_must_match() {
        assert!(Algorithm::parse("none").is_err());
        assert_eq!(Algorithm::parse("PS256").unwrap().name(), "PS256");
        let e = SigningKey::from_pem_file("/nonexistent.pem", Algorithm::Rs256, None).unwrap_err();
        assert!(e.message().contains("/nonexistent.pem"));
    }
}
