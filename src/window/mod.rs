//! Per-SLO event buckets and O(1) sums over any alert window or the period.
//!
//! Sources deliver [`EventBatch`]es: the good and total events of one SLO in one minute.
//! [`SloWindows`] keeps them in two rings, minute buckets for windows up to six hours and
//! five-minute buckets for 1d, 3d and the period, and maintains running sums so that an
//! evaluation costs the same for a 5m window as for 30d. A 30-day SLO with the SRE Workbook
//! windows holds about 62 KiB (see [`SloWindows::heap_bytes`]).
//!
//! "No datapoint" and "zero traffic" are different bucket values: a source that failed
//! leaves its minutes empty, a source that saw no requests stores zeros. Neither counts as
//! good; the evaluator reports both as `no_data`.
//!
//! Architecture invariant: pure data structures. No clock (time is passed in as minute
//! indices), no I/O, no async.

mod buckets;
mod series;
mod store;

pub use buckets::{Counts, prefetch_value};
pub use series::{HISTORY_MAX_POINTS, History};
pub use store::{
    COARSE_MINUTES, FINE_MAX_MINUTES, MAX_WINDOWS, RecordError, SLACK_MINUTES, SloWindows,
    WindowError, WindowSum,
};

/// Fixed-point scale for raw SLIs: a raw sample with error ratio `r` is stored as
/// `errors = round(r × RATIO_SCALE)` out of `total = RATIO_SCALE`, so a window's
/// Σerrors/Σtotal is the mean of its samples' ratios (Sloth averages raw ratios the same
/// way). One part per million keeps the thresholds of a 99.99 % SLO (0.0001 × factor)
/// well resolved.
pub const RATIO_SCALE: u64 = 1_000_000;

/// The events of one SLO in one minute: the unit every source produces and the window
/// store consumes, whatever the source (CloudWatch, Step Functions, Prometheus, a replay
/// file).
///
/// History older than the minute ring (backfill at start) is fed the same way, in time
/// order. Data only available at five-minute resolution (CloudWatch keeps one-minute data
/// for 15 days) can be fed as one batch at the five-minute bucket's first minute: windows
/// longer than six hours only see five-minute buckets, so the result is exact for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventBatch {
    /// The SLO (`<service>-<name>`).
    pub slo_id: String,
    /// Start of the minute, seconds since the Unix epoch (floored to the minute).
    pub bucket_start: i64,
    /// Good events in that minute.
    pub good: u64,
    /// All valid events in that minute; zero means "no traffic", which is data.
    pub total: u64,
}

/// Data a source delivered that cannot be right. Counted and reported, never stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadData {
    /// More good events than events.
    #[error("good events ({good}) exceed total events ({total})")]
    GoodExceedsTotal {
        /// Good events reported.
        good: u64,
        /// Total events reported.
        total: u64,
    },
    /// A raw SLI sample that is not a ratio in [0, 1] (NaN, infinite, negative, above 1).
    #[error("error ratio {0} is not a number in [0, 1]")]
    RatioOutOfRange(f64),
}

impl EventBatch {
    /// The minute index (minutes since the epoch) of the batch.
    pub fn minute(&self) -> i64 {
        self.bucket_start.div_euclid(60)
    }

    /// The batch as bucket counts, or why it cannot be stored.
    pub fn counts(&self) -> Result<Counts, BadData> {
        events_counts(self.good, self.total)
    }
}

/// Counts from good and total events.
pub fn events_counts(good: u64, total: u64) -> Result<Counts, BadData> {
    if good > total {
        return Err(BadData::GoodExceedsTotal { good, total });
    }
    Ok(Counts {
        errors: total - good,
        total,
    })
}

/// Counts for one raw-SLI sample (an error ratio), in [`RATIO_SCALE`] fixed point.
pub fn ratio_counts(error_ratio: f64) -> Result<Counts, BadData> {
    if !(0.0..=1.0).contains(&error_ratio) {
        return Err(BadData::RatioOutOfRange(error_ratio));
    }
    Ok(Counts {
        errors: (error_ratio * RATIO_SCALE as f64).round() as u64,
        total: RATIO_SCALE,
    })
}

impl Counts {
    /// Both counts added (several samples or lines in one minute).
    pub fn plus(self, other: Counts) -> Counts {
        Counts {
            errors: self.errors.saturating_add(other.errors),
            total: self.total.saturating_add(other.total),
        }
    }
}

#[cfg(test)]
mod tests;
