//! The Prometheus source: `events` and `raw` PromQL SLIs evaluated against any
//! Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).
//!
//! `{{.window}}` in a query is rendered to the bucket length (default `1m`, so the scrape
//! interval must be at most 30 s; use `5m` buckets for slower scrapes). Each bucket
//! `[t − len, t)` is the query evaluated at `t`, fetched for many buckets at once with
//! `/api/v1/query_range` (`step` = bucket length, ≤ 10,000 steps per request).
//!
//! - **Events SLIs** return rates (Sloth's convention), so a bucket's counts are
//!   `rate × bucket seconds`. When the error query returns nothing but the total does, the
//!   bucket has zero errors (error series often appear only after the first error); when
//!   the total returns nothing, the bucket is unknown (not covered), never good.
//! - **Raw SLIs** return an error ratio: each bucket counts as one event with
//!   `good = 1 − ratio` (every bucket weighs the same, as in Sloth's time-based average).
//!   A ratio outside [0, 1] is clamped and counted.
//! - Several series in a result are summed. A failed request (HTTP error, `status:
//!   error`, malformed body, timeout after retries) marks the SLO `no_data` for the range.
//!
//! Authentication: bearer token or HTTP basic auth; secrets are never logged (`Debug` of
//! [`PromAuth`] redacts them).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use super::cloudwatch::planner::tick_range;
use super::record::Recorder;
use super::retry::{ErrorClass, RetryPolicy, retry};
use super::{
    BoxFuture, Correction, CorrectionKind, Coverage, EventSink, NoData, PollReport, SloEvents,
    Source, SourceBatch, SourceError, delta, from_epoch,
};
use crate::spec::model::Sli;
use crate::spec::{Duration, Slo};

/// The HTTP operation name in [`PollReport::api_calls`].
pub const QUERY_RANGE: &str = "query_range";

/// How to authenticate to the query API.
#[derive(Clone, Default, PartialEq)]
pub enum PromAuth {
    /// No authentication.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for PromAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PromAuth::None => f.write_str("None"),
            PromAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            PromAuth::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
        }
    }
}

/// Prometheus source settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusSettings {
    /// Base URL of the API (`http://prometheus:9090`, a Mimir prefix, …).
    pub url: String,
    /// Authentication.
    pub auth: PromAuth,
    /// Bucket length and `{{.window}}` value (default 1 minute).
    pub bucket: Duration,
    /// How far behind `now` buckets are considered complete (default 1 minute: a scrape
    /// interval or two).
    pub delay: Duration,
    /// Re-read overlap (default 5 minutes).
    pub overlap: Duration,
    /// How far back the first poll reads (default: the longest SLO period).
    pub backfill: Option<Duration>,
    /// Retries and per-request timeout.
    pub retry: RetryPolicy,
    /// Steps per query_range request (Prometheus refuses more than 11,000).
    pub max_steps: u32,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        PrometheusSettings {
            url: "http://127.0.0.1:9090".into(),
            auth: PromAuth::None,
            bucket: Duration::from_mins(1),
            delay: Duration::from_mins(1),
            overlap: Duration::from_mins(5),
            backfill: None,
            retry: RetryPolicy::default(),
            max_steps: 10_000,
        }
    }
}

#[derive(Clone, Debug)]
enum PromSli {
    Events { error: String, total: String },
    Raw { ratio: String },
}

/// Every PromQL (`events` or `raw`) SLO.
#[derive(Debug)]
pub struct PrometheusSource {
    http: reqwest::Client,
    settings: PrometheusSettings,
    slis: Vec<(String, PromSli)>,
    backfill: Duration,
    complete_until: Option<DateTime<Utc>>,
    recorder: Option<Recorder>,
}

/// Render `{{.window}}` (also `{{ .window }}`) to `window`.
pub fn render_window(query: &str, window: Duration) -> String {
    let w = window.to_string();
    query
        .replace("{{.window}}", &w)
        .replace("{{ .window }}", &w)
}

