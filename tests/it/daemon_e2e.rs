//! `burnwatch run` end to end: a recorded outage replayed by the daemon pages a real
//! Alertmanager with the generated rules' labels, and the firing alert survives a restart
//! without a second "firing" transition.

use std::path::Path;
use std::time::Duration;

use burnwatch::store::Store;
use chrono::{TimeDelta, Utc};

use crate::procs::{Alertmanager, Burnwatch, eventually, firing_pages, free_port};
use crate::support::repo;

const SLO: &str = "mass-spec-web-availability";

/// A config replaying the outage fixture once, delivering to the Alertmanager at `am_port`.
fn write_config(dir: &Path, am_port: u16) -> std::path::PathBuf {
    let file = dir.join("burnwatch.yaml");
    std::fs::write(
        &file,
        format!(
            "specs: [{specs}]\neval_interval: 1s\nstorage: {{path: history.sqlite}}\n\
             outbox: {{initial_backoff: 200ms, max_backoff: 1s, shutdown_timeout: 2s}}\n\
             notifiers:\n  alertmanager:\n    urls: [http://127.0.0.1:{am_port}]\n    timeout: 2s\n\
             sources:\n  replay:\n    file: {data}\n    loop: false\n",
            specs = repo().join("slo-specs").display(),
            data = repo().join("tests/fixtures/daemon/outage.jsonl").display(),
        ),
    )
    .unwrap();
    file
}

/// The daemon's firing page for [`SLO`], from `/api/v1/alerts`.
async fn firing_page(url: &str) -> Option<serde_json::Value> {
    firing_pages(url)
        .await
        .into_iter()
        .find(|a| a["slo_id"] == SLO)
}

#[tokio::test]
async fn a_replayed_outage_pages_alertmanager_and_the_page_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(free_port(), &dir.path().join("am")).await;
    let am_port: u16 = am.url.rsplit(':').next().unwrap().parse().unwrap();
    let config = write_config(dir.path(), am_port);

    let mut bw = Burnwatch::start(&config, free_port(), dir.path()).await;
    let matcher = format!("sloth_id=\"{SLO}\"");
    let alerts = eventually(Duration::from_secs(60), "the page in Alertmanager", || {
        let am = &am;
        let matcher = matcher.clone();
        async move {
            let alerts = am.alerts(&matcher).await;
            alerts
                .into_iter()
                .find(|a| a["labels"]["sloth_severity"] == "page")
        }
    })
    .await;
    assert_eq!(alerts["labels"]["alertname"], "MassSpecWebAvailability");
    assert_eq!(alerts["labels"]["sloth_id"], SLO);
    assert_eq!(
        alerts["annotations"]["runbook_url"],
        "runbooks/web-availability.md"
    );
    assert!(
        alerts["annotations"]["burn_rate_5m"].is_string(),
        "{alerts}"
    );

    let before = firing_page(&bw.url).await.expect("page firing in the API");
    let fired_at = before["fired_at"].clone();
    assert!(fired_at.is_string(), "{before}");

    bw.signal("TERM");
    assert!(bw.wait(Duration::from_secs(20)).await.success());

    let mut bw = Burnwatch::start(&config, free_port(), dir.path()).await;
    let after = eventually(Duration::from_secs(30), "page restored", || {
        let url = bw.url.clone();
        async move { firing_page(&url).await }
    })
    .await;
    // Let a few more evaluations run on the restored state.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        after["fired_at"], fired_at,
        "startsAt kept across the restart"
    );
    bw.signal("TERM");
    assert!(bw.wait(Duration::from_secs(20)).await.success());

    let store = Store::open(&dir.path().join("history.sqlite")).unwrap();
    let now = Utc::now();
    let transitions = store
        .alert_transitions(now - TimeDelta::hours(1), now + TimeDelta::hours(1))
        .unwrap();
    let fired: Vec<_> = transitions
        .iter()
        .filter(|t| t.slo_id == SLO && t.severity == "page" && t.state == "firing")
        .collect();
    assert_eq!(fired.len(), 1, "one firing transition: {transitions:?}");
}

/// A page restored at start whose last message is older than the resend delay is re-sent
/// before the source backfill, which here hangs on a Prometheus that never answers: a long
/// backfill must not let Alertmanager expire a page that is still firing.
#[tokio::test]
async fn a_restored_page_is_re_sent_before_a_slow_backfill() {
    use burnwatch::eval::alert::{Alert, AlertState};
    use burnwatch::store::{EvaluationCommit, StoredAlertState};

    const API: &str = "mass-spec-api-availability";
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(free_port(), &dir.path().join("am")).await;
    let am_port: u16 = am.url.rsplit(':').next().unwrap().parse().unwrap();

    // A listener that accepts and never answers: the backfill's query waits its timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            conns.push(c);
        }
    });

    let now = Utc::now().timestamp();
    let fired = Alert {
        state: AlertState::Firing,
        fired_at: Some(now - 1200),
        resolved_at: None,
        last_sent_at: Some(now - 600),
        valid_until: Some(now + 60),
    };
    Store::open(&dir.path().join("history.sqlite"))
        .unwrap()
        .commit_evaluation(
            &EvaluationCommit {
                states: vec![StoredAlertState {
                    slo_id: API.into(),
                    alert_key: "page".into(),
                    state: serde_json::to_value(&fired).unwrap(),
                    updated_at: Utc::now(),
                }],
                ..EvaluationCommit::default()
            },
            Utc::now(),
        )
        .unwrap();
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "specs: [{specs}]\nstorage: {{path: history.sqlite}}\n\
             outbox: {{initial_backoff: 200ms, max_backoff: 1s, shutdown_timeout: 2s}}\n\
             notifiers:\n  alertmanager:\n    urls: [http://127.0.0.1:{am_port}]\n    timeout: 2s\n\
             sources:\n  prometheus: {{url: 'http://127.0.0.1:{silent_port}', timeout: 20s, max_attempts: 1}}\n",
            specs = repo().join("slo-specs").display(),
        ),
    )
    .unwrap();
    let bw = Burnwatch::start(&config, free_port(), dir.path()).await;
    let page = eventually(Duration::from_secs(10), "the restored page re-sent", || {
        let am = &am;
        async move {
            am.alerts(&format!("sloth_id=\"{API}\""))
                .await
                .into_iter()
                .find(|a| a["labels"]["sloth_severity"] == "page")
        }
    })
    .await;
    assert_eq!(page["labels"]["alertname"], "MassSpecAPIAvailability");
    // Still backfilling: not ready.
    let ready = reqwest::get(format!("{}/readyz", bw.url)).await.unwrap();
    assert!(
        !ready.status().is_success(),
        "re-sent before the backfill ended"
    );
    held.abort();
}
