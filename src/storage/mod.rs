//! Token storage (apiconfig's TokenStorage, a Strategy): where tokens are kept between
//! fetches, by key. Backends implement [`TokenStorage`]: in memory, a directory of files
//! shared by the processes of one machine, or Redis shared by a fleet. Stores that processes
//! share also offer [`Leases`], the cross-process single-flight (DESIGN.md, "Sharing tokens
//! between processes and machines").

mod codec;
mod file;
mod memory;
mod redis;

pub use codec::{decode, encode};
pub(crate) use file::close_inherited_locks;
pub use file::FileStorage;
pub use memory::MemoryStorage;
pub use redis::RedisStorage;

use crate::error::{Error, Result};
use crate::token::Token;
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A place to keep tokens by key. Implementations are shared between threads.
pub trait TokenStorage: Send + Sync {
    /// Stores a copy of `token` under `key`, replacing any earlier one.
    fn store(&self, key: &str, token: &Arc<Token>) -> Result<()>;
    /// The token under `key`, `None` when there is none.
    fn retrieve(&self, key: &str) -> Result<Option<Arc<Token>>>;
    /// Removes the token under `key`; an absent key is not an error.
    fn delete(&self, key: &str) -> Result<()>;
    /// Stores `token` unless the store holds one that expires later: what a pipeline writes
    /// after a fetch, so that a late writer never replaces a newer token. The default stores.
    fn store_newer(&self, key: &str, token: &Arc<Token>) -> Result<()> {
        self.store(key, token)
    }
    /// The keys of the tokens held that start with `prefix`, sorted (for tools such as the
    /// `tokenforge` command). The default: `STORAGE`, "cannot list".
    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let _ = prefix;
        Err(Error::storage("this store cannot list its keys"))
    }
    /// The cross-process lease, for stores that processes share; `None` (the default) keeps
    /// single-flight within each process.
    fn leases(&self) -> Option<&dyn Leases> {
        None
    }
}

/// A held lease: proof that this holder, and no other process, may renew the key now.
/// Release it with [`Leases::release`].
pub struct Lease {
    pub key: String,
    /// A random id of this holder, so that only the holder releases it.
    pub owner: String,
    /// What the store needs to keep while the lease is held (a locked file, say).
    pub hold: Option<Box<dyn Any + Send>>,
}

/// Cross-process single-flight around "re-read, fetch, write" (DESIGN.md): a lease per key
/// that expires on its own (or dies with its process), released only by its owner.
pub trait Leases: Send + Sync {
    /// Takes the lease on `key` for about `ttl`: `Some` when taken, `None` when another
    /// holder has it.
    fn try_lease(&self, key: &str, ttl: Duration) -> Result<Option<Lease>>;
    /// Releases `lease` if this holder still owns it (compare-and-delete).
    fn release(&self, lease: Lease) -> Result<()>;
    /// Waits until the holder may have written `key`, or `until`, whichever comes first
    /// (a notification, or a short poll).
    fn wait_for_write(&self, _key: &str, until: Instant) {
        let left = until.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(Duration::from_millis(10)));
    }
}

/// A random id for a lease holder: this process and a random number.
pub fn owner_id() -> String {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    format!("{}-{random:016x}", std::process::id())
}
