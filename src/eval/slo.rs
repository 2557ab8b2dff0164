//! [`SloDef`]: what the evaluator needs from a spec [`Slo`], worked out once at start:
//! its windows, the four burn-rate pairs with Sloth's thresholds, and the identity
//! (labels) and annotations of each of its alerts.

use crate::spec::{AlertWindows, Duration, Labels, Severity, Sli, Slo, Tier};
use crate::window::MAX_WINDOWS;

use super::EvalError;
use super::inline::Inline;

/// Which of an SLO's alerts.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The page alert (page-quick or page-slow pair burning).
    #[default]
    Page,
    /// The ticket alert (ticket-quick or ticket-slow pair burning).
    Ticket,
    /// No SLI datapoint for longer than the configured time.
    DataMissing,
}

impl AlertKind {
    /// Page or ticket.
    pub fn severity(self) -> Severity {
        match self {
            AlertKind::Page => Severity::Page,
            AlertKind::Ticket | AlertKind::DataMissing => Severity::Ticket,
        }
    }
}

/// One (short, long) window pair of the SLO's catalog, with its burn-rate threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairDef {
    /// Which pair.
    pub tier: Tier,
    /// Index of the short window in [`SloDef::windows`].
    pub short: usize,
    /// Index of the long window in [`SloDef::windows`].
    pub long: usize,
    /// Burn-rate factor, in Sloth's floating-point order (14.4 for 2 % of 30d in 1h).
    pub factor: f64,
    /// Error-ratio threshold `factor × error budget`, as the generated rule writes it.
    pub threshold: f64,
}

/// An enabled alert of the SLO.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertDef {
    /// Which alert.
    pub kind: AlertKind,
    /// The `alertname`.
    pub name: String,
    /// The alert's identity: the labels Prometheus would attach to the generated alert
    /// (series labels, then rule labels, then `alertname`).
    pub labels: Labels,
    /// Annotations: Sloth's default `title`/`summary`, then the spec's.
    pub annotations: Labels,
}

/// An SLO as the evaluator sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SloDef {
    /// `<service>-<name>`.
    pub id: String,
    /// Service name.
    pub service: String,
    /// SLO name.
    pub name: String,
    /// Objective in percent.
    pub objective: f64,
    /// `(100 - objective) / 100`, as Sloth computes it.
    pub error_budget: f64,
    /// The SLO period.
    pub period: Duration,
    /// True for raw SLIs: datapoints are error ratios, averaged per window.
    pub raw: bool,
    /// Labels of the SLO's series (`sloth_id`, `sloth_service`, `sloth_slo`, SLO labels,
    /// extra labels): what `/metrics` exports and what alerts carry.
    pub labels: Labels,
    /// Sloth's SLI windows: the alert windows ascending, then the period (not repeated
    /// when the period is also an alert window).
    pub windows: Inline<Duration, MAX_WINDOWS>,
    /// Index of the period in `windows`.
    pub period_window: usize,
    /// Index of the page-quick short window (5m by default): Sloth's
    /// `slo:current_burn_rate:ratio` uses it.
    pub current_window: usize,
    /// The four pairs, in Sloth's order.
    pub pairs: [PairDef; 4],
    /// Enabled alerts (disabled ones are absent and never fire).
    pub alerts: Vec<AlertDef>,
}

/// Options that shape the definitions.
pub(crate) struct DefOptions<'a> {
    pub extra_labels: &'a Labels,
    pub data_missing: Option<(&'a str, i64)>,
}

