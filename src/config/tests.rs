use std::path::Path;

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, Vec<String>> {
    parse_env(text, &no_env)
}

fn parse_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Vec<String>> {
    Config::parse(Path::new("conf/burnwatch.yaml"), text, env)
        .map(|(c, _)| c)
        .map_err(|d| d.iter().map(ToString::to_string).collect())
}

#[test]
fn empty_file_gives_documented_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.specs, vec![Path::new("conf/slo-specs").to_path_buf()]);
    assert_eq!(c.period, Duration::from_days(30));
    assert_eq!(c.eval_interval, Duration::from_secs(30));
    assert_eq!(c.resend_delay, Duration::from_mins(1));
    assert_eq!(c.listen.to_string(), "127.0.0.1:9464");
    assert_eq!(c.external_url(), "http://127.0.0.1:9464");
    assert_eq!(c.runbook_base_url, None);
    assert_eq!(
        c.runbook_url("runbooks/db-connectivity.md#auth-failed"),
        "runbooks/db-connectivity.md#auth-failed"
    );
    assert_eq!(c.storage.path, Path::new("conf/data/burnwatch.sqlite"));
    assert_eq!(c.storage.retention, Duration::from_days(400));
    assert_eq!(c.outbox.max_age, Duration::from_days(1));
    assert!(c.notifiers.alertmanager.is_none() && c.notifiers.sns.is_none());
    assert!(c.sources.is_empty() && c.probes.is_empty());
    assert_eq!(c.api.token_env, "BURNWATCH_API_TOKEN");
    assert!(c.api.token.is_none());
    assert_eq!(c.outbox, OutboxConfig::default());
}

#[test]
fn full_file_is_read_and_paths_are_relative_to_the_file() {
    let text = r#"
specs: [specs/, ../more.yaml]
period: 28d
eval_interval: 15s
resend_delay: 2m
listen: 0.0.0.0:9999
external_url: https://burnwatch.example.org/
runbook_base_url: https://git.example.org/sre/burnwatch/blob/main/
storage: {path: /var/lib/burnwatch/history.sqlite}
api: {token_env: MY_TOKEN}
outbox: {initial_backoff: 2s, max_backoff: 30s, shutdown_timeout: 5s}
notifiers:
  alertmanager:
    urls: [http://am-0:9093, "http://am-1:9093/"]
    timeout: 5s
    bearer_token_env: AM_TOKEN
  sns:
    topic_arn: arn:aws:sns:eu-west-1:123456789012:pages.fifo
sources:
  cloudwatch: {region: eu-west-1}
  prometheus:
    url: http://prometheus:9090
probes:
  - name: db
    host: db.internal
"#;
    let env = |k: &str| match k {
        "MY_TOKEN" => Some("s3cret".to_string()),
        "AM_TOKEN" => Some("am-secret".to_string()),
        _ => None,
    };
    let c = parse_env(text, &env).unwrap();
    assert_eq!(
        c.specs,
        vec![
            Path::new("conf/specs/").to_path_buf(),
            Path::new("conf/../more.yaml").to_path_buf()
        ]
    );
    assert_eq!(c.period, Duration::from_days(28));
    assert_eq!(c.eval_interval, Duration::from_secs(15));
    assert_eq!(c.resend_delay, Duration::from_mins(2));
    assert_eq!(c.listen.to_string(), "0.0.0.0:9999");
    assert_eq!(c.external_url(), "https://burnwatch.example.org");
    assert_eq!(
        c.runbook_url("runbooks/db-connectivity.md#tcp-refused"),
        "https://git.example.org/sre/burnwatch/blob/main/runbooks/db-connectivity.md#tcp-refused"
    );
    assert_eq!(
        c.storage.path,
        Path::new("/var/lib/burnwatch/history.sqlite")
    );
    assert_eq!(c.api.token.as_ref().map(Secret::expose), Some("s3cret"));
    assert_eq!(c.outbox.max_backoff, Duration::from_secs(30));
    let am = c.notifiers.alertmanager.as_ref().unwrap();
    assert_eq!(am.urls, ["http://am-0:9093", "http://am-1:9093"]);
    assert_eq!(am.timeout, Duration::from_secs(5));
    assert_eq!(
        am.bearer_token.as_ref().map(Secret::expose),
        Some("am-secret")
    );
    let sns = c.notifiers.sns.as_ref().unwrap();
    assert_eq!(sns.region, "eu-west-1", "region comes from the ARN");
    assert_eq!(sns.endpoint_url, None);
    let kinds: Vec<&str> = c.sources.other.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["cloudwatch", "prometheus"]);
    assert_eq!(c.sources.raw("prometheus").unwrap().pos, Pos::new(22, 5));
    assert_eq!(c.probes.len(), 1);
    assert_eq!(c.probes[0].pos, Pos::new(24, 5));
}

