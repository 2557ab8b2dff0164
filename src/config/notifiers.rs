//! The `notifiers:` section: Alertmanager URLs and an SNS topic.

use crate::spec::Duration;
use crate::spec::diag::Diagnostics;
use crate::spec::reader::{MapReader, Mode};
use crate::spec::yaml::Node;

use super::{Secret, read};

/// Where notifications go. Both are optional; with neither configured, alerts are still
/// evaluated, recorded in history and shown by the API, and the log says nobody is paged.
#[derive(Debug, Clone, Default)]
pub struct Notifiers {
    /// Alertmanager (`notifiers.alertmanager`).
    pub alertmanager: Option<AlertmanagerConfig>,
    /// AWS SNS (`notifiers.sns`).
    pub sns: Option<SnsConfig>,
}

/// `notifiers.alertmanager`: every alert is posted to each URL, as Prometheus does for an
/// Alertmanager cluster (the cluster deduplicates).
#[derive(Debug, Clone)]
pub struct AlertmanagerConfig {
    /// Base URLs (`http://am:9093`); `/api/v2/alerts` is appended.
    pub urls: Vec<String>,
    /// Per-request timeout. Default: [`default_alertmanager_timeout`].
    pub timeout: Duration,
    /// Bearer token sent as `Authorization`, read from the variable named by
    /// `bearer_token_env`.
    pub bearer_token: Option<Secret>,
    /// HTTP basic auth (`basic_auth: {username, password_env}`); exclusive with
    /// `bearer_token_env`. Credentials never go in `urls`: those become receiver ids,
    /// which are logged, stored and exported as labels.
    pub basic_auth: Option<BasicAuth>,
    /// Send the always-firing `BurnwatchWatchdog` alert
    /// ([`crate::notify::watchdog`]) for a dead man's switch. Default: true.
    pub watchdog: bool,
}

/// `notifiers.alertmanager.basic_auth`: a user name, and the password read from the
/// environment variable named by `password_env`.
#[derive(Debug, Clone)]
pub struct BasicAuth {
    /// The user name (not secret; it may be logged).
    pub username: String,
    /// The password.
    pub password: Secret,
}

/// Prometheus' default Alertmanager timeout.
pub const fn default_alertmanager_timeout() -> Duration {
    Duration::from_secs(10)
}

/// `notifiers.sns`: one topic; credentials come from the AWS default chain (environment,
/// IRSA web identity, instance profile), never from this file.
#[derive(Debug, Clone)]
pub struct SnsConfig {
    /// The topic ARN; a name ending in `.fifo` selects FIFO publishing.
    pub topic_arn: String,
    /// AWS region; default: the region in the ARN.
    pub region: String,
    /// Endpoint override (VPC endpoint, or an emulator in tests).
    pub endpoint_url: Option<String>,
    /// Per-request timeout. Default: [`default_sns_timeout`].
    pub timeout: Duration,
}

/// SNS Publish timeout: generous, the SDK retries inside it.
pub const fn default_sns_timeout() -> Duration {
    Duration::from_secs(10)
}

