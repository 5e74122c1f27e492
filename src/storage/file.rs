//! A store in a directory that the processes of one machine share: one file per key, written
//! atomically (temporary file, fsync, rename) with mode 0600, in a directory only its owner
//! may use (0700). The lease is a kernel lock (`flock`) on a companion lock file: it dies
//! with its process, so a crashed holder never leaves it behind; the lock file's existence
//! means nothing.

use super::codec::{decode, encode, entry_expires_at_ms};
use super::{owner_id, Lease, Leases, TokenStorage};
use crate::error::{Error, Result};
use crate::token::{now_ms, Token};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Files larger than this are not token files.
const MAX_FILE: u64 = 1 << 20;

/// The descriptors of the lock files this process holds leases on, so that a child made by
/// `fork()` closes its copies: a `flock` lives as long as any descriptor of its open file,
/// and a child's inherited copy would keep the parent's lease after the parent released it.
/// Slots of a fixed table (no lock: the child's handler may not take one).
static HELD: [AtomicI32; 64] = [const { AtomicI32::new(-1) }; 64];

/// Remembers `fd` as a held lease's descriptor (when the table is full, a child keeps it).
fn remember(fd: i32) {
    let _ = crate::fork::generation(); // installs the fork handler that closes them
    let _ = HELD.iter().any(|slot| slot.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst).is_ok());
}

fn forget(fd: i32) {
    let _ = HELD.iter().any(|slot| slot.compare_exchange(fd, -1, Ordering::SeqCst, Ordering::SeqCst).is_ok());
}

/// In a child after `fork()`: closes the inherited descriptors of the parent's leases (the
/// parent's stay open and keep its locks). Only atomics and `close`, as a fork handler must.
pub(crate) fn close_inherited_locks() {
    for slot in &HELD {
        let fd = slot.swap(-1, Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: fd was a lease's lock file descriptor in the parent; in the child nothing
            // else uses its copy.
            unsafe { libc::close(fd) };
        }
    }
}

/// A held lease's lock file: closing it releases the kernel lock.
struct LockFile(File);

impl Drop for LockFile {
    fn drop(&mut self) {
        forget(self.0.as_raw_fd());
    }
}

/// Tokens as files in one directory. Thread-safe; processes share it through the file system.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::storage(format!("{what} {}: {e}", path.display()))
}

/// Refuses what other users may read or change: the store holds secrets.
fn check_private(what: &str, path: &Path, meta: &fs::Metadata) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Error::storage(format!("{what} {} belongs to another user (uid {})", path.display(), meta.uid())));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::storage(format!(
            "{what} {} is accessible by other users (mode {mode:04o}); make it {}",
            path.display(),
            if meta.is_dir() { "0700" } else { "0600" }
        )));
    }
    Ok(())
}

/// A file name for `key`: letters, digits, `.`, `_` and `-` kept, other bytes as `%XX`; a
/// key too long for a file name is shortened with a hash of it.
fn file_name(key: &str) -> String {
    let mut name = String::with_capacity(key.len() + 8);
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => name.push(b as char),
            b'.' if !name.is_empty() => name.push('.'),
            _ => name.push_str(&format!("%{b:02X}")),
        }
    }
    if name.len() > 180 {
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        name.truncate(160);
        name.push_str(&format!("~{hash:016x}"));
    }
    name
}

/// The key a file name stands for ([`file_name`] undone); `None` for a shortened name.
fn key_of(name: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'~' => return None,
            b'%' if tail.len() >= 2 => {
                let hex = std::str::from_utf8(&tail[..2]).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
            }
            _ => {
                bytes.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

impl FileStorage {
    /// Opens (creating it with mode 0700 when absent) the directory `dir`. A directory that
    /// other users may use, or that belongs to someone else, is refused (`STORAGE`).
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStorage> {
        let dir = dir.as_ref();
        if dir.as_os_str().is_empty() {
            return Err(Error::invalid_argument("the token directory must not be empty"));
        }
        match fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) => return Err(io_error("cannot create the token directory", dir, &e)),
        }
        let meta = fs::metadata(dir).map_err(|e| io_error("cannot read the token directory", dir, &e))?;
        if !meta.is_dir() {
            return Err(Error::storage(format!("{} is not a directory", dir.display())));
        }
        check_private("token directory", dir, &meta)?;
        Ok(FileStorage { dir: dir.to_path_buf() })
    }

    fn path(&self, key: &str, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", file_name(key)))
    }

    /// Writes `bytes` to `path` atomically: a private temporary file, fsync, rename, and an
    /// fsync of the directory so that the rename survives a crash.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            File::open(&self.dir)?.sync_all()
        })();
        written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_error("cannot write", path, &e)
        })
    }

    /// The token in `path` and its entry's expiry; `None` when there is no file.
    fn read(&self, path: &Path) -> Result<Option<(Token, Option<i64>)>> {
        let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot open", path, &e)),
        };
        let meta = file.metadata().map_err(|e| io_error("cannot read", path, &e))?;
        check_private("token file", path, &meta)?;
        if meta.len() > MAX_FILE {
            return Err(Error::storage(format!("{} is too large for a token file; ignored", path.display())));
        }
        let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(meta.len() as usize));
        file.read_to_end(&mut bytes).map_err(|e| io_error("cannot read", path, &e))?;
        decode(&bytes).map(Some).map_err(|e| Error::storage(format!("{}: {}; ignored", path.display(), e.message())))
    }
}

