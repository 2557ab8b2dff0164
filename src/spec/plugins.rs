//! burnwatch's built-in SLI plugins: Sloth's `sli.plugin {id, options}` form names a
//! non-PromQL SLI, and these are the ids burnwatch implements. Options are strings (as in
//! Sloth); this module checks and types them so that sources never see a bad option.

use std::collections::BTreeMap;

use super::duration::Duration;

/// A plugin SLI with its options checked.
#[derive(Clone, Debug, PartialEq)]
pub enum PluginSli {
    /// `burnwatch/cloudwatch/alb-availability/v1`.
    AlbAvailability(AlbAvailability),
    /// `burnwatch/cloudwatch/s3-requests/v1`.
    S3Requests(S3Requests),
    /// `burnwatch/cloudwatch/metric-ratio/v1`.
    MetricRatio(MetricRatio),
    /// `burnwatch/stepfunctions/success/v1`.
    StepFunctionsSuccess(StepFunctionsSuccess),
    /// `burnwatch/stepfunctions/latency/v1`.
    StepFunctionsLatency(StepFunctionsLatency),
    /// `burnwatch/batch/job-success/v1`.
    BatchJobSuccess(BatchJobSuccess),
}

/// ALB availability at load-balancer level.
#[derive(Clone, Debug, PartialEq)]
pub struct AlbAvailability {
    /// `LoadBalancer` dimension value, `app/<name>/<16 hex>`.
    pub load_balancer: String,
    /// Count target 4XX (e.g. 429) as errors too.
    pub count_4xx_as_errors: bool,
}

/// S3 request metrics on a filtered prefix (uploads).
#[derive(Clone, Debug, PartialEq)]
pub struct S3Requests {
    /// Bucket name.
    pub bucket: String,
    /// Request-metrics filter id.
    pub filter_id: String,
    /// Request metric that counts the total (default `PutRequests`).
    pub request_metric: String,
    /// Count 4xx as errors too.
    pub count_4xx_as_errors: bool,
}

/// Any CloudWatch metrics as a ratio.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRatio {
    /// CloudWatch namespace.
    pub namespace: String,
    /// Metrics summed as errors.
    pub error_metrics: Vec<String>,
    /// The total: one metric, or the good metrics plus the errors.
    pub total: RatioTotal,
    /// Dimensions shared by every metric.
    pub dimensions: BTreeMap<String, String>,
    /// Statistic (default `Sum`).
    pub stat: String,
}

/// How [`MetricRatio`] gets its total.
#[derive(Clone, Debug, PartialEq)]
pub enum RatioTotal {
    /// A metric that counts every event.
    Metric(String),
    /// Metrics counting good events; total = good + errors.
    Good(Vec<String>),
}

/// Step Functions execution success.
#[derive(Clone, Debug, PartialEq)]
pub struct StepFunctionsSuccess {
    /// State machine ARN.
    pub state_machine_arn: String,
}

/// Step Functions execution latency from execution start/stop dates.
#[derive(Clone, Debug, PartialEq)]
pub struct StepFunctionsLatency {
    /// State machine ARN.
    pub state_machine_arn: String,
    /// Executions that succeed within this time are good.
    pub threshold: Duration,
}

/// AWS Batch job success per queue.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchJobSuccess {
    /// Job queue name.
    pub job_queue: String,
}

/// The ids burnwatch knows, for "unknown plugin" messages.
pub const KNOWN_PLUGIN_IDS: [&str; 6] = [
    "burnwatch/cloudwatch/alb-availability/v1",
    "burnwatch/cloudwatch/s3-requests/v1",
    "burnwatch/cloudwatch/metric-ratio/v1",
    "burnwatch/stepfunctions/success/v1",
    "burnwatch/stepfunctions/latency/v1",
    "burnwatch/batch/job-success/v1",
];

