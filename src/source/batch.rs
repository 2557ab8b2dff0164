//! AWS Batch: job-success SLIs from the Batch API (where `AWS/Batch` job metrics do not
//! exist) and queue health, which no CloudWatch metric gives: jobs per status, the age of
//! the oldest RUNNABLE job (stuck RUNNABLE jobs are the classic Batch incident), and
//! failures by `statusReason` class.
//!
//! **Metrics or API.** At start, [`detect_native_metrics`] asks `ListMetrics` which queues
//! publish `AWS/Batch` `JobsMovedToSucceeded`/`JobsMovedToFailed`; those queues' SLOs are
//! served by the CloudWatch source, the rest by [`BatchSource`].
//!
//! **API-based job success.** A job is an event in the minute of its `stoppedAt`: good
//! when SUCCEEDED, bad when FAILED (which includes cancelled and terminated jobs, as the
//! `JobsMovedToFailed` metric does). An array job counts once (its parent), unlike the
//! native metrics which count children. Each poll lists the queue's jobs created since the
//! range start minus a lookback (`AFTER_CREATED_AT` filter, pages of 100); the lookback is
//! at least `lookback` (24 h) and grows to the oldest job still active at the previous poll.
//!
//! **Health.** Active statuses (SUBMITTED … RUNNING) are listed completely with
//! `ListJobs(jobStatus)` every poll; SUCCEEDED/FAILED counts and failure reasons cover the
//! jobs that stopped within `failure_window` (default 1 h).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_batch::Client;
use aws_sdk_batch::types::{JobStatus, JobSummary, KeyValuesPair};
use chrono::{DateTime, TimeDelta, Utc};

use super::cloudwatch::planner::tick_range;
use super::record::Recorder;
use super::retry::{RetryPolicy, classify_sdk, describe_sdk, retry};
use super::{
    BoxFuture, Coverage, EventSink, NoData, PollReport, SloEvents, Source, SourceBatch, align_down,
    delta, from_epoch_millis,
};
use crate::spec::model::Sli;
use crate::spec::plugins::PluginSli;
use crate::spec::{Duration, Slo};

/// Operation names as IAM spells them.
pub const LIST_JOBS: &str = "ListJobs";
/// CloudWatch ListMetrics (native metric detection).
pub const LIST_METRICS: &str = "ListMetrics";

const ACTIVE: [&str; 5] = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"];

/// Health of one job queue, for `/metrics` (`burnwatch_batch_*`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchHealth {
    /// Job queue name.
    pub queue: String,
    /// When it was read.
    pub at: DateTime<Utc>,
    /// Jobs per status: active statuses counted completely, SUCCEEDED and FAILED over the
    /// failure window.
    pub jobs_by_status: BTreeMap<String, u64>,
    /// Age of the oldest RUNNABLE job (`now − createdAt`), `None` when none is RUNNABLE.
    pub oldest_runnable_age_secs: Option<f64>,
    /// RUNNABLE jobs older than the stuck threshold.
    pub stuck_runnable: u64,
    /// FAILED jobs stopped within the failure window, by [`failure_class`].
    pub failures_by_reason: BTreeMap<String, u64>,
    /// Set when the queue could not be read (health is then unknown, not healthy).
    pub error: Option<String>,
}

/// Classify a failed job by its `statusReason` and container reason into a small, stable
/// vocabulary for metric labels.
pub fn failure_class(status_reason: Option<&str>, container_reason: Option<&str>) -> &'static str {
    let text = format!(
        "{} {}",
        status_reason.unwrap_or_default(),
        container_reason.unwrap_or_default()
    );
    let t = text.to_ascii_lowercase();
    if t.contains("cannotpullcontainer") {
        "cannot_pull_container"
    } else if t.contains("host ec2") && t.contains("terminated") || t.contains("spot") {
        "spot_reclaim"
    } else if t.contains("outofmemory") || t.contains("out of memory") {
        "out_of_memory"
    } else if t.contains("resourceinitializationerror") || t.contains("cannotstartcontainer") {
        "container_start"
    } else if t.contains("attempt duration exceeded") || t.contains("timeout") {
        "timeout"
    } else if t.contains("dependent job failed") || t.contains("dependency") {
        "dependency_failed"
    } else if t.contains("essential container in task exited") {
        "nonzero_exit"
    } else if t.contains("cancel") || t.contains("terminat") {
        "cancelled_or_terminated"
    } else if t.trim().is_empty() {
        "none"
    } else {
        "other"
    }
}

