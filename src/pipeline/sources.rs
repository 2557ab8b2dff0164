//! Live sources in the daemon: build the configured sources for the loaded SLOs, poll
//! them once per tick and feed what they read into the evaluator's window store.
//!
//! The [`Source`] contract (see `crate::source`) is applied here:
//! - events are *values*: a re-read bucket replaces what the window store held;
//! - coverage makes zeros: a covered minute without an event had no events (CloudWatch
//!   publishes no datapoint when nothing happened), a minute outside any coverage stays
//!   "no datapoint", which the evaluator reports as `no_data`, never good;
//! - a failed read ([`NoData`](crate::source::NoData)) writes nothing and is counted in
//!   `burnwatch_sli_bad_data_total{reason="no_data"}`, corrections under their kind.
//!
//! Old backfilled buckets (5-minute CloudWatch data past 15 days) are stored in the first
//! minute of their bucket: only the long windows, which sum five-minute buckets, reach
//! that far back.
//!
//! The RDS monitor and Batch queue health are not SLI sources: their readings go to
//! `/metrics` (`burnwatch_rds_*`, `burnwatch_batch_*`) and RDS events to the history store
//! for `timeline`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::eval::{Evaluator, IngestError, SloIndex};
use crate::source::aws::{self, AwsSettings, Clients};
use crate::source::batch::{self, BatchSource};
use crate::source::cloudwatch::CloudWatchSource;
use crate::source::prometheus::PrometheusSource;
use crate::source::rds::RdsMonitor;
use crate::source::record::Recorder;
use crate::source::settings::LiveSourceSettings;
use crate::source::stepfunctions::StepFunctionsLatencySource;
use crate::source::{EventSink, PollReport, SloEvents, Source, SourceBatch, SourceError, delta};
use crate::spec::model::Sli;
use crate::spec::plugins::PluginSli;
use crate::spec::{Duration, Slo};
use crate::store::Store;
use crate::telemetry::{BadDataLabels, Telemetry};
use crate::window::{self, COARSE_MINUTES, Counts};

use super::feed::Fed;

/// The live sources of one daemon.
pub struct LiveSources {
    sources: Vec<Box<dyn Source>>,
    batch: Option<BatchSource>,
    rds: Option<RdsPoller>,
    recorder: Option<Recorder>,
}

struct RdsPoller {
    monitor: RdsMonitor,
    interval: chrono::TimeDelta,
    next: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for LiveSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSources")
            .field(
                "sources",
                &self.sources.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("batch", &self.batch.is_some())
            .field("rds", &self.rds.is_some())
            .finish()
    }
}

/// The AWS settings for a section that may borrow the `cloudwatch` section's.
fn aws_of<T>(
    own: Option<&crate::source::settings::AwsSection<T>>,
    settings: &LiveSourceSettings,
) -> Option<AwsSettings> {
    own.map(|s| s.aws.clone())
        .or_else(|| settings.cloudwatch.as_ref().map(|c| c.aws.clone()))
}

async fn clients(aws: &AwsSettings) -> Clients {
    Clients::new(&aws::load(aws).await, aws)
}

