//! Every metric burnwatch exposes, declared in one place (Vector's `internal_events`
//! style): the `burnwatch_*` self metrics each stage updates, and the Sloth-named SLO
//! series rendered from the [`StatusBoard`] at scrape time.
//!
//! Stages receive a [`Telemetry`] (cheap to clone: every handle is an `Arc`) and call its
//! named methods or handles; nobody registers metrics elsewhere, so `/metrics` is
//! documented by this file.
//!
//! The SLO series keep Sloth's names (`slo:sli_error:ratio_rate5m`, ...) and labels
//! (`sloth_id`, `sloth_service`, `sloth_slo`, `sloth_window`, then the SLO's labels) so
//! dashboards built for Sloth work unchanged. `promtool check metrics` lints colons in
//! names ("metric names should not contain ':'"): that rule targets direct
//! instrumentation, while these series are recording-rule results by design, like
//! Prometheus' own `/federate` output. Every other series passes the linter cleanly.

pub mod sources;
pub mod store;
pub mod tasks;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::spec::Labels;
use crate::status::{AlertStatus, SloSnapshot, StatusBoard};

/// `Content-Type` of the exposition served at `/metrics` (Prometheus text 0.0.4, what
/// `promtool check metrics` and every Prometheus version read).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Labels of per-receiver series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceiverLabels {
    /// `alertmanager:<url>` or `sns:<topic arn>`.
    pub receiver: String,
}

/// Labels of delivered notifications.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SentLabels {
    /// The receiver.
    pub receiver: String,
    /// `firing` or `resolved`.
    pub state: String,
}

/// Labels of failed deliveries.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailedLabels {
    /// The receiver.
    pub receiver: String,
    /// `unavailable` (will be retried), `rejected` (given up) or `invalid` (unreadable
    /// outbox row, given up).
    pub reason: String,
}

/// Labels of source series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// Source kind (`cloudwatch`, `prometheus`, `replay`, ...).
    pub source: String,
}

/// Labels of source API calls.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiCallLabels {
    /// Source kind.
    pub source: String,
    /// API operation (`GetMetricData`, `query_range`, ...).
    pub api: String,
}

/// Labels of bad SLI data that was handled (and not counted as good).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BadDataLabels {
    /// The SLO.
    pub sloth_id: String,
    /// `gap`, `nan`, `errors_exceed_total`, ...
    pub reason: String,
}

/// Labels of per-target probe series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    /// Probe target name.
    pub target: String,
}

/// Labels of probe step durations.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeStepLabels {
    /// Probe target name.
    pub target: String,
    /// `dns`, `tcp`, `tls`, `auth`, `query`, `saturation`, `rds_status`.
    pub step: String,
}

/// Labels of probe results.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeResultLabels {
    /// Probe target name.
    pub target: String,
    /// The run's classification (`healthy`, `auth_failed`, ...).
    pub classification: String,
}

/// Labels of the build info series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

pub(crate) type FloatGauge = Gauge<f64, AtomicU64>;

/// Handles on every `burnwatch_*` metric, plus the registry that renders them.
#[derive(Clone)]
pub struct Telemetry {
    registry: Arc<Registry>,
    /// `burnwatch_ready`: 1 once backfill finished and the first evaluation published.
    pub ready: Gauge,
    /// `burnwatch_notifications_sent_total{receiver,state}`: accepted by the receiver.
    pub notifications_sent: Family<SentLabels, Counter>,
    /// `burnwatch_notifications_failed_total{receiver,reason}`: failed attempts.
    pub notifications_failed: Family<FailedLabels, Counter>,
    /// `burnwatch_outbox_depth{receiver}`: notifications waiting for their receiver.
    pub outbox_depth: Family<ReceiverLabels, Gauge>,
    /// `burnwatch_outbox_oldest_age_seconds`: age of the oldest waiting notification
    /// (how late the latest page could be); 0 when the outbox is empty.
    pub outbox_oldest_age: FloatGauge,
    /// `burnwatch_source_fetch_errors_total{source}`.
    pub source_fetch_errors: Family<SourceLabels, Counter>,
    /// `burnwatch_source_api_calls_total{source,api}`.
    pub source_api_calls: Family<ApiCallLabels, Counter>,
    /// `burnwatch_source_datapoints_total{source}`.
    pub source_datapoints: Family<SourceLabels, Counter>,
    /// `burnwatch_sli_bad_data_total{sloth_id,reason}`: gaps, NaN, errors > total...
    pub sli_bad_data: Family<BadDataLabels, Counter>,
    /// `burnwatch_evaluations_total`.
    pub evaluations: Counter,
    /// `burnwatch_evaluation_failures_total`.
    pub evaluation_failures: Counter,
    /// `burnwatch_evaluations_missed_total`: scheduled ticks skipped because the previous
    /// evaluation overran.
    pub evaluations_missed: Counter,
    /// `burnwatch_transitions_dropped_total`: alert transitions of failed commits dropped
    /// from the in-memory backlog because the store kept failing past its cap.
    pub transitions_dropped: Counter,
    /// `burnwatch_evaluation_duration_seconds`.
    pub evaluation_duration: Histogram,
    /// `burnwatch_probe_success{target}`: 1 when the target's last probe run was healthy.
    /// Set through [`Telemetry::record_probe_run`].
    pub probe_success: Family<TargetLabels, Gauge>,
    /// `burnwatch_probe_step_duration_seconds{target,step}`: each step of the last run
    /// (steps the last run did not reach are removed).
    pub probe_step_duration: Family<ProbeStepLabels, FloatGauge>,
    /// `burnwatch_probe_classification{target,classification}`: 1 for the last run's
    /// classification, 0 for every other one of the fixed vocabulary.
    pub probe_classification: Family<ProbeResultLabels, Gauge>,
    /// `burnwatch_probe_runs_total{target,classification}`.
    pub probe_runs: Family<ProbeResultLabels, Counter>,
    /// The live sources' cost, RDS and Batch series.
    pub sources: sources::SourceTelemetry,
    /// The history store's size and retention series.
    pub store: store::StoreTelemetry,
    /// Restarts of the daemon's background tasks.
    pub tasks: tasks::TaskTelemetry,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

fn seconds_buckets() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 4.0, 9))
}

