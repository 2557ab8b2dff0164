//! The CloudWatch source against moto: every CloudWatch-backed plugin computes the SLI
//! from seeded metrics, shared metrics are fetched once, ticks are incremental and late
//! datapoints overwrite their buckets, the backfill switches to 5-minute data past 15 days,
//! and a recorded run replays to the same events.

use burnwatch::replay::record::{Record, read};
use burnwatch::source::batch::detect_native_metrics;
use burnwatch::source::cloudwatch::CloudWatchSource;
use burnwatch::source::cloudwatch::planner::{cost, plan_range, tick_range};
use burnwatch::source::record::{Recorder, events_from_datapoints};
use burnwatch::source::{CorrectionKind, PollReport, Source, SourceBatch, delta};
use burnwatch::spec::{Duration, Slo};
use chrono::{DateTime, TimeDelta, Utc};

use super::{covered, cw_settings, events_of, moto, plugin, plugin_slo, put, this_minute, unique};

const ALB: &str = "AWS/ApplicationELB";

async fn poll(src: &mut CloudWatchSource, now: DateTime<Utc>) -> (SourceBatch, PollReport) {
    let mut batch = SourceBatch::default();
    let report = src.poll(now, &mut batch).await;
    (batch, report)
}

fn no_batch(_: &str) -> bool {
    false
}

/// Seeds an ALB incident and returns (load balancer, t0). Minutes after t0:
/// 0: 100 requests, 2 target 5XX, 1 ELB 5XX, 7 target 4XX; 1: no traffic;
/// 2: total outage — no target could take a request: 50 ELB 5XX, all 503, no RequestCount;
/// 3: 10 requests but 12 ELB 5XX (errors above total).
async fn seed_alb(cw: &aws_sdk_cloudwatch::Client, t0: DateTime<Utc>) -> String {
    let lb = format!("app/{}/0123456789abcdef", unique("alb"));
    let d = [("LoadBalancer", lb.as_str())];
    let m = |n| t0 + TimeDelta::minutes(n);
    put(cw, ALB, "RequestCount", &d, &[(m(0), 100.0), (m(3), 10.0)]).await;
    put(cw, ALB, "HTTPCode_Target_5XX_Count", &d, &[(m(0), 2.0)]).await;
    put(cw, ALB, "HTTPCode_Target_4XX_Count", &d, &[(m(0), 7.0)]).await;
    put(
        cw,
        ALB,
        "HTTPCode_ELB_5XX_Count",
        &d,
        &[(m(0), 1.0), (m(2), 50.0), (m(3), 12.0)],
    )
    .await;
    put(cw, ALB, "HTTPCode_ELB_503_Count", &d, &[(m(2), 50.0)]).await;
    lb
}

