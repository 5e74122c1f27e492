//! In-process storage (apiconfig's InMemoryTokenStorage).

use super::TokenStorage;
use crate::error::Result;
use crate::token::Token;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// Tokens in a map behind a read-write lock. Dropped tokens are zeroed.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    tokens: RwLock<HashMap<String, Arc<Token>>>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }
}

impl TokenStorage for MemoryStorage {
    fn store(&self, key: &str, token: &Arc<Token>) -> Result<()> {
        self.tokens.write().insert(key.to_string(), token.clone());
        Ok(())
    }

    fn retrieve(&self, key: &str) -> Result<Option<Arc<Token>>> {
        Ok(self.tokens.read().get(key).cloned())
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.tokens.write().remove(key);
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
