//! What moto cannot do, with `aws-smithy-mocks` (protocol-independent interceptors on the
//! real SDK clients): GetMetricData pagination and `PartialData`, per-query errors,
//! throttling and retries, the 100,800-datapoint split of a backfill, ListExecutions
//! pagination, and RDS failover events.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatch::config::retry::RetryConfig;
use aws_sdk_cloudwatch::error::ErrorMetadata;
use aws_sdk_cloudwatch::operation::get_metric_data::{
    GetMetricDataError, GetMetricDataInput, GetMetricDataOutput,
};
use aws_sdk_cloudwatch::types::{MessageData, MetricDataResult, StatusCode};
use aws_smithy_mocks::{MockResponse, RuleMode, mock, mock_client};
use burnwatch::source::aws::{to_chrono, to_smithy};
use burnwatch::source::cloudwatch::CloudWatchSource;
use burnwatch::source::cloudwatch::planner::{cost, plan_range, tick_range};
use burnwatch::source::rds::{RdsEventKind, RdsMonitor, RdsSettings};
use burnwatch::source::stepfunctions::{LatencySettings, StepFunctionsLatencySource};
use burnwatch::source::{PollReport, Source, SourceBatch, delta};
use burnwatch::spec::{Duration, Slo};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::{cw_settings, events_of, fast_retry, plugin, plugin_slo};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

fn alb_slo(id: &str, lb: &str) -> Slo {
    plugin_slo(
        id,
        plugin(
            "burnwatch/cloudwatch/alb-availability/v1",
            &[("load_balancer", lb)],
        ),
    )
}

/// The query id for `metric` of `lb` in a request (ids are assigned by the planner).
fn id_of(req: &GetMetricDataInput, lb: &str, metric: &str) -> String {
    req.metric_data_queries()
        .iter()
        .find(|q| {
            let m = q.metric_stat().and_then(|s| s.metric());
            m.and_then(|m| m.metric_name()) == Some(metric)
                && m.is_some_and(|m| m.dimensions().iter().any(|d| d.value() == Some(lb)))
        })
        .and_then(|q| q.id())
        .expect("query in request")
        .to_string()
}

fn result(id: &str, points: &[(DateTime<Utc>, f64)], status: StatusCode) -> MetricDataResult {
    let mut r = MetricDataResult::builder().id(id).status_code(status);
    for (t, v) in points {
        r = r.timestamps(to_smithy(*t)).values(*v);
    }
    r.build()
}

/// Every query of the request answered Complete with no datapoints.
fn empty(req: &GetMetricDataInput) -> GetMetricDataOutput {
    let mut out = GetMetricDataOutput::builder();
    for q in req.metric_data_queries() {
        out = out.metric_data_results(result(
            q.id().unwrap_or_default(),
            &[],
            StatusCode::Complete,
        ));
    }
    out.build()
}

fn throttling() -> GetMetricDataError {
    GetMetricDataError::generic(
        ErrorMetadata::builder()
            .code("Throttling")
            .message("Rate exceeded")
            .build(),
    )
}

macro_rules! cw_client {
    ($($rule:expr),+) => {
        mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[$($rule),+], |c| c.retry_config(RetryConfig::disabled()))
    };
}

async fn poll(src: &mut CloudWatchSource, at: DateTime<Utc>) -> (SourceBatch, PollReport) {
    let mut batch = SourceBatch::default();
    let report = src.poll(at, &mut batch).await;
    (batch, report)
}

fn source(client: aws_sdk_cloudwatch::Client, slos: &[Slo]) -> CloudWatchSource {
    let mut settings = cw_settings();
    settings.backfill = Some(Duration::from_mins(10));
    CloudWatchSource::new(client, slos, &|_| false, Duration::from_days(30), settings)
}

