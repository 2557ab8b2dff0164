//! The series burnwatch exports on `/metrics`, with their labels: the contract that the
//! generated dashboards query and that the `/metrics` exporter must produce.
//!
//! SLO series keep Sloth's names and labels (`reference/sloth-compat.md` §6) so that the
//! same dashboards work for teams that evaluate the generated rules in Prometheus; the
//! daemon's own state is `burnwatch_*`. The list lives here once: the exporter and the
//! dashboard tests both read it, so a dashboard can never query a series nobody exports.

use std::collections::BTreeMap;

use crate::spec::{AlertWindows, Duration};

/// Who produces a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// burnwatch's `/metrics` (and, for Sloth-named series, the rules `generate prometheus`
    /// writes, when a team evaluates in Prometheus).
    Burnwatch,
    /// Prometheus itself (`ALERTS`): allowed in dashboards because every Prometheus that
    /// evaluates the generated alert rules has it.
    Prometheus,
}

/// Labels a series carries beyond its fixed ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtraLabels {
    /// Only the fixed labels.
    None,
    /// The SLO's own labels (root `labels` merged with the SLO's, as Sloth does).
    SloLabels,
    /// Any label (Prometheus' `ALERTS` carries every label of the alert's expression and rule).
    Any,
}

/// One exported series family: what the exporter writes and dashboards may query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// The metric name.
    pub name: String,
    /// Labels every sample of the series has.
    pub labels: &'static [&'static str],
    /// Further labels it may carry.
    pub extra: ExtraLabels,
    /// Who produces it.
    pub origin: Origin,
    /// The `# HELP` text (what the value means).
    pub help: &'static str,
}

/// `sloth_id`, `sloth_service`, `sloth_slo`: the identity of an SLO on every SLO series.
pub const ID_LABELS: [&str; 3] = ["sloth_id", "sloth_service", "sloth_slo"];

/// Prefix of the per-window SLI error ratio; the window (Prometheus duration string, e.g.
/// `5m`, `30d`, `4w`) is appended.
pub const SLI_ERROR_PREFIX: &str = "slo:sli_error:ratio_rate";
/// SLO objective as a ratio (0.999).
pub const OBJECTIVE: &str = "slo:objective:ratio";
/// Error budget as a ratio (`1 - objective`).
pub const ERROR_BUDGET: &str = "slo:error_budget:ratio";
/// SLO period in days.
pub const TIME_PERIOD_DAYS: &str = "slo:time_period:days";
/// Burn rate over the catalog's shortest window (5m by default).
pub const CURRENT_BURN_RATE: &str = "slo:current_burn_rate:ratio";
/// Burn rate over the whole period.
pub const PERIOD_BURN_RATE: &str = "slo:period_burn_rate:ratio";
/// Share of the period's error budget left (`1 - period burn rate`; negative when overspent).
pub const PERIOD_BUDGET_REMAINING: &str = "slo:period_error_budget_remaining:ratio";
/// Constant 1 with the SLO's metadata (objective, spec format, version) as labels.
pub const SLO_INFO: &str = "sloth_slo_info";
/// burnwatch's own alert state per SLO and severity (0/1).
pub const ALERT_FIRING: &str = "burnwatch_slo_alert_firing";
/// Result of the last database probe run per target (1 healthy, 0 not).
pub const PROBE_SUCCESS: &str = "burnwatch_probe_success";
/// Duration of each step of the last probe run per target.
pub const PROBE_STEP_DURATION: &str = "burnwatch_probe_step_duration_seconds";
/// The last probe run's classification per target (1 for the current one).
pub const PROBE_CLASSIFICATION: &str = "burnwatch_probe_classification";
/// Prometheus' own alert series (`alertname`, `alertstate` and the alert's labels).
pub const PROMETHEUS_ALERTS: &str = "ALERTS";

/// Labels of the per-window SLI series.
const SLI_LABELS: &[&str] = &["sloth_id", "sloth_service", "sloth_slo", "sloth_window"];
/// Labels of the SLO metadata series.
const META_LABELS: &[&str] = &ID_LABELS;

