//! RDS state for `/metrics`, the database probe and the postmortem timeline: the latest
//! CloudWatch value of the metrics that explain most database incidents (as
//! `burnwatch_rds_*` gauges), the instance status from `DescribeDBInstances`, and new
//! events from `DescribeEvents` — failover and restarts are visible only there.
//!
//! The monitor returns plain data ([`RdsSnapshot`]); rendering and storage are the
//! daemon's. A value that could not be read is `None` with the reason in `errors`, never
//! a stale or zero value.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_rds::types::SourceType;
use chrono::{DateTime, TimeDelta, Utc};

use super::aws::{to_chrono, to_smithy};
use super::cloudwatch::fetch::{FetchSettings, Fetcher};
use super::cloudwatch::plugins::MetricKey;
use super::retry::{RetryPolicy, classify_sdk, describe_sdk, retry};
use super::{PollReport, align_down, delta};
use crate::spec::Duration;

/// Operation names as IAM spells them.
pub const DESCRIBE_DB_INSTANCES: &str = "DescribeDBInstances";
/// See [`DESCRIBE_DB_INSTANCES`].
pub const DESCRIBE_EVENTS: &str = "DescribeEvents";

/// The RDS gauges: (CloudWatch metric, statistic, gauge name, help). Statistics follow
/// AWS's advice: storage and memory at their Minimum, connections at their Maximum
/// (saturation shows in spikes), the rest averaged.
pub const RDS_GAUGES: [(&str, &str, &str, &str); 7] = [
    (
        "DatabaseConnections",
        "Maximum",
        "burnwatch_rds_database_connections",
        "Client connections to the DB instance (CloudWatch Maximum over the last minute).",
    ),
    (
        "CPUUtilization",
        "Average",
        "burnwatch_rds_cpu_utilization_percent",
        "CPU utilisation of the DB instance in percent.",
    ),
    (
        "FreeStorageSpace",
        "Minimum",
        "burnwatch_rds_free_storage_space_bytes",
        "Free storage of the DB instance in bytes.",
    ),
    (
        "FreeableMemory",
        "Minimum",
        "burnwatch_rds_freeable_memory_bytes",
        "Available RAM of the DB instance in bytes.",
    ),
    (
        "ReadLatency",
        "Average",
        "burnwatch_rds_read_latency_seconds",
        "Average time per disk read I/O in seconds.",
    ),
    (
        "WriteLatency",
        "Average",
        "burnwatch_rds_write_latency_seconds",
        "Average time per disk write I/O in seconds.",
    ),
    (
        "DiskQueueDepth",
        "Average",
        "burnwatch_rds_disk_queue_depth",
        "Outstanding disk I/Os waiting for the DB instance.",
    ),
];

/// One gauge's latest value.
#[derive(Clone, Debug, PartialEq)]
pub struct RdsGauge {
    /// Gauge name (`burnwatch_rds_cpu_utilization_percent`).
    pub name: &'static str,
    /// CloudWatch metric (`CPUUtilization`).
    pub metric: &'static str,
    /// Latest value in the read window, `None` when CloudWatch had none.
    pub value: Option<f64>,
    /// Its timestamp.
    pub ts: Option<DateTime<Utc>>,
}

/// What kind of RDS event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RdsEventKind {
    /// Multi-AZ failover (started, completed, abandoned, recovered).
    Failover,
    /// Restart or shutdown.
    Restart,
    /// Anything else (backups, maintenance, configuration).
    Other,
}

/// An RDS event, shaped like the history store's `rds_events` row.
#[derive(Clone, Debug, PartialEq)]
pub struct RdsEvent {
    /// DB instance identifier.
    pub source_id: String,
    /// When it happened.
    pub ts: DateTime<Utc>,
    /// `RDS-EVENT-NNNN` when the message is a known one, else empty.
    pub event_id: String,
    /// Event categories (`failover`, `availability`, …).
    pub categories: Vec<String>,
    /// The message.
    pub message: String,
    /// Classification for the probe and timeline.
    pub kind: RdsEventKind,
}

