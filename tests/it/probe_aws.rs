//! The probe's AWS parts against moto: RDS status and events (`rds` step) and passwords
//! from Secrets Manager (`auth` step), with the data plane on the real test PostgreSQL.
//! Failover events cannot be produced by moto; their handling is unit-tested with
//! aws-smithy-mocks in `src/probe/db/rds.rs`.

use burnwatch::probe::db::target::AwsSettings;
use burnwatch::probe::db::{PasswordSource, ProbeTarget, run_probe, run_probe_outcome};
use burnwatch::probe::{Classification, StepName};

use crate::pg;
use crate::support::service;

fn aws() -> AwsSettings {
    AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(service("BURNWATCH_TEST_MOTO_URL")),
    }
}

async fn create_instance(id: &str) {
    let sdk = burnwatch::probe::db::aws::sdk_config(&aws()).await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .engine_version("16.3")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .multi_az(true)
        .master_username("admin_user")
        .master_user_password("not-used-by-the-probe")
        .send()
        .await
        .expect("create DB instance in moto");
}

/// Generous timeouts for the steps that call moto: its first call per service loads the
/// backend, which takes seconds on a busy CI machine. These tests are about what the
/// steps report, not about speed.
fn with_aws(mut t: ProbeTarget) -> ProbeTarget {
    t.aws = aws();
    t.timeouts.rds = burnwatch::spec::Duration::from_secs(60);
    t.timeouts.auth = burnwatch::spec::Duration::from_secs(60);
    t
}

fn healthy_target(name: &str) -> ProbeTarget {
    with_aws(pg::target(name, pg::shared_port()))
}

#[tokio::test]
async fn rds_status_and_events_are_reported() {
    let id = pg::unique("massspec").replace('_', "-");
    create_instance(&id).await;
    let mut t = healthy_target("rds-ok");
    t.rds_instance_id = Some(id.clone());
    let outcome = run_probe_outcome(&t).await;
    let run = &outcome.run;
    assert!(run.healthy, "{}", run.to_json());
    let rds = run.step(StepName::Rds).expect("rds step");
    assert!(rds.ok);
    assert!(
        rds.detail
            .starts_with(&format!("instance {id} status available; Multi-AZ")),
        "{}",
        rds.detail
    );
    assert!(rds.detail.contains(".rds.amazonaws.com"), "{}", rds.detail);
    // moto records a creation event for the instance; the probe hands events to history.
    assert!(
        outcome.rds_events.iter().all(|e| e.source_id == id),
        "{:?}",
        outcome.rds_events
    );
}

#[tokio::test]
async fn missing_instance_is_rds_not_available() {
    let mut t = healthy_target("rds-missing");
    t.rds_instance_id = Some("burnwatch-no-such-instance".into());
    let run = run_probe(&t).await;
    assert_eq!(
        run.classification,
        Classification::RdsNotAvailable,
        "{}",
        run.to_json()
    );
    assert_eq!(run.failed_step, Some(StepName::Rds));
    assert_eq!(run.runbook, "runbooks/db-connectivity.md#rds-not-available");
    // The data plane was fine and is recorded as such.
    assert_eq!(run.steps.len(), 7);
    assert!(run.steps[..6].iter().all(|s| s.ok), "{}", run.to_json());
    assert!(
        run.steps[6]
            .detail
            .contains("burnwatch-no-such-instance not found"),
        "{}",
        run.steps[6].detail
    );
}

#[tokio::test]
async fn stopped_instance_is_rds_not_available() {
    let id = pg::unique("stopped").replace('_', "-");
    create_instance(&id).await;
    let sdk = burnwatch::probe::db::aws::sdk_config(&aws()).await;
    aws_sdk_rds::Client::new(&sdk)
        .stop_db_instance()
        .db_instance_identifier(&id)
        .send()
        .await
        .expect("stop instance in moto");
    let mut t = healthy_target("rds-stopped");
    t.rds_instance_id = Some(id.clone());
    let run = run_probe(&t).await;
    assert_eq!(
        run.classification,
        Classification::RdsNotAvailable,
        "{}",
        run.to_json()
    );
    let d = &run.step(StepName::Rds).unwrap().detail;
    assert!(
        d.contains("status stopped (not serving connections)"),
        "{d}"
    );
}

#[tokio::test]
async fn rds_step_runs_after_a_data_plane_failure() {
    let id = pg::unique("explains").replace('_', "-");
    create_instance(&id).await;
    let mut t = with_aws(pg::target("refused-with-rds", pg::free_port()));
    t.rds_instance_id = Some(id);
    let run = run_probe(&t).await;
    // The first failure decides; the control plane's view is in the same record.
    assert_eq!(
        run.classification,
        Classification::TcpRefused,
        "{}",
        run.to_json()
    );
    assert_eq!(run.failed_step, Some(StepName::Tcp));
    let names: Vec<StepName> = run.steps.iter().map(|s| s.step).collect();
    assert_eq!(names, [StepName::Dns, StepName::Tcp, StepName::Rds]);
    assert!(run.step(StepName::Rds).unwrap().ok);
}

#[tokio::test]
async fn password_from_secrets_manager() {
    let sdk = burnwatch::probe::db::aws::sdk_config(&aws()).await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = pg::unique("burnwatch/probe");
    sm.create_secret()
        .name(&name)
        .secret_string(
            serde_json::json!({"username": "postgres", "password": pg::password()}).to_string(),
        )
        .send()
        .await
        .expect("create secret in moto");
    let mut t = healthy_target("secret");
    t.password = PasswordSource::SecretsManager {
        secret_id: name.clone(),
        json_key: "password".into(),
    };
    let run = run_probe(&t).await;
    assert!(run.healthy, "{}", run.to_json());
    assert!(
        run.step(StepName::Auth)
            .unwrap()
            .detail
            .contains(&format!("password from Secrets Manager {name}")),
        "{}",
        run.to_json()
    );
    assert!(!run.to_json().contains(&pg::password()));

    t.password = PasswordSource::SecretsManager {
        secret_id: "burnwatch/no-such-secret".into(),
        json_key: "password".into(),
    };
    let run = run_probe(&t).await;
    assert_eq!(
        run.classification,
        Classification::AuthFailed,
        "{}",
        run.to_json()
    );
    let d = &run.step(StepName::Auth).unwrap().detail;
    assert!(
        d.contains("cannot read Secrets Manager secret burnwatch/no-such-secret"),
        "{d}"
    );
    assert!(d.contains("ResourceNotFoundException"), "{d}");
}

#[tokio::test]
async fn iam_token_is_rejected_by_a_password_server_as_auth_failed() {
    // A local PostgreSQL has no PAM/IAM: the token is sent as a password and refused
    // (28P01). The path exercises token signing with the environment's credentials and
    // shows the token never reaches the record.
    let mut t = healthy_target("iam");
    t.password = PasswordSource::RdsIam;
    let run = run_probe(&t).await;
    assert_eq!(
        run.classification,
        Classification::AuthFailed,
        "{}",
        run.to_json()
    );
    assert!(run.step(StepName::Auth).unwrap().detail.contains("28P01"));
    assert!(!run.to_json().contains("X-Amz"), "{}", run.to_json());
}
