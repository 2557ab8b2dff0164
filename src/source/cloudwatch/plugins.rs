//! The CloudWatch-backed SLI plugins: which metrics each plugin reads, and how one bucket's
//! values become good and total events. The live fetcher and replay both go through
//! [`evaluate_bucket`], so a recorded incident replays through exactly the live arithmetic.
//!
//! | plugin | errors | total |
//! |---|---|---|
//! | `alb-availability` | `HTTPCode_Target_5XX_Count` + `HTTPCode_ELB_5XX_Count` (+ `HTTPCode_Target_4XX_Count`) | `RequestCount` + `HTTPCode_ELB_503_Count` |
//! | `s3-requests` | `5xxErrors` (+ `4xxErrors`) | `request_metric` (`PutRequests`) |
//! | `metric-ratio` | Σ `error_metrics` | `total_metric`, or Σ `good_metrics` + errors |
//! | `stepfunctions/success` | `ExecutionsFailed` + `ExecutionsTimedOut` + `ExecutionsAborted` | `ExecutionsSucceeded` + errors |
//! | `batch/job-success` (native metrics) | `JobsMovedToFailed` | `JobsMovedToSucceeded` + errors |
//!
//! ALB: `RequestCount` only counts requests for which the load balancer could choose a
//! target, so the 503s it answers itself when no target can take a request are not in it;
//! adding `HTTPCode_ELB_503_Count` makes a total outage read as 100 % errors instead of
//! "no traffic". Everything is read at load-balancer level because `HTTPCode_ELB_5XX_Count`
//! has no `TargetGroup` dimension. Where errors still exceed the total, the total is raised
//! to the errors and the correction is counted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::source::CorrectionKind;
use crate::spec::Slo;
use crate::spec::model::Sli;
use crate::spec::plugins::{PluginSli, RatioTotal};

/// One CloudWatch series and statistic: the unit the planner deduplicates and fetches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MetricKey {
    /// Namespace (`AWS/ApplicationELB`).
    pub namespace: String,
    /// Metric name (`RequestCount`).
    pub metric: String,
    /// Dimensions, sorted by name.
    pub dimensions: BTreeMap<String, String>,
    /// Statistic (`Sum`).
    pub stat: String,
}

impl MetricKey {
    /// A key with one dimension and the `Sum` statistic (how every count metric is read).
    pub fn sum(namespace: &str, metric: &str, dim: (&str, &str)) -> MetricKey {
        MetricKey {
            namespace: namespace.to_string(),
            metric: metric.to_string(),
            dimensions: BTreeMap::from([(dim.0.to_string(), dim.1.to_string())]),
            stat: "Sum".to_string(),
        }
    }
    /// Counts (`Sum`, `SampleCount`): a missing datapoint means zero events once past the
    /// ingestion delay. Other statistics have no value when there is no datapoint.
    pub fn is_count(&self) -> bool {
        self.stat == "Sum" || self.stat == "SampleCount"
    }
}

/// How a CloudWatch SLI gets its total.
#[derive(Clone, Debug, PartialEq)]
pub enum CwTotal {
    /// Σ of these metrics.
    Metrics(Vec<MetricKey>),
    /// Σ of these good metrics plus the errors.
    GoodPlusErrors(Vec<MetricKey>),
}

/// An SLO whose events come from CloudWatch metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct CwSli {
    /// The SLO.
    pub slo_id: String,
    /// Metrics summed as errors.
    pub errors: Vec<MetricKey>,
    /// The total.
    pub total: CwTotal,
}

impl CwSli {
    /// Every metric this SLI reads.
    pub fn keys(&self) -> impl Iterator<Item = &MetricKey> {
        let total = match &self.total {
            CwTotal::Metrics(m) | CwTotal::GoodPlusErrors(m) => m,
        };
        self.errors.iter().chain(total.iter())
    }
}

const ALB: &str = "AWS/ApplicationELB";
const S3: &str = "AWS/S3";
const STATES: &str = "AWS/States";
const BATCH: &str = "AWS/Batch";