/// One instance as last seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RdsSnapshot {
    /// DB instance identifier.
    pub instance: String,
    /// When it was read.
    pub at: DateTime<Utc>,
    /// The [`RDS_GAUGES`], in order.
    pub gauges: Vec<RdsGauge>,
    /// `DBInstanceStatus` (`available`, `rebooting`, `failing-over`, …).
    pub status: Option<String>,
    /// Multi-AZ deployment.
    pub multi_az: Option<bool>,
    /// Primary availability zone (changes on failover).
    pub availability_zone: Option<String>,
    /// Standby availability zone.
    pub secondary_availability_zone: Option<String>,
    /// `host:port`.
    pub endpoint: Option<String>,
    /// Events not reported by an earlier poll, oldest first.
    pub new_events: Vec<RdsEvent>,
    /// What could not be read.
    pub errors: Vec<String>,
}

/// Known event messages → (event id, kind), matched on lowercase substrings.
const KNOWN_EVENTS: [(&str, &str, RdsEventKind); 10] = [
    (
        "recovered from a partial failover",
        "RDS-EVENT-0065",
        RdsEventKind::Failover,
    ),
    (
        "not attempting a requested failover",
        "RDS-EVENT-0034",
        RdsEventKind::Failover,
    ),
    ("failover started", "RDS-EVENT-0013", RdsEventKind::Failover),
    (
        "failover that resulted in the promotion of a standby db instance has started",
        "RDS-EVENT-0013",
        RdsEventKind::Failover,
    ),
    ("dns", "RDS-EVENT-0015", RdsEventKind::Failover),
    (
        "failover completed",
        "RDS-EVENT-0049",
        RdsEventKind::Failover,
    ),
    (
        "activation started",
        "RDS-EVENT-0050",
        RdsEventKind::Failover,
    ),
    (
        "activation completed",
        "RDS-EVENT-0051",
        RdsEventKind::Failover,
    ),
    ("restarted", "RDS-EVENT-0006", RdsEventKind::Restart),
    ("shutdown", "RDS-EVENT-0004", RdsEventKind::Restart),
];

/// Classify an event message (and categories) into an id and kind.
pub fn classify_event(message: &str, categories: &[String]) -> (String, RdsEventKind) {
    let m = message.to_ascii_lowercase();
    if let Some(pos) = message.find("RDS-EVENT-") {
        let id: String = message[pos..].chars().take(14).collect();
        let kind = if categories.iter().any(|c| c == "failover") {
            RdsEventKind::Failover
        } else {
            RdsEventKind::Other
        };
        return (id, kind);
    }
    for (needle, id, kind) in KNOWN_EVENTS {
        let failover_dns = needle == "dns" && m.contains("failover") && m.contains("dns");
        if (needle != "dns" && m.contains(needle)) || failover_dns {
            return (id.to_string(), kind);
        }
    }
    let kind = if categories.iter().any(|c| c == "failover") || m.contains("failover") {
        RdsEventKind::Failover
    } else if m.contains("reboot") {
        RdsEventKind::Restart
    } else {
        RdsEventKind::Other
    };
    (String::new(), kind)
}

/// RDS monitor settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RdsSettings {
    /// DB instance identifiers.
    pub instances: Vec<String>,
    /// Ingestion delay for the metrics (default 2 minutes).
    pub delay: Duration,
    /// How far back to look for the latest datapoint (default 10 minutes).
    pub window: Duration,
    /// How far back the first poll reads events (default 1 day; RDS keeps 14).
    pub events_lookback: Duration,
    /// Retries and timeouts for the RDS calls.
    pub retry: RetryPolicy,
    /// GetMetricData settings.
    pub fetch: FetchSettings,
}

