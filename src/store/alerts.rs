//! Alert state and transitions: what a restart must not forget and what `history alerts`
//! and timelines show.
//!
//! The state column holds the evaluator's own serialisation (opaque JSON here), keyed by
//! SLO id and alert key, so the state machine can change shape without a migration. After
//! each evaluation the daemon calls [`Store::commit_evaluation`], which writes changed
//! states, transitions and the notifications they caused in **one** transaction: after a
//! crash the store never says "sent" for a notification that is not in the outbox, nor
//! holds a notification for a state that was not saved.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::outbox::{NewOutboxItem, enqueue_tx};
use super::{Store, StoreError, timefmt};

/// One alert's persisted state.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlertState {
    /// The SLO.
    pub slo_id: String,
    /// The alert within the SLO (e.g. `page`, `ticket`, `no-data`).
    pub alert_key: String,
    /// The evaluator's serialised state.
    pub state: serde_json::Value,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// One alert state change.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertTransition {
    /// Evaluation time of the change.
    pub ts: DateTime<Utc>,
    /// The SLO.
    pub slo_id: String,
    /// The alert name (as in the generated rules).
    pub alert: String,
    /// `page` or `ticket`.
    pub severity: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// Labels, annotations, burn rates at the time (JSON object).
    pub detail: serde_json::Value,
}

/// Everything one evaluation changed, written atomically.
#[derive(Debug, Clone, Default)]
pub struct EvaluationCommit {
    /// States to insert or replace.
    pub states: Vec<StoredAlertState>,
    /// States to forget (`(slo_id, alert_key)`), e.g. an SLO removed from the specs or a
    /// resolved alert past its retention.
    pub removed: Vec<(String, String)>,
    /// Transitions to record.
    pub transitions: Vec<AlertTransition>,
    /// Notifications to enqueue.
    pub outbox: Vec<NewOutboxItem>,
}

impl EvaluationCommit {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
            && self.removed.is_empty()
            && self.transitions.is_empty()
            && self.outbox.is_empty()
    }
}

impl Store {
    /// Write one evaluation's changes in a single transaction; returns the outbox row ids.
    pub fn commit_evaluation(
        &self,
        commit: &EvaluationCommit,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO alert_state (slo_id, alert_key, state, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (slo_id, alert_key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            )?;
            for s in &commit.states {
                upsert.execute(params![
                    s.slo_id,
                    s.alert_key,
                    s.state.to_string(),
                    timefmt::write(s.updated_at)
                ])?;
            }
            let mut delete =
                tx.prepare_cached("DELETE FROM alert_state WHERE slo_id = ?1 AND alert_key = ?2")?;
            for (slo, key) in &commit.removed {
                delete.execute(params![slo, key])?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO alert_transitions (ts, slo_id, alert, severity, state, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for t in &commit.transitions {
                insert.execute(params![
                    timefmt::write(t.ts),
                    t.slo_id,
                    t.alert,
                    t.severity,
                    t.state,
                    t.detail.to_string()
                ])?;
            }
        }
        let ids = enqueue_tx(&tx, &commit.outbox, now)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Every persisted alert state, for restoring the evaluator after a restart.
    pub fn alert_states(&self) -> Result<Vec<StoredAlertState>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT slo_id, alert_key, state, updated_at FROM alert_state ORDER BY slo_id, alert_key",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(slo_id, alert_key, state, updated)| {
                Ok(StoredAlertState {
                    state: serde_json::from_str(&state).map_err(|e| {
                        StoreError::Corrupt(format!("alert state {slo_id}/{alert_key}: {e}"))
                    })?,
                    updated_at: timefmt::read(&updated)?,
                    slo_id,
                    alert_key,
                })
            })
            .collect()
    }

    /// Transitions with `from <= ts < to`, oldest first.
    pub fn alert_transitions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AlertTransition>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT ts, slo_id, alert, severity, state, detail FROM alert_transitions
             WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, id",
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
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(ts, slo_id, alert, severity, state, detail)| {
                Ok(AlertTransition {
                    ts: timefmt::read(&ts)?,
                    detail: serde_json::from_str(&detail).map_err(|e| {
                        StoreError::Corrupt(format!("transition detail of {slo_id}: {e}"))
                    })?,
                    slo_id,
                    alert,
                    severity,
                    state,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn t(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, min, 0).unwrap()
    }

    #[test]
    fn commit_survives_reopen_and_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        let store = Store::open(&path).unwrap();
        let commit = EvaluationCommit {
            states: vec![StoredAlertState {
                slo_id: "api".into(),
                alert_key: "page".into(),
                state: json!({"state": "firing", "fired_at": "2026-11-20T10:00:00Z"}),
                updated_at: t(0),
            }],
            removed: vec![],
            transitions: vec![AlertTransition {
                ts: t(0),
                slo_id: "api".into(),
                alert: "ApiAvailability".into(),
                severity: "page".into(),
                state: "firing".into(),
                detail: json!({"burn_rates": {"5m": 20.0}}),
            }],
            outbox: vec![NewOutboxItem {
                receiver: "am".into(),
                alert_key: "k".into(),
                coalesce_key: String::new(),
                payload: "{}".into(),
            }],
        };
        assert_eq!(store.commit_evaluation(&commit, t(0)).unwrap().len(), 1);
        drop(store);

        let store = Store::open(&path).unwrap();
        let states = store.alert_states().unwrap();
        assert_eq!(states, commit.states);
        assert_eq!(
            store.alert_transitions(t(0), t(1)).unwrap(),
            commit.transitions
        );
        assert!(store.alert_transitions(t(1), t(2)).unwrap().is_empty());
        assert_eq!(store.outbox_items().unwrap().len(), 1);

        // A failing statement rolls the whole commit back: no state, no transition, no row.
        let bad = EvaluationCommit {
            states: vec![StoredAlertState {
                state: json!({"state": "inactive"}),
                updated_at: t(5),
                ..commit.states[0].clone()
            }],
            transitions: commit.transitions.clone(),
            ..Default::default()
        };
        store
            .conn()
            .execute_batch(
                "CREATE TRIGGER fail BEFORE INSERT ON alert_transitions BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        assert!(store.commit_evaluation(&bad, t(5)).is_err());
        assert_eq!(store.alert_states().unwrap(), commit.states);
    }

    #[test]
    fn removed_states_are_forgotten() {
        let store = Store::open_in_memory().unwrap();
        let state = StoredAlertState {
            slo_id: "api".into(),
            alert_key: "page".into(),
            state: json!(1),
            updated_at: t(0),
        };
        store
            .commit_evaluation(
                &EvaluationCommit {
                    states: vec![state],
                    ..Default::default()
                },
                t(0),
            )
            .unwrap();
        store
            .commit_evaluation(
                &EvaluationCommit {
                    removed: vec![("api".into(), "page".into())],
                    ..Default::default()
                },
                t(1),
            )
            .unwrap();
        assert!(store.alert_states().unwrap().is_empty());
    }
}
