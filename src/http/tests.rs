//! The router served on a real loopback socket and called with a real HTTP client.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;
use crate::notify::outbox::RetryPolicy;
use crate::spec::{Duration, Labels};
use crate::status::{AlertSnapshot, AlertStatus, SloSnapshot, Status, WindowRatio};
use crate::store::NewOutboxItem;

/// A server on a free loopback port; stops when dropped.
pub(super) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub(super) base: String,
    pub(super) state: AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(token: Option<&str>) -> Server {
    serve_with(
        StatusBoard::new(),
        Arc::new(Store::open_in_memory().unwrap()),
        token,
    )
    .await
}

/// Serve `board` and `store` (the web view's tests bring their own), with an outbox that
/// has no receivers and the API token `token`.
pub(super) async fn serve_with(
    board: StatusBoard,
    store: Arc<Store>,
    token: Option<&str>,
) -> Server {
    let telemetry = Telemetry::new(board.clone());
    let outbox = Arc::new(Outbox::new(
        store.clone(),
        vec![],
        RetryPolicy {
            initial: std::time::Duration::from_secs(1),
            max: std::time::Duration::from_secs(60),
            max_age: std::time::Duration::from_secs(86_400),
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
        token: token.map(Secret::new),
        token_env: "BURNWATCH_API_TOKEN".into(),
        external_url: "https://burnwatch.example.org".into(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Server {
        base,
        state,
        _stop: stop,
    }
}

fn snapshot() -> SloSnapshot {
    SloSnapshot {
        id: "mass-spec-api-availability".into(),
        service: "mass-spec".into(),
        name: "api-availability".into(),
        labels: [("owner".to_string(), "platform-sre".to_string())].into(),
        objective: 99.0,
        period: Duration::from_days(30),
        spec: "prometheus/v1".into(),
        windows: vec![
            WindowRatio {
                window: Duration::from_mins(5),
                error_ratio: Some(0.5),
                total: 100.0,
            },
            WindowRatio {
                window: Duration::from_days(30),
                error_ratio: None,
                total: 0.0,
            },
        ],
        current_burn_rate: Some(50.0),
        period_burn_rate: None,
        period_error_budget_remaining: None,
        no_data: false,
        alerts: vec![
            AlertSnapshot {
                name: "MassSpecAPIAvailability".into(),
                severity: "page".into(),
                status: AlertStatus::Firing,
                fired_at: Some(Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()),
                resolved_at: None,
                labels: [("sloth_severity".to_string(), "page".to_string())].into(),
                annotations: [("runbook_url".to_string(), "runbooks/api.md".to_string())].into(),
                burn_rates: BTreeMap::from([("5m".to_string(), 50.0)]),
            },
            AlertSnapshot {
                name: "MassSpecAPIAvailability".into(),
                severity: "ticket".into(),
                status: AlertStatus::Inactive,
                fired_at: None,
                resolved_at: None,
                labels: Labels::new(),
                annotations: Labels::new(),
                burn_rates: BTreeMap::new(),
            },
        ],
        pairs: vec![],
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let s = start(None).await;
    let c = reqwest::Client::new();
    let r = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    s.state.readiness.set(true);
    let r = c.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let metrics = c.get(format!("{}/metrics", s.base)).send().await.unwrap();
    assert_eq!(
        metrics.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .lines()
            .any(|l| l == "burnwatch_ready 1")
    );
}

#[tokio::test]
async fn slo_and_alert_api_reflect_the_published_status() {
    let s = start(None).await;
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{}/api/v1/slos/mass-spec-api-availability", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "before the first evaluation");
    s.state.board.publish(Status {
        evaluated_at: Some(Utc.with_ymd_and_hms(2026, 11, 20, 10, 5, 0).unwrap()),
        slos: vec![snapshot()],
    });
    let all: serde_json::Value = c
        .get(format!("{}/api/v1/slos", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["evaluated_at"], "2026-11-20T10:05:00Z");
    let slo = &all["slos"][0];
    assert_eq!(slo["id"], "mass-spec-api-availability");
    assert_eq!(slo["period"], "30d");
    assert_eq!(slo["windows"][0]["window"], "5m");
    let burn = slo["windows"][0]["burn_rate"].as_f64().unwrap();
    assert!((burn - 50.0).abs() < 1e-9, "{burn}");
    assert!(
        slo["windows"][1]["error_ratio"].is_null(),
        "no data is null, not 0"
    );
    assert_eq!(
        slo["url"],
        "https://burnwatch.example.org/api/v1/slos/mass-spec-api-availability"
    );
    assert_eq!(slo["alerts"][0]["state"], "firing");

    let one = c
        .get(format!("{}/api/v1/slos/mass-spec-api-availability", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let missing = c
        .get(format!("{}/api/v1/slos/nope", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let alerts: serde_json::Value = c
        .get(format!("{}/api/v1/alerts", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = alerts["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "inactive alerts are not listed: {alerts}");
    assert_eq!(list[0]["severity"], "page");
    assert_eq!(list[0]["annotations"]["runbook_url"], "runbooks/api.md");
    assert_eq!(list[0]["fired_at"], "2026-11-20T10:00:00Z");
}

#[tokio::test]
async fn flush_needs_the_bearer_token() {
    let s = start(Some("s3cret-token")).await;
    let future = Utc::now() + chrono::Duration::hours(1);
    let id = s
        .state
        .store
        .outbox_enqueue(
            &[NewOutboxItem {
                receiver: "am".into(),
                alert_key: String::new(),
                coalesce_key: String::new(),
                payload: "{}".into(),
            }],
            Utc::now(),
        )
        .unwrap()[0];
    s.state.store.outbox_retry(id, future, "down").unwrap();
    let c = reqwest::Client::new();
    let url = format!("{}/api/v1/outbox/flush", s.base);
    let r = c.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = c.post(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        s.state
            .store
            .outbox_due(Utc::now(), 10)
            .unwrap()
            .items
            .is_empty()
    );
    let r = c
        .post(&url)
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["rescheduled"], 1);
    assert_eq!(
        s.state
            .store
            .outbox_due(Utc::now(), 10)
            .unwrap()
            .items
            .len(),
        1
    );

    let pending: serde_json::Value = c
        .get(format!("{}/api/v1/outbox", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["pending"][0]["attempts"], 1);
    assert_eq!(pending["pending"][0]["last_error"], "down");
}

#[tokio::test]
async fn without_a_token_state_changes_are_refused() {
    let s = start(None).await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/outbox/flush", s.base))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("set BURNWATCH_API_TOKEN"),
        "{body}"
    );
    let r = reqwest::Client::new()
        .get(format!("{}/nope", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn probe_runs_are_listed_newest_first_and_served_verbatim() {
    use crate::probe::{Classification, ProbeRun, StepName, StepResult};
    let server = start(None).await;
    let run = |id: &str, ago: i64, c: Classification| ProbeRun {
        id: id.into(),
        target: "rds-main".into(),
        started_at: crate::probe::model::format_ts(Utc::now() - chrono::TimeDelta::minutes(ago)),
        healthy: c == Classification::Healthy,
        classification: c,
        failed_step: (c != Classification::Healthy).then_some(StepName::Tcp),
        steps: vec![StepResult {
            step: StepName::Dns,
            ok: true,
            ms: 0.5,
            detail: "127.0.0.1".into(),
        }],
        runbook: c.runbook(),
    };
    let old = run("01OLD", 10, Classification::Healthy);
    let new = run("01NEW", 1, Classification::TcpRefused);
    server.state.store.insert_probe_run(&old).unwrap();
    server.state.store.insert_probe_run(&new).unwrap();

    let list: serde_json::Value = reqwest::get(format!("{}/api/v1/probes", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["01NEW", "01OLD"]);
    assert_eq!(list["runs"][0]["classification"], "tcp_refused");

    let one = reqwest::get(format!("{}/api/v1/probes/01NEW", server.base))
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let stored = server.state.store.probe_run_json("01NEW").unwrap().unwrap();
    assert_eq!(one.text().await.unwrap(), stored);

    let missing = reqwest::get(format!("{}/api/v1/probes/01NOPE", server.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// Every response, not only the HTML pages, says `nosniff`: a browser must never guess
/// that a JSON error body echoing a path or a store string is HTML. Covers a JSON body,
/// the JSON 404 fallback, the guard's 403 and 401, and the metrics text.
#[tokio::test]
async fn every_response_says_nosniff() {
    let s = start(Some("t0ken")).await;
    let open = start(None).await;
    let c = reqwest::Client::new();
    let requests = [
        c.get(format!("{}/api/v1/slos", s.base)),
        c.get(format!("{}/api/v1/no-such-thing", s.base)),
        c.post(format!("{}/api/v1/outbox/flush", s.base)),
        c.post(format!("{}/api/v1/outbox/flush", open.base)),
        c.get(format!("{}/metrics", s.base)),
    ];
    for req in requests {
        let r = req.send().await.unwrap();
        let what = format!("{} {}", r.url(), r.status());
        assert_eq!(
            r.headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{what}"
        );
    }
}
