//! A whole pipeline from JSON (the format is in the README). Keys mirror the builder options;
//! unknown keys, wrong types and bad values are `CONFIG` errors naming the step and field;
//! `${env:NAME}` in a string is replaced by that environment variable (missing: `CONFIG`).
//!
//! Loading goes on past a problem, so that one error reports every problem of the file (the
//! first one's step and field in the error's), with "did you mean" for near misses of keys,
//! kinds, step names and the standard template fields.

use super::Pipeline;
use crate::error::{Error, Result};
use crate::fetcher::FetcherBuilder;
use crate::http::ContentType;
use crate::oauth2::ClientAuthMethod;
use crate::storage::{FileStorage, MemoryStorage, RedisStorage, TokenStorage};
use crate::template::Template;
use serde_json::{Map, Value};
use std::sync::Arc;

const TOP_KEYS: &[&str] = &["refresh_margin_ms", "default_lifetime_ms", "background_refresh", "storage", "steps"];
const KINDS: &[&str] = &["body", "header", "client_credentials", "jwt_bearer", "token_exchange"];
/// Every key a step may have (which of them apply depends on the kind).
const STEP_KEYS: &[&str] = &[
    "name",
    "kind",
    "base_url",
    "endpoint",
    "token_url",
    "issuer",
    "scope",
    "client_id",
    "client_secret",
    "assertion_issuer",
    "assertion_subject",
    "subject_token",
    "subject_token_type",
    "client_cert",
    "client_key",
    "actor_token",
    "actor_token_type",
    "method",
    "request_headers",
    "request_data",
    "query",
    "content_type",
    "token_field",
    "token_type_field",
    "expires_in_field",
    "refresh_token_field",
    "default_token_type",
    "token_header",
    "token_type",
    "client_auth",
    "ca_file",
    "jwt_key",
    "assertion_audience",
    "assertion_lifetime_ms",
    "requested_token_type",
    "audience",
    "resource",
    "basic_auth",
    "ttl_ms",
    "timeout_ms",
    "verify_tls",
    "renews_dependents",
    "retry",
    "depends_on",
    "refresh_endpoint",
];
/// The template fields every token has; a near miss of one is a load error.
const TEMPLATE_FIELDS: &[&str] = &["access_token", "token_type", "authorization", "refresh_token", "scope"];
/// Step keys whose string values may hold `{{step.field}}` templates (maps: every value).
const TEMPLATE_MAPS: &[&str] = &["request_headers", "request_data", "query"];
const TEMPLATE_VALUES: &[&str] =
    &["subject_token", "actor_token", "audience", "resource", "requested_token_type", "scope"];