impl LiveSources {
    /// Build the sources `settings` configures for `slos` (`period`: the default SLO
    /// period). Every source appends what it reads to `recorder` when given. Asks
    /// CloudWatch once which Batch queues publish native job metrics (counted in
    /// `telemetry`).
    pub async fn build(
        settings: &LiveSourceSettings,
        slos: &[Slo],
        period: Duration,
        recorder: Option<Recorder>,
        telemetry: &Telemetry,
    ) -> Result<LiveSources, SourceError> {
        let mut out = LiveSources {
            sources: Vec::new(),
            batch: None,
            rds: None,
            recorder: recorder.clone(),
        };
        // Which Batch queues publish AWS/Batch metrics decides who serves their SLOs: the
        // CloudWatch source when it is configured and they do, else the Batch API.
        let queues = batch::job_queues(slos);
        let batch_aws = aws_of(settings.batch.as_ref(), settings);
        let mut native = BTreeSet::new();
        if !queues.is_empty()
            && settings.cloudwatch.is_some()
            && let Some(a) = &batch_aws
        {
            let c = clients(a).await;
            let policy = settings
                .batch
                .as_ref()
                .map(|b| b.settings.retry.clone())
                .unwrap_or_default();
            let mut report = PollReport::default();
            native =
                batch::detect_native_metrics(&c.cloudwatch, &queues, &policy, &mut report).await;
            telemetry.sources.record_poll(telemetry, "batch", &report);
        }
        let is_native = |q: &str| native.contains(q);

        if let Some(cw) = &settings.cloudwatch {
            let c = clients(&cw.aws).await;
            let mut s =
                CloudWatchSource::new(c.cloudwatch, slos, &is_native, period, cw.settings.clone());
            if !s.plan().queries.is_empty() {
                if let Some(r) = &recorder {
                    s = s.with_recorder(r.clone());
                }
                out.sources.push(Box::new(s));
            }
        }
        let needs_sfn = slos
            .iter()
            .any(|s| matches!(s.sli, Sli::Plugin(PluginSli::StepFunctionsLatency(_))));
        if needs_sfn && let Some(a) = aws_of(settings.stepfunctions.as_ref(), settings) {
            let c = clients(&a).await;
            let own = settings
                .stepfunctions
                .as_ref()
                .map(|s| s.settings.clone())
                .unwrap_or_default();
            let mut s = StepFunctionsLatencySource::new(c.sfn, slos, period, own);
            if let Some(r) = &recorder {
                s = s.with_recorder(r.clone());
            }
            out.sources.push(Box::new(s));
        }
        if let Some(a) = &batch_aws {
            let own = settings
                .batch
                .as_ref()
                .map(|s| s.settings.clone())
                .unwrap_or_default();
            let wanted = queues.iter().any(|q| !is_native(q)) || !own.health_queues.is_empty();
            if wanted {
                let c = clients(a).await;
                let mut s = BatchSource::new(c.batch, slos, &is_native, period, own);
                if let Some(r) = &recorder {
                    s = s.with_recorder(r.clone());
                }
                out.batch = Some(s);
            }
        }
        if let Some(p) = &settings.prometheus {
            let mut s = PrometheusSource::new(slos, period, p.clone())?;
            if !s.slo_ids().is_empty() {
                if let Some(r) = &recorder {
                    s = s.with_recorder(r.clone());
                }
                out.sources.push(Box::new(s));
            }
        }
        if let Some(r) = &settings.rds {
            let c = clients(&r.aws).await;
            out.rds = Some(RdsPoller {
                monitor: RdsMonitor::new(c.cloudwatch, c.rds, r.settings.clone()),
                interval: delta(settings.rds_interval),
                next: None,
            });
        }
        Ok(out)
    }

    /// The SLOs some live source feeds.
    pub fn slo_ids(&self) -> BTreeSet<String> {
        self.sources
            .iter()
            .flat_map(|s| s.slo_ids())
            .chain(self.batch.iter().flat_map(|b| b.slo_ids()))
            .collect()
    }

    /// Names of the sources built, for the log.
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.sources.iter().map(|s| s.name()).collect();
        if self.batch.is_some() {
            out.push("batch");
        }
        if self.rds.is_some() {
            out.push("rds");
        }
        out
    }

    /// Poll every source at `now` and feed the evaluator; read RDS when due. The first
    /// call backfills. Never fails: read failures are `no_data` and counted.
    pub async fn poll(
        &mut self,
        now: DateTime<Utc>,
        evaluator: &mut Evaluator,
        telemetry: &Telemetry,
        store: &Arc<Store>,
    ) -> Fed {
        let mut fed = Fed::default();
        for source in &mut self.sources {
            let mut sink = Ingest::new(evaluator);
            let report = source.poll(now, &mut sink).await;
            fed = fed.plus(sink.finish(source.name(), telemetry));
            log_poll(source.name(), &report);
            telemetry
                .sources
                .record_poll(telemetry, source.name(), &report);
        }
        if let Some(b) = &mut self.batch {
            let mut sink = Ingest::new(evaluator);
            let report = b.poll(now, &mut sink).await;
            fed = fed.plus(sink.finish("batch", telemetry));
            log_poll("batch", &report);
            telemetry.sources.record_poll(telemetry, "batch", &report);
            telemetry.sources.record_batch(&b.health());
        }
        if let Some(r) = &mut self.rds
            && r.next.is_none_or(|next| now >= next)
        {
            r.next = Some(now + r.interval);
            let (snapshots, report) = r.monitor.poll(now).await;
            log_poll("rds", &report);
            telemetry.sources.record_poll(telemetry, "rds", &report);
            let mut events = Vec::new();
            for s in &snapshots {
                for e in &s.errors {
                    tracing::warn!(instance = %s.instance, error = %e, "RDS reading incomplete");
                }
                telemetry.sources.record_rds(s);
                events.extend(s.new_events.iter().cloned());
            }
            if !events.is_empty() {
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store.insert_rds_events(&events)).await {
                    Ok(Ok(n)) => tracing::info!(new = n, "RDS events stored"),
                    Ok(Err(e)) => tracing::error!(error = %e, "cannot store RDS events"),
                    Err(e) => tracing::error!(error = %e, "RDS event store task failed"),
                }
            }
        }
        if let Some(r) = &self.recorder {
            r.flush();
        }
        fed
    }
}