/// Batch source settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchSettings {
    /// Queues whose health to report even without an SLO.
    pub health_queues: Vec<String>,
    /// How far behind `now` minutes are considered complete (default 1 minute).
    pub delay: Duration,
    /// Re-read overlap (default 5 minutes).
    pub overlap: Duration,
    /// Minimum lookback for jobs that stop inside the range (default 24 h).
    pub lookback: Duration,
    /// How far back the first poll reads (default: the longest SLO period; Batch keeps
    /// finished jobs for about a week, so older buckets are simply empty).
    pub backfill: Option<Duration>,
    /// Window for SUCCEEDED/FAILED counts and failure reasons (default 1 h).
    pub failure_window: Duration,
    /// RUNNABLE for longer than this is stuck (default 30 minutes).
    pub stuck_after: Duration,
    /// Retries and per-call timeout.
    pub retry: RetryPolicy,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            health_queues: Vec::new(),
            delay: Duration::from_mins(1),
            overlap: Duration::from_mins(5),
            lookback: Duration::from_hours(24),
            backfill: None,
            failure_window: Duration::from_hours(1),
            stuck_after: Duration::from_mins(30),
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Debug)]
struct Queue {
    name: String,
    slos: Vec<String>,
    complete_until: Option<DateTime<Utc>>,
    oldest_active: Option<DateTime<Utc>>,
    health: Option<BatchHealth>,
}

/// Job-success SLOs served by the Batch API, and queue health.
#[derive(Debug)]
pub struct BatchSource {
    client: Client,
    queues: Vec<Queue>,
    settings: BatchSettings,
    backfill: Duration,
    recorder: Option<Recorder>,
}

impl BatchSource {
    /// A source for the `batch/job-success/v1` SLOs among `slos` whose queue has no native
    /// metrics (`batch_native(queue)` false), plus health for those queues and
    /// `settings.health_queues`.
    pub fn new(
        client: Client,
        slos: &[Slo],
        batch_native: &dyn Fn(&str) -> bool,
        period: Duration,
        settings: BatchSettings,
    ) -> BatchSource {
        let mut queues: Vec<Queue> = Vec::new();
        let mut longest = None;
        let queue = |name: &str, queues: &mut Vec<Queue>| -> usize {
            match queues.iter().position(|q| q.name == name) {
                Some(i) => i,
                None => {
                    queues.push(Queue {
                        name: name.to_string(),
                        slos: Vec::new(),
                        complete_until: None,
                        oldest_active: None,
                        health: None,
                    });
                    queues.len() - 1
                }
            }
        };
        for slo in slos {
            if let Sli::Plugin(PluginSli::BatchJobSuccess(b)) = &slo.sli {
                let i = queue(&b.job_queue, &mut queues);
                if !batch_native(&b.job_queue) {
                    queues[i].slos.push(slo.id.clone());
                    longest = longest.max(Some(slo.period.unwrap_or(period)));
                }
            }
        }
        for q in &settings.health_queues {
            queue(q, &mut queues);
        }
        BatchSource {
            client,
            queues,
            backfill: settings.backfill.unwrap_or(longest.unwrap_or(period)),
            settings,
            recorder: None,
        }
    }

    /// Append produced events to `recorder` (`run --record`).
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The latest health of every queue (after at least one poll).
    pub fn health(&self) -> Vec<BatchHealth> {
        self.queues
            .iter()
            .filter_map(|q| q.health.clone())
            .collect()
    }