/// The CloudWatch SLI of `slo`, if its SLI is a CloudWatch-backed plugin. Batch job
/// success is CloudWatch-backed only for queues where `batch_native(queue)` says the
/// `AWS/Batch` job metrics exist; otherwise the Batch API source serves it.
pub fn cloudwatch_sli(slo: &Slo, batch_native: &dyn Fn(&str) -> bool) -> Option<CwSli> {
    let Sli::Plugin(plugin) = &slo.sli else {
        return None;
    };
    let slo_id = slo.id.clone();
    let sli = match plugin {
        PluginSli::AlbAvailability(a) => {
            let lb = ("LoadBalancer", a.load_balancer.as_str());
            let mut errors = vec![
                MetricKey::sum(ALB, "HTTPCode_Target_5XX_Count", lb),
                MetricKey::sum(ALB, "HTTPCode_ELB_5XX_Count", lb),
            ];
            if a.count_4xx_as_errors {
                errors.push(MetricKey::sum(ALB, "HTTPCode_Target_4XX_Count", lb));
            }
            CwSli {
                slo_id,
                errors,
                total: CwTotal::Metrics(vec![
                    MetricKey::sum(ALB, "RequestCount", lb),
                    MetricKey::sum(ALB, "HTTPCode_ELB_503_Count", lb),
                ]),
            }
        }
        PluginSli::S3Requests(s) => {
            let dims = BTreeMap::from([
                ("BucketName".to_string(), s.bucket.clone()),
                ("FilterId".to_string(), s.filter_id.clone()),
            ]);
            let key = |metric: &str| MetricKey {
                namespace: S3.to_string(),
                metric: metric.to_string(),
                dimensions: dims.clone(),
                stat: "Sum".to_string(),
            };
            let mut errors = vec![key("5xxErrors")];
            if s.count_4xx_as_errors {
                errors.push(key("4xxErrors"));
            }
            CwSli {
                slo_id,
                errors,
                total: CwTotal::Metrics(vec![key(&s.request_metric)]),
            }
        }
        PluginSli::MetricRatio(m) => {
            let key = |metric: &String| MetricKey {
                namespace: m.namespace.clone(),
                metric: metric.clone(),
                dimensions: m.dimensions.clone(),
                stat: m.stat.clone(),
            };
            CwSli {
                slo_id,
                errors: m.error_metrics.iter().map(key).collect(),
                total: match &m.total {
                    RatioTotal::Metric(t) => CwTotal::Metrics(vec![key(t)]),
                    RatioTotal::Good(g) => CwTotal::GoodPlusErrors(g.iter().map(key).collect()),
                },
            }
        }
        PluginSli::StepFunctionsSuccess(s) => {
            let sm = ("StateMachineArn", s.state_machine_arn.as_str());
            CwSli {
                slo_id,
                errors: [
                    "ExecutionsFailed",
                    "ExecutionsTimedOut",
                    "ExecutionsAborted",
                ]
                .iter()
                .map(|m| MetricKey::sum(STATES, m, sm))
                .collect(),
                total: CwTotal::GoodPlusErrors(vec![MetricKey::sum(
                    STATES,
                    "ExecutionsSucceeded",
                    sm,
                )]),
            }
        }
        PluginSli::BatchJobSuccess(b) if batch_native(&b.job_queue) => {
            let q = ("JobQueueName", b.job_queue.as_str());
            CwSli {
                slo_id,
                errors: vec![MetricKey::sum(BATCH, "JobsMovedToFailed", q)],
                total: CwTotal::GoodPlusErrors(vec![MetricKey::sum(
                    BATCH,
                    "JobsMovedToSucceeded",
                    q,
                )]),
            }
        }
        PluginSli::BatchJobSuccess(_) | PluginSli::StepFunctionsLatency(_) => return None,
    };
    Some(sli)
}

/// The CloudWatch SLIs of `slos`, in order.
pub fn cloudwatch_slis<'a>(
    slos: impl IntoIterator<Item = &'a Slo>,
    batch_native: &dyn Fn(&str) -> bool,
) -> Vec<CwSli> {
    slos.into_iter()
        .filter_map(|s| cloudwatch_sli(s, batch_native))
        .collect()
}

/// An SLI whose metrics are referred to by index into a deduplicated query list.
#[derive(Clone, Debug, PartialEq)]
pub struct SliPlan {
    /// The SLO.
    pub slo_id: String,
    /// Query indices summed as errors.
    pub errors: Vec<usize>,
    /// Query indices of the total, or of the good events when `good_plus_errors`.
    pub total: Vec<usize>,
    /// Whether `total` holds good metrics (total = good + errors).
    pub good_plus_errors: bool,
}

impl SliPlan {
    /// Every query index this SLI reads.
    pub fn queries(&self) -> impl Iterator<Item = usize> + '_ {
        self.errors.iter().chain(self.total.iter()).copied()
    }
}

