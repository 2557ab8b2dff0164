//! The HA pair, with real components: two burnwatch replicas (own stores, same config)
//! each send every alert to both nodes of a two-node Alertmanager cluster (gossip on
//! loopback), whose route posts to a webhook receiver inside this test.
//!
//! - One notification per page at the receiver, for an SLO page (the recorded outage)
//!   and a `DatabaseConnectivity` probe page (the database behind a TCP proxy the test
//!   cuts, so both replicas see the failure on the same probe slots).
//! - One replica SIGKILLed: the pages neither resolve nor repeat at the receiver, long
//!   past `group_interval` and past the dead replica's last `endsAt`.
//! - The `BurnwatchWatchdog` reaches the dead man's switch route.
//! - Both replicas' first probe-alert message has the same SNS FIFO deduplication id
//!   (rebuilt from what each replica's own history store says it sent).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::pg;
use crate::procs::{Burnwatch, eventually, free_port, wait_http};
use crate::support::{repo, service};

const SLO: &str = "mass-spec-web-availability";
const TARGET: &str = "ha-rds";
const PASSWORD_VAR: &str = "BURNWATCH_IT_HA_PASSWORD";
/// Probe interval (s). Replica B starts half an interval after A: probing on its own
/// phase, B would fire at another second than A (another dedup id); on the shared
/// slots they fire together.
const PROBE_INTERVAL: i64 = 4;

/// What the webhook receiver got: (path, Alertmanager's webhook JSON).
type Received = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A webhook receiver on 127.0.0.1 recording every POST.
async fn receiver() -> (u16, Received) {
    use axum::extract::{Path as UrlPath, State};
    let got: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/{kind}",
            axum::routing::post(
                |State(got): State<Received>,
                 UrlPath(kind): UrlPath<String>,
                 body: axum::body::Bytes| async move {
                    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    got.lock().unwrap().push((kind, json));
                    "ok"
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, got)
}

/// A TCP proxy to the shared PostgreSQL that the test can cut (listener and connections
/// gone: connection refused).
struct Proxy {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut out) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
        Proxy { port, task }
    }

    /// Close the listener and every proxied connection.
    fn cut(&self) {
        self.task.abort();
    }
}

/// One node of the Alertmanager cluster.
struct AmNode {
    child: Child,
    url: String,
}

impl Drop for AmNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The route of the pair: pages grouped per alert to `/pages` (resolves too), a long
/// `repeat_interval` so that any second notification is a duplicate; the watchdog to
/// `/deadman`, the dead man's switch route the README shows.
fn am_config(hook: u16) -> String {
    format!(
        "route:\n  receiver: pages\n  group_by: [alertname, sloth_id, sloth_severity, target]\n\
         \x20 group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n  routes:\n\
         \x20   - receiver: deadman\n      matchers: ['alertname=\"BurnwatchWatchdog\"']\n\
         \x20     group_wait: 0s\n      group_interval: 1s\n      repeat_interval: 1s\n\
         receivers:\n  - name: pages\n    webhook_configs:\n\
         \x20     - url: http://127.0.0.1:{hook}/pages\n        send_resolved: true\n\
         \x20 - name: deadman\n    webhook_configs:\n\
         \x20     - url: http://127.0.0.1:{hook}/deadman\n        send_resolved: false\n"
    )
}

fn start_am(dir: &Path, web: u16, cluster: u16, peer: u16, hook: u16) -> AmNode {
    let bin = service("BURNWATCH_TEST_ALERTMANAGER_BIN");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("alertmanager.yml");
    std::fs::write(&config, am_config(hook)).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .arg(format!("--cluster.listen-address=127.0.0.1:{cluster}"))
        .arg(format!("--cluster.advertise-address=127.0.0.1:{cluster}"))
        .arg(format!("--cluster.peer=127.0.0.1:{peer}"))
        // Fast gossip and settling, and a short wait of the second node for the first.
        .args([
            "--cluster.gossip-interval=50ms",
            "--cluster.pushpull-interval=1s",
            "--cluster.settle-timeout=5s",
            "--cluster.peer-timeout=2s",
            "--cluster.reconnect-interval=1s",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("alertmanager.log")).unwrap())
        .spawn()
        .expect("start alertmanager");
    AmNode {
        child,
        url: format!("http://127.0.0.1:{web}"),
    }
}

/// Both nodes see each other.
async fn cluster_ready(am: &AmNode) -> Option<()> {
    let status: serde_json::Value = reqwest::get(format!("{}/api/v2/status", am.url))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let peers = status["cluster"]["peers"].as_array()?.len();
    (status["cluster"]["status"] == "ready" && peers == 2).then_some(())
}

