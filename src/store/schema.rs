//! Schema migrations, tracked in SQLite's `user_version`. Append new migrations; never
//! edit one that has shipped.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Migrations in order; migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the tables every stage writes.
    r#"
    -- One row per probe run; `json` is the exact `probe --json` document (the public
    -- contract), so history shows what the probe printed. Secrets are never in it.
    CREATE TABLE probe_runs (
        id             TEXT PRIMARY KEY,       -- sortable unique id
        target         TEXT NOT NULL,
        started_at     TEXT NOT NULL,          -- RFC 3339 UTC
        healthy        INTEGER NOT NULL,
        classification TEXT NOT NULL,
        failed_step    TEXT,
        json           TEXT NOT NULL
    );
    CREATE INDEX probe_runs_started ON probe_runs (started_at);
    CREATE INDEX probe_runs_target ON probe_runs (target, started_at);

    -- Current alert state per SLO and alert (page, ticket, data-missing), so a restart
    -- neither re-pages nor forgets a resolve. `state` is the evaluator's serialised state.
    CREATE TABLE alert_state (
        slo_id     TEXT NOT NULL,
        alert_key  TEXT NOT NULL,
        state      TEXT NOT NULL,              -- JSON
        updated_at TEXT NOT NULL,
        PRIMARY KEY (slo_id, alert_key)
    );

    -- Every alert state change, for history and timelines.
    CREATE TABLE alert_transitions (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        ts        TEXT NOT NULL,
        slo_id    TEXT NOT NULL,
        alert     TEXT NOT NULL,
        severity  TEXT NOT NULL,
        state     TEXT NOT NULL,               -- firing | resolved
        detail    TEXT NOT NULL                -- JSON: labels, annotations, burn rates
    );
    CREATE INDEX alert_transitions_ts ON alert_transitions (ts);

    -- The durable outbox: a notification is written here before it is sent and deleted
    -- only when the receiver accepted it (at-least-once delivery).
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at      TEXT NOT NULL,
        receiver        TEXT NOT NULL,         -- e.g. alertmanager:<url>, sns:<topic arn>
        payload         TEXT NOT NULL,         -- JSON
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at);

    -- Notifications that were delivered (or given up on), for timelines.
    CREATE TABLE notifications (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        ts        TEXT NOT NULL,
        receiver  TEXT NOT NULL,
        slo_id    TEXT NOT NULL,
        alert     TEXT NOT NULL,
        severity  TEXT NOT NULL,
        state     TEXT NOT NULL,
        delivered INTEGER NOT NULL,
        detail    TEXT NOT NULL
    );
    CREATE INDEX notifications_ts ON notifications (ts);

    -- RDS events (failover, reboot, maintenance) seen by the RDS source or a probe.
    CREATE TABLE rds_events (
        source_id  TEXT NOT NULL,              -- DB instance identifier
        ts         TEXT NOT NULL,
        event_id   TEXT NOT NULL,              -- e.g. RDS-EVENT-0049, or '' when absent
        categories TEXT NOT NULL,
        message    TEXT NOT NULL,
        PRIMARY KEY (source_id, ts, message)
    );
    CREATE INDEX rds_events_ts ON rds_events (ts);
    "#,
    // 2: outbox ordering and coalescing (notify/outbox.rs).
    r#"
    -- Which alert a row is about (the label fingerprint): rows of one alert are delivered
    -- to one receiver strictly in order, so a resolve never overtakes its firing message.
    ALTER TABLE outbox ADD COLUMN alert_key TEXT NOT NULL DEFAULT '';
    -- Rows with the same non-empty key for the same receiver are interchangeable re-sends
    -- (same alert, same state, same episode): a newer one replaces a pending older one,
    -- so a receiver outage does not end in a burst of identical messages.
    ALTER TABLE outbox ADD COLUMN coalesce_key TEXT NOT NULL DEFAULT '';
    CREATE INDEX outbox_alert ON outbox (receiver, alert_key, id);
    CREATE INDEX outbox_coalesce ON outbox (receiver, coalesce_key);
    CREATE INDEX alert_transitions_slo ON alert_transitions (slo_id, ts);
    "#,
    // 3: periodic SLO snapshots, so timelines and `report` can say how much budget an
    // incident consumed and which hours were worst, without re-reading sources.
    r#"
    CREATE TABLE slo_snapshots (
        ts                TEXT NOT NULL,
        slo_id            TEXT NOT NULL,
        budget_remaining  REAL,               -- NULL when the period had no data
        period_error_ratio REAL,
        error_ratio_1h    REAL,
        period_events     REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (slo_id, ts)
    );
    CREATE INDEX slo_snapshots_ts ON slo_snapshots (ts);
    "#,
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Apply missing migrations in one transaction each.
///
/// Each step reads `user_version` inside its own `BEGIN IMMEDIATE` transaction, which
/// holds SQLite's write lock from the start: two processes opening a new or old store at
/// once (the daemon and `burnwatch probe db`, or two replicas on one volume) then take
/// turns, and the second sees the first one's version instead of applying the same
/// migration again. An up-to-date store is recognised without the write lock, so readers
/// do not wait for a busy daemon.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version = |conn: &Connection| -> Result<usize, StoreError> {
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if v > VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: v,
                supported: VERSION,
            });
        }
        usize::try_from(v).map_err(|_| {
            StoreError::Corrupt(format!(
                "{}: schema version {v} is negative (not written by burnwatch)",
                path.display()
            ))
        })
    };
    if version(conn)? == MIGRATIONS.len() {
        return Ok(());
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = version(&tx)?;
        let Some(sql) = MIGRATIONS.get(current) else {
            return Ok(()); // up to date; dropping `tx` ends the empty transaction
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (current + 1) as i64)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two processes opening a new store at once. `other` holds the write lock and
    /// migrates while the racer starts; the racer must see `other`'s version once it gets
    /// the lock, not the 0 it could read before (which made it apply migration 1 again:
    /// "table probe_runs already exists").
    #[test]
    fn a_concurrent_migration_is_not_applied_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        let other = Connection::open(&path).unwrap();
        other.pragma_update(None, "journal_mode", "WAL").unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let racer_path = path.clone();
        let racer = std::thread::spawn(move || {
            let mut c = Connection::open(&racer_path).unwrap();
            c.busy_timeout(std::time::Duration::from_secs(20)).unwrap();
            migrate(&mut c, &racer_path)
        });
        // Give the racer time to reach its first statement while the lock is held (it
        // passes either way once fixed; this makes the old race happen reliably).
        std::thread::sleep(std::time::Duration::from_millis(300));
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            other.execute_batch(sql).unwrap();
            other
                .pragma_update(None, "user_version", (i + 1) as i64)
                .unwrap();
        }
        other.execute_batch("COMMIT").unwrap();
        racer.join().unwrap().unwrap();
        let v: i64 = other
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, VERSION);
    }

    /// A negative `user_version` is no schema this build wrote; it is refused, not
    /// mistaken for "up to date".
    #[test]
    fn a_negative_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        let mut c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", -1).unwrap();
        let err = migrate(&mut c, &path).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }
}
