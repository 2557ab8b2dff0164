//! `burnwatch validate` end to end: exit codes, summaries and FILE:LINE:COL messages.
//!
//! Every invalid-spec case names a fixture under `tests/fixtures/validate/bad/` and the
//! exact lines stderr must hold. Positions were worked out by hand from the fixture text
//! (line, then column of the first character of the offending value or key, 1-based).
//! Where the tail of a message comes from a library (the YAML or PromQL parser), the
//! expected line holds `…` and only the text around it is compared.

use std::path::Path;

use crate::support::{burnwatch, fixture, repo};

const BAD: &str = "tests/fixtures/validate/bad";
const GOOD: &str = "tests/fixtures/validate/good";

const NAME_RULE: &str = "name must start and end with an alphanumeric and can only contain alphanumeric, '.', '_', and '-'";
const UNKNOWN_FORMAT: &str = "invalid spec, could not load with any of the supported spec types (version: prometheus/v1; apiVersion: sloth.slok.dev/v1 with kind: PrometheusServiceLevel; apiVersion: openslo/v1alpha with kind: SLO; apiVersion: openslo/v1)";
const PLUGINS_IGNORED: &str = "SLO plugins are Sloth Go plugins (rule post-processing); burnwatch does not run them and ignores this field";
const NO_BUDGET: &str = "objective 100 leaves no error budget: every error is an infinite burn rate and the budget is always exhausted";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run `burnwatch validate ARGS...` from the repository root (so paths print relative).
fn validate(args: &[&str]) -> Run {
    let out = burnwatch()
        .current_dir(repo())
        .arg("validate")
        .args(args)
        .output()
        .expect("run burnwatch");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Compare stderr with the expected lines; `…` stands for library text.
fn lines_match(actual: &str, expected: &[String]) -> bool {
    let actual: Vec<&str> = actual.lines().collect();
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| match e.split_once('…') {
                Some((head, tail)) => {
                    a.starts_with(head) && a.ends_with(tail) && a.len() > head.len() + tail.len()
                }
                None => a == e,
            })
}

fn failed(n: usize) -> String {
    format!(
        "validation failed: {n} error{}",
        if n == 1 { "" } else { "s" }
    )
}

