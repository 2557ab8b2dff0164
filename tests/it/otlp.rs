//! OTLP trace export, end to end: the real binary sends its spans to an in-test OTLP/HTTP
//! receiver (axum on 127.0.0.1), which decodes them with the OpenTelemetry protobuf
//! messages. Covers `probe db` against a refused port (no database needed), the daemon's
//! flush after SIGTERM, secrets staying out of the export, and export being off unless
//! configured.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

use crate::procs::free_port;
use crate::support::{burnwatch, repo};

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Request {
    content_type: String,
    body: Vec<u8>,
}

/// An OTLP/HTTP receiver accepting `POST /v1/traces`, remembering every request.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener)
    }

    fn serve(listener: tokio::net::TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<Request>>> = Arc::default();
        let store = got.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let store = store.clone();
                async move {
                    let content_type = headers
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    store.lock().unwrap().push(Request {
                        content_type,
                        body: body.to_vec(),
                    });
                    // An empty ExportTraceServiceResponse is zero protobuf bytes.
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { port, got, task }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().clone()
    }

    /// Every span received, decoded, with the service name of its resource.
    fn spans(&self) -> Vec<(String, Span)> {
        let mut out = Vec::new();
        for r in self.requests() {
            assert_eq!(r.content_type, "application/x-protobuf");
            let req = ExportTraceServiceRequest::decode(r.body.as_slice())
                .expect("the body is an OTLP ExportTraceServiceRequest");
            for rs in req.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|res| attr(&res.attributes, "service.name"))
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    for span in ss.spans {
                        out.push((service.clone(), span));
                    }
                }
            }
        }
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A string, bool or int attribute as text.
fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    let v = attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match v {
        AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        } => Some(s.clone()),
        AnyValue {
            value: Some(any_value::Value::BoolValue(b)),
        } => Some(b.to_string()),
        AnyValue {
            value: Some(any_value::Value::IntValue(i)),
        } => Some(i.to_string()),
        _ => None,
    }
}

/// A `burnwatch` command with no OTEL configuration inherited from the test's environment,
/// and a batch delay so long that spans can only arrive through the flush at exit.
fn command() -> assert_cmd::Command {
    let mut cmd = burnwatch();
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_SAMPLER",
        "PGPASSWORD",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("OTEL_BSP_SCHEDULE_DELAY", "600000");
    cmd
}

const URL_SECRET: &str = "url-secret-7f3a9c";
const ENV_SECRET: &str = "pgpassword-secret-2b8e41";

