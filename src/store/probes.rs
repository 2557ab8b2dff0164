//! Probe runs in history: the exact `probe --json` document per run, indexed by id, time
//! and target, plus the RDS events a probe saw (for postmortem timelines).

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::probe::ProbeRun;
use crate::probe::db::rds::RdsEvent;
use crate::source::rds::classify_event;

impl Store {
    /// Record a run. The stored text is exactly `run.to_json()`, what `probe db --json`
    /// printed, so history shows the same document. Recording the same id twice is an
    /// error (ids are unique).
    pub fn insert_probe_run(&self, run: &ProbeRun) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO probe_runs (id, target, started_at, healthy, classification, failed_step, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run.id,
                run.target,
                run.started_at,
                run.healthy,
                run.classification.as_str(),
                run.failed_step.map(|s| s.as_str()),
                run.to_json(),
            ],
        )?;
        Ok(())
    }

    /// Record the RDS events a probe saw, through the same insert as the RDS monitor's
    /// ([`Store::insert_rds_events`]): one timestamp format and event id for both, so an
    /// event seen by both is stored once and `timeline`'s time range finds it. Events
    /// without a readable time cannot be placed on a timeline and are skipped.
    pub fn insert_probe_rds_events(&self, events: &[RdsEvent]) -> Result<(), StoreError> {
        let events: Vec<crate::source::rds::RdsEvent> = events
            .iter()
            .filter_map(|e| {
                let ts = chrono::DateTime::parse_from_rfc3339(&e.ts).ok()?;
                let (event_id, kind) = classify_event(&e.message, &e.categories);
                Some(crate::source::rds::RdsEvent {
                    source_id: e.source_id.clone(),
                    ts: ts.with_timezone(&chrono::Utc),
                    event_id,
                    categories: e.categories.clone(),
                    message: e.message.clone(),
                    kind,
                })
            })
            .collect();
        self.insert_rds_events(&events)?;
        Ok(())
    }

    /// The stored document of one run, verbatim.
    pub fn probe_run_json(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT json FROM probe_runs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// One run by id.
    pub fn get_probe_run(&self, id: &str) -> Result<Option<ProbeRun>, StoreError> {
        self.probe_run_json(id)?.map(|j| parse(&j)).transpose()
    }

    /// Stored documents of runs that started in `[from, to)` (RFC 3339 UTC text in the
    /// stored fixed-width form, see `probe::model::format_ts`), optionally of one target,
    /// oldest first, verbatim.
    pub fn list_probe_run_json(
        &self,
        from: &str,
        to: &str,
        target: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT json FROM probe_runs
             WHERE started_at >= ?1 AND started_at < ?2 AND (?3 IS NULL OR target = ?3)
             ORDER BY started_at, id",
        )?;
        let rows = stmt.query_map(params![from, to, target], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Runs that started in `[from, to)`, optionally of one target, oldest first.
    pub fn list_probe_runs(
        &self,
        from: &str,
        to: &str,
        target: Option<&str>,
    ) -> Result<Vec<ProbeRun>, StoreError> {
        self.list_probe_run_json(from, to, target)?
            .iter()
            .map(|j| parse(j))
            .collect()
    }
}

fn parse(json: &str) -> Result<ProbeRun, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("probe run: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Classification, StepName, StepResult};

    fn run(id: &str, target: &str, at: &str, c: Classification) -> ProbeRun {
        ProbeRun {
            id: id.into(),
            target: target.into(),
            started_at: at.into(),
            healthy: c == Classification::Healthy,
            classification: c,
            failed_step: (c != Classification::Healthy).then_some(StepName::Tcp),
            steps: vec![StepResult {
                step: StepName::Dns,
                ok: true,
                ms: 0.25,
                detail: "127.0.0.1".into(),
            }],
            runbook: c.runbook(),
        }
    }

    #[test]
    fn insert_get_and_list_by_time_and_target() {
        let store = Store::open_in_memory().unwrap();
        let a = run(
            "01A",
            "rds",
            "2026-11-20T10:00:00.000Z",
            Classification::Healthy,
        );
        let b = run(
            "01B",
            "rds",
            "2026-11-20T11:00:00.000Z",
            Classification::TcpRefused,
        );
        let c = run(
            "01C",
            "replica",
            "2026-11-20T11:30:00.000Z",
            Classification::Healthy,
        );
        for r in [&b, &a, &c] {
            store.insert_probe_run(r).unwrap();
        }
        assert_eq!(store.get_probe_run("01B").unwrap(), Some(b.clone()));
        assert_eq!(store.probe_run_json("01B").unwrap(), Some(b.to_json()));
        assert_eq!(store.get_probe_run("nope").unwrap(), None);
        let all = store
            .list_probe_runs("2026-11-20T00:00:00.000Z", "2026-11-21T00:00:00.000Z", None)
            .unwrap();
        assert_eq!(all, vec![a.clone(), b.clone(), c.clone()]);
        let window = store
            .list_probe_runs("2026-11-20T10:30:00.000Z", "2026-11-20T11:30:00.000Z", None)
            .unwrap();
        assert_eq!(window, vec![b.clone()]);
        let rds = store
            .list_probe_runs(
                "2026-11-20T00:00:00.000Z",
                "2026-11-21T00:00:00.000Z",
                Some("rds"),
            )
            .unwrap();
        assert_eq!(rds, vec![a, b.clone()]);
        assert!(
            store.insert_probe_run(&b).is_err(),
            "duplicate id must be refused"
        );
    }

    #[test]
    fn rds_events_are_deduplicated() {
        let store = Store::open_in_memory().unwrap();
        let e = RdsEvent {
            source_id: "prod".into(),
            ts: "2026-11-20T10:02:00Z".into(),
            categories: vec!["failover".into()],
            message: "Multi-AZ instance failover completed".into(),
        };
        store
            .insert_probe_rds_events(&[e.clone(), e.clone()])
            .unwrap();
        store
            .insert_probe_rds_events(std::slice::from_ref(&e))
            .unwrap();
        // The RDS monitor's copy of the same event (its own time format) is the same row.
        let (event_id, kind) = classify_event(&e.message, &e.categories);
        let monitor = crate::source::rds::RdsEvent {
            source_id: e.source_id.clone(),
            ts: chrono::DateTime::parse_from_rfc3339(&e.ts)
                .unwrap()
                .with_timezone(&chrono::Utc),
            event_id,
            categories: e.categories.clone(),
            message: e.message.clone(),
            kind,
        };
        assert_eq!(store.insert_rds_events(&[monitor]).unwrap(), 0);
        let n: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM rds_events WHERE categories = 'failover'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}
