//! SLO specs in, Prometheus rule files out: the `generate prometheus` stage.
//!
//! For every SLO this builds Sloth v0.16's three rule groups (SLI recordings, metadata
//! recordings, multi-window multi-burn-rate alerts) with Sloth's names, labels, expressions
//! and number formatting, then renders them as yaml.v2 would, so teams can switch from
//! `sloth generate` without their Prometheus, dashboards or Alertmanager noticing.
//!
//! Beyond Sloth, opt-in [`Options`] fix known Sloth weaknesses without changing the default
//! output: an exact period SLI, a NaN/Inf guard and a no-data alert. burnwatch's AWS plugin
//! SLIs get PromQL over the metrics YACE exports ([`yace`]).
//!
//! Generation is pure: specs and options in, text out. Reading files and writing output
//! belongs to `cli::generate`.

pub mod gofmt;
pub mod k8s;
pub mod sloth;
pub mod yace;
pub mod yaml_out;

use crate::spec::model::{K8sMeta, SourceRef};
use crate::spec::{Duration, Labels, Slo, SpecDocument, SpecKind, WindowCatalog};

/// One Prometheus rule (recording or alerting), with rulefmt's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Recording rule: the series it records.
    pub record: Option<String>,
    /// Alerting rule: the alert name.
    pub alert: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// Alerting rule: how long the expression must hold before firing.
    pub for_: Option<Duration>,
    /// Labels added to the result.
    pub labels: Labels,
    /// Alert annotations.
    pub annotations: Labels,
}

/// A named rule group.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleGroup {
    /// Group name (`sloth-slo-sli-recordings-<id>` ...).
    pub name: String,
    /// The rules in evaluation order.
    pub rules: Vec<Rule>,
}

/// What to generate and how. [`Options::new`] gives Sloth's defaults.
#[derive(Clone, Debug)]
pub struct Options {
    /// Period for SLOs whose spec sets none (Sloth's `--default-slo-period`).
    pub default_period: Duration,
    /// Alert windows per period.
    pub catalog: WindowCatalog,
    /// `-l k=v` labels, merged last into every SLO's labels (recording rules only).
    pub extra_labels: Labels,
    /// Leave out the SLI and metadata recording groups.
    pub disable_recordings: bool,
    /// Leave out the alert groups.
    pub disable_alerts: bool,
    /// Wrap every document in a `PrometheusRule` (`PrometheusServiceLevel` documents always are).
    pub k8s: bool,
    /// Record the period SLI as Σerrors/Σtotal over the period instead of the mean of 5m ratios.
    pub exact_period: bool,
    /// Never record NaN or ±Inf (see [`sloth`] for the exact expressions).
    pub nan_guard: bool,
    /// Emit an `SLIDataMissing` ticket alert per SLO, firing after this long without data.
    pub no_data_for: Option<Duration>,
    /// Leave out (and report) SLOs whose plugin SLI has no PromQL form instead of failing.
    pub skip_unmapped: bool,
    /// Value of the header's version and of the `sloth_version` info label.
    pub version: String,
}

impl Options {
    /// Sloth's defaults: 30d, the built-in catalog, everything generated, nothing extra.
    pub fn new() -> Self {
        Options {
            default_period: Duration::from_days(30),
            catalog: WindowCatalog::builtin(),
            extra_labels: Labels::new(),
            disable_recordings: false,
            disable_alerts: false,
            k8s: false,
            exact_period: false,
            nan_guard: false,
            no_data_for: None,
            skip_unmapped: false,
            version: default_version(),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

/// The default `sloth_version`: says which tool generated the rules.
pub fn default_version() -> String {
    format!("burnwatch-{}", env!("CARGO_PKG_VERSION"))
}

/// Generated output, ready to render.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    /// Plain rule groups (one rule file) or Kubernetes objects.
    pub output: Output,
    /// SLOs left out because their SLI has no PromQL form (only with `skip_unmapped`).
    pub skipped: Vec<Unmapped>,
    /// Header version text.
    pub version: String,
}

/// The two output shapes.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// One Prometheus rule file: all groups of all documents in one `groups:` list.
    ///
    /// Sloth writes one YAML document per spec document, but Prometheus reads only the
    /// first document of a rule file, so burnwatch merges them (same groups, same order).
    Rules(Vec<RuleGroup>),
    /// One `PrometheusRule` object per spec document, each its own YAML document.
    K8s(Vec<k8s::PrometheusRule>),
}

/// An SLO that has no PromQL form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// The SLO id.
    pub slo_id: String,
    /// Where it is defined.
    pub source: SourceRef,
    /// Why there is no PromQL for it.
    pub reason: String,
}

/// Why generation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// A plugin SLI has no PromQL form and `skip_unmapped` is off.
    #[error("{}: SLO {:?} has no Prometheus form: {}", .0.source, .0.slo_id, .0.reason)]
    Unmapped(Unmapped),
    /// The SLO's period has no alert windows.
    #[error("{at}: SLO {slo_id:?}: {message}")]
    Period {
        /// The SLO id.
        slo_id: String,
        /// Where it is defined.
        at: SourceRef,
        /// The catalog's message.
        message: String,
    },
    /// Kubernetes and plain documents would end up in one stream.
    #[error(
        "{file} is a PrometheusServiceLevel (Kubernetes) spec but other specs generate plain rule files; \
         pass --k8s to wrap every spec in a PrometheusRule, or generate them separately"
    )]
    MixedOutput {
        /// The first Kubernetes spec file.
        file: String,
    },
    /// Nothing to write (everything disabled or skipped).
    #[error("0 SLO Prometheus rules generated")]
    NoRules,
}

