//! PromQL for burnwatch's AWS plugin SLIs, over the series YACE
//! (yet-another-cloudwatch-exporter) exports for the same CloudWatch metrics.
//!
//! burnwatch reads CloudWatch itself; teams that evaluate SLOs in Prometheus usually scrape
//! CloudWatch with YACE. YACE names a series
//! `aws_<namespace>_<metric>_<statistic>` (its `promutil.BuildMetricName`: lower-cased
//! namespace and snake-cased metric through `PromString`, so `HTTPCode_Target_5XX_Count`
//! becomes `httpcode_target_5_xx_count` and `5xxErrors` becomes `5xx_errors`) and labels
//! each dimension `dimension_<Name>` (case kept). Every value is a gauge holding the
//! statistic of the latest CloudWatch period, so a window's event count is
//! `sum_over_time(...[w])` (each period counted once per scrape; the factor cancels in the
//! ratio). Missing series count as zero (`or vector(0)`), which needs YACE's `nilToZero:
//! true` so that minutes without requests are 0 rather than NaN.
//!
//! The mapping per plugin is documented in the README ("Prometheus rules for AWS SLIs").
//! `burnwatch/stepfunctions/latency/v1` has none: it counts executions faster than a
//! threshold from `ListExecutions`, and CloudWatch (hence YACE) has only per-period
//! aggregates of `ExecutionTime`.

use std::collections::BTreeMap;

use crate::spec::plugins::{PluginSli, RatioTotal};

use super::gofmt;

/// YACE's `PromString`: `HTTPCode_Target_5XX_Count` → `httpcode_target_5_xx_count`.
pub fn prom_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    for c in text.chars() {
        match c {
            ' ' | ',' | '\t' | '/' | '\\' | '.' | '-' | ':' | '=' | '@' | '<' | '>' | '(' | ')'
            | '“' => out.push('_'),
            '%' => out.push_str("_percent"),
            _ => {
                if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_numeric()) {
                    out.push('_');
                }
                out.extend(c.to_lowercase());
            }
        }
        prev = Some(c);
    }
    out
}

/// YACE's `BuildMetricName(namespace, metric, statistic)`.
pub fn metric_name(namespace: &str, metric: &str, stat: &str) -> String {
    let ns = prom_string(&namespace.to_lowercase());
    let ns = ns.strip_prefix('_').unwrap_or(&ns).to_string();
    let mut out = String::new();
    if !ns.starts_with("aws") {
        out.push_str("aws_");
    }
    out.push_str(&ns);
    out.push('_');
    let mut m = prom_string(metric);
    // YACE drops namespace words the metric name repeats (`Glue` metrics start with `glue`).
    for part in ns.split('_') {
        if let Some(rest) = m.strip_prefix(part) {
            m = rest.to_string();
        }
    }
    let m = m.strip_prefix('_').unwrap_or(&m);
    out.push_str(m);
    if !stat.is_empty() {
        out.push('_');
        out.push_str(&prom_string(stat));
    }
    out
}

