//! The live sources' configuration: the `sources.{cloudwatch, stepfunctions, batch, rds,
//! prometheus}` sections of `burnwatch.yaml`, parsed from the positioned YAML the config
//! stage kept ([`RawSection`]), so every problem is a `FILE:LINE:COL` diagnostic and
//! `burnwatch run` refuses to start (exit 2) rather than run half-configured.
//!
//! ```yaml
//! sources:
//!   cloudwatch: {region: eu-west-1}            # ALB, S3, metric-ratio, Step Functions success
//!   stepfunctions: {calls_per_second: 2}       # optional: latency SLOs (ListExecutions)
//!   batch: {health_queues: [analysis-spot]}    # optional: job success without AWS/Batch metrics
//!   rds: {instances: [mass-spec-db]}           # burnwatch_rds_* gauges, status and events
//!   prometheus: {url: http://prometheus:9090, bearer_token_env: PROM_TOKEN}
//! ```
//!
//! Every AWS section accepts `region`, `endpoint_url` and `profile`; credentials always
//! come from the standard AWS chain. `stepfunctions` and `batch` are needed only to tune
//! them: when an SLO needs one of them and its section is absent, it runs with its
//! defaults and the `cloudwatch` section's connection settings, so one `cloudwatch:` line
//! is enough for the whole AWS platform.

use std::path::Path;

use crate::config::RawSection;
use crate::config::read::{env_name, http_url, strings};
use crate::source::aws::AwsSettings;
use crate::source::batch::BatchSettings;
use crate::source::cloudwatch::CloudWatchSettings;
use crate::source::prometheus::{PromAuth, PrometheusSettings};
use crate::source::rds::RdsSettings;
use crate::source::retry::RetryPolicy;
use crate::source::stepfunctions::LatencySettings;
use crate::spec::Duration;
use crate::spec::diag::{Diagnostic, Diagnostics};
use crate::spec::reader::{MapReader, Mode};
use crate::spec::yaml::{Node, Value};

/// Every configured live source (the `replay` source is configured in `config`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveSourceSettings {
    /// `sources.cloudwatch`.
    pub cloudwatch: Option<AwsSection<CloudWatchSettings>>,
    /// `sources.stepfunctions`.
    pub stepfunctions: Option<AwsSection<LatencySettings>>,
    /// `sources.batch`.
    pub batch: Option<AwsSection<BatchSettings>>,
    /// `sources.rds`, with how often it is read.
    pub rds: Option<AwsSection<RdsSettings>>,
    /// How often the RDS monitor reads (default 1 minute: its gauges are 1-minute metrics).
    pub rds_interval: Duration,
    /// `sources.prometheus`.
    pub prometheus: Option<PrometheusSettings>,
}

impl LiveSourceSettings {
    /// True when no live source is configured.
    pub fn is_empty(&self) -> bool {
        self.cloudwatch.is_none()
            && self.stepfunctions.is_none()
            && self.batch.is_none()
            && self.rds.is_none()
            && self.prometheus.is_none()
    }
}

/// An AWS-backed section: where to connect and the source's own settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AwsSection<T> {
    /// Region, endpoint and profile.
    pub aws: AwsSettings,
    /// The source's settings.
    pub settings: T,
}

/// Default interval of the RDS monitor.
pub const fn default_rds_interval() -> Duration {
    Duration::from_mins(1)
}

/// Parse the live source sections of a configuration (`file` names it in diagnostics;
/// `env` looks up the secrets named by `*_env` fields).
pub fn parse(
    file: &Path,
    sections: &[RawSection],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LiveSourceSettings, Vec<Diagnostic>> {
    let mut diags = Diagnostics::new(file);
    let mut out = LiveSourceSettings {
        rds_interval: default_rds_interval(),
        ..LiveSourceSettings::default()
    };
    for s in sections {
        // `cloudwatch:` without a value means every default.
        let empty = Node {
            pos: s.pos,
            value: Value::Map(Vec::new()),
        };
        let node = if s.node.value == Value::Null {
            &empty
        } else {
            &s.node
        };
        match s.kind.as_str() {
            "cloudwatch" => out.cloudwatch = cloudwatch(node, &mut diags),
            "stepfunctions" => out.stepfunctions = stepfunctions(node, &mut diags),
            "batch" => out.batch = batch(node, &mut diags),
            "rds" => {
                if let Some((section, interval)) = rds(node, &mut diags) {
                    out.rds = Some(section);
                    out.rds_interval = interval;
                }
            }
            "prometheus" => out.prometheus = prometheus(node, env, &mut diags),
            other => diags.error(s.pos, format!("source kind `{other}` has no live source")),
        }
    }
    if diags.error_count() > 0 {
        return Err(diags.into_vec());
    }
    Ok(out)
}

/// A section's mapping (`cloudwatch:` with no value means all defaults).
fn reader<'a>(node: &'a Node, diags: &mut Diagnostics) -> Option<MapReader<'a>> {
    MapReader::new(node, diags, Mode::Strict)
}

