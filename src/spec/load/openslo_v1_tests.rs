//! OpenSLO v1 loading: fixtures written from the shapes of the OpenSLO v1 spec and
//! examples, each loading to the expected SLOs or failing at the exact positions.

use std::path::{Path, PathBuf};

use super::load_text;
use crate::spec::DiagSeverity;
use crate::spec::diag::Diagnostic;
use crate::spec::duration::Duration;
use crate::spec::model::{Sli, SpecKind};

fn fixture(rel: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    let text = std::fs::read_to_string(&path).expect("fixture");
    (path, text)
}

fn errors(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.severity == DiagSeverity::Error)
        .map(|d| format!("{}:{}: {}", d.pos.line, d.pos.col, d.message))
        .collect()
}

#[test]
fn referenced_sli_and_data_source_resolve_across_documents() {
    let (path, text) = fixture("validate/good/openslo-v1-referenced.yaml");
    let (docs, diags) = load_text(&path, &text);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(
        (doc.kind, doc.line, doc.service.as_str()),
        (SpecKind::OpenSloV1, 9, "lab-api")
    );
    let slo = &doc.slos[0];
    assert_eq!(slo.id, "lab-api-uploads-availability");
    assert_eq!(slo.name, "uploads-availability");
    assert_eq!(slo.description, "Scientists can upload samples");
    assert_eq!(slo.period, Some(Duration::from_days(28)));
    assert!((slo.objective - 99.5).abs() < 1e-9, "{}", slo.objective);
    assert_eq!(
        slo.sli,
        Sli::Events {
            error_query: "(sum(rate(uploads_total[{{.window}}]))) - (sum(rate(uploads_total{code!~\"5..\"}[{{.window}}])))".into(),
            total_query: "sum(rate(uploads_total[{{.window}}]))".into(),
        }
    );
    // No alert policy: the default page and ticket alerts, with a Prometheus-safe name.
    let page = slo.page_alert.as_ref().expect("page alert");
    assert_eq!(page.name, "UploadsAvailabilityBurnRate");
    assert_eq!(slo.ticket_alert.as_ref().map(|a| &a.name), Some(&page.name));
    assert_eq!(slo.source.pos.line, 23);
}

#[test]
fn inline_indicators_several_objectives_and_raw_ratios() {
    let (path, text) = fixture("validate/good/openslo-v1-inline.yaml");
    let (docs, diags) = load_text(&path, &text);
    assert!(diags.is_empty(), "{diags:?}");
    let ids: Vec<(&str, f64)> = docs
        .iter()
        .flat_map(|d| d.slos.iter().map(|s| (s.id.as_str(), s.objective)))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("lab-analysis-analysis-availability-0", 99.0),
            ("lab-analysis-analysis-availability-1", 99.9),
            ("lab-analysis-analysis-latency", 95.0),
        ]
    );
    assert_eq!(
        docs[0].slos[0].sli,
        Sli::Events {
            error_query: "sum(rate(analysis_runs_total{result=\"error\"}[{{.window}}]))".into(),
            total_query: "sum(rate(analysis_runs_total[{{.window}}]))".into(),
        }
    );
    assert_eq!(
        docs[1].slos[0].sli,
        Sli::Raw {
            error_ratio_query: "1 - (sum(rate(analysis_seconds_bucket{le=\"300\"}[{{.window}}])) / sum(rate(analysis_seconds_count[{{.window}}])))".into(),
        }
    );
    assert!(docs.iter().all(|d| d.kind == SpecKind::OpenSloV1));
    assert_eq!(docs[1].slos[0].period, Some(Duration::from_days(30)));
}

#[test]
fn dangling_references_are_errors_at_the_reference() {
    let (path, text) = fixture("openslo-v1/bad/dangling-refs.yaml");
    let (docs, diags) = load_text(&path, &text);
    assert!(docs.is_empty(), "{docs:?}");
    assert_eq!(
        errors(&diags),
        vec![
            "7:17: dangling reference: no SLI named \"no-such-sli\" in this file",
            "25:30: dangling reference: no DataSource named \"no-such-source\" in this file",
        ]
    );
}

#[test]
fn timeslices_calendars_policies_and_cloudwatch_are_positioned_not_yet_errors() {
    let (path, text) = fixture("openslo-v1/bad/not-yet-supported.yaml");
    let (docs, diags) = load_text(&path, &text);
    assert!(docs.is_empty(), "{docs:?}");
    let not_yet = "is not yet supported by burnwatch's OpenSLO v1 loader (only budgetingMethod Occurrences over a rolling timeWindow); the SLO is not loaded";
    assert_eq!(
        errors(&diags),
        vec![
            format!("7:20: budgetingMethod Timeslices {not_yet}"),
            format!("14:24: timeslice objectives {not_yet}"),
            format!("23:20: budgetingMethod RatioTimeslices {not_yet}"),
            format!("29:9: a calendar-aligned timeWindow {not_yet}"),
            "42:5: alertPolicies are not yet supported by burnwatch's OpenSLO v1 loader; remove them to get the default page and ticket burn-rate alerts".to_string(),
            "55:15: metricSource type CloudWatch is not yet supported in OpenSLO v1 input; use a prometheus/v1 spec with sli.plugin for CloudWatch".to_string(),
        ]
    );
}

#[test]
fn every_problem_of_a_file_is_reported() {
    let (path, text) = fixture("openslo-v1/bad/many-problems.yaml");
    let (docs, diags) = load_text(&path, &text);
    assert!(docs.is_empty(), "{docs:?}");
    let got = errors(&diags);
    let at: Vec<&str> = got
        .iter()
        .map(|e| e.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        at,
        vec![
            "4:9", "6:12", "7:20", "14:27", "17:13", "19:17", "21:15", "24:7"
        ],
        "{got:#?}"
    );
    assert!(got[3].contains("{{ .window }}"), "{}", got[3]);
}

#[test]
fn calendar_durations_are_not_silently_rolling() {
    let text = "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: monthly\nspec:\n  service: lab-api\n  indicatorRef: s\n  timeWindow:\n    - duration: 1M\n      isRolling: true\n  objectives:\n    - target: 0.99\n";
    let (docs, diags) = load_text(Path::new("m.yaml"), text);
    assert!(docs.is_empty());
    let got = errors(&diags);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("7:17: dangling reference"), "{got:?}");
    assert!(
        got[1].starts_with("9:17: a calendar duration (1M) is not yet supported"),
        "{got:?}"
    );
}

#[test]
fn alert_names_are_prometheus_metric_names() {
    assert_eq!(
        super::openslo_v1::alert_name("api-availability"),
        "ApiAvailabilityBurnRate"
    );
    assert_eq!(
        super::openslo_v1::alert_name("9lives.x"),
        "Slo9livesXBurnRate"
    );
}
