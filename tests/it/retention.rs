//! Bounded history. `burnwatch run` prunes a store to `storage.retention` and thins old
//! rows to hourly while it runs, and says so on `/metrics`; and a simulated year of a
//! fleet's history, written and pruned day by day through the daemon's own store code,
//! stays under a stated size.

use std::time::Duration;

use burnwatch::probe::model::format_ts;
use burnwatch::probe::{Classification, ProbeRun, StepName, StepResult};
use burnwatch::store::retention::Pruner;
use burnwatch::store::{SloSnapshotRow, Store};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::procs::{Burnwatch, eventually, free_port};
use crate::support::repo;

/// A healthy run with every step and details as long as a real RDS probe's.
fn probe_run(target: &str, ts: DateTime<Utc>, c: Classification) -> ProbeRun {
    let step = |step, detail: &str| StepResult {
        step,
        ok: true,
        ms: 1.25,
        detail: detail.into(),
    };
    ProbeRun {
        id: format!("{target}-{}", ts.timestamp()),
        target: target.into(),
        started_at: format_ts(ts),
        healthy: c == Classification::Healthy,
        classification: c,
        failed_step: (c != Classification::Healthy).then_some(StepName::Tcp),
        steps: vec![
            step(
                StepName::Dns,
                "mass-spec-prod.cluster-c1a2b3.eu-west-1.rds.amazonaws.com -> 10.0.12.34",
            ),
            step(StepName::Tcp, "10.0.12.34:5432 connected"),
            step(
                StepName::Tls,
                "TLSv1.3 TLS_AES_256_GCM_SHA384; certificate verified (rds-ca-rsa2048-g1)",
            ),
            step(StepName::Auth, "user burnwatch_probe, database massspec"),
            step(StepName::Query, "SELECT 1 answered in 1.9 ms"),
            step(
                StepName::Saturation,
                "48 of 500 connections in use (9.6%); RDS instance available, Multi-AZ",
            ),
        ],
        runbook: c.runbook(),
    }
}

fn snapshot(slo: &str, ts: DateTime<Utc>) -> SloSnapshotRow {
    SloSnapshotRow {
        ts,
        slo_id: slo.into(),
        budget_remaining: Some(0.8123),
        period_error_ratio: Some(0.000_187_5),
        error_ratio_1h: Some(0.000_21),
        period_events: 25_920_000.0,
    }
}

fn count(path: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn the_daemon_prunes_past_the_retention_thins_old_rows_and_reports_the_store_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let now = Utc::now();
    {
        let store = Store::open(&path).unwrap();
        let long_ago = now - TimeDelta::days(45);
        let weeks_ago = now - TimeDelta::days(20);
        let hour = |t: DateTime<Utc>| {
            Utc.timestamp_opt(t.timestamp() - t.timestamp() % 3600, 0)
                .unwrap()
        };
        for (id, ts, c) in [
            ("old", long_ago, Classification::Healthy),
            ("first-of-hour", hour(weeks_ago), Classification::Healthy),
            (
                "same-hour",
                hour(weeks_ago) + TimeDelta::minutes(1),
                Classification::Healthy,
            ),
            (
                "failed",
                hour(weeks_ago) + TimeDelta::minutes(2),
                Classification::TcpRefused,
            ),
            ("recent", now - TimeDelta::hours(1), Classification::Healthy),
        ] {
            let mut run = probe_run("rds", ts, c);
            run.id = id.into();
            store.insert_probe_run(&run).unwrap();
        }
        store
            .insert_slo_snapshots(&[
                snapshot("api", long_ago),
                snapshot("api", now - TimeDelta::hours(2)),
            ])
            .unwrap();
    }
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "specs: [{specs}]\neval_interval: 1s\n\
             storage: {{path: history.sqlite, retention: 30d}}\n\
             outbox: {{shutdown_timeout: 2s}}\n\
             sources:\n  replay:\n    file: {data}\n    loop: false\n",
            specs = repo().join("slo-specs").display(),
            data = repo().join("tests/fixtures/daemon/outage.jsonl").display(),
        ),
    )
    .unwrap();

    let mut daemon = Burnwatch::start(&config, free_port(), dir.path()).await;
    let metrics = eventually(
        Duration::from_secs(30),
        "retention counted on /metrics",
        || {
            let url = format!("{}/metrics", daemon.url);
            async move {
                let text = reqwest::get(url).await.ok()?.text().await.ok()?;
                text.contains(
                    r#"burnwatch_store_rows_pruned_total{table="probe_runs",reason="thinned"} 1"#,
                )
                .then_some(text)
            }
        },
    )
    .await;
    for line in [
        r#"burnwatch_store_rows_pruned_total{table="probe_runs",reason="retention"} 1"#,
        r#"burnwatch_store_rows_pruned_total{table="slo_snapshots",reason="retention"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    let size: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("burnwatch_store_size_bytes "))
        .unwrap_or_else(|| panic!("no burnwatch_store_size_bytes:\n{metrics}"))
        .parse()
        .unwrap();
    // Pages live in the file or, until the next checkpoint, in its WAL.
    let wal = dir.path().join("history.sqlite-wal");
    let on_disk = (std::fs::metadata(&path).unwrap().len()
        + std::fs::metadata(&wal).map_or(0, |m| m.len())) as f64;
    assert!(
        size > 0.0 && size <= on_disk,
        "size {size}, file and WAL {on_disk}"
    );
    daemon.signal("TERM");
    assert!(
        daemon.wait(Duration::from_secs(30)).await.success(),
        "{}",
        daemon.log()
    );

    let store = Store::open(&path).unwrap();
    for (id, kept) in [
        ("old", false),
        ("first-of-hour", true),
        ("same-hour", false),
        ("failed", true),
        ("recent", true),
    ] {
        assert_eq!(
            store.get_probe_run(id).unwrap().is_some(),
            kept,
            "probe run {id}"
        );
    }
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM slo_snapshots WHERE slo_id = 'api'"
        ),
        1
    );
}

