//! `burnwatch generate prometheus` end to end: golden outputs written by hand from
//! `sloth-compat.md` for each Sloth shape, compared semantically (groups, names, labels,
//! annotations, expressions with whitespace collapsed) and byte for byte where Sloth's
//! layout is reproduced exactly; every output passes `promtool check rules`.

use std::path::Path;
use std::process::Command;

use burnwatch::spec::yaml::{self, Node, Value};
use serde_json::{Map, Value as Json};

use crate::support::{burnwatch, fixture, repo, service};

/// Run `burnwatch generate prometheus ARGS`; (exit code, stdout, stderr).
fn generate(args: &[&str]) -> (i32, String, String) {
    let out = burnwatch()
        .current_dir(repo())
        .args(["generate", "prometheus"])
        .args(args)
        .output()
        .expect("run burnwatch");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => Json::from(*f),
        Value::Str(s) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                let mut v = to_json(v);
                if k.name == "expr"
                    && let Json::String(s) = &v
                {
                    v = Json::String(s.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                m.insert(k.name.clone(), v);
            }
            Json::Object(m)
        }
    }
}

/// Every YAML document, as JSON with `expr` whitespace collapsed.
fn documents(text: &str) -> Vec<Json> {
    yaml::parse(text, 0)
        .unwrap_or_else(|e| panic!("output is not YAML: {e}\n{text}"))
        .iter()
        .map(to_json)
        .collect()
}

/// The semantic content of a rule file: the groups of all its documents, in order
/// (Sloth writes one document per spec document; burnwatch merges them into one, which
/// is all Prometheus reads).
fn semantic(text: &str) -> Json {
    let docs = documents(text);
    if docs.iter().all(|d| d.get("groups").is_some()) {
        Json::Array(
            docs.iter()
                .flat_map(|d| d["groups"].as_array().cloned().unwrap_or_default())
                .collect(),
        )
    } else {
        Json::Array(docs)
    }
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("rules/expected/{name}"))).unwrap()
}

/// `promtool check rules` on a rule file's text; PrometheusRule objects are checked through
/// their `spec` (a rule file in JSON, which is YAML).
fn check_rules(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, doc) in documents(text).iter().enumerate() {
        let body = match doc.get("spec") {
            Some(spec) => serde_json::to_string(spec).unwrap(),
            None => continue,
        };
        files.push(dir.path().join(format!("object-{i}.json")));
        std::fs::write(files.last().unwrap(), body).unwrap();
    }
    if files.is_empty() {
        files.push(dir.path().join("rules.yml"));
        std::fs::write(&files[0], text).unwrap();
    }
    let out = Command::new(service("BURNWATCH_TEST_PROMTOOL"))
        .args(["check", "rules"])
        .args(&files)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check rules failed:\n{}\n{}\n--- rules ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One golden case: spec, extra arguments, expected file, and whether the bytes must match.
fn golden(spec: &str, args: &[&str], expected_file: &str, bytes: bool) {
    let spec_path = fixture(&format!("rules/{spec}"));
    let mut all = vec!["--sloth-version", "dev"];
    all.extend_from_slice(args);
    all.push(spec_path.to_str().unwrap());
    let (code, out, err) = generate(&all);
    assert_eq!(code, 0, "{err}");
    let want = expected(expected_file);
    assert_eq!(
        semantic(&out),
        semantic(&want),
        "{spec} {args:?}: output differs semantically from {expected_file}:\n{out}"
    );
    if bytes {
        assert_eq!(
            out, want,
            "{spec} {args:?}: bytes differ from {expected_file}"
        );
    }
    check_rules(&out);
}

#[test]
fn golden_events_30d() {
    golden("events.yaml", &[], "events.30d.yaml", true);
}

#[test]
fn golden_events_28d_uses_4w_and_28d_factors() {
    golden("events.yaml", &["--period", "28d"], "events.28d.yaml", true);
}

#[test]
fn golden_events_custom_windows() {
    let windows = fixture("rules/windows");
    golden(
        "events.yaml",
        &["--windows", windows.to_str().unwrap()],
        "events.custom-windows.yaml",
        true,
    );
}

#[test]
fn golden_raw_sli_page_only() {
    golden("raw.yaml", &[], "raw.yaml", true);
}

#[test]
fn golden_multi_document_is_sloths_groups_in_one_document() {
    // Semantically Sloth's two documents; one document here because Prometheus ignores all
    // but the first document of a rule file.
    golden("multi.yaml", &[], "multi.yaml", false);
    let (_, out, _) = generate(&[fixture("rules/multi.yaml").to_str().unwrap()]);
    assert_eq!(out.matches("\n---\n").count(), 1, "{out}");
}

