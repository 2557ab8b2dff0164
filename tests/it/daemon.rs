//! `burnwatch run` as a process: configuration errors, graceful stop on SIGTERM, and a
//! page surviving SIGKILL in the outbox.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use burnwatch::notify::outbox::{Outbox, RetryPolicy};
use burnwatch::notify::{Notifier, State};
use burnwatch::status::StatusBoard;
use burnwatch::store::Store;
use burnwatch::telemetry::Telemetry;
use chrono::Utc;

use crate::notify::{page, unique_slo};
use crate::procs::{Alertmanager, Burnwatch, eventually, free_port, wait_http};
use crate::support::{burnwatch, repo};

/// A config for `dir` delivering to the Alertmanager at `am_port`, with fast retries.
fn write_config(dir: &Path, am_port: u16) -> std::path::PathBuf {
    let file = dir.join("burnwatch.yaml");
    let specs = repo().join("slo-specs");
    std::fs::write(
        &file,
        format!(
            "specs: [{}]\nstorage: {{path: history.sqlite}}\noutbox: {{initial_backoff: 200ms, max_backoff: 1s, shutdown_timeout: 2s}}\nnotifiers:\n  alertmanager:\n    urls: [http://127.0.0.1:{am_port}]\n    timeout: 2s\n",
            specs.display()
        ),
    )
    .unwrap();
    file
}

/// Put a firing page into the store's outbox, as an evaluation would.
fn seed_page(store_path: &Path, am_port: u16, slo: &str) {
    let store = Arc::new(Store::open(store_path).unwrap());
    let notifier: Arc<dyn Notifier> = Arc::new(
        burnwatch::notify::alertmanager::AlertmanagerNotifier::new(
            &format!("http://127.0.0.1:{am_port}"),
            Duration::from_secs(1),
            None,
        )
        .unwrap(),
    );
    let outbox = Outbox::new(
        store,
        vec![notifier],
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
            max_age: Duration::from_secs(86_400),
        },
        Telemetry::new(StatusBoard::new()),
    );
    let now = Utc::now();
    outbox
        .enqueue(
            &[page(
                slo,
                State::Firing,
                now,
                now + chrono::Duration::minutes(10),
            )],
            now,
        )
        .unwrap();
}

#[test]
fn a_bad_config_exits_2_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("burnwatch.yaml");
    std::fs::write(&file, "eval_interval: 30\nnotifiers:\n  slack: {}\n").unwrap();
    let out = burnwatch()
        .args(["run", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let f = file.display();
    assert!(
        stderr.contains(&format!("{f}:1:16: `eval_interval` must be a duration")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{f}:3:3: unknown field `slack`")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let missing = burnwatch()
        .args(["run", "--config", "/nonexistent/burnwatch.yaml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("/nonexistent/burnwatch.yaml:1:1: cannot read configuration"),
    );
}

#[test]
fn bad_specs_named_by_the_config_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "version: prometheus/v1\nservice: x\nslos:\n  - name: a\n    objective: 120\n    sli: {raw: {error_ratio_query: \"x\"}}\n    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}\n",
    )
    .unwrap();
    let file = dir.path().join("burnwatch.yaml");
    std::fs::write(&file, "specs: [bad.yaml]\n").unwrap();
    let out = burnwatch()
        .args(["run", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:5:16:", dir.path().join("bad.yaml").display())),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_stops_gracefully_and_keeps_undeliverable_pages() {
    let dir = tempfile::tempdir().unwrap();
    let am_port = free_port(); // nothing listens there
    let config = write_config(dir.path(), am_port);
    let slo = unique_slo("sigterm");
    seed_page(&dir.path().join("history.sqlite"), am_port, &slo);
    let port = free_port();
    let mut bw = Burnwatch::start(&config, port, dir.path()).await;
    // Ready after the first evaluation (one interval after start at most).
    wait_http(&format!("{}/readyz", bw.url), Duration::from_secs(30)).await;
    bw.signal("TERM");
    let status = bw.wait(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}: {}", bw.log());
    let log = bw.log();
    assert!(log.contains("received SIGTERM"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(log.contains("kept in the store"), "{log}");
    let store = Store::open(&dir.path().join("history.sqlite")).unwrap();
    let items = store.outbox_items().unwrap();
    assert_eq!(items.len(), 1, "the page is persisted for the next start");
    assert!(items[0].attempts >= 1);
}

#[tokio::test]
async fn a_page_in_the_outbox_survives_sigkill_and_is_delivered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let am_port = free_port();
    let config = write_config(dir.path(), am_port);
    let slo = unique_slo("sigkill");
    let store_path = dir.path().join("history.sqlite");
    seed_page(&store_path, am_port, &slo);

    // First run: Alertmanager is down; the daemon retries, then dies without warning.
    let port = free_port();
    let mut bw = Burnwatch::start(&config, port, dir.path()).await;
    let url = bw.url.clone();
    eventually(Duration::from_secs(15), "a failed delivery attempt", || {
        let url = url.clone();
        async move {
            let v: serde_json::Value = reqwest::get(format!("{url}/api/v1/outbox"))
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (v["pending"][0]["attempts"].as_u64()? >= 1).then_some(())
        }
    })
    .await;
    bw.signal("KILL");
    let status = bw.wait(Duration::from_secs(10)).await;
    assert!(!status.success());
    assert_eq!(
        Store::open(&store_path)
            .unwrap()
            .outbox_items()
            .unwrap()
            .len(),
        1
    );

    // Alertmanager comes up, the daemon restarts and delivers the page.
    let am = Alertmanager::start(am_port, &dir.path().join("am")).await;
    let port = free_port();
    let mut bw = Burnwatch::start(&config, port, dir.path()).await;
    let matcher = format!("sloth_id=\"{slo}\"");
    let alerts = eventually(Duration::from_secs(20), "the page in Alertmanager", || {
        let (url, matcher) = (am.url.clone(), matcher.clone());
        async move {
            let a = crate::procs::alertmanager_alerts(&url, &matcher).await;
            (!a.is_empty()).then_some(a)
        }
    })
    .await;
    assert_eq!(alerts[0]["labels"]["alertname"], "MassSpecAPIAvailability");
    assert_eq!(
        alerts[0]["annotations"]["runbook_url"],
        "runbooks/api-availability.md"
    );
    let metrics_url = format!("{}/metrics", bw.url);
    eventually(Duration::from_secs(10), "the delivery in /metrics", || {
        let metrics_url = metrics_url.clone();
        async move {
            let text = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
            text.lines()
                .any(|l| {
                    l.starts_with("burnwatch_notifications_sent_total{")
                        && l.contains("state=\"firing\"")
                        && l.ends_with(" 1")
                })
                .then_some(())
        }
    })
    .await;
    bw.signal("TERM");
    assert!(
        bw.wait(Duration::from_secs(10)).await.success(),
        "{}",
        bw.log()
    );
    let store = Store::open(&store_path).unwrap();
    assert!(store.outbox_items().unwrap().is_empty());
    let from = Utc::now() - chrono::Duration::hours(1);
    let log = store
        .notifications(from, Utc::now() + chrono::Duration::hours(1))
        .unwrap();
    assert_eq!(log.len(), 1);
    assert!(log[0].delivered);
    assert!(log[0].detail["attempts"].as_u64().unwrap() >= 2);
}
