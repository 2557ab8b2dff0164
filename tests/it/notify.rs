//! Notification delivery through the durable outbox to real receivers: Alertmanager
//! (Debian package) and SNS (moto).

use std::sync::Arc;
use std::time::Duration;

use burnwatch::notify::alertmanager::AlertmanagerNotifier;
use burnwatch::notify::outbox::{Outbox, RetryPolicy};
use burnwatch::notify::{Notification, Notifier, State};
use burnwatch::spec::Labels;
use burnwatch::status::StatusBoard;
use burnwatch::store::Store;
use burnwatch::telemetry::Telemetry;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::procs::{Alertmanager, alertmanager_alerts, eventually, free_port};
use crate::support::service;

/// A unique SLO id per test run, so tests sharing a receiver never see each other.
pub fn unique_slo(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("it-{name}-{}-{nanos}", std::process::id())
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A page as the daemon sends it: the generated rules' labels, Sloth's annotations plus
/// runbook, dashboard and the burn rates that fired.
pub fn page(
    slo_id: &str,
    state: State,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Notification {
    Notification {
        slo_id: slo_id.into(),
        alert: "MassSpecAPIAvailability".into(),
        severity: "page".into(),
        state,
        labels: labels(&[
            ("alertname", "MassSpecAPIAvailability"),
            ("sloth_id", slo_id),
            ("sloth_service", "mass-spec"),
            ("sloth_slo", "api-availability"),
            ("sloth_severity", "page"),
            ("category", "availability"),
        ]),
        annotations: labels(&[
            (
                "title",
                "(page) mass-spec api-availability SLO error budget burn rate is too fast.",
            ),
            (
                "summary",
                "mass-spec api-availability SLO error budget burn rate is over expected.",
            ),
            ("runbook_url", "runbooks/api-availability.md"),
            ("dashboard_url", "http://127.0.0.1:9464/api/v1/slos/x"),
            ("burn_rate_5m", "31.2"),
            ("burn_rate_1h", "18.9"),
        ]),
        starts_at,
        ends_at,
        generator_url: format!("http://127.0.0.1:9464/api/v1/slos/{slo_id}"),
        repeat: false,
    }
}

fn outbox(store: Arc<Store>, notifiers: Vec<Arc<dyn Notifier>>) -> Arc<Outbox> {
    Arc::new(Outbox::new(
        store,
        notifiers,
        RetryPolicy {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(1),
            max_age: Duration::from_secs(86_400),
        },
        Telemetry::new(StatusBoard::new()),
    ))
}

fn am_notifier(url: &str) -> Arc<dyn Notifier> {
    Arc::new(AlertmanagerNotifier::new(url, Duration::from_secs(2), None).unwrap())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[tokio::test]
async fn a_page_appears_in_alertmanager_and_its_resolve_clears_it() {
    let am = service("BURNWATCH_TEST_ALERTMANAGER_URL");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("h.sqlite")).unwrap());
    let outbox = outbox(store.clone(), vec![am_notifier(&am)]);
    let slo = unique_slo("page");
    let matcher = format!("sloth_id=\"{slo}\"");
    let started = Utc::now() - chrono::Duration::minutes(1);
    let fire = page(
        &slo,
        State::Firing,
        started,
        Utc::now() + chrono::Duration::minutes(4),
    );
    outbox
        .enqueue(std::slice::from_ref(&fire), Utc::now())
        .unwrap();
    let r = outbox.deliver_due(Utc::now()).await.unwrap();
    assert_eq!(r.delivered, 1, "{r:?}");

    let alerts = alertmanager_alerts(&am, &matcher).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["status"]["state"], "active");
    assert_eq!(a["labels"]["alertname"], "MassSpecAPIAvailability");
    assert_eq!(a["labels"]["sloth_severity"], "page");
    assert_eq!(a["labels"]["sloth_service"], "mass-spec");
    assert_eq!(a["labels"]["sloth_slo"], "api-availability");
    assert_eq!(a["labels"]["category"], "availability");
    assert_eq!(
        a["annotations"]["runbook_url"],
        "runbooks/api-availability.md"
    );
    assert_eq!(a["annotations"]["burn_rate_5m"], "31.2");
    assert_eq!(a["generatorURL"], fire.generator_url.as_str());
    assert_eq!(a["startsAt"], rfc3339(started).as_str());

    // Recovery: the resolve carries an explicit endsAt now; Alertmanager stops listing it.
    let resolve = page(&slo, State::Resolved, started, Utc::now());
    outbox.enqueue(&[resolve], Utc::now()).unwrap();
    let r = outbox.deliver_due(Utc::now()).await.unwrap();
    assert_eq!(r.delivered, 1, "{r:?}");
    eventually(Duration::from_secs(10), "the alert to resolve", || {
        let am = am.clone();
        let matcher = matcher.clone();
        async move {
            alertmanager_alerts(&am, &matcher)
                .await
                .is_empty()
                .then_some(())
        }
    })
    .await;
    assert!(store.outbox_items().unwrap().is_empty());
    let from = Utc::now() - chrono::Duration::hours(1);
    let log = store
        .notifications(from, Utc::now() + chrono::Duration::hours(1))
        .unwrap();
    let states: Vec<(&str, bool)> = log
        .iter()
        .map(|r| (r.state.as_str(), r.delivered))
        .collect();
    assert_eq!(states, [("firing", true), ("resolved", true)]);
}

