//! Two daemons never share one history store: the second `burnwatch run` on a store exits
//! 2 naming the store and the holder's pid, the first keeps evaluating, and the read-only
//! commands still read the store while it runs.

use std::time::Duration;

use crate::procs::{Burnwatch, eventually, free_port, paging_slos};
use crate::support::{burnwatch, repo};

#[tokio::test]
async fn a_second_daemon_on_the_same_store_exits_2_and_the_first_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "specs: [{specs}]\neval_interval: 1s\nstorage: {{path: history.sqlite}}\n\
             outbox: {{shutdown_timeout: 2s}}\n\
             sources:\n  replay:\n    file: {data}\n    loop: false\n",
            specs = repo().join("slo-specs").display(),
            data = repo().join("tests/fixtures/daemon/outage.jsonl").display(),
        ),
    )
    .unwrap();
    let store = dir.path().join("history.sqlite");

    let mut first = Burnwatch::start(&config, free_port(), dir.path()).await;
    // The first daemon evaluates (the recorded outage pages) before the second starts.
    eventually(Duration::from_secs(30), "the first daemon paging", || {
        let url = first.url.clone();
        async move { (!paging_slos(&url).await.is_empty()).then_some(()) }
    })
    .await;

    let second = burnwatch()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("history store {} is in use", store.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("(pid {})", first.pid())),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The first one is unharmed and still evaluating.
    let health = reqwest::get(format!("{}/healthz", first.url))
        .await
        .unwrap();
    assert!(health.status().is_success());
    assert!(!paging_slos(&first.url).await.is_empty());

    // Read-only commands work while the daemon holds the lock.
    let history = burnwatch()
        .args(["history", "alerts", "--since", "24h", "--json", "--config"])
        .arg(&config)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&history.stdout);
    assert!(
        history.status.success(),
        "{}",
        String::from_utf8_lossy(&history.stderr)
    );
    assert!(out.contains("mass-spec-web-availability"), "{out}");

    // A graceful stop releases the lock: the next daemon on the store starts.
    first.signal("TERM");
    assert!(first.wait(Duration::from_secs(30)).await.success());
    let mut next = Burnwatch::start(&config, free_port(), dir.path()).await;
    next.signal("TERM");
    assert!(next.wait(Duration::from_secs(30)).await.success());
}

#[tokio::test]
async fn a_sigkilled_daemon_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "specs: [{specs}]\neval_interval: 1s\nstorage: {{path: history.sqlite}}\n",
            specs = repo().join("slo-specs").display(),
        ),
    )
    .unwrap();
    let mut first = Burnwatch::start(&config, free_port(), dir.path()).await;
    first.signal("KILL");
    first.wait(Duration::from_secs(10)).await;
    assert!(dir.path().join("history.sqlite.lock").exists());
    let mut next = Burnwatch::start(&config, free_port(), dir.path()).await;
    next.signal("TERM");
    assert!(next.wait(Duration::from_secs(30)).await.success());
}