/// Generate rules for every SLO of every document. All problems are returned, not only the
/// first.
pub fn generate(docs: &[SpecDocument], opts: &Options) -> Result<Generated, Vec<GenerateError>> {
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    let mut per_doc: Vec<(&SpecDocument, Vec<RuleGroup>)> = Vec::new();
    for doc in docs {
        let mut groups = Vec::new();
        for slo in &doc.slos {
            match slo_groups(slo, doc.kind, opts) {
                Ok(g) => groups.extend(g),
                Err(SloProblem::Unmapped(u)) if opts.skip_unmapped => skipped.push(u),
                Err(SloProblem::Unmapped(u)) => errors.push(GenerateError::Unmapped(u)),
                Err(SloProblem::Period(message)) => errors.push(GenerateError::Period {
                    slo_id: slo.id.clone(),
                    at: slo.source.clone(),
                    message,
                }),
            }
        }
        per_doc.push((doc, groups));
    }
    let k8s_file = docs
        .iter()
        .find(|d| d.kind == SpecKind::K8sPrometheusServiceLevel);
    let plain_doc = docs
        .iter()
        .any(|d| d.kind != SpecKind::K8sPrometheusServiceLevel);
    if !opts.k8s
        && plain_doc
        && let Some(d) = k8s_file
    {
        errors.push(GenerateError::MixedOutput {
            file: d.file.display().to_string(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let wrap = opts.k8s || k8s_file.is_some();
    let output = if wrap {
        let names = k8s::object_names(docs);
        let objects: Vec<k8s::PrometheusRule> = per_doc
            .into_iter()
            .zip(names)
            .filter(|((_, groups), _)| !groups.is_empty())
            .map(|((doc, groups), name)| k8s::PrometheusRule {
                meta: doc.k8s.clone().unwrap_or(K8sMeta {
                    name,
                    ..K8sMeta::default()
                }),
                groups,
            })
            .collect();
        if objects.is_empty() {
            return Err(vec![GenerateError::NoRules]);
        }
        Output::K8s(objects)
    } else {
        let groups: Vec<RuleGroup> = per_doc.into_iter().flat_map(|(_, g)| g).collect();
        if groups.is_empty() {
            return Err(vec![GenerateError::NoRules]);
        }
        Output::Rules(groups)
    };
    Ok(Generated {
        output,
        skipped,
        version: opts.version.clone(),
    })
}

/// Why one SLO could not be generated.
enum SloProblem {
    Unmapped(Unmapped),
    Period(String),
}

fn slo_groups(slo: &Slo, kind: SpecKind, opts: &Options) -> Result<Vec<RuleGroup>, SloProblem> {
    let period = slo.period.unwrap_or(opts.default_period);
    let windows = opts
        .catalog
        .require(period)
        .map_err(SloProblem::Period)?
        .clone();
    let sli = sloth::SliTemplate::for_slo(slo).map_err(|reason| {
        SloProblem::Unmapped(Unmapped {
            slo_id: slo.id.clone(),
            source: slo.source.clone(),
            reason,
        })
    })?;
    let ctx = sloth::SloContext::new(slo, kind, &windows, sli, opts);
    Ok(ctx.groups())
}

/// The disclaimer Sloth writes before every YAML document (`internal/storage/io/helper.go`).
pub fn header(version: &str) -> String {
    format!(
        "\n---\n# Code generated by Sloth ({version}): https://github.com/slok/sloth.\n# DO NOT EDIT.\n\n"
    )
}

/// Render as YAML text: header and body per document, yaml.v2 layout.
pub fn render(generated: &Generated) -> String {
    let header = header(&generated.version);
    match &generated.output {
        Output::Rules(groups) => {
            let body = yaml_out::to_string(&rule_file_node(groups));
            format!("{header}{body}")
        }
        Output::K8s(objects) => objects
            .iter()
            .map(|o| format!("{header}{}", yaml_out::to_string(&o.to_node())))
            .collect(),
    }
}

/// `{groups: [...]}` with rulefmt's field order (`record, alert, expr, for, labels, annotations`).
fn rule_file_node(groups: &[RuleGroup]) -> yaml_out::Node {
    use yaml_out::Node;
    let groups = groups
        .iter()
        .map(|g| {
            let rules = g.rules.iter().map(rule_node_rulefmt).collect();
            Node::Map(vec![
                ("name".into(), Node::str(&g.name)),
                ("rules".into(), Node::Seq(rules)),
            ])
        })
        .collect();
    Node::Map(vec![("groups".into(), Node::Seq(groups))])
}

fn rule_node_rulefmt(r: &Rule) -> yaml_out::Node {
    use yaml_out::Node;
    let mut m = Vec::new();
    if let Some(rec) = &r.record {
        m.push(("record".into(), Node::str(rec)));
    }
    if let Some(a) = &r.alert {
        m.push(("alert".into(), Node::str(a)));
    }
    m.push(("expr".into(), Node::str(&r.expr)));
    if let Some(f) = r.for_ {
        m.push(("for".into(), Node::str(f.to_string())));
    }
    if !r.labels.is_empty() {
        m.push(("labels".into(), Node::sorted_map(&r.labels)));
    }
    if !r.annotations.is_empty() {
        m.push(("annotations".into(), Node::sorted_map(&r.annotations)));
    }
    Node::Map(m)
}
