//! What the loaders produce: SLO ids, Sloth's label and annotation merge order, alert
//! mapping, periods and the OpenSLO raw query, for each of the three formats.

use std::path::Path;

use super::{load_text, load_text_with};
use crate::spec::diag::{Diagnostic, Severity};
use crate::spec::duration::Duration;
use crate::spec::model::{Labels, Sli, SpecDocument, SpecKind};
use crate::spec::{LoadOptions, WindowCatalog};

fn load(text: &str) -> (Vec<SpecDocument>, Vec<Diagnostic>) {
    load_text(Path::new("t.yaml"), text)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn errors(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

const PROM: &str = r#"version: "prometheus/v1"
service: "svc"
labels:
  owner: root
  tier: "1"
slos:
  - name: "avail"
    objective: 99.5
    description: "why"
    labels:
      tier: "2"
      component: api
    sli:
      events:
        error_query: sum(rate(e[{{.window}}]))
        total_query: sum(rate(t[{{.window}}]))
    alerting:
      name: SvcAvail
      labels:
        category: availability
        severity: shared
      annotations:
        summary: shared summary
        runbook: r
      page_alert:
        labels:
          severity: page-level
        annotations:
          summary: page summary
      ticket_alert:
        disable: true
"#;

#[test]
fn prometheus_v1_ids_and_merge_order() {
    let (docs, diags) = load(PROM);
    assert!(diags.is_empty(), "{diags:?}");
    let doc = &docs[0];
    assert_eq!(doc.kind, SpecKind::PrometheusV1);
    assert_eq!(doc.service, "svc");
    let slo = &doc.slos[0];
    assert_eq!(slo.id, "svc-avail");
    assert_eq!(slo.name, "avail");
    assert_eq!(slo.description, "why");
    assert_eq!(slo.objective, 99.5);
    assert_eq!(slo.period, None, "prometheus/v1 uses the global period");
    // Root labels, then SLO labels (SLO wins).
    assert_eq!(
        slo.labels,
        labels(&[("owner", "root"), ("tier", "2"), ("component", "api")])
    );
    assert_eq!(
        slo.sli,
        Sli::Events {
            error_query: "sum(rate(e[{{.window}}]))".into(),
            total_query: "sum(rate(t[{{.window}}]))".into(),
        }
    );
    // Alerting labels, then page labels (page wins); annotations likewise.
    let page = slo.page_alert.as_ref().unwrap();
    assert_eq!(page.name, "SvcAvail");
    assert_eq!(
        page.labels,
        labels(&[("category", "availability"), ("severity", "page-level")])
    );
    assert_eq!(
        page.annotations,
        labels(&[("summary", "page summary"), ("runbook", "r")])
    );
    assert_eq!(slo.ticket_alert, None, "disabled alerts are dropped");
    assert_eq!(slo.source.pos.line, 7);
    assert_eq!(slo.source.pos.col, 11);
}

#[test]
fn kubernetes_crd_reads_camel_case_and_metadata() {
    let text = r#"apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata:
  name: obj
  namespace: mon
  labels: {team: a}
spec:
  service: svc
  labels: {owner: root}
  slos:
    - name: lat
      objective: 99
      labels: {owner: slo}
      sli:
        raw:
          errorRatioQuery: avg_over_time(r[{{.window}}])
      alerting:
        name: SvcLat
        labels: {severity: shared}
        pageAlert: {disable: true}
        ticketAlert: {labels: {severity: ticket-level}}
"#;
    let (docs, diags) = load(text);
    assert!(diags.is_empty(), "{diags:?}");
    let doc = &docs[0];
    assert_eq!(doc.kind, SpecKind::K8sPrometheusServiceLevel);
    let meta = doc.k8s.as_ref().unwrap();
    assert_eq!(meta.name, "obj");
    assert_eq!(meta.namespace.as_deref(), Some("mon"));
    assert_eq!(meta.labels, labels(&[("team", "a")]));
    let slo = &doc.slos[0];
    assert_eq!(slo.id, "svc-lat");
    assert_eq!(slo.labels, labels(&[("owner", "slo")]));
    assert_eq!(
        slo.sli,
        Sli::Raw {
            error_ratio_query: "avg_over_time(r[{{.window}}])".into()
        }
    );
    assert_eq!(slo.page_alert, None);
    let ticket = slo.ticket_alert.as_ref().unwrap();
    assert_eq!(ticket.labels, labels(&[("severity", "ticket-level")]));
}

#[test]
fn camel_case_alert_keys_in_prometheus_v1_are_dropped_as_sloth_drops_them() {
    let text = PROM.replace("page_alert", "pageAlert");
    let (docs, diags) = load(&text);
    assert!(errors(&diags).is_empty(), "{diags:?}");
    let warning = diags.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        warning,
        [
            "t.yaml:25:7: warning: unknown field `pageAlert` is ignored (this format spells it `page_alert`)"
        ]
    );
    // The page alert falls back to the shared labels only.
    let page = docs[0].slos[0].page_alert.as_ref().unwrap();
    assert_eq!(
        page.labels.get("severity").map(String::as_str),
        Some("shared")
    );
}

const OSLO: &str = r#"apiVersion: openslo/v1alpha
kind: SLO
metadata:
  name: reqs
spec:
  service: svc
  description: from spec
  objectives:
    - ratioMetrics:
        good: {source: prometheus, queryType: promql, query: "sum(rate(ok[{{.window}}]))"}
        total: {source: prometheus, queryType: promql, query: "sum(rate(all[{{.window}}]))"}
      target: 0.999
    - ratioMetrics:
        good: {source: sloth, queryType: promql, query: "sum(rate(fast[{{.window}}]))"}
        total: {source: prometheus, queryType: promql, query: "sum(rate(all[{{.window}}]))"}
      target: 0.95
  timeWindows:
    - count: 28
      unit: DAY
"#;

#[test]
fn openslo_one_slo_per_objective_with_sloth_raw_template() {
    let (docs, diags) = load(OSLO);
    assert!(diags.is_empty(), "{diags:?}");
    let doc = &docs[0];
    assert_eq!(doc.kind, SpecKind::OpenSloV1Alpha);
    let ids: Vec<&str> = doc.slos.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["svc-reqs-0", "svc-reqs-1"]);
    let names: Vec<&str> = doc.slos.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["reqs-0", "reqs-1"]);
    let slo = &doc.slos[0];
    assert_eq!(slo.objective, 0.999 * 100.0);
    assert_eq!(slo.description, "from spec");
    assert_eq!(slo.period, Some(Duration::from_days(28)));
    assert!(slo.labels.is_empty());
    assert_eq!((&slo.page_alert, &slo.ticket_alert), (&None, &None));
    assert_eq!(
        slo.sli,
        Sli::Raw {
            error_ratio_query: "\n  1 - (\n    (\n      sum(rate(ok[{{.window}}]))\n    )\n    /\n    (\n      sum(rate(all[{{.window}}]))\n    )\n  )\n".into()
        }
    );
    assert_eq!(doc.slos[1].objective, 0.95 * 100.0);
    // Queries are inserted as they are, in one pass (Go's template engine does not re-read
    // what it inserted).
    assert_eq!(
        super::openslo::render_template("a{{ .total }}", "b"),
        "\n  1 - (\n    (\n      a{{ .total }}\n    )\n    /\n    (\n      b\n    )\n  )\n"
    );
}

