//! What to probe: [`ProbeTarget`], read from the `probes:` list of a YAML file (the
//! daemon's config embeds the same list) or from a libpq-style URL typed by an on-call
//! engineer.
//!
//! ```yaml
//! probes:
//!   - name: mass-spec-rds
//!     host: mass-spec.abcdefghij.eu-central-1.rds.amazonaws.com
//!     port: 5432
//!     dbname: massspec
//!     user: burnwatch_probe
//!     password: { rds_iam: true }      # or { env: VAR } or { secrets_manager: ID, json_key: password }
//!     sslmode: verify-full             # disable | prefer | require | verify-ca | verify-full
//!     ca_bundle: /etc/burnwatch/rds-global-bundle.pem
//!     target_session_attrs: read-write  # read-write | read-only | any
//!     query_slow: 500ms
//!     saturation_high: 0.8
//!     timeouts: { dns: 2s, tcp: 3s, tls: 3s, auth: 5s, query: 3s, saturation: 3s, rds: 5s }
//!     rds_instance_id: mass-spec-prod
//!     aws: { region: eu-central-1 }
//!     interval: 60s                     # daemon only, see [`super::schedule`]
//!     alert: { severity: page, after: 3 }
//! ```
//!
//! Secrets never live in the file: the password is a *reference* (an environment
//! variable, a Secrets Manager secret, or an IAM token minted per run).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::schedule::{self, ProbeSchedule};
use crate::spec::Duration;
use crate::spec::diag::{Diagnostic, Diagnostics, Pos};
use crate::spec::yaml::{self, Node, Value};

/// One database endpoint to probe.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeTarget {
    /// Name in runs, metrics, alerts and `--target`.
    pub name: String,
    /// DNS name or IP literal of the endpoint (the RDS instance or proxy endpoint).
    pub host: String,
    /// TCP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Database to log in to.
    #[serde(default = "default_dbname")]
    pub dbname: String,
    /// Role to log in as (a dedicated low-privilege probe role with `pg_monitor`).
    pub user: String,
    /// Where the password comes from.
    #[serde(default)]
    pub password: PasswordSource,
    /// libpq's sslmode; verification is on by default.
    #[serde(default)]
    pub sslmode: SslMode,
    /// PEM bundle of CA certificates to verify the server against (the RDS global bundle
    /// in production). Required for `verify-ca` and `verify-full`.
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
    /// Which kind of server the target must be; `read-write` (default) flags a read-only
    /// server, which after a failover means the endpoint still points at the old primary.
    #[serde(default)]
    pub target_session_attrs: SessionAttrs,
    /// The probe query; its latency is compared with `query_slow`.
    #[serde(default = "default_query")]
    pub query: String,
    /// Latency above which the query step fails as `query_slow`.
    #[serde(default = "default_query_slow")]
    pub query_slow: Duration,
    /// Share of usable connection slots (0..1] in use above which the saturation step
    /// fails as `saturation_high`.
    #[serde(default = "default_saturation_high")]
    pub saturation_high: f64,
    /// Per-step timeouts; the whole run never takes longer than their sum.
    #[serde(default)]
    pub timeouts: StepTimeouts,
    /// RDS DB instance identifier; when set, the `rds` step reads its status and events.
    #[serde(default)]
    pub rds_instance_id: Option<String>,
    /// AWS settings for Secrets Manager, IAM tokens and the RDS API.
    #[serde(default)]
    pub aws: AwsSettings,
    /// `application_name` the probe's sessions carry, so DBAs can tell them apart in
    /// `pg_stat_activity`.
    #[serde(default = "default_application_name")]
    pub application_name: String,
    /// How often the daemon runs the target and when it alerts (`interval`, `alert`;
    /// read by [`super::schedule`], not by serde, for positioned messages).
    #[serde(skip)]
    pub schedule: ProbeSchedule,
}

fn default_port() -> u16 {
    5432
}
fn default_dbname() -> String {
    "postgres".into()
}
fn default_query() -> String {
    "SELECT 1".into()
}
fn default_query_slow() -> Duration {
    Duration::from_millis(500)
}
fn default_saturation_high() -> f64 {
    0.8
}
fn default_application_name() -> String {
    "burnwatch-probe".into()
}

/// AWS client settings shared by the steps that call AWS.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Region; defaults to the SDK's chain (`AWS_REGION`, profile, IMDS).
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint override (VPC endpoints, or moto in tests).
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

/// libpq's `sslmode` values burnwatch supports (`allow` is not: it prefers plaintext).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plaintext only; the TLS step is skipped.
    Disable,
    /// TLS when the server offers it (unverified), plaintext otherwise.
    Prefer,
    /// TLS required, certificate not verified.
    Require,
    /// TLS required, certificate chain verified against the CA bundle, host name not.
    VerifyCa,
    /// TLS required, chain and host name verified (the default).
    #[default]
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
    /// True for the modes that check the certificate against the CA bundle.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// What kind of server the target must be (libpq's `target_session_attrs`, subset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionAttrs {
    /// Must accept writes (the primary); the default, because the platform writes.
    #[default]
    ReadWrite,
    /// Must be read-only (a replica endpoint).
    ReadOnly,
    /// Either.
    Any,
}

