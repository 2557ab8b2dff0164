//! `burnwatch generate dashboards` end to end: the checked-in `dashboards/` are what the
//! specs generate now; every query uses only series burnwatch exports (checked on
//! promql-parser's AST against the contract in `burnwatch::dashboard::series`); the JSON
//! follows Grafana's dashboard model; burn thresholds come from the window catalog; bad
//! specs exit 2; and the queries return the right values from exporter-shaped series in
//! a real Prometheus engine (`promtool test rules`).

mod grafana;
mod promql;
mod promtool;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use burnwatch::dashboard::series::{
    ALERT_FIRING, CURRENT_BURN_RATE, ERROR_BUDGET, OBJECTIVE, PERIOD_BUDGET_REMAINING,
    PROBE_CLASSIFICATION, PROBE_STEP_DURATION, PROBE_SUCCESS, PROMETHEUS_ALERTS, exported_series,
    sli_error_series,
};
use burnwatch::spec::{Duration, LoadOptions, Tier, WindowCatalog};
use serde_json::Value;

use crate::support::{burnwatch, repo};

/// The command words. The lead moves the command under `generate dashboards` at merge;
/// change this line then.
pub const GENERATE: &[&str] = &["generate", "dashboards"];

/// Run the generator on `slo-specs/` (absolute path) with `extra` arguments.
pub fn generate(extra: &[&str], out: &Path) -> Output {
    burnwatch()
        .args(GENERATE)
        .arg(repo().join("slo-specs"))
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .expect("run burnwatch")
}

/// `*.json` files of a folder by name.
pub fn json_files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

/// Generate into a fresh temp dir and parse every file.
pub fn generated(extra: &[&str]) -> (tempfile::TempDir, BTreeMap<String, Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = generate(extra, dir.path());
    assert!(
        out.status.success(),
        "generate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed = json_files(dir.path())
        .into_iter()
        .map(|(k, v)| (k, serde_json::from_str(&v).unwrap()))
        .collect();
    (dir, parsed)
}

/// Every panel, rows' nested panels included.
pub fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// One PromQL query of a dashboard: where it is, the expression, its legend template.
#[derive(Debug, Clone)]
pub struct QueryRef {
    /// `panel <id> "<title>" <refId>` or `annotation "<name>"`.
    pub place: String,
    /// PromQL.
    pub expr: String,
    /// Legend (or annotation title/text templates and tag keys).
    pub legend: String,
}

/// Every query: panel targets and annotation queries.
pub fn queries(dashboard: &Value) -> Vec<QueryRef> {
    let mut out = Vec::new();
    for p in all_panels(dashboard) {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push(QueryRef {
                place: format!("panel {} {:?} {}", p["id"], p["title"], t["refId"]),
                expr: t["expr"].as_str().unwrap_or("").to_string(),
                legend: t["legendFormat"].as_str().unwrap_or("").to_string(),
            });
        }
    }
    for a in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(expr) = a["expr"].as_str() {
            let tags: Vec<String> = a["tagKeys"]
                .as_str()
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|k| format!("{{{{{k}}}}}"))
                .collect();
            out.push(QueryRef {
                place: format!("annotation {:?}", a["name"]),
                expr: expr.to_string(),
                legend: format!(
                    "{} {} {}",
                    a["titleFormat"].as_str().unwrap_or(""),
                    a["textFormat"].as_str().unwrap_or(""),
                    tags.join(" ")
                ),
            });
        }
    }
    out
}

fn load_specs(period_days: u64) -> (burnwatch::spec::Loaded, LoadOptions) {
    let options = LoadOptions {
        period: Duration::from_days(period_days),
        catalog: WindowCatalog::builtin(),
    };
    let loaded = burnwatch::spec::load_paths(&[repo().join("slo-specs")], &options);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    (loaded, options)
}

