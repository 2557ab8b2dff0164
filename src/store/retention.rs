//! Bounded history: rows older than the retention are deleted, and old SLO snapshots and
//! old healthy probe runs are thinned to the first of each hour (per SLO, per target).
//! Unhealthy probe runs, transitions, notifications and RDS events are what a postmortem
//! cites: they are kept whole until the retention ends.
//!
//! Every call does a bounded amount of work — at most `limit` rows per table, in one short
//! transaction — because the store has one connection and an evaluation's commit waits
//! for it. The caller (`pipeline::retention`) loops until a call finds nothing left;
//! `benches/retention.rs` measures one call on a year of history for 300 SLOs.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Store, StoreError, timefmt};

/// Tables pruned at the end of the retention, with the column that dates their rows.
const DATED_TABLES: [(&str, &str); 5] = [
    ("probe_runs", "started_at"),
    ("alert_transitions", "ts"),
    ("notifications", "ts"),
    ("rds_events", "ts"),
    ("slo_snapshots", "ts"),
];

/// Rows removed per table by one call (tables with none are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// `(table, rows)`.
    pub rows: Vec<(&'static str, usize)>,
}

impl Pruned {
    /// Rows removed in all.
    pub fn total(&self) -> usize {
        self.rows.iter().map(|(_, n)| n).sum()
    }

    /// Whether some table gave `limit` rows, so another call may find more.
    pub fn maybe_more(&self, limit: usize) -> bool {
        self.rows.iter().any(|&(_, n)| n >= limit)
    }

    fn add(&mut self, table: &'static str, n: usize) {
        if n == 0 {
            return;
        }
        match self.rows.iter_mut().find(|(t, _)| *t == table) {
            Some((_, total)) => *total += n,
            None => self.rows.push((table, n)),
        }
    }

    fn merge(&mut self, other: &Pruned) {
        for &(table, n) in &other.rows {
            self.add(table, n);
        }
    }
}

/// SLO snapshots stay at evaluation resolution this long (a 28- or 30-day period and a
/// week to write the postmortem), then hourly.
pub const SNAPSHOTS_FULL_FOR: chrono::TimeDelta = chrono::TimeDelta::days(35);
/// Healthy probe runs stay at full resolution this long ("was it this slow at the same
/// time last week?"), then one per hour and target; failed runs are kept whole.
pub const HEALTHY_RUNS_FULL_FOR: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// Rows per table per transaction: small enough that an evaluation's commit waiting
/// behind one is not delayed noticeably (see `benches/retention.rs`).
pub const BATCH_ROWS: usize = 2_000;

/// What one [`Pruner::run`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Rows past the retention.
    pub deleted: Pruned,
    /// Rows thinned to hourly.
    pub thinned: Pruned,
}

/// The retention policy over time: what the daemon runs every hour. It remembers how far
/// thinning got, so an hourly pass only looks at the hour that aged past the threshold;
/// the first pass after a start walks the whole retained range once, a day at a time.
#[derive(Debug, Clone)]
pub struct Pruner {
    retention: chrono::TimeDelta,
    limit: usize,
    snapshots_thinned_to: Option<DateTime<Utc>>,
    runs_thinned_to: Option<DateTime<Utc>>,
}

impl Pruner {
    /// A pruner keeping `retention` of history, in batches of [`BATCH_ROWS`].
    pub fn new(retention: std::time::Duration) -> Self {
        Pruner {
            retention: chrono::TimeDelta::from_std(retention).unwrap_or(chrono::TimeDelta::MAX),
            limit: BATCH_ROWS,
            snapshots_thinned_to: None,
            runs_thinned_to: None,
        }
    }

    /// The same policy in batches of `rows` (tests exercise the batching with small ones).
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.limit = rows.max(1);
        self
    }

    /// One pass at `now`: delete what is past the retention, then thin what aged past the
    /// full-resolution spans. Each step is its own short transaction, so a failure leaves
    /// a consistent store and the next pass resumes where this one stopped.
    pub fn run(&mut self, store: &Store, now: DateTime<Utc>) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        let cutoff = now
            .checked_sub_signed(self.retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        loop {
            let batch = store.prune_before(cutoff, self.limit)?;
            report.deleted.merge(&batch);
            if !batch.maybe_more(self.limit) {
                break;
            }
        }
        let limit = self.limit;
        let snapshots = thin_range(
            &mut self.snapshots_thinned_to,
            cutoff,
            hour_floor(now.checked_sub_signed(SNAPSHOTS_FULL_FOR).unwrap_or(cutoff)),
            limit,
            |from, to| store.thin_snapshots(from, to, limit),
        )?;
        report.thinned.add("slo_snapshots", snapshots);
        let runs = thin_range(
            &mut self.runs_thinned_to,
            cutoff,
            hour_floor(
                now.checked_sub_signed(HEALTHY_RUNS_FULL_FOR)
                    .unwrap_or(cutoff),
            ),
            limit,
            |from, to| store.thin_probe_runs(from, to, limit),
        )?;
        report.thinned.add("probe_runs", runs);
        Ok(report)
    }
}

