//! A whole pipeline from JSON (the format is in the README). Keys mirror the builder options;
//! unknown keys, wrong types and bad values are `CONFIG` errors naming the step and field;
//! `${env:NAME}` in a string is replaced by that environment variable (missing: `CONFIG`).

use super::Pipeline;
use crate::error::{Error, Result};
use crate::fetcher::FetcherBuilder;
use crate::http::ContentType;
use crate::oauth2::ClientAuthMethod;
use crate::storage::{FileStorage, MemoryStorage, RedisStorage, TokenStorage};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Where in the document a value is, for messages.
struct At<'a> {
    step: &'a str,
    field: &'a str,
}

impl At<'_> {
    fn error(&self, message: impl AsRef<str>) -> Error {
        let e = Error::config(format!("step \"{}\", field \"{}\": {}", self.step, self.field, message.as_ref()));
        if self.step.is_empty() {
            e
        } else {
            e.with_step_field(self.step)
        }
    }
}

/// Replaces each `${env:NAME}` with the variable's value.
fn expand(text: &str, at: &At<'_>) -> Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let end = after.find('}').ok_or_else(|| at.error("unterminated \"${env:\""))?;
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| at.error(format!("environment variable \"{name}\" is not set")))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn string(v: &Value, at: &At<'_>) -> Result<String> {
    v.as_str().ok_or_else(|| at.error("must be a string")).and_then(|s| expand(s, at))
}

fn integer(v: &Value, at: &At<'_>) -> Result<i64> {
    v.as_i64().ok_or_else(|| at.error("must be an integer"))
}

fn unsigned(v: &Value, at: &At<'_>) -> Result<u64> {
    v.as_u64().ok_or_else(|| at.error("must be a non-negative integer"))
}

fn boolean(v: &Value, at: &At<'_>) -> Result<bool> {
    v.as_bool().ok_or_else(|| at.error("must be true or false"))
}

fn object<'v>(v: &'v Value, at: &At<'_>) -> Result<&'v Map<String, Value>> {
    v.as_object().ok_or_else(|| at.error("must be an object"))
}

/// `{"key": "value", ...}` as pairs, each value expanded.
fn pairs(v: &Value, at: &At<'_>) -> Result<Vec<(String, String)>> {
    object(v, at)?
        .iter()
        .map(|(k, v)| Ok((k.clone(), string(v, &At { step: at.step, field: &format!("{}.{k}", at.field) })?)))
        .collect()
}

/// Takes `key` out of `map` (so that what is left over is unknown).
fn take(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    map.remove(key)
}

fn required(map: &mut Map<String, Value>, key: &str, step: &str) -> Result<String> {
    let at = At { step, field: key };
    let v = take(map, key).ok_or_else(|| at.error("is required"))?;
    string(&v, &at)
}

