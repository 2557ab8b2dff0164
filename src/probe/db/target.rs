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

    /// Parse a libpq connection URI, as an on-call engineer types it:
    /// `postgresql://USER[:PASSWORD]@HOST[:PORT][/DB][?sslmode=…&sslrootcert=FILE&…]`.
    ///
    /// libpq's conventions: the password comes from `PGPASSWORD` unless the URL has one;
    /// `sslmode` defaults to `verify-full` here (libpq's default `prefer` would hide
    /// exactly the TLS problems the probe looks for); `sslrootcert` defaults to
    /// `~/.postgresql/root.crt` when that file exists. Query parameters also accepted:
    /// `connect_timeout` (seconds, the TCP step), `application_name`,
    /// `target_session_attrs`. Unknown parameters are errors, as in libpq.
    pub fn from_url(url: &str) -> Result<ProbeTarget, String> {
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or("the URL must start with postgresql:// (libpq connection URI)")?;
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match main.split_once('/') {
            Some((a, p)) => (a, p),
            None => (main, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, inline_password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pw)) => (percent_decode(user)?, Some(percent_decode(pw)?)),
                None => (percent_decode(u)?, None),
            },
            None => (String::new(), None),
        };
        if user.is_empty() {
            return Err("the URL needs a user: postgresql://USER@HOST:PORT/DB".into());
        }
        if hostport.contains(',') {
            return Err("probe one host at a time; the URL lists several".into());
        }
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err("the URL needs a host: postgresql://USER@HOST:PORT/DB".into());
        }
        let dbname = if path.is_empty() {
            user.clone()
        } else {
            percent_decode(path)?
        };
        let mut t = ProbeTarget::new(
            &format!("{user}@{hostport}/{dbname}"),
            &host,
            port,
            &dbname,
            &user,
        );
        t.password = match inline_password {
            Some(pw) => PasswordSource::Inline(Secret::new(pw)),
            None => PasswordSource::Env("PGPASSWORD".into()),
        };
        let mut rootcert = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("URL parameter `{pair}` needs a value (key=value)"))?;
            let v = percent_decode(v)?;
            match k {
                "sslmode" => {
                    t.sslmode = SslMode::parse(&v).ok_or_else(|| {
                        format!("sslmode={v} is not supported; use disable, prefer, require, verify-ca or verify-full")
                    })?;
                }
                "sslrootcert" => rootcert = Some(PathBuf::from(v)),
                "connect_timeout" => {
                    let secs: u64 = v.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("connect_timeout={v} must be a positive number of seconds")
                    })?;
                    t.timeouts.tcp = Duration::from_secs(secs);
                }
                "application_name" => t.application_name = v,
                "target_session_attrs" => {
                    t.target_session_attrs = SessionAttrs::parse(&v).ok_or_else(|| {
                        format!("target_session_attrs={v} is not supported; use read-write, read-only or any")
                    })?;
                }
                "dbname" => t.dbname = v,
                "user" => t.user = v,
                other => {
                    return Err(format!(
                        "unknown URL parameter `{other}` (supported: sslmode, sslrootcert, \
                         connect_timeout, application_name, target_session_attrs)"
                    ));
                }
            }
        }
        if rootcert.is_none() && t.sslmode.verifies() {
            // libpq's default root certificate file.
            if let Some(home) = std::env::var_os("HOME") {
                let default = Path::new(&home).join(".postgresql/root.crt");
                if default.is_file() {
                    rootcert = Some(default);
                }
            }
        }
        t.ca_bundle = rootcert;
        let problems = t.problems();
        if let Some(p) = problems.first() {
            return Err(if t.sslmode.verifies() && t.ca_bundle.is_none() {
                format!(
                    "sslmode {} (the default) needs a CA bundle: add &sslrootcert=FILE \
                     (for RDS the global bundle, global-bundle.pem), or sslmode=require to skip \
                     verification",
                    t.sslmode.as_str()
                )
            } else {
                p.clone()
            });
        }
        Ok(t)
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or("unclosed [ in an IPv6 host of the URL")?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    let port = match port {
        None | Some("") => 5432,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("port `{p}` in the URL must be a number 1-65535"))?,
    };
    Ok((percent_decode(&host)?, port))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("bad percent-encoding in the URL (expected %XX)")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL decodes to invalid UTF-8".to_string())
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
mod tests {
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
}