impl Default for RdsSettings {
    fn default() -> Self {
        RdsSettings {
            instances: Vec::new(),
            delay: Duration::from_mins(2),
            window: Duration::from_mins(10),
            events_lookback: Duration::from_days(1),
            retry: RetryPolicy::default(),
            fetch: FetchSettings::default(),
        }
    }
}

/// Reads RDS state each poll.
#[derive(Debug)]
pub struct RdsMonitor {
    fetcher: Fetcher,
    rds: aws_sdk_rds::Client,
    settings: RdsSettings,
    queries: Vec<MetricKey>,
    last_poll: Option<DateTime<Utc>>,
    seen: BTreeSet<(String, DateTime<Utc>, String)>,
}

impl RdsMonitor {
    /// A monitor for `settings.instances`.
    pub fn new(
        cloudwatch: aws_sdk_cloudwatch::Client,
        rds: aws_sdk_rds::Client,
        settings: RdsSettings,
    ) -> RdsMonitor {
        let queries = settings
            .instances
            .iter()
            .flat_map(|id| {
                RDS_GAUGES
                    .iter()
                    .map(move |(metric, stat, _, _)| MetricKey {
                        namespace: "AWS/RDS".into(),
                        metric: (*metric).into(),
                        dimensions: BTreeMap::from([("DBInstanceIdentifier".into(), id.clone())]),
                        stat: (*stat).into(),
                    })
            })
            .collect();
        RdsMonitor {
            fetcher: Fetcher::new(cloudwatch, settings.fetch.clone()),
            rds,
            settings,
            queries,
            last_poll: None,
            seen: BTreeSet::new(),
        }
    }

    /// Read every instance.
    #[tracing::instrument(name = "source.poll", skip_all, fields(source = "rds", %now))]
    pub async fn poll(&mut self, now: DateTime<Utc>) -> (Vec<RdsSnapshot>, PollReport) {
        let mut report = PollReport::default();
        let end = align_down(now - delta(self.settings.delay), 60);
        let start = end - delta(self.settings.window);
        let mut latest: BTreeMap<usize, (i64, f64)> = BTreeMap::new();
        let mut failed: BTreeMap<usize, String> = BTreeMap::new();
        let ids: Vec<usize> = (0..self.queries.len()).collect();
        for call in ids.chunks(500) {
            let out = self
                .fetcher
                .fetch(&self.queries, call, start, end, 60, now, &mut report)
                .await;
            for s in out.series {
                if let Some(&p) = s.points.iter().max_by_key(|p| p.0) {
                    latest.insert(s.query, p);
                }
            }
            failed.extend(out.failed);
        }
        let events_from = self.last_poll.map_or_else(
            || now - delta(self.settings.events_lookback).min(TimeDelta::days(14)),
            |t| t - TimeDelta::minutes(15),
        );
        let mut snapshots = Vec::new();
        for (n, id) in self.settings.instances.clone().iter().enumerate() {
            let mut snap = RdsSnapshot {
                instance: id.clone(),
                at: now,
                ..RdsSnapshot::default()
            };
            for (g, (metric, _, name, _)) in RDS_GAUGES.iter().enumerate() {
                let q = n * RDS_GAUGES.len() + g;
                if let Some(reason) = failed.get(&q) {
                    snap.errors.push(format!("{metric}: {reason}"));
                }
                let p = latest.get(&q);
                snap.gauges.push(RdsGauge {
                    name,
                    metric,
                    value: p.map(|p| p.1),
                    ts: p.map(|p| super::from_epoch(p.0)),
                });
            }
            self.describe_instance(id, &mut snap, &mut report).await;
            self.events(id, events_from, &mut snap, &mut report).await;
            snapshots.push(snap);
        }
        self.seen.retain(|(_, ts, _)| *ts >= events_from);
        self.last_poll = Some(now);
        (snapshots, report)
    }