fn aws(m: &mut MapReader<'_>, diags: &mut Diagnostics) -> AwsSettings {
    AwsSettings {
        region: m.str("region", diags),
        endpoint_url: m
            .node("endpoint_url")
            .and_then(|n| http_url(n, "endpoint_url", diags)),
        cloudwatch_endpoint_url: None,
        profile: m.str("profile", diags),
    }
}

/// `timeout` (per call) and `max_attempts`.
fn retry(m: &mut MapReader<'_>, diags: &mut Diagnostics) -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    if let Some(t) = m.duration("timeout", diags) {
        policy.call_timeout = t.to_std();
    }
    if let Some(n) = count(m, "max_attempts", 1, 20, diags) {
        policy.max_attempts = n;
    }
    policy
}

/// A whole number in `[min, max]`.
fn count(
    m: &mut MapReader<'_>,
    key: &str,
    min: u32,
    max: u32,
    diags: &mut Diagnostics,
) -> Option<u32> {
    let pos = m.pos_of(key);
    let v = m.number(key, diags)?;
    if v.fract() != 0.0 || v < f64::from(min) || v > f64::from(max) {
        diags.error(
            pos,
            format!("`{key}` must be a whole number from {min} to {max}, found {v}"),
        );
        return None;
    }
    Some(v as u32)
}

/// A positive rate (calls per second).
fn rate(m: &mut MapReader<'_>, key: &str, diags: &mut Diagnostics) -> Option<f64> {
    let pos = m.pos_of(key);
    let v = m.number(key, diags)?;
    if !(v.is_finite() && v > 0.0) {
        diags.error(
            pos,
            format!("`{key}` must be a positive number of calls per second, found {v}"),
        );
        return None;
    }
    Some(v)
}

fn set(target: &mut Duration, value: Option<Duration>) {
    if let Some(v) = value {
        *target = v;
    }
}

fn cloudwatch(node: &Node, diags: &mut Diagnostics) -> Option<AwsSection<CloudWatchSettings>> {
    let mut m = reader(node, diags)?;
    let aws = aws(&mut m, diags);
    let mut s = CloudWatchSettings::default();
    set(&mut s.delay, m.duration("delay", diags));
    set(&mut s.overlap, m.duration("overlap", diags));
    s.backfill = m.duration("backfill", diags);
    s.fetch.retry = retry(&mut m, diags);
    if let Some(r) = rate(&mut m, "calls_per_second", diags) {
        s.fetch.calls_per_sec = r;
    }
    m.finish(diags);
    Some(AwsSection { aws, settings: s })
}

fn stepfunctions(node: &Node, diags: &mut Diagnostics) -> Option<AwsSection<LatencySettings>> {
    let mut m = reader(node, diags)?;
    let aws = aws(&mut m, diags);
    let mut s = LatencySettings::default();
    set(&mut s.delay, m.duration("delay", diags));
    set(&mut s.overlap, m.duration("overlap", diags));
    set(&mut s.lookback, m.duration("lookback", diags));
    s.backfill = m.duration("backfill", diags);
    s.retry = retry(&mut m, diags);
    if let Some(r) = rate(&mut m, "calls_per_second", diags) {
        s.calls_per_sec = r;
    }
    m.finish(diags);
    Some(AwsSection { aws, settings: s })
}

fn batch(node: &Node, diags: &mut Diagnostics) -> Option<AwsSection<BatchSettings>> {
    let mut m = reader(node, diags)?;
    let aws = aws(&mut m, diags);
    let mut s = BatchSettings::default();
    set(&mut s.delay, m.duration("delay", diags));
    set(&mut s.overlap, m.duration("overlap", diags));
    set(&mut s.lookback, m.duration("lookback", diags));
    s.backfill = m.duration("backfill", diags);
    set(&mut s.failure_window, m.duration("failure_window", diags));
    set(&mut s.stuck_after, m.duration("stuck_after", diags));
    s.retry = retry(&mut m, diags);
    if let Some(n) = m.node("health_queues") {
        s.health_queues = strings(n, "health_queues", diags)
            .into_iter()
            .map(|(q, _)| q)
            .collect();
    }
    m.finish(diags);
    Some(AwsSection { aws, settings: s })
}