#[test]
fn golden_alerts_disabled_with_extra_labels() {
    golden(
        "no-alerts.yaml",
        &["-l", "env=prod", "-l", "owner=sre-team"],
        "no-alerts.extra-labels.yaml",
        true,
    );
}

#[test]
fn golden_kubernetes_prometheus_rule() {
    golden("k8s.yaml", &[], "k8s.yaml", true);
}

#[test]
fn golden_openslo_28d_objectives() {
    golden("openslo.yaml", &[], "openslo.yaml", true);
}

#[test]
fn disable_flags_drop_whole_groups() {
    let spec = fixture("rules/events.yaml");
    let want = semantic(&expected("events.30d.yaml"));
    let groups = want.as_array().unwrap();
    let named = |prefix: &str| -> Vec<Json> {
        groups
            .iter()
            .filter(|g| g["name"].as_str().unwrap().starts_with(prefix))
            .cloned()
            .collect()
    };
    let (code, out, err) = generate(&[
        "--sloth-version",
        "dev",
        "--disable-alerts",
        spec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut recordings = named("sloth-slo-sli-recordings-");
    recordings.extend(named("sloth-slo-meta-recordings-"));
    assert_eq!(semantic(&out), Json::Array(recordings));
    let (code, out, err) = generate(&["--disable-recordings", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(semantic(&out), Json::Array(named("sloth-slo-alerts-")));
    let (code, _, err) = generate(&[
        "--disable-recordings",
        "--disable-alerts",
        spec.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("0 SLO Prometheus rules generated"), "{err}");
}

#[test]
fn platform_specs_need_an_explicit_choice_for_unmapped_slis() {
    let (code, out, err) = generate(&["slo-specs/"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.is_empty(), "nothing is written on error: {out}");
    assert!(
        err.contains("slo-specs/analysis.yaml:34:11: SLO \"mass-spec-analysis-latency\" has no Prometheus form")
            && err.contains("ListExecutions")
            && err.contains("--skip-unmapped"),
        "{err}"
    );
}

#[test]
fn platform_specs_generate_with_skip_unmapped_and_pass_promtool() {
    let (code, out, err) = generate(&["--skip-unmapped", "slo-specs/"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: SLO \"mass-spec-analysis-latency\" left out"),
        "{err}"
    );
    let groups = semantic(&out);
    let names: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for id in [
        "mass-spec-analysis-success",
        "mass-spec-batch-job-success",
        "mass-spec-api-availability",
        "mass-spec-web-availability",
        "mass-spec-upload-success",
    ] {
        assert!(
            names.contains(&format!("sloth-slo-alerts-{id}").as_str()),
            "{id} missing: {names:?}"
        );
    }
    assert!(!out.contains("analysis-latency"), "{out}");
    // The YACE series names the README documents.
    for series in [
        "aws_applicationelb_httpcode_target_5_xx_count_sum{dimension_LoadBalancer=\"app/mass-spec/0123456789abcdef\"}[5m]",
        "aws_applicationelb_request_count_sum{dimension_LoadBalancer=\"app/mass-spec/0123456789abcdef\"}[1h]",
        "aws_s3_5xx_errors_sum{dimension_BucketName=\"mass-spec-uploads\", dimension_FilterId=\"uploads\"}[30m]",
        "aws_s3_put_requests_sum{dimension_BucketName=\"mass-spec-uploads\", dimension_FilterId=\"uploads\"}[6h]",
        "aws_states_executions_timed_out_sum{dimension_StateMachineArn=\"arn:aws:states:eu-west-1:123456789012:stateMachine:mass-spec-analysis\"}[1d]",
        "aws_batch_jobs_moved_to_failed_sum{dimension_JobQueueName=\"mass-spec-analysis\"}[3d]",
    ] {
        assert!(out.contains(series), "{series} not in output");
    }
    check_rules(&out);

    let (code, out, err) = generate(&["--skip-unmapped", "--k8s", "slo-specs/"]);
    assert_eq!(code, 0, "{err}");
    let docs = documents(&out);
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["slo-analysis", "slo-api", "slo-uploads"]);
    assert!(docs.iter().all(|d| d["kind"] == "PrometheusRule"));
    check_rules(&out);
}

#[test]
fn exact_period_records_the_events_ratio_over_the_period() {
    let spec = fixture("rules/events.yaml");
    let (code, out, err) = generate(&["--exact-period", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let groups = semantic(&out);
    let period = &groups[0]["rules"][7];
    assert_eq!(period["record"], "slo:sli_error:ratio_rate30d");
    assert_eq!(
        period["expr"],
        "(sum(rate(http_requests_total{job=\"checkout\",code=~\"5..\"}[30d]))) / (sum(rate(http_requests_total{job=\"checkout\"}[30d])))"
    );
    check_rules(&out);
}

#[test]
fn nan_guard_filters_nan_and_handles_objective_100() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("perfect.yaml");
    std::fs::write(
        &spec,
        "version: prometheus/v1\nservice: ledger\nslos:\n  - name: writes\n    objective: 100\n    sli:\n      events:\n        error_query: sum(rate(writes_failed_total[{{.window}}]))\n        total_query: sum(rate(writes_total[{{.window}}]))\n    alerting:\n      name: LedgerWriteErrors\n",
    )
    .unwrap();
    let (code, out, err) = generate(&["--nan-guard", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let groups = semantic(&out);
    assert_eq!(
        groups[0]["rules"][0]["expr"],
        "clamp_max(((sum(rate(writes_failed_total[5m]))) / (sum(rate(writes_total[5m])))) >= 0, 1)"
    );
    let meta: Vec<&str> = groups[1]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"].as_str().unwrap())
        .collect();
    assert_eq!(
        meta,
        [
            "slo:objective:ratio",
            "slo:error_budget:ratio",
            "slo:time_period:days",
            "slo:period_error_budget_remaining:ratio",
            "sloth_slo_info"
        ],
        "no burn-rate rules without a budget"
    );
    assert_eq!(
        groups[1]["rules"][3]["expr"],
        "1 - (slo:sli_error:ratio_rate30d{sloth_id=\"ledger-writes\", sloth_service=\"ledger\", sloth_slo=\"writes\"} > bool 0)"
    );
    // Any error at all exceeds a zero budget: thresholds are factor × 0.
    assert!(
        groups[2]["rules"][0]["expr"]
            .as_str()
            .unwrap()
            .contains("> (14.4 * 0)) without (sloth_window)")
    );
    check_rules(&out);
}

#[test]
fn no_data_alert_is_a_ticket_with_the_slo_labels() {
    let spec = fixture("rules/events.yaml");
    let (code, out, err) = generate(&[
        "--no-data-alerts",
        "--no-data-for",
        "15m",
        spec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let groups = semantic(&out);
    let rule = &groups[2]["rules"][2];
    assert_eq!(rule["alert"], "SLIDataMissing");
    assert_eq!(rule["for"], "15m");
    assert_eq!(
        rule["expr"],
        "absent(slo:sli_error:ratio_rate5m{sloth_id=\"checkout-requests-availability\", sloth_service=\"checkout\", sloth_slo=\"requests-availability\"} >= 0)"
    );
    assert_eq!(rule["labels"]["sloth_severity"], "ticket");
    assert_eq!(rule["labels"]["severity"], "ticket");
    assert_eq!(rule["labels"]["owner"], "payments");
    assert_eq!(rule["labels"]["sloth_id"], "checkout-requests-availability");
    check_rules(&out);
}

#[test]
fn kubernetes_and_plain_specs_do_not_mix_without_k8s() {
    let k8s = fixture("rules/k8s.yaml");
    let plain = fixture("rules/raw.yaml");
    let (code, _, err) = generate(&[k8s.to_str().unwrap(), plain.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("pass --k8s"), "{err}");
    let (code, out, err) = generate(&["--k8s", k8s.to_str().unwrap(), plain.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let names: Vec<String> = documents(&out)
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["checkout-slos", "slo-raw"]);
}

#[test]
fn bad_arguments_and_periods_are_usage_errors() {
    let spec = fixture("rules/events.yaml");
    let spec = spec.to_str().unwrap();
    let (code, _, err) = generate(&["-l", "no-equals", spec]);
    assert_eq!(code, 2);
    assert!(err.contains("KEY=VALUE"), "{err}");
    let (code, _, err) = generate(&["-l", "bad-name=x", spec]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = generate(&["--period", "7d", spec]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the 168h0m0s SLO period time window is not supported (7d;"),
        "{err}"
    );
    let (code, _, err) = generate(&["--no-data-for", "5m", spec]);
    assert_eq!(code, 2, "--no-data-for needs --no-data-alerts: {err}");
}

#[test]
fn out_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    let spec = fixture("rules/events.yaml");
    let (code, out, err) = generate(&[
        "--sloth-version",
        "dev",
        spec.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        expected("events.30d.yaml")
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    assert!(Path::new(&file).exists());
}