#[tokio::test]
async fn next_token_pages_are_merged_by_id() {
    let m = |n| now() - TimeDelta::minutes(n);
    let rule =
        mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_response(move |req| {
            let (req5, e5, total) = (
                id_of(req, "lb-a", "RequestCount"),
                id_of(req, "lb-a", "HTTPCode_Target_5XX_Count"),
                GetMetricDataOutput::builder(),
            );
            MockResponse::Output(match req.next_token() {
                // Page 1: part of RequestCount, and the results in an order unlike the request.
                None => total
                    .metric_data_results(result(&req5, &[(m(10), 100.0)], StatusCode::PartialData))
                    .next_token("page-2")
                    .build(),
                // Page 2: the rest.
                Some(_) => total
                    .metric_data_results(result(&e5, &[(m(9), 3.0)], StatusCode::Complete))
                    .metric_data_results(result(&req5, &[(m(9), 50.0)], StatusCode::Complete))
                    .metric_data_results(result(
                        &id_of(req, "lb-a", "HTTPCode_ELB_5XX_Count"),
                        &[],
                        StatusCode::Complete,
                    ))
                    .metric_data_results(result(
                        &id_of(req, "lb-a", "HTTPCode_ELB_503_Count"),
                        &[],
                        StatusCode::Complete,
                    ))
                    .build(),
            })
        });
    let mut src = source(cw_client!(&rule), &[alb_slo("a", "lb-a")]);
    let (batch, report) = poll(&mut src, now()).await;
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(report.api_calls.get("GetMetricData"), Some(&2));
    let ev = events_of(&batch, "a");
    assert_eq!(ev.get(&m(10)), Some(&(100.0, 100.0)));
    assert_eq!(ev.get(&m(9)), Some(&(47.0, 50.0)));
    assert!(batch.no_data.is_empty());
}

#[tokio::test]
async fn partial_data_missing_results_and_query_errors_are_no_data_not_zero() {
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(|req| {
        let mut out = GetMetricDataOutput::builder();
        for q in req.metric_data_queries() {
            let id = q.id().unwrap_or_default();
            let lb = q
                .metric_stat()
                .and_then(|s| s.metric())
                .map(|m| m.dimensions()[0].value().unwrap_or_default().to_string())
                .unwrap_or_default();
            out = match lb.as_str() {
                // PartialData on the last page (no NextToken).
                "lb-partial" => out.metric_data_results(result(id, &[], StatusCode::PartialData)),
                // A per-query error with a message.
                "lb-error" => out.metric_data_results(
                    MetricDataResult::builder()
                        .id(id)
                        .status_code(StatusCode::InternalError)
                        .messages(
                            MessageData::builder()
                                .code("InternalError")
                                .value("stat failed")
                                .build(),
                        )
                        .build(),
                ),
                // No result at all for this id.
                "lb-missing" => out,
                _ => out.metric_data_results(result(id, &[], StatusCode::Complete)),
            };
        }
        out.build()
    });
    let slos = [
        alb_slo("partial", "lb-partial"),
        alb_slo("error", "lb-error"),
        alb_slo("missing", "lb-missing"),
        alb_slo("fine", "lb-fine"),
    ];
    let mut src = source(cw_client!(&rule), &slos);
    let (batch, report) = poll(&mut src, now()).await;
    let reason = |slo: &str| {
        batch
            .no_data
            .iter()
            .find(|n| n.slo_id == slo)
            .map(|n| n.reason.clone())
    };
    assert!(
        reason("partial").is_some_and(|r| r.contains("PartialData")),
        "{:?}",
        batch.no_data
    );
    assert!(reason("error").is_some_and(|r| r.contains("stat failed")));
    assert!(reason("missing").is_some_and(|r| r.contains("no result")));
    assert_eq!(reason("fine"), None);
    for slo in ["partial", "error", "missing"] {
        assert!(
            !batch.covered.iter().any(|c| c.slo_id == slo),
            "{slo} must not be covered (zero)"
        );
    }
    assert!(batch.covered.iter().any(|c| c.slo_id == "fine"));
    assert_eq!(report.failures, 1);
    // Nothing was complete: the next tick backfills the whole window again.
    assert_eq!(src.complete_until(), None);
    let (_, again) = poll(&mut src, now() + TimeDelta::minutes(1)).await;
    let (a, b) = again.range.unwrap();
    assert_eq!(b - a, TimeDelta::minutes(10));
}

