//! `BurnwatchWatchdog` at a real Alertmanager: always firing while the daemon evaluates,
//! with labels that carry nothing replica- or time-specific, valid for a few intervals
//! only, so it resolves once burnwatch stops; `watchdog: false` turns it off.

use std::time::Duration;

use crate::procs::{Alertmanager, Burnwatch, eventually, free_port, paging_slos};
use crate::support::repo;

const MATCHER: &str = "alertname=\"BurnwatchWatchdog\"";

fn config(dir: &std::path::Path, am: &str, extra: &str) -> std::path::PathBuf {
    let file = dir.join("burnwatch.yaml");
    std::fs::write(
        &file,
        format!(
            "specs: [{specs}]\neval_interval: 1s\nresend_delay: 1s\n\
             storage: {{path: history.sqlite}}\n\
             outbox: {{initial_backoff: 200ms, max_backoff: 1s, shutdown_timeout: 2s}}\n\
             notifiers:\n  alertmanager:\n    urls: [{am}]\n    timeout: 2s\n{extra}\
             sources:\n  replay:\n    file: {data}\n    loop: false\n",
            specs = repo().join("slo-specs").display(),
            data = repo().join("tests/fixtures/daemon/outage.jsonl").display(),
        ),
    )
    .unwrap();
    file
}

#[tokio::test]
async fn the_watchdog_fires_while_the_daemon_evaluates_and_resolves_when_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(free_port(), &dir.path().join("am")).await;
    let cfg = config(dir.path(), &am.url, "");
    let mut bw = Burnwatch::start(&cfg, free_port(), dir.path()).await;

    let alert = eventually(
        Duration::from_secs(30),
        "the watchdog at Alertmanager",
        || {
            let am = &am;
            async move { am.alerts(MATCHER).await.into_iter().next() }
        },
    )
    .await;
    assert_eq!(
        alert["labels"],
        serde_json::json!({"alertname": "BurnwatchWatchdog", "severity": "none"}),
        "no replica, instance or timestamp label"
    );
    assert_eq!(alert["status"]["state"], "active");
    let ends = chrono::DateTime::parse_from_rfc3339(alert["endsAt"].as_str().unwrap()).unwrap();
    let ahead = ends.signed_duration_since(chrono::Utc::now());
    // 4 × max(eval_interval, resend_delay) = 4 s ahead of the beat that set it.
    assert!(
        ahead <= chrono::Duration::seconds(5) && ahead > chrono::Duration::seconds(-1),
        "endsAt {ends} is {ahead} ahead"
    );
    // Still firing several beats later (it is re-sent, not left to expire).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let later = am.alerts(MATCHER).await;
    assert_eq!(later.len(), 1, "{later:#?}");
    assert_eq!(later[0]["startsAt"], alert["startsAt"], "one episode");

    // The daemon dies without a word: the watchdog resolves on its own at Alertmanager.
    bw.signal("KILL");
    bw.wait(Duration::from_secs(10)).await;
    eventually(
        Duration::from_secs(15),
        "the watchdog resolved after the daemon died",
        || {
            let am = &am;
            async move { am.alerts(MATCHER).await.is_empty().then_some(()) }
        },
    )
    .await;
}

#[tokio::test]
async fn watchdog_false_sends_pages_but_no_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(free_port(), &dir.path().join("am")).await;
    let cfg = config(dir.path(), &am.url, "    watchdog: false\n");
    let bw = Burnwatch::start(&cfg, free_port(), dir.path()).await;
    eventually(Duration::from_secs(30), "a page at Alertmanager", || {
        let am = &am;
        async move { (!am.alerts("sloth_severity=\"page\"").await.is_empty()).then_some(()) }
    })
    .await;
    assert!(!paging_slos(&bw.url).await.is_empty());
    // Several evaluations later, still no watchdog.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(am.alerts(MATCHER).await.is_empty());
}