/// The series that do not depend on the alert windows, in a stable order.
fn fixed_series() -> Vec<Series> {
    let s = |name: &str, labels, extra, origin, help| Series {
        name: name.to_string(),
        labels,
        extra,
        origin,
        help,
    };
    use ExtraLabels::{Any, None, SloLabels};
    use Origin::{Burnwatch, Prometheus};
    vec![
        s(
            OBJECTIVE,
            META_LABELS,
            SloLabels,
            Burnwatch,
            "SLO objective as a ratio.",
        ),
        s(
            ERROR_BUDGET,
            META_LABELS,
            SloLabels,
            Burnwatch,
            "SLO error budget as a ratio (1 - objective).",
        ),
        s(
            TIME_PERIOD_DAYS,
            META_LABELS,
            SloLabels,
            Burnwatch,
            "SLO period in days.",
        ),
        s(
            CURRENT_BURN_RATE,
            META_LABELS,
            SloLabels,
            Burnwatch,
            "Error budget burn rate over the shortest alert window.",
        ),
        s(
            PERIOD_BURN_RATE,
            META_LABELS,
            SloLabels,
            Burnwatch,
            "Error budget burn rate over the SLO period.",
        ),
        s(
            PERIOD_BUDGET_REMAINING,
            META_LABELS,
            SloLabels,
            Burnwatch,
            "Share of the period's error budget remaining (negative when overspent).",
        ),
        s(
            SLO_INFO,
            &[
                "sloth_id",
                "sloth_service",
                "sloth_slo",
                "sloth_version",
                "sloth_mode",
                "sloth_spec",
                "sloth_objective",
            ],
            SloLabels,
            Burnwatch,
            "SLO metadata; always 1.",
        ),
        s(
            ALERT_FIRING,
            &["sloth_id", "sloth_service", "sloth_slo", "sloth_severity"],
            None,
            Burnwatch,
            "1 while burnwatch's multi-window multi-burn-rate alert fires, else 0.",
        ),
        s(
            PROBE_SUCCESS,
            &["target"],
            None,
            Burnwatch,
            "1 when the last database probe run of the target was healthy, else 0.",
        ),
        s(
            PROBE_STEP_DURATION,
            &["target", "step"],
            None,
            Burnwatch,
            "Duration of each step of the last database probe run, in seconds.",
        ),
        s(
            PROBE_CLASSIFICATION,
            &["target", "classification"],
            None,
            Burnwatch,
            "1 for the classification of the last database probe run, 0 for the others.",
        ),
        s(
            PROMETHEUS_ALERTS,
            &["alertname", "alertstate"],
            Any,
            Prometheus,
            "Prometheus' own alert series (pending and firing alerts).",
        ),
    ]
}

/// The SLI error-ratio series name for `window` (`slo:sli_error:ratio_rate5m`).
pub fn sli_error_series(window: Duration) -> String {
    format!("{SLI_ERROR_PREFIX}{window}")
}

/// Every series exported for SLOs evaluated with any of `windows` (one entry per SLO
/// period in use), keyed by name: the per-window SLI series for each window set's SLI
/// windows (the eight alert windows and the period), then the fixed series.
pub fn exported_series<'a>(
    windows: impl IntoIterator<Item = &'a AlertWindows>,
) -> BTreeMap<String, Series> {
    let mut out = BTreeMap::new();
    for w in windows {
        for window in w.sli_windows() {
            let name = sli_error_series(window);
            out.insert(
                name.clone(),
                Series {
                    name,
                    labels: SLI_LABELS,
                    extra: ExtraLabels::SloLabels,
                    origin: Origin::Burnwatch,
                    help: "SLI error ratio over the window named in the metric.",
                },
            );
        }
    }
    for s in fixed_series() {
        out.insert(s.name.clone(), s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WindowCatalog;

    #[test]
    fn thirty_day_windows_give_sloths_eight_sli_series() {
        let cat = WindowCatalog::builtin();
        let series = exported_series(cat.get(Duration::from_days(30)));
        let sli: Vec<&str> = series
            .keys()
            .filter(|n| n.starts_with(SLI_ERROR_PREFIX))
            .map(String::as_str)
            .collect();
        let mut want = [
            "slo:sli_error:ratio_rate5m",
            "slo:sli_error:ratio_rate30m",
            "slo:sli_error:ratio_rate1h",
            "slo:sli_error:ratio_rate2h",
            "slo:sli_error:ratio_rate6h",
            "slo:sli_error:ratio_rate1d",
            "slo:sli_error:ratio_rate3d",
            "slo:sli_error:ratio_rate30d",
        ];
        want.sort();
        assert_eq!(sli, want);
        for name in [
            "slo:objective:ratio",
            "slo:error_budget:ratio",
            "slo:time_period:days",
            "slo:current_burn_rate:ratio",
            "slo:period_burn_rate:ratio",
            "slo:period_error_budget_remaining:ratio",
            "sloth_slo_info",
            "burnwatch_slo_alert_firing",
            "burnwatch_probe_success",
            "burnwatch_probe_step_duration_seconds",
            "burnwatch_probe_classification",
            "ALERTS",
        ] {
            assert!(series.contains_key(name), "{name} missing");
        }
        assert_eq!(series.len(), 8 + 12);
    }

    #[test]
    fn twenty_eight_day_period_series_is_named_in_weeks() {
        let cat = WindowCatalog::builtin();
        let series = exported_series(cat.get(Duration::from_days(28)));
        assert!(series.contains_key("slo:sli_error:ratio_rate4w"));
        assert!(!series.contains_key("slo:sli_error:ratio_rate28d"));
        assert_eq!(
            series["slo:sli_error:ratio_rate4w"].labels,
            ["sloth_id", "sloth_service", "sloth_slo", "sloth_window"]
        );
    }
}
