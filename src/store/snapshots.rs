//! Periodic SLO snapshots (budget remaining, period and 1h error ratios): what `timeline` and `report` need to say how much budget an incident consumed
//! without re-reading any source.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Store, StoreError, timefmt};

/// One SLO's numbers at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSnapshotRow {
    /// Evaluation time.
    pub ts: DateTime<Utc>,
    /// The SLO.
    pub slo_id: String,
    /// Share of the period's error budget left (may be negative); `None` = no data.
    pub budget_remaining: Option<f64>,
    /// Error ratio over the period; `None` = no data.
    pub period_error_ratio: Option<f64>,
    /// Error ratio over the last hour; `None` = no data.
    pub error_ratio_1h: Option<f64>,
    /// Events counted over the period.
    pub period_events: f64,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

type RawRow = (String, String, Option<f64>, Option<f64>, Option<f64>, f64);

/// Read one `SELECT ts, slo_id, budget_remaining, period_error_ratio, error_ratio_1h,
/// period_events` row.
fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<RawRow>>,
) -> Result<Vec<SloSnapshotRow>, StoreError> {
    rows.map(|row| {
        let (ts, slo_id, budget_remaining, period_error_ratio, error_ratio_1h, period_events) =
            row?;
        Ok(SloSnapshotRow {
            ts: timefmt::read(&ts)?,
            slo_id,
            budget_remaining,
            period_error_ratio,
            error_ratio_1h,
            period_events,
        })
    })
    .collect()
}

impl Store {
    /// Record snapshots (one transaction); a repeated (SLO, ts) replaces the older row.
    pub fn insert_slo_snapshots(&self, rows: &[SloSnapshotRow]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for r in rows {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO slo_snapshots
                 (ts, slo_id, budget_remaining, period_error_ratio, error_ratio_1h, period_events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                timefmt::write(r.ts),
                r.slo_id,
                finite(r.budget_remaining),
                finite(r.period_error_ratio),
                finite(r.error_ratio_1h),
                if r.period_events.is_finite() {
                    r.period_events
                } else {
                    0.0
                },
            ])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Snapshots with `from <= ts < to`, by SLO then time.
    pub fn slo_snapshots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SloSnapshotRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT ts, slo_id, budget_remaining, period_error_ratio, error_ratio_1h, period_events
             FROM slo_snapshots WHERE ts >= ?1 AND ts < ?2 ORDER BY slo_id, ts",
        )?;
        let rows = stmt.query_map(params![timefmt::write(from), timefmt::write(to)], read_row)?;
        collect(rows)
    }

    /// The latest snapshot of each SLO taken before `t` (the state when a range starts).
    pub fn slo_snapshots_before(
        &self,
        t: DateTime<Utc>,
    ) -> Result<Vec<SloSnapshotRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT s.ts, s.slo_id, s.budget_remaining, s.period_error_ratio, s.error_ratio_1h, s.period_events
             FROM slo_snapshots s
             JOIN (SELECT slo_id, max(ts) AS ts FROM slo_snapshots WHERE ts < ?1 GROUP BY slo_id) m
               ON s.slo_id = m.slo_id AND s.ts = m.ts
             ORDER BY s.slo_id",
        )?;
        let rows = stmt.query_map(params![timefmt::write(t)], read_row)?;
        collect(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, min, 0).unwrap()
    }

    fn row(min: u32, slo: &str, remaining: Option<f64>) -> SloSnapshotRow {
        SloSnapshotRow {
            ts: at(min),
            slo_id: slo.into(),
            budget_remaining: remaining,
            period_error_ratio: Some(0.0005),
            error_ratio_1h: Some(f64::NAN),
            period_events: 1000.0,
        }
    }

    #[test]
    fn snapshots_round_trip_and_drop_non_finite_values() {
        let store = Store::open_in_memory().unwrap();
        store
            .insert_slo_snapshots(&[
                row(0, "a", Some(0.9)),
                row(5, "a", Some(0.7)),
                row(5, "b", None),
            ])
            .unwrap();
        let rows = store.slo_snapshots(at(0), at(10)).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].budget_remaining, Some(0.9));
        assert_eq!(rows[0].error_ratio_1h, None, "NaN is stored as no data");
        assert_eq!(rows[2].slo_id, "b");
        assert_eq!(rows[2].budget_remaining, None);
        let before = store.slo_snapshots_before(at(5)).unwrap();
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].budget_remaining, Some(0.9));
    }
}
