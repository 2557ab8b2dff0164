//! RDS events (failover, restarts, maintenance) as the RDS monitor saw them, kept for the
//! database probe (a recent failover explains a failed connection) and the postmortem
//! timeline. Idempotent: the same event (instance, time, message) is stored once.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Store, StoreError};
use crate::source::rds::{RdsEvent, classify_event};

impl Store {
    /// Store `events`, skipping ones already stored. Returns how many were new.
    pub fn insert_rds_events(&self, events: &[RdsEvent]) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut new = 0;
        {
            let mut stmt = tx.prepare(
                "INSERT OR IGNORE INTO rds_events (source_id, ts, event_id, categories, message)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in events {
                new += stmt.execute(params![
                    e.source_id,
                    e.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    e.event_id,
                    e.categories.join(","),
                    e.message,
                ])?;
            }
        }
        tx.commit()?;
        Ok(new)
    }

    /// Events with `from <= ts < to`, oldest first.
    pub fn rds_events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RdsEvent>, StoreError> {
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT source_id, ts, event_id, categories, message FROM rds_events
             WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, source_id",
        )?;
        let rows = stmt.query_map(params![fmt(from), fmt(to)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (source_id, ts, event_id, categories, message) = row?;
            let ts = DateTime::parse_from_rfc3339(&ts)
                .map_err(|e| StoreError::Corrupt(format!("rds_events.ts {ts:?}: {e}")))?
                .with_timezone(&Utc);
            let categories: Vec<String> = categories
                .split(',')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            let kind = classify_event(&message, &categories).1;
            out.push(RdsEvent {
                source_id,
                ts,
                event_id,
                categories,
                message,
                kind,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn events_are_stored_once_and_read_back_in_order() {
        let store = Store::open_in_memory().unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap();
        let ev = |secs: i64, msg: &str| {
            let categories = vec!["failover".to_string()];
            let (event_id, kind) = classify_event(msg, &categories);
            RdsEvent {
                source_id: "mass-spec-db".into(),
                ts: t + chrono::TimeDelta::seconds(secs),
                event_id,
                categories,
                message: msg.into(),
                kind,
            }
        };
        let events = [
            ev(70, "Multi-AZ instance failover completed."),
            ev(0, "Multi-AZ instance failover started."),
        ];
        assert_eq!(store.insert_rds_events(&events).unwrap(), 2);
        assert_eq!(store.insert_rds_events(&events).unwrap(), 0);
        let back = store
            .rds_events_between(t, t + chrono::TimeDelta::hours(1))
            .unwrap();
        assert_eq!(back, vec![events[1].clone(), events[0].clone()]);
        assert!(
            store
                .rds_events_between(
                    t + chrono::TimeDelta::hours(1),
                    t + chrono::TimeDelta::hours(2)
                )
                .unwrap()
                .is_empty()
        );
    }
}
