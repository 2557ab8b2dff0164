//! The dashboards' queries run in a real Prometheus engine (`promtool test rules`) over
//! series shaped exactly as the exporter contract says (names and labels from
//! `burnwatch::dashboard::series`, SLO labels from the specs): every query returns data,
//! the status table's queries line up on the SLO identity (Grafana merges them), and the
//! values are the burn rates, SLIs and alert states worked out here from the inputs.

use std::collections::BTreeMap;

use burnwatch::dashboard::series::{
    ALERT_FIRING, CURRENT_BURN_RATE, ERROR_BUDGET, OBJECTIVE, PERIOD_BUDGET_REMAINING,
    PERIOD_BURN_RATE, PROBE_CLASSIFICATION, PROBE_STEP_DURATION, PROBE_SUCCESS, PROMETHEUS_ALERTS,
    SLO_INFO, TIME_PERIOD_DAYS, sli_error_series,
};
use burnwatch::spec::{Duration, Slo};
use serde_json::{Value, json};

use super::{all_panels, generated, load_specs, queries};
use crate::support::service;

const API: &str = "mass-spec-api-availability";
const WEB: &str = "mass-spec-web-availability";
const UPLOAD: &str = "mass-spec-upload-success";
const ANALYSIS: &str = "mass-spec-analysis-success";
const PERIOD: Duration = Duration::from_days(30);

/// Error ratio of `slo` over `window` in the test scenario: the API burns fast (a page),
/// uploads overspent the period budget (a ticket), everything else is clean.
fn error_ratio(slo: &Slo, window: Duration) -> f64 {
    let w = window.to_string();
    match slo.id.as_str() {
        API => match w.as_str() {
            "5m" | "30m" | "1h" => 0.02,
            "2h" => 0.005,
            "6h" => 0.01,
            _ => 0.0005,
        },
        UPLOAD => 0.00125,
        _ => 0.0,
    }
}

fn labels_text(name: &str, labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap()))
        .collect();
    format!("{name}{{{}}}", inner.join(", "))
}

fn id_labels(slo: &Slo) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("sloth_id".to_string(), slo.id.clone()),
        ("sloth_service".to_string(), slo.service.clone()),
        ("sloth_slo".to_string(), slo.name.clone()),
    ])
}

struct Inputs(Vec<Value>);

impl Inputs {
    fn add(&mut self, name: &str, labels: &BTreeMap<String, String>, value: f64) {
        self.0.push(json!({
            "series": labels_text(name, labels),
            "values": format!("{value}x10"),
        }));
    }
}

/// SLO series as the exporter writes them (Sloth names; SLO labels on every SLO series).
fn slo_series(slos: &[&Slo], inputs: &mut Inputs) {
    let catalog = burnwatch::spec::WindowCatalog::builtin();
    let windows = catalog.get(PERIOD).unwrap();
    for slo in slos {
        let mut meta = id_labels(slo);
        meta.extend(slo.labels.clone());
        let eb = slo.error_budget_ratio();
        for w in windows.sli_windows() {
            let mut l = meta.clone();
            l.insert("sloth_window".into(), w.to_string());
            inputs.add(&sli_error_series(w), &l, error_ratio(slo, w));
        }
        let period_burn = error_ratio(slo, PERIOD) / eb;
        inputs.add(OBJECTIVE, &meta, slo.objective_ratio());
        inputs.add(ERROR_BUDGET, &meta, eb);
        inputs.add(TIME_PERIOD_DAYS, &meta, 30.0);
        inputs.add(
            CURRENT_BURN_RATE,
            &meta,
            error_ratio(slo, windows.page_quick.short) / eb,
        );
        inputs.add(PERIOD_BURN_RATE, &meta, period_burn);
        inputs.add(PERIOD_BUDGET_REMAINING, &meta, 1.0 - period_burn);
        let mut info = meta.clone();
        info.insert("sloth_version".into(), "test".into());
        info.insert("sloth_mode".into(), "burnwatch".into());
        info.insert("sloth_spec".into(), "prometheus/v1".into());
        info.insert("sloth_objective".into(), slo.objective.to_string());
        inputs.add(SLO_INFO, &info, 1.0);
    }
}

/// `ALERTS` as Prometheus writes it for the generated rules: the rule's labels plus the
/// expression's (`max ... without (sloth_window)` keeps the SLO identity and labels).
fn prometheus_alert(slo: &Slo, severity: &str, state: &str, inputs: &mut Inputs) {
    let alert = if severity == "page" {
        slo.page_alert.as_ref()
    } else {
        slo.ticket_alert.as_ref()
    }
    .unwrap();
    let mut l = id_labels(slo);
    l.extend(slo.labels.clone());
    l.extend(alert.labels.clone());
    l.insert("alertname".into(), alert.name.clone());
    l.insert("alertstate".into(), state.into());
    l.insert("sloth_severity".into(), severity.into());
    inputs.add(PROMETHEUS_ALERTS, &l, 1.0);
}

