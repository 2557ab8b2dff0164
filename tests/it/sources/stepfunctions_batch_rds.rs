//! The API-based sources against moto: Step Functions latency from real executions (moto's
//! execute mode), Batch job success and queue health from real jobs (simple mode on the
//! shared server; Docker mode without a daemon on a second server, for failures with a
//! status reason and stuck RUNNABLE jobs), and the RDS monitor.

use std::time::Duration as StdDuration;

use aws_sdk_batch::types::{
    CeState, CeType, ComputeEnvironmentOrder, ContainerProperties, JobDefinitionType, JobStatus,
    JqState, ResourceRequirement, ResourceType,
};
use aws_sdk_sfn::types::ExecutionStatus;
use burnwatch::source::aws::Clients;
use burnwatch::source::batch::{BatchSettings, BatchSource};
use burnwatch::source::rds::{RdsMonitor, RdsSettings};
use burnwatch::source::stepfunctions::{LatencySettings, StepFunctionsLatencySource};
use burnwatch::source::{Source, SourceBatch};
use burnwatch::spec::Duration;
use chrono::{TimeDelta, Utc};

use super::{clients_at, fast_retry, moto, plugin, plugin_slo, put, this_minute, unique};
use crate::support::service;

async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if done().await {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn stepfunctions_latency_from_real_executions() {
    let c = moto().await;
    let definition = r#"{"StartAt":"Route","States":{
        "Route":{"Type":"Choice","Choices":[{"Variable":"$.fail","BooleanEquals":true,"Next":"Boom"}],"Default":"Sleep"},
        "Sleep":{"Type":"Wait","SecondsPath":"$.wait","Next":"Done"},
        "Done":{"Type":"Succeed"},
        "Boom":{"Type":"Fail","Error":"BadInput","Cause":"unreadable raw file"}}}"#;
    let sm = c
        .sfn
        .create_state_machine()
        .name(unique("analysis"))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/sfn")
        .send()
        .await
        .expect("CreateStateMachine");
    let arn = sm.state_machine_arn().to_string();
    // Three fast analyses, two that take 3 s, one that fails fast.
    let inputs = [
        (0, false),
        (0, false),
        (0, false),
        (3, false),
        (3, false),
        (0, true),
    ];
    for (i, (wait, fail)) in inputs.iter().enumerate() {
        c.sfn
            .start_execution()
            .state_machine_arn(&arn)
            .name(format!("run-{i}"))
            .input(format!(r#"{{"wait":{wait},"fail":{fail}}}"#))
            .send()
            .await
            .expect("StartExecution");
    }
    let sfn = c.sfn.clone();
    let a = arn.clone();
    wait_until("executions to finish", || {
        let (sfn, a) = (sfn.clone(), a.clone());
        async move {
            let out = sfn
                .list_executions()
                .state_machine_arn(&a)
                .status_filter(ExecutionStatus::Running)
                .send()
                .await
                .expect("ListExecutions");
            out.executions().is_empty()
        }
    })
    .await;

    let slos = [
        plugin_slo(
            "lat",
            plugin(
                "burnwatch/stepfunctions/latency/v1",
                &[("state_machine_arn", &arn), ("threshold", "2s")],
            ),
        ),
        plugin_slo(
            "lat-loose",
            plugin(
                "burnwatch/stepfunctions/latency/v1",
                &[("state_machine_arn", &arn), ("threshold", "30m")],
            ),
        ),
    ];
    let settings = LatencySettings {
        backfill: Some(Duration::from_hours(1)),
        retry: fast_retry(),
        ..LatencySettings::default()
    };
    let mut src =
        StepFunctionsLatencySource::new(c.sfn.clone(), &slos, Duration::from_days(30), settings);
    let now = this_minute() + TimeDelta::minutes(2);
    let mut batch = SourceBatch::default();
    let report = src.poll(now, &mut batch).await;
    assert_eq!(report.failures, 0);
    // One machine: one SUCCEEDED listing and one RUNNING listing serve both SLOs.
    assert_eq!(report.api_calls.get("ListExecutions"), Some(&2));
    let sum = |slo: &str| {
        batch
            .events
            .iter()
            .filter(|e| e.slo_id == slo)
            .fold((0.0, 0.0), |(g, t), e| (g + e.good, t + e.total))
    };
    assert_eq!(
        sum("lat"),
        (3.0, 5.0),
        "the failed execution is not a latency event"
    );
    assert_eq!(sum("lat-loose"), (5.0, 5.0));
    assert!(batch.no_data.is_empty());
    // The next poll reads only the new minute and the overlap: the same executions, once.
    let mut batch2 = SourceBatch::default();
    src.poll(now + TimeDelta::minutes(1), &mut batch2).await;
    for e in &batch2.events {
        let first = batch
            .events
            .iter()
            .find(|f| f.slo_id == e.slo_id && f.bucket_start == e.bucket_start);
        assert_eq!(first.map(|f| (f.good, f.total)), Some((e.good, e.total)));
    }
}

/// An IAM role in moto (Batch checks that the compute environment's service role exists),
/// created with a plain Query call since burnwatch has no IAM client.
async fn iam_role(moto_url: &str, name: &str) -> String {
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D"
    );
    let resp = reqwest::Client::new()
        .post(format!("{moto_url}/"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body)
        .send()
        .await
        .expect("CreateRole");
    assert!(
        resp.status().is_success(),
        "CreateRole: {}",
        resp.text().await.unwrap_or_default()
    );
    format!("arn:aws:iam::123456789012:role/{name}")
}

/// A queue with an unmanaged compute environment and a job definition; returns
/// (queue name, job definition ARN).
pub async fn batch_queue(c: &Clients, moto_url: &str) -> (String, String) {
    let role = iam_role(moto_url, &unique("batch-role")).await;
    let ce = c
        .batch
        .create_compute_environment()
        .compute_environment_name(unique("ce"))
        .r#type(CeType::Unmanaged)
        .state(CeState::Enabled)
        .service_role(role)
        .send()
        .await
        .expect("CreateComputeEnvironment");
    let queue = unique("analysis-q");
    c.batch
        .create_job_queue()
        .job_queue_name(&queue)
        .state(JqState::Enabled)
        .priority(1)
        .compute_environment_order(
            ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(ce.compute_environment_arn().unwrap_or_default())
                .build(),
        )
        .send()
        .await
        .expect("CreateJobQueue");
    let jd = c
        .batch
        .register_job_definition()
        .job_definition_name(unique("step"))
        .r#type(JobDefinitionType::Container)
        .container_properties(
            ContainerProperties::builder()
                .image("busybox")
                .resource_requirements(
                    ResourceRequirement::builder()
                        .r#type(ResourceType::Vcpu)
                        .value("1")
                        .build(),
                )
                .resource_requirements(
                    ResourceRequirement::builder()
                        .r#type(ResourceType::Memory)
                        .value("128")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("RegisterJobDefinition");
    (
        queue,
        jd.job_definition_arn()
            .expect("job definition ARN")
            .to_string(),
    )
}

pub async fn submit(c: &Clients, queue: &str, jd: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let out = c
            .batch
            .submit_job()
            .job_name(format!("step-{i}"))
            .job_queue(queue)
            .job_definition(jd)
            .send()
            .await
            .expect("SubmitJob");
        ids.push(out.job_id().expect("job id").to_string());
    }
    ids
}

pub async fn count(c: &Clients, queue: &str, status: JobStatus) -> usize {
    c.batch
        .list_jobs()
        .job_queue(queue)
        .job_status(status)
        .send()
        .await
        .map(|o| o.job_summary_list().len())
        .unwrap_or(0)
}

fn batch_settings() -> BatchSettings {
    BatchSettings {
        backfill: Some(Duration::from_hours(1)),
        stuck_after: Duration::from_secs(1),
        retry: fast_retry(),
        ..BatchSettings::default()
    }
}

#[tokio::test]
async fn batch_job_success_from_the_api() {
    let url = service("BURNWATCH_TEST_MOTO_URL");
    let c = moto().await;
    let (queue, jd) = batch_queue(&c, &url).await;
    submit(&c, &queue, &jd, 4).await;
    let slos = [plugin_slo(
        "jobs",
        plugin("burnwatch/batch/job-success/v1", &[("job_queue", &queue)]),
    )];
    let mut src = BatchSource::new(
        c.batch.clone(),
        &slos,
        &|_| false,
        Duration::from_days(30),
        batch_settings(),
    );
    assert_eq!(src.slo_ids(), vec!["jobs".to_string()]);
    let mut batch = SourceBatch::default();
    let report = src
        .poll(Utc::now() + TimeDelta::minutes(2), &mut batch)
        .await;
    assert_eq!(report.failures, 0);
    let (g, t) = batch
        .events
        .iter()
        .fold((0.0, 0.0), |(g, t), e| (g + e.good, t + e.total));
    assert_eq!((g, t), (4.0, 4.0));
    let h = &src.health()[0];
    assert_eq!(h.jobs_by_status.get("SUCCEEDED"), Some(&4));
    assert_eq!(h.jobs_by_status.get("RUNNABLE"), Some(&0));
    assert_eq!(h.oldest_runnable_age_secs, None);
    assert!(h.failures_by_reason.is_empty());
}

async fn set_transition(moto_url: &str, transition: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{moto_url}/moto-api/state-manager/set-transition"))
        .body(format!(
            r#"{{"model_name":"batch::job","transition":{transition}}}"#
        ))
        .send()
        .await
        .expect("set-transition");
    assert!(resp.status().is_success());
}

#[tokio::test]
async fn batch_stuck_runnable_and_failure_reasons() {
    let url = service("BURNWATCH_TEST_MOTO_BATCH_URL");
    let c = clients_at(&url).await;
    let (queue, jd) = batch_queue(&c, &url).await;
    // Walk jobs forward every 3 s until RUNNABLE, then hold them there.
    set_transition(&url, r#"{"progression":"time","seconds":3}"#).await;
    let ids = submit(&c, &queue, &jd, 3).await;
    wait_until("jobs to be RUNNABLE", || async {
        count(&c, &queue, JobStatus::Runnable).await == 3
    })
    .await;
    set_transition(&url, r#"{"progression":"manual","times":1000000}"#).await;

    let slos = [plugin_slo(
        "jobs",
        plugin("burnwatch/batch/job-success/v1", &[("job_queue", &queue)]),
    )];
    let mut src = BatchSource::new(
        c.batch.clone(),
        &slos,
        &|_| false,
        Duration::from_days(30),
        batch_settings(),
    );
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    let mut batch = SourceBatch::default();
    src.poll(Utc::now(), &mut batch).await;
    let h = src.health()[0].clone();
    // On a loaded machine a job can slip to STARTING before the hold: compare with what
    // ListJobs says directly rather than assuming all three are held.
    let runnable = count(&c, &queue, JobStatus::Runnable).await;
    let starting = count(&c, &queue, JobStatus::Starting).await;
    assert!(runnable >= 1, "no job held in RUNNABLE");
    assert_eq!(h.error, None);
    assert_eq!(
        h.jobs_by_status.get("RUNNABLE"),
        Some(&(runnable as u64)),
        "{h:?}"
    );
    assert_eq!(
        h.jobs_by_status.get("STARTING"),
        Some(&(starting as u64)),
        "{h:?}"
    );
    let age = h.oldest_runnable_age_secs.expect("a RUNNABLE job");
    assert!(age >= 1.5, "oldest RUNNABLE age {age}");
    assert_eq!(h.stuck_runnable, runnable as u64);

    // Two jobs are terminated with the reasons Batch gives in real incidents; without a
    // Docker daemon all three then fail once released.
    for (id, reason) in [
        (
            &ids[0],
            "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
        ),
        (&ids[1], "Host EC2 (instance i-0abc123) terminated."),
    ] {
        c.batch
            .terminate_job()
            .job_id(id)
            .reason(reason)
            .send()
            .await
            .expect("TerminateJob");
    }
    set_transition(&url, r#"{"progression":"time","seconds":1}"#).await;
    wait_until("jobs to fail", || async {
        count(&c, &queue, JobStatus::Failed).await == 3
    })
    .await;
    let mut batch = SourceBatch::default();
    src.poll(Utc::now() + TimeDelta::minutes(2), &mut batch)
        .await;
    let h = src.health()[0].clone();
    assert_eq!(h.jobs_by_status.get("RUNNABLE"), Some(&0));
    assert_eq!(h.jobs_by_status.get("FAILED"), Some(&3));
    assert_eq!(h.oldest_runnable_age_secs, None);
    assert_eq!(
        h.failures_by_reason.get("cannot_pull_container"),
        Some(&1),
        "{h:?}"
    );
    assert_eq!(h.failures_by_reason.get("spot_reclaim"), Some(&1));
    assert_eq!(h.failures_by_reason.get("none"), Some(&1));
    let (g, t) = batch
        .events
        .iter()
        .fold((0.0, 0.0), |(g, t), e| (g + e.good, t + e.total));
    assert_eq!((g, t), (0.0, 3.0));
}

#[tokio::test]
async fn rds_monitor_reads_gauges_status_and_events() {
    let c = moto().await;
    let id = unique("massspec-db");
    c.rds
        .create_db_instance()
        .db_instance_identifier(&id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("burnwatch")
        .master_user_password("not-a-real-password")
        .allocated_storage(20)
        .multi_az(true)
        .send()
        .await
        .expect("CreateDBInstance");
    let now = this_minute();
    let d = [("DBInstanceIdentifier", id.as_str())];
    let (t1, t2) = (now - TimeDelta::minutes(5), now - TimeDelta::minutes(4));
    put(
        &c.cloudwatch,
        "AWS/RDS",
        "CPUUtilization",
        &d,
        &[(t1, 20.0), (t2, 85.0)],
    )
    .await;
    put(
        &c.cloudwatch,
        "AWS/RDS",
        "DatabaseConnections",
        &d,
        &[(t2, 10.0), (t2 + TimeDelta::seconds(20), 95.0)],
    )
    .await;
    put(
        &c.cloudwatch,
        "AWS/RDS",
        "FreeStorageSpace",
        &d,
        &[(t2, 5e9), (t2 + TimeDelta::seconds(30), 4e9)],
    )
    .await;
    let mut mon = RdsMonitor::new(
        c.cloudwatch.clone(),
        c.rds.clone(),
        RdsSettings {
            instances: vec![id.clone()],
            ..RdsSettings::default()
        },
    );
    let (snaps, report) = mon.poll(now).await;
    assert_eq!(report.failures, 0, "{report:?}");
    let s = &snaps[0];
    let gauge = |name: &str| {
        s.gauges
            .iter()
            .find(|g| g.name == name)
            .and_then(|g| g.value)
    };
    assert_eq!(
        gauge("burnwatch_rds_cpu_utilization_percent"),
        Some(85.0),
        "latest value"
    );
    assert_eq!(
        gauge("burnwatch_rds_database_connections"),
        Some(95.0),
        "Maximum"
    );
    assert_eq!(
        gauge("burnwatch_rds_free_storage_space_bytes"),
        Some(4e9),
        "Minimum"
    );
    assert_eq!(
        gauge("burnwatch_rds_disk_queue_depth"),
        None,
        "no datapoint is no value, not 0"
    );
    assert_eq!(s.status.as_deref(), Some("available"));
    assert_eq!(s.multi_az, Some(true));
    assert!(
        s.endpoint.as_deref().is_some_and(|e| e.ends_with(":5432")),
        "{:?}",
        s.endpoint
    );
    assert!(!s.new_events.is_empty(), "moto records the creation events");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    // Events are reported once.
    let (again, _) = mon.poll(now + TimeDelta::minutes(1)).await;
    assert!(again[0].new_events.is_empty(), "{:?}", again[0].new_events);
    // An instance that does not exist is an error, not a healthy-looking snapshot.
    let mut missing = RdsMonitor::new(
        c.cloudwatch.clone(),
        c.rds.clone(),
        RdsSettings {
            instances: vec![unique("nope")],
            retry: fast_retry(),
            ..RdsSettings::default()
        },
    );
    let (snaps, _) = missing.poll(now).await;
    assert_eq!(snaps[0].status, None);
    assert!(
        snaps[0]
            .errors
            .iter()
            .any(|e| e.contains("DescribeDBInstances")),
        "{:?}",
        snaps[0].errors
    );
}

#[test]
fn job_success_counts_each_finished_job_once_in_its_stop_minute() {
    use aws_sdk_batch::types::JobSummary;
    use burnwatch::source::batch::job_success_events;
    let t0 = this_minute() - TimeDelta::minutes(10);
    let job = |id: &str, status: JobStatus, stop_secs: Option<i64>| {
        JobSummary::builder()
            .job_id(id)
            .status(status)
            .set_stopped_at(stop_secs.map(|s| (t0 + TimeDelta::seconds(s)).timestamp_millis()))
            .build()
    };
    let jobs = [
        job("a", JobStatus::Succeeded, Some(5)),
        job("b", JobStatus::Failed, Some(50)),
        job("c", JobStatus::Succeeded, Some(70)),
        job("c", JobStatus::Succeeded, Some(70)), // listed twice (pages overlap)
        job("d", JobStatus::Running, None),
        job("e", JobStatus::Succeeded, Some(-600)), // before the range
    ];
    let b = job_success_events(&["jobs".to_string()], &jobs, t0, t0 + TimeDelta::minutes(5));
    let got: Vec<_> = b
        .events
        .iter()
        .map(|e| (e.bucket_start, e.good, e.total))
        .collect();
    assert_eq!(
        got,
        vec![(t0, 1.0, 2.0), (t0 + TimeDelta::minutes(1), 1.0, 1.0)]
    );
    assert_eq!(
        (b.covered[0].from, b.covered[0].to),
        (t0, t0 + TimeDelta::minutes(5))
    );
}
