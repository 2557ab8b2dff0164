//! The history store: one SQLite file (WAL) that keeps what a postmortem cites and what a
//! restart must not forget — alert state and transitions, the notification outbox,
//! delivered notifications, probe runs and RDS events.
//!
//! The file is plain SQLite so an engineer can open it with `sqlite3` during an incident.
//! Each table family has its own file (`probes.rs`, `alerts.rs`, `outbox.rs`, ...);
//! `schema.rs` holds the migrations.
//!
//! Architecture invariant: rows are converted to and from domain types here; no other
//! module writes SQL.

pub mod alerts;
pub mod lock;
pub mod notifications;
pub mod outbox;
pub mod probes;
pub mod rds_events;
pub mod retention;
mod schema;
pub mod snapshots;
mod timefmt;

pub use alerts::{AlertTransition, EvaluationCommit, StoredAlertState};
pub use notifications::NotificationRecord;
pub use outbox::{DueRows, InvalidOutboxItem, NewOutboxItem, OutboxItem};
pub use snapshots::SloSnapshotRow;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open history store {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file was written by a newer burnwatch.
    #[error(
        "history store {path} has schema version {found}, newer than this burnwatch understands ({supported}); upgrade burnwatch"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A query failed.
    #[error("history store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored JSON document could not be read back.
    #[error("history store holds an unreadable record: {0}")]
    Corrupt(String),
}

/// A handle on the history database. Cheap to share behind an `Arc`; every call takes the
/// connection lock for the duration of one statement or transaction (SQLite serialises
/// writers anyway, and our writes are small).
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store at `path` and bring its schema up to date.
    /// Parent folders are created.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(parent);
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::init(conn, path)
    }

    /// An in-memory store, for tests and `replay`.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::init(conn, Path::new(":memory:"))
    }

    fn init(mut conn: Connection, path: &Path) -> Result<Store, StoreError> {
        // WAL lets `sqlite3` and the HTTP API read while the daemon writes; NORMAL sync is
        // durable across process crashes (the outbox's promise), not across power loss of
        // the last transaction, which is the usual trade-off for WAL.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn, path)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the table modules. A poisoned lock only means another thread
    /// panicked mid-call; SQLite itself rolled back, so the connection is still usable.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_and_migrates_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/history.sqlite");
        let store = Store::open(&path).unwrap();
        let v: i64 = store
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema::VERSION);
        drop(store);
        let again = Store::open(&path).unwrap();
        let tables: i64 = again
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('probe_runs','outbox','alert_state','alert_transitions','notifications','rds_events')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 6);
    }

    #[test]
    fn refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", schema::VERSION + 1)
                .unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    }
}