#[tokio::test]
async fn alb_availability_outage_dedup_and_late_data() {
    let c = moto().await;
    let now = this_minute();
    let t0 = now - TimeDelta::minutes(30);
    let lb = seed_alb(&c.cloudwatch, t0).await;
    let alb = |four: &str| {
        plugin(
            "burnwatch/cloudwatch/alb-availability/v1",
            &[("load_balancer", &lb), ("count_4xx_as_errors", four)],
        )
    };
    let slos = [
        plugin_slo("api", alb("false")),
        plugin_slo("api-copy", alb("false")),
        plugin_slo("api-4xx", alb("true")),
    ];
    let mut src = CloudWatchSource::new(
        c.cloudwatch.clone(),
        &slos,
        &no_batch,
        Duration::from_days(30),
        cw_settings(),
    );
    // Two SLOs share the same four metrics; the 4XX variant adds one.
    assert_eq!(src.plan().queries.len(), 5);

    let (batch, report) = poll(&mut src, now).await;
    assert_eq!(
        report.api_calls.get("GetMetricData"),
        Some(&1),
        "{report:?}"
    );
    assert_eq!(report.metrics_requested, 5);
    assert_eq!(report.failures, 0);
    let m = |n| t0 + TimeDelta::minutes(n);
    for slo in ["api", "api-copy"] {
        let ev = events_of(&batch, slo);
        assert_eq!(ev.get(&m(0)), Some(&(97.0, 100.0)), "{slo}: {ev:?}");
        // A total outage is 100 % errors, never "no traffic".
        assert_eq!(ev.get(&m(2)), Some(&(0.0, 50.0)));
        // Errors above total: the total is raised to the errors.
        assert_eq!(ev.get(&m(3)), Some(&(0.0, 12.0)));
        // No traffic: covered, no events.
        assert!(!ev.contains_key(&m(1)) && covered(&batch, slo, m(1)));
        assert_eq!(ev.len(), 3);
    }
    assert_eq!(
        events_of(&batch, "api-4xx").get(&m(0)),
        Some(&(90.0, 100.0))
    );
    let corr: Vec<_> = batch
        .corrections
        .iter()
        .filter(|c| c.slo_id == "api")
        .collect();
    assert_eq!(corr.len(), 1);
    assert_eq!(
        (corr[0].kind, corr[0].count, corr[0].first_bucket),
        (CorrectionKind::ErrorsAboveTotal, 1, m(3))
    );
    assert!(batch.no_data.is_empty(), "{:?}", batch.no_data);

    // Same minute again: nothing new is complete, no call at all.
    let (_, again) = poll(&mut src, now + TimeDelta::seconds(30)).await;
    assert_eq!(again.total_calls(), 0);

    // Late data: 50 more requests land in the last complete minute, and a new minute
    // arrives. The next tick re-reads the overlap and overwrites that bucket.
    let last = now - TimeDelta::minutes(3);
    let d = [("LoadBalancer", lb.as_str())];
    put(&c.cloudwatch, ALB, "RequestCount", &d, &[(last, 20.0)]).await;
    let (batch, _) = poll(&mut src, now + TimeDelta::minutes(1)).await;
    assert_eq!(events_of(&batch, "api").get(&last), Some(&(20.0, 20.0)));
    put(
        &c.cloudwatch,
        ALB,
        "RequestCount",
        &d,
        &[(last, 50.0), (now - TimeDelta::minutes(1), 5.0), (now, 9.0)],
    )
    .await;
    let (batch, report) = poll(&mut src, now + TimeDelta::minutes(2)).await;
    let (start, end) = report.range.expect("a range was read");
    assert_eq!((start, end), (now - TimeDelta::minutes(6), now));
    // (1 new minute + 5 overlap) × 5 queries.
    assert_eq!(report.api_calls.get("GetMetricData"), Some(&1));
    let ev = events_of(&batch, "api");
    assert_eq!(
        ev.get(&last),
        Some(&(70.0, 70.0)),
        "late datapoint overwrites: {ev:?}"
    );
    assert_eq!(ev.get(&(now - TimeDelta::minutes(1))), Some(&(5.0, 5.0)));
    assert_eq!(
        ev.get(&now),
        None,
        "minutes behind the delay are not read yet"
    );
}

