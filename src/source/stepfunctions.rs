//! Step Functions latency SLIs (`burnwatch/stepfunctions/latency/v1`), computed exactly
//! from each execution's start and stop dates (`ListExecutions`), which CloudWatch cannot
//! do: its `ExecutionTime` statistics cannot be intersected with "succeeded".
//!
//! **What counts.** An event is a SUCCEEDED execution, placed in the minute of its
//! `stopDate`; it is good when `stopDate − startDate ≤ threshold`. Failed, timed-out and
//! aborted executions belong to the success SLI (`stepfunctions/success/v1`), so one
//! failure does not burn two budgets.
//!
//! **Redrive.** A redriven execution keeps its ARN and its original `startDate`. It counts
//! once, when it finally succeeds, with the duration from the original start to the final
//! stop: the scientist waited that long, including the failure and the time until someone
//! redrove it, so a redrive that needed a human almost always counts as slow. (The success
//! SLI, from CloudWatch, counts the first failure and the later success separately, as
//! CloudWatch publishes them.)
//!
//! **Cost.** `ListExecutions` returns the newest executions first. Each poll pages through
//! SUCCEEDED executions only until their start is older than the range start minus a
//! lookback; the lookback is at least `lookback` (default 24 h) and grows to cover the
//! oldest execution seen RUNNING at the previous poll, so a long execution finishing now is
//! never missed. Calls are paced under the ListExecutions quota (a bucket of 200 refilled
//! at 5/s in the large regions; burnwatch uses 4/s by default).

use std::collections::BTreeMap;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
use chrono::{DateTime, TimeDelta, Utc};

use super::aws::to_chrono;
use super::cloudwatch::planner::tick_range;
use super::record::Recorder;
use super::retry::{RetryPolicy, TokenBucket, classify_sdk, describe_sdk, retry};
use super::{
    BoxFuture, Coverage, EventSink, NoData, PollReport, SloEvents, Source, SourceBatch, align_down,
    delta,
};
use crate::spec::model::Sli;
use crate::spec::plugins::PluginSli;
use crate::spec::{Duration, Slo};

/// The operation name as IAM spells it.
pub const LIST_EXECUTIONS: &str = "ListExecutions";

/// Step Functions latency source settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencySettings {
    /// How far behind `now` minutes are considered complete (default 1 minute).
    pub delay: Duration,
    /// Re-read overlap (default 5 minutes).
    pub overlap: Duration,
    /// Minimum lookback for executions that stop inside the range (default 24 h).
    pub lookback: Duration,
    /// How far back the first poll reads (default: the longest SLO period).
    pub backfill: Option<Duration>,
    /// ListExecutions calls per second.
    pub calls_per_sec: f64,
    /// Retries and per-call timeout.
    pub retry: RetryPolicy,
}

impl Default for LatencySettings {
    fn default() -> Self {
        LatencySettings {
            delay: Duration::from_mins(1),
            overlap: Duration::from_mins(5),
            lookback: Duration::from_hours(24),
            backfill: None,
            calls_per_sec: 4.0,
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Debug)]
struct Machine {
    arn: String,
    /// `(slo_id, threshold)` of every latency SLO on this state machine.
    slos: Vec<(String, TimeDelta)>,
    complete_until: Option<DateTime<Utc>>,
    oldest_running: Option<DateTime<Utc>>,
}

/// Every `stepfunctions/latency/v1` SLO, grouped by state machine (one listing serves all
/// SLOs of a machine).
#[derive(Debug)]
pub struct StepFunctionsLatencySource {
    client: Client,
    machines: Vec<Machine>,
    settings: LatencySettings,
    backfill: Duration,
    calls: TokenBucket,
    recorder: Option<Recorder>,
}

impl StepFunctionsLatencySource {
    /// A source for the latency SLOs among `slos`; `period` is the default SLO period.
    pub fn new(
        client: Client,
        slos: &[Slo],
        period: Duration,
        settings: LatencySettings,
    ) -> StepFunctionsLatencySource {
        let mut machines: Vec<Machine> = Vec::new();
        let mut longest = None;
        for slo in slos {
            let Sli::Plugin(PluginSli::StepFunctionsLatency(l)) = &slo.sli else {
                continue;
            };
            longest = longest.max(Some(slo.period.unwrap_or(period)));
            let entry = (slo.id.clone(), delta(l.threshold));
            match machines.iter_mut().find(|m| m.arn == l.state_machine_arn) {
                Some(m) => m.slos.push(entry),
                None => machines.push(Machine {
                    arn: l.state_machine_arn.clone(),
                    slos: vec![entry],
                    complete_until: None,
                    oldest_running: None,
                }),
            }
        }
        StepFunctionsLatencySource {
            client,
            machines,
            backfill: settings.backfill.unwrap_or(longest.unwrap_or(period)),
            calls: TokenBucket::new(settings.calls_per_sec, settings.calls_per_sec * 10.0),
            settings,
            recorder: None,
        }
    }

