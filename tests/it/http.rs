//! `/metrics` read by the real Prometheus tools: `promtool check metrics` and a Prometheus
//! server scraping burnwatch. The status published is built from the platform's specs.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use burnwatch::http::{AppState, Readiness, serve};
use burnwatch::notify::outbox::{Outbox, RetryPolicy};
use burnwatch::spec::{LoadOptions, WindowCatalog};
use burnwatch::status::{
    AlertSnapshot, AlertStatus, SloSnapshot, Status, StatusBoard, WindowRatio,
};
use burnwatch::store::Store;
use burnwatch::telemetry::Telemetry;

use crate::procs::{eventually, free_port};
use crate::support::{repo, service};

/// A status for every platform SLO, with made-up but plausible ratios (one SLO without
/// data, as after a source outage).
fn platform_status() -> Status {
    let options = LoadOptions::default();
    let loaded = burnwatch::spec::load_paths(&[repo().join("slo-specs")], &options);
    assert!(!loaded.has_errors());
    let catalog = WindowCatalog::builtin();
    let slos = loaded
        .documents
        .iter()
        .flat_map(|doc| doc.slos.iter().map(move |s| (doc, s)))
        .enumerate()
        .map(|(i, (doc, slo))| {
            let period = slo.period.unwrap_or(options.period);
            let windows = catalog.require(period).unwrap().sli_windows();
            let no_data = i == 1;
            let budget = 1.0 - slo.objective / 100.0;
            let ratio = |k: usize| (!no_data).then(|| budget * (k as f64 + 1.0) / 4.0);
            SloSnapshot {
                id: slo.id.clone(),
                service: slo.service.clone(),
                name: slo.name.clone(),
                labels: slo.labels.clone(),
                objective: slo.objective,
                period,
                spec: doc.kind.sloth_spec().to_string(),
                windows: windows
                    .iter()
                    .enumerate()
                    .map(|(k, w)| WindowRatio {
                        window: *w,
                        error_ratio: ratio(k),
                        total: if no_data { 0.0 } else { 1000.0 },
                    })
                    .collect(),
                current_burn_rate: ratio(0).map(|r| r / budget),
                period_burn_rate: ratio(windows.len() - 1).map(|r| r / budget),
                period_error_budget_remaining: ratio(windows.len() - 1).map(|r| 1.0 - r / budget),
                no_data,
                alerts: vec![AlertSnapshot {
                    name: "Burn".into(),
                    severity: "page".into(),
                    status: if i == 0 {
                        AlertStatus::Firing
                    } else {
                        AlertStatus::Inactive
                    },
                    fired_at: None,
                    resolved_at: None,
                    labels: Default::default(),
                    annotations: Default::default(),
                    burn_rates: Default::default(),
                }],
                pairs: vec![],
            }
        })
        .collect();
    Status {
        evaluated_at: Some(chrono::Utc::now()),
        slos,
    }
}