/// One invalid spec: the file under `bad/` and the problems (`LINE:COL: message`).
fn bad_cases() -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    let name_rule = format!("4:11: invalid SLO name: {NAME_RULE}");
    vec![
        // Names: Sloth's regex, at least two characters.
        ("name-too-short.yaml", vec![name_rule.clone()]),
        ("name-bad-chars.yaml", vec![name_rule]),
        ("service-empty.yaml", s(&["2:10: invalid SLO service: required"])),
        (
            "service-bad.yaml",
            vec![format!("2:10: invalid SLO service: {NAME_RULE}")],
        ),
        // Objective in (0, 100], and a number.
        (
            "objective-above-100.yaml",
            s(&["5:16: objective must >0 and <=100 (got 100.5)"]),
        ),
        (
            "objective-zero.yaml",
            s(&["5:16: objective must >0 and <=100 (got 0)"]),
        ),
        (
            "objective-string.yaml",
            s(&["5:16: `objective` must be a number, not the string \"99.9\"; remove the quotes"]),
        ),
        // Query templates: {{.window}} present, exactly spelled, queries differ, PromQL parses.
        (
            "query-no-window.yaml",
            s(&["8:22: invalid SLI: sli error query template: template must contain the {{ .window }} variable"]),
        ),
        (
            "query-window-capitalised.yaml",
            s(&["9:22: invalid SLI: sli total query template: template must contain the {{ .window }} variable"]),
        ),
        (
            "query-window-trim-markers.yaml",
            s(&["8:28: invalid SLI: sli raw query template: template must contain the {{ .window }} variable"]),
        ),
        (
            "queries-equal.yaml",
            s(&["9:22: invalid SLI: both error and total queries can't be the same"]),
        ),
        (
            "query-empty.yaml",
            s(&["8:22: invalid SLI: sli error query template: query template is required: required"]),
        ),
        (
            "query-promql-invalid.yaml",
            s(&["8:22: invalid SLI: sli error query expression: …"]),
        ),
        // SLI types.
        (
            "sli-none.yaml",
            s(&["6:10: invalid SLI: at least one SLI type is required (events, raw or plugin)"]),
        ),
        (
            "sli-two-types.yaml",
            s(&["7:7: invalid SLI: only one SLI type is allowed"]),
        ),
        // SLO labels.
        (
            "label-name-key.yaml",
            s(&["7:7: invalid SLO label key \"__name__\": the label key \"__name__\" is not allowed"]),
        ),
        (
            "label-empty-value.yaml",
            s(&["4:10: invalid SLO label value \"\": the label value is required"]),
        ),
        (
            "label-empty-key.yaml",
            s(&["4:3: invalid SLO label key \"\": the label key \"\" is not valid"]),
        ),
        // Alert labels and annotations, in Sloth's words (outer context first).
        (
            "alert-label-name-key.yaml",
            s(&["14:11: invalid alert: page alert: invalid alert label key \"__name__\": the label key \"__name__\" is not allowed"]),
        ),
        (
            "alert-label-empty-value.yaml",
            s(&["14:21: invalid alert: ticket alert: invalid alert label value \"\": the label value is required"]),
        ),
        (
            "annotation-empty-value.yaml",
            s(&["13:18: invalid alert: page alert: invalid alert annotation value \"\": the annotation value is required"]),
        ),
        (
            "annotation-empty-key.yaml",
            s(&["14:11: invalid alert: page alert: invalid alert annotation key \"\": the annotation key \"\" is not valid"]),
        ),
        // Alert name required unless both alerts are disabled.
        (
            "alert-name-missing.yaml",
            s(&["11:7: invalid alert: page alert: alert name is required (or disable both page and ticket alerts)"]),
        ),
        (
            "alerting-missing.yaml",
            s(&["4:5: invalid alert: page alert: alert name is required (or disable both page and ticket alerts)"]),
        ),
        (
            "alert-name-missing-page-disabled.yaml",
            s(&["11:7: invalid alert: ticket alert: alert name is required (or disable both page and ticket alerts)"]),
        ),
        // At least one SLO; exact version string.
        ("slos-empty.yaml", s(&["3:7: at least one SLO is required"])),
        (
            "slos-missing.yaml",
            s(&["1:1: at least one SLO is required: missing field `slos`"]),
        ),
        (
            "version-not-exact.yaml",
            s(&["1:10: invalid spec version, should be \"prometheus/v1\""]),
        ),
        // Duplicate ids within a document and across documents of a file.
        (
            "duplicate-id-in-document.yaml",
            s(&["12:11: SLO ID \"lab-api-requests-availability\" is repeated (first defined at line 4)"]),
        ),
        (
            "duplicate-id-across-documents.yaml",
            vec![format!(
                "16:11: SLO ID \"lab-api-requests-availability\" is repeated: also defined at {BAD}/duplicate-id-across-documents.yaml:4:11"
            )],
        ),
        // All problems of a file, not only the first.
        (
            "many-problems.yaml",
            vec![
                "4:3: invalid SLO label key \"__name__\": the label key \"__name__\" is not allowed".into(),
                format!("6:11: invalid SLO name: {NAME_RULE}"),
                "7:16: objective must >0 and <=100 (got 100.5)".into(),
                "10:22: invalid SLI: sli error query template: template must contain the {{ .window }} variable".into(),
                "13:7: invalid alert: page alert: alert name is required (or disable both page and ticket alerts)".into(),
                "14:18: invalid alert: page alert: invalid alert annotation value \"\": the annotation value is required".into(),
                "16:16: objective must >0 and <=100 (got 0)".into(),
                "17:10: invalid SLI: at least one SLI type is required (events, raw or plugin)".into(),
            ],
        ),
        // burnwatch SLI plugins.
        (
            "plugin-unknown.yaml",
            s(&["8:13: invalid SLI: unknown SLI plugin \"sloth-common/kubernetes/apiserver/availability\"; burnwatch implements: burnwatch/cloudwatch/alb-availability/v1, burnwatch/cloudwatch/s3-requests/v1, burnwatch/cloudwatch/metric-ratio/v1, burnwatch/stepfunctions/success/v1, burnwatch/stepfunctions/latency/v1, burnwatch/batch/job-success/v1"]),
        ),
        (
            "plugin-missing-option.yaml",
            s(&["8:13: invalid SLI: option \"load_balancer\" is required"]),
        ),
        (
            "plugin-bad-options.yaml",
            s(&[
                "11:22: invalid SLI: option \"threshold\": invalid duration \"half an hour\": expected a Prometheus duration such as 30s, 5m, 1h30m, 30d",
                "12:21: invalid SLI: unknown option \"treshold\" for SLI plugin burnwatch/stepfunctions/latency/v1; known options: state_machine_arn, threshold",
            ]),
        ),
        (
            "plugin-id-missing.yaml",
            s(&["8:9: invalid SLI: plugin id is required"]),
        ),
        // Sloth's SLO-plugin rules (the plugins themselves are ignored, with a warning).
        (
            "slo-plugins-override-empty.yaml",
            vec![
                format!("3:14: warning: {PLUGINS_IGNORED}"),
                "3:33: invalid plugins: override plugins is set but no plugins are defined".into(),
            ],
        ),
        (
            "slo-plugins-id-missing.yaml",
            vec![
                format!("7:7: warning: {PLUGINS_IGNORED}"),
                "8:11: invalid plugins: plugin ID is required".into(),
            ],
        ),
        // YAML and document-level problems.
        (
            "yaml-unterminated-quote.yaml",
            s(&["9:22: could not unmarshall YAML spec correctly: …"]),
        ),
        (
            "yaml-bad-indentation.yaml",
            s(&["6:3: could not unmarshall YAML spec correctly: …"]),
        ),
        (
            "yaml-text-after-quoted-value.yaml",
            s(&["6:22: could not unmarshall YAML spec correctly: …"]),
        ),
        ("document-is-list.yaml", vec![format!("1:1: {UNKNOWN_FORMAT}")]),
        (
            "document-is-flow-list.yaml",
            s(&["1:1: expected a mapping, found a list"]),
        ),
        ("unknown-format.yaml", vec![format!("3:1: {UNKNOWN_FORMAT}")]),
        (
            "tabs.yaml",
            s(&["5:1: could not unmarshall YAML spec correctly: … (indent YAML with spaces, not tabs)"]),
        ),
        (
            "empty.yaml",
            s(&["1:1: spec is required: the file has no YAML document"]),
        ),
        (
            "only-comments.yaml",
            s(&["1:1: spec is required: the file has no YAML document"]),
        ),
        (
            "duplicate-key.yaml",
            s(&["6:5: could not unmarshall YAML spec correctly: duplicated key…"]),
        ),
        (
            "invalid-utf8.yaml",
            s(&["2:14: invalid UTF-8: spec files must be UTF-8 text"]),
        ),
        // Kubernetes CRD: exact keys (the API server rejects unknown fields).
        (
            "k8s-snake-case.yaml",
            s(&[
                "12:11: unknown field `error_query` (this format spells it `errorQuery`)",
                "12:11: invalid SLI: sli error query template: query template is required: required",
                "12:11: invalid SLI: sli total query template: query template is required: required",
                "13:11: unknown field `total_query` (this format spells it `totalQuery`)",
                "16:9: unknown field `page_alert` (this format spells it `pageAlert`)",
            ]),
        ),
        (
            "k8s-api-version.yaml",
            s(&["1:13: invalid spec version, should be \"sloth.slok.dev/v1\""]),
        ),
        // OpenSLO v1alpha.
        (
            "openslo-two-time-windows.yaml",
            s(&["15:7: only 1 time window is supported"]),
        ),
        (
            "openslo-month.yaml",
            s(&["14:13: only days based time windows are supported"]),
        ),
        (
            "openslo-7d.yaml",
            s(&["13:14: the 168h0m0s SLO period time window is not supported (7d; the alert-window catalog has: 28d, 30d)"]),
        ),
        (
            "openslo-no-ratio-metrics.yaml",
            s(&["8:7: missing ratioMetrics"]),
        ),
        (
            "openslo-bad-source.yaml",
            s(&["9:24: prometheus or sloth query ratio 'good' source is required"]),
        ),
        (
            "openslo-query-type.yaml",
            s(&["10:48: unsupported 'total' indicator query type: graphite"]),
        ),
        (
            "openslo-version.yaml",
            s(&["1:13: invalid spec version, should be \"openslo/v1alpha\""]),
        ),
        (
            "openslo-target.yaml",
            s(&["11:15: objective must >0 and <=100 (got 150)"]),
        ),
        (
            "openslo-no-objectives.yaml",
            s(&["7:15: at least one SLO is required (spec.objectives is empty)"]),
        ),
    ]
}