/// A check: `expr` at 5m must give exactly `exp` (labels text, value).
fn check(expr: String, exp: Vec<(String, f64)>) -> Value {
    let samples: Vec<Value> = exp
        .into_iter()
        .map(|(labels, value)| json!({"labels": labels, "value": value}))
        .collect();
    json!({"expr": expr, "eval_time": "5m", "exp_samples": samples})
}

/// `expr` returns exactly one series whose value is `v` (to 1e-9 relative).
fn value_is(expr: &str, v: f64) -> Vec<Value> {
    let tol = 1e-9 * v.abs().max(1.0);
    vec![
        check(format!("count({expr})"), vec![("{}".into(), 1.0)]),
        check(
            format!("min(abs(({expr}) - ({v})) < bool {tol})"),
            vec![("{}".into(), 1.0)],
        ),
    ]
}

/// The query of panel `title` (prefix) about `slo` (if given) whose legend starts with
/// `legend`.
fn target(dashboard: &Value, title: &str, slo: Option<&str>, legend: &str) -> String {
    let sel = slo.map(|id| format!("sloth_id=\"{id}\""));
    for p in all_panels(dashboard) {
        if !p["title"].as_str().unwrap_or("").starts_with(title) {
            continue;
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap();
            let first = p["targets"][0]["expr"].as_str().unwrap();
            if sel.as_ref().is_none_or(|s| first.contains(s.as_str()))
                && t["legendFormat"].as_str().unwrap().starts_with(legend)
            {
                return expr.to_string();
            }
        }
    }
    panic!("no query {title:?} {slo:?} {legend:?}");
}