fn write_config(dir: &Path, ams: &[&AmNode], pg_port: u16) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("burnwatch.yaml");
    let urls: Vec<&str> = ams.iter().map(|a| a.url.as_str()).collect();
    std::fs::write(
        &file,
        format!(
            "specs: [{specs}]\neval_interval: 1s\nresend_delay: 2s\n\
             storage: {{path: history.sqlite}}\n\
             outbox: {{initial_backoff: 200ms, max_backoff: 1s, shutdown_timeout: 2s}}\n\
             notifiers:\n  alertmanager:\n    urls: [{urls}]\n    timeout: 2s\n\
             sources:\n  replay:\n    file: {data}\n    loop: false\n\
             probes:\n  - name: {TARGET}\n    host: 127.0.0.1\n    port: {pg_port}\n\
             \x20   user: postgres\n    dbname: postgres\n    password: {{ env: {PASSWORD_VAR} }}\n\
             \x20   sslmode: verify-full\n    ca_bundle: {ca}\n\
             \x20   interval: {PROBE_INTERVAL}s\n    alert: {{ severity: page, after: 1 }}\n\
             \x20   query_slow: 10s\n    saturation_high: 1.0\n\
             \x20   timeouts: {{ tcp: 2s, tls: 10s, auth: 15s, query: 15s, saturation: 15s }}\n",
            specs = repo().join("slo-specs").display(),
            urls = urls.join(", "),
            data = repo().join("tests/fixtures/daemon/outage.jsonl").display(),
            ca = pg::ca().display(),
        ),
    )
    .unwrap();
    file
}