#[test]
fn every_invalid_spec_exits_2_with_exact_positions() {
    let mut mismatches = Vec::new();
    let cases = bad_cases();
    for (name, problems) in &cases {
        let path = format!("{BAD}/{name}");
        assert!(
            fixture(&format!("validate/bad/{name}")).is_file(),
            "missing fixture {path}"
        );
        let errors = problems
            .iter()
            .filter(|p| !p.contains(": warning: "))
            .count();
        let mut expected: Vec<String> = problems.iter().map(|p| format!("{path}:{p}")).collect();
        expected.push(failed(errors));
        let run = validate(&[&path]);
        if run.code != Some(2) || !run.stdout.is_empty() || !lines_match(&run.stderr, &expected) {
            mismatches.push(format!(
                "{path}: exit {:?}\n--- expected stderr\n{}\n--- actual stderr\n{}--- stdout\n{}",
                run.code,
                expected.join("\n"),
                run.stderr,
                run.stdout
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ:\n\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n\n")
    );
}

#[test]
fn every_bad_fixture_has_a_case() {
    let cases: Vec<&str> = bad_cases().iter().map(|(n, _)| *n).collect();
    for entry in std::fs::read_dir(fixture("validate/bad")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            assert!(
                cases.contains(&name.as_str()),
                "{name} has no expected output in bad_cases()"
            );
        }
    }
}

#[test]
fn duplicate_ids_across_files_and_formats() {
    let dir = format!("{BAD}/duplicates");
    let run = validate(&[&dir]);
    let expected = vec![
        format!(
            "{dir}/dup-b.yaml:8:13: SLO ID \"lab-api-requests-availability\" is repeated: also defined at {dir}/dup-a.yaml:4:11"
        ),
        failed(1),
    ];
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(lines_match(&run.stderr, &expected), "{}", run.stderr);
    // Each file alone is valid: the problem is only the pair.
    for f in ["dup-a.yaml", "dup-b.yaml"] {
        let run = validate(&[&format!("{dir}/{f}")]);
        assert_eq!(run.code, Some(0), "{f}: {}", run.stderr);
        assert_eq!(run.stdout, "1 SLO in 1 file are valid\n");
    }
}

#[test]
fn folder_without_spec_files_is_an_error() {
    let dir = format!("{BAD}/no-specs");
    assert!(Path::new(&repo()).join(&dir).join("notes.txt").is_file());
    let run = validate(&[&dir]);
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "{dir}:1:1: no spec files found: 0 slo specs have been discovered (looked for *.yaml and *.yml, recursively)\n{}\n",
            failed(1)
        )
    );
}