#[tokio::test]
async fn throttling_and_5xx_are_retried_with_backoff() {
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .sequence()
        .error(throttling)
        .http_status(503, None)
        .output(|| {
            // The planner numbers the four ALB queries q0..q3.
            let mut out = GetMetricDataOutput::builder();
            for q in 0..4 {
                let points: &[(DateTime<Utc>, f64)] = if q == 2 {
                    &[(now() - TimeDelta::minutes(5), 10.0)]
                } else {
                    &[]
                };
                out =
                    out.metric_data_results(result(&format!("q{q}"), points, StatusCode::Complete));
            }
            out.build()
        })
        .build();
    let mut src = source(cw_client!(&rule), &[alb_slo("a", "lb-a")]);
    assert_eq!(src.plan().queries[2].metric, "RequestCount");
    let (batch, report) = poll(&mut src, now()).await;
    assert_eq!(rule.num_calls(), 3);
    assert_eq!((report.retries, report.throttled), (2, 1));
    assert_eq!(report.api_calls.get("GetMetricData"), Some(&3));
    assert_eq!(report.failures, 0);
    assert!(batch.no_data.is_empty(), "{:?}", batch.no_data);
    assert_eq!(
        events_of(&batch, "a").get(&(now() - TimeDelta::minutes(5))),
        Some(&(10.0, 10.0))
    );
}

#[tokio::test]
async fn persistent_throttling_marks_no_data_then_the_gap_is_refetched() {
    let throttle = Arc::new(AtomicBool::new(true));
    let t = throttle.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let rule =
        mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_response(move |req| {
            c2.fetch_add(1, Ordering::SeqCst);
            if t.load(Ordering::SeqCst) {
                MockResponse::Error(throttling())
            } else {
                MockResponse::Output(empty(req))
            }
        });
    let mut src = source(cw_client!(&rule), &[alb_slo("a", "lb-a")]);
    throttle.store(false, Ordering::SeqCst);
    let (_, first) = poll(&mut src, now()).await;
    let complete = src.complete_until().expect("first poll complete");
    assert_eq!(complete, first.range.unwrap().1);
    // The next tick is throttled on every attempt.
    throttle.store(true, Ordering::SeqCst);
    let before = calls.load(Ordering::SeqCst);
    let (batch, report) = poll(&mut src, now() + TimeDelta::minutes(1)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst) - before,
        3,
        "max_attempts of the test policy"
    );
    assert_eq!((report.failures, report.throttled), (1, 3));
    assert!(batch.events.is_empty() && batch.covered.is_empty());
    let gap = report.range.unwrap();
    assert_eq!(gap.0, complete - TimeDelta::minutes(5));
    assert_eq!((batch.no_data[0].from, batch.no_data[0].to), gap);
    assert!(
        batch.no_data[0].reason.contains("Throttling"),
        "{}",
        batch.no_data[0].reason
    );
    assert_eq!(
        src.complete_until(),
        Some(complete),
        "a failed tick does not advance"
    );
    // Recovered: the failed range is read again.
    throttle.store(false, Ordering::SeqCst);
    let (batch, report) = poll(&mut src, now() + TimeDelta::minutes(2)).await;
    assert_eq!(report.range.unwrap().0, gap.0);
    assert!(
        batch
            .covered
            .iter()
            .any(|c| c.from <= gap.0 && c.to >= gap.1)
    );
    assert_eq!(src.complete_until(), Some(report.range.unwrap().1));
}

/// (queries, start, end, period) of every GetMetricData request.
type Seen = Arc<Mutex<Vec<(usize, i64, i64, i32)>>>;

