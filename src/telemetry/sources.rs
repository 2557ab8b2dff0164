//! The live sources' series: what fetching costs (`burnwatch_source_*`,
//! `burnwatch_cloudwatch_metrics_requested_total`), RDS instance state (`burnwatch_rds_*`)
//! and AWS Batch queue health (`burnwatch_batch_*`).
//!
//! Values that could not be read are removed rather than left stale: a gauge that stops
//! existing is visible in Prometheus (`absent()`), a frozen one is not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{ApiCallLabels, FloatGauge, SourceLabels};
use crate::source::PollReport;
use crate::source::batch::BatchHealth;
use crate::source::rds::{RDS_GAUGES, RdsSnapshot};

/// Labels of per-instance RDS series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceLabels {
    /// DB instance identifier.
    pub instance: String,
}

/// Labels of the RDS status series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceStatusLabels {
    /// DB instance identifier.
    pub instance: String,
    /// `DBInstanceStatus` (`available`, `failing-over`, …).
    pub status: String,
}

/// Labels of RDS event counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceEventLabels {
    /// DB instance identifier.
    pub instance: String,
    /// `failover`, `restart` or `other`.
    pub kind: String,
}

/// Labels of per-queue Batch series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// Job queue name.
    pub queue: String,
}

/// Labels of Batch jobs per status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueStatusLabels {
    /// Job queue name.
    pub queue: String,
    /// Job status (`RUNNABLE`, `FAILED`, …).
    pub status: String,
}

/// Labels of Batch failures per reason class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueReasonLabels {
    /// Job queue name.
    pub queue: String,
    /// Failure class (`CannotPullContainerError`, `spot_reclaimed`, …).
    pub reason: String,
}

/// Handles on the live sources' series.
#[derive(Clone, Default)]
pub struct SourceTelemetry {
    /// `burnwatch_source_retries_total{source}`: attempts retried (throttling, 5xx, timeouts).
    pub retries: Family<SourceLabels, Counter>,
    /// `burnwatch_source_throttled_total{source}`: attempts the API throttled.
    pub throttled: Family<SourceLabels, Counter>,
    /// `burnwatch_cloudwatch_metrics_requested_total{source}`: GetMetricData metric
    /// queries, what CloudWatch bills.
    pub metrics_requested: Family<SourceLabels, Counter>,
    /// One family per entry of [`RDS_GAUGES`], in that order.
    pub rds_gauges: Vec<Family<InstanceLabels, FloatGauge>>,
    /// `burnwatch_rds_instance_status{instance,status}`: 1 for the current status.
    pub rds_status: Family<InstanceStatusLabels, Gauge>,
    /// `burnwatch_rds_events_total{instance,kind}`: events seen by the monitor.
    pub rds_events: Family<InstanceEventLabels, Counter>,
    /// `burnwatch_batch_jobs{queue,status}`: active jobs per status; SUCCEEDED and FAILED
    /// over the failure window.
    pub batch_jobs: Family<QueueStatusLabels, Gauge>,
    /// `burnwatch_batch_oldest_runnable_age_seconds{queue}`.
    pub batch_oldest_runnable: Family<QueueLabels, FloatGauge>,
    /// `burnwatch_batch_stuck_runnable_jobs{queue}`: RUNNABLE longer than `stuck_after`.
    pub batch_stuck: Family<QueueLabels, Gauge>,
    /// `burnwatch_batch_failed_jobs{queue,reason}`: failures in the window by class.
    pub batch_failures: Family<QueueReasonLabels, Gauge>,
    /// `burnwatch_batch_queue_read_ok{queue}`: 0 when the queue could not be read (its
    /// other series are then removed: unknown, not healthy).
    pub batch_read_ok: Family<QueueLabels, Gauge>,
    /// Label sets currently exported per queue, to remove the ones that disappear.
    batch_seen: Arc<Mutex<BatchSeen>>,
    /// The status exported per instance, to remove it when it changes.
    rds_last_status: Arc<Mutex<BTreeMap<String, String>>>,
}

#[derive(Default)]
struct BatchSeen {
    statuses: BTreeSet<(String, String)>,
    reasons: BTreeSet<(String, String)>,
}

impl SourceTelemetry {
    /// Declare the series in `r`.
    pub(super) fn register(r: &mut Registry) -> SourceTelemetry {
        let t = SourceTelemetry {
            rds_gauges: RDS_GAUGES.iter().map(|_| Family::default()).collect(),
            ..SourceTelemetry::default()
        };
        r.register(
            "burnwatch_source_retries",
            "Source API attempts that were retried (throttling, 5xx, timeouts)",
            t.retries.clone(),
        );
        r.register(
            "burnwatch_source_throttled",
            "Source API attempts that were throttled",
            t.throttled.clone(),
        );
        r.register(
            "burnwatch_cloudwatch_metrics_requested",
            "GetMetricData metric queries requested (what CloudWatch bills)",
            t.metrics_requested.clone(),
        );
        for ((_, _, name, help), family) in RDS_GAUGES.iter().zip(&t.rds_gauges) {
            r.register(*name, *help, family.clone());
        }
        r.register(
            "burnwatch_rds_instance_status",
            "1 for the DB instance's current DBInstanceStatus",
            t.rds_status.clone(),
        );
        r.register(
            "burnwatch_rds_events",
            "RDS events seen by the monitor (failover, restart, other)",
            t.rds_events.clone(),
        );
        r.register(
            "burnwatch_batch_jobs",
            "Batch jobs per status (active statuses; SUCCEEDED and FAILED over the failure window)",
            t.batch_jobs.clone(),
        );
        r.register(
            "burnwatch_batch_oldest_runnable_age_seconds",
            "Age of the oldest RUNNABLE job of the queue (absent when none is RUNNABLE)",
            t.batch_oldest_runnable.clone(),
        );
        r.register(
            "burnwatch_batch_stuck_runnable_jobs",
            "RUNNABLE jobs older than the stuck threshold",
            t.batch_stuck.clone(),
        );
        r.register(
            "burnwatch_batch_failed_jobs",
            "Failed jobs over the failure window by reason class",
            t.batch_failures.clone(),
        );
        r.register(
            "burnwatch_batch_queue_read_ok",
            "1 when the job queue could be read at the last poll, else 0",
            t.batch_read_ok.clone(),
        );
        t
    }