fn rds(node: &Node, diags: &mut Diagnostics) -> Option<(AwsSection<RdsSettings>, Duration)> {
    let mut m = reader(node, diags)?;
    let aws = aws(&mut m, diags);
    let mut s = RdsSettings::default();
    let instances_pos = m.pos_of("instances");
    match m.required_node("instances", diags) {
        Some(n) => {
            s.instances = strings(n, "instances", diags)
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            if s.instances.is_empty() {
                diags.error(
                    instances_pos,
                    "`instances` must list at least one DB instance identifier",
                );
            }
        }
        None => return None,
    }
    set(&mut s.delay, m.duration("delay", diags));
    set(&mut s.window, m.duration("window", diags));
    set(&mut s.events_lookback, m.duration("events_lookback", diags));
    s.retry = retry(&mut m, diags);
    s.fetch.retry = s.retry.clone();
    let interval = m
        .duration("interval", diags)
        .unwrap_or_else(default_rds_interval);
    m.finish(diags);
    Some((AwsSection { aws, settings: s }, interval))
}

fn prometheus(
    node: &Node,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<PrometheusSettings> {
    let mut m = reader(node, diags)?;
    let mut s = PrometheusSettings::default();
    let url = m
        .required_node("url", diags)
        .and_then(|n| http_url(n, "url", diags));
    let bearer_pos = m.pos_of("bearer_token_env");
    let bearer = m
        .node("bearer_token_env")
        .and_then(|n| env_name(n, "bearer_token_env", diags));
    let basic_pos = m.pos_of("basic_auth");
    let basic = m.node("basic_auth").and_then(|n| basic_auth(n, env, diags));
    match (bearer, basic) {
        (Some(_), Some(_)) => diags.error(
            basic_pos,
            "set either `bearer_token_env` or `basic_auth`, not both",
        ),
        (Some(var), None) => match env(&var).filter(|v| !v.is_empty()) {
            Some(token) => s.auth = PromAuth::Bearer(token),
            None => diags.error(
                bearer_pos,
                format!("environment variable {var} (bearer_token_env) is not set or empty"),
            ),
        },
        (None, Some(auth)) => s.auth = auth,
        (None, None) => {}
    }
    if let Some(b) = m.duration("bucket", diags) {
        // The window store keeps one value per minute: a shorter bucket would overwrite
        // its own earlier half-minute.
        if b.as_millis() % 60_000 != 0 {
            diags.error(
                m.pos_of("bucket"),
                format!("`bucket` must be a whole number of minutes (1m, 2m, 5m), found {b}"),
            );
        }
        s.bucket = b;
    }
    set(&mut s.delay, m.duration("delay", diags));
    set(&mut s.overlap, m.duration("overlap", diags));
    s.backfill = m.duration("backfill", diags);
    s.retry = retry(&mut m, diags);
    if let Some(n) = count(&mut m, "max_steps", 10, 11_000, diags) {
        s.max_steps = n;
    }
    m.finish(diags);
    s.url = url?;
    Some(s)
}

fn basic_auth(
    node: &Node,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<PromAuth> {
    let mut m = reader(node, diags)?;
    let username = m
        .required_node("username", diags)
        .and_then(|n| match n.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                diags.error(n.pos, "`basic_auth.username` must be a string");
                None
            }
        });
    let pos = m.pos_of("password_env");
    let var = m
        .required_node("password_env", diags)
        .and_then(|n| env_name(n, "basic_auth.password_env", diags));
    m.finish(diags);
    let (username, var) = (username?, var?);
    match env(&var).filter(|v| !v.is_empty()) {
        Some(password) => Some(PromAuth::Basic { username, password }),
        None => {
            diags.error(
                pos,
                format!("environment variable {var} (basic_auth.password_env) is not set or empty"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use super::*;

    fn sections(yaml: &str) -> Vec<RawSection> {
        let file = Path::new("burnwatch.yaml");
        let (config, _) = crate::config::Config::parse(file, yaml, &|_| None).unwrap();
        config.sources.other
    }

    fn env(name: &str) -> Option<String> {
        (name == "PROM_TOKEN").then(|| "s3cret".to_string())
    }

    fn errors(yaml: &str) -> Vec<String> {
        parse(Path::new("burnwatch.yaml"), &sections(yaml), &env)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_section_parses_with_defaults_and_overrides() {
        let yaml = "sources:
  cloudwatch: {region: eu-west-1, delay: 3m, calls_per_second: 5, timeout: 10s, max_attempts: 3}
  stepfunctions: {lookback: 2d}
  batch: {health_queues: [analysis-spot, analysis-od], stuck_after: 45m}
  rds: {instances: [mass-spec-db], interval: 2m}
  prometheus: {url: 'http://127.0.0.1:9090', bearer_token_env: PROM_TOKEN, bucket: 2m}
";
        let s = parse(Path::new("burnwatch.yaml"), &sections(yaml), &env).unwrap();
        let cw = s.cloudwatch.unwrap();
        assert_eq!(cw.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(cw.settings.delay, Duration::from_mins(3));
        assert_eq!(cw.settings.overlap, Duration::from_mins(5));
        assert_eq!(cw.settings.fetch.calls_per_sec, 5.0);
        assert_eq!(cw.settings.fetch.retry.max_attempts, 3);
        assert_eq!(
            cw.settings.fetch.retry.call_timeout,
            StdDuration::from_secs(10)
        );
        assert_eq!(
            s.stepfunctions.unwrap().settings.lookback,
            Duration::from_days(2)
        );
        let b = s.batch.unwrap().settings;
        assert_eq!(b.health_queues, ["analysis-spot", "analysis-od"]);
        assert_eq!(b.stuck_after, Duration::from_mins(45));
        assert_eq!(s.rds.unwrap().settings.instances, ["mass-spec-db"]);
        assert_eq!(s.rds_interval, Duration::from_mins(2));
        let p = s.prometheus.unwrap();
        assert_eq!(p.auth, PromAuth::Bearer("s3cret".into()));
        assert_eq!(p.bucket, Duration::from_mins(2));
    }

    #[test]
    fn problems_are_positioned() {
        assert_eq!(
            errors("sources:\n  cloudwatch: {regoin: eu-west-1}\n"),
            ["burnwatch.yaml:2:16: unknown field `regoin`"]
        );
        assert_eq!(
            errors("sources:\n  rds: {}\n"),
            ["burnwatch.yaml:2:8: missing required field `instances`"]
        );
        assert_eq!(
            errors("sources:\n  rds:\n    instances: []\n"),
            ["burnwatch.yaml:3:16: `instances` must list at least one DB instance identifier"]
        );
        assert_eq!(
            errors("sources:\n  prometheus: {url: 'http://p:9090', bearer_token_env: NOPE}\n"),
            [
                "burnwatch.yaml:2:56: environment variable NOPE (bearer_token_env) is not set or empty"
            ]
        );
        assert_eq!(
            errors("sources:\n  prometheus: {url: 'http://p:9090', bucket: 30s}\n"),
            [
                "burnwatch.yaml:2:46: `bucket` must be a whole number of minutes (1m, 2m, 5m), found 30s"
            ]
        );
        assert_eq!(
            errors("sources:\n  cloudwatch:\n    max_attempts: 0\n"),
            ["burnwatch.yaml:3:19: `max_attempts` must be a whole number from 1 to 20, found 0"]
        );
        assert_eq!(
            errors("sources:\n  prometheus: {url: 'ftp://p'}\n"),
            [
                "burnwatch.yaml:2:21: `url`: \"ftp://p\" must be an http:// or https:// URL (found scheme \"ftp\")"
            ]
        );
    }

    /// The live sources documented (commented out) in the demo configuration are valid.
    #[test]
    fn the_documented_example_parses() {
        let demo = include_str!("../../examples/demo/burnwatch.yaml");
        let block: Vec<&str> = demo
            .lines()
            .skip_while(|l| !l.starts_with("  # cloudwatch:"))
            .take_while(|l| l.starts_with("  # "))
            .collect();
        assert!(block.len() > 20, "example block not found");
        let yaml: String = std::iter::once("sources:".to_string())
            .chain(block.iter().map(|l| format!("  {}", &l[4..])))
            .collect::<Vec<_>>()
            .join("\n");
        let s = parse(Path::new("burnwatch.yaml"), &sections(&yaml), &env).unwrap();
        assert!(s.cloudwatch.is_some() && s.stepfunctions.is_some() && s.batch.is_some());
        assert_eq!(s.rds.unwrap().settings.instances, ["mass-spec-db"]);
        assert_eq!(
            s.prometheus.unwrap().auth,
            PromAuth::Bearer("s3cret".into())
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let yaml = "sources:\n  prometheus: {url: 'http://p:9090', bearer_token_env: PROM_TOKEN}\n";
        let s = parse(Path::new("burnwatch.yaml"), &sections(yaml), &env).unwrap();
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
