//! The Prometheus source. Happy path against a real Prometheus server: series are written
//! into a TSDB with `promtool tsdb create-blocks-from openmetrics` and a server is started
//! on it. Error paths (auth headers, server errors, malformed bodies) against a small fake
//! API, since a real server cannot be made to misbehave on demand.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Router};
use burnwatch::source::prometheus::{PromAuth, PrometheusSettings, PrometheusSource};
use burnwatch::source::{PollReport, Source, SourceBatch, align_down};
use burnwatch::spec::Duration;
use burnwatch::spec::model::Sli;
use chrono::{DateTime, TimeDelta, Utc};

use super::{fast_retry, slo_with};
use crate::support::service;

/// A Prometheus server on a TSDB built from OpenMetrics text; killed on drop.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Build a TSDB from `openmetrics` with promtool and serve it with a real Prometheus.
pub async fn start_prometheus(openmetrics: &str) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("series.om");
    std::fs::write(&input, openmetrics).unwrap();
    let data = dir.path().join("data");
    let out = Command::new(service("BURNWATCH_TEST_PROMTOOL"))
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&data)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
    let port = free_port();
    let child = Command::new(service("BURNWATCH_TEST_PROMETHEUS"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let url = format!("http://127.0.0.1:{port}");
    let prom = Prometheus {
        child,
        url,
        _dir: dir,
    };
    for _ in 0..150 {
        if let Ok(r) = reqwest::get(format!("{}/-/ready", prom.url)).await
            && r.status().is_success()
        {
            return prom;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    panic!("prometheus did not become ready");
}

const TOTAL: &str =
    r#"sum(rate(django_http_responses_total_by_status_total{job="mass-spec-web"}[{{.window}}]))"#;
const ERRORS: &str = r#"sum(rate(django_http_responses_total_by_status_total{job="mass-spec-web",status=~"5.."}[{{.window}}]))"#;

fn events_sli(error: &str, total: &str) -> Sli {
    Sli::Events {
        error_query: error.into(),
        total_query: total.into(),
    }
}

fn settings(url: &str) -> PrometheusSettings {
    PrometheusSettings {
        url: url.into(),
        backfill: Some(Duration::from_hours(1)),
        retry: fast_retry(),
        ..PrometheusSettings::default()
    }
}

async fn poll(src: &mut PrometheusSource, now: DateTime<Utc>) -> (SourceBatch, PollReport) {
    let mut batch = SourceBatch::default();
    let report = src.poll(now, &mut batch).await;
    (batch, report)
}

fn at(batch: &SourceBatch, slo: &str, t: DateTime<Utc>) -> Option<(f64, f64)> {
    batch
        .events
        .iter()
        .find(|e| e.slo_id == slo && e.bucket_start == t)
        .map(|e| (e.good, e.total))
}

fn close(a: Option<(f64, f64)>, b: (f64, f64)) -> bool {
    a.is_some_and(|(g, t)| (g - b.0).abs() < 1e-6 && (t - b.1).abs() < 1e-6)
}

#[tokio::test]
async fn events_and_raw_slis_from_a_real_prometheus() {
    // Two hours of a Django counter scraped every 15 s: 4 req/s of 200s throughout; 500s at
    // 0.2/s, then at 2/s for the last 30 minutes (the incident). Data stops 10 minutes ago.
    let now = align_down(Utc::now(), 60);
    let base = now - TimeDelta::minutes(120);
    let incident = base + TimeDelta::minutes(80);
    let stop = base + TimeDelta::minutes(110);
    let mut om = String::from("# TYPE django_http_responses_total_by_status counter\n");
    for (status, before, during) in [("200", 60.0, 60.0), ("500", 3.0, 30.0)] {
        let (mut t, mut v) = (base, 0.0);
        while t <= stop {
            let _ = writeln!(
                om,
                "django_http_responses_total_by_status_total{{job=\"mass-spec-web\",status=\"{status}\"}} {v} {}",
                t.timestamp()
            );
            v += if t < incident { before } else { during };
            t += TimeDelta::seconds(15);
        }
    }
    om.push_str("# EOF\n");
    let prom = start_prometheus(&om).await;

    let slos = [
        slo_with("web", events_sli(ERRORS, TOTAL)),
        // No series matches the error query: errors are zero, not unknown.
        slo_with("web-503", events_sli(&ERRORS.replace("5..", "503"), TOTAL)),
        slo_with(
            "web-raw",
            Sli::Raw {
                error_ratio_query: format!("({ERRORS}) / ({TOTAL})"),
            },
        ),
    ];
    let mut src =
        PrometheusSource::new(&slos, Duration::from_days(30), settings(&prom.url)).unwrap();
    let (batch, report) = poll(&mut src, now).await;
    assert_eq!(report.failures, 0, "{:?}", batch.no_data);
    assert_eq!(report.api_calls.get("query_range"), Some(&5));
    // A calm minute: 4.2 req/s, 0.2 errors/s over 60 s.
    let calm = incident - TimeDelta::minutes(10);
    assert!(
        close(at(&batch, "web", calm), (240.0, 252.0)),
        "{:?}",
        at(&batch, "web", calm)
    );
    assert!(close(at(&batch, "web-503", calm), (252.0, 252.0)));
    assert!(close(at(&batch, "web-raw", calm), (1.0 - 0.2 / 4.2, 1.0)));
    // The incident: 6 req/s, 2 errors/s.
    let bad = incident + TimeDelta::minutes(10);
    assert!(
        close(at(&batch, "web", bad), (240.0, 360.0)),
        "{:?}",
        at(&batch, "web", bad)
    );
    assert!(close(at(&batch, "web-raw", bad), (1.0 - 2.0 / 6.0, 1.0)));
    // After the data stops, buckets are unknown (not covered), never zero or good.
    let gone = stop + TimeDelta::minutes(5);
    assert_eq!(at(&batch, "web", gone), None);
    assert!(
        !batch
            .covered
            .iter()
            .any(|c| c.slo_id == "web" && c.from <= gone && gone < c.to)
    );
    assert!(
        batch
            .covered
            .iter()
            .any(|c| c.slo_id == "web" && c.from <= calm && bad < c.to)
    );
    // The next tick reads one new bucket plus the overlap.
    let (_, next) = poll(&mut src, now + TimeDelta::minutes(1)).await;
    let (a, b) = next.range.unwrap();
    assert_eq!(b - a, TimeDelta::minutes(6));
}

#[derive(Clone, Default)]
struct Fake {
    mode: Arc<Mutex<String>>,
    auth: Arc<Mutex<Vec<String>>>,
    calls: Arc<Mutex<usize>>,
}

async fn fake_handler(
    State(f): State<Fake>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, String) {
    *f.calls.lock().unwrap() += 1;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    f.auth.lock().unwrap().push(auth.clone());
    let start = form.get("start").cloned().unwrap_or_default();
    let ok = format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[{start},"2"]]}}]}}}}"#
    );
    let mode = f.mode.lock().unwrap().clone();
    match mode.as_str() {
        "bearer" if auth == "Bearer s3cret" => (StatusCode::OK, ok),
        // user:pass
        "basic" if auth == "Basic dXNlcjpwYXNz" => (StatusCode::OK, ok),
        "bearer" | "basic" => (StatusCode::UNAUTHORIZED, "unauthorized".into()),
        "503" => (StatusCode::SERVICE_UNAVAILABLE, "overloaded".into()),
        "garbage" => (StatusCode::OK, "<html>proxy error</html>".into()),
        _ => (
            StatusCode::BAD_REQUEST,
            r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#.into(),
        ),
    }
}

