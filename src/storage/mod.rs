//! Token storage (apiconfig's TokenStorage, a Strategy): where tokens are kept between
//! fetches, by key. Backends implement [`TokenStorage`].

mod memory;

pub use memory::MemoryStorage;

use crate::error::Result;
use crate::token::Token;
use std::sync::Arc;

/// A place to keep tokens by key. Implementations are shared between threads.
pub trait TokenStorage: Send + Sync {
    /// Stores a copy of `token` under `key`, replacing any earlier one.
    fn store(&self, key: &str, token: &Arc<Token>) -> Result<()>;
    /// The token under `key`, `None` when there is none.
    fn retrieve(&self, key: &str) -> Result<Option<Arc<Token>>>;
    /// Removes the token under `key`; an absent key is not an error.
    fn delete(&self, key: &str) -> Result<()>;
}