/// Parses the document into a pipeline.
pub fn from_json(text: &str) -> Result<Pipeline> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        Error::config(format!(
            "pipeline JSON is not valid JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    let top = At { step: "", field: "" };
    let mut doc = object(&doc, &top).map_err(|_| Error::config("pipeline JSON must be an object"))?.clone();
    let mut pipeline = Pipeline::new();
    if let Some(v) = take(&mut doc, "refresh_margin_ms") {
        let at = At { step: "", field: "refresh_margin_ms" };
        pipeline.set_refresh_margin_ms(integer(&v, &at)?).map_err(|e| at.error(e.message()))?;
    }
    if let Some(v) = take(&mut doc, "default_lifetime_ms") {
        let at = At { step: "", field: "default_lifetime_ms" };
        pipeline.set_default_lifetime_ms(integer(&v, &at)?).map_err(|e| at.error(e.message()))?;
    }
    if let Some(v) = take(&mut doc, "background_refresh") {
        let at = At { step: "", field: "background_refresh" };
        pipeline.set_background_refresh(boolean(&v, &at)?)?;
    }
    if let Some(v) = take(&mut doc, "storage") {
        let (storage, prefix) = storage(&v)?;
        pipeline.set_storage(storage, prefix.as_deref())?;
    }
    let steps = take(&mut doc, "steps").ok_or_else(|| Error::config("pipeline JSON has no \"steps\""))?;
    if let Some(unknown) = doc.keys().next() {
        return Err(Error::config(format!("unknown key \"{unknown}\" at the top of the pipeline JSON")));
    }
    let steps = steps.as_array().ok_or_else(|| Error::config("\"steps\" must be an array"))?;
    for (n, step) in steps.iter().enumerate() {
        let builder = step_builder(step, n)?;
        let name = builder.name().to_string();
        let fetcher = builder.build().map_err(|e| Error::config(e.message()).with_step_field(&name))?;
        pipeline.add(Arc::new(fetcher))?;
    }
    pipeline.validate()?;
    Ok(pipeline)
}

/// The top-level `"storage"`: `{"kind": "file", "dir": ...}`, `{"kind": "redis", "url": ...}`
/// or `{"kind": "memory"}`, each with an optional `"key_prefix"`.
fn storage(v: &Value) -> Result<(Arc<dyn TokenStorage>, Option<String>)> {
    let at = At { step: "", field: "storage" };
    let mut m = object(v, &at)?.clone();
    let kind = string(&take(&mut m, "kind").ok_or_else(|| at.error("needs \"kind\""))?, &at)?;
    let prefix = take(&mut m, "key_prefix").map(|v| string(&v, &at)).transpose()?;
    let mut field = |name: &str| -> Result<String> {
        string(&take(&mut m, name).ok_or_else(|| at.error(format!("a {kind} store needs \"{name}\"")))?, &at)
    };
    let storage: Arc<dyn TokenStorage> = match kind.as_str() {
        "file" => Arc::new(FileStorage::open(field("dir")?).map_err(|e| at.error(e.message()))?),
        "redis" => Arc::new(RedisStorage::open(&field("url")?).map_err(|e| at.error(e.message()))?),
        "memory" => Arc::new(MemoryStorage::new()),
        other => return Err(at.error(format!("\"{other}\" is not file, redis or memory"))),
    };
    no_leftovers(&m, &at)?;
    Ok((storage, prefix))
}

fn step_builder(step: &Value, n: usize) -> Result<FetcherBuilder> {
    let label = format!("#{}", n + 1);
    let mut map = object(step, &At { step: &label, field: "" })
        .map_err(|_| Error::config(format!("step {label} must be an object")))?
        .clone();
    let name = required(&mut map, "name", &label)?;
    let kind = required(&mut map, "kind", &name)?;
    let mut b = match kind.as_str() {
        "body" | "header" => {
            let base_url = required(&mut map, "base_url", &name)?;
            let endpoint = match take(&mut map, "endpoint") {
                Some(v) => string(&v, &At { step: &name, field: "endpoint" })?,
                None => String::new(),
            };
            if kind == "body" {
                FetcherBuilder::body(&name, &base_url, &endpoint)
            } else {
                FetcherBuilder::header(&name, &base_url, &endpoint)
            }
        }
        "client_credentials" | "jwt_bearer" | "token_exchange" => {
            // The token endpoint: "token_url", or discovered from "issuer" (applied below).
            let token_url = match (take(&mut map, "token_url"), map.contains_key("issuer")) {
                (Some(v), _) => string(&v, &At { step: &name, field: "token_url" })?,
                (None, true) => String::new(),
                (None, false) => {
                    return Err(At { step: &name, field: "token_url" }.error("is required (or \"issuer\")"))
                }
            };
            let optional = |map: &mut Map<String, Value>, key: &str| -> Result<Option<String>> {
                take(map, key).map(|v| string(&v, &At { step: &name, field: key })).transpose()
            };
            let scope = optional(&mut map, "scope")?;
            match kind.as_str() {
                "client_credentials" => {
                    let id = required(&mut map, "client_id", &name)?;
                    let secret = optional(&mut map, "client_secret")?.unwrap_or_default();
                    FetcherBuilder::client_credentials(&name, &token_url, &id, &secret, scope.as_deref())
                }
                "jwt_bearer" => {
                    let issuer = required(&mut map, "assertion_issuer", &name)?;
                    let subject = optional(&mut map, "assertion_subject")?;
                    FetcherBuilder::jwt_bearer(&name, &token_url, &issuer, subject.as_deref(), scope.as_deref())
                }
                _ => {
                    let subject = required(&mut map, "subject_token", &name)?;
                    let subject_type = optional(&mut map, "subject_token_type")?;
                    let mut b = FetcherBuilder::token_exchange(&name, &token_url, &subject, subject_type.as_deref());
                    if let Some(scope) = scope {
                        b.request_data("scope", &scope)?;
                    }
                    b
                }
            }
        }
        other => {
            return Err(At { step: &name, field: "kind" }
                .error(format!("\"{other}\" is not body, header, client_credentials, jwt_bearer or token_exchange")))
        }
    };
    // Options that come in pairs.
    let mut pair = |first: &str, second: &str| -> Result<Option<(String, Option<String>)>> {
        let a = take(&mut map, first).map(|v| string(&v, &At { step: &name, field: first })).transpose()?;
        let b = take(&mut map, second).map(|v| string(&v, &At { step: &name, field: second })).transpose()?;
        match (a, b) {
            (Some(a), b) => Ok(Some((a, b))),
            (None, Some(_)) => Err(At { step: &name, field: second }.error(format!("needs \"{first}\""))),
            (None, None) => Ok(None),
        }
    };
    let at = |field: &'static str| At { step: &name, field };
    match pair("client_cert", "client_key")? {
        Some((cert, Some(key))) => b.client_cert(&cert, &key).map_err(|e| at("client_cert").error(e.message()))?,
        Some((_, None)) => return Err(at("client_cert").error("needs \"client_key\"")),
        None => {}
    }
    if let Some((id, secret)) = pair("client_id", "client_secret")? {
        b.client(&id, secret.as_deref()).map_err(|e| at("client_id").error(e.message()))?;
    }
    if let Some((token, kind)) = pair("actor_token", "actor_token_type")? {
        b.actor_token(&token, kind.as_deref()).map_err(|e| at("actor_token").error(e.message()))?;
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let value = map.remove(&key).expect("listed");
        let at = At { step: &name, field: &key };
        apply(&mut b, &key, &value, &at).map_err(|e| {
            if e.code() == crate::ResultCode::Config {
                e
            } else {
                at.error(e.message())
            }
        })?;
    }
    Ok(b)
}

/// Applies one option to the builder.
fn apply(b: &mut FetcherBuilder, key: &str, v: &Value, at: &At<'_>) -> Result<()> {
    match key {
        "method" => b.method(&string(v, at)?),
        "request_headers" => pairs(v, at)?.iter().try_for_each(|(k, val)| b.request_header(k, val)),
        "request_data" => pairs(v, at)?.iter().try_for_each(|(k, val)| b.request_data(k, val)),
        "query" => pairs(v, at)?.iter().try_for_each(|(k, val)| b.query_param(k, val)),
        "content_type" => match string(v, at)?.as_str() {
            "form" => b.content_type(ContentType::Form),
            "json" => b.content_type(ContentType::Json),
            other => Err(at.error(format!("\"{other}\" is not form or json"))),
        },
        "token_field" => b.token_field(&string(v, at)?),
        "token_type_field" => b.token_type_field(&string(v, at)?),
        "expires_in_field" => b.expires_in_field(&string(v, at)?),
        "refresh_token_field" => b.refresh_token_field(&string(v, at)?),
        "default_token_type" => b.default_token_type(&string(v, at)?),
        "token_header" => b.token_header(&string(v, at)?),
        "token_type" => b.token_type(&string(v, at)?),
        "client_auth" => b.client_auth(ClientAuthMethod::parse(&string(v, at)?)?),
        "ca_file" => b.ca_file(&string(v, at)?),
        "jwt_key" => {
            let mut m = object(v, at)?.clone();
            let file = string(&take(&mut m, "file").ok_or_else(|| at.error("needs \"file\""))?, at)?;
            let alg = string(&take(&mut m, "alg").ok_or_else(|| at.error("needs \"alg\""))?, at)?;
            let kid = take(&mut m, "kid").map(|v| string(&v, at)).transpose()?;
            let cert = take(&mut m, "cert").map(|v| string(&v, at)).transpose()?;
            no_leftovers(&m, at)?;
            b.jwt_key(&file, &alg, kid.as_deref())?;
            cert.map_or(Ok(()), |cert| b.jwt_certificate(&cert))
        }
        "issuer" => b.issuer(&string(v, at)?),
        "assertion_audience" => b.assertion_audience(&string(v, at)?),
        "assertion_lifetime_ms" => b.assertion_lifetime_ms(integer(v, at)?),
        "requested_token_type" | "audience" | "resource" => b.request_data(key, &string(v, at)?),
        "basic_auth" => {
            let mut m = object(v, at)?.clone();
            let user = string(&take(&mut m, "user").ok_or_else(|| at.error("needs \"user\""))?, at)?;
            let password = string(&take(&mut m, "password").ok_or_else(|| at.error("needs \"password\""))?, at)?;
            no_leftovers(&m, at)?;
            b.basic_auth(&user, &password)
        }
        "ttl_ms" => b.ttl_ms(integer(v, at)?),
        "timeout_ms" => b.timeout_ms(unsigned(v, at)?),
        "verify_tls" => b.verify_tls(boolean(v, at)?),
        "renews_dependents" => b.renews_dependents(boolean(v, at)?),
        "retry" => {
            let mut m = object(v, at)?.clone();
            let attempts = take(&mut m, "max_attempts").map(|v| unsigned(&v, at)).transpose()?.unwrap_or(3);
            let delay = take(&mut m, "base_delay_ms").map(|v| unsigned(&v, at)).transpose()?.unwrap_or(200);
            no_leftovers(&m, at)?;
            b.retry(u32::try_from(attempts).unwrap_or(u32::MAX), delay)
        }
        "depends_on" => v
            .as_array()
            .ok_or_else(|| at.error("must be an array of step names"))?
            .iter()
            .try_for_each(|d| b.dependency(&string(d, at)?)),
        "refresh_endpoint" => {
            let mut m = object(v, at)?.clone();
            let url = take(&mut m, "token_url").map(|v| string(&v, at)).transpose()?;
            let id = take(&mut m, "client_id").map(|v| string(&v, at)).transpose()?;
            let secret = take(&mut m, "client_secret").map(|v| string(&v, at)).transpose()?;
            no_leftovers(&m, at)?;
            b.refresh_endpoint(url.as_deref(), id.as_deref(), secret.as_deref())
        }
        _ => Err(at.error("unknown key")),
    }
}

fn no_leftovers(m: &Map<String, Value>, at: &At<'_>) -> Result<()> {
    match m.keys().next() {
        Some(k) => Err(at.error(format!("unknown key \"{k}\""))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ResultCode;

    fn err(json: &str) -> Error {
        from_json(json).err().expect("fails")
    }

    #[test]
    fn full_example_parses() {
        std::env::set_var("TF_JSON_TEST_SECRET", "s3cret");
        let p = from_json(
            r#"{
              "refresh_margin_ms": 60000, "default_lifetime_ms": 600000,
              "steps": [
                { "name": "device_token", "kind": "header", "base_url": "http://127.0.0.1:1",
                  "endpoint": "/device/register", "method": "POST",
                  "request_headers": { "X-Device-ID": "device-123" },
                  "token_header": "X-Device-Token", "token_type": "Bearer", "ttl_ms": 2592000000 },
                { "name": "app_token", "kind": "client_credentials",
                  "token_url": "http://127.0.0.1:1/oauth/token", "client_id": "app",
                  "client_secret": "${env:TF_JSON_TEST_SECRET}", "scope": "read", "client_auth": "basic" },
                { "name": "user_token", "kind": "body", "base_url": "http://127.0.0.1:1", "endpoint": "/user/auth",
                  "depends_on": ["device_token", "app_token"], "content_type": "json",
                  "request_headers": { "X-Device-Token": "{{device_token.access_token}}",
                                       "Authorization": "{{app_token.authorization}}" },
                  "request_data": { "username": "user", "password": "${env:TF_JSON_TEST_SECRET}" },
                  "query": {}, "token_field": "access_token", "token_type_field": "token_type",
                  "expires_in_field": "expires_in", "refresh_token_field": "refresh_token",
                  "default_token_type": "Bearer", "timeout_ms": 30000, "verify_tls": true,
                  "retry": { "max_attempts": 3, "base_delay_ms": 200 },
                  "refresh_endpoint": { "token_url": "http://127.0.0.1:1/oauth/token",
                                        "client_id": "app", "client_secret": "${env:TF_JSON_TEST_SECRET}" } }
              ]
            }"#,
        )
        .unwrap();
        let names: Vec<&str> = p.steps().map(|s| s.as_str()).collect();
        assert_eq!(names, ["device_token", "app_token", "user_token"]);
    }

    #[test]
    fn identity_provider_steps_parse() {
        let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/test-rsa-key.pem");
        let p = from_json(&format!(
            r#"{{"steps":[
              {{"name":"svc","kind":"client_credentials","issuer":"https://idp.example","client_id":"svc",
                "client_auth":"private_key_jwt","jwt_key":{{"file":"{key}","alg":"PS256","kid":"k1"}}}},
              {{"name":"sa","kind":"jwt_bearer","token_url":"https://oauth2.example/token",
                "assertion_issuer":"sa@example","assertion_subject":"u@example","scope":"s",
                "jwt_key":{{"file":"{key}","alg":"RS256"}},"assertion_lifetime_ms":3600000}},
              {{"name":"user","kind":"token_exchange","issuer":"https://idp.example","depends_on":["svc","sa"],
                "subject_token":"{{{{svc.access_token}}}}","actor_token":"{{{{sa.access_token}}}}",
                "requested_token_type":"urn:ietf:params:oauth:token-type:access_token","audience":"api",
                "client_id":"exch","client_secret":"s","client_auth":"client_secret_post"}}
            ]}}"#
        ))
        .unwrap();
        assert_eq!(p.steps().count(), 3);
        let e = err(r#"{"steps":[{"name":"a","kind":"body","base_url":"https://h","client_key":"k.pem"}]}"#);
        assert!(e.message().contains("client_cert"), "{}", e.message());
        let e = err(r#"{"steps":[{"name":"a","kind":"jwt_bearer","token_url":"https://h","assertion_issuer":"i"}]}"#);
        assert!(e.message().contains("jwt_key"), "{}", e.message());
        let e = err(r#"{"steps":[{"name":"a","kind":"client_credentials","client_id":"i"}]}"#);
        assert!(e.message().contains("token_url"), "{}", e.message());
        let e = err(&format!(
            r#"{{"steps":[{{"name":"a","kind":"client_credentials","token_url":"https://h","client_id":"i",
                "client_auth":"private_key_jwt","jwt_key":{{"file":"{key}","alg":"RS256","cert":"/nonexistent/app.pem"}}}}]}}"#
        ));
        assert!(e.message().contains("/nonexistent/app.pem"), "{}", e.message());
        let e = err(&format!(
            r#"{{"steps":[{{"name":"a","kind":"client_credentials","token_url":"https://h","client_id":"i",
                "jwt_key":{{"file":"{key}","alg":"RS256","x5t":"abc"}}}}]}}"#
        ));
        assert!(e.message().contains("x5t"), "{}", e.message());
    }

    #[test]
    fn errors_name_the_step_and_field() {
        let e = err(r#"{"steps":[{"name":"a","kind":"body","base_url":"http://h","tokn_field":"x"}]}"#);
        assert_eq!(e.code(), ResultCode::Config);
        assert!(e.message().contains("\"a\"") && e.message().contains("tokn_field"), "{}", e.message());
        assert_eq!(e.step().unwrap().as_str(), "a");
        let e = err(r#"{"steps":[{"name":"a","kind":"body","base_url":"http://h","method":"PUT"}]}"#);
        assert!(e.message().contains("method") && e.message().contains("PUT"), "{}", e.message());
        let e = err(r#"{"steps":[{"name":"a","kind":"body","base_url":"http://h","ttl_ms":"10"}]}"#);
        assert!(e.message().contains("ttl_ms"), "{}", e.message());
        let e = err(
            r#"{"steps":[{"name":"a","kind":"client_credentials","token_url":"http://h","client_id":"i","client_secret":"${env:TF_SURELY_UNSET_VAR}"}]}"#,
        );
        assert!(
            e.message().contains("TF_SURELY_UNSET_VAR") && e.message().contains("client_secret"),
            "{}",
            e.message()
        );
        let e = err(r#"{"steps":[{"name":"a","kind":"magic","base_url":"http://h"}]}"#);
        assert!(e.message().contains("kind"), "{}", e.message());
        let e = err(r#"{"steps":[{"name":"a","kind":"body","base_url":"http://h","depends_on":["b"]}]}"#);
        assert!(e.message().contains("\"b\""), "missing dependency: {}", e.message());
        let e = err(
            r#"{"steps":[{"name":"a","kind":"body","base_url":"http://h","request_headers":{"X":"{{b.access_token}}"}}]}"#,
        );
        assert!(e.message().contains("b"), "template: {}", e.message());
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"steps":{}}"#,
            r#"{"steps":[],"extra":1}"#,
            r#"{"steps":[1]}"#,
            r#"{"steps":[{"kind":"body"}]}"#,
        ] {
            assert_eq!(err(bad).code(), ResultCode::Config, "{bad}");
        }
    }
}