    #[tracing::instrument(name = "rds.describe_db_instances", skip_all, fields(instance = id))]
    async fn describe_instance(&self, id: &str, snap: &mut RdsSnapshot, report: &mut PollReport) {
        let attempted = retry(
            &self.settings.retry,
            DESCRIBE_DB_INSTANCES,
            |e| (classify_sdk(e), describe_sdk(e)),
            || {
                self.rds
                    .describe_db_instances()
                    .db_instance_identifier(id)
                    .send()
            },
        )
        .await;
        for _ in 0..attempted.attempts {
            report.call(DESCRIBE_DB_INSTANCES);
        }
        match attempted.result {
            Ok(out) => {
                let Some(db) = out.db_instances().first() else {
                    snap.errors
                        .push("DescribeDBInstances returned no instance".into());
                    return;
                };
                snap.status = db.db_instance_status.clone();
                snap.multi_az = db.multi_az;
                snap.availability_zone = db.availability_zone.clone();
                snap.secondary_availability_zone = db.secondary_availability_zone.clone();
                snap.endpoint = db.endpoint.as_ref().map(|e| {
                    format!(
                        "{}:{}",
                        e.address().unwrap_or_default(),
                        e.port().unwrap_or(0)
                    )
                });
            }
            Err(e) => {
                report.failures += 1;
                snap.errors.push(format!("DescribeDBInstances: {e}"));
            }
        }
    }

    #[tracing::instrument(name = "rds.describe_events", skip_all, fields(instance = id, %from))]
    async fn events(
        &mut self,
        id: &str,
        from: DateTime<Utc>,
        snap: &mut RdsSnapshot,
        report: &mut PollReport,
    ) {
        let mut marker: Option<String> = None;
        loop {
            let attempted = retry(
                &self.settings.retry,
                DESCRIBE_EVENTS,
                |e| (classify_sdk(e), describe_sdk(e)),
                || {
                    self.rds
                        .describe_events()
                        .source_type(SourceType::DbInstance)
                        .source_identifier(id)
                        .start_time(to_smithy(from))
                        .set_marker(marker.clone())
                        .send()
                },
            )
            .await;
            for _ in 0..attempted.attempts {
                report.call(DESCRIBE_EVENTS);
            }
            let page = match attempted.result {
                Ok(p) => p,
                Err(e) => {
                    report.failures += 1;
                    snap.errors.push(format!("DescribeEvents: {e}"));
                    return;
                }
            };
            for e in page.events() {
                let ts = e.date.as_ref().map(to_chrono).unwrap_or(snap.at);
                let message = e.message.clone().unwrap_or_default();
                if !self.seen.insert((id.to_string(), ts, message.clone())) {
                    continue;
                }
                let categories = e.event_categories.clone().unwrap_or_default();
                let (event_id, kind) = classify_event(&message, &categories);
                snap.new_events.push(RdsEvent {
                    source_id: id.to_string(),
                    ts,
                    event_id,
                    categories,
                    message,
                    kind,
                });
            }
            match page.marker() {
                Some(m) if Some(m) != marker.as_deref() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        snap.new_events.sort_by_key(|e| e.ts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_and_restart_messages_are_recognised() {
        let fo = vec!["failover".to_string()];
        assert_eq!(
            classify_event("Multi-AZ instance failover started.", &fo),
            ("RDS-EVENT-0013".into(), RdsEventKind::Failover)
        );
        assert_eq!(
            classify_event("Multi-AZ instance failover completed.", &fo).0,
            "RDS-EVENT-0049"
        );
        assert_eq!(
            classify_event(
                "The Multi-AZ failover that resulted in the promotion of a standby DB instance is complete. It may take several minutes for the DNS to transfer to the newly promoted primary DB instance.",
                &fo
            )
            .0,
            "RDS-EVENT-0015"
        );
        assert_eq!(
            classify_event("DB instance restarted", &["availability".into()]),
            ("RDS-EVENT-0006".into(), RdsEventKind::Restart)
        );
        assert_eq!(
            classify_event("Backing up DB instance", &["backup".into()]),
            (String::new(), RdsEventKind::Other)
        );
    }
}