impl SessionAttrs {
    fn parse(s: &str) -> Option<SessionAttrs> {
        Some(match s {
            "read-write" => SessionAttrs::ReadWrite,
            "read-only" => SessionAttrs::ReadOnly,
            "any" => SessionAttrs::Any,
            _ => return None,
        })
    }
}

/// A password held in memory only; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that sends it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where the probe gets its password. In YAML exactly one of
/// `{ env: VAR }`, `{ secrets_manager: SECRET_ID, json_key: KEY }` or `{ rds_iam: true }`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub enum PasswordSource {
    /// No password (trust, peer or certificate authentication).
    #[default]
    None,
    /// An environment variable of the burnwatch process; unset means no password is sent
    /// (as libpq does with `PGPASSWORD`).
    Env(String),
    /// An AWS Secrets Manager secret, fetched on every run (so rotation is picked up). A
    /// JSON secret (the RDS-managed shape `{"username":…,"password":…}`) yields its
    /// `json_key` field (default `password`); a plain string secret is the password.
    SecretsManager {
        /// Secret name or ARN.
        secret_id: String,
        /// Field of a JSON secret that holds the password.
        json_key: String,
    },
    /// A fresh RDS IAM authentication token (valid 15 minutes), signed locally with the
    /// process's AWS credentials.
    RdsIam,
    /// A password given inline in a `--url` (never accepted from a config file).
    Inline(Secret),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordSpec {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    secrets_manager: Option<String>,
    #[serde(default)]
    json_key: Option<String>,
    #[serde(default)]
    rds_iam: bool,
}

impl TryFrom<serde_json::Value> for PasswordSource {
    type Error = String;
    /// Parsed through a JSON value so that a password written inline is rejected
    /// without echoing it (serde's own message would quote the value).
    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        if !v.is_object() {
            return Err(
                "`password` must be a mapping naming where the password comes from: \
                        { env: VAR }, { secrets_manager: SECRET_ID } or { rds_iam: true }; \
                        never write the password itself in the file"
                    .into(),
            );
        }
        let p: PasswordSpec = serde_json::from_value(v).map_err(|e| format!("`password`: {e}"))?;
        if p.json_key.is_some() && p.secrets_manager.is_none() {
            return Err("`password.json_key` only applies with `secrets_manager`".into());
        }
        match (p.env, p.secrets_manager, p.rds_iam) {
            (Some(var), None, false) if !var.is_empty() => Ok(PasswordSource::Env(var)),
            (None, Some(id), false) if !id.is_empty() => Ok(PasswordSource::SecretsManager {
                secret_id: id,
                json_key: p.json_key.unwrap_or_else(|| "password".into()),
            }),
            (None, None, true) => Ok(PasswordSource::RdsIam),
            (None, None, false) => Ok(PasswordSource::None),
            _ => Err(
                "`password` takes exactly one non-empty source: `env: VAR`, \
                      `secrets_manager: SECRET_ID` or `rds_iam: true` (never the password itself)"
                    .into(),
            ),
        }
    }
}

/// Timeout of each step. The defaults suit an RDS endpoint in the same region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepTimeouts {
    /// Name resolution.
    pub dns: Duration,
    /// TCP connect (all addresses in parallel).
    pub tcp: Duration,
    /// SSLRequest and TLS handshake.
    pub tls: Duration,
    /// Fetching the password plus the PostgreSQL startup and authentication exchange.
    pub auth: Duration,
    /// The probe query and the read-only check.
    pub query: Duration,
    /// The connection-count query.
    pub saturation: Duration,
    /// The RDS API calls.
    pub rds: Duration,
}

impl Default for StepTimeouts {
    fn default() -> Self {
        StepTimeouts {
            dns: Duration::from_secs(2),
            tcp: Duration::from_secs(3),
            tls: Duration::from_secs(3),
            auth: Duration::from_secs(5),
            query: Duration::from_secs(3),
            saturation: Duration::from_secs(3),
            rds: Duration::from_secs(5),
        }
    }
}

impl StepTimeouts {
    /// The longest a run can take: the sum of every step's timeout.
    pub fn total(&self) -> std::time::Duration {
        [
            self.dns,
            self.tcp,
            self.tls,
            self.auth,
            self.query,
            self.saturation,
            self.rds,
        ]
        .iter()
        .map(|d| d.to_std())
        .sum()
    }
    fn all(&self) -> [(&'static str, Duration); 7] {
        [
            ("dns", self.dns),
            ("tcp", self.tcp),
            ("tls", self.tls),
            ("auth", self.auth),
            ("query", self.query),
            ("saturation", self.saturation),
            ("rds", self.rds),
        ]
    }
}

impl ProbeTarget {
    /// A target with the defaults for everything but the endpoint and the user.
    pub fn new(name: &str, host: &str, port: u16, dbname: &str, user: &str) -> ProbeTarget {
        ProbeTarget {
            name: name.into(),
            host: host.into(),
            port,
            dbname: dbname.into(),
            user: user.into(),
            password: PasswordSource::None,
            sslmode: SslMode::default(),
            ca_bundle: None,
            target_session_attrs: SessionAttrs::default(),
            query: default_query(),
            query_slow: default_query_slow(),
            saturation_high: default_saturation_high(),
            timeouts: StepTimeouts::default(),
            rds_instance_id: None,
            aws: AwsSettings::default(),
            application_name: default_application_name(),
            schedule: ProbeSchedule::default(),
        }
    }

