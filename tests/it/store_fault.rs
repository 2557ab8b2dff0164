//! A tick whose store commit fails is all or nothing: with the SQLite file held by another
//! connection's `BEGIN EXCLUSIVE` across the daemon's evaluations, the page is neither
//! lost nor sent twice once the lock goes away. Real daemon, real Alertmanager, SNS in
//! moto.

use std::time::Duration;

use burnwatch::store::Store;

use crate::procs::{Alertmanager, Burnwatch, eventually, free_port};
use crate::support::{repo, service};

const SLO: &str = "mass-spec-web-availability";

/// SNS `Publish`es moto recorded for `topic_arn` that fire [`SLO`]'s page.
async fn sns_pages(moto: &str, topic_arn: &str) -> Vec<serde_json::Value> {
    let data: serde_json::Value = reqwest::get(format!("{moto}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let topic = data["sns"]["Topic"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["arn"] == topic_arn)
        .cloned()
        .unwrap_or_else(|| panic!("topic {topic_arn} not in moto state"));
    topic["sent_notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            let attr = |k: &str| m[3][k]["Value"].as_str().unwrap_or_default().to_string();
            attr("slo_id") == SLO && attr("severity") == "page" && attr("state") == "firing"
        })
        .cloned()
        .collect()
}

/// `burnwatch_evaluation_failures_total` on `/metrics`.
async fn evaluation_failures(url: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("burnwatch_evaluation_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_page_due_while_the_store_is_locked_reaches_alertmanager_and_sns_once() {
    let moto = service("BURNWATCH_TEST_MOTO_SNS_URL");
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(free_port(), &dir.path().join("am")).await;

    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await;
    let topic = format!("store-fault-{}", std::process::id());
    let arn = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name(&topic)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();

    // A resend delay far beyond the test: a page marked sent by a failed tick would only
    // go out an hour later, so it must be the rollback that makes it arrive.
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "specs: [{specs}]\neval_interval: 1s\nresend_delay: 1h\n\
             storage: {{path: history.sqlite}}\n\
             outbox: {{initial_backoff: 200ms, max_backoff: 1s, shutdown_timeout: 2s}}\n\
             notifiers:\n  alertmanager:\n    urls: [{am}]\n    timeout: 2s\n\
             \x20 sns:\n    topic_arn: {arn}\n    region: us-east-1\n    endpoint_url: {moto}\n    timeout: 10s\n\
             sources:\n  replay:\n    file: {data}\n    loop: false\n",
            specs = repo().join("slo-specs").display(),
            am = am.url,
            data = repo().join("tests/fixtures/daemon/outage.jsonl").display(),
        ),
    )
    .unwrap();

    // Create and migrate the store, then hold it: the daemon opens and reads it (WAL), but
    // every commit waits out its busy timeout and fails.
    let db = dir.path().join("history.sqlite");
    drop(Store::open(&db).unwrap());
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let mut bw = Burnwatch::start(&config, free_port(), dir.path()).await;
    eventually(
        Duration::from_secs(60),
        "two evaluations failing on the locked store",
        || {
            let url = bw.url.clone();
            async move { (evaluation_failures(&url).await >= 2.0).then_some(()) }
        },
    )
    .await;
    let matcher = format!("sloth_id=\"{SLO}\"");
    assert!(
        am.alerts(&matcher).await.is_empty(),
        "nothing delivered while the store refused the commit"
    );
    assert!(sns_pages(&moto, &arn).await.is_empty());

    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);

    let page = eventually(Duration::from_secs(60), "the page in Alertmanager", || {
        let (am, matcher) = (&am, matcher.clone());
        async move {
            am.alerts(&matcher)
                .await
                .into_iter()
                .find(|a| a["labels"]["sloth_severity"] == "page")
        }
    })
    .await;
    assert_eq!(page["labels"]["sloth_id"], SLO);
    eventually(Duration::from_secs(30), "the page in SNS", || {
        let (moto, arn) = (moto.clone(), arn.clone());
        async move { (!sns_pages(&moto, &arn).await.is_empty()).then_some(()) }
    })
    .await;
    // Several more evaluations on the committed state: no second send anywhere.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let published = sns_pages(&moto, &arn).await;
    assert_eq!(published.len(), 1, "one SNS publish: {published:#?}");

    bw.signal("TERM");
    assert!(bw.wait(Duration::from_secs(30)).await.success());
    let store = Store::open(&db).unwrap();
    let now = chrono::Utc::now();
    let delivered: Vec<_> = store
        .notifications(
            now - chrono::TimeDelta::hours(1),
            now + chrono::TimeDelta::hours(1),
        )
        .unwrap()
        .into_iter()
        .filter(|n| n.slo_id == SLO && n.severity == "page")
        .collect();
    let by_receiver = |prefix: &str| {
        delivered
            .iter()
            .filter(|n| n.receiver.starts_with(prefix) && n.state == "firing" && n.delivered)
            .count()
    };
    assert_eq!(by_receiver("alertmanager"), 1, "{delivered:#?}");
    assert_eq!(by_receiver("sns"), 1, "{delivered:#?}");
    let fired = store
        .alert_transitions(
            now - chrono::TimeDelta::hours(1),
            now + chrono::TimeDelta::hours(1),
        )
        .unwrap()
        .into_iter()
        .filter(|t| t.slo_id == SLO && t.severity == "page" && t.state == "firing")
        .count();
    assert_eq!(
        fired, 1,
        "the firing transition of the failed tick is kept, once"
    );
}
