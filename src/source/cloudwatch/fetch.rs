//! GetMetricData, as CloudWatch really behaves: results mapped back by `Id` (order is not
//! guaranteed), `NextToken` followed until the last page, per-result `StatusCode` checked
//! (`PartialData` without a further page, `InternalError` and `Forbidden` fail that query
//! only), throttling and 5xx retried with jittered backoff under a per-call timeout, and
//! calls paced under the API's call and datapoint rates. A query that could not be read
//! completely is reported as failed; the caller turns that into `no_data`, never zeros.

use std::collections::{HashMap, HashSet};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StatusCode,
};
use chrono::{DateTime, TimeDelta, Utc};

use super::plugins::MetricKey;
use crate::source::PollReport;
use crate::source::aws::to_smithy;
use crate::source::retry::{RetryPolicy, TokenBucket, classify_sdk, describe_sdk, retry};

/// Operation names as IAM and the `burnwatch_*` metrics spell them.
pub const GET_METRIC_DATA: &str = "GetMetricData";

/// Fetcher tuning. Defaults stay well under CloudWatch's quotas (50 TPS per Region;
/// 180,000 datapoints/s for calls starting within 3 hours, 396,000 older).
#[derive(Clone, Debug, PartialEq)]
pub struct FetchSettings {
    /// Retries and per-call timeout.
    pub retry: RetryPolicy,
    /// GetMetricData calls per second.
    pub calls_per_sec: f64,
    /// Estimated datapoints per second for calls whose start is within 3 hours.
    pub recent_points_per_sec: f64,
    /// Estimated datapoints per second for older starts (backfill).
    pub old_points_per_sec: f64,
    /// Pages per call before giving up (a guard against a server that never stops).
    pub max_pages: u32,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            retry: RetryPolicy::default(),
            calls_per_sec: 10.0,
            recent_points_per_sec: 150_000.0,
            old_points_per_sec: 300_000.0,
            max_pages: 50,
        }
    }
}

/// One query's datapoints: `(epoch seconds, value)`, in no particular order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Query index.
    pub query: usize,
    /// Datapoints.
    pub points: Vec<(i64, f64)>,
}

/// The result of one packed call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallOutcome {
    /// Queries read completely.
    pub series: Vec<Series>,
    /// Queries that could not be read, with the reason.
    pub failed: Vec<(usize, String)>,
}

/// Runs GetMetricData calls for a source.
#[derive(Debug)]
pub struct Fetcher {
    client: Client,
    settings: FetchSettings,
    calls: TokenBucket,
    recent_points: TokenBucket,
    old_points: TokenBucket,
}

impl Fetcher {
    /// A fetcher on `client`.
    pub fn new(client: Client, settings: FetchSettings) -> Self {
        Fetcher {
            calls: TokenBucket::new(settings.calls_per_sec, settings.calls_per_sec),
            recent_points: TokenBucket::new(
                settings.recent_points_per_sec,
                settings.recent_points_per_sec,
            ),
            old_points: TokenBucket::new(settings.old_points_per_sec, settings.old_points_per_sec),
            client,
            settings,
        }
    }