/// `probe db` against a port nobody listens on, with the given extra environment; returns
/// the parsed `--json` document.
async fn probe_refused(env: &[(&str, String)]) -> serde_json::Value {
    let closed = free_port();
    let store = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.args(["probe", "db", "--json", "--url"])
        .arg(format!(
            "postgresql://nobody:{URL_SECRET}@127.0.0.1:{closed}/db?sslmode=disable"
        ))
        .arg("--store")
        .arg(store.path().join("history.sqlite"))
        .env("PGPASSWORD", ENV_SECRET);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "unhealthy run expected: {stderr}"
    );
    serde_json::from_slice(&out.stdout).expect("probe --json prints one document")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_db_spans_reach_the_collector_flushed_at_exit_and_without_secrets() {
    let receiver = Receiver::start().await;
    let run = probe_refused(&[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url())]).await;
    assert_eq!(run["classification"], "tcp_refused", "{run}");

    // The process has exited: whatever arrived was sent by the flush at exit (the batch
    // delay is ten minutes).
    let requests = receiver.requests();
    assert!(!requests.is_empty(), "no OTLP request received");
    for r in &requests {
        for secret in [URL_SECRET, ENV_SECRET] {
            assert!(
                !r.body.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the export carries the secret {secret}"
            );
        }
    }

    let spans = receiver.spans();
    let by_name: HashMap<&str, &Span> = spans.iter().map(|(_, s)| (s.name.as_str(), s)).collect();
    assert!(
        spans.iter().all(|(service, _)| service == "burnwatch"),
        "service names: {:?}",
        spans.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    let probe = by_name
        .get("probe")
        .unwrap_or_else(|| panic!("no `probe` span in {:?}", by_name.keys()));
    assert_eq!(
        attr(&probe.attributes, "target").as_deref(),
        run["target"].as_str()
    );
    assert_eq!(
        attr(&probe.attributes, "classification").as_deref(),
        Some("tcp_refused")
    );
    // One child span per step the run took, in the run's trace, with its outcome.
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "dns then the refused tcp: {run}");
    for step in steps {
        let name = format!("probe.{}", step["step"].as_str().unwrap());
        let span = by_name
            .get(name.as_str())
            .unwrap_or_else(|| panic!("no `{name}` span in {:?}", by_name.keys()));
        assert_eq!(span.trace_id, probe.trace_id, "{name}");
        assert_eq!(span.parent_span_id, probe.span_id, "{name}");
        assert_eq!(
            attr(&span.attributes, "ok"),
            Some(step["ok"].as_bool().unwrap().to_string()),
            "{name}"
        );
    }
    let tcp = by_name["probe.tcp"];
    assert_eq!(
        attr(&tcp.attributes, "classification").as_deref(),
        Some("tcp_refused")
    );
    assert_eq!(tcp.status.as_ref().map(|s| s.code), Some(2), "status ERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_name_and_the_flag_follow_the_standard() {
    let receiver = Receiver::start().await;
    // The flag takes the collector's base URL; OTEL_SERVICE_NAME renames the service.
    let closed = free_port();
    let store = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.args(["--otlp-endpoint", &receiver.url(), "probe", "db", "--url"])
        .arg(format!(
            "postgresql://nobody@127.0.0.1:{closed}/db?sslmode=disable"
        ))
        .arg("--store")
        .arg(store.path().join("history.sqlite"))
        .env("OTEL_SERVICE_NAME", "burnwatch-canary");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let spans = receiver.spans();
    assert!(spans.iter().any(|(_, s)| s.name == "probe"), "{spans:?}");
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "burnwatch-canary")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_exported_unless_configured() {
    // An exporter that were always on would use the specification's default endpoint,
    // http://localhost:4318, so listen there while nothing is configured.
    let default = match tokio::net::TcpListener::bind("127.0.0.1:4318").await {
        Ok(l) => Receiver::serve(l),
        Err(e) => panic!(
            "127.0.0.1:4318 (the default OTLP/HTTP port) is in use ({e}); this test listens \
             there to prove that nothing is exported without configuration. Stop the \
             collector on that port and rerun."
        ),
    };
    probe_refused(&[]).await;
    assert!(
        default.requests().is_empty(),
        "spans were exported without any OTLP configuration"
    );

    // The standard off switches override an endpoint from the environment.
    let receiver = Receiver::start().await;
    for off in [
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_TRACES_EXPORTER", "none"),
    ] {
        probe_refused(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url()),
            (off.0, off.1.to_string()),
        ])
        .await;
        assert!(receiver.requests().is_empty(), "exported despite {off:?}");
    }
    // Control: the same receiver does get spans once export is on, so its silence above
    // means nothing was sent.
    probe_refused(&[(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        format!("{}/v1/traces", receiver.url()),
    )])
    .await;
    assert!(!receiver.requests().is_empty());
    assert!(default.requests().is_empty());
}

#[test]
fn an_invalid_endpoint_is_a_usage_error() {
    let out = command()
        .args(["--otlp-endpoint", "otel-collector:4318", "validate"])
        .arg(repo().join("slo-specs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--otlp-endpoint: \"otel-collector:4318\" is not a collector URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = command()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .args(["validate"])
        .arg(repo().join("slo-specs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\""),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_flushes_evaluation_spans_after_sigterm() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "specs: [{}]\nstorage: {{path: history.sqlite}}\neval_interval: 1s\n\
             sources:\n  prometheus: {{url: 'http://127.0.0.1:{}', max_attempts: 1, timeout: 2s}}\n",
            repo().join("slo-specs").display(),
            free_port(),
        ),
    )
    .unwrap();
    let port = free_port();
    let log = dir.path().join("burnwatch.log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_burnwatch"))
        .args(["run", "--config"])
        .arg(&config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_SERVICE_NAME")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url())
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut guard = KillOnDrop(Some(child));
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    // Ready after the backfill; then let a few one-second ticks run.
    crate::procs::wait_http(
        &format!("http://127.0.0.1:{port}/readyz"),
        Duration::from_secs(30),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(receiver.requests().is_empty(), "nothing before the flush");
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut child = guard.0.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}: {}", read_log());
    let spans = receiver.spans();
    let ticks = spans.iter().filter(|(_, s)| s.name == "evaluation").count();
    assert!(
        ticks >= 1,
        "no evaluation span flushed after SIGTERM: {:?}\n{}",
        spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>(),
        read_log()
    );
    assert!(spans.iter().all(|(service, _)| service == "burnwatch"));
    // The live source (a Prometheus nobody listens for: its reads fail, as no_data) traced
    // its polls and their calls.
    for name in ["source.poll", "prometheus.query_range"] {
        assert!(
            spans.iter().any(|(_, s)| s.name == name),
            "no {name} span: {:?}",
            spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>()
        );
    }
}

/// Kills the daemon if the test fails before it stops it.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
