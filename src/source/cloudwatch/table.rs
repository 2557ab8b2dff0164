//! One chunk's fetched values (queries × buckets) and their evaluation into SLO events.
//! Live fetching and replay fill a [`ChunkTable`] and call [`evaluate_chunk`], so both
//! produce events through the same code.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};

use super::planner::QueryPlan;
use super::plugins::{Bucket, evaluate_bucket};
use crate::source::{
    Correction, CorrectionKind, Coverage, NoData, SloEvents, SourceBatch, from_epoch,
};

/// The most buckets one table holds: a year and a day of minutes (recordings are bounded
/// to that span by `replay::record::read`; live chunks are far shorter).
pub const MAX_BUCKETS: i64 = 367 * 1440;

/// Values of every query over one chunk, dense: `None` = no datapoint.
#[derive(Clone, Debug)]
pub struct ChunkTable {
    start: i64,
    period: u32,
    buckets: usize,
    values: Vec<Option<f64>>,
}

impl ChunkTable {
    /// An empty table for `n_queries` queries over `[start, end)` at `period` seconds,
    /// at most [`MAX_BUCKETS`] buckets long: the span comes from outside timestamps, so it
    /// must not size an allocation unchecked (datapoints past the cap are refused by
    /// [`ChunkTable::insert`]).
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, period: u32, n_queries: usize) -> Self {
        let period = period.max(1);
        let buckets =
            ((end - start).num_seconds().max(0) / i64::from(period)).min(MAX_BUCKETS) as usize;
        ChunkTable {
            start: start.timestamp(),
            period,
            buckets,
            values: vec![None; buckets.saturating_mul(n_queries)],
        }
    }
    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.buckets
    }
    /// Bucket length in seconds.
    pub fn period(&self) -> u32 {
        self.period
    }
    /// Start of bucket `b`.
    pub fn bucket_start(&self, b: usize) -> DateTime<Utc> {
        from_epoch(self.start + b as i64 * i64::from(self.period))
    }
    /// Put query `q`'s datapoint at `ts` (seconds) into its bucket; a later datapoint for
    /// the same bucket replaces an earlier one. Returns false when `ts` is outside.
    pub fn insert(&mut self, q: usize, ts: i64, value: f64) -> bool {
        if ts < self.start {
            return false;
        }
        let b = ((ts - self.start) / i64::from(self.period)) as usize;
        if b >= self.buckets {
            return false;
        }
        match self.values.get_mut(q * self.buckets + b) {
            Some(slot) => {
                *slot = Some(value);
                true
            }
            None => false,
        }
    }
    /// Query `q`'s value in bucket `b`.
    pub fn get(&self, q: usize, b: usize) -> Option<f64> {
        self.values.get(q * self.buckets + b).copied().flatten()
    }
}

/// Turn a filled table into events for the SLIs of `plan` selected by `include`.
/// SLIs reading a query in `failed` get [`NoData`] for the whole chunk.
pub fn evaluate_chunk(
    plan: &QueryPlan,
    table: &ChunkTable,
    failed: &HashMap<usize, String>,
    include: impl Fn(usize) -> bool,
) -> SourceBatch {
    let mut batch = SourceBatch::default();
    let step = TimeDelta::seconds(i64::from(table.period()));
    let chunk_start = table.bucket_start(0);
    let chunk_end = table.bucket_start(table.buckets());
    for (s, sli) in plan.slis.iter().enumerate() {
        if !include(s) {
            continue;
        }
        if let Some(reason) = sli.queries().find_map(|q| failed.get(&q)) {
            batch.no_data.push(NoData {
                slo_id: sli.slo_id.clone(),
                from: chunk_start,
                to: chunk_end,
                reason: reason.clone(),
            });
            continue;
        }
        let mut corrections: BTreeMap<CorrectionKind, (u64, DateTime<Utc>)> = BTreeMap::new();
        let mut note = |kind: CorrectionKind, at: DateTime<Utc>| {
            corrections.entry(kind).or_insert((0, at)).0 += 1;
        };
        for b in 0..table.buckets() {
            let at = table.bucket_start(b);
            let bucket = evaluate_bucket(sli, |q| table.get(q, b), |q| plan.queries[q].is_count());
            match bucket {
                Bucket::Events {
                    good,
                    total,
                    corrected,
                } => {
                    if let Some(kind) = corrected {
                        note(kind, at);
                    }
                    extend_range(&mut batch.covered, &sli.slo_id, at, step);
                    if total > 0.0 {
                        batch.events.push(SloEvents {
                            slo_id: sli.slo_id.clone(),
                            bucket_start: at,
                            bucket_secs: table.period(),
                            good,
                            total,
                        });
                    }
                }
                Bucket::Unknown(kind) => {
                    if let Some(kind) = kind {
                        note(kind, at);
                    }
                    let reason = match kind {
                        Some(k) => format!("bad datapoint: {}", k.as_str()),
                        None => "no datapoint for a non-count statistic".to_string(),
                    };
                    match batch.no_data.last_mut() {
                        Some(n) if n.slo_id == sli.slo_id && n.to == at && n.reason == reason => {
                            n.to = at + step
                        }
                        _ => batch.no_data.push(NoData {
                            slo_id: sli.slo_id.clone(),
                            from: at,
                            to: at + step,
                            reason,
                        }),
                    }
                }
            }
        }
        for (kind, (count, first_bucket)) in corrections {
            batch.corrections.push(Correction {
                slo_id: sli.slo_id.clone(),
                kind,
                count,
                first_bucket,
            });
        }
    }
    batch
}

