//! Building a [`Notification`] for an SLO alert with exactly the labels and annotations
//! Prometheus would attach when evaluating the Sloth-generated rules, so Alertmanager
//! routes, silences and inhibitions written for Sloth keep working.
//!
//! Labels (later wins, as in Prometheus): the series labels the alert expression keeps
//! (`sloth_id`, `sloth_service`, `sloth_slo`, then the SLO's labels — `max … without
//! (sloth_window)`), then the rule labels (`sloth_severity`, then the alert's labels),
//! then `alertname`. Annotations: Sloth's default `title` and `summary`, then the spec's
//! annotations (`runbook_url`, ...), with `{{$labels.x}}` expanded as Prometheus would;
//! then `dashboard_url` (unless the spec sets one) and one `burn_rate_<window>` per window
//! the alert looked at.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::{Notification, State};
use crate::spec::{Duration, Labels, Severity, Slo};

/// One alert event the evaluator decided to send.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    /// Page or ticket.
    pub severity: Severity,
    /// Firing or resolved.
    pub state: State,
    /// When the firing episode started.
    pub starts_at: DateTime<Utc>,
    /// Firing: valid until; resolved: when it resolved.
    pub ends_at: DateTime<Utc>,
    /// Burn rate per window at the time (`5m → 31.2`), shown as annotations.
    pub burn_rates: Vec<(Duration, f64)>,
    /// True for a periodic re-send of an unchanged state.
    pub repeat: bool,
}

static LABEL_TEMPLATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}").expect("static regex")
});

/// The notification for `event` on `slo`, or `None` when that alert is disabled in the
/// spec. `external_url` is burnwatch's base URL (links point at `/api/v1/slos/{id}`).
pub fn notification(slo: &Slo, event: &AlertEvent, external_url: &str) -> Option<Notification> {
    let spec = match event.severity {
        Severity::Page => slo.page_alert.as_ref()?,
        Severity::Ticket => slo.ticket_alert.as_ref()?,
    };
    let mut labels = Labels::new();
    labels.insert("sloth_id".into(), slo.id.clone());
    labels.insert("sloth_service".into(), slo.service.clone());
    labels.insert("sloth_slo".into(), slo.name.clone());
    labels.extend(slo.labels.clone());
    labels.insert("sloth_severity".into(), event.severity.as_str().into());
    labels.extend(spec.labels.clone());
    labels.insert("alertname".into(), spec.name.clone());

    let mut annotations = Labels::new();
    annotations.insert(
        "title".into(),
        format!(
            "({}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast.",
            event.severity.as_str()
        ),
    );
    annotations.insert(
        "summary".into(),
        "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected."
            .into(),
    );
    annotations.extend(spec.annotations.clone());
    for value in annotations.values_mut() {
        *value = expand(value, &labels);
    }
    let base = external_url.trim_end_matches('/');
    let slo_url = format!("{base}/api/v1/slos/{}", slo.id);
    annotations
        .entry("dashboard_url".into())
        .or_insert_with(|| slo_url.clone());
    for (window, rate) in &event.burn_rates {
        annotations.insert(format!("burn_rate_{window}"), format_rate(*rate));
    }
    Some(Notification {
        slo_id: slo.id.clone(),
        alert: spec.name.clone(),
        severity: labels
            .get("sloth_severity")
            .cloned()
            .unwrap_or_else(|| event.severity.as_str().into()),
        state: event.state,
        labels,
        annotations,
        starts_at: event.starts_at,
        ends_at: event.ends_at,
        generator_url: slo_url,
        repeat: event.repeat,
    })
}

/// `{{$labels.name}}` → the label's value (empty when absent, as in Prometheus).
fn expand(template: &str, labels: &Labels) -> String {
    LABEL_TEMPLATE
        .replace_all(template, |c: &regex::Captures<'_>| {
            labels.get(&c[1]).cloned().unwrap_or_default()
        })
        .into_owned()
}