fn log_poll(source: &str, report: &PollReport) {
    if report.failures > 0 {
        tracing::warn!(
            source,
            failures = report.failures,
            retries = report.retries,
            throttled = report.throttled,
            "source reads failed; the affected SLOs are no_data for that range"
        );
    } else if let Some((from, to)) = report.range {
        tracing::debug!(source, %from, %to, calls = report.total_calls(), datapoints = report.datapoints, "source polled");
    }
}

/// The source that feeds `slo`, as the configuration names it (for the warning about
/// SLOs nothing feeds).
pub fn needed_source(slo: &Slo) -> &'static str {
    match &slo.sli {
        Sli::Events { .. } | Sli::Raw { .. } => "sources.prometheus",
        Sli::Plugin(PluginSli::StepFunctionsLatency(_)) => {
            "sources.cloudwatch (or sources.stepfunctions)"
        }
        Sli::Plugin(PluginSli::BatchJobSuccess(_)) => "sources.cloudwatch (or sources.batch)",
        Sli::Plugin(_) => "sources.cloudwatch",
    }
}

/// The window counts of one delivered bucket, or `None` when its numbers are unusable.
/// Events are rounded to whole events (the window store counts events); a raw SLI's
/// sample (good = 1 − ratio, total 1) is stored as a fixed-point ratio, as `replay`
/// stores it, never rounded to 0 or 1.
fn counts(e: &SloEvents, raw: bool) -> Option<Counts> {
    if !(e.good.is_finite() && e.total.is_finite()) || e.good < 0.0 || e.total < 0.0 {
        return None;
    }
    if raw {
        return (e.total > 0.0)
            .then(|| (1.0 - e.good / e.total).clamp(0.0, 1.0))
            .and_then(|r| window::ratio_counts(r).ok());
    }
    let total = e.total.round() as u64;
    let good = (e.good.round() as u64).min(total);
    Some(Counts {
        errors: total - good,
        total,
    })
}

/// An [`EventSink`] storing deliveries in the window store.
struct Ingest<'a> {
    evaluator: &'a mut Evaluator,
    fed: Fed,
    /// (SLO id, reason) → occurrences.
    bad: BTreeMap<(String, &'static str), u64>,
}

impl<'a> Ingest<'a> {
    fn new(evaluator: &'a mut Evaluator) -> Self {
        Ingest {
            evaluator,
            fed: Fed::default(),
            bad: BTreeMap::new(),
        }
    }

    fn finish(self, source: &str, telemetry: &Telemetry) -> Fed {
        for ((slo, reason), n) in self.bad {
            tracing::debug!(source, slo = %slo, reason, n, "bad or missing SLI data");
            telemetry
                .sli_bad_data
                .get_or_create(&BadDataLabels {
                    sloth_id: slo,
                    reason: reason.into(),
                })
                .inc_by(n);
        }
        if self.fed.refused > 0 {
            tracing::warn!(
                source,
                refused = self.fed.refused,
                "the window store refused buckets (older than it holds)"
            );
        }
        self.fed
    }
}

