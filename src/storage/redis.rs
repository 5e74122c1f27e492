//! A store in Redis that a fleet shares, through the `redis` crate's sync API. Each token is a
//! hash (`t`: the stored form, `e`: its expiry) that expires with the entry (PX); the lease is
//! `SET ... NX PX` with a random owner, released by compare-and-delete; a write is published
//! on a channel that waiters subscribe to (with polling as the fallback). Every call has its
//! own short timeout, and after a failure the store is left alone for a second, so that a
//! Redis that is down or slow costs a get little and sharing comes back soon after it does.

use super::codec::{decode, encode, entry_expires_at_ms};
use super::{owner_id, Lease, Leases, TokenStorage};
use crate::error::{Error, Result};
use crate::fork;
use crate::http::display_url;
use crate::token::{now_ms, Token};
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use redis::{Commands, Connection, RedisResult, Script};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one Redis call may take.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a failed Redis is left alone before it is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// How long a waiter listens for a write before it looks again.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Writes the stored form `ARGV[1]` with expiry `ARGV[2]` unless (with `ARGV[4]` = 0) the
/// hash holds a later expiry; sets the entry's lifetime `ARGV[3]` ms (0: none) and tells the
/// waiters.
const WRITE: &str = r"
local cur = redis.call('HGET', KEYS[1], 'e')
if ARGV[4] == '0' and cur and tonumber(cur) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 't', ARGV[1], 'e', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
";

/// Deletes the lease `KEYS[1]` only if `ARGV[1]` still owns it, and tells the waiters.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], '')
  return 1
end
return 0
";

/// Tokens in Redis. Thread-safe; calls share one connection, made again after a failure.
pub struct RedisStorage {
    client: redis::Client,
    /// The URL without user, password or query, for messages.
    shown: String,
    /// The URL's password, which messages must never show.
    password: Option<String>,
    link: ArcSwap<Link>,
    write: Script,
    release: Script,
}

/// The connection of one process. A child made by `fork()` makes its own: the parent's is
/// the parent's socket (two processes talking on one connection would read each other's
/// answers), and a thread of the parent may have held its lock when the process forked.
struct Link {
    fork_generation: u64,
    connection: Mutex<Option<Connection>>,
    down_until: Mutex<Option<Instant>>,
}

impl Link {
    fn new() -> Link {
        Link { fork_generation: fork::generation(), connection: Mutex::new(None), down_until: Mutex::new(None) }
    }
}

impl std::fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStorage").field("url", &self.shown).finish_non_exhaustive()
    }
}

/// The lease and notification keys of a token key. Keys are NUL-free (step names and
/// prefixes are C strings), so these can never be another step's key.
fn lease_key(key: &str) -> String {
    format!("{key}\0lease")
}

fn channel(key: &str) -> String {
    format!("{key}\0written")
}

impl RedisStorage {
    /// A store at `url`: `redis://[user:password@]host:port[/db]`, `rediss://` (TLS, the system
    /// trust store) or `redis+unix:///path`. Only the URL is checked here; the connection is
    /// made at first use, so a pipeline can start while Redis is down.
    pub fn open(url: &str) -> Result<RedisStorage> {
        let shown = display_url(url);
        let client = redis::Client::open(url).map_err(|_| {
            Error::invalid_argument(format!("not a Redis URL: \"{shown}\" (redis://, rediss:// or redis+unix://)"))
        })?;
        let password = client.get_connection_info().redis_settings().password().map(str::to_string);
        Ok(RedisStorage {
            client,
            shown,
            password,
            link: ArcSwap::from_pointee(Link::new()),
            write: Script::new(WRITE),
            release: Script::new(RELEASE),
        })
    }

    /// A Redis error as a `STORAGE` error that names the store but never its password.
    fn error(&self, what: &str, e: &redis::RedisError) -> Error {
        let mut text = e.to_string();
        if let Some(p) = self.password.as_deref().filter(|p| !p.is_empty()) {
            text = text.replace(p, "***");
        }
        Error::storage(format!("Redis at {}: {what}: {text}", self.shown))
    }

    fn connect(&self) -> RedisResult<Connection> {
        let connection = self.client.get_connection_with_timeout(CALL_TIMEOUT)?;
        connection.set_read_timeout(Some(CALL_TIMEOUT))?;
        connection.set_write_timeout(Some(CALL_TIMEOUT))?;
        Ok(connection)
    }

    /// This process's link (a fork child replaces its parent's on first use).
    fn link(&self) -> Arc<Link> {
        let current = self.link.load_full();
        if current.fork_generation == fork::generation() {
            return current;
        }
        let fresh = Arc::new(Link::new());
        let previous = self.link.compare_and_swap(&current, fresh.clone());
        if !Arc::ptr_eq(&previous, &current) {
            return Arc::clone(&previous); // another thread of this child replaced it first
        }
        if current.connection.try_lock().is_none() {
            // A thread of the parent held it at the fork: that thread is gone here and the
            // connection is in the middle of a call, so it is never touched, not even dropped.
            std::mem::forget(Arc::clone(&current));
        }
        fresh
    }

