//! Planner benchmark: 1,000 SLOs over the built-in CloudWatch plugins. Measures building
//! the deduplicated query plan and planning a steady-state tick and a 30-day backfill, and
//! prints what they cost in GetMetricData calls, metrics requested and datapoints (the
//! figures quoted in the README).

use std::hint::black_box;

use burnwatch::source::cloudwatch::planner::{Limits, QueryPlan, cost, plan_range, tick_range};
use burnwatch::source::cloudwatch::plugins::cloudwatch_slis;
use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};

mod fleet;

fn planner(c: &mut Criterion) {
    let slos = fleet::fleet(1000);
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 30).unwrap();
    let (delay, overlap, period) = (
        TimeDelta::minutes(2),
        TimeDelta::minutes(5),
        TimeDelta::days(30),
    );
    let limits = Limits::default();
    let all = |_: &str| true;

    let slis = cloudwatch_slis(&slos, &all);
    let plan = QueryPlan::build(&slis);
    let q = plan.queries.len();
    let undeduplicated: usize = slis.iter().map(|s| s.keys().count()).sum();
    let last = now - TimeDelta::minutes(1) - delay;
    let tick = tick_range(
        Some(burnwatch::source::align_down(last, 60)),
        now,
        delay,
        overlap,
        period,
        60,
    )
    .expect("one new minute");
    let tick_cost = cost(&plan_range(q, tick.0, tick.1, now, &limits));
    let back = tick_range(None, now, delay, overlap, period, 60).expect("backfill range");
    let back_chunks = plan_range(q, back.0, back.1, now, &limits);
    let back_cost = cost(&back_chunks);
    let per_month = tick_cost.metrics_requested as f64 * 60.0 * 24.0 * 30.0;
    eprintln!(
        "\nplanner figures for {} SLOs: {} metric queries ({} before deduplication)\n  \
         steady tick (1 new minute + 5 min overlap): {} GetMetricData calls (⌈{q}/500⌉ = {}), \
         {} metrics requested, {} datapoints (≤ 6 × {q} = {})\n  \
         30-day backfill: {} calls in {} chunks, {} metrics requested, {} datapoints\n  \
         cost at one tick per minute: {:.0} metrics/month ≈ ${:.2}/month; backfill ≈ ${:.2}",
        slos.len(),
        q,
        undeduplicated,
        tick_cost.calls,
        q.div_ceil(500),
        tick_cost.metrics_requested,
        tick_cost.datapoints,
        6 * q,
        back_cost.calls,
        back_chunks.len(),
        back_cost.metrics_requested,
        back_cost.datapoints,
        per_month,
        per_month * 0.01 / 1000.0,
        back_cost.metrics_requested as f64 * 0.01 / 1000.0,
    );

    c.bench_function("build query plan, 1000 SLOs", |b| {
        b.iter(|| QueryPlan::build(&cloudwatch_slis(black_box(&slos), &all)))
    });
    c.bench_function("plan steady-state tick", |b| {
        b.iter(|| plan_range(black_box(q), tick.0, tick.1, now, &limits))
    });
    c.bench_function("plan 30-day backfill", |b| {
        b.iter(|| plan_range(black_box(q), back.0, back.1, now, &limits))
    });
}

criterion_group!(benches, planner);
criterion_main!(benches);
