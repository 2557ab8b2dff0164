//! Sources against real stand-ins: moto in server mode for CloudWatch, Step Functions,
//! Batch and RDS; a real Prometheus server for PromQL SLIs; `aws-smithy-mocks` only for
//! what moto cannot do (pagination, PartialData, throttling, failover events). Shared
//! helpers live here; each theme has its own file under `sources/`.

mod cloudwatch;
mod iam;
mod mocks;
mod planner;
pub mod prometheus;
pub mod stepfunctions_batch_rds;

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use burnwatch::source::aws::{self, AwsSettings, Clients, to_smithy};
use burnwatch::source::cloudwatch::CloudWatchSettings;
use burnwatch::source::cloudwatch::fetch::FetchSettings;
use burnwatch::source::retry::RetryPolicy;
use burnwatch::source::{SourceBatch, align_down};
use burnwatch::spec::model::{Sli, SourceRef};
use burnwatch::spec::plugins::PluginSli;
use burnwatch::spec::{Duration, Slo};
use chrono::{DateTime, Utc};

use crate::support::service;

/// A short unique suffix, so tests sharing one moto server never see each other's data.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{:x}-{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// An SLO with a plugin SLI (everything else defaulted).
pub fn plugin_slo(id: &str, plugin: PluginSli) -> Slo {
    slo_with(id, Sli::Plugin(plugin))
}

/// An SLO with any SLI.
pub fn slo_with(id: &str, sli: Sli) -> Slo {
    Slo {
        id: id.to_string(),
        service: "it".into(),
        name: id.to_string(),
        description: String::new(),
        objective: 99.9,
        labels: BTreeMap::new(),
        sli,
        page_alert: None,
        ticket_alert: None,
        period: None,
        source: SourceRef::default(),
    }
}

/// Parse a plugin from options, as a spec would.
pub fn plugin(id: &str, options: &[(&str, &str)]) -> PluginSli {
    let opts = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    PluginSli::parse(id, &opts).expect("valid plugin options")
}

/// Settings for fast tests: fast retries.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base: StdDuration::from_millis(5),
        cap: StdDuration::from_millis(20),
        call_timeout: StdDuration::from_secs(30),
    }
}

/// CloudWatch settings with a one-hour backfill, fast retries and no pacing (the
/// emulators have no quotas; pacing is unit-tested on its own).
pub fn cw_settings() -> CloudWatchSettings {
    CloudWatchSettings {
        backfill: Some(Duration::from_hours(1)),
        fetch: FetchSettings {
            retry: fast_retry(),
            calls_per_sec: 1e6,
            recent_points_per_sec: 1e12,
            old_points_per_sec: 1e12,
            ..FetchSettings::default()
        },
        ..CloudWatchSettings::default()
    }
}

/// SDK clients pointed at `url` (moto), credentials from the environment chain.
pub async fn clients_at(url: &str) -> Clients {
    let settings = AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(url.to_string()),
        ..AwsSettings::default()
    };
    let sdk = aws::load(&settings).await;
    Clients::new(&sdk, &settings)
}

/// Clients for the shared moto server.
pub async fn moto() -> Clients {
    clients_at(&service("BURNWATCH_TEST_MOTO_URL")).await
}

/// The current minute.
pub fn this_minute() -> DateTime<Utc> {
    align_down(Utc::now(), 60)
}

/// Seed one series with PutMetricData (moto accepts 20 datums per request).
pub async fn put(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    metric: &str,
    dims: &[(&str, &str)],
    points: &[(DateTime<Utc>, f64)],
) {
    for chunk in points.chunks(20) {
        let mut req = cw.put_metric_data().namespace(namespace);
        for (ts, v) in chunk {
            let mut d = MetricDatum::builder()
                .metric_name(metric)
                .timestamp(to_smithy(*ts))
                .value(*v);
            for (k, val) in dims {
                d = d.dimensions(Dimension::builder().name(*k).value(*val).build());
            }
            req = req.metric_data(d.build());
        }
        req.send().await.expect("PutMetricData against moto");
    }
}

/// `{bucket start: (good, total)}` of one SLO.
pub fn events_of(batch: &SourceBatch, slo: &str) -> BTreeMap<DateTime<Utc>, (f64, f64)> {
    batch
        .events
        .iter()
        .filter(|e| e.slo_id == slo)
        .map(|e| (e.bucket_start, (e.good, e.total)))
        .collect()
}

/// Is `at` inside a coverage of `slo`?
pub fn covered(batch: &SourceBatch, slo: &str, at: DateTime<Utc>) -> bool {
    batch
        .covered
        .iter()
        .any(|c| c.slo_id == slo && c.from <= at && at < c.to)
}
