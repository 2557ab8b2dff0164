//! The domain model every later stage reads: one [`Slo`] per objective, independent of the
//! spec format it came from and of Prometheus. Loaders lower Sloth's three formats into it
//! and keep no pointer back to the YAML.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::diag::Pos;
use super::duration::Duration;
use super::plugins::PluginSli;

/// Labels or annotations, sorted by key (the order rule files and alerts use).
pub type Labels = BTreeMap<String, String>;

/// Which Sloth format a document was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpecKind {
    /// `version: prometheus/v1`.
    PrometheusV1,
    /// `apiVersion: sloth.slok.dev/v1`, `kind: PrometheusServiceLevel`.
    K8sPrometheusServiceLevel,
    /// `apiVersion: openslo/v1alpha`, `kind: SLO`.
    OpenSloV1Alpha,
    /// `apiVersion: openslo/v1` (any kind; the file's `SLO` objects become documents).
    OpenSloV1,
}

impl SpecKind {
    /// The value Sloth puts in the `sloth_spec` info label.
    pub fn sloth_spec(self) -> &'static str {
        match self {
            SpecKind::PrometheusV1 => "prometheus/v1",
            SpecKind::K8sPrometheusServiceLevel => "sloth.slok.dev/v1",
            SpecKind::OpenSloV1Alpha => "openslo/v1alpha",
            SpecKind::OpenSloV1 => "openslo/v1",
        }
    }
}

/// One YAML document of a spec file: Sloth generates each document independently.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecDocument {
    /// The file it was read from.
    pub file: PathBuf,
    /// Line of the document's first line in the file (1-based).
    pub line: usize,
    /// Its format.
    pub kind: SpecKind,
    /// The service all its SLOs belong to.
    pub service: String,
    /// Kubernetes object metadata, for `PrometheusServiceLevel` documents (copied to the
    /// generated `PrometheusRule`).
    pub k8s: Option<K8sMeta>,
    /// The objectives, in document order.
    pub slos: Vec<Slo>,
}

/// Metadata of a Kubernetes custom resource.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct K8sMeta {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, if set.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: Labels,
    /// `metadata.annotations`.
    pub annotations: Labels,
}

/// A service level objective, ready for rule generation and evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    /// `<service>-<name>` as in Sloth; the identity used in labels, history and the API.
    pub id: String,
    /// Service name.
    pub service: String,
    /// SLO name within the service.
    pub name: String,
    /// What the user experiences and why this objective (never emitted in rules).
    pub description: String,
    /// Target in percent, in (0, 100].
    pub objective: f64,
    /// SLO labels after Sloth's merge (root, then SLO; CLI extra labels are applied later).
    pub labels: Labels,
    /// How good and bad events are measured.
    pub sli: Sli,
    /// The page alert, if enabled.
    pub page_alert: Option<AlertSpec>,
    /// The ticket alert, if enabled.
    pub ticket_alert: Option<AlertSpec>,
    /// The SLO's own period (OpenSLO `timeWindows`); `None` uses the global period.
    pub period: Option<Duration>,
    /// Where the SLO is defined (the position of its name), for messages in later stages.
    pub source: SourceRef,
}

impl Slo {
    /// The error budget as a ratio: `1 - objective/100`, computed as Sloth does
    /// (`(100 - objective) / 100`), so 99.9 gives `0.0009999999999999432`.
    pub fn error_budget_ratio(&self) -> f64 {
        (100.0 - self.objective) / 100.0
    }
    /// The objective as a ratio (`objective / 100`).
    pub fn objective_ratio(&self) -> f64 {
        self.objective / 100.0
    }
}

/// A file and position, for messages about an SLO after loading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceRef {
    /// The spec file.
    pub file: PathBuf,
    /// The position within it.
    pub pos: Pos,
}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.file.display(),
            self.pos.line,
            self.pos.col
        )
    }
}

/// The service level indicator.
#[derive(Clone, Debug, PartialEq)]
pub enum Sli {
    /// Error and total event queries (PromQL templates with `{{.window}}`).
    Events {
        /// Bad events over the window.
        error_query: String,
        /// All valid events over the window.
        total_query: String,
    },
    /// A query that returns the error ratio directly.
    Raw {
        /// Error ratio over the window (PromQL template with `{{.window}}`).
        error_ratio_query: String,
    },
    /// A built-in burnwatch source (CloudWatch, Step Functions, Batch), named with Sloth's
    /// `sli.plugin` form.
    Plugin(PluginSli),
}

/// An enabled alert (page or ticket) after Sloth's label and annotation merge.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertSpec {
    /// The alert name (`alerting.name`; page and ticket share it).
    pub name: String,
    /// `alerting.labels` merged with the per-alert labels (per-alert wins).
    pub labels: Labels,
    /// `alerting.annotations` merged with the per-alert annotations (per-alert wins).
    pub annotations: Labels,
}

/// Page or ticket: the two alert severities of multi-window multi-burn-rate alerting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Wake someone up.
    Page,
    /// Look at it during working hours.
    Ticket,
}

impl Severity {
    /// The `sloth_severity` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
