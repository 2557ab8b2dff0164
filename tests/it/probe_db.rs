//! The layered database probe against a real PostgreSQL 15: one test per classification,
//! each provoking the failure for real (wrong password, missing database, full connection
//! slots, TLS mismatches, a read-only database, a hung server, ...).

use std::time::{Duration, Instant};

use burnwatch::probe::db::{PasswordSource, SessionAttrs, SslMode, run_probe};
use burnwatch::probe::{Classification, ProbeRun, StepName};
use burnwatch::spec::Duration as SpecDuration;

use crate::pg::{self, Cluster};

fn ms(n: u64) -> SpecDuration {
    SpecDuration::from_millis(n)
}

/// The failing step's detail.
fn failed_detail(run: &ProbeRun) -> &str {
    let step = run.failed_step.expect("a failed step");
    &run.step(step).expect("failed step recorded").detail
}

fn assert_failed(run: &ProbeRun, class: Classification, step: StepName) {
    assert!(!run.healthy, "{}", run.to_json());
    assert_eq!(run.classification, class, "{}", run.to_json());
    assert_eq!(run.failed_step, Some(step), "{}", run.to_json());
    assert_eq!(run.runbook, class.runbook());
    // The data plane stops at the first failure: the failed step is the last one that ran.
    assert_eq!(
        run.steps.last().map(|s| s.step),
        Some(step),
        "{}",
        run.to_json()
    );
    assert!(
        run.steps[..run.steps.len() - 1].iter().all(|s| s.ok),
        "{}",
        run.to_json()
    );
}

#[tokio::test]
async fn healthy_over_verified_tls() {
    let t = pg::target("shared", pg::shared_port());
    let run = run_probe(&t).await;
    assert!(run.healthy, "{}", run.to_json());
    assert_eq!(run.classification, Classification::Healthy);
    assert_eq!(run.failed_step, None);
    assert_eq!(run.runbook, "runbooks/db-connectivity.md#healthy");
    let names: Vec<StepName> = run.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        names,
        [
            StepName::Dns,
            StepName::Tcp,
            StepName::Tls,
            StepName::Auth,
            StepName::Query,
            StepName::Saturation
        ]
    );
    assert!(run.steps.iter().all(|s| s.ok && s.ms >= 0.0));
    assert_eq!(run.step(StepName::Dns).unwrap().detail, "127.0.0.1");
    let tls = &run.step(StepName::Tls).unwrap().detail;
    assert!(tls.starts_with("TLSv1.3 TLS13_"), "{tls}");
    assert!(tls.contains("certificate and host name verified"), "{tls}");
    // The script's server certificate is valid for 200 days: reported, no warning.
    assert!(
        tls.contains("certificate expires") && !tls.contains("WARNING"),
        "{tls}"
    );
    let q = &run.step(StepName::Query).unwrap().detail;
    assert!(
        q.contains("read-write primary") && q.contains("PostgreSQL 15"),
        "{q}"
    );
    let s = &run.step(StepName::Saturation).unwrap().detail;
    assert!(s.contains("usable connection slots in use"), "{s}");
    // Secrets never appear in the record.
    assert!(!run.to_json().contains(&pg::password()));
}

#[tokio::test]
async fn wrong_password_is_auth_failed_28p01() {
    let mut t = pg::target("wrong-password", pg::shared_port());
    t.password = PasswordSource::Inline(burnwatch::probe::db::target::Secret::new(
        "not-the-password",
    ));
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::AuthFailed, StepName::Auth);
    let d = failed_detail(&run);
    assert!(d.contains("28P01") && d.contains("wrong password"), "{d}");
    assert!(!run.to_json().contains("not-the-password"));
}

#[tokio::test]
async fn password_from_an_unset_variable_is_reported() {
    let mut t = pg::target("no-password", pg::shared_port());
    t.password = PasswordSource::Env("BURNWATCH_TEST_NO_SUCH_PASSWORD_VAR".into());
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::AuthFailed, StepName::Auth);
    let d = failed_detail(&run);
    assert!(
        d.contains("BURNWATCH_TEST_NO_SUCH_PASSWORD_VAR is not set"),
        "{d}"
    );
}