#[test]
fn openslo_period_checked_against_the_catalog_only_when_given() {
    let text = OSLO.replace("count: 28", "count: 14");
    let (_, diags) = load(&text);
    assert!(
        diags.is_empty(),
        "load_text does not know the catalog: {diags:?}"
    );
    let options = LoadOptions {
        period: Duration::from_days(30),
        catalog: WindowCatalog::builtin(),
    };
    let (_, diags) = load_text_with(Path::new("t.yaml"), &text, &options);
    assert_eq!(
        errors(&diags),
        [
            "t.yaml:18:14: the 336h0m0s SLO period time window is not supported (14d; the alert-window catalog has: 28d, 30d)"
        ]
    );
}

#[test]
fn byte_order_mark_is_ignored_and_positions_stay_true() {
    let text = format!(
        "\u{feff}{}",
        PROM.replace("objective: 99.5", "objective: 0")
    );
    let (_, diags) = load(&text);
    assert_eq!(
        errors(&diags),
        ["t.yaml:8:16: objective must >0 and <=100 (got 0)"]
    );
}

#[test]
fn documents_keep_their_file_line() {
    let text = format!("# two documents\n---\n{PROM}---\n{OSLO}");
    let (docs, diags) = load(&text);
    assert!(diags.is_empty(), "{diags:?}");
    let lines: Vec<usize> = docs.iter().map(|d| d.line).collect();
    let prom_lines = PROM.lines().count();
    assert_eq!(lines, [3, 3 + prom_lines + 1]);
    // SLO positions count from the top of the file.
    assert_eq!(docs[1].slos[0].source.pos.line, 3 + prom_lines + 1 + 8);
}

#[test]
fn root_label_problems_are_skipped_only_when_every_slo_overrides_them() {
    let text = r#"version: prometheus/v1
service: svc
labels:
  owner: ""
slos:
  - name: one
    objective: 99
    labels: {owner: a}
    sli: {raw: {error_ratio_query: "r[{{.window}}]"}}
    alerting: {name: A}
  - name: two
    objective: 99
    sli: {raw: {error_ratio_query: "r[{{.window}}]"}}
    alerting: {name: A}
"#;
    let (_, diags) = load(text);
    assert_eq!(
        errors(&diags),
        ["t.yaml:4:10: invalid SLO label value \"\": the label value is required"]
    );
    // Once the second SLO sets its own owner too, the empty root value is never used.
    let fixed = text.replacen(
        "  - name: two\n    objective: 99\n",
        "  - name: two\n    objective: 99\n    labels: {owner: b}\n",
        1,
    );
    assert_ne!(fixed, text);
    let (_, diags) = load(&fixed);
    assert!(errors(&diags).is_empty(), "{diags:?}");
}