async fn fake() -> (Fake, String) {
    let f = Fake::default();
    let app = Router::new()
        .route("/api/v1/query_range", post(fake_handler))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (f, url)
}

#[tokio::test]
async fn auth_headers_and_failures_against_a_fake_api() {
    let (f, url) = fake().await;
    let slos = [slo_with("web", events_sli("errors", "total"))];
    let now = align_down(Utc::now(), 60);
    let run = |mode: &str, auth: PromAuth| {
        *f.mode.lock().unwrap() = mode.to_string();
        *f.calls.lock().unwrap() = 0;
        f.auth.lock().unwrap().clear();
        let mut s = settings(&url);
        s.auth = auth;
        s.backfill = Some(Duration::from_mins(3));
        PrometheusSource::new(&slos, Duration::from_days(30), s).unwrap()
    };

    let mut src = run("bearer", PromAuth::Bearer("s3cret".into()));
    let (batch, report) = poll(&mut src, now).await;
    assert_eq!(report.failures, 0);
    assert_eq!(batch.events.len(), 1, "{batch:?}");
    assert!(f.auth.lock().unwrap().iter().all(|a| a == "Bearer s3cret"));

    let mut src = run(
        "basic",
        PromAuth::Basic {
            username: "user".into(),
            password: "pass".into(),
        },
    );
    let (batch, _) = poll(&mut src, now).await;
    assert_eq!(batch.events.len(), 1);

    // Wrong credentials: no_data, not retried, and the secret is not in the reason.
    let mut src = run("bearer", PromAuth::Bearer("wrong-token".into()));
    let (batch, report) = poll(&mut src, now).await;
    assert!(batch.events.is_empty() && batch.covered.is_empty());
    let reason = &batch.no_data[0].reason;
    assert!(
        reason.contains("401") && !reason.contains("wrong-token"),
        "{reason}"
    );
    assert_eq!((*f.calls.lock().unwrap(), report.retries), (1, 0));

    // Server errors are retried, then no_data.
    let mut src = run("503", PromAuth::None);
    let (batch, report) = poll(&mut src, now).await;
    assert_eq!(report.retries, 2);
    assert!(
        batch.no_data[0].reason.contains("503"),
        "{:?}",
        batch.no_data
    );

    // Malformed bodies and query errors: no_data with the cause.
    let mut src = run("garbage", PromAuth::None);
    let (batch, _) = poll(&mut src, now).await;
    assert!(
        batch.no_data[0]
            .reason
            .contains("not a Prometheus API response")
    );
    let mut src = run("bad_data", PromAuth::None);
    let (batch, _) = poll(&mut src, now).await;
    assert!(
        batch.no_data[0].reason.contains("parse error at char 5"),
        "{:?}",
        batch.no_data
    );
    assert!(batch.events.is_empty());
}