#[tokio::test]
async fn backfill_calls_stay_within_500_queries_and_100800_datapoints() {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(move |req| {
        let start = req.start_time().map(|t| t.secs()).unwrap_or_default();
        let end = req.end_time().map(|t| t.secs()).unwrap_or_default();
        let period = req.metric_data_queries()[0]
            .metric_stat()
            .and_then(|s| s.period())
            .unwrap_or_default();
        s2.lock()
            .unwrap()
            .push((req.metric_data_queries().len(), start, end, period));
        empty(req)
    });
    // 150 load balancers × 4 metrics = 600 distinct queries.
    let slos: Vec<Slo> = (0..150)
        .map(|i| alb_slo(&format!("s{i}"), &format!("lb-{i}")))
        .collect();
    let mut settings = cw_settings();
    settings.backfill = None;
    let mut src = CloudWatchSource::new(
        cw_client!(&rule),
        &slos,
        &|_| false,
        Duration::from_days(30),
        settings.clone(),
    );
    let (batch, report) = poll(&mut src, now()).await;
    let seen = seen.lock().unwrap().clone();
    for &(n, start, end, period) in &seen {
        let points = (end - start) / i64::from(period);
        assert!(n <= 500, "{n} queries in one call");
        assert!(
            n as i64 * points <= 100_800,
            "{n} × {points} datapoints in one call"
        );
    }
    assert!(seen.iter().any(|s| s.3 == 300) && seen.iter().any(|s| s.3 == 60));
    let (start, end) = tick_range(
        None,
        now(),
        delta(settings.delay),
        delta(settings.overlap),
        TimeDelta::days(30),
        60,
    )
    .unwrap();
    assert_eq!(
        seen.len() as u64,
        cost(&plan_range(600, start, end, now(), &settings.limits)).calls
    );
    assert_eq!(
        report.api_calls.get("GetMetricData"),
        Some(&(seen.len() as u64))
    );
    // Every SLO is covered over the whole backfill, contiguously.
    let mut cov: Vec<_> = batch.covered.iter().filter(|c| c.slo_id == "s7").collect();
    cov.sort_by_key(|c| c.from);
    assert!(cov.first().unwrap().from <= start && cov.last().unwrap().to == end);
    assert!(cov.windows(2).all(|w| w[0].to == w[1].from));
}

#[tokio::test]
async fn list_executions_pages_until_the_horizon_and_survives_throttling() {
    use aws_sdk_sfn::operation::list_executions::{ListExecutionsError, ListExecutionsOutput};
    use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
    let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:analysis";
    let t = now() - TimeDelta::minutes(30);
    let exec = move |name: &str, start: DateTime<Utc>, secs: i64| {
        ExecutionListItem::builder()
            .execution_arn(format!("{arn}:{name}"))
            .state_machine_arn(arn)
            .name(name)
            .status(ExecutionStatus::Succeeded)
            .start_date(to_smithy(start))
            .stop_date(to_smithy(start + TimeDelta::seconds(secs)))
            .build()
            .unwrap()
    };
    let pages = Arc::new(AtomicUsize::new(0));
    let p2 = pages.clone();
    let succeeded = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.status_filter() == Some(&ExecutionStatus::Succeeded))
        .sequence()
        .error(|| {
            ListExecutionsError::generic(
                aws_sdk_sfn::error::ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .build(),
            )
        })
        .output(move || {
            p2.fetch_add(1, Ordering::SeqCst);
            ListExecutionsOutput::builder()
                .executions(exec("a", t, 600))
                .executions(exec("b", t - TimeDelta::minutes(65), 3600))
                .next_token("more")
                .build()
                .unwrap()
        })
        .output(move || {
            ListExecutionsOutput::builder()
                // Started 2 days ago: older than the horizon, so paging stops here.
                .executions(exec("old", now() - TimeDelta::days(2), 60))
                .next_token("even-more")
                .build()
                .unwrap()
        })
        .build();
    let running = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.status_filter() == Some(&ExecutionStatus::Running))
        .then_output(|| {
            ListExecutionsOutput::builder()
                .set_executions(Some(vec![]))
                .build()
                .unwrap()
        });
    // The SDK's own retries are off, as in `source::aws::load`: burnwatch retries itself.
    let client = mock_client!(
        aws_sdk_sfn,
        RuleMode::MatchAny,
        &[&succeeded, &running],
        |c| c.retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
    );
    let slos = [plugin_slo(
        "lat",
        plugin(
            "burnwatch/stepfunctions/latency/v1",
            &[("state_machine_arn", arn), ("threshold", "30m")],
        ),
    )];
    let settings = LatencySettings {
        backfill: Some(Duration::from_hours(2)),
        retry: fast_retry(),
        ..LatencySettings::default()
    };
    let mut src = StepFunctionsLatencySource::new(client, &slos, Duration::from_days(30), settings);
    let mut batch = SourceBatch::default();
    let report = src.poll(now(), &mut batch).await;
    assert_eq!(
        succeeded.num_calls(),
        3,
        "throttled once, then two pages; the third page is never asked for"
    );
    assert_eq!(pages.load(Ordering::SeqCst), 1);
    assert_eq!((report.retries, report.throttled), (1, 1));
    let (g, total) = batch
        .events
        .iter()
        .fold((0.0, 0.0), |(g, t), e| (g + e.good, t + e.total));
    assert_eq!((g, total), (1.0, 2.0), "a took 10 min, b took 60 min");
    let stop_b = to_chrono(&to_smithy(t - TimeDelta::minutes(5)));
    assert!(
        batch
            .events
            .iter()
            .any(|e| e.bucket_start == stop_b && e.good == 0.0)
    );
}