/// The closest of `candidates` to `word` within two edits (or a third of its length, when
/// longer) and fewer edits than its length, for "did you mean".
pub(crate) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = word.chars().count();
    let limit = 2.max(length / 3).min(length.saturating_sub(1));
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean "x"?)` when a candidate is close, else nothing.
fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map(|c| format!(" (did you mean \"{c}\"?)")).unwrap_or_default()
}

/// Where in the document a value is, for messages.
struct At<'a> {
    step: &'a str,
    field: &'a str,
}

impl At<'_> {
    fn error(&self, message: impl AsRef<str>) -> Error {
        let text = match (self.step.is_empty(), self.field.is_empty()) {
            (true, true) => message.as_ref().to_string(),
            (true, false) => format!("field \"{}\": {}", self.field, message.as_ref()),
            (false, _) => format!("step \"{}\", field \"{}\": {}", self.step, self.field, message.as_ref()),
        };
        let e = Error::config(text).with_field(self.field);
        if self.step.is_empty() {
            e
        } else {
            e.with_step_field(self.step)
        }
    }

    fn unknown_key(&self, key: &str, known: &[&str]) -> Error {
        self.error(format!("unknown key \"{key}\"{}", did_you_mean(key, known.iter().copied())))
    }
}

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<Error>);

impl Problems {
    /// The value, or None with the error recorded.
    fn keep<T>(&mut self, r: Result<T>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    fn add(&mut self, e: Error) {
        self.0.push(e);
    }

    /// One error for all: the only one, or a numbered list in the message with the first
    /// one's step and field.
    fn into_error(mut self) -> Option<Error> {
        match self.0.len() {
            0 => None,
            1 => self.0.pop(),
            n => {
                let list: Vec<String> =
                    self.0.iter().enumerate().map(|(i, e)| format!("({}) {}", i + 1, e.message())).collect();
                let first = &self.0[0];
                let mut e = Error::config(format!("pipeline JSON has {n} problems: {}", list.join("; ")));
                if let Some(step) = first.step() {
                    e = e.with_step_field(step.as_str());
                }
                if let Some(field) = first.field() {
                    e = e.with_field(field.as_str());
                }
                Some(e)
            }
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
    let mut problems = Problems::default();
    let mut pipeline = Pipeline::new();
    if let Some(v) = take(&mut doc, "refresh_margin_ms") {
        let at = At { step: "", field: "refresh_margin_ms" };
        problems
            .keep(integer(&v, &at).and_then(|m| pipeline.set_refresh_margin_ms(m).map_err(|e| at.error(e.message()))));
    }
    if let Some(v) = take(&mut doc, "default_lifetime_ms") {
        let at = At { step: "", field: "default_lifetime_ms" };
        problems.keep(
            integer(&v, &at).and_then(|m| pipeline.set_default_lifetime_ms(m).map_err(|e| at.error(e.message()))),
        );
    }
    if let Some(v) = take(&mut doc, "background_refresh") {
        let at = At { step: "", field: "background_refresh" };
        problems.keep(boolean(&v, &at).and_then(|b| pipeline.set_background_refresh(b)));
    }
    if let Some(v) = take(&mut doc, "storage") {
        if let Some((storage, prefix)) = problems.keep(storage(&v)) {
            problems.keep(pipeline.set_storage(storage, prefix.as_deref()));
        }
    }
    let steps = take(&mut doc, "steps");
    for unknown in doc.keys() {
        problems.add(top.unknown_key(unknown, TOP_KEYS).with_field(unknown));
    }
    let Some(steps) = steps else {
        problems.add(Error::config("pipeline JSON has no \"steps\"").with_field("steps"));
        return Err(problems.into_error().expect("a problem"));
    };
    let Some(steps) = steps.as_array() else {
        problems.add(Error::config("\"steps\" must be an array").with_field("steps"));
        return Err(problems.into_error().expect("a problem"));
    };
    // Every step's name first, for the dependency checks and "did you mean".
    let names: Vec<&str> = steps.iter().filter_map(|s| s.get("name")?.as_str()).collect();
    for (n, step) in steps.iter().enumerate() {
        let before = problems.0.len();
        let Some(builder) = step_builder(step, n, &names, &mut problems) else { continue };
        let name = builder.name().to_string();
        match builder.build() {
            Ok(fetcher) => {
                problems.keep(pipeline.add(Arc::new(fetcher)));
            }
            // A template naming an undeclared step is already reported, with more detail.
            Err(e) if problems.0.len() > before && e.message().contains("not a declared dependency") => {}
            Err(e) => problems.add(Error::config(e.message()).with_step_field(&name)),
        }
    }
    if let Some(e) = problems.into_error() {
        return Err(e);
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
        other => {
            return Err(at.error(format!(
                "\"{other}\" is not file, redis or memory{}",
                did_you_mean(other, ["file", "redis", "memory"])
            )))
        }
    };
    no_leftovers(&m, &at, &["kind", "key_prefix", "dir", "url"])?;
    Ok((storage, prefix))
}

/// The step's `depends_on` as written (strings only), for the template checks.
fn declared_dependencies(map: &Map<String, Value>) -> Vec<&str> {
    map.get("depends_on")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Checks the templates of one value: the steps they name must be dependencies, and a
/// field within two edits of a standard one is taken for a typo.
fn check_templates(text: &str, deps: &[&str], names: &[&str], at: &At<'_>, problems: &mut Problems) {
    let Ok(template) = Template::parse(text) else { return }; // the builder reports it
    for (step, field) in template.references() {
        if !deps.contains(&step) {
            let hint = if names.contains(&step) {
                " (add it to \"depends_on\")".to_string()
            } else {
                did_you_mean(step, deps.iter().chain(names).copied())
            };
            problems
                .add(at.error(format!("the template uses step \"{step}\", which is not a declared dependency{hint}")));
        } else if !TEMPLATE_FIELDS.contains(&field) {
            if let Some(standard) = closest(field, TEMPLATE_FIELDS.iter().copied()) {
                problems.add(at.error(format!(
                    "the template reads \"{step}.{field}\", which no token has (did you mean \"{step}.{standard}\"?)"
                )));
            }
        }
    }
}

fn step_builder(step: &Value, n: usize, names: &[&str], problems: &mut Problems) -> Option<FetcherBuilder> {
    let label = format!("#{}", n + 1);
    let Some(map) = step.as_object() else {
        problems.add(Error::config(format!("step {label} must be an object")).with_field("steps"));
        return None;
    };
    let mut map = map.clone();
    let name = problems.keep(required(&mut map, "name", &label)).unwrap_or(label);
    let name = name.as_str();
    // Templates and dependencies, checked on the document as written.
    let deps = declared_dependencies(&map);
    let templates = {
        let mut p = Problems::default();
        for key in TEMPLATE_MAPS {
            if let Some(Value::Object(m)) = map.get(*key) {
                for (k, v) in m {
                    if let Some(text) = v.as_str() {
                        let field = format!("{key}.{k}");
                        check_templates(text, &deps, names, &At { step: name, field: &field }, &mut p);
                    }
                }
            }
        }
        for key in TEMPLATE_VALUES {
            if let Some(text) = map.get(*key).and_then(Value::as_str) {
                check_templates(text, &deps, names, &At { step: name, field: key }, &mut p);
            }
        }
        p
    };
    for d in &deps {
        if !names.contains(d) {
            let at = At { step: name, field: "depends_on" };
            problems.add(at.error(format!(
                "depends on \"{d}\", which is not a step{}",
                did_you_mean(d, names.iter().copied().filter(|n| *n != name))
            )));
        }
    }
    problems.0.extend(templates.0);

    let kind = problems.keep(required(&mut map, "kind", name));
    let builder = kind.and_then(|kind| problems.keep(new_builder(&kind, name, &mut map)));
    let Some(mut b) = builder else {
        // Still name the unknown keys of a step that could not be made.
        for key in map.keys().filter(|k| !STEP_KEYS.contains(&k.as_str())) {
            problems.add(At { step: name, field: key }.unknown_key(key, STEP_KEYS));
        }
        return None;
    };
    // Options that come in pairs.
    let mut pair = |first: &str, second: &str| -> Result<Option<(String, Option<String>)>> {
        let a = take(&mut map, first).map(|v| string(&v, &At { step: name, field: first })).transpose()?;
        let b = take(&mut map, second).map(|v| string(&v, &At { step: name, field: second })).transpose()?;
        match (a, b) {
            (Some(a), b) => Ok(Some((a, b))),
            (None, Some(_)) => Err(At { step: name, field: second }.error(format!("needs \"{first}\""))),
            (None, None) => Ok(None),
        }
    };
    let at = |field: &'static str| At { step: name, field };
    let failed = problems.0.len();
    match problems.keep(pair("client_cert", "client_key")).flatten() {
        Some((cert, Some(key))) => {
            problems.keep(b.client_cert(&cert, &key).map_err(|e| at("client_cert").error(e.message())));
        }
        Some((_, None)) => problems.add(at("client_cert").error("needs \"client_key\"")),
        None => {}
    }
    if let Some((id, secret)) = problems.keep(pair("client_id", "client_secret")).flatten() {
        problems.keep(b.client(&id, secret.as_deref()).map_err(|e| at("client_id").error(e.message())));
    }
    if let Some((token, kind)) = problems.keep(pair("actor_token", "actor_token_type")).flatten() {
        problems.keep(b.actor_token(&token, kind.as_deref()).map_err(|e| at("actor_token").error(e.message())));
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let value = map.remove(&key).expect("listed");
        let at = At { step: name, field: &key };
        problems.keep(apply(&mut b, &key, &value, &at).map_err(|e| {
            if e.code() == crate::ResultCode::Config {
                e.with_field(&key)
            } else {
                at.error(e.message())
            }
        }));
    }
    (problems.0.len() == failed).then_some(b)
}

/// The builder of `kind`, from the keys every step of that kind needs (taken out of `map`).
fn new_builder(kind: &str, name: &str, map: &mut Map<String, Value>) -> Result<FetcherBuilder> {
    Ok(match kind {
        "body" | "header" => {
            let base_url = required(map, "base_url", name)?;
            let endpoint = match take(map, "endpoint") {
                Some(v) => string(&v, &At { step: name, field: "endpoint" })?,
                None => String::new(),
            };
            if kind == "body" {
                FetcherBuilder::body(name, &base_url, &endpoint)
            } else {
                FetcherBuilder::header(name, &base_url, &endpoint)
            }
        }
        "client_credentials" | "jwt_bearer" | "token_exchange" => {
            // The token endpoint: "token_url", or discovered from "issuer" (applied later).
            let token_url = match (take(map, "token_url"), map.contains_key("issuer")) {
                (Some(v), _) => string(&v, &At { step: name, field: "token_url" })?,
                (None, true) => String::new(),
                (None, false) => return Err(At { step: name, field: "token_url" }.error("is required (or \"issuer\")")),
            };
            let optional = |map: &mut Map<String, Value>, key: &str| -> Result<Option<String>> {
                take(map, key).map(|v| string(&v, &At { step: name, field: key })).transpose()
            };
            let scope = optional(map, "scope")?;
            match kind {
                "client_credentials" => {
                    let id = required(map, "client_id", name)?;
                    let secret = optional(map, "client_secret")?.unwrap_or_default();
                    FetcherBuilder::client_credentials(name, &token_url, &id, &secret, scope.as_deref())
                }
                "jwt_bearer" => {
                    let issuer = required(map, "assertion_issuer", name)?;
                    let subject = optional(map, "assertion_subject")?;
                    FetcherBuilder::jwt_bearer(name, &token_url, &issuer, subject.as_deref(), scope.as_deref())
                }
                _ => {
                    let subject = required(map, "subject_token", name)?;
                    let subject_type = optional(map, "subject_token_type")?;
                    let mut b = FetcherBuilder::token_exchange(name, &token_url, &subject, subject_type.as_deref());
                    if let Some(scope) = scope {
                        b.request_data("scope", &scope)?;
                    }
                    b
                }
            }
        }
        other => {
            return Err(At { step: name, field: "kind" }.error(format!(
                "\"{other}\" is not body, header, client_credentials, jwt_bearer or token_exchange{}",
                did_you_mean(other, KINDS.iter().copied())
            )))
        }
    })
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
            other => Err(at.error(format!("\"{other}\" is not form or json{}", did_you_mean(other, ["form", "json"])))),
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
            no_leftovers(&m, at, &["file", "alg", "kid", "cert"])?;
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
            no_leftovers(&m, at, &["user", "password"])?;
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
            no_leftovers(&m, at, &["max_attempts", "base_delay_ms"])?;
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
            no_leftovers(&m, at, &["token_url", "client_id", "client_secret"])?;
            b.refresh_endpoint(url.as_deref(), id.as_deref(), secret.as_deref())
        }
        _ => Err(at.unknown_key(key, STEP_KEYS)),
    }
}

fn no_leftovers(m: &Map<String, Value>, at: &At<'_>, known: &[&str]) -> Result<()> {
    match m.keys().next() {
        Some(k) => Err(at.unknown_key(k, known)),
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
        let names: Vec<String> = p.steps().iter().map(|s| s.as_str().to_string()).collect();
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
        assert_eq!(p.steps().len(), 3);
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

    /// The error's message, step and field.
    fn parts(json: &str) -> (String, Option<String>, Option<String>) {
        let e = err(json);
        assert_eq!(e.code(), ResultCode::Config, "{}", e.message());
        (e.message().to_string(), e.step().map(|s| s.as_str().to_string()), e.field().map(|s| s.as_str().to_string()))
    }

    const H: &str = r#""base_url":"http://h""#;

    #[test]
    fn unknown_top_level_key_suggests_the_known_one() {
        let (m, step, field) = parts(r#"{"refresh_margin":5,"steps":[]}"#);
        assert!(m.contains(r#"unknown key "refresh_margin" (did you mean "refresh_margin_ms"?)"#), "{m}");
        assert_eq!((step, field.as_deref()), (None, Some("refresh_margin")));
    }

    #[test]
    fn unknown_step_key_suggests_the_known_one() {
        let (m, step, field) = parts(&format!(r#"{{"steps":[{{"name":"a","kind":"body",{H},"tokn_field":"x"}}]}}"#));
        assert!(m.contains(r#"unknown key "tokn_field" (did you mean "token_field"?)"#), "{m}");
        assert_eq!((step.as_deref(), field.as_deref()), (Some("a"), Some("tokn_field")));
        // Far from every key: no suggestion.
        let (m, ..) = parts(&format!(r#"{{"steps":[{{"name":"a","kind":"body",{H},"zzzzzzzz":1}}]}}"#));
        assert!(m.contains(r#"unknown key "zzzzzzzz""#) && !m.contains("did you mean"), "{m}");
    }

    #[test]
    fn unknown_nested_key_suggests_the_known_one() {
        let (m, _, field) =
            parts(&format!(r#"{{"steps":[{{"name":"a","kind":"body",{H},"retry":{{"max_attempt":2}}}}]}}"#));
        assert!(m.contains(r#"(did you mean "max_attempts"?)"#), "{m}");
        assert_eq!(field.as_deref(), Some("retry"));
    }

    #[test]
    fn unknown_kind_is_named_as_written_with_a_suggestion() {
        let (m, step, field) = parts(&format!(r#"{{"steps":[{{"name":"a","kind":"client_credential",{H}}}]}}"#));
        assert!(
            m.contains(r#""client_credential" is not body"#) && m.contains(r#"(did you mean "client_credentials"?)"#),
            "{m}"
        );
        assert_eq!((step.as_deref(), field.as_deref()), (Some("a"), Some("kind")));
        let (m, ..) = parts(&format!(r#"{{"steps":[{{"name":"a","kind":"body",{H},"content_type":"jsn"}}]}}"#));
        assert!(m.contains(r#"(did you mean "json"?)"#), "{m}");
        let (m, _, field) = parts(r#"{"storage":{"kind":"redsi"},"steps":[]}"#);
        assert!(m.contains(r#"(did you mean "redis"?)"#), "{m}");
        assert_eq!(field.as_deref(), Some("storage"));
    }

    #[test]
    fn a_missing_dependency_names_the_step_and_a_near_name() {
        let (m, step, field) = parts(&format!(
            r#"{{"steps":[{{"name":"device","kind":"body",{H}}},{{"name":"user","kind":"body",{H},"depends_on":["devce"]}}]}}"#
        ));
        assert!(m.contains(r#"depends on "devce", which is not a step (did you mean "device"?)"#), "{m}");
        assert_eq!((step.as_deref(), field.as_deref()), (Some("user"), Some("depends_on")));
    }

    #[test]
    fn a_near_miss_of_a_standard_template_field_is_a_load_error() {
        let two = |reference: &str| {
            format!(
                r#"{{"steps":[{{"name":"a","kind":"body",{H}}},{{"name":"b","kind":"body",{H},"depends_on":["a"],
                    "request_headers":{{"X-A":"{{{{{reference}}}}}"}}}}]}}"#
            )
        };
        let (m, step, field) = parts(&two("a.acess_token"));
        assert!(m.contains(r#"(did you mean "a.access_token"?)"#), "{m}");
        assert_eq!((step.as_deref(), field.as_deref()), (Some("b"), Some("request_headers.X-A")));
        let (m, ..) = parts(&two("a.authorisation"));
        assert!(m.contains(r#"(did you mean "a.authorization"?)"#), "{m}");
        // Other names are extra fields of the response, checked at fetch.
        for fine in ["a.access_token", "a.session_id", "a.sid", "a.expires"] {
            from_json(&two(fine)).unwrap_or_else(|e| panic!("{fine}: {}", e.message()));
        }
    }

    #[test]
    fn a_template_step_outside_depends_on_says_what_to_do() {
        let (m, step, field) = parts(&format!(
            r#"{{"steps":[{{"name":"a","kind":"body",{H}}},{{"name":"b","kind":"body",{H},"request_data":{{"t":"{{{{a.access_token}}}}"}}}}]}}"#
        ));
        assert!(m.contains(r#"uses step "a", which is not a declared dependency (add it to "depends_on")"#), "{m}");
        assert!(!m.contains("problems"), "reported once: {m}");
        assert_eq!((step.as_deref(), field.as_deref()), (Some("b"), Some("request_data.t")));
    }

    #[test]
    fn a_cycle_names_a_step() {
        let (m, step, field) = parts(&format!(
            r#"{{"steps":[{{"name":"a","kind":"body",{H},"depends_on":["b"]}},{{"name":"b","kind":"body",{H},"depends_on":["a"]}}]}}"#
        ));
        assert!(m.contains("cycle"), "{m}");
        assert!(step.is_some() && field.as_deref() == Some("depends_on"), "{step:?} {field:?}");
    }

    #[test]
    fn five_problems_are_all_reported_in_one_error() {
        let (m, step, field) = parts(
            r#"{"refresh_margin":1,"steps":[
              {"name":"device","kind":"header","base_url":"http://h","tokn_header":"X"},
              {"name":"app","kind":"client_credential","token_url":"http://h/t","client_id":"c"},
              {"name":"user","kind":"body","base_url":"http://h","depends_on":["devce"],
               "request_headers":{"X":"{{devce.access_token}}"},"ttl_ms":"10"}]}"#,
        );
        assert!(m.starts_with("pipeline JSON has 5 problems: (1) "), "{m}");
        for part in [
            r#""refresh_margin" (did you mean "refresh_margin_ms"?)"#,
            r#""tokn_header" (did you mean "token_header"?)"#,
            r#"(did you mean "client_credentials"?)"#,
            r#"depends on "devce", which is not a step (did you mean "device"?)"#,
            r#"step "user", field "ttl_ms": must be an integer"#,
        ] {
            assert!(m.contains(part), "missing {part}: {m}");
        }
        assert!(m.contains("(5) "), "{m}");
        // The first problem's step and field.
        assert_eq!((step, field.as_deref()), (None, Some("refresh_margin")));
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