#[test]
fn checked_in_dashboards_are_what_the_specs_generate() {
    let dir = tempfile::tempdir().unwrap();
    // From another working directory, so nothing depends on where it runs.
    let out = burnwatch()
        .current_dir(dir.path())
        .args(GENERATE)
        .arg(repo().join("slo-specs"))
        .arg("-o")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = json_files(&dir.path().join("out"));
    let checked_in = json_files(&repo().join("dashboards"));
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        checked_in.keys().collect::<Vec<_>>(),
        "dashboards/ holds other files than `generate dashboards slo-specs/` writes"
    );
    for (name, text) in &fresh {
        assert!(
            checked_in[name] == *text,
            "dashboards/{name} is out of date: run `burnwatch generate dashboards slo-specs -o dashboards`"
        );
        assert!(text.ends_with("}\n"), "{name} must end with a newline");
    }
    // One overview plus one burn dashboard per service.
    let (loaded, _) = load_specs(30);
    let services: BTreeSet<&str> = loaded.slos().map(|s| s.service.as_str()).collect();
    assert_eq!(fresh.len(), 1 + services.len());

    // And the CLI's own --check agrees.
    let check = burnwatch()
        .args(GENERATE)
        .arg(repo().join("slo-specs"))
        .arg("-o")
        .arg(repo().join("dashboards"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn check_flag_fails_on_edited_missing_and_stale_files() {
    let (dir, files) = generated(&[]);
    let first = files.keys().next().unwrap().clone();
    let ok = generate(&["--check"], dir.path());
    assert_eq!(ok.status.code(), Some(0));

    std::fs::write(dir.path().join(&first), "{}\n").unwrap();
    std::fs::write(dir.path().join("old-service.json"), "{}\n").unwrap();
    let bad = generate(&["--check"], dir.path());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{first} is out of date")),
        "{stderr}"
    );
    assert!(
        stderr.contains("old-service.json is not generated"),
        "{stderr}"
    );
    // --check writes nothing.
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&first)).unwrap(),
        "{}\n"
    );

    std::fs::remove_file(dir.path().join(&first)).unwrap();
    let missing = generate(&["--check"], dir.path());
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains(&format!("{first} is missing")));
}

#[test]
fn bad_spec_exits_2_with_positions_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.yaml");
    std::fs::write(
        &spec,
        "version: \"prometheus/v1\"\nservice: \"svc\"\nslos:\n  - name: \"avail\"\n    objective: 101\n    sli:\n      raw:\n        error_ratio_query: x\n    alerting:\n      page_alert:\n        disable: true\n      ticket_alert:\n        disable: true\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = burnwatch()
        .args(GENERATE)
        .arg(&spec)
        .arg("-o")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:5:16:", spec.display())),
        "expected FILE:LINE:COL of the objective: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out_dir.exists(), "nothing may be written for bad specs");

    // A missing path and a missing -o are usage errors too.
    let missing = burnwatch()
        .args(GENERATE)
        .arg(dir.path().join("nope"))
        .arg("-o")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let no_out = burnwatch().args(GENERATE).arg(&spec).output().unwrap();
    assert_eq!(no_out.status.code(), Some(2));
}