#[tokio::test]
async fn missing_database_is_db_missing() {
    let mut t = pg::target("missing-db", pg::shared_port());
    t.dbname = pg::unique("nodb");
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::DbMissing, StepName::Auth);
    assert!(
        failed_detail(&run).contains("3D000"),
        "{}",
        failed_detail(&run)
    );
}

#[tokio::test]
async fn closed_port_is_tcp_refused() {
    let t = pg::target("refused", pg::free_port());
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::TcpRefused, StepName::Tcp);
    assert!(
        failed_detail(&run).ends_with("refused"),
        "{}",
        failed_detail(&run)
    );
}

#[tokio::test]
async fn unresolvable_name_is_dns_failed() {
    let mut t = pg::target("nxdomain", pg::shared_port());
    t.host = "mass-spec-db.burnwatch-test.invalid".into();
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::DnsFailed, StepName::Dns);
    assert_eq!(run.steps.len(), 1);
}

#[tokio::test]
async fn dropped_syns_are_tcp_timeout() {
    // A listener whose accept queue is full: Linux drops further SYNs, exactly what a
    // security group that drops packets looks like to the client.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(s);
        }
    }
    let mut t = pg::target("blackhole", addr.port());
    t.timeouts.tcp = ms(700);
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::TcpTimeout, StepName::Tcp);
    assert!(
        failed_detail(&run).contains("timed out"),
        "{}",
        failed_detail(&run)
    );
    drop(listener);
}

#[tokio::test]
async fn all_connection_slots_taken_is_too_many_connections() {
    let cluster = Cluster::start(&[
        ("max_connections", "3"),
        ("superuser_reserved_connections", "0"),
    ]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pg::admin(cluster.port).await);
    }
    let mut t = pg::target("full", cluster.port);
    t.sslmode = SslMode::Disable;
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::TooManyConnections, StepName::Auth);
    assert!(
        failed_detail(&run).contains("53300"),
        "{}",
        failed_detail(&run)
    );
    drop(held);
}

#[tokio::test]
async fn connections_near_the_limit_are_saturation_high() {
    let cluster = Cluster::start(&[
        ("max_connections", "10"),
        ("superuser_reserved_connections", "0"),
    ]);
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(pg::admin(cluster.port).await);
    }
    let mut t = pg::target("saturated", cluster.port);
    t.sslmode = SslMode::Disable;
    t.saturation_high = 0.6;
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::SaturationHigh, StepName::Saturation);
    let d = failed_detail(&run);
    assert!(
        d.starts_with("7 of 10 usable connection slots in use (70%, threshold 60%"),
        "{d}"
    );
    drop(held);
    // Below the threshold the same server is healthy.
    t.saturation_high = 0.9;
    let run = run_probe(&t).await;
    assert!(run.healthy, "{}", run.to_json());
}

#[tokio::test]
async fn certificate_from_another_ca_is_tls_failed() {
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "some other CA");
    std::fs::write(&other_ca, params.self_signed(&key).unwrap().pem()).unwrap();

    let mut t = pg::target("wrong-ca", pg::shared_port());
    t.ca_bundle = Some(other_ca);
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::TlsFailed, StepName::Tls);
    let d = failed_detail(&run);
    assert!(d.contains("unknown issuer"), "{d}");
    // verify-ca checks the chain too.
    t.sslmode = SslMode::VerifyCa;
    assert_eq!(
        run_probe(&t).await.classification,
        Classification::TlsFailed
    );
    // require encrypts without verifying, as libpq does.
    t.sslmode = SslMode::Require;
    let run = run_probe(&t).await;
    assert!(run.healthy, "{}", run.to_json());
    assert!(
        run.step(StepName::Tls)
            .unwrap()
            .detail
            .contains("NOT verified")
    );
}