impl PrometheusSource {
    /// A source for the PromQL SLOs among `slos`.
    pub fn new(
        slos: &[Slo],
        period: Duration,
        settings: PrometheusSettings,
    ) -> Result<PrometheusSource, SourceError> {
        if settings.bucket.as_secs() < 1 || !settings.bucket.as_millis().is_multiple_of(1000) {
            return Err(SourceError::Config(format!(
                "prometheus bucket {} must be a whole number of seconds",
                settings.bucket
            )));
        }
        reqwest::Url::parse(&settings.url)
            .map_err(|e| SourceError::Config(format!("prometheus url {:?}: {e}", settings.url)))?;
        let http = reqwest::Client::builder()
            .timeout(settings.retry.call_timeout)
            .build()
            .map_err(|e| SourceError::Config(format!("HTTP client: {e}")))?;
        let mut slis = Vec::new();
        let mut longest = None;
        for slo in slos {
            let sli = match &slo.sli {
                Sli::Events {
                    error_query,
                    total_query,
                } => PromSli::Events {
                    error: render_window(error_query, settings.bucket),
                    total: render_window(total_query, settings.bucket),
                },
                Sli::Raw { error_ratio_query } => PromSli::Raw {
                    ratio: render_window(error_ratio_query, settings.bucket),
                },
                Sli::Plugin(_) => continue,
            };
            longest = longest.max(Some(slo.period.unwrap_or(period)));
            slis.push((slo.id.clone(), sli));
        }
        Ok(PrometheusSource {
            http,
            backfill: settings.backfill.unwrap_or(longest.unwrap_or(period)),
            settings,
            slis,
            complete_until: None,
            recorder: None,
        })
    }

