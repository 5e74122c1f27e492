//! A pipeline on a store that processes share (DESIGN.md, "Sharing tokens between processes
//! and machines"): before a fetch the store is read again (another process may have renewed
//! the token); on a store with leases the fetch happens under the lease, after one more read,
//! and the token is written before the lease goes. A store that fails is reported and the get
//! goes on without it: availability first.

use super::step::Entry;
use super::{EventKind, Inner};
use crate::error::Error;
use crate::storage::{Lease, Leases, TokenStorage};
use crate::token::{now_ms, Token};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What came of asking for the lease.
pub(super) enum Leased {
    /// This process holds it.
    Held(Lease),
    /// Another process wrote a fresh token meanwhile: use it.
    Adopted(Arc<Token>),
    /// No lease (the store failed, or the holder outlived the wait): fetch without it.
    Without,
}

/// The store of a step and its key there.
pub(super) struct Stored<'a> {
    pub storage: &'a Arc<dyn TokenStorage>,
    pub key: String,
}

impl Stored<'_> {
    pub fn leases(&self) -> Option<&dyn Leases> {
        self.storage.leases()
    }
}

impl Inner {
    pub(super) fn stored(&self, i: usize) -> Option<Stored<'_>> {
        let (storage, prefix) = self.settings.storage.as_ref()?;
        Some(Stored { storage, key: format!("{prefix}:{}", self.steps[i].fetcher.name()) })
    }

    /// How long step `i` may hold its lease: about its fetch deadline (twice with a refresh
    /// endpoint, which may be followed by a full fetch), and a second to write.
    pub(super) fn lease_ttl(&self, i: usize) -> Duration {
        let f = &self.steps[i].fetcher;
        f.timeout() * if f.refresh_endpoint().is_some() { 2 } else { 1 } + Duration::from_secs(1)
    }

    /// Reads the store: a fresh token there is cached and returned; a stale one that is newer
    /// than `base` becomes `base` (its refresh token is the fleet's latest). A failing store
    /// (or an entry that is not a token) is reported and counts as absent.
    pub(super) fn read_stored(
        &self,
        i: usize,
        stored: &Stored<'_>,
        base: &mut Option<Arc<Token>>,
        background: bool,
    ) -> Option<Arc<Token>> {
        let token = match stored.storage.retrieve(&stored.key) {
            Ok(token) => token?,
            Err(e) => {
                self.storage_failed(i, e, None, background);
                return None;
            }
        };
        let now = now_ms();
        let entry = self.entry_for(token.clone(), now);
        if entry.is_fresh(now) {
            self.emit(i, EventKind::LoadedFromStorage, Duration::ZERO, Some(entry.expires_at_ms), 0, None, background);
            self.steps[i].set_entry(Some(Arc::new(entry)));
            return Some(token);
        }
        let newer = base.as_ref().is_none_or(|b| token.expires_at_ms().unwrap_or(0) >= b.expires_at_ms().unwrap_or(0));
        if newer && token.refresh_token().is_some() {
            *base = Some(token);
        }
        None
    }

    /// Takes the lease of step `i`, waiting (for a write notification, or a short poll) while
    /// another process holds it, at most for as long as that lease can last. Under the lease
    /// the store is read once more.
    pub(super) fn take_lease(
        &self,
        i: usize,
        stored: &Stored<'_>,
        leases: &dyn Leases,
        base: &mut Option<Arc<Token>>,
        background: bool,
    ) -> Leased {
        let ttl = self.lease_ttl(i);
        // A holder's lease ends within `ttl` (at the latest it expires, in the store's clock),
        // and whoever takes it over next fetches within `ttl` too: waiting that long lets this
        // process take the token (or the lease) rather than fetch without it.
        let until = Instant::now() + ttl * 2;
        loop {
            match leases.try_lease(&stored.key, ttl) {
                Ok(Some(lease)) => {
                    return match self.read_stored(i, stored, base, background) {
                        Some(token) => {
                            self.release(i, leases, lease, background);
                            Leased::Adopted(token)
                        }
                        None => Leased::Held(lease),
                    };
                }
                Ok(None) if Instant::now() < until => {
                    leases.wait_for_write(&stored.key, until);
                    if let Some(token) = self.read_stored(i, stored, base, background) {
                        return Leased::Adopted(token);
                    }
                }
                Ok(None) => return Leased::Without,
                Err(e) => {
                    self.storage_failed(i, e, None, background);
                    return Leased::Without;
                }
            }
        }
    }

    pub(super) fn release(&self, i: usize, leases: &dyn Leases, lease: Lease, background: bool) {
        if let Err(e) = leases.release(lease) {
            self.storage_failed(i, e, None, background);
        }
    }

    /// Writes a fetched token (with the expiry the pipeline gives it, so that every process
    /// agrees on it) unless the store holds a newer one.
    pub(super) fn write_stored(&self, i: usize, stored: &Stored<'_>, entry: &Entry, background: bool) {
        let token = match entry.token.expires_at_ms() {
            Some(_) => entry.token.clone(),
            None => Arc::new(Token::clone(&entry.token).with_expires_at_ms(Some(entry.expires_at_ms))),
        };
        if let Err(e) = stored.storage.store_newer(&stored.key, &token) {
            self.storage_failed(i, e, None, background);
        }
    }

    /// A storage failure never fails a get (DESIGN.md): it goes to the step's error hook and
    /// the event hook, and the get goes on without the store.
    pub(super) fn storage_failed(
        &self,
        i: usize,
        e: Error,
        context: Option<&crate::context::Context>,
        background: bool,
    ) {
        let fetcher = &self.steps[i].fetcher;
        let e = e.with_step_field(fetcher.name().as_str());
        fetcher.report(&e, context);
        self.emit(i, EventKind::StorageFailed, Duration::ZERO, None, 0, Some(&e), background);
    }
}