/// Grow the last coverage of `slo_id` by one bucket, or start a new one.
fn extend_range(covered: &mut Vec<Coverage>, slo_id: &str, at: DateTime<Utc>, step: TimeDelta) {
    match covered.last_mut() {
        Some(c) if c.slo_id == slo_id && c.to == at => c.to = at + step,
        _ => covered.push(Coverage {
            slo_id: slo_id.to_string(),
            from: at,
            to: at + step,
            bucket_secs: step.num_seconds() as u32,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::cloudwatch::plugins::{CwSli, CwTotal, MetricKey};
    use chrono::TimeZone;

    #[test]
    fn chunk_events_coverage_and_failures() {
        let k = |m: &str| MetricKey::sum("AWS/ApplicationELB", m, ("LoadBalancer", "app/a/1"));
        let avg = MetricKey {
            stat: "Average".into(),
            ..k("TargetResponseTime")
        };
        let slis = vec![
            CwSli {
                slo_id: "alb".into(),
                errors: vec![k("HTTPCode_Target_5XX_Count")],
                total: CwTotal::Metrics(vec![k("RequestCount")]),
            },
            CwSli {
                slo_id: "odd".into(),
                errors: vec![avg],
                total: CwTotal::Metrics(vec![k("RequestCount")]),
            },
            CwSli {
                slo_id: "broken".into(),
                errors: vec![k("Other")],
                total: CwTotal::Metrics(vec![k("RequestCount")]),
            },
        ];
        let plan = QueryPlan::build(&slis);
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut table = ChunkTable::new(start, start + TimeDelta::minutes(3), 60, 4);
        // minute 0: 100 requests, 2 errors; minute 1: nothing; minute 2: 50 requests.
        assert!(table.insert(1, start.timestamp(), 100.0));
        assert!(table.insert(0, start.timestamp() + 5, 2.0));
        assert!(table.insert(1, start.timestamp() + 120, 50.0));
        assert!(!table.insert(1, start.timestamp() + 180, 1.0));
        table.insert(2, start.timestamp() + 120, 0.5);
        let failed = HashMap::from([(3, "AccessDenied".to_string())]);
        let batch = evaluate_chunk(&plan, &table, &failed, |_| true);

        let alb: Vec<_> = batch.events.iter().filter(|e| e.slo_id == "alb").collect();
        assert_eq!(alb.len(), 2);
        assert_eq!((alb[0].good, alb[0].total), (98.0, 100.0));
        assert_eq!((alb[1].good, alb[1].total), (50.0, 50.0));
        let cov: Vec<_> = batch.covered.iter().filter(|c| c.slo_id == "alb").collect();
        assert_eq!(cov.len(), 1);
        assert_eq!(
            (cov[0].from, cov[0].to),
            (start, start + TimeDelta::minutes(3))
        );
        // The Average-based SLI knows only minute 2.
        let odd: Vec<_> = batch.no_data.iter().filter(|n| n.slo_id == "odd").collect();
        assert_eq!(odd.len(), 1);
        assert_eq!(odd[0].to, start + TimeDelta::minutes(2));
        // The SLI with a failed query is no_data for the chunk, never good.
        let broken: Vec<_> = batch
            .no_data
            .iter()
            .filter(|n| n.slo_id == "broken")
            .collect();
        assert_eq!(broken.len(), 1);
        assert_eq!(broken[0].reason, "AccessDenied");
        assert!(!batch.events.iter().any(|e| e.slo_id == "broken"));
    }

    #[test]
    fn a_far_away_span_is_capped_not_allocated() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap();
        let mut table = ChunkTable::new(start, end, 60, 2);
        assert_eq!(table.buckets(), MAX_BUCKETS as usize);
        assert!(table.insert(1, start.timestamp(), 1.0));
        assert!(!table.insert(1, end.timestamp() - 60, 1.0));
    }
}