#[tokio::test]
async fn rds_failover_events_are_classified() {
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_rds::operation::describe_events::DescribeEventsOutput;
    use aws_sdk_rds::types::{DbInstance, Endpoint, Event};
    let t = now() - TimeDelta::minutes(20);
    let event = move |secs: i64, msg: &str, cat: &str| {
        Event::builder()
            .source_identifier("mass-spec-db")
            .message(msg)
            .event_categories(cat)
            .date(to_smithy(t + TimeDelta::seconds(secs)))
            .build()
    };
    let events = mock!(aws_sdk_rds::Client::describe_events).then_output(move || {
        DescribeEventsOutput::builder()
            .events(event(0, "Multi-AZ instance failover started.", "failover"))
            .events(event(40, "DB instance restarted", "availability"))
            .events(event(
                70,
                "Multi-AZ instance failover completed.",
                "failover",
            ))
            .build()
    });
    let instances = mock!(aws_sdk_rds::Client::describe_db_instances).then_output(|| {
        DescribeDbInstancesOutput::builder()
            .db_instances(
                DbInstance::builder()
                    .db_instance_identifier("mass-spec-db")
                    .db_instance_status("available")
                    .multi_az(true)
                    .availability_zone("us-east-1b")
                    .secondary_availability_zone("us-east-1a")
                    .endpoint(
                        Endpoint::builder()
                            .address("mass-spec-db.x.rds.amazonaws.com")
                            .port(5432)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let rds = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        &[&events, &instances],
        |c| c.retry_config(aws_sdk_rds::config::retry::RetryConfig::disabled())
    );
    let cw_rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(empty);
    let mut mon = RdsMonitor::new(
        cw_client!(&cw_rule),
        rds,
        RdsSettings {
            instances: vec!["mass-spec-db".into()],
            ..RdsSettings::default()
        },
    );
    let (snaps, _) = mon.poll(now()).await;
    let s = &snaps[0];
    let got: Vec<_> = s
        .new_events
        .iter()
        .map(|e| (e.event_id.as_str(), e.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            ("RDS-EVENT-0013", RdsEventKind::Failover),
            ("RDS-EVENT-0006", RdsEventKind::Restart),
            ("RDS-EVENT-0049", RdsEventKind::Failover),
        ]
    );
    assert_eq!(s.availability_zone.as_deref(), Some("us-east-1b"));
    assert!(
        s.gauges.iter().all(|g| g.value.is_none()),
        "no datapoints, no values"
    );
    // The same events are not reported twice.
    let (again, _) = mon.poll(now() + TimeDelta::minutes(1)).await;
    assert!(again[0].new_events.is_empty());
}

#[tokio::test]
async fn a_repeated_next_token_fails_the_call_instead_of_looping() {
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(|req| {
        let mut out = empty(req).to_owned();
        out.next_token = Some("same-token".into());
        out
    });
    let mut src = source(cw_client!(&rule), &[alb_slo("a", "lb-a")]);
    let (batch, report) = poll(&mut src, now()).await;
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(report.failures, 1);
    assert!(batch.covered.is_empty());
    assert!(
        batch.no_data[0].reason.contains("repeated a NextToken"),
        "{:?}",
        batch.no_data
    );
}