#[tokio::test]
async fn host_name_mismatch_fails_verify_full_but_not_verify_ca() {
    // A server whose certificate names another host, signed by a CA we trust.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mismatch CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let srv_key = rcgen::KeyPair::generate().unwrap();
    let srv_params =
        rcgen::CertificateParams::new(vec!["db.elsewhere.example".to_string()]).unwrap();
    let srv_cert = srv_params.signed_by(&srv_key, &issuer).unwrap();

    let mut cluster = Cluster::start(&[]);
    let cert = cluster.write_private("server.crt", &srv_cert.pem());
    let key = cluster.write_private("server.key", &srv_key.serialize_pem());
    let cert_s = cert.display().to_string();
    let key_s = key.display().to_string();
    cluster.restart(&[
        ("ssl", "on"),
        ("ssl_cert_file", &cert_s),
        ("ssl_key_file", &key_s),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();

    let mut t = pg::target("name-mismatch", cluster.port);
    t.ca_bundle = Some(ca_file);
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::TlsFailed, StepName::Tls);
    assert!(
        failed_detail(&run).contains("not valid for this host name"),
        "{}",
        failed_detail(&run)
    );
    t.sslmode = SslMode::VerifyCa;
    let run = run_probe(&t).await;
    assert!(run.healthy, "{}", run.to_json());
    assert!(
        run.step(StepName::Tls)
            .unwrap()
            .detail
            .contains("host name not checked")
    );
}

#[tokio::test]
async fn server_without_tls_is_tls_failed_when_tls_is_required() {
    let cluster = Cluster::start(&[("ssl", "off")]);
    let mut t = pg::target("no-tls", cluster.port);
    t.sslmode = SslMode::Require;
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::TlsFailed, StepName::Tls);
    assert!(
        failed_detail(&run).contains("does not accept TLS"),
        "{}",
        failed_detail(&run)
    );
    // prefer falls back to plaintext and says so.
    t.sslmode = SslMode::Prefer;
    let run = run_probe(&t).await;
    assert!(run.healthy, "{}", run.to_json());
    assert!(
        run.step(StepName::Tls)
            .unwrap()
            .detail
            .contains("plaintext")
    );
}

#[tokio::test]
async fn certificate_expiring_soon_is_warned_about() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "expiry CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let srv_key = rcgen::KeyPair::generate().unwrap();
    let mut srv_params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let in_ten_days = std::time::SystemTime::now() + Duration::from_secs(10 * 86400 + 3600);
    srv_params.not_after = in_ten_days.into();
    let srv_cert = srv_params.signed_by(&srv_key, &issuer).unwrap();

    let mut cluster = Cluster::start(&[]);
    let cert = cluster.write_private("server.crt", &srv_cert.pem());
    let key = cluster.write_private("server.key", &srv_key.serialize_pem());
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    cluster.restart(&[
        ("ssl", "on"),
        ("ssl_cert_file", &cert_s),
        ("ssl_key_file", &key_s),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();

    let mut t = pg::target("expiring", cluster.port);
    t.ca_bundle = Some(ca_file);
    let run = run_probe(&t).await;
    assert!(run.healthy, "{}", run.to_json());
    let tls = &run.step(StepName::Tls).unwrap().detail;
    assert!(
        tls.contains("WARNING: server certificate expires") && tls.contains("in 10 days"),
        "{tls}"
    );
}

#[tokio::test]
async fn slow_query_is_query_slow() {
    let mut t = pg::target("slow", pg::shared_port());
    t.query = "SELECT pg_sleep(0.4)".into();
    t.query_slow = ms(100);
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::QuerySlow, StepName::Query);
    assert!(
        failed_detail(&run).contains("threshold 100ms"),
        "{}",
        failed_detail(&run)
    );
    // A query that outlives the step's timeout is slow too, and the step stops waiting.
    t.query = "SELECT pg_sleep(30)".into();
    t.timeouts.query = ms(500);
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::QuerySlow, StepName::Query);
    assert!(
        failed_detail(&run).contains("no answer to the probe query within"),
        "{}",
        failed_detail(&run)
    );
}

#[tokio::test]
async fn failing_query_is_query_failed() {
    let mut t = pg::target("bad-query", pg::shared_port());
    t.query = "SELECT * FROM burnwatch_no_such_table".into();
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::QueryFailed, StepName::Query);
    assert!(
        failed_detail(&run).contains("42P01"),
        "{}",
        failed_detail(&run)
    );
}

