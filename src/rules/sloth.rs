//! Sloth v0.16's rule groups for one SLO, built exactly as its default plugin chain does
//! (`sli_rules/v1`, `metadata_rules/v1`, `alert_rules/v1`; see `sloth-compat.md` §6), plus
//! burnwatch's opt-in extras.
//!
//! Extras, each off by default so the output stays Sloth's:
//! - exact period ([`super::Options::exact_period`]): the period SLI is the SLI template
//!   over the whole period (Σerrors/Σtotal), not the mean of the stored 5m ratios, which is
//!   biased when traffic is uneven (Sloth #241, #618);
//! - NaN guard ([`super::Options::nan_guard`]): every SLI recording becomes
//!   `clamp_max((<sli>) >= 0, 1)`, so 0/0 (no traffic) records *no sample* instead of NaN
//!   (one NaN poisons Sloth's 30-day mean, #133) and x/0 or errors > total record 1;
//!   with objective 100 (zero budget, #749) the burn-rate rules, which can only be NaN or
//!   +Inf, are left out and the budget remaining is 1 without errors, 0 with any;
//! - no-data alert ([`super::Options::no_data_for`]): `SLIDataMissing`, a ticket when the
//!   short-window SLI has had no usable sample for the given time (Sloth has none).

use crate::spec::validate::render_window;
use crate::spec::{AlertSpec, AlertWindows, BurnWindow, Duration, Labels, Sli, Slo, SpecKind};

use super::{Options, Rule, RuleGroup, gofmt, yace};

/// Name of the optional no-data alert.
pub const NO_DATA_ALERT: &str = "SLIDataMissing";

/// How the SLI error ratio is written for a window.
#[derive(Clone, Debug, PartialEq)]
pub enum SliTemplate {
    /// Error and total query templates.
    Events {
        /// Bad events.
        error: String,
        /// All events.
        total: String,
    },
    /// An error-ratio query template.
    Raw {
        /// The error ratio.
        ratio: String,
    },
}

impl SliTemplate {
    /// The SLO's SLI as PromQL templates; plugin SLIs go through the YACE mapping, and an
    /// `Err` says why a plugin SLI has none.
    pub fn for_slo(slo: &Slo) -> Result<Self, String> {
        match &slo.sli {
            Sli::Events {
                error_query,
                total_query,
            } => Ok(SliTemplate::Events {
                error: error_query.clone(),
                total: total_query.clone(),
            }),
            Sli::Raw { error_ratio_query } => Ok(SliTemplate::Raw {
                ratio: error_ratio_query.clone(),
            }),
            Sli::Plugin(p) => yace::error_ratio_query(p).map(|ratio| SliTemplate::Raw { ratio }),
        }
    }

    /// Sloth's SLI expression for `window`: events `(<error>)\n/\n(<total>)\n`, raw `(<ratio>)`.
    pub fn expr(&self, window: &str) -> String {
        match self {
            SliTemplate::Events { error, total } => format!(
                "({})\n/\n({})\n",
                render_window(error, window),
                render_window(total, window)
            ),
            SliTemplate::Raw { ratio } => format!("({})", render_window(ratio, window)),
        }
    }
}

/// The recorded SLI series for a window: `slo:sli_error:ratio_rate5m`.
pub fn sli_metric(window: Duration) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// Everything needed to build one SLO's groups.
pub struct SloContext<'a> {
    slo: &'a Slo,
    kind: SpecKind,
    windows: AlertWindows,
    sli: SliTemplate,
    opts: &'a Options,
    /// SLO labels after root, SLO and `--extra-labels` (later wins).
    labels: Labels,
    /// `sloth_id`, `sloth_service`, `sloth_slo`.
    id_labels: Labels,
    /// `{sloth_id="…", sloth_service="…", sloth_slo="…"}`.
    filter: String,
}