/// Burn rates with four significant digits (`31.24`, `0.0123`): enough to read, stable
/// enough not to look like a different alert in every message.
fn format_rate(rate: f64) -> String {
    if !rate.is_finite() {
        return rate.to_string();
    }
    let digits = if rate.abs() >= 1.0 {
        (3 - rate.abs().log10().floor() as i32).max(0)
    } else if rate == 0.0 {
        0
    } else {
        3 - rate.abs().log10().floor() as i32
    };
    format!("{rate:.prec$}", prec = digits.max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn api_slo() -> Slo {
        let loaded = crate::spec::load_paths(
            &[std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("slo-specs/api.yaml")],
            &crate::spec::LoadOptions::default(),
        );
        loaded
            .slos()
            .find(|s| s.id == "mass-spec-api-availability")
            .unwrap()
            .clone()
    }

    fn event(severity: Severity) -> AlertEvent {
        AlertEvent {
            severity,
            state: State::Firing,
            starts_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
            ends_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 4, 0).unwrap(),
            burn_rates: vec![
                (Duration::from_mins(5), 31.2456),
                (Duration::from_hours(1), 18.0),
            ],
            repeat: false,
        }
    }

    #[test]
    fn labels_and_annotations_match_the_generated_rules() {
        let slo = api_slo();
        let n = notification(&slo, &event(Severity::Page), "http://bw:9464/").unwrap();
        assert_eq!(n.labels["alertname"], "MassSpecAPIAvailability");
        assert_eq!(n.labels["sloth_severity"], "page");
        assert_eq!(n.labels["sloth_id"], "mass-spec-api-availability");
        assert_eq!(n.labels["sloth_service"], "mass-spec");
        assert_eq!(n.labels["sloth_slo"], "api-availability");
        // SLO labels from the spec and the alert's own labels.
        assert_eq!(n.labels["owner"], "platform-sre");
        assert_eq!(n.labels["component"], "api");
        assert_eq!(n.labels["category"], "availability");
        assert!(!n.labels.contains_key("sloth_window"));
        assert_eq!(
            n.annotations["title"],
            "(page) mass-spec api-availability SLO error budget burn rate is too fast."
        );
        // The spec's summary replaces Sloth's default one.
        assert_eq!(
            n.annotations["summary"],
            "The mass-spec API is failing requests faster than its 99.9 % objective allows."
        );
        assert_eq!(n.labels["severity"], "page", "per-alert labels");
        assert_eq!(n.annotations["runbook_url"], "runbooks/api-availability.md");
        assert_eq!(
            n.annotations["dashboard_url"],
            "http://bw:9464/api/v1/slos/mass-spec-api-availability"
        );
        assert_eq!(n.annotations["burn_rate_5m"], "31.25");
        assert_eq!(n.annotations["burn_rate_1h"], "18.00");
        assert_eq!(n.generator_url, n.annotations["dashboard_url"]);
        assert_eq!(n.severity, "page");
        let ticket = notification(&slo, &event(Severity::Ticket), "http://bw:9464").unwrap();
        assert_eq!(ticket.labels["sloth_severity"], "ticket");
        assert_ne!(ticket.fingerprint(), n.fingerprint());
    }

    #[test]
    fn disabled_alerts_produce_nothing_and_templates_expand() {
        let mut slo = api_slo();
        slo.page_alert
            .as_mut()
            .unwrap()
            .annotations
            .remove("summary");
        let n = notification(&slo, &event(Severity::Page), "http://bw").unwrap();
        assert_eq!(
            n.annotations["summary"],
            "mass-spec api-availability SLO error budget burn rate is over expected.",
            "Sloth's default summary"
        );
        slo.ticket_alert = None;
        assert!(notification(&slo, &event(Severity::Ticket), "http://bw").is_none());
        let page = slo.page_alert.as_mut().unwrap();
        page.annotations.insert(
            "description".into(),
            "{{ $labels.owner }} owns {{$labels.nope}}it".into(),
        );
        page.labels
            .insert("sloth_severity".into(), "critical".into());
        let n = notification(&slo, &event(Severity::Page), "http://bw").unwrap();
        assert_eq!(n.annotations["description"], "platform-sre owns it");
        assert_eq!(
            n.labels["sloth_severity"], "critical",
            "user labels win, as in Sloth"
        );
        assert_eq!(n.severity, "critical");
    }

    #[test]
    fn rates_have_four_significant_digits() {
        assert_eq!(format_rate(31.2456), "31.25");
        assert_eq!(format_rate(0.012345), "0.01235");
        assert_eq!(format_rate(1440.0), "1440");
        assert_eq!(format_rate(0.0), "0");
        assert_eq!(format_rate(2.0), "2.000");
    }
}