#[tokio::test]
async fn a_page_waits_out_an_alertmanager_outage_and_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let store = Arc::new(Store::open(&dir.path().join("h.sqlite")).unwrap());
    let outbox = outbox(store.clone(), vec![am_notifier(&url)]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = {
        let outbox = outbox.clone();
        tokio::spawn(async move {
            outbox
                .run(
                    async {
                        let _ = stopped.await;
                    },
                    Duration::from_secs(2),
                )
                .await
        })
    };

    // Alertmanager is down: the page is stored and retried, not lost.
    let slo = unique_slo("outage");
    let started = Utc::now();
    let mut fire = page(
        &slo,
        State::Firing,
        started,
        started + chrono::Duration::minutes(4),
    );
    outbox
        .enqueue(std::slice::from_ref(&fire), Utc::now())
        .unwrap();
    let attempts = eventually(Duration::from_secs(15), "two failed attempts", || {
        let store = store.clone();
        async move {
            let items = store.outbox_items().unwrap();
            (items.len() == 1 && items[0].attempts >= 2).then(|| items[0].attempts)
        }
    })
    .await;
    assert!(attempts >= 2);
    let item = &store.outbox_items().unwrap()[0];
    assert!(
        item.last_error
            .as_deref()
            .unwrap_or("")
            .contains("Connection refused")
            || item.last_error.as_deref().unwrap_or("").contains("connect"),
        "{:?}",
        item.last_error
    );

    // The evaluator keeps re-sending every resend delay during the outage; the re-sends
    // replace the waiting one instead of piling up into a storm.
    for minute in 1..=4 {
        fire.repeat = true;
        fire.ends_at = started + chrono::Duration::minutes(4 + minute);
        outbox
            .enqueue(std::slice::from_ref(&fire), Utc::now())
            .unwrap();
    }
    assert_eq!(store.outbox_items().unwrap().len(), 1);

    // Alertmanager comes back: the page is delivered, once, with the latest endsAt.
    let am = Alertmanager::start(port, &dir.path().join("am")).await;
    let matcher = format!("sloth_id=\"{slo}\"");
    let alerts = eventually(Duration::from_secs(20), "the page in Alertmanager", || {
        let url = am.url.clone();
        let matcher = matcher.clone();
        async move {
            let a = alertmanager_alerts(&url, &matcher).await;
            (!a.is_empty()).then_some(a)
        }
    })
    .await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["endsAt"], rfc3339(fire.ends_at).as_str());
    eventually(Duration::from_secs(10), "an empty outbox", || {
        let store = store.clone();
        async move { store.outbox_items().unwrap().is_empty().then_some(()) }
    })
    .await;
    let from = Utc::now() - chrono::Duration::hours(1);
    let log = store
        .notifications(from, Utc::now() + chrono::Duration::hours(1))
        .unwrap();
    assert_eq!(log.len(), 1, "delivered exactly once: {log:#?}");
    assert!(log[0].delivered);
    assert!(log[0].detail["attempts"].as_u64().unwrap() >= 1);
    let _ = stop.send(());
    worker.await.unwrap();
}