    #[tracing::instrument(name = "batch.list_jobs", skip_all, fields(queue = %queue, status = status.unwrap_or("any")))]
    async fn list(
        &self,
        queue: &str,
        status: Option<&str>,
        created_after: Option<DateTime<Utc>>,
        report: &mut PollReport,
    ) -> Result<Vec<JobSummary>, String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let attempted = retry(
                &self.settings.retry,
                LIST_JOBS,
                |e| (classify_sdk(e), describe_sdk(e)),
                || {
                    let mut req = self
                        .client
                        .list_jobs()
                        .job_queue(queue)
                        .set_next_token(token.clone());
                    if let Some(s) = status {
                        req = req.job_status(JobStatus::from(s)).max_results(1000);
                    }
                    if let Some(after) = created_after {
                        req = req
                            .filters(
                                KeyValuesPair::builder()
                                    .name("AFTER_CREATED_AT")
                                    .values(after.timestamp_millis().to_string())
                                    .build(),
                            )
                            .max_results(100);
                    }
                    req.send()
                },
            )
            .await;
            for _ in 0..attempted.attempts {
                report.call(LIST_JOBS);
            }
            report.retries += u64::from(attempted.attempts.saturating_sub(1));
            report.throttled += u64::from(attempted.throttled);
            let page = attempted.result.map_err(|e| {
                report.failures += 1;
                format!("ListJobs failed: {e}")
            })?;
            report.datapoints += page.job_summary_list().len() as u64;
            out.extend(page.job_summary_list().iter().cloned());
            match page.next_token() {
                Some(t) if Some(t) != token.as_deref() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    #[tracing::instrument(name = "source.poll", skip_all, fields(source = "batch", %now))]
    async fn run(&mut self, now: DateTime<Utc>, sink: &mut dyn EventSink) -> PollReport {
        let mut report = PollReport::default();
        for i in 0..self.queues.len() {
            let name = self.queues[i].name.clone();
            let range = if self.queues[i].slos.is_empty() {
                None
            } else {
                tick_range(
                    self.queues[i].complete_until,
                    now,
                    delta(self.settings.delay),
                    delta(self.settings.overlap),
                    delta(self.backfill),
                    60,
                )
            };
            // Active jobs, complete per status.
            let mut active: Result<Vec<JobSummary>, String> = Ok(Vec::new());
            for status in ACTIVE {
                match (
                    &mut active,
                    self.list(&name, Some(status), None, &mut report).await,
                ) {
                    (Ok(all), Ok(jobs)) => all.extend(jobs),
                    (Ok(_), Err(e)) => active = Err(e),
                    (Err(_), _) => {}
                }
            }
            // Finished jobs since the earliest time anything needs.
            let failure_from = now - delta(self.settings.failure_window);
            let mut since = failure_from;
            if let Some((start, _)) = range {
                let mut lookback = delta(self.settings.lookback);
                if let Some(oldest) = self.queues[i].oldest_active {
                    lookback = lookback.max(start - oldest + TimeDelta::minutes(1));
                }
                since = since.min(start - lookback);
            }
            let finished = self.list(&name, None, Some(since), &mut report).await;
            let q = &mut self.queues[i];
            q.health = Some(match (&active, &finished) {
                (Ok(a), Ok(f)) => health(
                    &name,
                    now,
                    a,
                    f,
                    failure_from,
                    delta(self.settings.stuck_after),
                ),
                (Err(e), _) | (_, Err(e)) => BatchHealth {
                    queue: name.clone(),
                    at: now,
                    error: Some(e.clone()),
                    ..BatchHealth::default()
                },
            });
            if let Ok(a) = &active {
                q.oldest_active = a
                    .iter()
                    .filter_map(|j| j.created_at)
                    .min()
                    .map(from_epoch_millis);
            }
            let Some((start, end)) = range else { continue };
            report.range = Some(
                report
                    .range
                    .map_or((start, end), |(a, b)| (a.min(start), b.max(end))),
            );
            let batch = match &finished {
                Ok(jobs) => {
                    q.complete_until = Some(end);
                    job_success_events(&q.slos, jobs, start, end)
                }
                Err(e) => SourceBatch {
                    no_data: q
                        .slos
                        .iter()
                        .map(|id| NoData {
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

/// Job-success events over `[start, end)`: each finished job in the minute it stopped.
pub fn job_success_events(
    slos: &[String],
    jobs: &[JobSummary],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> SourceBatch {
    let mut buckets: BTreeMap<DateTime<Utc>, (f64, f64)> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for j in jobs {
        let good = match j.status() {
            Some(JobStatus::Succeeded) => 1.0,
            Some(JobStatus::Failed) => 0.0,
            _ => continue,
        };
        let Some(stopped) = j.stopped_at.map(from_epoch_millis) else {
            continue;
        };
        if stopped < start || stopped >= end || !seen.insert(j.job_id().unwrap_or_default()) {
            continue;
        }
        let b = buckets.entry(align_down(stopped, 60)).or_default();
        b.0 += good;
        b.1 += 1.0;
    }
    let mut batch = SourceBatch::default();
    for slo_id in slos {
        batch
            .events
            .extend(buckets.iter().map(|(&at, &(good, total))| SloEvents {
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

/// Queue health from the active jobs and the jobs listed since the failure window.
pub fn health(
    queue: &str,
    now: DateTime<Utc>,
    active: &[JobSummary],
    finished: &[JobSummary],
    failure_from: DateTime<Utc>,
    stuck_after: TimeDelta,
) -> BatchHealth {
    let mut h = BatchHealth {
        queue: queue.to_string(),
        at: now,
        ..BatchHealth::default()
    };
    for s in ACTIVE.iter().chain(["SUCCEEDED", "FAILED"].iter()) {
        h.jobs_by_status.insert((*s).to_string(), 0);
    }
    for j in active {
        let status = j
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        *h.jobs_by_status.entry(status).or_default() += 1;
        if j.status() == Some(&JobStatus::Runnable)
            && let Some(created) = j.created_at.map(from_epoch_millis)
        {
            let age = now - created;
            let secs = age.num_milliseconds() as f64 / 1000.0;
            h.oldest_runnable_age_secs = Some(
                h.oldest_runnable_age_secs
                    .map_or(secs, |a: f64| a.max(secs)),
            );
            if age > stuck_after {
                h.stuck_runnable += 1;
            }
        }
    }
    let mut seen = BTreeSet::new();
    for j in finished {
        let status = match j.status() {
            Some(s @ (JobStatus::Succeeded | JobStatus::Failed)) => s.clone(),
            _ => continue,
        };
        let Some(stopped) = j.stopped_at.map(from_epoch_millis) else {
            continue;
        };
        if stopped < failure_from || !seen.insert(j.job_id().unwrap_or_default()) {
            continue;
        }
        *h.jobs_by_status
            .entry(status.as_str().to_string())
            .or_default() += 1;
        if status == JobStatus::Failed {
            let class = failure_class(j.status_reason(), j.container().and_then(|c| c.reason()));
            *h.failures_by_reason.entry(class.to_string()).or_default() += 1;
        }
    }
    h
}

/// Which of `queues` publish `AWS/Batch` job-state metrics (`JobsMovedToSucceeded` or
/// `JobsMovedToFailed` with a `JobQueueName` dimension), asked once at start with
/// `ListMetrics`. On error, no queue is assumed to have them (the API path works for all).
pub async fn detect_native_metrics(
    cw: &aws_sdk_cloudwatch::Client,
    queues: &[String],
    policy: &RetryPolicy,
    report: &mut PollReport,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for metric in ["JobsMovedToSucceeded", "JobsMovedToFailed"] {
        let mut token: Option<String> = None;
        loop {
            let attempted = retry(
                policy,
                LIST_METRICS,
                |e| (classify_sdk(e), describe_sdk(e)),
                || {
                    cw.list_metrics()
                        .namespace("AWS/Batch")
                        .metric_name(metric)
                        .set_next_token(token.clone())
                        .send()
                },
            )
            .await;
            for _ in 0..attempted.attempts {
                report.call(LIST_METRICS);
            }
            let Ok(page) = attempted.result else {
                report.failures += 1;
                tracing::warn!("ListMetrics failed; Batch job success will use the Batch API");
                break;
            };
            for m in page.metrics() {
                for d in m.dimensions() {
                    if d.name() == Some("JobQueueName")
                        && let Some(v) = d.value()
                        && queues.iter().any(|q| q == v)
                    {
                        found.insert(v.to_string());
                    }
                }
            }
            match page.next_token() {
                Some(t) if Some(t) != token.as_deref() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    found
}

/// The job queues of the `batch/job-success/v1` SLOs among `slos`.
pub fn job_queues(slos: &[Slo]) -> Vec<String> {
    let mut out: Vec<String> = slos
        .iter()
        .filter_map(|s| match &s.sli {
            Sli::Plugin(PluginSli::BatchJobSuccess(b)) => Some(b.job_queue.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Source for BatchSource {
    fn name(&self) -> &str {
        "batch"
    }
    fn slo_ids(&self) -> Vec<String> {
        self.queues.iter().flat_map(|q| q.slos.clone()).collect()
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

    #[test]
    fn failure_classes() {
        let c = |r: &str| failure_class(Some(r), None);
        assert_eq!(
            c("CannotPullContainerError: pull image manifest has been retried 5 time(s)"),
            "cannot_pull_container"
        );
        assert_eq!(c("Host EC2 (instance i-0abc) terminated."), "spot_reclaim");
        assert_eq!(
            failure_class(
                Some("Essential container in task exited"),
                Some("OutOfMemoryError: Container killed due to memory usage")
            ),
            "out_of_memory"
        );
        assert_eq!(c("Essential container in task exited"), "nonzero_exit");
        assert_eq!(c("Job attempt duration exceeded timeout"), "timeout");
        assert_eq!(failure_class(None, None), "none");
        assert_eq!(c("something new"), "other");
    }
}