    /// Append produced events to `recorder` (`run --record`).
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// List executions of `arn` with `status`, newest first, until `stop(item)` is true
    /// for an item (that item and later ones are not returned).
    #[tracing::instrument(name = "stepfunctions.list_executions", skip_all, fields(state_machine = arn, status = %status.as_str()))]
    async fn list(
        &mut self,
        arn: &str,
        status: ExecutionStatus,
        stop: impl Fn(&ExecutionListItem) -> bool,
        report: &mut PollReport,
    ) -> Result<Vec<ExecutionListItem>, String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.calls.acquire(1.0).await;
            let attempted = retry(
                &self.settings.retry,
                LIST_EXECUTIONS,
                |e| (classify_sdk(e), describe_sdk(e)),
                || {
                    self.client
                        .list_executions()
                        .state_machine_arn(arn)
                        .status_filter(status.clone())
                        .max_results(1000)
                        .set_next_token(token.clone())
                        .send()
                },
            )
            .await;
            for _ in 0..attempted.attempts {
                report.call(LIST_EXECUTIONS);
            }
            report.retries += u64::from(attempted.attempts.saturating_sub(1));
            report.throttled += u64::from(attempted.throttled);
            let page = attempted.result.map_err(|e| {
                report.failures += 1;
                format!("ListExecutions failed: {e}")
            })?;
            report.datapoints += page.executions().len() as u64;
            for item in page.executions() {
                if stop(item) {
                    return Ok(out);
                }
                out.push(item.clone());
            }
            match page.next_token() {
                Some(t) if Some(t) != token.as_deref() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    #[tracing::instrument(name = "source.poll", skip_all, fields(source = "stepfunctions", %now))]
    async fn run(&mut self, now: DateTime<Utc>, sink: &mut dyn EventSink) -> PollReport {
        let mut report = PollReport::default();
        for i in 0..self.machines.len() {
            let Some((start, end)) = tick_range(
                self.machines[i].complete_until,
                now,
                delta(self.settings.delay),
                delta(self.settings.overlap),
                delta(self.backfill),
                60,
            ) else {
                continue;
            };
            report.range = Some(
                report
                    .range
                    .map_or((start, end), |(a, b)| (a.min(start), b.max(end))),
            );
            let arn = self.machines[i].arn.clone();
            let mut lookback = delta(self.settings.lookback);
            if let Some(oldest) = self.machines[i].oldest_running {
                lookback = lookback.max(start - oldest + TimeDelta::minutes(1));
            }
            let horizon = start - lookback;
            let listed = self
                .list(
                    &arn,
                    ExecutionStatus::Succeeded,
                    |e| to_chrono(e.start_date()) < horizon,
                    &mut report,
                )
                .await;
            let running = self
                .list(&arn, ExecutionStatus::Running, |_| false, &mut report)
                .await;
            let machine = &mut self.machines[i];
            let batch = match (listed, running) {
                (Ok(done), Ok(running)) => {
                    machine.oldest_running =
                        running.iter().map(|e| to_chrono(e.start_date())).min();
                    machine.complete_until = Some(end);
                    latency_events(&machine.slos, &done, start, end)
                }
                (Err(e), _) | (_, Err(e)) => SourceBatch {
                    no_data: machine
                        .slos
                        .iter()
                        .map(|(id, _)| NoData {
                            slo_id: id.clone(),
                            from: start,
                            to: end,
                            reason: e.clone(),
                        })
                        .collect(),
                    ..SourceBatch::default()
                },
            };
            if let Some(r) = &self.recorder {
                r.batch(&batch, &|_| false);
                r.flush();
            }
            sink.accept(batch);
        }
        report
    }
}

/// Events of the latency SLOs `slos` (id, threshold) over `[start, end)` from succeeded
/// executions: each counted in the minute of its stop date, good when it took at most
/// the threshold.
pub fn latency_events(
    slos: &[(String, TimeDelta)],
    executions: &[ExecutionListItem],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> SourceBatch {
    let mut batch = SourceBatch::default();
    for (slo_id, threshold) in slos {
        let mut buckets: BTreeMap<DateTime<Utc>, (f64, f64)> = BTreeMap::new();
        for e in executions {
            if e.status() != &ExecutionStatus::Succeeded {
                continue;
            }
            let Some(stop) = e.stop_date().map(to_chrono) else {
                continue;
            };
            if stop < start || stop >= end {
                continue;
            }
            let took = stop - to_chrono(e.start_date());
            let b = buckets.entry(align_down(stop, 60)).or_default();
            b.1 += 1.0;
            if took <= *threshold {
                b.0 += 1.0;
            }
        }
        batch
            .events
            .extend(buckets.into_iter().map(|(at, (good, total))| SloEvents {
                slo_id: slo_id.clone(),
                bucket_start: at,
                bucket_secs: 60,
                good,
                total,
            }));
        batch.covered.push(Coverage {
            slo_id: slo_id.clone(),
            from: start,
            to: end,
            bucket_secs: 60,
        });
    }
    batch
}

impl Source for StepFunctionsLatencySource {
    fn name(&self) -> &str {
        "stepfunctions"
    }
    fn slo_ids(&self) -> Vec<String> {
        self.machines
            .iter()
            .flat_map(|m| m.slos.iter().map(|(id, _)| id.clone()))
            .collect()
    }
    fn poll<'a>(
        &'a mut self,
        now: DateTime<Utc>,
        sink: &'a mut dyn EventSink,
    ) -> BoxFuture<'a, PollReport> {
        Box::pin(self.run(now, sink))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::aws::to_smithy;
    use chrono::TimeZone;

    fn exec(
        name: &str,
        start: DateTime<Utc>,
        secs: i64,
        status: ExecutionStatus,
    ) -> ExecutionListItem {
        ExecutionListItem::builder()
            .execution_arn(format!("arn:aws:states:us-east-1:1:execution:m:{name}"))
            .state_machine_arn("arn:aws:states:us-east-1:1:stateMachine:m")
            .name(name)
            .status(status)
            .start_date(to_smithy(start))
            .stop_date(to_smithy(start + TimeDelta::seconds(secs)))
            .build()
            .unwrap()
    }

    #[test]
    fn threshold_is_inclusive_and_only_successes_count() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        let execs = [
            exec("fast", t0, 60, ExecutionStatus::Succeeded),
            exec("edge", t0, 1800, ExecutionStatus::Succeeded),
            exec("slow", t0, 1801, ExecutionStatus::Succeeded),
            exec("failed", t0, 10, ExecutionStatus::Failed),
            exec("later", t0, 7200, ExecutionStatus::Succeeded),
        ];
        let slos = [("lat".to_string(), TimeDelta::minutes(30))];
        let b = latency_events(&slos, &execs, t0, t0 + TimeDelta::hours(1));
        let good: f64 = b.events.iter().map(|e| e.good).sum();
        let total: f64 = b.events.iter().map(|e| e.total).sum();
        // "later" stops outside the range; "failed" belongs to the success SLI.
        assert_eq!((good, total), (2.0, 3.0));
        assert_eq!(b.covered.len(), 1);
    }
}
