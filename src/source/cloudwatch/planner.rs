//! The CloudWatch query planner: which metrics to fetch, over which range, at which
//! resolution, packed into how few GetMetricData calls. Pure functions, no I/O, so the
//! benchmark and the tests see exactly what the fetcher will do.
//!
//! - **Deduplication.** The same (namespace, metric, dimensions, statistic) used by two
//!   SLOs is one query ([`QueryPlan::build`]).
//! - **Incremental ticks.** Each tick reads `[last complete − overlap, floor(now − delay))`
//!   at 60 s ([`tick_range`]): only the minutes that became complete, plus an overlap whose
//!   buckets are re-read and overwritten so late datapoints land. Nothing new → no call.
//! - **Resolution follows retention** ([`segments`]): data younger than 15 days is read at
//!   60 s, 15–63 days at 300 s, older at 3600 s (CloudWatch returns nothing at a finer
//!   period there). Segment edges are aligned to their period.
//! - **Packing** ([`plan_range`]): a range is cut into chunks of at most
//!   `chunk_points` buckets per query (bounding the memory of one chunk), and each chunk's
//!   queries are packed into calls of at most 500 queries and 100,800 estimated datapoints.
//!   A steady-state tick therefore makes ⌈queries / 500⌉ calls.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::plugins::{CwSli, CwTotal, MetricKey, SliPlan};
use crate::source::{align_down, align_up};

/// GetMetricData's fixed limits and burnwatch's chunk size.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Queries per call (AWS: 500).
    pub max_queries_per_call: usize,
    /// Datapoints per call (AWS: 100,800).
    pub max_datapoints_per_call: u64,
    /// Buckets per query in one chunk: bounds the memory of a backfill chunk
    /// (queries × chunk_points values) and its size in the event sink. 1440 = one day of
    /// minutes; a 30-day backfill then requests each metric 18 times (15 one-minute chunks,
    /// 3 five-minute chunks).
    pub chunk_points: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_queries_per_call: 500,
            max_datapoints_per_call: 100_800,
            chunk_points: 1440,
        }
    }
}

/// The deduplicated queries of a set of SLIs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryPlan {
    /// Distinct queries; the index is the query's id (`q<index>` on the wire).
    pub queries: Vec<MetricKey>,
    /// The SLIs, referring to queries by index.
    pub slis: Vec<SliPlan>,
    /// For each query, the SLIs (indices into `slis`) that read it.
    pub users: Vec<Vec<usize>>,
}

impl QueryPlan {
    /// Deduplicate the metrics of `slis`.
    pub fn build(slis: &[CwSli]) -> QueryPlan {
        let mut plan = QueryPlan::default();
        let mut index: HashMap<MetricKey, usize> = HashMap::new();
        for (s, sli) in slis.iter().enumerate() {
            let mut id = |k: &MetricKey| -> usize {
                let i = *index.entry(k.clone()).or_insert_with(|| {
                    plan.queries.push(k.clone());
                    plan.users.push(Vec::new());
                    plan.queries.len() - 1
                });
                if !plan.users[i].contains(&s) {
                    plan.users[i].push(s);
                }
                i
            };
            let errors: Vec<usize> = sli.errors.iter().map(&mut id).collect();
            let (total_keys, good_plus_errors) = match &sli.total {
                CwTotal::Metrics(m) => (m, false),
                CwTotal::GoodPlusErrors(m) => (m, true),
            };
            let total: Vec<usize> = total_keys.iter().map(&mut id).collect();
            plan.slis.push(SliPlan {
                slo_id: sli.slo_id.clone(),
                errors,
                total,
                good_plus_errors,
            });
        }
        plan
    }
}

/// The range a tick should read, or `None` when no new bucket is complete.
///
/// `complete_until` is the end of the last range read completely (`None` before the
/// backfill). Ranges are aligned to `step` seconds (60 for CloudWatch) and never reach
/// further back than `backfill` before their end. Shared by every source.
pub fn tick_range(
    complete_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    delay: TimeDelta,
    overlap: TimeDelta,
    backfill: TimeDelta,
    step: u32,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let end = align_down(now - delay, step);
    let earliest = align_down(end - backfill, step);
    let start = match complete_until {
        None => earliest,
        Some(c) if end <= c => return None,
        Some(c) => align_down(c - overlap, step).max(earliest),
    };
    (start < end).then_some((start, end))
}

/// Split `[start, end)` by the resolution CloudWatch keeps at `now`: `(start, end, period)`
/// pieces, oldest first, each aligned to its period.
pub fn segments(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, u32)> {
    // Margins keep a segment's start safely inside the retention of its resolution.
    let one_minute_from = align_up(now - TimeDelta::days(15) + TimeDelta::minutes(10), 300);
    let five_minute_from = align_up(now - TimeDelta::days(63) + TimeDelta::hours(1), 3600);
    let mut out = Vec::new();
    let mut push = |s: DateTime<Utc>, e: DateTime<Utc>, p: u32| {
        let s = align_down(s, p);
        let e = align_up(e, p);
        if s < e {
            out.push((s, e, p));
        }
    };
    if start < five_minute_from {
        push(start, five_minute_from.min(end), 3600);
    }
    if start < one_minute_from && end > five_minute_from {
        push(start.max(five_minute_from), one_minute_from.min(end), 300);
    }
    if end > one_minute_from {
        push(start.max(one_minute_from), end, 60);
    }
    out
}