    /// Append produced events to `recorder` (`run --record`).
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Evaluate `query` at every bucket end in `(start, end]`: `{bucket start: Σ series}`.
    #[tracing::instrument(name = "prometheus.query_range", skip_all, fields(query = %query, %start, %end))]
    async fn query_range(
        &self,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        report: &mut PollReport,
    ) -> Result<BTreeMap<i64, f64>, String> {
        let step = self.settings.bucket.as_secs() as i64;
        let url = format!(
            "{}/api/v1/query_range",
            self.settings.url.trim_end_matches('/')
        );
        let first = start.timestamp() + step;
        let last = end.timestamp();
        // POST a form body (long PromQL does not fit every URL length limit).
        let body = form_body(&[
            ("query", query),
            ("start", &first.to_string()),
            ("end", &last.to_string()),
            ("step", &step.to_string()),
        ]);
        let attempted = retry(
            &self.settings.retry,
            QUERY_RANGE,
            |e: &(ErrorClass, String)| e.clone(),
            || async {
                let mut req = self
                    .http
                    .post(&url)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body.clone());
                req = match &self.settings.auth {
                    PromAuth::None => req,
                    PromAuth::Bearer(t) => req.bearer_auth(t),
                    PromAuth::Basic { username, password } => {
                        req.basic_auth(username, Some(password))
                    }
                };
                let resp = req
                    .send()
                    .await
                    .map_err(|e| (ErrorClass::Transient, format!("request failed: {e}")))?;
                let status = resp.status();
                let body = resp
                    .text()
                    .await
                    .map_err(|e| (ErrorClass::Transient, format!("reading the body: {e}")))?;
                if status.as_u16() == 429 || status.is_server_error() {
                    let class = if status.as_u16() == 429 {
                        ErrorClass::Throttled
                    } else {
                        ErrorClass::Transient
                    };
                    return Err((class, format!("HTTP {status}: {}", snippet(&body))));
                }
                parse_matrix(&body)
                    .map_err(|e| (ErrorClass::Permanent, format!("HTTP {status}: {e}")))
            },
        )
        .await;
        for _ in 0..attempted.attempts {
            report.call(QUERY_RANGE);
        }
        report.retries += u64::from(attempted.attempts.saturating_sub(1));
        report.throttled += u64::from(attempted.throttled);
        let samples = attempted.result.inspect_err(|_| report.failures += 1)?;
        report.datapoints += samples.len() as u64;
        // A sample at t is the bucket [t − step, t).
        Ok(samples
            .into_iter()
            .map(|(t, v)| (t - step, v))
            .filter(|(t, _)| *t >= start.timestamp() && *t < end.timestamp())
            .collect())
    }

    async fn evaluate(
        &self,
        slo_id: &str,
        sli: &PromSli,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        report: &mut PollReport,
    ) -> Result<SourceBatch, String> {
        let secs = self.settings.bucket.as_secs() as f64;
        let bucket_secs = self.settings.bucket.as_secs() as u32;
        let mut batch = SourceBatch::default();
        let mut corrections: BTreeMap<CorrectionKind, (u64, DateTime<Utc>)> = BTreeMap::new();
        let mut events = Vec::new();
        match sli {
            PromSli::Events { error, total } => {
                let totals = self.query_range(total, start, end, report).await?;
                let errors = self.query_range(error, start, end, report).await?;
                for (&t, &tv) in &totals {
                    let ev = errors.get(&t).copied().unwrap_or(0.0);
                    let at = from_epoch(t);
                    if !tv.is_finite() || !ev.is_finite() || tv < 0.0 || ev < 0.0 {
                        let kind = if tv.is_finite() && ev.is_finite() {
                            CorrectionKind::Negative
                        } else {
                            CorrectionKind::NotFinite
                        };
                        corrections.entry(kind).or_insert((0, at)).0 += 1;
                        continue;
                    }
                    let (mut total, errs) = (tv * secs, ev * secs);
                    if errs > total {
                        total = errs;
                        corrections
                            .entry(CorrectionKind::ErrorsAboveTotal)
                            .or_insert((0, at))
                            .0 += 1;
                    }
                    events.push((at, total - errs, total));
                }
            }
            PromSli::Raw { ratio } => {
                for (t, r) in self.query_range(ratio, start, end, report).await? {
                    let at = from_epoch(t);
                    if !r.is_finite() {
                        corrections
                            .entry(CorrectionKind::NotFinite)
                            .or_insert((0, at))
                            .0 += 1;
                        continue;
                    }
                    if !(0.0..=1.0).contains(&r) {
                        corrections
                            .entry(CorrectionKind::RatioOutOfRange)
                            .or_insert((0, at))
                            .0 += 1;
                    }
                    events.push((at, 1.0 - r.clamp(0.0, 1.0), 1.0));
                }
            }
        }
        let step = TimeDelta::seconds(i64::from(bucket_secs));
        for (at, good, total) in events {
            match batch.covered.last_mut() {
                Some(c) if c.to == at => c.to = at + step,
                _ => batch.covered.push(Coverage {
                    slo_id: slo_id.to_string(),
                    from: at,
                    to: at + step,
                    bucket_secs,
                }),
            }
            if total > 0.0 {
                batch.events.push(SloEvents {
                    slo_id: slo_id.to_string(),
                    bucket_start: at,
                    bucket_secs,
                    good,
                    total,
                });
            }
        }
        for (kind, (count, first_bucket)) in corrections {
            batch.corrections.push(Correction {
                slo_id: slo_id.to_string(),
                kind,
                count,
                first_bucket,
            });
        }
        Ok(batch)
    }

    #[tracing::instrument(name = "source.poll", skip_all, fields(source = "prometheus", %now))]
    async fn run(&mut self, now: DateTime<Utc>, sink: &mut dyn EventSink) -> PollReport {
        let mut report = PollReport::default();
        let bucket = self.settings.bucket.as_secs() as u32;
        let Some((start, end)) = tick_range(
            self.complete_until,
            now,
            delta(self.settings.delay),
            delta(self.settings.overlap),
            delta(self.backfill),
            bucket,
        ) else {
            return report;
        };
        report.range = Some((start, end));
        let chunk =
            TimeDelta::seconds(i64::from(bucket) * i64::from(self.settings.max_steps.max(1)));
        let mut complete = self.complete_until;
        let mut broken = false;
        let mut cs = start;
        while cs < end {
            let ce = (cs + chunk).min(end);
            let mut failed = false;
            for (slo_id, sli) in &self.slis {
                let batch = match self.evaluate(slo_id, sli, cs, ce, &mut report).await {
                    Ok(b) => b,
                    Err(reason) => {
                        failed = true;
                        SourceBatch {
                            no_data: vec![NoData {
                                slo_id: slo_id.clone(),
                                from: cs,
                                to: ce,
                                reason,
                            }],
                            ..SourceBatch::default()
                        }
                    }
                };
                if let Some(r) = &self.recorder {
                    r.batch(&batch, &|id| {
                        self.slis
                            .iter()
                            .any(|(s, sli)| s == id && matches!(sli, PromSli::Raw { .. }))
                    });
                }
                sink.accept(batch);
            }
            if failed || broken {
                broken = true;
            } else {
                complete = Some(ce);
            }
            cs = ce;
        }
        if let Some(r) = &self.recorder {
            r.flush();
        }
        self.complete_until = complete;
        report
    }
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default)]
    error: Option<String>,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<ApiSeries>,
}