impl PluginSli {
    /// The plugin id as written in specs.
    pub fn id(&self) -> &'static str {
        match self {
            PluginSli::AlbAvailability(_) => KNOWN_PLUGIN_IDS[0],
            PluginSli::S3Requests(_) => KNOWN_PLUGIN_IDS[1],
            PluginSli::MetricRatio(_) => KNOWN_PLUGIN_IDS[2],
            PluginSli::StepFunctionsSuccess(_) => KNOWN_PLUGIN_IDS[3],
            PluginSli::StepFunctionsLatency(_) => KNOWN_PLUGIN_IDS[4],
            PluginSli::BatchJobSuccess(_) => KNOWN_PLUGIN_IDS[5],
        }
    }

    /// Check `options` for plugin `id`. Every problem is returned (option name, message);
    /// an option name of `""` means the problem is with the id itself.
    pub fn parse(
        id: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<PluginSli, Vec<(String, String)>> {
        let mut o = Options {
            options,
            problems: Vec::new(),
            used: Vec::new(),
        };
        let sli = match id {
            "burnwatch/cloudwatch/alb-availability/v1" => {
                PluginSli::AlbAvailability(AlbAvailability {
                    load_balancer: o.required("load_balancer"),
                    count_4xx_as_errors: o.flag("count_4xx_as_errors"),
                })
            }
            "burnwatch/cloudwatch/s3-requests/v1" => PluginSli::S3Requests(S3Requests {
                bucket: o.required("bucket"),
                filter_id: o.required("filter_id"),
                request_metric: o
                    .optional("request_metric")
                    .unwrap_or_else(|| "PutRequests".into()),
                count_4xx_as_errors: o.flag("count_4xx_as_errors"),
            }),
            "burnwatch/cloudwatch/metric-ratio/v1" => {
                let namespace = o.required("namespace");
                let error_metrics = split_list(&o.required("error_metrics"));
                let total = match (o.optional("total_metric"), o.optional("good_metrics")) {
                    (Some(t), None) => RatioTotal::Metric(t),
                    (None, Some(g)) => RatioTotal::Good(split_list(&g)),
                    (Some(_), Some(_)) => {
                        o.problem(
                            "good_metrics",
                            "set either total_metric or good_metrics, not both",
                        );
                        RatioTotal::Metric(String::new())
                    }
                    (None, None) => {
                        o.problem(
                            "",
                            "one of the options total_metric or good_metrics is required",
                        );
                        RatioTotal::Metric(String::new())
                    }
                };
                let dimensions = o.dimensions("dimensions");
                PluginSli::MetricRatio(MetricRatio {
                    namespace,
                    error_metrics,
                    total,
                    dimensions,
                    stat: o.optional("stat").unwrap_or_else(|| "Sum".into()),
                })
            }
            "burnwatch/stepfunctions/success/v1" => {
                PluginSli::StepFunctionsSuccess(StepFunctionsSuccess {
                    state_machine_arn: o.arn("state_machine_arn"),
                })
            }
            "burnwatch/stepfunctions/latency/v1" => {
                PluginSli::StepFunctionsLatency(StepFunctionsLatency {
                    state_machine_arn: o.arn("state_machine_arn"),
                    threshold: o.duration("threshold"),
                })
            }
            "burnwatch/batch/job-success/v1" => PluginSli::BatchJobSuccess(BatchJobSuccess {
                job_queue: o.required("job_queue"),
            }),
            _ => {
                return Err(vec![(
                    String::new(),
                    format!(
                        "unknown SLI plugin {id:?}; burnwatch implements: {}",
                        KNOWN_PLUGIN_IDS.join(", ")
                    ),
                )]);
            }
        };
        for key in options.keys() {
            if !o.used.iter().any(|u| u == key) {
                o.problems.push((
                    key.clone(),
                    format!(
                        "unknown option {key:?} for SLI plugin {id}; known options: {}",
                        o.used.join(", ")
                    ),
                ));
            }
        }
        if o.problems.is_empty() {
            Ok(sli)
        } else {
            Err(o.problems)
        }
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

struct Options<'a> {
    options: &'a BTreeMap<String, String>,
    problems: Vec<(String, String)>,
    used: Vec<String>,
}

impl Options<'_> {
    fn problem(&mut self, key: &str, msg: impl Into<String>) {
        self.problems.push((key.to_string(), msg.into()));
    }
    fn optional(&mut self, key: &str) -> Option<String> {
        self.used.push(key.to_string());
        self.options.get(key).map(|v| v.trim().to_string())
    }
    fn required(&mut self, key: &str) -> String {
        match self.optional(key) {
            Some(v) if !v.is_empty() => v,
            Some(_) => {
                self.problem(key, format!("option {key:?} must not be empty"));
                String::new()
            }
            None => {
                self.problem("", format!("option {key:?} is required"));
                String::new()
            }
        }
    }
    fn flag(&mut self, key: &str) -> bool {
        match self.optional(key).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                self.problem(
                    key,
                    format!("option {key:?} must be \"true\" or \"false\", not {other:?}"),
                );
                false
            }
        }
    }
    fn arn(&mut self, key: &str) -> String {
        let v = self.required(key);
        let looks_like_arn =
            v.starts_with("arn:") && v.contains(":states:") && v.contains(":stateMachine:");
        if !v.is_empty() && !looks_like_arn {
            self.problem(
                key,
                format!("option {key:?} must be a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME), not {v:?}"),
            );
        }
        v
    }
    fn duration(&mut self, key: &str) -> Duration {
        let v = self.required(key);
        if v.is_empty() {
            return Duration::default();
        }
        match Duration::parse_positive(&v) {
            Ok(d) => d,
            Err(e) => {
                self.problem(key, format!("option {key:?}: {e}"));
                Duration::default()
            }
        }
    }
    fn dimensions(&mut self, key: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(v) = self.optional(key) else {
            return out;
        };
        for part in split_list(&v) {
            match part.split_once('=') {
                Some((k, val)) if !k.trim().is_empty() && !val.trim().is_empty() => {
                    out.insert(k.trim().to_string(), val.trim().to_string());
                }
                _ => self.problem(key, format!("option {key:?}: {part:?} is not NAME=VALUE")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn alb_requires_load_balancer() {
        let err =
            PluginSli::parse("burnwatch/cloudwatch/alb-availability/v1", &opts(&[])).unwrap_err();
        assert_eq!(
            err,
            vec![(
                String::new(),
                "option \"load_balancer\" is required".to_string()
            )]
        );
        let ok = PluginSli::parse(
            "burnwatch/cloudwatch/alb-availability/v1",
            &opts(&[
                ("load_balancer", "app/x/0123456789abcdef"),
                ("count_4xx_as_errors", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(
            ok,
            PluginSli::AlbAvailability(AlbAvailability {
                load_balancer: "app/x/0123456789abcdef".into(),
                count_4xx_as_errors: true
            })
        );
    }

    #[test]
    fn unknown_id_names_known_ids() {
        let err = PluginSli::parse("sloth-common/availability", &opts(&[])).unwrap_err();
        assert!(
            err[0].1.contains("burnwatch/batch/job-success/v1"),
            "{err:?}"
        );
    }

    #[test]
    fn metric_ratio_parses_lists_and_dimensions() {
        let sli = PluginSli::parse(
            "burnwatch/cloudwatch/metric-ratio/v1",
            &opts(&[
                ("namespace", "MassSpec/API"),
                ("error_metrics", "UploadsFailed, UploadsRejected"),
                ("total_metric", "UploadsAttempted"),
                ("dimensions", "Service=api,Env=prod"),
            ]),
        )
        .unwrap();
        let PluginSli::MetricRatio(m) = sli else {
            panic!()
        };
        assert_eq!(m.error_metrics, vec!["UploadsFailed", "UploadsRejected"]);
        assert_eq!(m.dimensions.get("Env").map(String::as_str), Some("prod"));
        assert_eq!(m.stat, "Sum");
    }

    #[test]
    fn unknown_options_and_bad_values_are_reported() {
        let err = PluginSli::parse(
            "burnwatch/stepfunctions/latency/v1",
            &opts(&[
                ("state_machine_arn", "nope"),
                ("threshold", "30 minutes"),
                ("tresh", "1"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
    }
}