impl SloDef {
    /// Compile `slo` with its period's alert windows.
    pub(crate) fn new(
        slo: &Slo,
        period: Duration,
        aw: &AlertWindows,
        opts: &DefOptions<'_>,
    ) -> Result<Self, EvalError> {
        let mut windows: Inline<Duration, MAX_WINDOWS> = Inline::default();
        for w in aw.sli_windows() {
            if w.as_millis() % 60_000 != 0 || w.as_millis() == 0 {
                return Err(EvalError::Window {
                    slo: slo.id.clone(),
                    window: w,
                });
            }
            // Four pairs have at most eight windows, plus the period: always fits.
            if !windows.contains(&w) && windows.push(w).is_err() {
                return Err(EvalError::Window {
                    slo: slo.id.clone(),
                    window: w,
                });
            }
        }
        let index = |d: Duration| windows.iter().position(|w| *w == d).unwrap_or(0);
        let error_budget = slo.error_budget_ratio();
        let pairs = Tier::ALL.map(|tier| {
            let bw = aw.get(tier);
            let factor = bw.factor(period);
            PairDef {
                tier,
                short: index(bw.short),
                long: index(bw.long),
                factor,
                threshold: factor * error_budget,
            }
        });

        let mut labels = Labels::new();
        labels.insert("sloth_id".into(), slo.id.clone());
        labels.insert("sloth_service".into(), slo.service.clone());
        labels.insert("sloth_slo".into(), slo.name.clone());
        labels.extend(slo.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        labels.extend(
            opts.extra_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );

        let mut alerts = Vec::new();
        for (kind, spec) in [
            (AlertKind::Page, &slo.page_alert),
            (AlertKind::Ticket, &slo.ticket_alert),
        ] {
            if let Some(spec) = spec {
                let severity = kind.severity().as_str();
                let mut rule_labels = Labels::from([("sloth_severity".into(), severity.into())]);
                rule_labels.extend(spec.labels.clone());
                let mut annotations = Labels::from([
                    (
                        "title".into(),
                        format!(
                            "({severity}) {} {} SLO error budget burn rate is too fast.",
                            slo.service, slo.name
                        ),
                    ),
                    (
                        "summary".into(),
                        format!(
                            "{} {} SLO error budget burn rate is over expected.",
                            slo.service, slo.name
                        ),
                    ),
                ]);
                annotations.extend(spec.annotations.clone());
                alerts.push(alert_def(
                    kind,
                    &spec.name,
                    &labels,
                    rule_labels,
                    annotations,
                ));
            }
        }
        if let Some((name, after)) = opts.data_missing
            && !alerts.is_empty()
        {
            // Routed like the ticket when there is one; never with the page's labels, which
            // may route to a pager.
            let mut rule_labels = Labels::from([("sloth_severity".into(), "ticket".into())]);
            let mut annotations = Labels::from([
                (
                    "title".into(),
                    format!("(ticket) {} {} SLI data missing.", slo.service, slo.name),
                ),
                (
                    "summary".into(),
                    format!(
                        "No SLI datapoint for {} {} for at least {}: burn-rate alerts can \
                         neither fire nor resolve until data returns.",
                        slo.service,
                        slo.name,
                        Duration::from_secs(after.max(0) as u64)
                    ),
                ),
            ]);
            if let Some(t) = &slo.ticket_alert {
                rule_labels.extend(t.labels.clone());
                rule_labels.insert("sloth_severity".into(), "ticket".into());
            }
            for spec in [&slo.ticket_alert, &slo.page_alert].into_iter().flatten() {
                if let Some(url) = spec.annotations.get("runbook_url") {
                    annotations.insert("runbook_url".into(), url.clone());
                    break;
                }
            }
            alerts.push(alert_def(
                AlertKind::DataMissing,
                name,
                &labels,
                rule_labels,
                annotations,
            ));
        }

        Ok(SloDef {
            id: slo.id.clone(),
            service: slo.service.clone(),
            name: slo.name.clone(),
            objective: slo.objective,
            error_budget,
            period,
            raw: matches!(slo.sli, Sli::Raw { .. }),
            labels,
            period_window: index(period),
            current_window: index(aw.page_quick.short),
            windows,
            pairs,
            alerts,
        })
    }
}

/// Merge labels the way Prometheus builds an alert: series labels, overridden by the
/// rule's labels, then `alertname`. Annotations get `{{$labels.x}}` filled in.
fn alert_def(
    kind: AlertKind,
    name: &str,
    series: &Labels,
    rule_labels: Labels,
    annotations: Labels,
) -> AlertDef {
    let mut labels = series.clone();
    labels.extend(rule_labels);
    labels.insert("alertname".into(), name.to_string());
    let annotations = annotations
        .into_iter()
        .map(|(k, v)| (k, render_labels(&v, &labels)))
        .collect();
    AlertDef {
        kind,
        name: name.to_string(),
        labels,
        annotations,
    }
}

/// Replace `{{$labels.NAME}}` (spaces allowed inside the braces) with the label's value,
/// the one template form Sloth's defaults and most runbook links use. Anything else is
/// left as written.
fn render_labels(text: &str, labels: &Labels) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = after[..close].trim();
        match inner
            .strip_prefix("$labels.")
            .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            Some(label) => out.push_str(labels.get(label).map_or("", String::as_str)),
            None => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_templates_are_filled_and_others_kept() {
        let labels = Labels::from([("sloth_slo".into(), "api".into())]);
        assert_eq!(
            render_labels(
                "{{$labels.sloth_slo}} and {{ $labels.sloth_slo }}!",
                &labels
            ),
            "api and api!"
        );
        assert_eq!(render_labels("{{ $value }} {{", &labels), "{{ $value }} {{");
        assert_eq!(render_labels("{{$labels.nope}}", &labels), "");
    }
}