/// One bucket of one SLI after evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bucket {
    /// Good and total events, with the correction applied to get there, if any.
    Events {
        /// Good events.
        good: f64,
        /// Total events.
        total: f64,
        /// Set when errors exceeded the total and the total was raised.
        corrected: Option<CorrectionKind>,
    },
    /// The bucket's value is unknown: a non-count statistic without a datapoint (`None`)
    /// or bad data (`Some(kind)`).
    Unknown(Option<CorrectionKind>),
}

/// Evaluate one bucket. `value(i)` is query `i`'s value in the bucket, `None` when there is
/// no datapoint; `is_count(i)` says whether a missing datapoint means zero.
pub fn evaluate_bucket(
    sli: &SliPlan,
    value: impl Fn(usize) -> Option<f64>,
    is_count: impl Fn(usize) -> bool,
) -> Bucket {
    let sum = |idxs: &[usize]| -> Result<f64, Option<CorrectionKind>> {
        let mut acc = 0.0;
        for &i in idxs {
            match value(i) {
                Some(v) if !v.is_finite() => return Err(Some(CorrectionKind::NotFinite)),
                Some(v) if v < 0.0 => return Err(Some(CorrectionKind::Negative)),
                Some(v) => acc += v,
                None if is_count(i) => {}
                None => return Err(None),
            }
        }
        Ok(acc)
    };
    let errors = match sum(&sli.errors) {
        Ok(v) => v,
        Err(k) => return Bucket::Unknown(k),
    };
    let mut total = match sum(&sli.total) {
        Ok(v) if sli.good_plus_errors => v + errors,
        Ok(v) => v,
        Err(k) => return Bucket::Unknown(k),
    };
    let mut corrected = None;
    if errors > total {
        total = errors;
        corrected = Some(CorrectionKind::ErrorsAboveTotal);
    }
    Bucket::Events {
        good: total - errors,
        total,
        corrected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(errors: &[usize], total: &[usize], good_plus_errors: bool) -> SliPlan {
        SliPlan {
            slo_id: "s".into(),
            errors: errors.to_vec(),
            total: total.to_vec(),
            good_plus_errors,
        }
    }

    #[test]
    fn alb_total_outage_is_all_errors() {
        // errors: target 5xx (0), ELB 5xx (1); total: RequestCount (2), ELB 503 (3).
        // No target could take a request: RequestCount has no datapoint, ELB answered 503s.
        let vals = [None, Some(120.0), None, Some(120.0)];
        let b = evaluate_bucket(&plan(&[0, 1], &[2, 3], false), |i| vals[i], |_| true);
        assert_eq!(
            b,
            Bucket::Events {
                good: 0.0,
                total: 120.0,
                corrected: None
            }
        );
    }

    #[test]
    fn errors_above_total_raise_the_total_and_are_counted() {
        let vals = [Some(7.0), Some(5.0)];
        let b = evaluate_bucket(&plan(&[0], &[1], false), |i| vals[i], |_| true);
        assert_eq!(
            b,
            Bucket::Events {
                good: 0.0,
                total: 7.0,
                corrected: Some(CorrectionKind::ErrorsAboveTotal)
            }
        );
    }

    #[test]
    fn bad_values_make_the_bucket_unknown_never_good() {
        for (v, kind) in [
            (f64::NAN, CorrectionKind::NotFinite),
            (f64::INFINITY, CorrectionKind::NotFinite),
            (-1.0, CorrectionKind::Negative),
        ] {
            let vals = [Some(v), Some(10.0)];
            let b = evaluate_bucket(&plan(&[0], &[1], false), |i| vals[i], |_| true);
            assert_eq!(b, Bucket::Unknown(Some(kind)));
        }
    }

    #[test]
    fn missing_counts_are_zero_but_missing_averages_are_unknown() {
        let none = |_| None;
        assert_eq!(
            evaluate_bucket(&plan(&[0], &[1], true), none, |_| true),
            Bucket::Events {
                good: 0.0,
                total: 0.0,
                corrected: None
            }
        );
        assert_eq!(
            evaluate_bucket(&plan(&[0], &[1], true), none, |_| false),
            Bucket::Unknown(None)
        );
    }

    #[test]
    fn good_plus_errors() {
        let vals = [Some(2.0), Some(1.0), Some(97.0)];
        let b = evaluate_bucket(&plan(&[0, 1], &[2], true), |i| vals[i], |_| true);
        assert_eq!(
            b,
            Bucket::Events {
                good: 97.0,
                total: 100.0,
                corrected: None
            }
        );
    }
}