    /// Count what one poll of `source` cost, on the shared source series of `parent`.
    pub fn record_poll(&self, parent: &super::Telemetry, source: &str, report: &PollReport) {
        let s = SourceLabels {
            source: source.to_string(),
        };
        for (api, n) in &report.api_calls {
            parent
                .source_api_calls
                .get_or_create(&ApiCallLabels {
                    source: source.to_string(),
                    api: (*api).to_string(),
                })
                .inc_by(*n);
        }
        parent
            .source_datapoints
            .get_or_create(&s)
            .inc_by(report.datapoints);
        if report.failures > 0 {
            parent
                .source_fetch_errors
                .get_or_create(&s)
                .inc_by(report.failures);
        }
        if report.retries > 0 {
            self.retries.get_or_create(&s).inc_by(report.retries);
        }
        if report.throttled > 0 {
            self.throttled.get_or_create(&s).inc_by(report.throttled);
        }
        if report.metrics_requested > 0 {
            self.metrics_requested
                .get_or_create(&s)
                .inc_by(report.metrics_requested);
        }
    }

    /// Export one RDS monitor reading.
    pub fn record_rds(&self, snapshot: &RdsSnapshot) {
        let instance = InstanceLabels {
            instance: snapshot.instance.clone(),
        };
        for (gauge, family) in snapshot.gauges.iter().zip(&self.rds_gauges) {
            match gauge.value.filter(|v| v.is_finite()) {
                Some(v) => {
                    family.get_or_create(&instance).set(v);
                }
                None => {
                    family.remove(&instance);
                }
            }
        }
        // Exactly one status series per instance: drop the previous status.
        if let Ok(mut last) = self.rds_last_status.lock() {
            let previous = match &snapshot.status {
                Some(s) => last.insert(snapshot.instance.clone(), s.clone()),
                None => last.remove(&snapshot.instance),
            };
            if let Some(previous) = previous.filter(|p| Some(p) != snapshot.status.as_ref()) {
                self.rds_status.remove(&InstanceStatusLabels {
                    instance: snapshot.instance.clone(),
                    status: previous,
                });
            }
        }
        if let Some(status) = &snapshot.status {
            self.rds_status
                .get_or_create(&InstanceStatusLabels {
                    instance: snapshot.instance.clone(),
                    status: status.clone(),
                })
                .set(1);
        }
        for e in &snapshot.new_events {
            let kind = match e.kind {
                crate::source::rds::RdsEventKind::Failover => "failover",
                crate::source::rds::RdsEventKind::Restart => "restart",
                crate::source::rds::RdsEventKind::Other => "other",
            };
            self.rds_events
                .get_or_create(&InstanceEventLabels {
                    instance: snapshot.instance.clone(),
                    kind: kind.into(),
                })
                .inc();
        }
    }

    /// Export the latest health of every Batch queue.
    pub fn record_batch(&self, health: &[BatchHealth]) {
        let Ok(mut seen) = self.batch_seen.lock() else {
            return;
        };
        let mut statuses = BTreeSet::new();
        let mut reasons = BTreeSet::new();
        for h in health {
            let q = QueueLabels {
                queue: h.queue.clone(),
            };
            if h.error.is_some() {
                self.batch_read_ok.get_or_create(&q).set(0);
                self.batch_oldest_runnable.remove(&q);
                self.batch_stuck.remove(&q);
                continue;
            }
            self.batch_read_ok.get_or_create(&q).set(1);
            for (status, n) in &h.jobs_by_status {
                statuses.insert((h.queue.clone(), status.clone()));
                self.batch_jobs
                    .get_or_create(&QueueStatusLabels {
                        queue: h.queue.clone(),
                        status: status.clone(),
                    })
                    .set(i64::try_from(*n).unwrap_or(i64::MAX));
            }
            for (reason, n) in &h.failures_by_reason {
                reasons.insert((h.queue.clone(), reason.clone()));
                self.batch_failures
                    .get_or_create(&QueueReasonLabels {
                        queue: h.queue.clone(),
                        reason: reason.clone(),
                    })
                    .set(i64::try_from(*n).unwrap_or(i64::MAX));
            }
            match h.oldest_runnable_age_secs {
                Some(age) => {
                    self.batch_oldest_runnable.get_or_create(&q).set(age);
                }
                None => {
                    self.batch_oldest_runnable.remove(&q);
                }
            }
            self.batch_stuck
                .get_or_create(&q)
                .set(i64::try_from(h.stuck_runnable).unwrap_or(i64::MAX));
        }
        for (queue, status) in seen.statuses.difference(&statuses) {
            self.batch_jobs.remove(&QueueStatusLabels {
                queue: queue.clone(),
                status: status.clone(),
            });
        }
        for (queue, reason) in seen.reasons.difference(&reasons) {
            self.batch_failures.remove(&QueueReasonLabels {
                queue: queue.clone(),
                reason: reason.clone(),
            });
        }
        seen.statuses = statuses;
        seen.reasons = reasons;
    }
}