#[test]
fn missing_path_is_an_error_and_other_paths_are_still_checked() {
    let missing = format!("{BAD}/does-not-exist.yaml");
    let bad = format!("{BAD}/objective-zero.yaml");
    let run = validate(&[&missing, &format!("{GOOD}/no-alerts.yaml"), &bad]);
    assert_eq!(run.code, Some(2));
    // Sorted by path: does-not-exist.yaml before objective-zero.yaml.
    let expected = vec![
        format!("{missing}:1:1: no such file or directory"),
        format!("{bad}:5:16: objective must >0 and <=100 (got 0)"),
        failed(2),
    ];
    assert!(lines_match(&run.stderr, &expected), "{}", run.stderr);
}

#[test]
fn good_specs_cover_every_sloth_shape_and_are_valid() {
    let run = validate(&[GOOD]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // 20 files; SLOs counted per file: events-page-ticket 1, two-slos-subquery 2,
    // raw-block-scalar 2, latency-multiline 2, multi-document 2, no-alerts 1, k8s-single 1,
    // k8s-two-slos 2, k8s-multi-document 2, openslo-single 1, openslo-multi 3,
    // openslo-28d 1, plugins 6, quoted-versions 3, objective-100 1, bom 1, crlf 2,
    // sloth-merge-rules 2, openslo-v1-referenced 1, openslo-v1-inline 3.
    assert_eq!(run.stdout, "39 SLOs in 20 files are valid\n");
    let g = |f: &str, p: &str| format!("{GOOD}/{f}:{p}");
    let expected = vec![
        g(
            "events-page-ticket.yaml",
            &format!("9:3: warning: {PLUGINS_IGNORED}"),
        ),
        g(
            "events-page-ticket.yaml",
            "27:9: warning: unknown field `for` is ignored",
        ),
        g(
            "events-page-ticket.yaml",
            "32:9: warning: unknown field `for` is ignored",
        ),
        g("objective-100.yaml", &format!("5:16: warning: {NO_BUDGET}")),
    ];
    assert!(lines_match(&run.stderr, &expected), "{}", run.stderr);
}

#[test]
fn platform_specs_are_valid() {
    let run = validate(&[]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(run.stderr, "");
    // analysis.yaml: analysis-success, analysis-latency, batch-job-success;
    // api.yaml: api-availability, web-availability; uploads.yaml: counted by the loader.
    let loaded = burnwatch::spec::load_paths(
        &[repo().join("slo-specs")],
        &burnwatch::spec::LoadOptions::default(),
    );
    assert!(!loaded.has_errors());
    let ids: Vec<&str> = loaded.slos().map(|s| s.id.as_str()).collect();
    for id in [
        "mass-spec-analysis-success",
        "mass-spec-analysis-latency",
        "mass-spec-batch-job-success",
        "mass-spec-api-availability",
        "mass-spec-web-availability",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert_eq!(
        run.stdout,
        format!("{} SLOs in 3 files are valid\n", ids.len())
    );
}

#[test]
fn period_flag_chooses_the_catalog_entry() {
    // 28d is in the built-in catalog.
    let run = validate(&["--period", "28d", GOOD]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "39 SLOs in 20 files are valid\n");
    // 7d is not.
    let run = validate(&["--period", "7d", &format!("{GOOD}/no-alerts.yaml")]);
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(
            "the 168h0m0s SLO period time window is not supported (7d; the alert-window catalog has: 28d, 30d)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn custom_window_catalog_replaces_the_builtin_one() {
    let windows = "tests/fixtures/validate/windows/7d";
    let spec = format!("{GOOD}/no-alerts.yaml");
    let run = validate(&["--windows", windows, "--period", "7d", &spec]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "1 SLO in 1 file are valid\n");
    // The default period (30d) is no longer in the catalog.
    let run = validate(&["--windows", windows, &spec]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(
            "the 720h0m0s SLO period time window is not supported (30d; the alert-window catalog has: 7d)"
        ),
        "{}",
        run.stderr
    );
    // An OpenSLO spec whose own 30d period the catalog lacks: reported at its `count`.
    let oslo = format!("{GOOD}/openslo-single.yaml");
    let run = validate(&["--windows", windows, "--period", "7d", &oslo]);
    assert_eq!(run.code, Some(2));
    assert_eq!(
        run.stderr,
        format!(
            "{oslo}:23:14: the 720h0m0s SLO period time window is not supported (30d; the alert-window catalog has: 7d)\n{}\n",
            failed(1)
        )
    );
}

#[test]
fn invalid_window_catalog_is_reported_with_positions() {
    let windows = "tests/fixtures/validate/windows/invalid";
    let run = validate(&["--windows", windows, &format!("{GOOD}/no-alerts.yaml")]);
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(&format!(
            "{windows}/missing-long.yaml:8:7: invalid page slow: long window is required"
        )),
        "{}",
        run.stderr
    );
}