impl<'a> SloContext<'a> {
    /// Prepare generation for `slo` with its period's `windows`.
    pub fn new(
        slo: &'a Slo,
        kind: SpecKind,
        windows: &AlertWindows,
        sli: SliTemplate,
        opts: &'a Options,
    ) -> Self {
        let mut labels = slo.labels.clone();
        labels.extend(opts.extra_labels.clone());
        let id_labels: Labels = [
            ("sloth_id", &slo.id),
            ("sloth_service", &slo.service),
            ("sloth_slo", &slo.name),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        let filter = format!(
            "{{{}}}",
            id_labels
                .iter()
                .map(|(k, v)| format!("{k}={}", gofmt::quote(v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        SloContext {
            slo,
            kind,
            windows: windows.clone(),
            sli,
            opts,
            labels,
            id_labels,
            filter,
        }
    }

    /// The SLO's groups in Sloth's order; empty groups are left out.
    pub fn groups(&self) -> Vec<RuleGroup> {
        let id = &self.slo.id;
        let mut groups = Vec::new();
        if !self.opts.disable_recordings {
            groups.push(RuleGroup {
                name: format!("sloth-slo-sli-recordings-{id}"),
                rules: self.sli_rules(),
            });
            groups.push(RuleGroup {
                name: format!("sloth-slo-meta-recordings-{id}"),
                rules: self.meta_rules(),
            });
        }
        if !self.opts.disable_alerts {
            groups.push(RuleGroup {
                name: format!("sloth-slo-alerts-{id}"),
                rules: self.alert_rules(),
            });
        }
        groups.retain(|g| !g.rules.is_empty());
        groups
    }

    fn period(&self) -> Duration {
        self.windows.period
    }

    fn merged(parts: &[&Labels]) -> Labels {
        let mut out = Labels::new();
        for p in parts {
            out.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    fn sli_rules(&self) -> Vec<Rule> {
        let short = self.windows.page_quick.short;
        self.windows
            .sli_windows()
            .into_iter()
            .map(|w| {
                let expr = if w == self.period() && !self.opts.exact_period {
                    // Sloth's optimisation: the mean of the stored short-window ratios.
                    let m = sli_metric(short);
                    let f = &self.filter;
                    format!(
                        "sum_over_time({m}{f}[{w}])\n/ ignoring (sloth_window)\ncount_over_time({m}{f}[{w}])\n"
                    )
                } else {
                    self.guard(self.sli.expr(&w.to_string()))
                };
                let window_label: Labels = [("sloth_window".to_string(), w.to_string())].into();
                Rule {
                    record: Some(sli_metric(w)),
                    alert: None,
                    expr,
                    for_: None,
                    labels: Self::merged(&[&self.id_labels, &window_label, &self.labels]),
                    annotations: Labels::new(),
                }
            })
            .collect()
    }

    fn guard(&self, expr: String) -> String {
        if self.opts.nan_guard {
            format!("clamp_max(({}) >= 0, 1)\n", expr.trim_end())
        } else {
            expr
        }
    }

    fn meta_rules(&self) -> Vec<Rule> {
        let labels = Self::merged(&[&self.id_labels, &self.labels]);
        let f = &self.filter;
        let ratio = gofmt::g(self.slo.objective / 100.0);
        let burn_rate = |window: Duration| {
            format!(
                "{}{f}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\nslo:error_budget:ratio{f}\n",
                sli_metric(window)
            )
        };
        let record = |name: &str, expr: String| Rule {
            record: Some(name.to_string()),
            alert: None,
            expr,
            for_: None,
            labels: labels.clone(),
            annotations: Labels::new(),
        };
        let zero_budget = self.opts.nan_guard && self.slo.error_budget_ratio() == 0.0;
        let mut rules = vec![
            record("slo:objective:ratio", format!("vector({ratio})")),
            record("slo:error_budget:ratio", format!("vector(1-{ratio})")),
            record(
                "slo:time_period:days",
                format!("vector({})", gofmt::g(self.period().hours() / 24.0)),
            ),
        ];
        if zero_budget {
            // x/0 is NaN or +Inf: with no budget there is no burn rate, only "any error
            // exhausts it".
            rules.push(record(
                "slo:period_error_budget_remaining:ratio",
                format!("1 - ({}{f} > bool 0)", sli_metric(self.period())),
            ));
        } else {
            rules.push(record(
                "slo:current_burn_rate:ratio",
                burn_rate(self.windows.page_quick.short),
            ));
            rules.push(record(
                "slo:period_burn_rate:ratio",
                burn_rate(self.period()),
            ));
            rules.push(record(
                "slo:period_error_budget_remaining:ratio",
                format!("1 - slo:period_burn_rate:ratio{f}"),
            ));
        }
        let mode = match self.kind {
            SpecKind::PrometheusV1 => "cli-gen-prom",
            SpecKind::K8sPrometheusServiceLevel => "cli-gen-k8s",
            SpecKind::OpenSloV1Alpha | SpecKind::OpenSloV1 => "cli-gen-openslo",
        };
        let info: Labels = [
            ("sloth_version", self.opts.version.clone()),
            ("sloth_mode", mode.to_string()),
            ("sloth_spec", self.kind.sloth_spec().to_string()),
            ("sloth_objective", gofmt::f(self.slo.objective)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut info_rule = record("sloth_slo_info", "vector(1)".into());
        info_rule.labels = Self::merged(&[&labels, &info]);
        rules.push(info_rule);
        rules
    }

    fn alert_rules(&self) -> Vec<Rule> {
        let w = &self.windows;
        let mut rules = Vec::new();
        if let Some(a) = &self.slo.page_alert {
            rules.push(self.mwmb_alert(a, "page", &w.page_quick, &w.page_slow));
        }
        if let Some(a) = &self.slo.ticket_alert {
            rules.push(self.mwmb_alert(a, "ticket", &w.ticket_quick, &w.ticket_slow));
        }
        if let Some(for_) = self.opts.no_data_for
            && !rules.is_empty()
        {
            rules.push(self.no_data_alert(for_));
        }
        rules
    }

    fn mwmb_alert(
        &self,
        alert: &AlertSpec,
        severity: &str,
        quick: &BurnWindow,
        slow: &BurnWindow,
    ) -> Rule {
        let f = &self.filter;
        let eb = gofmt::g(self.slo.error_budget_ratio());
        let cond = |window: Duration, factor: f64| {
            format!(
                "max({}{f} > ({} * {eb})) without (sloth_window)",
                sli_metric(window),
                gofmt::g(factor)
            )
        };
        let period = self.period();
        let (qf, sf) = (quick.factor(period), slow.factor(period));
        let expr = format!(
            "(\n    {}\n    and\n    {}\n)\nor\n(\n    {}\n    and\n    {}\n)\n",
            cond(quick.short, qf),
            cond(quick.long, qf),
            cond(slow.short, sf),
            cond(slow.long, sf),
        );
        let mut labels: Labels = [("sloth_severity".to_string(), severity.to_string())].into();
        labels.extend(alert.labels.clone());
        let mut annotations: Labels = [
            (
                "title".to_string(),
                format!(
                    "({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast."
                ),
            ),
            (
                "summary".to_string(),
                "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.".to_string(),
            ),
        ]
        .into();
        annotations.extend(alert.annotations.clone());
        Rule {
            record: None,
            alert: Some(alert.name.clone()),
            expr,
            for_: None,
            labels,
            annotations,
        }
    }

    fn no_data_alert(&self, for_: Duration) -> Rule {
        // Route like the ticket: its labels (not the page's, which would page).
        let ticket = self.slo.ticket_alert.as_ref();
        let mut labels = Self::merged(&[&self.id_labels, &self.labels]);
        labels.insert("sloth_severity".into(), "ticket".into());
        if let Some(t) = ticket {
            labels.extend(t.labels.clone());
        }
        let mut annotations = Labels::new();
        if let Some(a) = ticket.or(self.slo.page_alert.as_ref()) {
            annotations.extend(
                a.annotations
                    .iter()
                    .filter(|(k, _)| *k != "title" && *k != "summary")
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        // `$labels` in annotations are the expression's labels, and absent() has none, so
        // the names are written out.
        let (service, name) = (&self.slo.service, &self.slo.name);
        annotations.insert(
            "title".into(),
            format!("(ticket) {service} {name} SLI data is missing."),
        );
        annotations.insert(
            "summary".into(),
            format!(
                "{service} {name} has had no SLI data for {for_} (no traffic, or its metrics \
                 are missing), so its burn-rate alerts cannot fire."
            ),
        );
        Rule {
            record: None,
            alert: Some(NO_DATA_ALERT.to_string()),
            expr: format!(
                "absent({}{} >= 0)",
                sli_metric(self.windows.page_quick.short),
                self.filter
            ),
            for_: Some(for_),
            labels,
            annotations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_raw_templates_render_like_sloth() {
        let ev = SliTemplate::Events {
            error: "sum(rate(e[{{.window}}]))".into(),
            total: "sum(rate(t[{{ .window }}]))".into(),
        };
        assert_eq!(ev.expr("5m"), "(sum(rate(e[5m])))\n/\n(sum(rate(t[5m])))\n");
        let raw = SliTemplate::Raw {
            ratio: "a[{{.window}}]\n/\nb[{{.window}}]\n".into(),
        };
        assert_eq!(raw.expr("4w"), "(a[4w]\n/\nb[4w]\n)");
    }
}
