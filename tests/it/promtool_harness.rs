//! Plumbing for the promtool scenario tests: generated rule files, promtool test files
//! (input series, alert and expression tests) and running `promtool test rules`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::mwmb_model::Traffic;
use crate::support::{burnwatch, service};

/// Labels or annotations.
pub type Map = BTreeMap<String, String>;

/// A map from string pairs.
pub fn map(pairs: &[(&str, &str)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A firing alert as promtool reports it (alertname is added by promtool).
#[derive(Clone, Debug)]
pub struct Alert {
    /// Labels without `alertname`.
    pub labels: Map,
    /// Expanded annotations.
    pub annotations: Map,
}

/// A `promql_expr_test`: minute, expression, expected (labels, value) samples.
pub type ExprTest = (u32, String, Vec<(Map, String)>);

/// One promtool test group.
pub struct Group {
    /// Group name shown by promtool.
    pub name: String,
    /// The counters to feed.
    pub traffic: Traffic,
    /// `alert_rule_test`s: minute, alert name, expected firing alerts.
    pub alert_tests: Vec<(u32, String, Vec<Alert>)>,
    /// `promql_expr_test`s.
    pub expr_tests: Vec<ExprTest>,
}

impl Group {
    /// An empty group over `traffic`.
    pub fn new(name: &str, traffic: Traffic) -> Self {
        Group {
            name: name.to_string(),
            traffic,
            alert_tests: Vec::new(),
            expr_tests: Vec::new(),
        }
    }

    /// The group as promtool test-file YAML.
    pub fn yaml(&self) -> String {
        let (good, bad) = self.traffic.series_values();
        let mut y = String::new();
        let _ = writeln!(
            y,
            "- name: {:?}\n  interval: 1m\n  input_series:",
            self.name
        );
        let _ = writeln!(
            y,
            "  - series: 'http_requests_total{{job=\"checkout\",code=\"200\"}}'\n    values: '{good}'"
        );
        let _ = writeln!(
            y,
            "  - series: 'http_requests_total{{job=\"checkout\",code=\"500\"}}'\n    values: '{bad}'"
        );
        if !self.alert_tests.is_empty() {
            y.push_str("  alert_rule_test:\n");
        }
        for (t, name, alerts) in &self.alert_tests {
            let _ = writeln!(y, "  - eval_time: {t}m\n    alertname: {name}");
            if alerts.is_empty() {
                y.push_str("    exp_alerts: []\n");
                continue;
            }
            y.push_str("    exp_alerts:\n");
            for a in alerts {
                let _ = writeln!(
                    y,
                    "    - exp_labels: {}\n      exp_annotations: {}",
                    serde_json::to_string(&a.labels).unwrap(),
                    serde_json::to_string(&a.annotations).unwrap()
                );
            }
        }
        if !self.expr_tests.is_empty() {
            y.push_str("  promql_expr_test:\n");
        }
        for (t, expr, samples) in &self.expr_tests {
            let _ = writeln!(y, "  - expr: {expr:?}\n    eval_time: {t}m");
            if samples.is_empty() {
                y.push_str("    exp_samples: []\n");
                continue;
            }
            y.push_str("    exp_samples:\n");
            for (labels, value) in samples {
                let set = labels
                    .iter()
                    .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap()))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(y, "    - labels: '{{{set}}}'\n      value: {value}");
            }
        }
        y
    }
}

/// Generate rules for `spec` with `args` into `dir/<name>`.
pub fn generate(dir: &Path, name: &str, spec: &Path, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let result = burnwatch()
        .arg("generate")
        .arg("prometheus")
        .args(args)
        .arg(spec)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run burnwatch");
    assert!(
        result.status.success(),
        "burnwatch generate failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// `rule_files`, `evaluation_interval` and `group_eval_order` for a test file over `rules`.
///
/// Without `group_eval_order` promtool evaluates groups in random order, so an alert group
/// may see the previous minute's recordings. The order pinned here (file order: each SLO's
/// SLI recordings, metadata, alerts) is the best case; a real Prometheus schedules groups
/// independently and an alert may lag its recordings by up to one evaluation interval.
pub fn test_file_header(rules: &Path) -> String {
    let text = std::fs::read_to_string(rules).unwrap();
    let order: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("- name: "))
        .map(|n| format!("- {n}"))
        .collect();
    format!(
        "rule_files:\n- {}\nevaluation_interval: 1m\ngroup_eval_order:\n{}\ntests:\n",
        rules.display(),
        order.join("\n")
    )
}

/// Write a promtool test file over `rules` and run `promtool test rules` on it.
pub fn promtool_test(dir: &Path, name: &str, rules: &Path, groups: &[Group]) {
    let mut y = test_file_header(rules);
    for g in groups {
        y.push_str(&g.yaml());
    }
    let file = dir.join(name);
    std::fs::write(&file, y).unwrap();
    let out = Command::new(service("BURNWATCH_TEST_PROMTOOL"))
        .arg("test")
        .arg("rules")
        .arg(&file)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool test rules {} failed:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
