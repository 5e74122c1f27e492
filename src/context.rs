//! `Context`: the tokens of earlier steps, by step name.

use crate::token::Token;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Step name -> token. Single-threaded by itself; share it by reference.
#[derive(Clone, Debug, Default)]
pub struct Context {
    tokens: BTreeMap<String, Arc<Token>>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets (or replaces) the token of `step`.
    pub fn set(&mut self, step: &str, token: impl Into<Arc<Token>>) {
        self.tokens.insert(step.to_string(), token.into());
    }

    pub fn get(&self, step: &str) -> Option<&Token> {
        self.tokens.get(step).map(|t| &**t)
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}