/// Thin `[max(done, cutoff), to)` a day at a time, each day in batches until a batch
/// comes back short, then move `done` to `to`.
fn thin_range(
    done: &mut Option<DateTime<Utc>>,
    cutoff: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
    mut thin: impl FnMut(DateTime<Utc>, DateTime<Utc>) -> Result<usize, StoreError>,
) -> Result<usize, StoreError> {
    let mut from = done.unwrap_or(cutoff).max(cutoff);
    let mut total = 0;
    while from < to {
        let day_end = (from + chrono::TimeDelta::days(1)).min(to);
        loop {
            let n = thin(from, day_end)?;
            total += n;
            if n < limit {
                break;
            }
        }
        from = day_end;
        *done = Some(from);
    }
    Ok(total)
}

fn hour_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(3600), 0).unwrap_or(t)
}

impl Store {
    /// Delete up to `limit` rows per table dated before `before`, oldest first, in one
    /// transaction. Alert state and the outbox are not history: they are never pruned here.
    pub fn prune_before(&self, before: DateTime<Utc>, limit: usize) -> Result<Pruned, StoreError> {
        let before = timefmt::write(before);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut pruned = Pruned::default();
        for (table, column) in DATED_TABLES {
            let n = tx
                .prepare_cached(&format!(
                    "DELETE FROM {table} WHERE rowid IN
                       (SELECT rowid FROM {table} WHERE {column} < ?1 ORDER BY {column} LIMIT ?2)"
                ))?
                .execute(params![before, limit as i64])?;
            pruned.add(table, n);
        }
        tx.commit()?;
        Ok(pruned)
    }

    /// Thin SLO snapshots dated in `[from, to)` to the first of each hour per SLO, up to
    /// `limit` rows in one transaction. The first row of an hour is never removed, so
    /// thinning a range twice, or in pieces, keeps the same rows.
    pub fn thin_snapshots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        // `substr(ts, 1, 13)` is the hour (`2026-11-20T10`), which sorts before every
        // timestamp of that hour: the inner range uses the (slo_id, ts) primary key.
        self.thin(
            "DELETE FROM slo_snapshots WHERE rowid IN (
               SELECT s.rowid FROM slo_snapshots s
               WHERE s.ts >= ?1 AND s.ts < ?2
                 AND EXISTS (SELECT 1 FROM slo_snapshots p
                             WHERE p.slo_id = s.slo_id
                               AND p.ts >= substr(s.ts, 1, 13) AND p.ts < s.ts)
               LIMIT ?3)",
            (from, to, limit),
        )
    }

    /// Thin healthy probe runs started in `[from, to)` to the first healthy run of each
    /// hour per target (unhealthy runs are all kept), as [`Store::thin_snapshots`].
    pub fn thin_probe_runs(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.thin(
            "DELETE FROM probe_runs WHERE rowid IN (
               SELECT r.rowid FROM probe_runs r
               WHERE r.started_at >= ?1 AND r.started_at < ?2 AND r.healthy = 1
                 AND EXISTS (SELECT 1 FROM probe_runs p
                             WHERE p.target = r.target AND p.healthy = 1
                               AND p.started_at >= substr(r.started_at, 1, 13)
                               AND p.started_at < r.started_at)
               LIMIT ?3)",
            (from, to, limit),
        )
    }

    fn thin(
        &self,
        sql: &str,
        (from, to, limit): (DateTime<Utc>, DateTime<Utc>, usize),
    ) -> Result<usize, StoreError> {
        let conn = self.conn();
        let n = conn.prepare_cached(sql)?.execute(params![
            timefmt::write(from),
            timefmt::write(to),
            limit as i64
        ])?;
        Ok(n)
    }

    /// The database's size in bytes (pages in use and free pages SQLite will reuse; the
    /// WAL beside it is bounded by checkpoints and not counted).
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests;
