//! The daemon's database probe end to end, against the real PostgreSQL and a real
//! Alertmanager: a target with a wrong password is probed every second, its runs are
//! served by `/api/v1/probes` and exported on `/metrics`, and after two consecutive
//! failures Alertmanager holds a `DatabaseConnectivity` page whose `runbook_url` is the
//! `auth-failed` runbook section. A restart pointing at a port nobody listens on keeps the
//! same alert (no second page) and re-classifies it as `tcp_refused` with that runbook
//! section; a restart with the right endpoint and password resolves it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use burnwatch::store::Store;
use chrono::{TimeDelta, Utc};

use crate::pg;
use crate::procs::{Alertmanager, Burnwatch, eventually, free_port};
use crate::support::repo;

const TARGET: &str = "mass-spec-rds-it";
const PASSWORD_VAR: &str = "BURNWATCH_IT_PROBE_PASSWORD";
const RUNBOOK_BASE: &str = "https://git.example.org/sre/burnwatch/blob/main";

/// Probe the shared PostgreSQL every second, page after 2 failures. Thresholds and step
/// timeouts are generous: other tests load the shared server, and this test is about the
/// auth and TCP layers. `resend_delay: 1m`
/// makes every firing message valid for 4 minutes, so the alert can only leave
/// Alertmanager's active list within this test by an explicit resolve.
fn write_config(dir: &Path, am_port: u16, pg_port: u16) -> PathBuf {
    let file = dir.join("burnwatch.yaml");
    std::fs::write(
        &file,
        format!(
            "specs: [{specs}]\neval_interval: 1s\nresend_delay: 1m\n\
             storage: {{path: history.sqlite}}\n\
             runbook_base_url: {RUNBOOK_BASE}/\n\
             outbox: {{initial_backoff: 200ms, max_backoff: 1s, shutdown_timeout: 3s}}\n\
             notifiers:\n  alertmanager:\n    urls: [http://127.0.0.1:{am_port}]\n    timeout: 2s\n\
             probes:\n  - name: {TARGET}\n    host: 127.0.0.1\n    port: {pg_port}\n\
             \x20   user: postgres\n    dbname: postgres\n    password: {{ env: {PASSWORD_VAR} }}\n\
             \x20   sslmode: verify-full\n    ca_bundle: {ca}\n\
             \x20   interval: 1s\n    alert: {{ severity: page, after: 2 }}\n\
             \x20   query_slow: 10s\n    saturation_high: 1.0\n\
             \x20   timeouts: {{ tls: 10s, auth: 15s, query: 15s, saturation: 15s }}\n",
            specs = repo().join("slo-specs").display(),
            ca = pg::ca().display(),
        ),
    )
    .unwrap();
    file
}

async fn get_json(url: &str) -> Option<serde_json::Value> {
    reqwest::get(url).await.ok()?.json().await.ok()
}

