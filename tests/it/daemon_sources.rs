//! `burnwatch run` on live sources: CloudWatch and RDS in moto, PromQL in a real
//! Prometheus. An ALB incident and a Django 5XX incident seeded two hours deep must be
//! backfilled, evaluated and paged by the daemon, the sources' cost and RDS state must be
//! on `/metrics`, and `run --record` must write a file that `burnwatch replay` turns into
//! the same pages through the same plugin code.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use aws_sdk_batch::types::JobStatus;
use burnwatch::source::align_down;
use chrono::{DateTime, TimeDelta, Utc};

use crate::procs::{Burnwatch, eventually, free_port, paging_slos};
use crate::sources::prometheus::start_prometheus;
use crate::sources::stepfunctions_batch_rds::{batch_queue, count, submit};
use crate::sources::{moto, put, unique};
use crate::support::{burnwatch, service};

const ALB: &str = "AWS/ApplicationELB";
const API: &str = "it-api-availability";
const WEB: &str = "it-web-availability";
const RAW: &str = "it-web-availability-raw";

fn spec(lb: &str) -> String {
    format!(
        r#"version: "prometheus/v1"
service: "it"
slos:
  - name: api-availability
    objective: 99.9
    sli:
      plugin:
        id: burnwatch/cloudwatch/alb-availability/v1
        options:
          load_balancer: {lb}
    alerting:
      name: ItApiAvailability
      page_alert: {{}}
      ticket_alert: {{}}
  - name: web-availability
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(django_http_responses_total_by_status_total{{job="it-web",status=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(django_http_responses_total_by_status_total{{job="it-web"}}[{{{{.window}}}}]))
    alerting:
      name: ItWebAvailability
      page_alert: {{}}
      ticket_alert: {{}}
  - name: web-availability-raw
    objective: 99.5
    sli:
      raw:
        error_ratio_query: sum(rate(django_http_responses_total_by_status_total{{job="it-web",status=~"5.."}}[{{{{.window}}}}])) / sum(rate(django_http_responses_total_by_status_total{{job="it-web"}}[{{{{.window}}}}]))
    alerting:
      name: ItWebAvailabilityRaw
      page_alert: {{}}
      ticket_alert: {{}}
"#
    )
}

/// Two hours of ALB traffic ending two minutes ago: 1,000 requests a minute, 0.1 % target
/// 5XX, then 10 % for the last 40 minutes.
async fn seed_alb(cw: &aws_sdk_cloudwatch::Client, now: DateTime<Utc>) -> String {
    let lb = format!("app/{}/0123456789abcdef", unique("bwd"));
    let d = [("LoadBalancer", lb.as_str())];
    let minutes: Vec<DateTime<Utc>> = (3..=120)
        .rev()
        .map(|m| now - TimeDelta::minutes(m))
        .collect();
    let requests: Vec<_> = minutes.iter().map(|t| (*t, 1000.0)).collect();
    let errors: Vec<_> = minutes
        .iter()
        .map(|t| {
            (
                *t,
                if *t >= now - TimeDelta::minutes(40) {
                    100.0
                } else {
                    1.0
                },
            )
        })
        .collect();
    put(cw, ALB, "RequestCount", &d, &requests).await;
    put(cw, ALB, "HTTPCode_Target_5XX_Count", &d, &errors).await;
    lb
}

/// Two hours of a Django counter scraped every 15 s: 4 req/s, errors 0.02/s, then 1/s for
/// the last 40 minutes.
fn django_series(now: DateTime<Utc>) -> String {
    let base = now - TimeDelta::minutes(120);
    let incident = now - TimeDelta::minutes(40);
    let mut om = String::from("# TYPE django_http_responses_total_by_status counter\n");
    for (status, calm, during) in [("200", 60.0, 45.0), ("500", 0.3, 15.0)] {
        let (mut t, mut v) = (base, 0.0);
        while t <= now {
            let _ = writeln!(
                om,
                "django_http_responses_total_by_status_total{{job=\"it-web\",status=\"{status}\"}} {v} {}",
                t.timestamp()
            );
            v += if t < incident { calm } else { during };
            t += TimeDelta::seconds(15);
        }
    }
    om.push_str("# EOF\n");
    om
}

fn write_config(
    dir: &Path,
    moto_url: &str,
    prom_url: &str,
    db: &str,
    queue: &str,
) -> std::path::PathBuf {
    let file = dir.join("burnwatch.yaml");
    std::fs::write(
        &file,
        format!(
            "specs: [spec.yaml]\neval_interval: 1s\nstorage: {{path: history.sqlite}}\n\
             sources:\n\
             \x20 cloudwatch: {{endpoint_url: '{moto_url}', region: us-east-1, backfill: 3h, delay: 1m, timeout: 20s}}\n\
             \x20 prometheus: {{url: '{prom_url}', backfill: 3h}}\n\
             \x20 rds: {{endpoint_url: '{moto_url}', region: us-east-1, instances: [{db}], timeout: 20s}}\n\
             \x20 batch: {{endpoint_url: '{moto_url}', region: us-east-1, health_queues: [{queue}], timeout: 20s}}\n"
        ),
    )
    .unwrap();
    file
}

#[tokio::test]
async fn live_sources_backfill_page_export_and_record_a_replayable_incident() {
    let moto_url = service("BURNWATCH_TEST_MOTO_URL");
    let c = moto().await;
    let now = align_down(Utc::now(), 60);
    let lb = seed_alb(&c.cloudwatch, now).await;
    let db = unique("bwd-db");
    c.rds
        .create_db_instance()
        .db_instance_identifier(&db)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("burnwatch")
        .master_user_password("not-a-real-password")
        .allocated_storage(20)
        .send()
        .await
        .expect("CreateDBInstance");
    let prom = start_prometheus(&django_series(now)).await;
    // A Batch queue whose three jobs succeeded (moto runs them without Docker).
    let (queue, jd) = batch_queue(&c, &moto_url).await;
    submit(&c, &queue, &jd, 3).await;
    eventually(Duration::from_secs(30), "the jobs succeeded", || {
        let (c, queue) = (&c, &queue);
        async move { (count(c, queue, JobStatus::Succeeded).await == 3).then_some(()) }
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.yaml"), spec(&lb)).unwrap();
    let config = write_config(dir.path(), &moto_url, &prom.url, &db, &queue);
    let record = dir.path().join("record.jsonl");
    let record_arg = record.to_str().unwrap();
    let mut bw =
        Burnwatch::start_with(&config, free_port(), dir.path(), &["--record", record_arg]).await;

    let pages = eventually(Duration::from_secs(90), "the three pages firing", || {
        let url = bw.url.clone();
        async move {
            let p = paging_slos(&url).await;
            [API, WEB, RAW]
                .iter()
                .all(|s| p.contains(&s.to_string()))
                .then_some(p)
        }
    })
    .await;
    assert_eq!(pages.len(), 3, "{pages:?}\n{}", bw.log());

    let metrics = reqwest::get(format!("{}/metrics", bw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "burnwatch_source_api_calls_total{source=\"cloudwatch\",api=\"GetMetricData\"}",
        "burnwatch_source_api_calls_total{source=\"prometheus\",api=\"query_range\"}",
        "burnwatch_cloudwatch_metrics_requested_total{source=\"cloudwatch\"}",
        &format!("burnwatch_rds_instance_status{{instance=\"{db}\",status=\"available\"}} 1"),
        &format!("slo:sli_error:ratio_rate1h{{sloth_id=\"{API}\""),
        &format!("burnwatch_batch_queue_read_ok{{queue=\"{queue}\"}} 1"),
        &format!("burnwatch_batch_jobs{{queue=\"{queue}\",status=\"SUCCEEDED\"}} 3"),
    ] {
        assert!(metrics.contains(expected), "{expected} missing:\n{metrics}");
    }
    // The 1h error ratio the daemon computed from CloudWatch: 40 minutes at 10 %, the rest
    // at 0.1 %, over the minutes the delay lets through.
    let ratio: f64 = metrics
        .lines()
        .find(|l| {
            l.starts_with("slo:sli_error:ratio_rate1h{")
                && l.contains(&format!("sloth_id=\"{API}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("1h ratio of the API SLO");
    assert!(
        (0.05..0.08).contains(&ratio),
        "1h error ratio {ratio} (expected about (40×100 + 18×1) / 58,000)"
    );

    // The raw SLI (the same ratio as one PromQL expression) agrees with the events SLI:
    // its per-minute samples are kept as ratios, never rounded to 0 or 1.
    let ratio_1h = |slo: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("slo:sli_error:ratio_rate1h{")
                    && l.contains(&format!("sloth_id=\"{slo}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("1h ratio of {slo}"))
    };
    let (events, raw) = (ratio_1h(WEB), ratio_1h(RAW));
    assert!(
        events > 0.05 && (raw - events).abs() < 0.2 * events,
        "raw 1h ratio {raw} vs events {events}"
    );

    bw.signal("TERM");
    assert!(
        bw.wait(Duration::from_secs(30)).await.success(),
        "{}",
        bw.log()
    );

    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(
        recorded.contains(&format!("\"LoadBalancer\":\"{lb}\""))
            && recorded.contains("\"metric\":\"HTTPCode_Target_5XX_Count\""),
        "CloudWatch datapoints recorded"
    );
    assert!(
        recorded.contains(&format!("\"slo_id\":\"{WEB}\"")),
        "PromQL SLO events recorded"
    );
    assert!(
        recorded
            .lines()
            .any(|l| l.contains(&format!("\"slo_id\":\"{RAW}\"")) && l.contains("error_ratio")),
        "raw SLI samples recorded as error_ratio lines"
    );

    // The recording replays to the same pages through the same plugin code.
    let out = burnwatch()
        .args(["replay", "--json", "--spec"])
        .arg(dir.path().join("spec.yaml"))
        .arg("--data")
        .arg(&record)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for slo in [API, WEB, RAW] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(&format!("\"slo_id\":\"{slo}\""))
                    && l.contains("\"severity\":\"page\"")
                    && l.contains("\"state\":\"firing\"")),
            "replay pages {slo}:\n{stdout}"
        );
    }
}

#[test]
fn a_bad_source_section_exits_2_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &file,
        format!(
            "specs: [{}]\nsources:\n  cloudwatch:\n    regoin: eu-west-1\n  rds: {{}}\n",
            crate::support::repo().join("slo-specs").display()
        ),
    )
    .unwrap();
    let out = burnwatch()
        .args(["run", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let f = file.display();
    assert!(
        stderr.contains(&format!("{f}:4:5: unknown field `regoin`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{f}:5:8: missing required field `instances`")),
        "{stderr}"
    );
}

/// The README's first command: the bundled recording feeds every SLO of `slo-specs/`
/// (none stays `no_data`), and the API and web front end page at the first evaluations.
#[tokio::test]
async fn the_demo_recording_feeds_every_slo_and_pages() {
    let repo = crate::support::repo();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("burnwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "specs: [{}]\neval_interval: 1s\nstorage: {{path: history.sqlite}}\n\
             sources:\n  replay: {{file: {}, loop: true}}\n",
            repo.join("slo-specs").display(),
            repo.join("examples/demo/incident.jsonl").display()
        ),
    )
    .unwrap();
    let bw = Burnwatch::start(&config, free_port(), dir.path()).await;
    let pages = eventually(Duration::from_secs(30), "demo pages", || {
        let url = bw.url.clone();
        async move {
            let p = paging_slos(&url).await;
            (p.len() >= 2).then_some(p)
        }
    })
    .await;
    for slo in ["mass-spec-api-availability", "mass-spec-web-availability"] {
        assert!(pages.iter().any(|p| p == slo), "{slo} pages: {pages:?}");
    }
    let body: serde_json::Value = reqwest::get(format!("{}/api/v1/slos", bw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slos = body["slos"].as_array().expect("slos");
    assert_eq!(slos.len(), 6, "{body}");
    for s in slos {
        assert_eq!(s["no_data"], false, "{} has no data in the demo", s["id"]);
    }
}