    /// Runs one call on the shared connection (made when there is none; a kept connection
    /// that turns out dead, after a restart of Redis say, is made again once). A failure that
    /// concerns the connection drops it and leaves Redis alone for a second.
    fn call<T>(&self, what: &str, mut f: impl FnMut(&mut Connection) -> RedisResult<T>) -> Result<T> {
        let link = self.link();
        if let Some(until) = *link.down_until.lock() {
            if Instant::now() < until {
                return Err(Error::storage(format!(
                    "Redis at {} failed moments ago; it is tried again in {} ms",
                    self.shown,
                    until.saturating_duration_since(Instant::now()).as_millis()
                )));
            }
        }
        let mut guard = link.connection.lock();
        let dead = |e: &redis::RedisError| e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error();
        let kept = match guard.as_mut().map(&mut f) {
            Some(Err(e)) if dead(&e) => None,
            other => other,
        };
        let result = match kept {
            Some(result) => result,
            None => self.connect().and_then(|mut c| {
                let r = f(&mut c);
                *guard = Some(c);
                r
            }),
        };
        result.map_err(|e| {
            if dead(&e) || e.is_timeout() {
                *guard = None;
                *link.down_until.lock() = Some(Instant::now() + RETRY_AFTER_FAILURE);
            }
            self.error(what, &e)
        })
    }

    fn write(&self, key: &str, token: &Token, force: bool) -> Result<()> {
        let now = now_ms();
        let bytes = encode(token, entry_expires_at_ms(token, now));
        let lifetime = entry_expires_at_ms(token, now).map_or(0, |at| (at - now).max(1));
        self.call("cannot write", |c| {
            self.write
                .key(key)
                .key(channel(key))
                .arg(&bytes[..])
                .arg(token.expires_at_ms().unwrap_or(0))
                .arg(lifetime)
                .arg(if force { "1" } else { "0" })
                .invoke::<i64>(c)
        })
        .map(drop)
    }
}

impl TokenStorage for RedisStorage {
    fn store(&self, key: &str, token: &Arc<Token>) -> Result<()> {
        self.write(key, token, true)
    }

    /// The token under `key`; an entry that is not a token (corrupt, foreign) is `STORAGE` (a
    /// pipeline treats it as absent and reports it).
    fn retrieve(&self, key: &str) -> Result<Option<Arc<Token>>> {
        let bytes: Option<Vec<u8>> = self.call("cannot read", |c| c.hget(key, "t"))?;
        let Some(bytes) = bytes.map(zeroize::Zeroizing::new) else { return Ok(None) };
        let (token, _) =
            decode(&bytes).map_err(|e| Error::storage(format!("Redis at {}: {}; ignored", self.shown, e.message())))?;
        Ok(Some(Arc::new(token)))
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.call("cannot delete", |c| c.del::<_, i64>(key)).map(drop)
    }

    fn store_newer(&self, key: &str, token: &Arc<Token>) -> Result<()> {
        self.write(key, token, false)
    }

    /// `SCAN` for `prefix*` (glob characters in the prefix escaped), without the lease keys.
    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut pattern = String::with_capacity(prefix.len() + 1);
        for c in prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        let mut keys: Vec<String> = self.call("cannot list", |c| {
            let mut keys = Vec::new();
            let mut cursor = 0u64;
            loop {
                let (next, batch): (u64, Vec<String>) =
                    redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(500).query(c)?;
                keys.extend(batch.into_iter().filter(|k| !k.contains('\0')));
                if next == 0 {
                    return Ok(keys);
                }
                cursor = next;
            }
        })?;
        keys.sort();
        Ok(keys)
    }

    fn leases(&self) -> Option<&dyn Leases> {
        Some(self)
    }
}

impl Leases for RedisStorage {
    /// `SET key NX PX ttl` with a random owner: a holder that dies is taken over when the
    /// lease expires.
    fn try_lease(&self, key: &str, ttl: Duration) -> Result<Option<Lease>> {
        let owner = owner_id();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let taken: Option<String> = self.call("cannot take the lease", |c| {
            redis::cmd("SET").arg(lease_key(key)).arg(&owner).arg("NX").arg("PX").arg(ttl_ms).query(c)
        })?;
        Ok(taken.map(|_| Lease { key: key.to_string(), owner, hold: None }))
    }

    fn release(&self, lease: Lease) -> Result<()> {
        self.call("cannot release the lease", |c| {
            self.release.key(lease_key(&lease.key)).key(channel(&lease.key)).arg(&lease.owner).invoke::<i64>(c)
        })
        .map(drop)
    }

    /// Listens on the key's channel for a write (or a release) for a short while; without a
    /// subscription (Redis down, say) it only sleeps briefly.
    fn wait_for_write(&self, key: &str, until: Instant) {
        let slice = until.saturating_duration_since(Instant::now()).min(WAIT_SLICE);
        if slice.is_zero() {
            return;
        }
        let listened = (|| -> RedisResult<()> {
            let mut c = self.connect()?;
            c.set_read_timeout(Some(slice))?;
            let mut pubsub = c.as_pubsub();
            pubsub.subscribe(channel(key))?;
            pubsub.get_message().map(drop)
        })();
        if listened.as_ref().is_err_and(|e| !e.is_timeout()) {
            std::thread::sleep(slice.min(Duration::from_millis(20)));
        }
    }
}