/// Check every query of `dashboards` against the series exported for `windows`; returns
/// the series used.
fn check_series(dashboards: &BTreeMap<String, Value>, period_days: u64) -> BTreeSet<String> {
    let (loaded, options) = load_specs(period_days);
    let windows = options.catalog.get(options.period).unwrap();
    let series = exported_series([windows]);
    let slo_labels: BTreeSet<String> = loaded
        .slos()
        .flat_map(|s| s.labels.keys().cloned())
        .collect();
    let contract = promql::Contract {
        series: &series,
        slo_labels: &slo_labels,
    };
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for (file, d) in dashboards {
        let qs = queries(d);
        assert!(!qs.is_empty(), "{file} has no queries");
        for q in qs {
            match contract.check(&q.expr, &q.legend) {
                Ok(names) => used.extend(names),
                Err(p) => {
                    problems.extend(p.into_iter().map(|p| format!("{file} {}: {p}", q.place)))
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    used
}

#[test]
fn every_query_uses_only_series_burnwatch_exports() {
    let checked_in: BTreeMap<String, Value> = json_files(&repo().join("dashboards"))
        .into_iter()
        .map(|(k, v)| (k, serde_json::from_str(&v).unwrap()))
        .collect();
    let used = check_series(&checked_in, 30);
    // Not vacuous: the dashboards show what they are for, from the right series.
    let windows = WindowCatalog::builtin();
    let w30 = windows.get(Duration::from_days(30)).unwrap();
    let mut expected: BTreeSet<String> = w30
        .sli_windows()
        .into_iter()
        .map(sli_error_series)
        .collect();
    for s in [
        OBJECTIVE,
        ERROR_BUDGET,
        CURRENT_BURN_RATE,
        PERIOD_BUDGET_REMAINING,
        ALERT_FIRING,
        PROMETHEUS_ALERTS,
        PROBE_SUCCESS,
        PROBE_STEP_DURATION,
        PROBE_CLASSIFICATION,
    ] {
        expected.insert(s.to_string());
    }
    let missing: Vec<&String> = expected.difference(&used).collect();
    assert!(missing.is_empty(), "dashboards never query {missing:?}");

    // With a 28d period the window names change (the period series is `ratio_rate4w`).
    let (_dir, d28) = generated(&["--period", "28d"]);
    let used28 = check_series(&d28, 28);
    assert!(used28.contains("slo:sli_error:ratio_rate4w"), "{used28:?}");
    assert!(!used28.contains("slo:sli_error:ratio_rate30d"));
}

#[test]
fn the_series_check_rejects_what_is_not_exported() {
    let (loaded, options) = load_specs(30);
    let series = exported_series(options.catalog.get(options.period));
    let slo_labels: BTreeSet<String> = loaded
        .slos()
        .flat_map(|s| s.labels.keys().cloned())
        .collect();
    let c = promql::Contract {
        series: &series,
        slo_labels: &slo_labels,
    };
    let bad = [
        ("slo:sli_error:ratio_rate7m", ""),
        ("rate(http_requests_total[5m])", ""),
        ("{__name__=~\"slo:.*\"}", ""),
        ("slo:objective:ratio{sloth_window=\"5m\"}", ""),
        ("burnwatch_probe_success{sloth_id=\"x\"}", ""),
        ("sum by (step) (burnwatch_probe_success)", ""),
        ("burnwatch_probe_success", "{{classification}}"),
        ("sum(rate(x[5m]", ""),
    ];
    for (expr, legend) in bad {
        assert!(
            c.check(expr, legend).is_err(),
            "{expr} {legend} should be rejected"
        );
    }
    let good = c
        .check(
            "max by (component) (slo:objective:ratio{owner=\"x\"}) or {__name__=\"sloth_slo_info\"}",
            "{{component}}",
        )
        .unwrap();
    assert_eq!(
        good.into_iter().collect::<Vec<_>>(),
        ["slo:objective:ratio", "sloth_slo_info"]
    );
}

/// The constant `vector(N)` threshold series of a burn panel.
fn thresholds(panel: &Value) -> Vec<f64> {
    let mut out = Vec::new();
    for t in panel["targets"].as_array().unwrap() {
        let expr = t["expr"].as_str().unwrap();
        if expr.starts_with("vector(") {
            out.extend(promql::collect(expr).unwrap().numbers);
        }
    }
    out
}

#[test]
fn burn_thresholds_come_from_the_window_catalog() {
    for days in [30, 28] {
        let (_dir, ds) = generated(&["--period", &format!("{days}d")]);
        let (loaded, options) = load_specs(days);
        let w = options.catalog.get(options.period).unwrap();
        let p = w.period;
        let page: Vec<f64> = [Tier::PageQuick, Tier::PageSlow]
            .iter()
            .map(|t| w.get(*t).factor(p))
            .collect();
        let ticket: Vec<f64> = [Tier::TicketQuick, Tier::TicketSlow]
            .iter()
            .map(|t| w.get(*t).factor(p))
            .collect();
        let service = &ds["burnwatch-burn-mass-spec.json"];
        let panels = all_panels(service);
        for slo in loaded.slos() {
            let sel = format!("sloth_id=\"{}\"", slo.id);
            let find = |prefix: &str| {
                panels
                    .iter()
                    .find(|p| {
                        p["title"].as_str().unwrap().starts_with(prefix)
                            && p["targets"][0]["expr"].as_str().unwrap().contains(&sel)
                    })
                    .unwrap_or_else(|| panic!("no {prefix} panel for {}", slo.id))
            };
            let want_page = if slo.page_alert.is_some() {
                page.clone()
            } else {
                vec![]
            };
            let want_ticket = if slo.ticket_alert.is_some() {
                ticket.clone()
            } else {
                vec![]
            };
            assert_eq!(
                thresholds(find("Page burn rate")),
                want_page,
                "{} {days}d",
                slo.id
            );
            assert_eq!(
                thresholds(find("Ticket burn rate")),
                want_ticket,
                "{} {days}d",
                slo.id
            );
        }
    }
}

#[test]
fn dashboards_follow_grafanas_model_and_uids_are_stable() {
    let (dir_a, a) = generated(&[]);
    let (_dir_b, b) = generated(&[]);
    assert_eq!(json_files(dir_a.path()).len(), a.len());
    let mut uids = BTreeSet::new();
    for (file, d) in &a {
        let problems = grafana::problems(d);
        assert!(problems.is_empty(), "{file}:\n{}", problems.join("\n"));
        let uid = d["uid"].as_str().unwrap();
        assert_eq!(format!("{uid}.json"), *file, "file named after the uid");
        assert!(uids.insert(uid.to_string()), "uid {uid} used twice");
        assert_eq!(b[file]["uid"], d["uid"], "uid must not change between runs");
    }
    // The checked-in files pass too (they are compared byte for byte elsewhere).
    for (file, text) in json_files(&repo().join("dashboards")) {
        let d: Value = serde_json::from_str(&text).unwrap();
        assert!(grafana::problems(&d).is_empty(), "{file}");
    }
}

#[test]
fn the_model_check_catches_broken_dashboards() {
    let (_dir, ds) = generated(&[]);
    let good = ds["burnwatch-slo-overview.json"].clone();
    type Breakage = Box<dyn Fn(&mut Value)>;
    let breakages: Vec<(&str, Breakage)> = vec![
        (
            "duplicate panel id",
            Box::new(|d| d["panels"][1]["id"] = d["panels"][0]["id"].clone()),
        ),
        (
            "panel without datasource",
            Box::new(|d| {
                d["panels"][0].as_object_mut().unwrap().remove("datasource");
            }),
        ),
        (
            "target on another datasource",
            Box::new(|d| {
                d["panels"][0]["targets"][0]["datasource"]["uid"] = "P1809F7CD0C75ACF3".into()
            }),
        ),
        (
            "overlapping panels",
            Box::new(|d| d["panels"][1]["gridPos"] = d["panels"][0]["gridPos"].clone()),
        ),
        (
            "off the grid",
            Box::new(|d| d["panels"][0]["gridPos"]["x"] = 20.into()),
        ),
        ("long uid", Box::new(|d| d["uid"] = "x".repeat(41).into())),
        ("old schema", Box::new(|d| d["schemaVersion"] = 27.into())),
        (
            "no datasource variable",
            Box::new(|d| d["templating"]["list"] = Value::Array(vec![])),
        ),
        ("empty title", Box::new(|d| d["title"] = "".into())),
    ];
    for (what, breakage) in breakages {
        let mut d = good.clone();
        breakage(&mut d);
        assert!(!grafana::problems(&d).is_empty(), "{what} not detected");
    }
}