    /// The CloudWatch client (for ListMetrics in Batch detection).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Fetch `ids` (indices into `queries`) over `[start, end)` at `period` seconds.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(name = "cloudwatch.get_metric_data", skip_all, fields(queries = ids.len(), period = period, %start, %end))]
    pub async fn fetch(
        &mut self,
        queries: &[MetricKey],
        ids: &[usize],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period: u32,
        now: DateTime<Utc>,
        report: &mut PollReport,
    ) -> CallOutcome {
        let wire: Vec<MetricDataQuery> = ids
            .iter()
            .map(|&i| wire_query(i, &queries[i], period))
            .collect();
        let points = ids.len() as u64
            * ((end - start).num_seconds().max(0) as u64 / u64::from(period.max(1)));
        let mut acc: HashMap<usize, Acc> = HashMap::new();
        let mut token: Option<String> = None;
        let mut seen = HashSet::new();
        let mut pages = 0u32;
        loop {
            pages += 1;
            self.calls.acquire(1.0).await;
            if pages == 1 {
                if now - start <= TimeDelta::hours(3) {
                    self.recent_points.acquire(points as f64).await;
                } else {
                    self.old_points.acquire(points as f64).await;
                }
            }
            let attempted = retry(
                &self.settings.retry,
                GET_METRIC_DATA,
                |e| (classify_sdk(e), describe_sdk(e)),
                || {
                    self.client
                        .get_metric_data()
                        .set_metric_data_queries(Some(wire.clone()))
                        .start_time(to_smithy(start))
                        .end_time(to_smithy(end))
                        .scan_by(ScanBy::TimestampAscending)
                        .set_next_token(token.clone())
                        .send()
                },
            )
            .await;
            for _ in 0..attempted.attempts {
                report.call(GET_METRIC_DATA);
                report.metrics_requested += ids.len() as u64;
            }
            report.retries += u64::from(attempted.attempts.saturating_sub(1));
            report.throttled += u64::from(attempted.throttled);
            let out = match attempted.result {
                Ok(out) => out,
                Err(message) => {
                    report.failures += 1;
                    return CallOutcome {
                        series: Vec::new(),
                        failed: ids
                            .iter()
                            .map(|&i| (i, format!("GetMetricData failed: {message}")))
                            .collect(),
                    };
                }
            };
            for m in out.messages() {
                tracing::warn!(code = ?m.code(), value = ?m.value(), "GetMetricData message");
            }
            for r in out.metric_data_results() {
                let Some(q) = r.id().and_then(parse_id).filter(|q| ids.contains(q)) else {
                    tracing::warn!(id = ?r.id(), "GetMetricData returned an unknown id");
                    continue;
                };
                let a = acc.entry(q).or_default();
                let ts = r.timestamps();
                let vs = r.values();
                if ts.len() != vs.len() {
                    a.error = Some(format!("{} timestamps but {} values", ts.len(), vs.len()));
                }
                report.datapoints += vs.len() as u64;
                a.points
                    .extend(ts.iter().zip(vs).map(|(t, v)| (t.secs(), *v)));
                a.status = r.status_code().cloned();
                if let Some(msg) = r.messages().first() {
                    a.message = Some(format!(
                        "{}: {}",
                        msg.code().unwrap_or("Message"),
                        msg.value().unwrap_or_default()
                    ));
                }
            }
            match out.next_token() {
                None => break,
                Some(t) if !seen.insert(t.to_string()) => {
                    return fail_all(ids, "GetMetricData repeated a NextToken", report);
                }
                Some(_) if pages >= self.settings.max_pages => {
                    return fail_all(ids, "GetMetricData pages exceeded the limit", report);
                }
                Some(t) => token = Some(t.to_string()),
            }
        }
        let mut outcome = CallOutcome::default();
        for &q in ids {
            match acc.remove(&q) {
                None => outcome
                    .failed
                    .push((q, "GetMetricData returned no result for the query".into())),
                Some(a) => match a.verdict() {
                    Ok(points) => outcome.series.push(Series { query: q, points }),
                    Err(reason) => outcome.failed.push((q, reason)),
                },
            }
        }
        if !outcome.failed.is_empty() {
            report.failures += 1;
        }
        outcome
    }
}

#[derive(Default)]
struct Acc {
    points: Vec<(i64, f64)>,
    status: Option<StatusCode>,
    message: Option<String>,
    error: Option<String>,
}

impl Acc {
    fn verdict(self) -> Result<Vec<(i64, f64)>, String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let detail = self.message.map(|m| format!(" ({m})")).unwrap_or_default();
        match self.status {
            Some(StatusCode::Complete) | None => Ok(self.points),
            Some(StatusCode::PartialData) => Err(format!(
                "PartialData on the last page (no NextToken){detail}"
            )),
            Some(other) => Err(format!("status {}{detail}", other.as_str())),
        }
    }
}

/// Pagination broke down: every query of the call is failed.
fn fail_all(ids: &[usize], why: &str, report: &mut PollReport) -> CallOutcome {
    report.failures += 1;
    CallOutcome {
        series: Vec::new(),
        failed: ids.iter().map(|&i| (i, why.to_string())).collect(),
    }
}

/// The wire id of query `i` (`^[a-z][a-zA-Z0-9_]*$`).
pub fn wire_id(i: usize) -> String {
    format!("q{i}")
}

fn parse_id(id: &str) -> Option<usize> {
    id.strip_prefix('q')?.parse().ok()
}

/// The MetricDataQuery for query `i`.
pub fn wire_query(i: usize, key: &MetricKey, period: u32) -> MetricDataQuery {
    let mut metric = Metric::builder()
        .namespace(&key.namespace)
        .metric_name(&key.metric);
    for (name, value) in &key.dimensions {
        metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
    }
    MetricDataQuery::builder()
        .id(wire_id(i))
        .metric_stat(
            MetricStat::builder()
                .metric(metric.build())
                .period(i32::try_from(period).unwrap_or(60))
                .stat(&key.stat)
                .build(),
        )
        .return_data(true)
        .build()
}
