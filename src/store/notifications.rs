//! The delivered-notifications log: one row per notification a receiver accepted or
//! rejected for good, written when its outbox row is removed. Timelines and postmortems
//! read it to show who was paged and when.

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};

use super::{Store, StoreError, timefmt};

/// One delivery outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    /// When the receiver answered.
    pub ts: DateTime<Utc>,
    /// The receiver (`alertmanager:<url>`, `sns:<topic arn>`).
    pub receiver: String,
    /// The SLO the alert belongs to.
    pub slo_id: String,
    /// The alert name.
    pub alert: String,
    /// `page` or `ticket`.
    pub severity: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// True when accepted; false when rejected for good (the error is in `detail`).
    pub delivered: bool,
    /// Attempts, error, receiver's message id, ... (JSON object; never secrets).
    pub detail: serde_json::Value,
}

pub(crate) fn insert_notification(
    tx: &Transaction<'_>,
    r: &NotificationRecord,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO notifications (ts, receiver, slo_id, alert, severity, state, delivered, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        timefmt::write(r.ts),
        r.receiver,
        r.slo_id,
        r.alert,
        r.severity,
        r.state,
        r.delivered,
        r.detail.to_string()
    ])?;
    Ok(())
}

impl Store {
    /// Delivery outcomes with `from <= ts < to`, oldest first.
    pub fn notifications(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT ts, receiver, slo_id, alert, severity, state, delivered, detail
             FROM notifications WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, id",
        )?;
        let rows = stmt
            .query_map(params![timefmt::write(from), timefmt::write(to)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(ts, receiver, slo_id, alert, severity, state, delivered, detail)| {
                    Ok(NotificationRecord {
                        ts: timefmt::read(&ts)?,
                        receiver,
                        slo_id,
                        alert,
                        severity,
                        state,
                        delivered,
                        detail: serde_json::from_str(&detail).map_err(|e| {
                            StoreError::Corrupt(format!("notification detail: {e}"))
                        })?,
                    })
                },
            )
            .collect()
    }
}