#[test]
fn secrets_never_show_in_debug_output() {
    let env = |k: &str| (k == "BURNWATCH_API_TOKEN").then(|| "hunter2".to_string());
    let c = parse_env("", &env).unwrap();
    let printed = format!("{c:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("redacted"));
}

#[test]
fn errors_carry_file_line_and_column() {
    let text = "eval_interval: 30\nlisten: localhost:80\nresend_delay: 1x\nnotifiers:\n  alertmanager:\n    urls: [ftp://x]\n  pager: {}\nsources:\n  kafka: {}\nrunbook_base_url: runbooks/\n";
    let errs = parse(text).unwrap_err();
    let expect = [
        "conf/burnwatch.yaml:1:16: `eval_interval` must be a duration such as 5m or 30d, found an integer",
        "conf/burnwatch.yaml:2:9: `listen`: \"localhost:80\" is not an IP address and port",
        "conf/burnwatch.yaml:3:15: `resend_delay`: invalid duration \"1x\"",
        "conf/burnwatch.yaml:6:12: `notifiers.alertmanager.urls`: \"ftp://x\" must be an http:// or https:// URL",
        "conf/burnwatch.yaml:7:3: unknown field `pager`",
        "conf/burnwatch.yaml:9:3: unknown source `kafka`",
        "conf/burnwatch.yaml:10:19: `runbook_base_url`: \"runbooks/\" is not a URL",
    ];
    for e in expect {
        assert!(
            errs.iter().any(|got| got.starts_with(e)),
            "missing {e:?} in {errs:#?}"
        );
    }
}

#[test]
fn unknown_top_level_keys_are_errors_with_a_list_of_accepted_ones() {
    let errs = parse("eval_intervall: 30s\n").unwrap_err();
    assert!(errs[0].starts_with("conf/burnwatch.yaml:1:1: "), "{errs:?}");
    assert!(
        errs.iter()
            .any(|e| e.contains("unknown field `eval_intervall`")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.contains("accepted top-level fields")));
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let errs = parse("listen: [\n").unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("conf/burnwatch.yaml:"), "{errs:?}");
    assert!(errs[0].contains("invalid YAML"), "{errs:?}");
}

#[test]
fn missing_secret_variable_is_an_error_at_the_field() {
    let text = "notifiers:\n  alertmanager:\n    urls: http://am:9093\n    bearer_token_env: NOT_SET_ANYWHERE\n";
    let errs = parse(text).unwrap_err();
    assert_eq!(
        errs,
        [
            "conf/burnwatch.yaml:4:23: environment variable NOT_SET_ANYWHERE (bearer_token_env) is not set or empty"
        ]
    );
}

#[test]
fn sns_needs_a_valid_arn() {
    let errs = parse("notifiers:\n  sns: {topic_arn: pages}\n").unwrap_err();
    assert!(
        errs.iter().any(|e| e.starts_with(
            "conf/burnwatch.yaml:2:20: `topic_arn`: \"pages\" is not an SNS topic ARN"
        )),
        "{errs:?}"
    );
    let errs = parse("notifiers:\n  sns: {region: x}\n").unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.contains("missing required field `topic_arn`")),
        "{errs:?}"
    );
}

#[test]
fn replay_source_needs_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rec.jsonl"), "").unwrap();
    let file = dir.path().join("burnwatch.yaml");
    let ok = Config::parse(
        &file,
        "sources:\n  replay: {file: rec.jsonl, loop: true}\n",
        &no_env,
    )
    .unwrap()
    .0;
    let replay = ok.sources.replay.unwrap();
    assert_eq!(replay.file, dir.path().join("rec.jsonl"));
    assert!(replay.r#loop);
    let errs = Config::parse(
        &file,
        "sources:\n  replay:\n    file: missing.jsonl\n",
        &no_env,
    )
    .unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].pos, Pos::new(3, 11));
    assert!(errs[0].message.contains("does not exist"), "{errs:?}");
}

#[test]
fn backoff_bounds_are_checked() {
    let errs = parse("outbox: {initial_backoff: 1m, max_backoff: 10s}\n").unwrap_err();
    assert!(
        errs[0].contains("`max_backoff` (10s) must not be shorter than `initial_backoff` (1m)"),
        "{errs:?}"
    );
}

#[test]
fn the_demo_configuration_is_valid() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/burnwatch.yaml");
    let (c, warnings) = Config::load(&file).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(c.sources.replay.is_some());
    assert!(c.spec_options().is_ok());
}