impl Telemetry {
    /// Declare every metric; SLO series are read from `board` at each scrape.
    pub fn new(board: StatusBoard) -> Self {
        let mut registry = Registry::default();
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register("burnwatch_build_info", "burnwatch version; always 1", build);
        let mut t = Telemetry {
            registry: Arc::new(Registry::default()),
            ready: Gauge::default(),
            notifications_sent: Family::default(),
            notifications_failed: Family::default(),
            outbox_depth: Family::default(),
            outbox_oldest_age: FloatGauge::default(),
            source_fetch_errors: Family::default(),
            source_api_calls: Family::default(),
            source_datapoints: Family::default(),
            sli_bad_data: Family::default(),
            evaluations: Counter::default(),
            evaluation_failures: Counter::default(),
            evaluations_missed: Counter::default(),
            transitions_dropped: Counter::default(),
            evaluation_duration: seconds_buckets(),
            probe_success: Family::default(),
            probe_step_duration: Family::default(),
            probe_classification: Family::default(),
            probe_runs: Family::default(),
            sources: sources::SourceTelemetry::default(),
            store: store::StoreTelemetry::default(),
            tasks: tasks::TaskTelemetry::default(),
        };
        let r = &mut registry;
        t.sources = sources::SourceTelemetry::register(r);
        t.store = store::StoreTelemetry::register(r);
        t.tasks = tasks::TaskTelemetry::register(r);
        r.register(
            "burnwatch_ready",
            "1 once backfill finished and SLOs are evaluated",
            t.ready.clone(),
        );
        r.register(
            "burnwatch_notifications_sent",
            "Notifications accepted by a receiver",
            t.notifications_sent.clone(),
        );
        r.register(
            "burnwatch_notifications_failed",
            "Failed delivery attempts (unavailable: retried; rejected, invalid, expired: given up)",
            t.notifications_failed.clone(),
        );
        r.register(
            "burnwatch_outbox_depth",
            "Notifications stored and waiting for their receiver",
            t.outbox_depth.clone(),
        );
        r.register(
            "burnwatch_outbox_oldest_age_seconds",
            "Age of the oldest waiting notification; 0 when the outbox is empty",
            t.outbox_oldest_age.clone(),
        );
        r.register(
            "burnwatch_source_fetch_errors",
            "Failed fetches from an SLI source",
            t.source_fetch_errors.clone(),
        );
        r.register(
            "burnwatch_source_api_calls",
            "API calls made to an SLI source",
            t.source_api_calls.clone(),
        );
        r.register(
            "burnwatch_source_datapoints",
            "Datapoints received from an SLI source",
            t.source_datapoints.clone(),
        );
        r.register(
            "burnwatch_sli_bad_data",
            "SLI data that was handled as missing or invalid rather than counted as good",
            t.sli_bad_data.clone(),
        );
        r.register(
            "burnwatch_evaluations",
            "SLO evaluation ticks run",
            t.evaluations.clone(),
        );
        r.register(
            "burnwatch_evaluation_failures",
            "SLO evaluation ticks that failed",
            t.evaluation_failures.clone(),
        );
        r.register(
            "burnwatch_evaluations_missed",
            "Scheduled evaluation ticks skipped because the previous one overran",
            t.evaluations_missed.clone(),
        );
        r.register(
            "burnwatch_transitions_dropped",
            "Alert transitions dropped from the unsaved backlog while the store kept failing",
            t.transitions_dropped.clone(),
        );
        r.register(
            "burnwatch_evaluation_duration_seconds",
            "Duration of one SLO evaluation tick",
            t.evaluation_duration.clone(),
        );
        r.register(
            "burnwatch_probe_success",
            "1 when the last database probe run of the target was healthy, else 0",
            t.probe_success.clone(),
        );
        r.register(
            "burnwatch_probe_step_duration_seconds",
            "Duration of each step of the last database probe run, in seconds",
            t.probe_step_duration.clone(),
        );
        r.register(
            "burnwatch_probe_classification",
            "1 for the classification of the last database probe run, 0 for the others",
            t.probe_classification.clone(),
        );
        r.register(
            "burnwatch_probe_runs",
            "Database probe runs by result classification",
            t.probe_runs.clone(),
        );
        r.register_collector(Box::new(SlothSeries { board }));
        t.registry = Arc::new(registry);
        t
    }

