//! The CloudWatch source: every CloudWatch-backed SLI plugin of every SLO, fetched with as
//! few GetMetricData calls as the limits allow.
//!
//! One [`CloudWatchSource`] serves all CloudWatch SLOs so that a metric shared by two SLOs
//! is fetched once. The first poll backfills the SLO period; every later poll reads only
//! the minutes that became complete behind `delay`, re-reading `overlap` so late
//! datapoints overwrite their buckets. Work is done chunk by chunk ([`planner`]), each
//! chunk's values evaluated through the plugins ([`plugins`], [`table`]) and handed to the
//! sink before the next chunk is fetched, so memory stays bounded during a backfill.
//!
//! A chunk with a failed query marks that query's SLOs `no_data` for the chunk, and the
//! source's "complete until" mark stops before it: the next poll reads the gap again.

pub mod fetch;
pub mod planner;
pub mod plugins;
pub mod table;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use self::fetch::{FetchSettings, Fetcher};
use self::planner::{Limits, QueryPlan, plan_range, tick_range};
use self::table::{ChunkTable, evaluate_chunk};
use super::record::Recorder;
use super::{BoxFuture, EventSink, PollReport, Source, delta};
use crate::spec::{Duration, Slo};

/// CloudWatch source settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudWatchSettings {
    /// How far behind `now` data is considered complete (default 2 minutes: AWS-vended
    /// 1-minute metrics converge within about two minutes).
    pub delay: Duration,
    /// How much of the already-read range every tick reads again (default 5 minutes).
    pub overlap: Duration,
    /// How far back the first poll reads (default: the longest SLO period).
    pub backfill: Option<Duration>,
    /// GetMetricData limits and chunk size.
    pub limits: Limits,
    /// Retries, timeouts and pacing.
    pub fetch: FetchSettings,
}

impl Default for CloudWatchSettings {
    fn default() -> Self {
        CloudWatchSettings {
            delay: Duration::from_mins(2),
            overlap: Duration::from_mins(5),
            backfill: None,
            limits: Limits::default(),
            fetch: FetchSettings::default(),
        }
    }
}

/// All CloudWatch-backed SLOs.
#[derive(Debug)]
pub struct CloudWatchSource {
    fetcher: Fetcher,
    plan: QueryPlan,
    settings: CloudWatchSettings,
    backfill: Duration,
    complete_until: Option<DateTime<Utc>>,
    recorder: Option<Recorder>,
}

impl CloudWatchSource {
    /// A source for the CloudWatch-backed SLIs among `slos`. `batch_native(queue)` says
    /// whether a Batch queue publishes `AWS/Batch` job metrics (see
    /// [`super::batch::detect_native_metrics`]); `period` is the default SLO period.
    pub fn new(
        client: aws_sdk_cloudwatch::Client,
        slos: &[Slo],
        batch_native: &dyn Fn(&str) -> bool,
        period: Duration,
        settings: CloudWatchSettings,
    ) -> CloudWatchSource {
        let slis = plugins::cloudwatch_slis(slos, batch_native);
        let longest = slos
            .iter()
            .filter(|s| slis.iter().any(|c| c.slo_id == s.id))
            .map(|s| s.period.unwrap_or(period))
            .max()
            .unwrap_or(period);
        CloudWatchSource {
            fetcher: Fetcher::new(client, settings.fetch.clone()),
            plan: QueryPlan::build(&slis),
            backfill: settings.backfill.unwrap_or(longest),
            settings,
            complete_until: None,
            recorder: None,
        }
    }

    /// Append every fetched datapoint to `recorder` (`run --record`).
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The deduplicated query plan.
    pub fn plan(&self) -> &QueryPlan {
        &self.plan
    }

    /// End of the range read completely so far.
    pub fn complete_until(&self) -> Option<DateTime<Utc>> {
        self.complete_until
    }

    #[tracing::instrument(name = "source.poll", skip_all, fields(source = "cloudwatch", %now))]
    async fn run(&mut self, now: DateTime<Utc>, sink: &mut dyn EventSink) -> PollReport {
        let mut report = PollReport::default();
        if self.plan.queries.is_empty() {
            return report;
        }
        let Some((start, end)) = tick_range(
            self.complete_until,
            now,
            delta(self.settings.delay),
            delta(self.settings.overlap),
            delta(self.backfill),
            60,
        ) else {
            return report;
        };
        report.range = Some((start, end));
        let chunks = plan_range(
            self.plan.queries.len(),
            start,
            end,
            now,
            &self.settings.limits,
        );
        let mut complete = self.complete_until;
        let mut broken = false;
        for chunk in chunks {
            let mut table = ChunkTable::new(
                chunk.start,
                chunk.end,
                chunk.period,
                self.plan.queries.len(),
            );
            let mut failed: HashMap<usize, String> = HashMap::new();
            for ids in &chunk.calls {
                let outcome = self
                    .fetcher
                    .fetch(
                        &self.plan.queries,
                        ids,
                        chunk.start,
                        chunk.end,
                        chunk.period,
                        now,
                        &mut report,
                    )
                    .await;
                for s in &outcome.series {
                    for &(ts, v) in &s.points {
                        table.insert(s.query, ts, v);
                    }
                    if let Some(r) = &self.recorder {
                        r.datapoints(&self.plan.queries[s.query], chunk.period, &s.points);
                    }
                }
                failed.extend(outcome.failed);
            }
            if !failed.is_empty() {
                tracing::warn!(
                    failed = failed.len(),
                    from = %chunk.start,
                    to = %chunk.end,
                    "CloudWatch queries failed; their SLOs are no_data for the range"
                );
            }
            sink.accept(evaluate_chunk(&self.plan, &table, &failed, |_| true));
            if failed.is_empty() && !broken {
                complete = Some(complete.map_or(chunk.end, |c| c.max(chunk.end)));
            } else {
                broken = true;
            }
        }
        if let Some(r) = &self.recorder {
            r.flush();
        }
        self.complete_until = complete;
        report
    }
}

impl Source for CloudWatchSource {
    fn name(&self) -> &str {
        "cloudwatch"
    }
    fn slo_ids(&self) -> Vec<String> {
        self.plan.slis.iter().map(|s| s.slo_id.clone()).collect()
    }
    fn poll<'a>(
        &'a mut self,
        now: DateTime<Utc>,
        sink: &'a mut dyn EventSink,
    ) -> BoxFuture<'a, PollReport> {
        Box::pin(self.run(now, sink))
    }
}
