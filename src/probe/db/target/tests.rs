//! Target parsing: libpq URLs, configuration items and their positioned errors.

use super::*;

fn parse(text: &str) -> Result<Vec<ProbeTarget>, Vec<Diagnostic>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, text).unwrap();
    load_file(&path)
}

#[test]
fn full_target_from_yaml() {
    let t = parse(
        "probes:\n  - name: rds\n    host: db.example\n    user: probe\n    dbname: app\n    \
         password: { secrets_manager: prod/db, json_key: pw }\n    sslmode: verify-ca\n    \
         ca_bundle: /etc/ca.pem\n    query_slow: 250ms\n    saturation_high: 0.9\n    \
         timeouts: { tcp: 1s }\n    rds_instance_id: prod\n    aws: { region: eu-central-1 }\n    \
         target_session_attrs: any\n",
    )
    .unwrap();
    let t = &t[0];
    assert_eq!(t.port, 5432);
    assert_eq!(
        t.password,
        PasswordSource::SecretsManager {
            secret_id: "prod/db".into(),
            json_key: "pw".into()
        }
    );
    assert_eq!(t.sslmode, SslMode::VerifyCa);
    assert_eq!(t.query_slow, Duration::from_millis(250));
    assert_eq!(t.timeouts.tcp, Duration::from_secs(1));
    assert_eq!(t.timeouts.dns, Duration::from_secs(2));
    assert_eq!(t.target_session_attrs, SessionAttrs::Any);
    assert_eq!(t.aws.region.as_deref(), Some("eu-central-1"));
    assert_eq!(t.timeouts.total(), std::time::Duration::from_secs(22));
}

#[test]
fn problems_are_positioned_and_all_reported() {
    let errs = parse(
        "probes:\n  - name: a\n    host: h\n    user: u\n    sslmode: require\n    hots: x\n  \
         - name: b\n    host: h\n    user: u\n    sslmode: verify-full\n  \
         - name: c\n    host: h\n    user: u\n    sslmode: require\n    password: { env: X, rds_iam: true }\n",
    )
    .unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 3, "{text:#?}");
    assert!(
        text[0].contains(":6:5: probes[0]: unknown field `hots`"),
        "{}",
        text[0]
    );
    assert!(
        text[1].contains(":7:5: probes[1] (b): sslmode verify-full needs `ca_bundle`"),
        "{}",
        text[1]
    );
    assert!(
        text[2].contains("probes[2]") && text[2].contains("exactly one"),
        "{}",
        text[2]
    );
}

#[test]
fn password_may_not_be_inline_in_config() {
    let errs = parse("probes:\n  - name: a\n    host: h\n    user: u\n    sslmode: disable\n    password: hunter2\n")
        .unwrap_err();
    assert!(errs[0].message.contains("password"), "{}", errs[0]);
    assert!(!errs[0].message.contains("hunter2"), "{}", errs[0]);
}

#[test]
fn missing_probes_key_is_an_error() {
    let errs = parse("listen: 127.0.0.1:9090\n").unwrap_err();
    assert!(errs[0].message.contains("no `probes:`"), "{}", errs[0]);
}

#[test]
fn url_follows_libpq_conventions() {
    let t = ProbeTarget::from_url(
        "postgresql://app%40x@db.example:6432/mass%20spec?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=2",
    )
    .unwrap();
    assert_eq!(
        (t.user.as_str(), t.host.as_str(), t.port),
        ("app@x", "db.example", 6432)
    );
    assert_eq!(t.dbname, "mass spec");
    assert_eq!(t.ca_bundle.as_deref(), Some(Path::new("/ca.pem")));
    assert_eq!(t.timeouts.tcp, Duration::from_secs(2));
    assert_eq!(t.password, PasswordSource::Env("PGPASSWORD".into()));
    assert_eq!(t.name, "app@x@db.example:6432/mass spec");

    let t = ProbeTarget::from_url("postgres://u:s3cret@[::1]/?sslmode=require").unwrap();
    assert_eq!(
        (t.host.as_str(), t.port, t.dbname.as_str()),
        ("::1", 5432, "u")
    );
    assert_eq!(t.password, PasswordSource::Inline(Secret::new("s3cret")));
    assert!(!t.name.contains("s3cret"));
    assert!(!format!("{t:?}").contains("s3cret"));
}

#[test]
fn url_errors_are_clear() {
    let cases = [
        ("mysql://u@h/db", "postgresql://"),
        ("postgresql://h/db?sslmode=require", "needs a user"),
        ("postgresql://u@h:99999/db?sslmode=require", "port"),
        (
            "postgresql://u@h/db?sslmode=allow",
            "sslmode=allow is not supported",
        ),
        (
            "postgresql://u@h/db?sslmode=require&foo=1",
            "unknown URL parameter `foo`",
        ),
        ("postgresql://u@h/db?sslmode=verify-ca", "needs a CA bundle"),
    ];
    for (url, want) in cases {
        // HOME without ~/.postgresql/root.crt is the usual case; a developer machine
        // that has one would make the last case pass verification setup instead.
        let err = ProbeTarget::from_url(url);
        if want == "needs a CA bundle" && err.is_ok() {
            continue;
        }
        let err = err.unwrap_err();
        assert!(err.contains(want), "{url}: {err}");
    }
}