#[tokio::test]
async fn s3_ratio_stepfunctions_and_native_batch_metrics() {
    let c = moto().await;
    let now = this_minute();
    let t = now - TimeDelta::minutes(20);
    let cw = &c.cloudwatch;
    // S3 request metrics on the uploads filter.
    let bucket = unique("uploads");
    let s3d = [("BucketName", bucket.as_str()), ("FilterId", "uploads")];
    put(cw, "AWS/S3", "PutRequests", &s3d, &[(t, 200.0)]).await;
    put(cw, "AWS/S3", "5xxErrors", &s3d, &[(t, 4.0)]).await;
    put(cw, "AWS/S3", "4xxErrors", &s3d, &[(t, 10.0)]).await;
    // Application metrics published by the API.
    let ns = unique("MassSpec/API");
    let svc = unique("api");
    let svc_dim = format!("Service={svc}");
    let ad = [("Service", svc.as_str())];
    put(cw, &ns, "UploadsAttempted", &ad, &[(t, 40.0)]).await;
    put(cw, &ns, "UploadsFailed", &ad, &[(t, 3.0)]).await;
    put(cw, &ns, "UploadsSucceeded", &ad, &[(t, 36.0)]).await;
    // Step Functions execution outcomes.
    let arn = format!(
        "arn:aws:states:us-east-1:123456789012:stateMachine:{}",
        unique("sm")
    );
    let sd = [("StateMachineArn", arn.as_str())];
    for (metric, v) in [
        ("ExecutionsSucceeded", 8.0),
        ("ExecutionsFailed", 1.0),
        ("ExecutionsTimedOut", 1.0),
    ] {
        put(cw, "AWS/States", metric, &sd, &[(t, v)]).await;
    }
    // Native AWS/Batch metrics exist for one queue only.
    let native_q = unique("q-native");
    let api_q = unique("q-api");
    let bd = [("JobQueueName", native_q.as_str())];
    put(cw, "AWS/Batch", "JobsMovedToSucceeded", &bd, &[(t, 9.0)]).await;
    put(cw, "AWS/Batch", "JobsMovedToFailed", &bd, &[(t, 1.0)]).await;

    let slos = [
        plugin_slo(
            "up",
            plugin(
                "burnwatch/cloudwatch/s3-requests/v1",
                &[("bucket", &bucket), ("filter_id", "uploads")],
            ),
        ),
        plugin_slo(
            "up-4xx",
            plugin(
                "burnwatch/cloudwatch/s3-requests/v1",
                &[
                    ("bucket", &bucket),
                    ("filter_id", "uploads"),
                    ("count_4xx_as_errors", "true"),
                ],
            ),
        ),
        plugin_slo(
            "ratio",
            plugin(
                "burnwatch/cloudwatch/metric-ratio/v1",
                &[
                    ("namespace", &ns),
                    ("error_metrics", "UploadsFailed"),
                    ("total_metric", "UploadsAttempted"),
                    ("dimensions", &svc_dim),
                ],
            ),
        ),
        plugin_slo(
            "ratio-good",
            plugin(
                "burnwatch/cloudwatch/metric-ratio/v1",
                &[
                    ("namespace", &ns),
                    ("error_metrics", "UploadsFailed"),
                    ("good_metrics", "UploadsSucceeded"),
                    ("dimensions", &svc_dim),
                ],
            ),
        ),
        plugin_slo(
            "sfn",
            plugin(
                "burnwatch/stepfunctions/success/v1",
                &[("state_machine_arn", &arn)],
            ),
        ),
        plugin_slo(
            "batch-native",
            plugin(
                "burnwatch/batch/job-success/v1",
                &[("job_queue", &native_q)],
            ),
        ),
        plugin_slo(
            "batch-api",
            plugin("burnwatch/batch/job-success/v1", &[("job_queue", &api_q)]),
        ),
    ];
    let mut detect = PollReport::default();
    let native = detect_native_metrics(
        cw,
        &[native_q.clone(), api_q.clone()],
        &super::fast_retry(),
        &mut detect,
    )
    .await;
    assert_eq!(
        native.into_iter().collect::<Vec<_>>(),
        vec![native_q.clone()]
    );
    let is_native = |q: &str| q == native_q;
    let mut src = CloudWatchSource::new(
        cw.clone(),
        &slos,
        &is_native,
        Duration::from_days(30),
        cw_settings(),
    );
    assert!(
        !src.slo_ids().contains(&"batch-api".to_string()),
        "API-mode queues are not CloudWatch's"
    );
    let (batch, report) = poll(&mut src, now).await;
    assert_eq!(report.failures, 0);
    let at = |slo| events_of(&batch, slo).get(&t).copied();
    assert_eq!(at("up"), Some((196.0, 200.0)));
    assert_eq!(at("up-4xx"), Some((186.0, 200.0)));
    assert_eq!(at("ratio"), Some((37.0, 40.0)));
    assert_eq!(at("ratio-good"), Some((36.0, 39.0)));
    assert_eq!(at("sfn"), Some((8.0, 10.0)));
    assert_eq!(at("batch-native"), Some((9.0, 10.0)));
}