#[tokio::test]
async fn alertmanager_validation_errors_are_given_up_not_retried() {
    let am = service("BURNWATCH_TEST_ALERTMANAGER_URL");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("h.sqlite")).unwrap());
    let outbox = outbox(store.clone(), vec![am_notifier(&am)]);
    let slo = unique_slo("invalid");
    let now = Utc::now();
    // endsAt before startsAt: Alertmanager answers 400.
    let bad = page(&slo, State::Firing, now, now - chrono::Duration::hours(1));
    outbox.enqueue(&[bad], now).unwrap();
    let r = outbox.deliver_due(now).await.unwrap();
    assert_eq!((r.rejected, r.retrying), (1, 0), "{r:?}");
    assert!(store.outbox_items().unwrap().is_empty());
    let log = store
        .notifications(
            now - chrono::Duration::hours(1),
            now + chrono::Duration::hours(1),
        )
        .unwrap();
    assert!(!log[0].delivered);
    assert!(
        log[0].detail["error"].as_str().unwrap().contains("400"),
        "{:?}",
        log[0].detail
    );
}

mod sns {
    //! SNS `Publish` against moto, read back from moto's state and through an SQS FIFO
    //! subscription (which applies the deduplication ids).

    use super::*;
    use burnwatch::config::SnsConfig;
    use burnwatch::notify::sns::SnsNotifier;

