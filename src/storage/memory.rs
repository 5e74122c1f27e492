//! In-process storage (apiconfig's InMemoryTokenStorage).

use super::TokenStorage;
use crate::error::Result;
use crate::token::Token;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;

/// Tokens in a copy-on-write map: writes are once per renewal, so copying is cheap, and no
/// lock is ever held, so a fork child never waits for a renewal thread of its parent that
/// was writing when the process forked. Dropped tokens are zeroed.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    tokens: ArcSwap<HashMap<String, Arc<Token>>>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }
}

impl TokenStorage for MemoryStorage {
    fn store(&self, key: &str, token: &Arc<Token>) -> Result<()> {
        self.tokens.rcu(|tokens| {
            let mut tokens = HashMap::clone(tokens);
            tokens.insert(key.to_string(), token.clone());
            tokens
        });
        Ok(())
    }

    fn retrieve(&self, key: &str) -> Result<Option<Arc<Token>>> {
        Ok(self.tokens.load().get(key).cloned())
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self.tokens.load().keys().filter(|k| k.starts_with(prefix)).cloned().collect();
        keys.sort();
        Ok(keys)
    }

    fn delete(&self, key: &str) -> Result<()> {
        if self.tokens.load().contains_key(key) {
            self.tokens.rcu(|tokens| {
                let mut tokens = HashMap::clone(tokens);
                tokens.remove(key);
                tokens
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_retrieve_replace_delete() {
        let s = MemoryStorage::new();
        assert!(s.retrieve("k").unwrap().is_none());
        s.store("k", &Arc::new(Token::new("a", None, None, None).unwrap())).unwrap();
        s.store("k", &Arc::new(Token::new("b", None, None, None).unwrap())).unwrap();
        assert_eq!(s.retrieve("k").unwrap().unwrap().access_token().as_str(), "b");
        s.delete("k").unwrap();
        s.delete("k").unwrap();
        assert!(s.retrieve("k").unwrap().is_none());
    }
}