#[test]
fn the_demos_commented_alertmanager_block_parses_and_the_watchdog_defaults_on() {
    // The demo documents every Alertmanager key in a commented block; uncommented it must
    // be a valid configuration with the documented values.
    let demo = include_str!("../../examples/demo/burnwatch.yaml");
    let block: String = demo
        .lines()
        .skip_while(|l| l.trim() != "# alertmanager:")
        .take_while(|l| l.trim() != "# sns:")
        .map(|l| format!("{}\n", l.replacen("# ", "", 1)))
        .collect();
    assert!(block.contains("watchdog:"), "{block}");
    let env = |name: &str| (name == "ALERTMANAGER_TOKEN").then(|| "t".to_string());
    let c = parse_env(&format!("notifiers:\n{block}"), &env).unwrap();
    let am = c.notifiers.alertmanager.as_ref().unwrap();
    assert!(am.watchdog);
    let off =
        parse("notifiers:\n  alertmanager:\n    urls: [http://am:9093]\n    watchdog: false\n")
            .unwrap();
    assert!(!off.notifiers.alertmanager.unwrap().watchdog);
    let default = parse("notifiers:\n  alertmanager:\n    urls: [http://am:9093]\n").unwrap();
    assert!(default.notifiers.alertmanager.unwrap().watchdog);
    let bad =
        parse("notifiers:\n  alertmanager:\n    urls: [http://am:9093]\n    watchdog: sometimes\n")
            .unwrap_err();
    assert!(
        bad[0].starts_with("conf/burnwatch.yaml:4:15: `watchdog` must be true or false"),
        "{bad:?}"
    );
}

#[test]
fn retention_and_outbox_max_age_are_read_and_bounded() {
    let c = parse("storage: {retention: 90d}\noutbox: {max_age: 6h}\n").unwrap();
    assert_eq!(c.storage.retention, Duration::from_days(90));
    assert_eq!(c.outbox.max_age, Duration::from_hours(6));

    let errs = parse("storage:\n  retention: 12h\n").unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("conf/burnwatch.yaml:2:14:") && errs[0].contains("at least 1d"),
        "{errs:?}"
    );
    let errs = parse("outbox: {max_backoff: 5m, max_age: 1m}\n").unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.contains("`max_age` (1m) must not be shorter than `max_backoff` (5m)")),
        "{errs:?}"
    );
}
/// A token written with `echo` or read from a mounted file ends in a newline; the
/// presented token is trimmed (`http::auth`), so an untrimmed env value made every
/// guarded request 401. Whitespace alone is no token at all.
#[test]
fn env_secrets_are_trimmed_and_blank_means_unset() {
    let text =
        "notifiers:\n  alertmanager:\n    urls: http://am:9093\n    bearer_token_env: AM_TOKEN\n";
    let env = |k: &str| match k {
        "BURNWATCH_API_TOKEN" => Some(" s3cret\n".to_string()),
        "AM_TOKEN" => Some("am-token\r\n".to_string()),
        _ => None,
    };
    let c = parse_env(text, &env).unwrap();
    assert_eq!(c.api.token.as_ref().map(Secret::expose), Some("s3cret"));
    let am = c.notifiers.alertmanager.as_ref().unwrap();
    assert_eq!(
        am.bearer_token.as_ref().map(Secret::expose),
        Some("am-token")
    );

    let blank = |k: &str| (k == "BURNWATCH_API_TOKEN").then(|| " \n".to_string());
    assert!(parse_env("", &blank).unwrap().api.token.is_none());
}

/// `user:pass@` in an Alertmanager URL would carry the password into logs, the store
/// (receiver ids) and `/metrics` labels: refused at the URL's position. The message never
/// repeats the password.
#[test]
fn credentials_in_an_alertmanager_url_are_refused_at_the_url() {
    let text = "notifiers:\n  alertmanager:\n    urls:\n      - http://am:9093\n      - https://ops:hunter2@am2:9093\n";
    let errs = parse(text).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("conf/burnwatch.yaml:5:9: "), "{errs:?}");
    assert!(errs[0].contains("credentials"), "{errs:?}");
    assert!(
        errs[0].contains("basic_auth: {username, password_env}"),
        "{errs:?}"
    );
    assert!(!errs[0].contains("hunter2"), "{errs:?}");
    // A user name alone is refused too: it still ends up in every label.
    let text = "notifiers:\n  alertmanager:\n    urls: http://ops@am:9093\n";
    let errs = parse(text).unwrap_err();
    assert!(
        errs[0].starts_with("conf/burnwatch.yaml:3:11: "),
        "{errs:?}"
    );
}

#[test]
fn alertmanager_basic_auth_reads_the_password_from_the_environment() {
    let text = "notifiers:\n  alertmanager:\n    urls: http://am:9093\n    basic_auth: {username: ops, password_env: AM_PASSWORD}\n";
    let env = |k: &str| (k == "AM_PASSWORD").then(|| "hunter2\n".to_string());
    let c = parse_env(text, &env).unwrap();
    let am = c.notifiers.alertmanager.as_ref().unwrap();
    let auth = am.basic_auth.as_ref().unwrap();
    assert_eq!(auth.username, "ops");
    assert_eq!(auth.password.expose(), "hunter2");
    assert!(!format!("{c:?}").contains("hunter2"));

    let errs = parse(text).unwrap_err();
    assert_eq!(
        errs,
        [
            "conf/burnwatch.yaml:4:47: environment variable AM_PASSWORD (basic_auth.password_env) is not set or empty"
        ]
    );
    let both = format!("{text}    bearer_token_env: AM_PASSWORD\n");
    let errs = parse_env(&both, &env).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("cannot both be set"), "{errs:?}");
}