    async fn sns_client(moto: &str) -> aws_sdk_sns::Client {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto)
            .region(aws_config::Region::new("us-east-1"))
            .test_credentials()
            .load()
            .await;
        aws_sdk_sns::Client::new(&sdk)
    }

    async fn notifier(moto: &str, topic_arn: &str) -> Arc<dyn Notifier> {
        // The production path: region from config, credentials from the default chain
        // (AWS_* variables exported by the moto service script).
        Arc::new(
            SnsNotifier::from_config(&SnsConfig {
                topic_arn: topic_arn.into(),
                region: "us-east-1".into(),
                endpoint_url: Some(moto.into()),
                timeout: burnwatch::spec::Duration::from_secs(10),
            })
            .await,
        )
    }

    /// `sent_notifications` of the topic: `[message_id, message, subject, attributes, group_id]`.
    async fn sent(moto: &str, topic_arn: &str) -> Vec<serde_json::Value> {
        let data: serde_json::Value = reqwest::get(format!("{moto}/moto-api/data.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let topics = data["sns"]["Topic"].as_array().unwrap();
        let topic = topics
            .iter()
            .find(|t| t["arn"] == topic_arn)
            .unwrap_or_else(|| panic!("topic {topic_arn} not in moto state"));
        topic["sent_notifications"].as_array().unwrap().clone()
    }

    /// Call the SQS JSON API of moto directly (no SQS SDK in the dependencies).
    async fn sqs(moto: &str, action: &str, body: serde_json::Value) -> serde_json::Value {
        let resp = reqwest::Client::new()
            .post(moto)
            .header("X-Amz-Target", format!("AmazonSQS.{action}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "SQS {action}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    #[tokio::test]
    async fn standard_topic_gets_subject_attributes_and_a_truncated_large_body() {
        let moto = service("BURNWATCH_TEST_MOTO_SNS_URL");
        let client = sns_client(&moto).await;
        let name = unique_slo("sns-std");
        let arn = client
            .create_topic()
            .name(&name)
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("h.sqlite")).unwrap());
        let outbox = outbox(store.clone(), vec![notifier(&moto, &arn).await]);
        let now = Utc::now();
        let fire = page(
            &name,
            State::Firing,
            now,
            now + chrono::Duration::minutes(4),
        );
        let mut resolve = page(
            &name,
            State::Resolved,
            now,
            now + chrono::Duration::minutes(9),
        );
        // A huge annotation: SNS takes 256 KiB at most.
        resolve
            .annotations
            .insert("description".into(), "é".repeat(200_000));
        outbox.enqueue(&[fire], now).unwrap();
        outbox.enqueue(&[resolve], now).unwrap();
        let mut delivered = 0;
        for _ in 0..3 {
            delivered += outbox.deliver_due(Utc::now()).await.unwrap().delivered;
        }
        assert_eq!(delivered, 2);

        let msgs = sent(&moto, &arn).await;
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        let (body, subject, attrs) = (&msgs[0][1], &msgs[0][2], &msgs[0][3]);
        assert_eq!(
            subject.as_str().unwrap(),
            format!("[FIRING:page] MassSpecAPIAvailability {name}")
                .chars()
                .take(99)
                .collect::<String>()
        );
        let body = body.as_str().unwrap();
        assert!(
            body.starts_with("FIRING (page): MassSpecAPIAvailability\n"),
            "{body}"
        );
        assert!(
            body.contains("Runbook: runbooks/api-availability.md"),
            "{body}"
        );
        assert!(body.contains("burn_rate_5m: 31.2"), "{body}");
        let attr = |a: &serde_json::Value, k: &str| a[k]["Value"].as_str().map(str::to_string);
        assert_eq!(attr(attrs, "severity").as_deref(), Some("page"));
        assert_eq!(attr(attrs, "state").as_deref(), Some("firing"));
        assert_eq!(attr(attrs, "slo_id").as_deref(), Some(name.as_str()));
        assert_eq!(attr(attrs, "truncated"), None);
        assert!(msgs[0][4].is_null(), "no group id on a standard topic");

        let (body, attrs) = (msgs[1][1].as_str().unwrap(), &msgs[1][3]);
        assert_eq!(attr(attrs, "state").as_deref(), Some("resolved"));
        assert_eq!(attr(attrs, "truncated").as_deref(), Some("true"));
        assert!(body.len() <= 262_144, "{}", body.len());
        assert!(
            body.ends_with(" bytes omitted]"),
            "{}",
            &body[body.len() - 80..]
        );
    }

    #[tokio::test]
    async fn fifo_topic_keeps_the_resolve_and_drops_a_redelivered_page() {
        let moto = service("BURNWATCH_TEST_MOTO_SNS_URL");
        let client = sns_client(&moto).await;
        let name = unique_slo("sns-fifo");
        let arn = client
            .create_topic()
            .name(format!("{name}.fifo"))
            .attributes("FifoTopic", "true")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue = sqs(
            &moto,
            "CreateQueue",
            serde_json::json!({"QueueName": format!("{name}.fifo"), "Attributes": {"FifoQueue": "true"}}),
        )
        .await["QueueUrl"]
            .as_str()
            .unwrap()
            .to_string();
        let queue_arn = sqs(
            &moto,
            "GetQueueAttributes",
            serde_json::json!({"QueueUrl": queue, "AttributeNames": ["QueueArn"]}),
        )
        .await["Attributes"]["QueueArn"]
            .as_str()
            .unwrap()
            .to_string();
        client
            .subscribe()
            .topic_arn(&arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .send()
            .await
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("h.sqlite")).unwrap());
        let outbox = outbox(store.clone(), vec![notifier(&moto, &arn).await]);
        let now = Utc::now();
        let fire = page(
            &name,
            State::Firing,
            now,
            now + chrono::Duration::minutes(4),
        );
        // Firing, resolved within the 5-minute dedup window, then the firing message again
        // (a crash after SNS accepted it but before the outbox row was deleted).
        for n in [
            fire.clone(),
            page(
                &name,
                State::Resolved,
                now,
                now + chrono::Duration::seconds(30),
            ),
            fire,
        ] {
            outbox.enqueue(&[n], Utc::now()).unwrap();
            assert_eq!(outbox.deliver_due(Utc::now()).await.unwrap().delivered, 1);
        }

        let msgs = sent(&moto, &arn).await;
        assert_eq!(msgs.len(), 3, "moto records every Publish");
        assert!(
            msgs.iter().all(|m| m[4] == name.as_str()),
            "group id = SLO: {msgs:#?}"
        );

        let received = sqs(
            &moto,
            "ReceiveMessage",
            serde_json::json!({
                "QueueUrl": queue,
                "MaxNumberOfMessages": 10,
                "MessageSystemAttributeNames": ["All"],
                "AttributeNames": ["All"],
            }),
        )
        .await;
        let messages = received["Messages"].as_array().cloned().unwrap_or_default();
        let states: Vec<String> = messages
            .iter()
            .map(|m| {
                let envelope: serde_json::Value =
                    serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
                envelope["MessageAttributes"]["state"]["Value"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(states, ["firing", "resolved"], "{received:#?}");
        let dedup: Vec<&str> = messages
            .iter()
            .map(|m| m["Attributes"]["MessageDeduplicationId"].as_str().unwrap())
            .collect();
        assert_ne!(dedup[0], dedup[1]);
        assert!(dedup[0].contains("-firing-") && dedup[1].contains("-resolved-"));
    }
}