/// YACE's label for a CloudWatch dimension (default `labelsSnakeCase: false`).
pub fn dimension_label(name: &str) -> String {
    let sanitized: String = name
        .chars()
        .map(|c| match c {
            ' ' | ',' | '\t' | '/' | '\\' | '.' | '-' | ':' | '=' | '@' | '<' | '>' | '(' | ')'
            | '“' => "_".to_string(),
            '%' => "_percent".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("dimension_{sanitized}")
}

/// One CloudWatch metric as YACE exports it.
struct Series {
    namespace: String,
    stat: String,
    selector: String,
}

impl Series {
    fn new(namespace: &str, stat: &str, dims: &BTreeMap<String, String>) -> Self {
        let selector = dims
            .iter()
            .map(|(k, v)| format!("{}={}", dimension_label(k), gofmt::quote(v)))
            .collect::<Vec<_>>()
            .join(", ");
        Series {
            namespace: namespace.to_string(),
            stat: stat.to_string(),
            selector,
        }
    }

    /// Events of `metrics` in the window, missing series as zero.
    fn count(&self, metrics: &[&str], indent: &str) -> String {
        metrics
            .iter()
            .map(|m| {
                format!(
                    "(sum(sum_over_time({}{{{}}}[{{{{.window}}}}])) or vector(0))",
                    metric_name(&self.namespace, m, &self.stat),
                    self.selector
                )
            })
            .collect::<Vec<_>>()
            .join(&format!("\n{indent}+ "))
    }

    /// `min(1, errors / total)`: for totals that errors are not a subset of by construction
    /// (ALB requests without a target, S3 errors of other request types).
    fn capped_ratio(&self, errors: &[&str], total: &[&str]) -> String {
        format!(
            "clamp_max(\n  (\n    {}\n  )\n  /\n  (\n    {}\n  ),\n  1\n)",
            self.count(errors, "    "),
            self.count(total, "    ")
        )
    }

    /// `errors / (errors + good)`.
    fn good_ratio(&self, errors: &[&str], good: &[&str]) -> String {
        let all: Vec<&str> = errors.iter().chain(good).copied().collect();
        format!(
            "(\n  {}\n)\n/\n(\n  {}\n)",
            self.count(errors, "  "),
            self.count(&all, "  ")
        )
    }
}

/// The error-ratio query template (with `{{.window}}`) for a plugin SLI, or why there is none.
pub fn error_ratio_query(sli: &PluginSli) -> Result<String, String> {
    match sli {
        PluginSli::AlbAvailability(a) => {
            let s = Series::new(
                "AWS/ApplicationELB",
                "Sum",
                &[("LoadBalancer".to_string(), a.load_balancer.clone())].into(),
            );
            let mut errors = vec!["HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"];
            if a.count_4xx_as_errors {
                errors.push("HTTPCode_Target_4XX_Count");
            }
            Ok(s.capped_ratio(&errors, &["RequestCount"]))
        }
        PluginSli::S3Requests(r) => {
            let s = Series::new(
                "AWS/S3",
                "Sum",
                &[
                    ("BucketName".to_string(), r.bucket.clone()),
                    ("FilterId".to_string(), r.filter_id.clone()),
                ]
                .into(),
            );
            let mut errors = vec!["5xxErrors"];
            if r.count_4xx_as_errors {
                errors.push("4xxErrors");
            }
            Ok(s.capped_ratio(&errors, &[r.request_metric.as_str()]))
        }
        PluginSli::MetricRatio(m) => {
            let s = Series::new(&m.namespace, &m.stat, &m.dimensions);
            let errors: Vec<&str> = m.error_metrics.iter().map(String::as_str).collect();
            Ok(match &m.total {
                RatioTotal::Metric(t) => s.capped_ratio(&errors, &[t.as_str()]),
                RatioTotal::Good(g) => {
                    let good: Vec<&str> = g.iter().map(String::as_str).collect();
                    s.good_ratio(&errors, &good)
                }
            })
        }
        PluginSli::StepFunctionsSuccess(sf) => {
            let s = Series::new(
                "AWS/States",
                "Sum",
                &[("StateMachineArn".to_string(), sf.state_machine_arn.clone())].into(),
            );
            Ok(s.good_ratio(
                &[
                    "ExecutionsFailed",
                    "ExecutionsTimedOut",
                    "ExecutionsAborted",
                ],
                &["ExecutionsSucceeded"],
            ))
        }
        PluginSli::BatchJobSuccess(b) => {
            let s = Series::new(
                "AWS/Batch",
                "Sum",
                &[("JobQueueName".to_string(), b.job_queue.clone())].into(),
            );
            Ok(s.good_ratio(&["JobsMovedToFailed"], &["JobsMovedToSucceeded"]))
        }
        PluginSli::StepFunctionsLatency(_) => Err(format!(
            "its SLI plugin {} counts executions faster than a threshold from the Step Functions \
             ListExecutions API; CloudWatch, and so YACE, only has per-period aggregates of \
             ExecutionTime (which also include failed executions), so there is no PromQL \
             equivalent",
            sli.id()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::plugins::{AlbAvailability, StepFunctionsLatency};

    #[test]
    fn metric_names_follow_yace() {
        // Hand-derived from YACE's PromString/BuildMetricName (pkg/promutil).
        let cases = [
            (
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count",
                "Sum",
                "aws_applicationelb_httpcode_target_5_xx_count_sum",
            ),
            (
                "AWS/ApplicationELB",
                "RequestCount",
                "Sum",
                "aws_applicationelb_request_count_sum",
            ),
            (
                "AWS/ApplicationELB",
                "HTTPCode_ELB_5XX_Count",
                "Sum",
                "aws_applicationelb_httpcode_elb_5_xx_count_sum",
            ),
            ("AWS/S3", "5xxErrors", "Sum", "aws_s3_5xx_errors_sum"),
            ("AWS/S3", "PutRequests", "Sum", "aws_s3_put_requests_sum"),
            (
                "AWS/States",
                "ExecutionsTimedOut",
                "Sum",
                "aws_states_executions_timed_out_sum",
            ),
            (
                "AWS/Batch",
                "JobsMovedToSucceeded",
                "Sum",
                "aws_batch_jobs_moved_to_succeeded_sum",
            ),
            (
                "Glue",
                "glue.driver.aggregate.bytesRead",
                "Average",
                "aws_glue_driver_aggregate_bytes_read_average",
            ),
            (
                "MassSpec/API",
                "UploadsFailed",
                "SampleCount",
                "aws_massspec_api_uploads_failed_sample_count",
            ),
        ];
        for (ns, m, stat, want) in cases {
            assert_eq!(metric_name(ns, m, stat), want, "{ns} {m}");
        }
        assert_eq!(dimension_label("LoadBalancer"), "dimension_LoadBalancer");
        assert_eq!(dimension_label("Some.Dim-1"), "dimension_Some_Dim_1");
    }

    #[test]
    fn every_mapping_is_valid_promql() {
        let alb = PluginSli::AlbAvailability(AlbAvailability {
            load_balancer: "app/x/0123456789abcdef".into(),
            count_4xx_as_errors: true,
        });
        let q = error_ratio_query(&alb).unwrap();
        let rendered = crate::spec::validate::render_window(&q, "5m");
        promql_parser::parser::parse(&rendered).unwrap();
        assert!(
            rendered.contains(
                "aws_applicationelb_httpcode_target_4_xx_count_sum{dimension_LoadBalancer=\"app/x/0123456789abcdef\"}[5m]"
            ),
            "{rendered}"
        );
    }

    #[test]
    fn latency_has_no_mapping() {
        let sli = PluginSli::StepFunctionsLatency(StepFunctionsLatency {
            state_machine_arn: "arn:aws:states:eu-west-1:1:stateMachine:x".into(),
            threshold: crate::spec::Duration::from_mins(30),
        });
        let err = error_ratio_query(&sli).unwrap_err();
        assert!(err.contains("ListExecutions"), "{err}");
    }
}
