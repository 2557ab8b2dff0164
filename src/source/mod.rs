//! Sources: where SLI events come from. CloudWatch metrics (ALB, S3, custom ratios, Step
//! Functions and Batch counters), the Step Functions and Batch APIs, and any
//! Prometheus-compatible HTTP API turn into per-SLO, per-bucket good/total counts.
//!
//! # The contract between the daemon and a [`Source`]
//!
//! - **The daemon drives.** It calls [`Source::poll`] once per tick with the current time;
//!   a source never runs a timer of its own and is never polled concurrently with itself
//!   (`&mut self`). Tests and replay pass any `now` they like.
//! - **The source chooses what to read.** The first poll backfills the SLO period; later
//!   polls read only what became complete since the last successful poll (behind the
//!   source's ingestion delay), plus a short overlap so late data is picked up.
//! - **Events are values, not increments.** An [`SloEvents`] is the complete content of
//!   one bucket as the source sees it now. The store must *replace* (upsert) a bucket it
//!   already holds, never add to it: overlapping re-reads deliver the same bucket again.
//! - **Coverage says what zero means.** A [`Coverage`] lists the buckets a poll read
//!   successfully; a bucket inside it without an event had no events at all (CloudWatch
//!   publishes no datapoint when nothing happened). Buckets outside any coverage are unknown.
//! - **A failed read is never good.** When a source cannot read (API errors after retries,
//!   throttling, timeouts, partial results, malformed data) it reports a [`NoData`] range
//!   for every SLO affected, never zero errors. A later event or coverage for the same
//!   buckets (the next successful poll re-reads them) replaces the `NoData`.
//! - **Bad data is corrected and counted.** Errors above total, NaN and negative values are
//!   handled as documented on [`CorrectionKind`] and reported as [`Correction`]s, so the
//!   daemon can export them as a metric.
//! - **Polls stream.** A backfill produces weeks of buckets; sources hand results to an
//!   [`EventSink`] chunk by chunk (oldest first) instead of returning one huge vector.
//!   [`Source::poll`] itself never fails: its [`PollReport`] says what it cost and what failed.

pub mod aws;
pub mod batch;
pub mod cloudwatch;
pub mod prometheus;
pub mod rds;
pub mod record;
pub mod retry;
pub mod settings;
pub mod stepfunctions;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, TimeZone, Utc};

/// A boxed, sendable future: lets [`Source`] stay object safe (`Box<dyn Source>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Good and total events of one SLO in one time bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct SloEvents {
    /// The SLO (`Slo::id`).
    pub slo_id: String,
    /// Start of the bucket (UTC, aligned to `bucket_secs`).
    pub bucket_start: DateTime<Utc>,
    /// Bucket length in seconds: 60 for live data, 300 or 3600 for old backfilled data.
    pub bucket_secs: u32,
    /// Good events in the bucket.
    pub good: f64,
    /// All valid events in the bucket (`good <= total`).
    pub total: f64,
}

/// Buckets a poll read successfully for one SLO: `[from, to)` in steps of `bucket_secs`.
/// Buckets in the range without an [`SloEvents`] had zero events.
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    /// The SLO.
    pub slo_id: String,
    /// First bucket start (inclusive).
    pub from: DateTime<Utc>,
    /// End of the last bucket (exclusive).
    pub to: DateTime<Utc>,
    /// Bucket length in seconds.
    pub bucket_secs: u32,
}

/// A time range for which an SLO's events could not be read. The SLI is `no_data` there,
/// never good.
#[derive(Clone, Debug, PartialEq)]
pub struct NoData {
    /// The SLO.
    pub slo_id: String,
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Why, for logs and the API (never contains credentials).
    pub reason: String,
}

/// What kind of bad data a source corrected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CorrectionKind {
    /// More errors than total events (e.g. S3 `5xxErrors` counts every request type while
    /// the total counts PUTs, or ALB 5XX the load balancer answered itself). The total is
    /// raised to the errors: the bucket is 100 % bad, never better than the data says.
    ErrorsAboveTotal,
    /// A NaN or infinite value. The bucket is reported as [`NoData`].
    NotFinite,
    /// A negative count. The bucket is reported as [`NoData`].
    Negative,
    /// A raw error ratio outside `[0, 1]`; clamped into it.
    RatioOutOfRange,
}

impl CorrectionKind {
    /// Stable label value for metrics (`burnwatch_source_corrections_total{kind=…}`).
    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionKind::ErrorsAboveTotal => "errors_above_total",
            CorrectionKind::NotFinite => "not_finite",
            CorrectionKind::Negative => "negative",
            CorrectionKind::RatioOutOfRange => "ratio_out_of_range",
        }
    }
}

/// Corrections of one kind for one SLO within one delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct Correction {
    /// The SLO.
    pub slo_id: String,
    /// What was corrected.
    pub kind: CorrectionKind,
    /// Number of buckets affected.
    pub count: u64,
    /// Start of the first affected bucket.
    pub first_bucket: DateTime<Utc>,
}

/// One delivery from a source to the daemon (a poll may make several: one per chunk).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceBatch {
    /// Non-empty buckets, each the complete value of its bucket.
    pub events: Vec<SloEvents>,
    /// Ranges read successfully (empty buckets inside are zero).
    pub covered: Vec<Coverage>,
    /// Ranges that could not be read.
    pub no_data: Vec<NoData>,
    /// Bad data that was corrected.
    pub corrections: Vec<Correction>,
}

