//! One daemon per history store: an advisory lock on `<store>.lock`, held for the
//! daemon's life.
//!
//! Two daemons on one SQLite file would both deliver the same outbox rows (each has its
//! own in-memory view of what is due) and overwrite each other's alert state. SQLite's own
//! locking only serialises the writes, so `burnwatch run` takes an exclusive
//! [`File::try_lock`] on a file next to the store before opening it; the second daemon
//! fails at once with [`LockError::Held`] naming the store and, when the holder wrote it,
//! its pid. The lock is the kernel's (`flock` on Unix): it goes away with the process,
//! also after SIGKILL or OOM, so a stale lock file never blocks a restart.
//!
//! Read-only commands (`history`, `report`, `timeline`) and `probe db` never take it: they
//! read (or append one probe run) through SQLite's WAL while the daemon runs.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "history store {store} is in use by another burnwatch daemon{holder} (lock file {lock}); \
         two daemons must not share one store: give each replica its own storage.path"
    )]
    Held {
        /// The store.
        store: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// `" (pid N)"` when the holder recorded its pid, else empty.
        holder: String,
    },
    /// The lock file could not be created or locked.
    #[error("cannot lock history store {store} (lock file {lock}): {source}")]
    Io {
        /// The store.
        store: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
}

/// The lock file of the store at `store`: the same name with `.lock` appended.
pub fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl StoreLock {
    /// Take the exclusive lock for the store at `store` without waiting, and record this
    /// process' pid in the lock file. Parent folders are created.
    pub fn acquire(store: &Path) -> Result<StoreLock, LockError> {
        let lock = lock_path(store);
        let io = |source| LockError::Io {
            store: store.to_path_buf(),
            lock: lock.clone(),
            source,
        };
        if let Some(parent) = lock.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        // Never truncate on open: the file may hold the current holder's pid.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    store: store.to_path_buf(),
                    holder: holder_pid(&mut file)
                        .map(|pid| format!(" (pid {pid})"))
                        .unwrap_or_default(),
                    lock,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Best effort: the pid only makes the message more useful.
        let pid = std::process::id();
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{pid}"))
            .and_then(|()| file.sync_data());
        Ok(StoreLock {
            _file: file,
            path: lock,
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid the holder wrote, if the file holds one (a holder that just locked may not
/// have written it yet).
fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_store_fails_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("nested/history.sqlite");
        let first = StoreLock::acquire(&store).unwrap();
        assert_eq!(first.path(), dir.path().join("nested/history.sqlite.lock"));
        let err = StoreLock::acquire(&store).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{msg}");
        assert!(msg.contains(&store.display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("(pid {})", std::process::id())),
            "{msg}"
        );
        // Another store is independent.
        let other = StoreLock::acquire(&dir.path().join("other.sqlite")).unwrap();
        drop(other);
        // Released on drop; the stale file does not block the next daemon.
        drop(first);
        let again = StoreLock::acquire(&store).unwrap();
        assert!(again.path().exists());
    }

    #[test]
    fn an_unusable_lock_path_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        // The store's parent is a regular file: the lock file cannot be created.
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        let err = StoreLock::acquire(&file.join("history.sqlite")).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
        assert!(err.to_string().contains("cannot lock history store"));
    }
}
