//! Schema migrations, tracked in SQLite's `user_version`. Append new migrations; never
//! edit one that has shipped.

use std::path::Path;

use rusqlite::Connection;

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
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: current,
            supported: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