fn status_table(dashboard: &Value) -> Vec<&str> {
    let table = all_panels(dashboard)
        .into_iter()
        .find(|p| p["title"] == "SLO status")
        .unwrap();
    table["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["expr"].as_str().unwrap())
        .collect()
}

#[test]
fn queries_return_the_right_values_in_prometheus() {
    let promtool = service("BURNWATCH_TEST_PROMTOOL");
    let (loaded, _) = load_specs(30);
    let slos: Vec<&Slo> = loaded.slos().collect();
    let by_id = |id: &str| *slos.iter().find(|s| s.id == id).unwrap();
    let (_dir, ds) = generated(&[]);
    let overview = &ds["burnwatch-slo-overview.json"];
    let svc = &ds["burnwatch-burn-mass-spec.json"];
    let id_text = |slo: &Slo| labels_text("", &id_labels(slo));

    // Scenario 1: burnwatch evaluates (and a Prometheus evaluates the same rules).
    let mut s1 = Inputs(Vec::new());
    slo_series(&slos, &mut s1);
    for slo in &slos {
        for sev in ["page", "ticket"] {
            let firing = (slo.id == API && sev == "page") || (slo.id == UPLOAD && sev == "ticket");
            let mut l = id_labels(slo);
            l.insert("sloth_severity".into(), sev.into());
            s1.add(ALERT_FIRING, &l, if firing { 1.0 } else { 0.0 });
        }
    }
    prometheus_alert(by_id(API), "page", "firing", &mut s1);
    prometheus_alert(by_id(UPLOAD), "ticket", "firing", &mut s1);
    let target_l = |more: &[(&str, &str)]| {
        let mut l = BTreeMap::from([("target".to_string(), "mass-spec-rds".to_string())]);
        l.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        l
    };
    s1.add(PROBE_SUCCESS, &target_l(&[]), 0.0);
    for (step, secs) in [
        ("dns", 0.001),
        ("tcp", 0.002),
        ("tls", 0.01),
        ("auth", 0.02),
    ] {
        s1.add(PROBE_STEP_DURATION, &target_l(&[("step", step)]), secs);
    }
    s1.add(
        PROBE_CLASSIFICATION,
        &target_l(&[("classification", "auth_failed")]),
        1.0,
    );
    s1.add(
        PROBE_CLASSIFICATION,
        &target_l(&[("classification", "healthy")]),
        0.0,
    );

    let mut c1 = Vec::new();
    // Every query of both dashboards returns data from these series.
    for d in [overview, svc] {
        for q in queries(d) {
            c1.push(check(
                format!("count({}) > bool 0", q.expr),
                vec![("{}".into(), 1.0)],
            ));
        }
    }
    let n = slos.len() as f64;
    c1.extend(value_is(&target(overview, "SLOs", None, ""), n));
    c1.extend(value_is(&target(overview, "Paging now", None, ""), 1.0));
    c1.extend(value_is(&target(overview, "Tickets open", None, ""), 1.0));
    c1.extend(value_is(
        &target(overview, "Budget exhausted", None, ""),
        1.0,
    ));
    // The status table's five queries each give one row per SLO, labelled only with the
    // SLO identity, so Grafana's merge puts them on one line.
    for expr in status_table(overview) {
        c1.push(check(
            format!("({expr}) * 0"),
            slos.iter().map(|s| (id_text(s), 0.0)).collect(),
        ));
    }
    let state = |page: &str, ticket: &str| -> Vec<(String, f64)> {
        slos.iter()
            .map(|s| {
                let v = if s.id == page {
                    2.0
                } else if s.id == ticket {
                    1.0
                } else {
                    0.0
                };
                (id_text(s), v)
            })
            .collect()
    };
    let table = status_table(overview);
    c1.push(check(table[4].to_string(), state(API, UPLOAD)));

    let api = by_id(API);
    let eb = api.error_budget_ratio();
    for (legend, e) in [("5m ", 0.02), ("1h ", 0.02), ("30m ", 0.02), ("6h ", 0.01)] {
        c1.extend(value_is(
            &target(svc, "Page burn rate", Some(API), legend),
            e / eb,
        ));
    }
    c1.extend(value_is(
        &target(svc, "Ticket burn rate", Some(API), "2h "),
        0.005 / eb,
    ));
    c1.extend(value_is(
        &target(svc, "Page burn rate", Some(API), "fast page threshold"),
        14.4,
    ));
    c1.extend(value_is(
        &target(svc, "Ticket burn rate", Some(API), "slow ticket threshold"),
        1.0,
    ));
    c1.extend(value_is(
        &target(svc, "SLI per window", Some(API), "5m"),
        1.0 - 0.02,
    ));
    c1.extend(value_is(
        &target(svc, "SLI per window", Some(API), "30d (period)"),
        1.0 - 0.0005,
    ));
    c1.extend(value_is(
        &target(svc, "SLI over 30d", Some(API), ""),
        1.0 - 0.0005,
    ));
    c1.extend(value_is(
        &target(svc, "Burn rate (5m)", Some(API), ""),
        0.02 / eb,
    ));
    c1.extend(value_is(&target(svc, "Objective", Some(API), ""), 0.999));
    let upload = by_id(UPLOAD);
    c1.extend(value_is(
        &target(svc, "Budget left", Some(UPLOAD), ""),
        1.0 - 0.00125 / upload.error_budget_ratio(),
    ));
    c1.extend(value_is(&target(svc, "Alert", Some(API), ""), 2.0));
    c1.extend(value_is(&target(svc, "Alert", Some(UPLOAD), ""), 1.0));
    c1.extend(value_is(&target(svc, "Alert", Some(ANALYSIS), ""), 0.0));
    c1.push(check(
        target(svc, "Current classification", None, ""),
        vec![(
            labels_text(
                PROBE_CLASSIFICATION,
                &target_l(&[("classification", "auth_failed")]),
            ),
            1.0,
        )],
    ));

    // Scenario 2: only Prometheus evaluates (no burnwatch_* series): alert state comes
    // from ALERTS; pending alerts do not count.
    let mut s2 = Inputs(Vec::new());
    slo_series(&slos, &mut s2);
    prometheus_alert(by_id(API), "page", "firing", &mut s2);
    prometheus_alert(by_id(WEB), "ticket", "firing", &mut s2);
    prometheus_alert(by_id(ANALYSIS), "page", "pending", &mut s2);
    let mut c2 = vec![check(table[4].to_string(), state(API, WEB))];
    c2.extend(value_is(&target(overview, "Paging now", None, ""), 1.0));
    c2.extend(value_is(&target(overview, "Tickets open", None, ""), 1.0));
    c2.extend(value_is(&target(svc, "Alert", Some(WEB), ""), 1.0));
    c2.extend(value_is(&target(svc, "Alert", Some(ANALYSIS), ""), 0.0));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.yml"), "groups: []\n").unwrap();
    let group = |inputs: Inputs, checks: Vec<Value>| json!({"interval": "1m", "input_series": inputs.0, "promql_expr_test": checks});
    let test = json!({
        "rule_files": ["empty.yml"],
        "evaluation_interval": "1m",
        "tests": [group(s1, c1), group(s2, c2)],
    });
    let file = dir.path().join("dashboards_test.yml");
    std::fs::write(&file, serde_json::to_string_pretty(&test).unwrap()).unwrap();
    let out = std::process::Command::new(&promtool)
        .current_dir(dir.path())
        .args(["test", "rules", "dashboards_test.yml"])
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool test rules failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