/// Writes `days` of history at production rates (an SLO snapshot every 5 minutes per
/// SLO, a probe run every minute per target, a 5-minute outage a day) and runs the
/// daemon's hourly retention policy at the end of each day, as `burnwatch run` would.
fn simulate(path: &std::path::Path, slos: usize, targets: usize, days: i64) -> (u64, u64) {
    let store = Store::open(path).unwrap();
    let empty = store.size_bytes().unwrap();
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut pruner = Pruner::new(Duration::from_secs(400 * 86_400));
    for day in 0..days {
        let midnight = start + TimeDelta::days(day);
        let mut rows = Vec::new();
        for minute in (0..1440).step_by(5) {
            for slo in 0..slos {
                rows.push(snapshot(
                    &format!("mass-spec-{slo:03}-api-availability"),
                    midnight + TimeDelta::minutes(minute),
                ));
            }
        }
        store.insert_slo_snapshots(&rows).unwrap();
        for minute in 0..1440 {
            for target in 0..targets {
                let c = if (600..605).contains(&minute) {
                    Classification::TcpRefused
                } else {
                    Classification::Healthy
                };
                store
                    .insert_probe_run(&probe_run(
                        &format!("rds-mass-spec-{target:02}"),
                        midnight + TimeDelta::minutes(minute),
                        c,
                    ))
                    .unwrap();
            }
        }
        pruner.run(&store, midnight + TimeDelta::days(1)).unwrap();
    }
    (empty, store.size_bytes().unwrap())
}

/// The size a year of history takes for the fleet the mission names: 300 SLOs (fifty
/// systems of six) and 50 probed databases. Simulated at full scale this is billions of
/// writes, so the test simulates a year of one SLO and one target through the real store,
/// measures the bytes each holds once retention is in steady state, and scales linearly
/// (SQLite's tables and indexes grow linearly in rows). Without thinning, a year of
/// snapshots would be ~6x and of probe runs ~28x larger, and this fails.
#[test]
fn a_year_of_history_for_300_slos_and_50_databases_stays_under_3_gib() {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let dir = tempfile::tempdir().unwrap();
    let (empty, snapshots) = simulate(&dir.path().join("slo.sqlite"), 2, 0, 365);
    let per_slo = (snapshots - empty) as f64 / 2.0;
    let (empty, runs) = simulate(&dir.path().join("probe.sqlite"), 0, 1, 365);
    let per_target = (runs - empty) as f64;
    let fleet = 300.0 * per_slo + 50.0 * per_target;
    eprintln!(
        "a year: {:.1} MiB per SLO, {:.1} MiB per probed database, {:.2} GiB for 300 SLOs and 50 databases",
        per_slo / 1048576.0,
        per_target / 1048576.0,
        fleet / GIB
    );
    // Steady state: 35 days of 5-minute snapshots and 330 days of hourly ones per SLO.
    let rows = count(
        &dir.path().join("slo.sqlite"),
        "SELECT count(*) FROM slo_snapshots",
    );
    assert_eq!(rows, 2 * (35 * 288 + 330 * 24), "snapshots kept");
    let healthy = count(
        &dir.path().join("probe.sqlite"),
        "SELECT count(*) FROM probe_runs WHERE healthy = 1",
    );
    assert_eq!(healthy, 7 * 1435 + 358 * 24, "healthy runs kept");
    assert!(fleet < 3.0 * GIB, "{:.2} GiB", fleet / GIB);
}
