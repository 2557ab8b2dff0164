//! The planner's cost on the benchmark fleet (1,000 SLOs over the built-in plugins):
//! shared metrics are fetched once, a steady-state tick makes ⌈distinct queries / 500⌉
//! calls and reads at most (1 + overlap minutes) × distinct queries datapoints, and a
//! 30-day backfill stays within 100,800 datapoints per call.

#[path = "../../../benches/fleet.rs"]
mod fleet;

use burnwatch::source::cloudwatch::planner::{Limits, QueryPlan, cost, plan_range, tick_range};
use burnwatch::source::cloudwatch::plugins::cloudwatch_slis;
use chrono::{TimeDelta, TimeZone, Utc};

#[test]
fn steady_tick_and_backfill_cost_for_1000_slos() {
    let slos = fleet::fleet(1000);
    assert_eq!(slos.len(), 1000);
    let slis = cloudwatch_slis(&slos, &|_| true);
    assert_eq!(slis.len(), 1000, "every fleet SLO is CloudWatch-backed");
    let plan = QueryPlan::build(&slis);
    let q = plan.queries.len();
    // Two SLOs per resource: ALB 150 LBs × 5 metrics, S3 100 buckets × 3, ratio 100
    // services × 3, Step Functions 100 machines × 4, Batch 100 queues × 2.
    assert_eq!(q, 150 * 5 + 100 * 3 + 100 * 3 + 100 * 4 + 100 * 2);
    let undeduplicated: usize = slis.iter().map(|s| s.keys().count()).sum();
    assert!(undeduplicated > q);

    let limits = Limits::default();
    let (delay, overlap, period) = (
        TimeDelta::minutes(2),
        TimeDelta::minutes(5),
        TimeDelta::days(30),
    );
    for second in [0, 17, 59] {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, second).unwrap();
        let complete = Utc.with_ymd_and_hms(2026, 11, 20, 9, 57, 0).unwrap();
        let (start, end) = tick_range(Some(complete), now, delay, overlap, period, 60).unwrap();
        assert_eq!(end - complete, TimeDelta::minutes(1), "one new minute");
        let c = cost(&plan_range(q, start, end, now, &limits));
        assert_eq!(c.calls, q.div_ceil(500) as u64);
        assert_eq!(c.metrics_requested, q as u64);
        assert!(
            c.datapoints <= (1 + 5) * q as u64,
            "{} datapoints",
            c.datapoints
        );
    }

    let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let (start, end) = tick_range(None, now, delay, overlap, period, 60).unwrap();
    let chunks = plan_range(q, start, end, now, &limits);
    let c = cost(&chunks);
    for chunk in &chunks {
        for call in &chunk.calls {
            assert!(call.len() <= 500 && call.len() as u64 * chunk.points() <= 100_800);
        }
    }
    // Every query is read over the whole period, once per chunk, with no gap.
    assert!(
        chunks.first().unwrap().start <= start && start - chunks[0].start < TimeDelta::minutes(5)
    );
    assert_eq!(chunks.last().unwrap().end, end);
    assert!(chunks.windows(2).all(|w| w[0].end == w[1].start));
    assert_eq!(c.metrics_requested, q as u64 * chunks.len() as u64);
    // Calls are bounded by the datapoints that must be read: within one call per chunk
    // of the optimum ⌈datapoints / 100,800⌉.
    assert!(c.calls <= c.datapoints.div_ceil(100_800) + chunks.len() as u64);
}
