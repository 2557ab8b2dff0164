//! PromQL text for the dashboards: label filters, burn rates and alert state, built only
//! from the names in [`super::series`].

use crate::spec::Duration;

use super::series::{
    ALERT_FIRING, ERROR_BUDGET, ID_LABELS, OBJECTIVE, PROMETHEUS_ALERTS, sli_error_series,
};

/// Label matchers (`label="value"`) added to every selector of a query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter(Vec<String>);

impl Filter {
    /// No filter: every SLO.
    pub fn all() -> Self {
        Filter::default()
    }
    /// One SLO, by `sloth_id`.
    pub fn slo(id: &str) -> Self {
        Filter::all().and("sloth_id", id)
    }
    /// Every SLO of a service.
    pub fn service(name: &str) -> Self {
        Filter::all().and("sloth_service", name)
    }
    /// This filter plus `label="value"`.
    pub fn and(&self, label: &str, value: &str) -> Self {
        let mut f = self.clone();
        f.0.push(format!("{label}={}", quote(value)));
        f
    }
    /// This filter plus `label!="value"`.
    pub fn and_not(&self, label: &str, value: &str) -> Self {
        let mut f = self.clone();
        f.0.push(format!("{label}!={}", quote(value)));
        f
    }
}

/// A PromQL string literal (double-quoted, with `\` and `"` escaped).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `name{label="value", ...}`, or the bare name without a filter.
pub fn selector(name: &str, filter: &Filter) -> String {
    if filter.0.is_empty() {
        return name.to_string();
    }
    format!("{name}{{{}}}", filter.0.join(", "))
}

/// A number as PromQL reads it (shortest round-trip digits).
pub fn number(v: f64) -> String {
    format!("{v}")
}

/// `by (sloth_id, sloth_service, sloth_slo)`.
pub fn by_id() -> String {
    format!("by ({})", ID_LABELS.join(", "))
}

/// Burn rate over `window`: the window's error ratio divided by the error budget, joined
/// on the SLO identity as Sloth's `slo:current_burn_rate:ratio` rule does.
pub fn burn_rate(window: Duration, filter: &Filter) -> String {
    format!(
        "{} / on(sloth_id, sloth_slo, sloth_service) group_left {}",
        selector(&sli_error_series(window), filter),
        selector(ERROR_BUDGET, filter)
    )
}

/// SLI (good ratio) over `window`.
pub fn sli(window: Duration, filter: &Filter) -> String {
    format!("1 - {}", selector(&sli_error_series(window), filter))
}

/// Alert state per SLO: 2 while the page alert fires, 1 while only the ticket alert
/// fires, 0 otherwise. burnwatch's own state (`burnwatch_slo_alert_firing`) wins where it
/// is exported; otherwise Prometheus' `ALERTS` (teams evaluating the generated rules);
/// `0 * slo:objective:ratio` gives every known SLO a 0 when neither reports anything.
pub fn alert_state(filter: &Filter) -> String {
    let by = by_id();
    let page = filter.and("sloth_severity", "page");
    let ticket = filter.and("sloth_severity", "ticket");
    let firing = |f: &Filter| selector(PROMETHEUS_ALERTS, &f.and("alertstate", "firing"));
    format!(
        "max {by} (\n  2 * {}\n  or {}\n  or 2 * max by (sloth_id, sloth_service, sloth_slo, sloth_severity) ({})\n  or max by (sloth_id, sloth_service, sloth_slo, sloth_severity) ({})\n  or 0 * {}\n)",
        selector(ALERT_FIRING, &page),
        selector(ALERT_FIRING, &ticket),
        firing(&page),
        firing(&ticket),
        selector(OBJECTIVE, filter),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_quote_and_escape_values() {
        assert_eq!(selector("up", &Filter::all()), "up");
        assert_eq!(
            selector("up", &Filter::slo("a\"b\\c").and("x", "y")),
            r#"up{sloth_id="a\"b\\c", x="y"}"#
        );
    }

    #[test]
    fn burn_rate_divides_by_the_budget_on_the_slo_identity() {
        assert_eq!(
            burn_rate(Duration::from_days(1), &Filter::slo("s-a")),
            "slo:sli_error:ratio_rate1d{sloth_id=\"s-a\"} / on(sloth_id, sloth_slo, sloth_service) group_left slo:error_budget:ratio{sloth_id=\"s-a\"}"
        );
    }

    #[test]
    fn numbers_use_shortest_digits() {
        assert_eq!(number(14.4), "14.4");
        assert_eq!(number(6.0), "6");
        assert_eq!(number(5.6000000000000005), "5.6000000000000005");
    }
}