impl EventSink for Ingest<'_> {
    fn accept(&mut self, batch: SourceBatch) {
        // (minute, SLO) → counts, in time order so the window store's ring moves forward.
        let mut rows: BTreeMap<(i64, SloIndex), Counts> = BTreeMap::new();
        for c in &batch.covered {
            let Some(slo) = self.evaluator.slo_index(&c.slo_id) else {
                continue;
            };
            // A raw SLI's minute without a sample has no data, not a zero ratio.
            if self.evaluator.slo(slo).def.raw {
                continue;
            }
            for m in c.from.timestamp().div_euclid(60)..c.to.timestamp().div_euclid(60) {
                rows.insert((m, slo), Counts::default());
            }
        }
        for e in &batch.events {
            let Some(slo) = self.evaluator.slo_index(&e.slo_id) else {
                continue;
            };
            match counts(e, self.evaluator.slo(slo).def.raw) {
                Some(c) => {
                    rows.insert((e.bucket_start.timestamp().div_euclid(60), slo), c);
                }
                None => {
                    *self
                        .bad
                        .entry((e.slo_id.clone(), "invalid_counts"))
                        .or_default() += 1
                }
            }
        }
        for n in &batch.no_data {
            *self.bad.entry((n.slo_id.clone(), "no_data")).or_default() += 1;
        }
        for c in &batch.corrections {
            *self
                .bad
                .entry((c.slo_id.clone(), c.kind.as_str()))
                .or_default() += c.count;
        }
        let rows: Vec<(SloIndex, i64, Counts)> =
            rows.into_iter().map(|((m, slo), c)| (slo, m, c)).collect();
        let refused = self.evaluator.ingest_many(&rows);
        // Minutes older than the minute ring (a failed backfill chunk read again after
        // newer data arrived) still count in the long windows: whole five-minute buckets
        // are stored as such. Partial ones cannot be told from what the bucket held.
        let mut late: BTreeMap<(SloIndex, i64), (u32, Counts)> = BTreeMap::new();
        let mut lost = 0u64;
        for (n, e) in &refused {
            match e {
                IngestError::TooLate(_) => {
                    let (slo, minute, c) = rows[*n];
                    let entry = late
                        .entry((slo, minute.div_euclid(COARSE_MINUTES)))
                        .or_default();
                    entry.0 += 1;
                    entry.1 = entry.1.plus(c);
                }
                _ => lost += 1,
            }
        }
        for ((slo, bucket), (minutes, c)) in late {
            let whole = i64::from(minutes) == COARSE_MINUTES;
            if whole && self.evaluator.ingest_coarse(slo, bucket, c).is_ok() {
                self.fed.buckets += u64::from(minutes);
            } else {
                lost += u64::from(minutes);
            }
        }
        self.fed.refused += lost;
        self.fed.buckets += (rows.len() - refused.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::eval::EvalOptions;
    use crate::source::{Coverage, SloEvents, from_epoch};
    use crate::spec::LoadOptions;

    const SLO: &str = "mass-spec-api-availability";

    /// `minutes` one-minute buckets from `from`, `good` of 100 each, covered.
    fn batch(from: DateTime<Utc>, minutes: i64, good: f64) -> SourceBatch {
        SourceBatch {
            events: (0..minutes)
                .map(|m| SloEvents {
                    slo_id: SLO.into(),
                    bucket_start: from + TimeDelta::minutes(m),
                    bucket_secs: 60,
                    good,
                    total: 100.0,
                })
                .collect(),
            covered: vec![Coverage {
                slo_id: SLO.into(),
                from,
                to: from + TimeDelta::minutes(minutes),
                bucket_secs: 60,
            }],
            ..SourceBatch::default()
        }
    }

    /// A backfill chunk that failed and is read again after newer data moved the minute
    /// ring on still counts in the long windows (whole five-minute buckets), instead of
    /// leaving a hole in the period that would hide its errors.
    #[test]
    fn a_late_backfill_chunk_counts_in_the_long_windows() {
        let specs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("slo-specs");
        let options = LoadOptions::default();
        let slos: Vec<Slo> = crate::spec::load_paths(&[specs], &options)
            .slos()
            .cloned()
            .collect();
        let mut evaluator = Evaluator::new(&slos, &options, EvalOptions::default()).unwrap();
        let now = from_epoch(1_800_000_000); // a whole hour
        let mut sink = Ingest::new(&mut evaluator);
        sink.accept(batch(now - TimeDelta::hours(1), 60, 100.0));
        // Two days ago, one hour (twelve whole five-minute buckets) with 50 % errors.
        sink.accept(batch(now - TimeDelta::days(2), 60, 50.0));
        assert_eq!(
            (sink.fed.buckets, sink.fed.refused),
            (120, 0),
            "the late hour was stored"
        );
        evaluator.evaluate(now.timestamp());
        let view = evaluator.slo(evaluator.slo_index(SLO).unwrap());
        let period = view
            .status
            .windows(view.def)
            .max_by_key(|w| w.window)
            .unwrap();
        assert_eq!((period.errors, period.events), (3000.0, 12_000.0));
    }
}