impl TokenStorage for FileStorage {
    fn store(&self, key: &str, token: &Arc<Token>) -> Result<()> {
        let bytes = encode(token, entry_expires_at_ms(token, now_ms()));
        self.write_atomically(&self.path(key, ".token"), &bytes)
    }

    /// The token under `key`; an expired entry is absent. A file that is not a token file
    /// (truncated, corrupt, foreign) or that others may read is `STORAGE` (a pipeline treats
    /// it as absent and reports it).
    fn retrieve(&self, key: &str) -> Result<Option<Arc<Token>>> {
        Ok(match self.read(&self.path(key, ".token"))? {
            Some((_, Some(entry_expires))) if entry_expires <= now_ms() => None,
            Some((token, _)) => Some(Arc::new(token)),
            None => None,
        })
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key, ".token");
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("cannot delete", &path, &e)),
        }
    }

    /// Only the lease holder writes after a fetch, and a kernel lock cannot expire under it;
    /// the comparison guards against writers without the lease (a store that failed to lock).
    fn store_newer(&self, key: &str, token: &Arc<Token>) -> Result<()> {
        let path = self.path(key, ".token");
        if let Ok(Some((current, _))) = self.read(&path) {
            if current.expires_at_ms().unwrap_or(i64::MIN) > token.expires_at_ms().unwrap_or(i64::MIN) {
                return Ok(());
            }
        }
        self.store(key, token)
    }

    /// The keys of the token files (temporary and lock files are not tokens); a key whose
    /// file name was shortened is shown as that file name.
    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.dir).map_err(|e| io_error("cannot list", &self.dir, &e))?;
        let mut keys = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str().and_then(|n| n.strip_suffix(".token")) else { continue };
            if name.starts_with('.') {
                continue;
            }
            let key = key_of(name).unwrap_or_else(|| name.to_string());
            if key.starts_with(prefix) {
                keys.push(key);
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn leases(&self) -> Option<&dyn Leases> {
        Some(self)
    }
}

impl Leases for FileStorage {
    /// A non-blocking `flock` on the key's lock file; `ttl` is not needed: the lock dies with
    /// the process, and the holder releases it when its fetch (bounded by its deadline) ends.
    fn try_lease(&self, key: &str, _ttl: Duration) -> Result<Option<Lease>> {
        let path = self.path(key, ".lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| io_error("cannot open the lock file", &path, &e))?;
        // SAFETY: the descriptor belongs to `file`, which is open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            remember(file.as_raw_fd());
            return Ok(Some(Lease { key: key.to_string(), owner: owner_id(), hold: Some(Box::new(LockFile(file))) }));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() == ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(io_error("cannot lock", &path, &e))
        }
    }

    /// Closing the lock file releases the kernel lock.
    fn release(&self, lease: Lease) -> Result<()> {
        drop(lease);
        Ok(())
    }

    fn wait_for_write(&self, _key: &str, until: Instant) {
        let left = until.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(Duration::from_millis(5)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_distinct() {
        assert_eq!(file_name("tokenforge:user"), "tokenforge%3Auser");
        assert_eq!(file_name("../x"), "%2E.%2Fx");
        assert_ne!(file_name("a:b"), file_name("a%3Ab"));
        let long = "k".repeat(500);
        assert!(file_name(&long).len() <= 180);
        assert_ne!(file_name(&long), file_name(&format!("{long}x")));
    }
}