#[tokio::test]
async fn read_only_server_is_query_failed_when_writes_are_expected() {
    let admin = pg::admin(pg::shared_port()).await;
    let db = pg::unique("readonly");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {db} SET default_transaction_read_only = on"
        ))
        .await
        .unwrap();
    let mut t = pg::target("read-only", pg::shared_port());
    t.dbname = db.clone();
    let run = run_probe(&t).await;
    assert_failed(&run, Classification::QueryFailed, StepName::Query);
    let d = failed_detail(&run);
    assert!(d.contains("READ-ONLY: transaction_read_only = on"), "{d}");
    assert!(d.contains("expects a writable primary"), "{d}");
    // A replica endpoint is expected to be read-only.
    t.target_session_attrs = SessionAttrs::ReadOnly;
    assert!(run_probe(&t).await.healthy);
    t.target_session_attrs = SessionAttrs::Any;
    assert!(run_probe(&t).await.healthy);
}

#[tokio::test]
async fn shutting_down_server_is_db_starting_or_shutting_down() {
    let cluster = Cluster::start(&[]);
    // A smart shutdown waits for existing sessions and refuses new ones with 57P03.
    let held = pg::admin(cluster.port).await;
    cluster.pg_ctl_stop("smart", false);
    let mut t = pg::target("stopping", cluster.port);
    t.sslmode = SslMode::Disable;
    let mut run = run_probe(&t).await;
    for _ in 0..50 {
        if run.classification == Classification::DbStartingOrShuttingDown {
            break;
        }
        // The postmaster may not have processed the signal yet.
        tokio::time::sleep(Duration::from_millis(100)).await;
        run = run_probe(&t).await;
    }
    assert_failed(
        &run,
        Classification::DbStartingOrShuttingDown,
        StepName::Auth,
    );
    assert!(
        failed_detail(&run).contains("57P03"),
        "{}",
        failed_detail(&run)
    );
    drop(held);
}

/// The sum of the step timeouts plus scheduling slack: no run may take longer.
fn assert_bounded(run_took: Duration, t: &burnwatch::probe::db::ProbeTarget) {
    let budget = t.timeouts.total();
    assert!(
        run_took < budget + Duration::from_millis(1500),
        "run took {run_took:?}, budget {budget:?}"
    );
}

#[tokio::test]
async fn listener_that_never_answers_times_out_within_the_step() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s); // accept and never answer
        }
    });
    let mut t = pg::target("silent", port);
    t.timeouts.tls = ms(600);
    t.timeouts.auth = ms(600);
    let start = Instant::now();
    let run = run_probe(&t).await;
    assert_bounded(start.elapsed(), &t);
    assert_failed(&run, Classification::TlsFailed, StepName::Tls);
    assert!(
        failed_detail(&run)
            .contains("no answer within 600ms while waiting for the answer to SSLRequest"),
        "{}",
        failed_detail(&run)
    );
    assert!(run.step(StepName::Tls).unwrap().ms >= 600.0);

    t.sslmode = SslMode::Disable;
    let start = Instant::now();
    let run = run_probe(&t).await;
    assert_bounded(start.elapsed(), &t);
    assert_failed(&run, Classification::AuthFailed, StepName::Auth);
    assert!(
        failed_detail(&run).contains("no answer within 600ms"),
        "{}",
        failed_detail(&run)
    );
    hold.abort();
}

#[tokio::test]
async fn hung_postgres_is_bounded_by_the_step_timeouts() {
    let cluster = Cluster::start(&[]);
    cluster.signal("STOP");
    let mut t = pg::target("hung", cluster.port);
    t.sslmode = SslMode::Disable;
    t.timeouts.auth = ms(700);
    let start = Instant::now();
    let run = run_probe(&t).await;
    assert_bounded(start.elapsed(), &t);
    // The kernel completes the TCP handshake for the stopped postmaster; the startup
    // message is never answered.
    assert_failed(&run, Classification::AuthFailed, StepName::Auth);
    assert!(
        failed_detail(&run).contains("no answer within 700ms"),
        "{}",
        failed_detail(&run)
    );
    cluster.signal("CONT");
}