/// Serve the HTTP API for `status` on a free port; returns the base URL.
async fn serve_status(status: Option<Status>) -> (String, tokio::sync::oneshot::Sender<()>) {
    let board = StatusBoard::new();
    if let Some(s) = status {
        board.publish(s);
    }
    let telemetry = Telemetry::new(board.clone());
    telemetry.notification_sent("alertmanager:http://127.0.0.1:9093", "firing");
    telemetry.evaluation_duration.observe(0.012);
    telemetry.record_probe_run(
        "mass-spec-rds",
        "auth_failed",
        false,
        &[("dns", 0.0004), ("tcp", 0.002), ("tls", 0.011)],
    );
    let store = Arc::new(Store::open_in_memory().unwrap());
    let outbox = Arc::new(Outbox::new(
        store.clone(),
        vec![],
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_age: Duration::from_secs(86_400),
        },
        telemetry.clone(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState {
        board,
        readiness: Readiness::new(telemetry.clone()),
        telemetry,
        store,
        outbox,
        token: None,
        token_env: "BURNWATCH_API_TOKEN".into(),
        external_url: base.clone(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));
    (base, stop)
}

/// Run `promtool check metrics` on `text`: (exit code, problem lines).
fn promtool_check(text: &str) -> (i32, Vec<String>) {
    let promtool = service("BURNWATCH_TEST_PROMTOOL");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let problems = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .map(str::to_string)
        .filter(|l| !l.trim().is_empty())
        .collect();
    (out.status.code().unwrap_or(-1), problems)
}

#[tokio::test]
async fn self_metrics_pass_promtool_check_metrics() {
    let (base, _stop) = serve_status(None).await;
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("burnwatch_notifications_sent_total{"));
    assert!(text.contains("burnwatch_probe_classification{"));
    let (code, problems) = promtool_check(&text);
    assert_eq!(code, 0, "{problems:#?}\n{text}");
}

#[tokio::test]
async fn slo_series_parse_and_only_the_sloth_colon_names_are_linted() {
    let (base, _stop) = serve_status(Some(platform_status())).await;
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("slo:sli_error:ratio_rate5m{"), "{text}");
    let (code, problems) = promtool_check(&text);
    // Exit 1 would be a parse error. Exit 3 is lint: promlint flags ':' in metric names
    // (meant for direct instrumentation); Sloth's recording-rule names are the contract.
    assert!(code == 0 || code == 3, "exit {code}: {problems:#?}");
    for p in &problems {
        assert!(
            (p.starts_with("slo:") && p.ends_with("metric names should not contain ':'")),
            "unexpected promtool finding {p:?}\n{text}"
        );
    }
}

#[tokio::test]
async fn a_prometheus_server_scraping_burnwatch_sees_the_slo_series() {
    let prometheus = service("BURNWATCH_TEST_PROMETHEUS");
    let (base, _stop) = serve_status(Some(platform_status())).await;
    let target = base.trim_start_matches("http://");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: burnwatch\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .unwrap();
    let port = free_port();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // The guard stops Prometheus when the test ends, pass or fail.
    let _prometheus = Kill(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let query = |q: &str| {
        let url = reqwest::Url::parse_with_params(
            &format!("http://127.0.0.1:{port}/api/v1/query"),
            &[("query", q)],
        )
        .unwrap();
        async move {
            let v: serde_json::Value = reqwest::get(url).await.ok()?.json().await.ok()?;
            let result = v["data"]["result"].as_array()?.clone();
            (!result.is_empty()).then_some(result)
        }
    };
    let objective = eventually(
        Duration::from_secs(60),
        "slo:objective:ratio in Prometheus",
        || query(r#"slo:objective:ratio{sloth_id="mass-spec-api-availability"}"#),
    )
    .await;
    assert_eq!(objective.len(), 1);
    let m = &objective[0]["metric"];
    assert_eq!(m["sloth_service"], "mass-spec");
    assert_eq!(m["sloth_slo"], "api-availability");
    assert_eq!(m["owner"], "platform-sre");
    assert_eq!(objective[0]["value"][1], "0.9990000000000001");

    let ratio = eventually(Duration::from_secs(30), "the 5m SLI series", || {
        query(r#"slo:sli_error:ratio_rate5m{sloth_id="mass-spec-api-availability"}"#)
    })
    .await;
    assert_eq!(ratio[0]["metric"]["sloth_window"], "5m");
    // A Sloth dashboard query: remaining budget per SLO.
    let remaining = eventually(Duration::from_secs(30), "remaining budget", || {
        query("slo:period_error_budget_remaining:ratio")
    })
    .await;
    let platform_slos = platform_status().slos.len();
    assert_eq!(
        remaining.len(),
        platform_slos - 1,
        "the no-data SLO has no value"
    );
    let info = eventually(Duration::from_secs(30), "sloth_slo_info", || {
        query("sloth_slo_info")
    })
    .await;
    assert_eq!(info.len(), platform_slos);
    let firing = eventually(Duration::from_secs(30), "firing alerts", || {
        query("burnwatch_slo_alert_firing == 1")
    })
    .await;
    assert_eq!(firing.len(), 1);
    assert_eq!(firing[0]["metric"]["sloth_severity"], "page");
}