/// The replica's latest run of [`TARGET`] is healthy.
async fn probe_healthy(bw: &str) -> Option<()> {
    let body: serde_json::Value = reqwest::get(format!("{bw}/api/v1/probes"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let latest = body["runs"].as_array()?.first()?.clone();
    (latest["healthy"] == true).then_some(())
}

/// Notifications at `/pages` per alert (alertname, sloth_id or target) and status.
fn pages(got: &Received) -> BTreeMap<(String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (kind, body) in got.lock().unwrap().iter() {
        if kind != "pages" {
            continue;
        }
        for a in body["alerts"].as_array().into_iter().flatten() {
            if a["labels"]["sloth_severity"] != "page" {
                continue;
            }
            let name = a["labels"]["alertname"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let id = a["labels"]["sloth_id"]
                .as_str()
                .or(a["labels"]["target"].as_str())
                .unwrap_or_default()
                .to_string();
            out.entry((name, id))
                .or_default()
                .push(a["status"].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

fn expected(got: &Received) -> Option<BTreeMap<(String, String), Vec<String>>> {
    let p = pages(got);
    let probe = p.contains_key(&("DatabaseConnectivity".to_string(), TARGET.to_string()));
    let slo = p.keys().any(|(_, id)| id == SLO);
    (probe && slo).then_some(p)
}

/// The SNS FIFO deduplication ids (burnwatch's own [`build_message`]) of the probe
/// alert's messages a replica delivered to Alertmanager, rebuilt from its history store
/// (labels, `startsAt`, `endsAt` as sent), oldest first.
///
/// [`build_message`]: burnwatch::notify::sns::build_message
fn probe_dedup_ids(store: &Path) -> Vec<String> {
    use burnwatch::notify::{Notification, State};
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT state, detail FROM notifications WHERE slo_id = ?1 \
             AND receiver LIKE 'alertmanager:%' ORDER BY id",
        )
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([format!("probe:{TARGET}")], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.into_iter()
        .map(|(state, detail)| {
            let v: serde_json::Value = serde_json::from_str(&detail).unwrap();
            let ts = |k: &str| {
                chrono::DateTime::parse_from_rfc3339(v[k].as_str().unwrap())
                    .unwrap()
                    .with_timezone(&chrono::Utc)
            };
            let n = Notification {
                slo_id: format!("probe:{TARGET}"),
                alert: "DatabaseConnectivity".into(),
                severity: "page".into(),
                state: if state == "resolved" {
                    State::Resolved
                } else {
                    State::Firing
                },
                labels: serde_json::from_value(v["labels"].clone()).unwrap(),
                annotations: Default::default(),
                starts_at: ts("starts_at"),
                ends_at: ts("ends_at"),
                generator_url: String::new(),
                repeat: false,
            };
            burnwatch::notify::sns::build_message(&n, true)
                .fifo
                .unwrap()
                .1
        })
        .collect()
}

#[tokio::test]
async fn an_ha_pair_pages_once_and_a_killed_replica_neither_resolves_nor_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, got) = receiver().await;
    let (c1, c2) = (free_port(), free_port());
    let am1 = start_am(&dir.path().join("am1"), free_port(), c1, c2, hook);
    let am2 = start_am(&dir.path().join("am2"), free_port(), c2, c1, hook);
    for am in [&am1, &am2] {
        wait_http(
            &format!("{}/api/v2/status", am.url),
            Duration::from_secs(20),
        )
        .await;
        eventually(Duration::from_secs(20), "a two-node cluster", || {
            cluster_ready(am)
        })
        .await;
    }

    let proxy = Proxy::start(pg::shared_port()).await;
    let password = pg::password();
    let env = [(PASSWORD_VAR, password.as_str())];
    let cfg_a = write_config(&dir.path().join("a"), &[&am1, &am2], proxy.port);
    let cfg_b = write_config(&dir.path().join("b"), &[&am1, &am2], proxy.port);
    let mut a = Burnwatch::start_with_env(&cfg_a, free_port(), &dir.path().join("a"), &env).await;
    tokio::time::sleep(Duration::from_secs(PROBE_INTERVAL as u64 / 2)).await;
    let mut b = Burnwatch::start_with_env(&cfg_b, free_port(), &dir.path().join("b"), &env).await;

    // Both probe the database successfully, then it goes away for both at once.
    for bw in [&a, &b] {
        eventually(Duration::from_secs(30), "a healthy probe run", || {
            probe_healthy(&bw.url)
        })
        .await;
    }
    // Cut between two slots, so that both replicas' runs of one slot agree.
    let now = chrono::Utc::now().timestamp_millis();
    let period = PROBE_INTERVAL * 1000;
    let mid = (now.div_euclid(period) * period + period / 2 - now).rem_euclid(period);
    tokio::time::sleep(Duration::from_millis(mid as u64)).await;
    proxy.cut();

    let first = eventually(
        Duration::from_secs(30),
        "the SLO page and the probe page at the receiver",
        || {
            let got = got.clone();
            async move { expected(&got) }
        },
    )
    .await;
    // Several group intervals and re-sends of both replicas to both nodes later: still
    // one notification per page.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let settled = pages(&got);
    assert_eq!(settled, first, "duplicates arrived");
    for ((alert, id), statuses) in &settled {
        assert_eq!(
            statuses,
            &["firing"],
            "{alert} {id}: one notification, firing"
        );
    }

    // Identical identities across the replicas: the probe alert's firing messages of A
    // and B have the same startsAt and endsAt (hence SNS FIFO dedup ids).
    let ids_a = probe_dedup_ids(&dir.path().join("a/history.sqlite"));
    let ids_b = probe_dedup_ids(&dir.path().join("b/history.sqlite"));
    assert!(
        !ids_a.is_empty() && !ids_b.is_empty(),
        "{ids_a:?} {ids_b:?}"
    );
    assert_eq!(
        ids_a[0], ids_b[0],
        "the first firing message's SNS FIFO dedup id"
    );

    // The watchdog reaches the dead man's switch route.
    let deadman = got
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, _)| k == "deadman")
        .count();
    assert!(deadman >= 1, "the watchdog reached /deadman");
    assert!(
        got.lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k == "pages")
            .all(|(_, body)| body["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|x| x["labels"]["alertname"] != "BurnwatchWatchdog")),
        "the watchdog is routed away from the pages"
    );

    // Replica A dies without a word. B keeps both pages alive: long past group_interval
    // (2s) and past A's last endsAt (4 × 2s), nothing resolves and nothing repeats.
    a.signal("KILL");
    a.wait(Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        pages(&got),
        first,
        "a resolve or a repeat after the SIGKILL"
    );
    for am in [&am1, &am2] {
        for matcher in [
            format!("sloth_id=\"{SLO}\""),
            format!("target=\"{TARGET}\""),
        ] {
            let held = crate::procs::alertmanager_alerts(&am.url, &matcher).await;
            assert!(
                held.iter()
                    .any(|x| x["labels"]["sloth_severity"] == "page"
                        && x["status"]["state"] == "active"),
                "{} lost {matcher}: {held:#?}",
                am.url
            );
        }
    }
    b.signal("TERM");
    assert!(b.wait(Duration::from_secs(30)).await.success());
}