/// One unit of fetching and evaluation: a time range at one period and the calls that
/// fetch every query over it.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// Start (inclusive, aligned to `period`).
    pub start: DateTime<Utc>,
    /// End (exclusive, aligned to `period`).
    pub end: DateTime<Utc>,
    /// Period in seconds (= bucket length).
    pub period: u32,
    /// Query indices per GetMetricData call.
    pub calls: Vec<Vec<usize>>,
}

impl Chunk {
    /// Buckets per query.
    pub fn points(&self) -> u64 {
        let secs = (self.end - self.start).num_seconds().max(0) as u64;
        secs / u64::from(self.period.max(1))
    }
}

/// Plan fetching `n_queries` queries over `[start, end)` at `now`.
pub fn plan_range(
    n_queries: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    if n_queries == 0 {
        return chunks;
    }
    let max_points = u64::from(limits.chunk_points.max(1)).min(limits.max_datapoints_per_call);
    for (s, e, period) in segments(start, end, now) {
        // Split evenly: n chunks of at most `max_points`, without a tiny remainder chunk.
        let total = ((e - s).num_seconds() as u64).div_ceil(u64::from(period));
        let n = total.div_ceil(max_points).max(1);
        let per_chunk = total.div_ceil(n);
        let step = TimeDelta::seconds(i64::from(period) * per_chunk as i64);
        let mut cs = s;
        while cs < e {
            let ce = (cs + step).min(e);
            let points = ((ce - cs).num_seconds() as u64 / u64::from(period)).max(1);
            let per_call = ((limits.max_datapoints_per_call / points) as usize)
                .clamp(1, limits.max_queries_per_call.max(1));
            let all: Vec<usize> = (0..n_queries).collect();
            chunks.push(Chunk {
                start: cs,
                end: ce,
                period,
                calls: all.chunks(per_call).map(<[usize]>::to_vec).collect(),
            });
            cs = ce;
        }
    }
    chunks
}

/// What a plan costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanCost {
    /// GetMetricData calls (before pagination and retries).
    pub calls: u64,
    /// Metric queries requested (what CloudWatch bills: $0.01 per 1,000).
    pub metrics_requested: u64,
    /// Datapoints requested at most (queries × buckets).
    pub datapoints: u64,
}

/// Sum the cost of `chunks`.
pub fn cost(chunks: &[Chunk]) -> PlanCost {
    let mut c = PlanCost::default();
    for chunk in chunks {
        for call in &chunk.calls {
            c.calls += 1;
            c.metrics_requested += call.len() as u64;
            c.datapoints += call.len() as u64 * chunk.points();
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
    }

    #[test]
    fn dedup_shares_queries_between_slos() {
        let k = |m: &str| MetricKey::sum("AWS/ApplicationELB", m, ("LoadBalancer", "app/a/1"));
        let sli = |id: &str| CwSli {
            slo_id: id.into(),
            errors: vec![k("HTTPCode_Target_5XX_Count")],
            total: CwTotal::Metrics(vec![k("RequestCount")]),
        };
        let plan = QueryPlan::build(&[sli("a"), sli("b")]);
        assert_eq!(plan.queries.len(), 2);
        assert_eq!(plan.slis[0].errors, plan.slis[1].errors);
        assert_eq!(plan.users[0], vec![0, 1]);
    }

    #[test]
    fn ticks_read_new_minutes_plus_overlap_behind_the_delay() {
        let (delay, overlap, back) = (
            TimeDelta::minutes(2),
            TimeDelta::minutes(5),
            TimeDelta::days(30),
        );
        let now = t(20, 10, 0) + TimeDelta::seconds(30);
        assert_eq!(
            tick_range(None, now, delay, overlap, back, 60),
            Some((t(20, 9, 58) - back, t(20, 9, 58)))
        );
        assert_eq!(
            tick_range(Some(t(20, 9, 57)), now, delay, overlap, back, 60),
            Some((t(20, 9, 52), t(20, 9, 58)))
        );
        // Nothing new became complete: no call at all.
        assert_eq!(
            tick_range(Some(t(20, 9, 58)), now, delay, overlap, back, 60),
            None
        );
    }

    #[test]
    fn backfill_resolution_follows_retention() {
        let now = t(30, 12, 0);
        let segs = segments(now - TimeDelta::days(30), now, now);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].2, 300);
        assert_eq!(segs[1].2, 60);
        assert_eq!(segs[0].1, segs[1].0, "segments must be contiguous");
        assert!(segs[1].0 > now - TimeDelta::days(15));
        let old = segments(now - TimeDelta::days(90), now, now);
        assert_eq!(
            old.iter().map(|s| s.2).collect::<Vec<_>>(),
            vec![3600, 300, 60]
        );
    }

    #[test]
    fn packing_respects_both_limits() {
        let now = t(30, 12, 0);
        let limits = Limits::default();
        // Steady tick: 6 buckets per query, 1,200 queries → 3 calls of ≤ 500.
        let chunks = plan_range(1200, now - TimeDelta::minutes(6), now, now, &limits);
        assert_eq!(chunks.len(), 1);
        assert_eq!(
            chunks[0].calls.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![500, 500, 200]
        );
        // Backfill: one-day chunks of 1,440 points → 70 queries per call.
        let chunks = plan_range(100, now - TimeDelta::days(30), now, now, &limits);
        for c in &chunks {
            for call in &c.calls {
                assert!(call.len() as u64 * c.points() <= 100_800);
                assert!(call.len() <= 500);
            }
        }
        assert!(chunks.iter().any(|c| c.calls[0].len() == 70));
    }
}
