//! Retention cost on a year of history for 300 SLOs: how long one pruning transaction
//! holds the store, which is how long an evaluation's commit can wait behind it.
//!
//! - `prune_batch/300_slos_year`: one `Store::prune_before` deleting a batch
//!   (`BATCH_ROWS`, 2,000) of snapshots past the retention from a store holding a
//!   steady-state year of snapshots (35 days every 5 minutes, then hourly) for 300 SLOs.
//! - `thin_batch/300_slos_year`: one `Store::thin_snapshots` thinning a batch of an hour
//!   that aged past 35 days, in the same store.
//!
//! Target for both: under 25 ms, so pruning never delays a 30 s evaluation noticeably.
//! Run: `cargo bench --bench retention -- --warm-up-time 1 --measurement-time 5`.
//! Without `--bench` (as `cargo test --all-targets` runs it) it uses 3 SLOs and 10 days.

use std::hint::black_box;

use burnwatch::store::retention::{BATCH_ROWS, SNAPSHOTS_FULL_FOR};
use burnwatch::store::{SloSnapshotRow, Store};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
}

fn row(slo: usize, ts: DateTime<Utc>) -> SloSnapshotRow {
    SloSnapshotRow {
        ts,
        slo_id: format!("mass-spec-{slo:03}-api-availability"),
        budget_remaining: Some(0.8123),
        period_error_ratio: Some(0.000_187_5),
        error_ratio_1h: Some(0.000_21),
        period_events: 25_920_000.0,
    }
}

/// A store holding `days` of steady-state snapshots for `slos` SLOs before `now()`.
fn year(dir: &std::path::Path, slos: usize, days: i64) -> Store {
    let store = Store::open(&dir.join("history.sqlite")).unwrap();
    let full_from = now() - SNAPSHOTS_FULL_FOR;
    for day in 0..days {
        let midnight = now() - TimeDelta::days(days - day);
        let step = if midnight < full_from { 60 } else { 5 };
        let rows: Vec<_> = (0..1440)
            .step_by(step)
            .flat_map(|m| (0..slos).map(move |s| row(s, midnight + TimeDelta::minutes(m as i64))))
            .collect();
        store.insert_slo_snapshots(&rows).unwrap();
    }
    store
}

fn benches(c: &mut Criterion) {
    let (slos, days) = if measuring() { (300, 365) } else { (3, 10) };
    let dir = tempfile::tempdir().unwrap();
    let store = year(dir.path(), slos, days);
    let before = now() - TimeDelta::days(days);
    let mut round = 0i64;

    c.bench_function("prune_batch/300_slos_year", |b| {
        b.iter_batched(
            || {
                // A batch of rows just past the retention (distinct times per round).
                round += 1;
                let rows: Vec<_> = (0..BATCH_ROWS)
                    .map(|i| {
                        row(
                            i % slos,
                            before - TimeDelta::seconds(round * 10_000 + i as i64),
                        )
                    })
                    .collect();
                store.insert_slo_snapshots(&rows).unwrap();
            },
            |()| black_box(store.prune_before(before, BATCH_ROWS).unwrap()),
            BatchSize::PerIteration,
        )
    });

    let aged = now() - SNAPSHOTS_FULL_FOR - TimeDelta::days(1);
    c.bench_function("thin_batch/300_slos_year", |b| {
        b.iter_batched(
            || {
                // One aged hour at full rate: 12 rows per SLO, 11 of them to thin.
                round += 1;
                let hour = aged - TimeDelta::hours(round % (24 * 300));
                let rows: Vec<_> = (0..12)
                    .flat_map(|m| (0..slos).map(move |s| row(s, hour + TimeDelta::minutes(m * 5))))
                    .collect();
                store.insert_slo_snapshots(&rows).unwrap();
                hour
            },
            |hour| {
                black_box(
                    store
                        .thin_snapshots(hour, hour + TimeDelta::hours(1), BATCH_ROWS)
                        .unwrap(),
                )
            },
            BatchSize::PerIteration,
        )
    });
}

criterion_group!(retention, benches);
criterion_main!(retention);
