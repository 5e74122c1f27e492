//! `{{step.field}}` templates in request header, data and query values: parsed when a fetcher
//! is built (so a template naming an undeclared step is a `CONFIG` error then), rendered from
//! the context at fetch time.

use crate::context::Context;
use crate::error::{Error, Result};
use crate::token::Token;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field { step: String, field: String },
}

/// A value with zero or more `{{step.field}}` references. `field` is `access_token`,
/// `token_type`, `refresh_token`, `authorization` or an extra field of the step's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`. An unterminated `{{`, or a reference that is not `step.field`, is `CONFIG`.
    pub fn parse(text: &str) -> Result<Template> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            // Messages name the position and the reference, never the text around it, which
            // may hold a secret.
            let at = text.len() - rest.len() + start;
            let end = after.find("}}").ok_or_else(|| {
                Error::config(format!("unterminated \"{{{{\" at character {} of the template", at + 1))
            })?;
            let inner = after[..end].trim();
            let (step, field) = inner
                .split_once('.')
                .map(|(s, f)| (s.trim(), f.trim()))
                .filter(|(s, f)| {
                    !s.is_empty()
                        && !f.is_empty()
                        && !s.contains(char::is_whitespace)
                        && !f.contains(char::is_whitespace)
                })
                .ok_or_else(|| {
                    Error::config(format!(
                        "the reference at character {} of the template is not {{{{step.field}}}}",
                        at + 1
                    ))
                })?;
            parts.push(Part::Field { step: step.to_string(), field: field.to_string() });
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The steps the template reads from.
    pub fn steps(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { step, .. } => Some(step.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The references, as (step, field).
    pub fn references(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { step, field } => Some((step.as_str(), field.as_str())),
            Part::Literal(_) => None,
        })
    }

    /// Fills the references from `context`; a step absent from it, or a field its token does
    /// not have, is `DEPENDENCY`.
    pub fn render(&self, context: &Context) -> Result<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Field { step, field } => {
                    let token = context.get(step).ok_or_else(|| {
                        Error::dependency(format!("dependency \"{step}\" is absent from the context"))
                    })?;
                    let value = field_value(token, field).ok_or_else(|| {
                        Error::dependency(format!("token of step \"{step}\" has no field \"{field}\""))
                    })?;
                    out.push_str(value);
                }
            }
        }
        Ok(out)
    }
}

fn field_value<'a>(token: &'a Token, field: &str) -> Option<&'a str> {
    Some(match field {
        "access_token" => token.access_token().as_str(),
        "token_type" => token.token_type().as_str(),
        "authorization" => token.authorization().as_str(),
        "refresh_token" => token.refresh_token()?.as_str(),
        other => token.extra(other)?.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ResultCode;

    fn ctx() -> Context {
        let mut c = Context::new();
        let t = Token::new("tok", None, None, None).unwrap().with_extra("sid", &serde_json::json!("s-1"));
        c.set("app", t);
        c
    }

    #[test]
    fn renders_fields() {
        let t = Template::parse("A {{ app.authorization }} / {{app.sid}}{{app.token_type}}!").unwrap();
        assert_eq!(t.steps().collect::<Vec<_>>(), ["app", "app", "app"]);
        assert_eq!(t.render(&ctx()).unwrap(), "A Bearer tok / s-1Bearer!");
        assert_eq!(Template::parse("plain").unwrap().render(&Context::new()).unwrap(), "plain");
    }

    #[test]
    fn bad_templates_are_config_errors() {
        for bad in ["{{app.token", "{{app}}", "{{.x}}", "{{app.}}", "x {{ }} y", "{{a b.c}}"] {
            assert_eq!(Template::parse(bad).unwrap_err().code(), ResultCode::Config, "{bad}");
        }
    }

    #[test]
    fn errors_never_show_the_text() {
        for (bad, at) in [("Bearer s3cret {{app.token", 15), ("s3cret {{s3cret}}", 8), ("{{ s3cret x.y }}", 1)] {
            let e = Template::parse(bad).unwrap_err();
            assert!(!e.message().contains("s3cret"), "{}", e.message());
            assert!(e.message().contains(&format!("character {at} ")), "{}", e.message());
        }
    }

    #[test]
    fn missing_step_or_field_is_dependency() {
        let e = Template::parse("{{other.access_token}}").unwrap().render(&ctx()).unwrap_err();
        assert_eq!(e.code(), ResultCode::Dependency);
        let e = Template::parse("{{app.refresh_token}}").unwrap().render(&ctx()).unwrap_err();
        assert_eq!(e.code(), ResultCode::Dependency);
    }
}