impl SourceBatch {
    /// True when the batch carries nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.covered.is_empty()
            && self.no_data.is_empty()
            && self.corrections.is_empty()
    }
    /// Append another batch.
    pub fn extend(&mut self, other: SourceBatch) {
        self.events.extend(other.events);
        self.covered.extend(other.covered);
        self.no_data.extend(other.no_data);
        self.corrections.extend(other.corrections);
    }
}

/// Receives what a poll produces, chunk by chunk. The daemon feeds the window store;
/// tests and replay collect into a `Vec`.
pub trait EventSink: Send {
    /// Take one delivery. Called in time order within a poll.
    fn accept(&mut self, batch: SourceBatch);
}

impl EventSink for Vec<SourceBatch> {
    fn accept(&mut self, batch: SourceBatch) {
        if !batch.is_empty() {
            self.push(batch);
        }
    }
}

impl EventSink for SourceBatch {
    fn accept(&mut self, batch: SourceBatch) {
        self.extend(batch);
    }
}

/// What a poll cost and how it went: the daemon exports these as `burnwatch_*` counters
/// (API calls per operation, metrics requested, datapoints, retries, failures).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollReport {
    /// API calls made, per operation (`GetMetricData`, `ListExecutions`, `query_range`, …),
    /// counting every page and every retry attempt.
    pub api_calls: BTreeMap<&'static str, u64>,
    /// GetMetricData metric queries requested (what CloudWatch bills), summed over calls.
    pub metrics_requested: u64,
    /// Datapoints (or samples, executions, jobs) received.
    pub datapoints: u64,
    /// Attempts that were retried (throttling, 5xx, timeouts).
    pub retries: u64,
    /// Of which throttled.
    pub throttled: u64,
    /// Calls that failed for good (after retries); each produced [`NoData`].
    pub failures: u64,
    /// The range this poll read, if any (`None` when nothing new was complete).
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl PollReport {
    /// Count one call of `operation`.
    pub fn call(&mut self, operation: &'static str) {
        *self.api_calls.entry(operation).or_default() += 1;
    }
    /// Total API calls of all operations.
    pub fn total_calls(&self) -> u64 {
        self.api_calls.values().sum()
    }
    /// Add another report's counters (the range is widened).
    pub fn merge(&mut self, other: &PollReport) {
        for (op, n) in &other.api_calls {
            *self.api_calls.entry(op).or_default() += n;
        }
        self.metrics_requested += other.metrics_requested;
        self.datapoints += other.datapoints;
        self.retries += other.retries;
        self.throttled += other.throttled;
        self.failures += other.failures;
        self.range = match (self.range, other.range) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (a, b) => a.or(b),
        };
    }
}

/// A producer of SLI events. See the module documentation for the contract.
pub trait Source: Send {
    /// Short name for logs and metrics (`cloudwatch`, `stepfunctions`, `batch`, `prometheus`).
    fn name(&self) -> &str;
    /// The SLOs this source feeds.
    fn slo_ids(&self) -> Vec<String>;
    /// Read what is new at `now` and hand it to `sink`. Never fails as a whole: failures
    /// become [`NoData`] in the sink and counts in the report.
    fn poll<'a>(
        &'a mut self,
        now: DateTime<Utc>,
        sink: &'a mut dyn EventSink,
    ) -> BoxFuture<'a, PollReport>;
}

/// Why a source could not be set up (bad configuration). Reading errors at run time are
/// never errors: they become [`NoData`].
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A configuration value is unusable.
    #[error("source configuration: {0}")]
    Config(String),
    /// The record file could not be written or read.
    #[error("record file {path}: {message}")]
    Record {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Floor `t` to a multiple of `secs` seconds since the epoch.
pub fn align_down(t: DateTime<Utc>, secs: u32) -> DateTime<Utc> {
    let s = t.timestamp();
    let p = i64::from(secs.max(1));
    from_epoch(s.div_euclid(p) * p)
}

/// Ceil `t` to a multiple of `secs` seconds since the epoch.
pub fn align_up(t: DateTime<Utc>, secs: u32) -> DateTime<Utc> {
    let down = align_down(t, secs);
    if down == t && t.timestamp_subsec_nanos() == 0 {
        t
    } else {
        down + chrono::TimeDelta::seconds(i64::from(secs.max(1)))
    }
}

/// Epoch seconds to a UTC time (out-of-range values clamp to the epoch).
pub fn from_epoch(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Epoch milliseconds to a UTC time (out-of-range values clamp to the epoch).
pub fn from_epoch_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// A `spec::Duration` as a chrono delta.
pub fn delta(d: crate::spec::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::milliseconds(i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment() {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 10, 7, 13).unwrap();
        assert_eq!(
            align_down(t, 300),
            Utc.with_ymd_and_hms(2026, 11, 20, 10, 5, 0).unwrap()
        );
        assert_eq!(
            align_up(t, 300),
            Utc.with_ymd_and_hms(2026, 11, 20, 10, 10, 0).unwrap()
        );
        let aligned = Utc.with_ymd_and_hms(2026, 11, 20, 10, 10, 0).unwrap();
        assert_eq!(align_up(aligned, 300), aligned);
    }
}
