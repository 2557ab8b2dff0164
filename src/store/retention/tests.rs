use chrono::TimeZone;

use super::*;
use crate::probe::model::format_ts;
use crate::probe::{Classification, ProbeRun, StepName, StepResult};
use crate::store::{AlertTransition, NotificationRecord, SloSnapshotRow};

fn day0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn snapshot(slo: &str, ts: DateTime<Utc>) -> SloSnapshotRow {
    SloSnapshotRow {
        ts,
        slo_id: slo.into(),
        budget_remaining: Some(0.5),
        period_error_ratio: Some(0.0005),
        error_ratio_1h: Some(0.001),
        period_events: 1e6,
    }
}

fn probe_run(target: &str, ts: DateTime<Utc>, c: Classification) -> ProbeRun {
    ProbeRun {
        id: format!("{target}-{}", ts.timestamp()),
        target: target.into(),
        started_at: format_ts(ts),
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

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Snapshots of two SLOs every 5 minutes and probe runs of one target every minute
/// (healthy but for 10:30-10:34 each day) over `days` days from day0.
fn fill(store: &Store, days: i64) {
    for d in 0..days {
        let mut rows = Vec::new();
        for m in (0..1440).step_by(5) {
            let ts = day0() + chrono::TimeDelta::days(d) + chrono::TimeDelta::minutes(m);
            rows.push(snapshot("api", ts));
            rows.push(snapshot("web", ts));
        }
        store.insert_slo_snapshots(&rows).unwrap();
        for m in 0..1440 {
            let ts = day0() + chrono::TimeDelta::days(d) + chrono::TimeDelta::minutes(m);
            let c = if (630..635).contains(&m) {
                Classification::TcpRefused
            } else {
                Classification::Healthy
            };
            store.insert_probe_run(&probe_run("rds", ts, c)).unwrap();
        }
    }
}

#[test]
fn rows_past_the_retention_go_in_batches_and_alert_state_and_outbox_stay() {
    let store = Store::open_in_memory().unwrap();
    let old = day0();
    let new = day0() + chrono::TimeDelta::days(20);
    for ts in [old, new] {
        store.insert_slo_snapshots(&[snapshot("api", ts)]).unwrap();
        store
            .insert_probe_run(&probe_run("rds", ts, Classification::TcpRefused))
            .unwrap();
        store
            .insert_rds_events(&[crate::source::rds::RdsEvent {
                source_id: "db".into(),
                ts,
                event_id: "RDS-EVENT-0049".into(),
                categories: vec!["failover".into()],
                message: format!("failover at {ts}"),
                kind: crate::source::rds::RdsEventKind::Failover,
            }])
            .unwrap();
        store
            .commit_evaluation(
                &crate::store::EvaluationCommit {
                    transitions: vec![AlertTransition {
                        ts,
                        slo_id: "api".into(),
                        alert: "Page".into(),
                        severity: "page".into(),
                        state: "firing".into(),
                        detail: serde_json::json!({}),
                    }],
                    ..Default::default()
                },
                ts,
            )
            .unwrap();
        let id = store
            .outbox_enqueue(
                &[crate::store::NewOutboxItem {
                    receiver: "am".into(),
                    alert_key: format!("k{}", ts.timestamp()),
                    coalesce_key: String::new(),
                    payload: "{}".into(),
                }],
                ts,
            )
            .unwrap();
        let record = NotificationRecord {
            ts,
            receiver: "am".into(),
            slo_id: "api".into(),
            alert: "Page".into(),
            severity: "page".into(),
            state: "firing".into(),
            delivered: true,
            detail: serde_json::json!({}),
        };
        store.outbox_finish(id[0], &record).unwrap();
    }
    store
        .outbox_enqueue(
            &[crate::store::NewOutboxItem {
                receiver: "am".into(),
                alert_key: "pending".into(),
                coalesce_key: String::new(),
                payload: "{}".into(),
            }],
            old,
        )
        .unwrap();

    let mut pruner = Pruner::new(std::time::Duration::from_secs(10 * 86_400)).with_batch_rows(1);
    let report = pruner
        .run(&store, new + chrono::TimeDelta::hours(1))
        .unwrap();
    let mut deleted = report.deleted.rows.clone();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            ("alert_transitions", 1),
            ("notifications", 1),
            ("probe_runs", 1),
            ("rds_events", 1),
            ("slo_snapshots", 1)
        ]
    );
    for table in [
        "slo_snapshots",
        "probe_runs",
        "rds_events",
        "alert_transitions",
        "notifications",
    ] {
        assert_eq!(
            count(&store, &format!("SELECT count(*) FROM {table}")),
            1,
            "{table}"
        );
    }
    assert_eq!(
        count(&store, "SELECT count(*) FROM outbox"),
        1,
        "the outbox is not history: its own max age governs it"
    );
    // Nothing more to do an hour later.
    let again = pruner
        .run(&store, new + chrono::TimeDelta::hours(2))
        .unwrap();
    assert_eq!(again.deleted.total() + again.thinned.total(), 0);
}

#[test]
fn old_snapshots_and_healthy_runs_thin_to_the_first_of_each_hour() {
    let store = Store::open_in_memory().unwrap();
    fill(&store, 3);
    // Day 0 and day 1 are past the snapshots' 35 days at `now`; day 2 is not.
    let now = day0() + chrono::TimeDelta::days(2) + SNAPSHOTS_FULL_FOR;
    let mut pruner = Pruner::new(std::time::Duration::from_secs(400 * 86_400)).with_batch_rows(100);
    let report = pruner.run(&store, now).unwrap();
    assert_eq!(report.deleted.total(), 0);

    let per_slo_hourly =
        "SELECT count(*) FROM slo_snapshots WHERE slo_id = 'api' AND ts < '2026-01-03'";
    assert_eq!(
        count(&store, per_slo_hourly),
        48,
        "one per hour for two days"
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM slo_snapshots WHERE ts < '2026-01-03' AND substr(ts, 15, 2) != '00'"
        ),
        0,
        "the first snapshot of each hour is the one kept"
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM slo_snapshots WHERE ts >= '2026-01-03'"
        ),
        2 * 288,
        "day 2 is inside the 35 days and untouched"
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM probe_runs WHERE started_at < '2026-01-03' AND healthy = 1"
        ),
        48
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM probe_runs WHERE healthy = 0"),
        15,
        "every failed run is kept"
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM probe_runs WHERE healthy = 1"),
        72,
        "all three days are past the 7 days healthy runs stay whole"
    );
    let mut thinned = report.thinned.rows.clone();
    thinned.sort();
    assert_eq!(
        thinned,
        [
            ("probe_runs", 3 * (1435 - 24)),
            ("slo_snapshots", 2 * 2 * (288 - 24))
        ],
    );
    // Thinning again (or after a restart, from the start of the retention) keeps the same rows.
    let before = count(&store, "SELECT count(*) FROM slo_snapshots")
        + count(&store, "SELECT count(*) FROM probe_runs");
    let mut fresh = Pruner::new(std::time::Duration::from_secs(400 * 86_400));
    assert_eq!(fresh.run(&store, now).unwrap().thinned.total(), 0);
    let after = count(&store, "SELECT count(*) FROM slo_snapshots")
        + count(&store, "SELECT count(*) FROM probe_runs");
    assert_eq!(before, after);
}

#[test]
fn the_size_is_pages_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("h.sqlite")).unwrap();
    let empty = store.size_bytes().unwrap();
    assert!(empty > 0);
    fill(&store, 1);
    assert!(store.size_bytes().unwrap() > empty + 100_000);
}