#[tokio::test]
async fn backfill_reads_five_minute_data_past_fifteen_days() {
    let c = moto().await;
    let now = this_minute();
    let lb = format!("app/{}/0123456789abcdef", unique("old"));
    let d = [("LoadBalancer", lb.as_str())];
    let old = burnwatch::source::align_down(now - TimeDelta::days(20), 300);
    let recent = now - TimeDelta::hours(2);
    put(
        &c.cloudwatch,
        ALB,
        "RequestCount",
        &d,
        &[
            (old, 10.0),
            (old + TimeDelta::minutes(2), 30.0),
            (recent, 5.0),
        ],
    )
    .await;
    put(
        &c.cloudwatch,
        ALB,
        "HTTPCode_Target_5XX_Count",
        &d,
        &[(old + TimeDelta::minutes(4), 4.0)],
    )
    .await;
    let slos = [plugin_slo(
        "old",
        plugin(
            "burnwatch/cloudwatch/alb-availability/v1",
            &[("load_balancer", &lb)],
        ),
    )];
    let mut settings = cw_settings();
    settings.backfill = None; // the SLO period: 30 days
    let mut src = CloudWatchSource::new(
        c.cloudwatch.clone(),
        &slos,
        &no_batch,
        Duration::from_days(30),
        settings.clone(),
    );
    let (batch, report) = poll(&mut src, now).await;
    // One call per planned call: no pagination, no retries, each ≤ 100,800 datapoints.
    let (start, end) = tick_range(
        None,
        now,
        delta(settings.delay),
        delta(settings.overlap),
        TimeDelta::days(30),
        60,
    )
    .unwrap();
    let planned = cost(&plan_range(4, start, end, now, &settings.limits));
    assert_eq!(report.api_calls.get("GetMetricData"), Some(&planned.calls));
    assert!(planned.datapoints / planned.calls <= 100_800);
    let ev: Vec<_> = batch.events.iter().filter(|e| e.slo_id == "old").collect();
    let old_ev: Vec<_> = ev.iter().filter(|e| e.bucket_start == old).collect();
    assert_eq!(old_ev.len(), 1, "{ev:?}");
    assert_eq!(
        (old_ev[0].bucket_secs, old_ev[0].good, old_ev[0].total),
        (300, 36.0, 40.0)
    );
    let recent_ev: Vec<_> = ev.iter().filter(|e| e.bucket_start == recent).collect();
    assert_eq!((recent_ev[0].bucket_secs, recent_ev[0].total), (60, 5.0));
    assert_eq!(src.complete_until(), Some(end));
}

#[tokio::test]
async fn recorded_run_replays_to_the_same_events() {
    let c = moto().await;
    let now = this_minute();
    let t0 = now - TimeDelta::minutes(30);
    let lb = seed_alb(&c.cloudwatch, t0).await;
    let slos: Vec<Slo> = vec![plugin_slo(
        "rec",
        plugin(
            "burnwatch/cloudwatch/alb-availability/v1",
            &[("load_balancer", &lb)],
        ),
    )];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("record.jsonl");
    let recorder = Recorder::open(&file).unwrap();
    let mut src = CloudWatchSource::new(
        c.cloudwatch.clone(),
        &slos,
        &no_batch,
        Duration::from_days(30),
        cw_settings(),
    )
    .with_recorder(recorder);
    let (live, _) = poll(&mut src, now).await;
    // Read back with the reader `burnwatch replay` and `sources.replay` use.
    let lines = read(std::io::BufReader::new(std::fs::File::open(&file).unwrap())).unwrap();
    let points: Vec<_> = lines
        .iter()
        .filter_map(|l| match &l.record {
            Record::Datapoint(d) if d.period == 60 => Some(d.clone()),
            _ => None,
        })
        .collect();
    // Five datapoints on four series were seeded; nothing else is recorded.
    assert_eq!((lines.len(), points.len()), (7, 7));
    let replayed = events_from_datapoints(&slos, &points);
    assert_eq!(events_of(&replayed, "rec"), events_of(&live, "rec"));
    assert_eq!(replayed.corrections.len(), 1);
}