#[derive(Deserialize)]
struct ApiSeries {
    values: Vec<(f64, String)>,
}

/// Parse a `query_range` response into `{timestamp: Σ series value}`.
pub fn parse_matrix(body: &str) -> Result<BTreeMap<i64, f64>, String> {
    let resp: ApiResponse = serde_json::from_str(body)
        .map_err(|e| format!("not a Prometheus API response ({e}): {}", snippet(body)))?;
    if resp.status != "success" {
        return Err(format!(
            "query failed: {}: {}",
            resp.error_type.unwrap_or_default(),
            resp.error.unwrap_or_default()
        ));
    }
    let data = resp.data.ok_or("response without data")?;
    if data.result_type != "matrix" {
        return Err(format!(
            "expected a matrix result, got {}",
            data.result_type
        ));
    }
    let mut out: BTreeMap<i64, f64> = BTreeMap::new();
    for s in data.result {
        for (t, v) in s.values {
            // Bounded before it is used as a time: a sample dated 1e300 would saturate to
            // i64::MAX and overflow the bucket arithmetic after it.
            if !(0.0..=MAX_SAMPLE_SECS).contains(&t) {
                return Err(format!("sample timestamp {t} is outside 1970..=9999-12-31"));
            }
            let v: f64 = v
                .parse()
                .map_err(|_| format!("sample value {v:?} is not a number"))?;
            *out.entry(t.round() as i64).or_default() += v;
        }
    }
    Ok(out)
}

/// 9999-12-31T23:59:59Z: the last second a sample may carry (chrono and RFC 3339 end there).
const MAX_SAMPLE_SECS: f64 = 253_402_300_799.0;

/// `application/x-www-form-urlencoded` encoding of `pairs`.
fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut u = reqwest::Url::parse("http://x/").expect("static URL parses");
    u.query_pairs_mut().extend_pairs(pairs);
    u.query().unwrap_or_default().to_string()
}

fn snippet(body: &str) -> String {
    body.chars().take(200).collect()
}

impl Source for PrometheusSource {
    fn name(&self) -> &str {
        "prometheus"
    }
    fn slo_ids(&self) -> Vec<String> {
        self.slis.iter().map(|(id, _)| id.clone()).collect()
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
    fn window_is_rendered_to_the_bucket() {
        assert_eq!(
            render_window(
                "sum(rate(x[{{.window}}])) / sum(rate(y[{{ .window }}]))",
                Duration::from_mins(5)
            ),
            "sum(rate(x[5m])) / sum(rate(y[5m]))"
        );
    }

    #[test]
    fn sample_timestamps_outside_the_calendar_are_refused() {
        for t in ["1e300", "-1", "-1e300", "253402300800"] {
            let body = format!(
                r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[{t},"1"]]}}]}}}}"#
            );
            let err = parse_matrix(&body).unwrap_err();
            assert!(err.contains("outside 1970"), "{t}: {err}");
        }
        let ok = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[253402300799,"2"]]}]}}"#;
        assert_eq!(parse_matrix(ok).unwrap()[&253_402_300_799], 2.0);
    }

    #[test]
    fn matrix_parsing_sums_series_and_reports_errors() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"a":"1"},"values":[[60,"1.5"],[120,"2"]]},
            {"metric":{"a":"2"},"values":[[60,"0.5"]]}]}}"#;
        let m = parse_matrix(body).unwrap();
        assert_eq!(m, BTreeMap::from([(60, 2.0), (120, 2.0)]));
        let err =
            parse_matrix(r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#)
                .unwrap_err();
        assert!(
            err.contains("bad_data") && err.contains("parse error"),
            "{err}"
        );
        assert!(parse_matrix("<html>").is_err());
        assert!(
            parse_matrix(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
                .is_err()
        );
        let nan = parse_matrix(r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[60,"NaN"]]}]}}"#).unwrap();
        assert!(nan[&60].is_nan());
    }

    #[test]
    fn auth_debug_redacts_secrets() {
        let a = PromAuth::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", PromAuth::Bearer("tok".into())).contains("tok"));
    }
}