/// The target's runs from `/api/v1/probes`, newest first.
async fn runs(bw: &str) -> Vec<serde_json::Value> {
    let body = get_json(&format!("{bw}/api/v1/probes")).await;
    body.and_then(|b| b["runs"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["target"] == TARGET)
        .collect()
}

/// The target's active alert in Alertmanager.
async fn active_alert(am: &Alertmanager) -> Option<serde_json::Value> {
    am.alerts(&format!("target=\"{TARGET}\""))
        .await
        .into_iter()
        .find(|a| a["labels"]["alertname"] == "DatabaseConnectivity")
}

#[tokio::test]
async fn a_failing_database_pages_once_across_a_restart_and_resolves_when_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(free_port(), &dir.path().join("am")).await;
    let am_port: u16 = am.url.rsplit(':').next().unwrap().parse().unwrap();
    let config = write_config(dir.path(), am_port, pg::shared_port());
    let wrong = [(PASSWORD_VAR, "not-the-password")];

    // 1. Wrong password: runs are auth_failed, the success gauge is 0, the page arrives.
    let mut bw = Burnwatch::start_with_env(&config, free_port(), dir.path(), &wrong).await;
    let failed = eventually(Duration::from_secs(30), "auth_failed runs", || {
        let url = bw.url.clone();
        async move {
            let r = runs(&url).await;
            (r.len() >= 2).then_some(r)
        }
    })
    .await;
    for run in &failed {
        assert_eq!(run["classification"], "auth_failed", "{run}");
        assert_eq!(run["failed_step"], "auth", "{run}");
        assert_eq!(run["healthy"], false);
        assert_eq!(run["runbook"], "runbooks/db-connectivity.md#auth-failed");
        assert!(!run.to_string().contains("not-the-password"));
    }
    let metrics = reqwest::get(format!("{}/metrics", bw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("burnwatch_probe_success{{target=\"{TARGET}\"}} 0")),
        "{metrics}"
    );

    let page = eventually(Duration::from_secs(30), "the page in Alertmanager", || {
        active_alert(&am)
    })
    .await;
    assert_eq!(page["labels"]["sloth_severity"], "page", "{page}");
    assert_eq!(page["labels"]["target"], TARGET);
    assert_eq!(page["annotations"]["classification"], "auth_failed");
    assert_eq!(page["annotations"]["failed_step"], "auth");
    let runbook = page["annotations"]["runbook_url"].as_str().unwrap();
    assert_eq!(
        runbook,
        format!("{RUNBOOK_BASE}/runbooks/db-connectivity.md#auth-failed")
    );
    assert!(runbook.ends_with("db-connectivity.md#auth-failed"));
    // probe_id is the permalink of a real failing run.
    let id = page["annotations"]["probe_id"].as_str().unwrap();
    let cited = get_json(&format!("{}/api/v1/probes/{id}", bw.url))
        .await
        .expect("the cited run is served");
    assert_eq!(cited["classification"], "auth_failed");
    assert_eq!(
        page["annotations"]["probe_url"],
        format!("{}/api/v1/probes/{id}", bw.url)
    );
    let starts_at = page["startsAt"].clone();
    // The on-call's own view lists it next to the SLO alerts.
    let ours = get_json(&format!("{}/api/v1/alerts", bw.url))
        .await
        .expect("/api/v1/alerts");
    let listed = ours["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["slo_id"] == format!("probe:{TARGET}")))
        .unwrap_or_else(|| panic!("probe alert missing from /api/v1/alerts: {ours}"));
    assert_eq!(listed["state"], "firing", "{listed}");
    assert_eq!(listed["annotations"]["runbook_url"], runbook);

    // 2. Restart against a closed port: the same alert (no second page), now saying
    //    tcp_refused with that runbook section.
    bw.signal("TERM");
    assert!(bw.wait(Duration::from_secs(20)).await.success());
    write_config(dir.path(), am_port, free_port());
    let mut bw = Burnwatch::start_with_env(&config, free_port(), dir.path(), &wrong).await;
    let refused = eventually(
        Duration::from_secs(30),
        "the alert re-classified",
        || async {
            active_alert(&am)
                .await
                .filter(|a| a["annotations"]["classification"] == "tcp_refused")
        },
    )
    .await;
    assert_eq!(
        refused["startsAt"], starts_at,
        "same alert across the restart"
    );
    assert_eq!(refused["annotations"]["failed_step"], "tcp");
    assert_eq!(
        refused["annotations"]["runbook_url"],
        format!("{RUNBOOK_BASE}/runbooks/db-connectivity.md#tcp-refused")
    );
    let latest = runs(&bw.url).await;
    assert_eq!(latest[0]["classification"], "tcp_refused", "{}", latest[0]);
    bw.signal("TERM");
    assert!(bw.wait(Duration::from_secs(20)).await.success());

    // 3. Restart with the right port and password: the next run is healthy and resolves
    //    the alert.
    write_config(dir.path(), am_port, pg::shared_port());
    let right = pg::password();
    let mut bw = Burnwatch::start_with_env(
        &config,
        free_port(),
        dir.path(),
        &[(PASSWORD_VAR, right.as_str())],
    )
    .await;
    eventually(Duration::from_secs(60), "the alert resolved", || async {
        active_alert(&am).await.is_none().then_some(())
    })
    .await;
    let latest = runs(&bw.url).await;
    assert_eq!(latest[0]["classification"], "healthy", "{}", latest[0]);
    let ours = get_json(&format!("{}/api/v1/alerts", bw.url))
        .await
        .expect("/api/v1/alerts");
    assert!(
        !ours.to_string().contains(&format!("probe:{TARGET}")),
        "a resolved probe alert is no longer listed: {ours}"
    );
    let metrics = reqwest::get(format!("{}/metrics", bw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("burnwatch_probe_success{{target=\"{TARGET}\"}} 1")),
        "{metrics}"
    );
    bw.signal("TERM");
    assert!(bw.wait(Duration::from_secs(20)).await.success());

    // History: firing, re-classified (recorded as firing with the previous classification)
    // and resolved; every delivered firing message of the one episode; the resolve
    // delivered to Alertmanager.
    let store = Store::open(&dir.path().join("history.sqlite")).unwrap();
    let (from, to) = (
        Utc::now() - TimeDelta::hours(1),
        Utc::now() + TimeDelta::hours(1),
    );
    let transitions: Vec<_> = store
        .alert_transitions(from, to)
        .unwrap()
        .into_iter()
        .filter(|t| t.slo_id == format!("probe:{TARGET}"))
        .collect();
    let states: Vec<&str> = transitions.iter().map(|t| t.state.as_str()).collect();
    assert_eq!(states, ["firing", "firing", "resolved"], "{transitions:#?}");
    let fired = &transitions[0];
    assert_eq!(fired.alert, "DatabaseConnectivity");
    assert_eq!(fired.severity, "page");
    assert_eq!(fired.detail["classification"], "auth_failed");
    assert_eq!(fired.detail["consecutive_failures"], 2);
    assert_eq!(
        fired.detail["runbook_url"],
        format!("{RUNBOOK_BASE}/runbooks/db-connectivity.md#auth-failed")
    );
    // It fired after two failed runs, not on the first.
    let fired_id = fired.detail["probe_id"].as_str().unwrap();
    let all = store
        .list_probe_runs(
            &burnwatch::probe::model::format_ts(from),
            &burnwatch::probe::model::format_ts(to),
            Some(TARGET),
        )
        .unwrap();
    let upto: Vec<_> = all.iter().filter(|r| r.id.as_str() <= fired_id).collect();
    assert_eq!(upto.len(), 2, "fired on the second failing run");
    assert!(upto.iter().all(|r| !r.healthy));
    let changed = &transitions[1].detail;
    assert_eq!(changed["change"], "classification", "{changed}");
    assert_eq!(changed["previous_classification"], "auth_failed");
    assert_eq!(changed["classification"], "tcp_refused");
    assert_eq!(
        changed["runbook_url"],
        format!("{RUNBOOK_BASE}/runbooks/db-connectivity.md#tcp-refused")
    );
    let resolved = &transitions[2].detail;
    assert_eq!(resolved["classification"], "tcp_refused", "{resolved}");
    assert!(resolved["recovered_by_probe_id"].is_string());

    let sent: Vec<_> = store
        .notifications(from, to)
        .unwrap()
        .into_iter()
        .filter(|n| n.slo_id == format!("probe:{TARGET}") && n.delivered)
        .collect();
    let firing_starts: std::collections::BTreeSet<String> = sent
        .iter()
        .filter(|n| n.state == "firing")
        .map(|n| {
            n.detail["starts_at"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(firing_starts.len(), 1, "one episode: {sent:#?}");
    assert!(
        sent.iter()
            .any(|n| n.state == "resolved" && n.receiver.starts_with("alertmanager")),
        "{sent:#?}"
    );
}