    /// The exposition for `/metrics` (Prometheus text format 0.0.4).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Count a notification the receiver accepted.
    pub fn notification_sent(&self, receiver: &str, state: &str) {
        self.notifications_sent
            .get_or_create(&SentLabels {
                receiver: receiver.to_string(),
                state: state.to_string(),
            })
            .inc();
    }

    /// Count a failed delivery attempt.
    pub fn notification_failed(&self, receiver: &str, reason: &str) {
        self.notifications_failed
            .get_or_create(&FailedLabels {
                receiver: receiver.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Set the outbox depth of every receiver; receivers not in `depths` (but in
    /// `receivers`) are set to 0, so a drained outbox shows 0, not a stale value.
    pub fn set_outbox_depth(&self, receivers: &[String], depths: &[(String, u64)]) {
        for r in receivers {
            self.outbox_depth
                .get_or_create(&ReceiverLabels {
                    receiver: r.clone(),
                })
                .set(0);
        }
        for (r, n) in depths {
            self.outbox_depth
                .get_or_create(&ReceiverLabels {
                    receiver: r.clone(),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }
}

/// The fixed vocabulary of probe classifications (design.md, "probe --json output").
pub const PROBE_CLASSIFICATIONS: [&str; 13] = [
    "healthy",
    "dns_failed",
    "tcp_refused",
    "tcp_timeout",
    "tls_failed",
    "auth_failed",
    "db_missing",
    "too_many_connections",
    "db_starting_or_shutting_down",
    "query_failed",
    "query_slow",
    "saturation_high",
    "rds_not_available",
];

/// Steps a database probe may run, in order.
pub const PROBE_STEPS: [&str; 7] = [
    "dns",
    "tcp",
    "tls",
    "auth",
    "query",
    "saturation",
    "rds_status",
];

impl Telemetry {
    /// Record one finished probe run: last-run gauges (success, classification, step
    /// durations; steps this run did not reach are removed) and the run counter.
    pub fn record_probe_run(
        &self,
        target: &str,
        classification: &str,
        healthy: bool,
        steps: &[(&str, f64)],
    ) {
        let t = TargetLabels {
            target: target.to_string(),
        };
        self.probe_success.get_or_create(&t).set(i64::from(healthy));
        for c in PROBE_CLASSIFICATIONS
            .iter()
            .chain((!PROBE_CLASSIFICATIONS.contains(&classification)).then_some(&classification))
        {
            self.probe_classification
                .get_or_create(&ProbeResultLabels {
                    target: target.to_string(),
                    classification: (*c).to_string(),
                })
                .set(i64::from(*c == classification));
        }
        for step in PROBE_STEPS {
            let labels = ProbeStepLabels {
                target: target.to_string(),
                step: step.to_string(),
            };
            match steps.iter().find(|(s, _)| *s == step) {
                Some((_, secs)) => {
                    self.probe_step_duration.get_or_create(&labels).set(*secs);
                }
                None => {
                    self.probe_step_duration.remove(&labels);
                }
            }
        }
        self.probe_runs
            .get_or_create(&ProbeResultLabels {
                target: target.to_string(),
                classification: classification.to_string(),
            })
            .inc();
    }
}

/// Renders the Sloth-named SLO series from the current status at scrape time.
#[derive(Debug)]
struct SlothSeries {
    board: StatusBoard,
}

/// `sloth_mode` of series produced by the daemon (Sloth uses `cli-gen-prom`, ...).
pub const SLOTH_MODE: &str = "burnwatch-daemon";

type Sample = (Vec<(String, String)>, f64);

impl Collector for SlothSeries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = self.board.current();
        let mut families: Vec<(String, &'static str, Vec<Sample>)> = Vec::new();

        // SLI error ratios: one family per window, ascending like Sloth's rules.
        let mut windows: Vec<crate::spec::Duration> = status
            .slos
            .iter()
            .flat_map(|s| s.windows.iter().map(|w| w.window))
            .collect();
        windows.sort();
        windows.dedup();
        for w in windows {
            let samples = status
                .slos
                .iter()
                .flat_map(|s| {
                    s.windows
                        .iter()
                        .filter(move |r| r.window == w)
                        .filter_map(move |r| {
                            r.error_ratio
                                .map(|v| (labels(s, Some(&w.to_string()), &[]), v))
                        })
                })
                .collect();
            families.push((
                format!("slo:sli_error:ratio_rate{w}"),
                "SLI error ratio over the window named in the metric (exact events, not averaged ratios)",
                samples,
            ));
        }
        let per_slo = |f: &dyn Fn(&SloSnapshot) -> Option<f64>| -> Vec<Sample> {
            status
                .slos
                .iter()
                .filter_map(|s| f(s).map(|v| (labels(s, None, &[]), v)))
                .collect()
        };
        families.push((
            "slo:objective:ratio".into(),
            "SLO objective as a ratio",
            per_slo(&|s| Some(s.objective / 100.0)),
        ));
        families.push((
            "slo:error_budget:ratio".into(),
            "SLO error budget as a ratio (1 - objective)",
            per_slo(&|s| Some(s.error_budget_ratio())),
        ));
        families.push((
            "slo:time_period:days".into(),
            "SLO period in days",
            per_slo(&|s| Some(s.period.hours() / 24.0)),
        ));
        families.push((
            "slo:current_burn_rate:ratio".into(),
            "Error budget burn rate over the shortest alert window",
            per_slo(&|s| s.current_burn_rate),
        ));
        families.push((
            "slo:period_burn_rate:ratio".into(),
            "Error budget burn rate over the SLO period",
            per_slo(&|s| s.period_burn_rate),
        ));
        families.push((
            "slo:period_error_budget_remaining:ratio".into(),
            "Share of the period's error budget remaining (negative when overspent)",
            per_slo(&|s| s.period_error_budget_remaining),
        ));
        let info: Vec<Sample> = status
            .slos
            .iter()
            .map(|s| {
                let objective = format!("{}", s.objective);
                let extra = [
                    ("sloth_mode", SLOTH_MODE),
                    ("sloth_objective", objective.as_str()),
                    ("sloth_spec", s.spec.as_str()),
                    ("sloth_version", env!("CARGO_PKG_VERSION")),
                ];
                (labels(s, None, &extra), 1.0)
            })
            .collect();
        families.push(("sloth_slo_info".into(), "SLO metadata; always 1", info));

        // burnwatch's own alert state, one series per SLO and severity (firing if any
        // alert of that severity fires, e.g. a burn-rate ticket or a data-missing ticket).
        let mut firing: std::collections::BTreeMap<(usize, &str), f64> = Default::default();
        for (i, s) in status.slos.iter().enumerate() {
            for a in &s.alerts {
                let v = if a.status == AlertStatus::Firing {
                    1.0
                } else {
                    0.0
                };
                let e = firing.entry((i, a.severity.as_str())).or_insert(0.0);
                *e = e.max(v);
            }
        }
        let firing: Vec<Sample> = firing
            .into_iter()
            .map(|((i, severity), v)| {
                let s = &status.slos[i];
                let labels = vec![
                    ("sloth_id".to_string(), s.id.clone()),
                    ("sloth_service".to_string(), s.service.clone()),
                    ("sloth_severity".to_string(), severity.to_string()),
                    ("sloth_slo".to_string(), s.name.clone()),
                ];
                (labels, v)
            })
            .collect();
        families.push((
            "burnwatch_slo_alert_firing".into(),
            "1 while burnwatch's multi-window multi-burn-rate alert fires, else 0",
            firing,
        ));

        for (name, help, samples) in &families {
            if samples.is_empty() {
                continue;
            }
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (labels, value) in samples {
                metric.encode_family(labels)?.encode_gauge(value)?;
            }
        }
        Ok(())
    }
}

/// Sloth's label merge: ID labels, then `sloth_window`, then the SLO's labels (later
/// wins), then info labels. Names that are not valid Prometheus label names are dropped
/// (they would make the whole exposition unreadable); spec validation reports them.
fn labels(s: &SloSnapshot, window: Option<&str>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut m = Labels::new();
    m.insert("sloth_id".into(), s.id.clone());
    m.insert("sloth_service".into(), s.service.clone());
    m.insert("sloth_slo".into(), s.name.clone());
    if let Some(w) = window {
        m.insert("sloth_window".into(), w.to_string());
    }
    for (k, v) in &s.labels {
        m.insert(k.clone(), v.clone());
    }
    for (k, v) in extra {
        m.insert((*k).to_string(), (*v).to_string());
    }
    m.into_iter().filter(|(k, _)| valid_label_name(k)).collect()
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests;