pub(super) fn read(
    node: Option<&Node>,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Notifiers {
    let mut out = Notifiers::default();
    let Some(node) = node else { return out };
    let Some(mut m) = MapReader::new(node, diags, Mode::Strict) else {
        return out;
    };
    if let Some(n) = m.node("alertmanager") {
        out.alertmanager = read_alertmanager(n, env, diags);
    }
    if let Some(n) = m.node("sns") {
        out.sns = read_sns(n, diags);
    }
    m.finish(diags);
    out
}

fn read_alertmanager(
    node: &Node,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<AlertmanagerConfig> {
    let mut m = MapReader::new(node, diags, Mode::Strict)?;
    let mut urls = Vec::new();
    if let Some(n) = m.required_node("urls", diags) {
        let items = read::strings(n, "notifiers.alertmanager.urls", diags);
        if items.is_empty() && matches!(n.value, crate::spec::yaml::Value::Seq(_)) {
            diags.error(n.pos, "`urls` must list at least one Alertmanager URL");
        }
        for (_, item) in items {
            if let Some(u) = read::http_url(&item, "notifiers.alertmanager.urls", diags)
                && !has_userinfo(&u, &item, diags)
            {
                urls.push(u.trim_end_matches('/').to_string());
            }
        }
    }
    let timeout = m
        .duration("timeout", diags)
        .unwrap_or_else(default_alertmanager_timeout);
    let mut bearer_token = None;
    if let Some(n) = m.node("bearer_token_env")
        && let Some(name) = read::env_name(n, "bearer_token_env", diags)
    {
        match Secret::from_env(env(&name)) {
            Some(v) => bearer_token = Some(v),
            None => diags.error(
                n.pos,
                format!("environment variable {name} (bearer_token_env) is not set or empty"),
            ),
        }
    }
    let basic_auth = m
        .node("basic_auth")
        .and_then(|n| read_basic_auth(n, env, diags));
    if basic_auth.is_some() && bearer_token.is_some() {
        diags.error(
            m.pos_of("basic_auth"),
            "`basic_auth` and `bearer_token_env` cannot both be set; keep one",
        );
    }
    let watchdog = m.bool("watchdog", diags).unwrap_or(true);
    m.finish(diags);
    Some(AlertmanagerConfig {
        urls,
        timeout,
        bearer_token,
        basic_auth,
        watchdog,
    })
}

fn read_basic_auth(
    node: &Node,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<BasicAuth> {
    let mut m = MapReader::new(node, diags, Mode::Strict)?;
    let username = match m.required_node("username", diags) {
        Some(n) => match n.as_str() {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            _ => {
                diags.error(n.pos, "`basic_auth.username` must be a non-empty string");
                None
            }
        },
        None => None,
    };
    let mut password = None;
    if let Some(n) = m.required_node("password_env", diags)
        && let Some(name) = read::env_name(n, "basic_auth.password_env", diags)
    {
        password = Secret::from_env(env(&name));
        if password.is_none() {
            diags.error(
                n.pos,
                format!(
                    "environment variable {name} (basic_auth.password_env) is not set or empty"
                ),
            );
        }
    }
    m.finish(diags);
    Some(BasicAuth {
        username: username?,
        password: password?,
    })
}

fn read_sns(node: &Node, diags: &mut Diagnostics) -> Option<SnsConfig> {
    let mut m = MapReader::new(node, diags, Mode::Strict)?;
    let arn_pos = m.pos_of("topic_arn");
    let topic_arn = match m.required_node("topic_arn", diags) {
        Some(n) => match n.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                diags.error(
                    n.pos,
                    format!("`topic_arn` must be a string, found a {}", n.type_name()),
                );
                None
            }
        },
        None => None,
    };
    // arn:partition:sns:region:account:name
    let mut arn_ok = false;
    let arn_region = topic_arn.as_deref().and_then(|arn| {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && !parts[5].is_empty() {
            arn_ok = true;
            Some(parts[3].to_string())
        } else {
            diags.error(
                arn_pos,
                format!(
                    "`topic_arn`: {arn:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
                ),
            );
            None
        }
    });
    let region = m.str("region", diags).or(arn_region).unwrap_or_default();
    if region.is_empty() && arn_ok {
        diags.error(
            m.pos(),
            "`region` is required when the topic ARN does not name one",
        );
    }
    let endpoint_url = match m.node("endpoint_url") {
        Some(n) => read::http_url(n, "endpoint_url", diags),
        None => None,
    };
    let timeout = m
        .duration("timeout", diags)
        .unwrap_or_else(default_sns_timeout);
    m.finish(diags);
    Some(SnsConfig {
        topic_arn: topic_arn?,
        region,
        endpoint_url,
        timeout,
    })
}

/// Refuse `user:pass@` in an Alertmanager URL (recording a diagnostic at `node`): the URL
/// becomes the receiver id, which is logged, stored with every notification and exported
/// as a `/metrics` label, so a password in it would leak everywhere. The message names the
/// way to authenticate without it and never repeats the URL.
fn has_userinfo(url: &str, node: &Node, diags: &mut Diagnostics) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    if u.username().is_empty() && u.password().is_none() {
        return false;
    }
    diags.error(
        node.pos,
        "`notifiers.alertmanager.urls`: credentials in the URL (user:password@) are not \
         allowed, they would show in logs, history and /metrics labels; remove them and \
         use `basic_auth: {username, password_env}` (or `bearer_token_env`)",
    );
    true
}