    /// Problems that make the target unusable, each naming the field and the fix.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push("`name` must not be empty".into());
        }
        if self.host.trim().is_empty() {
            out.push("`host` must not be empty".into());
        }
        if self.port == 0 {
            out.push("`port` must be between 1 and 65535".into());
        }
        if self.user.is_empty() {
            out.push("`user` must not be empty".into());
        }
        if self.sslmode.verifies() && self.ca_bundle.is_none() {
            out.push(format!(
                "sslmode {} needs `ca_bundle`, a PEM file of CA certificates (for RDS the \
                 global bundle, global-bundle.pem); or choose sslmode require to skip verification",
                self.sslmode.as_str()
            ));
        }
        if !(self.saturation_high > 0.0 && self.saturation_high <= 1.0) {
            out.push(format!(
                "`saturation_high` must be a share of connection slots in (0, 1], found {}",
                self.saturation_high
            ));
        }
        if self.query.trim().is_empty() {
            out.push("`query` must not be empty".into());
        }
        for (step, d) in self.timeouts.all() {
            if d.as_millis() == 0 {
                out.push(format!("`timeouts.{step}` must be greater than zero"));
            }
        }
        if matches!(&self.rds_instance_id, Some(id) if id.trim().is_empty()) {
            out.push("`rds_instance_id` must not be empty when set".into());
        }
        out
    }
}

/// Read the `probes:` list from a YAML node (the value under `probes:`), reporting every
/// problem at its position. This is the one parsing entry point: `probe db --config FILE`
/// uses it through [`load_file`], and the daemon's config loader can hand it the node of
/// its own `probes:` key.
pub fn parse_probes(node: &Node, diags: &mut Diagnostics) -> Vec<ProbeTarget> {
    let Value::Seq(items) = &node.value else {
        diags.error(
            node.pos,
            format!(
                "`probes` must be a list of targets, found a {}",
                node.type_name()
            ),
        );
        return Vec::new();
    };
    let mut out: Vec<ProbeTarget> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let schedule = schedule::read(item, &format!("probes[{i}]"), diags);
        let mut json = to_json(item);
        if let Some(fields) = json.as_object_mut() {
            for key in schedule::KEYS {
                fields.remove(key);
            }
        }
        match serde_json::from_value::<ProbeTarget>(json) {
            Ok(mut t) => {
                t.schedule = schedule;
                for p in t.problems() {
                    diags.error(item.pos, format!("probes[{i}] ({}): {p}", t.name));
                }
                if out.iter().any(|o| o.name == t.name) {
                    diags.error(
                        item.pos,
                        format!("probes[{i}]: duplicate target name `{}`", t.name),
                    );
                }
                out.push(t);
            }
            Err(e) => {
                let msg = e.to_string();
                let pos = field_pos(item, &msg).unwrap_or(item.pos);
                diags.error(pos, format!("probes[{i}]: {msg}"));
            }
        }
    }
    out
}

/// Read a YAML file whose top level is a mapping with a `probes:` list (other keys are
/// left to their owners, so the daemon's config file works too).
pub fn load_file(path: &Path) -> Result<Vec<ProbeTarget>, Vec<Diagnostic>> {
    let mut diags = Diagnostics::new(path);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.error(Pos::new(1, 1), format!("cannot read probe config: {e}"));
            return Err(diags.into_vec());
        }
    };
    let docs = match yaml::parse(&text, 0) {
        Ok(d) => d,
        Err(e) => {
            diags.error(e.pos, e.message);
            return Err(diags.into_vec());
        }
    };
    let probes = docs.first().and_then(|d| match &d.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.name == "probes")
            .map(|(_, v)| v),
        _ => None,
    });
    let Some(probes) = probes else {
        diags.error(
            Pos::new(1, 1),
            "no `probes:` list found; expected a mapping with `probes:` at the top level",
        );
        return Err(diags.into_vec());
    };
    let targets = parse_probes(probes, &mut diags);
    if diags.error_count() > 0 {
        return Err(diags.into_vec());
    }
    Ok(targets)
}

/// The position of the field a serde message names (`unknown field `hots``), if any.
fn field_pos(item: &Node, msg: &str) -> Option<Pos> {
    let name = msg.split('`').nth(1)?;
    find_key(item, name)
}

fn find_key(node: &Node, name: &str) -> Option<Pos> {
    match &node.value {
        Value::Map(entries) => entries.iter().find_map(|(k, v)| {
            if k.name == name {
                Some(k.pos)
            } else {
                find_key(v, name)
            }
        }),
        Value::Seq(items) => items.iter().find_map(|n| find_key(n, name)),
        _ => None,
    }
}

fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests;
mod url;
