//! `/readyz` is honest: 200 only once the first evaluation has published the SLO series,
//! so a scrape right after the daemon turns ready already sees every `slo:*` series.

use std::time::{Duration, Instant};

use crate::procs::{Burnwatch, free_port};
use crate::support::repo;

#[tokio::test]
async fn once_ready_metrics_has_the_slo_series() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("burnwatch.yaml");
    // A long interval makes the gap between backfill and first evaluation wide: a daemon
    // that reported ready at the end of the backfill would be scraped SLO-less here.
    std::fs::write(
        &config,
        format!(
            "specs: [{specs}]\neval_interval: 5s\nstorage: {{path: history.sqlite}}\n\
             sources:\n  replay:\n    file: {data}\n    loop: true\n",
            specs = repo().join("slo-specs").display(),
            data = repo().join("tests/fixtures/daemon/outage.jsonl").display(),
        ),
    )
    .unwrap();
    let mut bw = Burnwatch::start(&config, free_port(), dir.path()).await;
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let ready = client
            .get(format!("{}/readyz", bw.url))
            .send()
            .await
            .unwrap();
        if ready.status().is_success() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never ready:\n{}",
            bw.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = client
        .get(format!("{}/metrics", bw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "slo:sli_error:ratio_rate",
        "slo:error_budget:ratio{",
        "slo:objective:ratio{",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(series) && l.contains("mass-spec-web-availability")),
            "ready, yet no {series} series for the demo SLO:\n{metrics}"
        );
    }
    assert!(
        metrics.lines().any(|l| l == "burnwatch_ready 1"),
        "burnwatch_ready mirrors /readyz"
    );
    bw.signal("TERM");
    assert!(bw.wait(Duration::from_secs(20)).await.success());
}
