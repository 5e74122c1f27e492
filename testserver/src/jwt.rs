//! JWT verification for the test server: client assertions (RFC 7523 section 2.2) and JWT
//! bearer grant assertions (section 2.1), verified with `ring` against keys the tests
//! register, with every claim checked and each `jti` accepted once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// What verifies the assertions of one issuer.
pub(crate) struct VerifyKey {
    alg: String,
    /// RSA: the RSAPublicKey DER; EC: the uncompressed point; HS256: the secret.
    key: Vec<u8>,
}

impl VerifyKey {
    /// The key for `alg`: the public half of the private key in `key` (PEM) for RS256,
    /// PS256 and ES256, or the secret itself for HS256.
    pub(crate) fn new(alg: &str, key: &str) -> VerifyKey {
        let public = match alg {
            "HS256" => key.as_bytes().to_vec(),
            "RS256" | "PS256" | "ES256" => {
                let der = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("a PEM private key");
                let PrivateKeyDer::Pkcs8(der) = der else { panic!("the test keys are PKCS#8") };
                if alg == "ES256" {
                    let rng = ring::rand::SystemRandom::new();
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der.secret_pkcs8_der(), &rng)
                        .expect("a P-256 key")
                        .public_key()
                        .as_ref()
                        .to_vec()
                } else {
                    RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("an RSA key").public().as_ref().to_vec()
                }
            }
            other => panic!("unknown algorithm {other}"),
        };
        VerifyKey { alg: alg.to_string(), key: public }
    }
}

/// The registered keys and the `jti`s seen.
#[derive(Default)]
pub(crate) struct Verifier {
    pub keys: Mutex<HashMap<String, VerifyKey>>,
    jtis: Mutex<HashSet<String>>,
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn decode(part: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| "not base64url".to_string())?;
    serde_json::from_slice(&bytes).map_err(|_| "not JSON".to_string())
}

impl Verifier {
    /// Verifies `jwt` and returns its claims, algorithm and header: the issuer is registered, the header's `alg` is
    /// its key's, the signature holds, `aud` is one of `audiences`, `exp` is in the future and
    /// at most `max_lifetime` away, `iat` is not in the future, and the `jti` is new. With
    /// `client`, also `iss` = `sub` (a client assertion).
    pub(crate) fn verify(
        &self,
        jwt: &str,
        audiences: &[String],
        max_lifetime: i64,
        client: bool,
    ) -> Result<(Value, String, Value), String> {
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header, claims, signature] = parts.as_slice() else { return Err("not a compact JWS".into()) };
        let (header, claims) = (decode(header)?, decode(claims)?);
        let sig = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "bad signature encoding".to_string())?;
        let iss = claims["iss"].as_str().ok_or("no iss")?;
        let keys = self.keys.lock().unwrap();
        let key = keys.get(iss).ok_or_else(|| format!("unknown issuer {iss}"))?;
        if header["alg"].as_str() != Some(key.alg.as_str()) {
            return Err(format!("alg {} is not {}", header["alg"], key.alg));
        }
        let signed = jwt.rsplit_once('.').map(|(s, _)| s).unwrap_or("").as_bytes();
        let ok = match key.alg.as_str() {
            "HS256" => {
                ring::hmac::verify(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key.key), signed, &sig).is_ok()
            }
            "RS256" => {
                UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &key.key).verify(signed, &sig).is_ok()
            }
            "PS256" => {
                UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, &key.key).verify(signed, &sig).is_ok()
            }
            "ES256" => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &key.key).verify(signed, &sig).is_ok()
            }
            _ => false,
        };
        if !ok {
            return Err("bad signature".into());
        }
        if client && claims["sub"].as_str() != Some(iss) {
            return Err("sub is not iss".into());
        }
        let aud_ok = match &claims["aud"] {
            Value::String(a) => audiences.contains(a),
            Value::Array(a) => a.iter().any(|v| v.as_str().is_some_and(|s| audiences.iter().any(|x| x == s))),
            _ => false,
        };
        if !aud_ok {
            return Err(format!("aud {} is not this server", claims["aud"]));
        }
        let (exp, iat, now) = (claims["exp"].as_i64().ok_or("no exp")?, claims["iat"].as_i64().ok_or("no iat")?, now());
        if exp <= now || exp - now > max_lifetime {
            return Err(format!("exp {exp} is past or too far ahead"));
        }
        if iat > now + 5 {
            return Err("iat is in the future".into());
        }
        if claims.get("nbf").is_some_and(|nbf| nbf.as_i64().is_none_or(|nbf| nbf > now + 5)) {
            return Err("nbf is not a time up to now".into());
        }
        let jti = claims["jti"].as_str().filter(|j| !j.is_empty()).ok_or("no jti")?;
        if !self.jtis.lock().unwrap().insert(jti.to_string()) {
            return Err(format!("jti {jti} was used before"));
        }
        Ok((claims, key.alg.clone(), header))
    }
}
