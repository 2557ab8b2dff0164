//! The daemon's configuration file (`burnwatch.yaml`): typed, strict and positioned.
//!
//! Every field is documented here and has a named default; unknown keys are errors; every
//! problem is reported as `FILE:LINE:COL: message` through the same positioned YAML reader
//! the spec loaders use ([`crate::spec::yaml`], [`MapReader`] in [`Mode::Strict`]).
//! Durations are Prometheus durations (`30s`, `5m`), never bare numbers.
//!
//! Relative paths (specs, windows, storage, replay files) are resolved against the folder
//! of the configuration file, as Prometheus resolves `rule_files`, so a config behaves the
//! same whatever the working directory.
//!
//! Secrets never appear in the file: fields ending in `_env` name an environment variable
//! that holds the secret, read once at load time into a [`Secret`] whose `Debug` output is
//! redacted. Sections owned by other stages (`sources` other than `replay`, `probes`) are
//! kept as positioned YAML nodes and parsed by those stages, so their errors keep
//! `FILE:LINE:COL` too.

mod notifiers;
pub(crate) mod read;
mod sources;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use notifiers::{AlertmanagerConfig, BasicAuth, Notifiers, SnsConfig};
pub use sources::{RawSection, ReplaySourceConfig, SOURCE_KINDS, Sources};

use crate::spec::Duration;
use crate::spec::diag::{Diagnostic, Diagnostics, Pos};
use crate::spec::reader::{MapReader, Mode};
use crate::spec::yaml::{self, Node};

/// The default configuration file name, looked up in the working directory.
pub const DEFAULT_FILE: &str = "burnwatch.yaml";

/// Everything `burnwatch run` needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this configuration was read from (for messages).
    pub file: PathBuf,
    /// SLO spec files or folders (Sloth formats). Default: `slo-specs`.
    pub specs: Vec<PathBuf>,
    /// The SLO period for specs that do not set one. Default: [`default_period`] (30d).
    pub period: Duration,
    /// Folder of Sloth `AlertWindows` files replacing the built-in 30d/28d catalog.
    pub windows: Option<PathBuf>,
    /// How often SLOs are evaluated. Default: [`default_eval_interval`] (30s).
    pub eval_interval: Duration,
    /// How often a firing alert is re-sent to Alertmanager, as Prometheus'
    /// `--rules.alert.resend-delay`. Default: [`default_resend_delay`] (1m).
    pub resend_delay: Duration,
    /// Address of the HTTP server (`/metrics`, `/api/v1`). Default: [`default_listen`]
    /// (loopback only; exposing it is a deliberate choice).
    pub listen: SocketAddr,
    /// Base URL under which burnwatch's HTTP server is reachable by people, used for
    /// alert `generatorURL`s and links; `None` means `http://<listen>` (see
    /// [`Config::external_url`]), so `--listen` moves the links too.
    pub external_url: Option<String>,
    /// Base URL under which the repository's `runbooks/` folder is browsable (e.g.
    /// `https://github.com/acme/burnwatch/blob/main`); alerts burnwatch writes itself
    /// (database probes) then carry an absolute `runbook_url`. `None`: the relative path
    /// (`runbooks/db-connectivity.md#auth-failed`), as SLO specs write theirs.
    pub runbook_base_url: Option<String>,
    /// The history store.
    pub storage: StorageConfig,
    /// The HTTP API.
    pub api: ApiConfig,
    /// Delivery retries and shutdown of the notification outbox.
    pub outbox: OutboxConfig,
    /// Where pages and tickets go.
    pub notifiers: Notifiers,
    /// Where SLI events come from.
    pub sources: Sources,
    /// Database probes, parsed by the probe stage.
    pub probes: Vec<RawSection>,
}

/// The history store section (`storage:`).
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// SQLite file. Default: [`default_storage_path`] (`data/burnwatch.sqlite`).
    pub path: PathBuf,
    /// How long history is kept (probe runs, transitions, notifications, RDS events,
    /// snapshots); older rows are pruned hourly. Default: [`default_retention`].
    pub retention: Duration,
}

/// The HTTP API section (`api:`).
#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    /// Bearer token required by state-changing endpoints, read from the environment
    /// variable named by `token_env` (default [`DEFAULT_API_TOKEN_ENV`]). When the
    /// variable is unset those endpoints refuse every request.
    pub token: Option<Secret>,
    /// The environment variable the token was read from (for messages).
    pub token_env: String,
}

/// The environment variable holding the API token unless `api.token_env` names another.
pub const DEFAULT_API_TOKEN_ENV: &str = "BURNWATCH_API_TOKEN";

/// The outbox section (`outbox:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Delay before the first retry; doubles per attempt. Default: [`default_initial_backoff`].
    pub initial_backoff: Duration,
    /// Upper bound of the retry delay. Default: [`default_max_backoff`].
    pub max_backoff: Duration,
    /// On SIGTERM/SIGINT, how long to keep delivering before exiting; what is left stays
    /// in the store for the next start. Default: [`default_shutdown_timeout`].
    pub shutdown_timeout: Duration,
    /// Age after which an undeliverable notification that can no longer matter (a resolve,
    /// or a page whose alert has moved on) is given up, recorded as undelivered and
    /// counted. A page for an alert still firing is never given up. Default:
    /// [`default_outbox_max_age`].
    pub max_age: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            shutdown_timeout: default_shutdown_timeout(),
            max_age: default_outbox_max_age(),
        }
    }
}

/// A secret read from the environment. Its `Debug` never shows the value, so a config
/// printed in a log leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// A secret from an environment variable's value, surrounding whitespace trimmed:
    /// a token written with `echo` or mounted from a file ends in a newline, and
    /// `http::auth` trims the token a client presents, so an untrimmed one never matched.
    /// `None` when nothing is left (a blank variable is no secret).
    pub(crate) fn from_env(value: Option<String>) -> Option<Secret> {
        let value = value?;
        let trimmed = value.trim();
        (!trimmed.is_empty()).then(|| Secret(trimmed.to_string()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Default SLO period (Sloth's default).
pub const fn default_period() -> Duration {
    Duration::from_days(30)
}
/// Default evaluation interval: twice a minute keeps the page-quick 5m window fresh
/// without re-reading sources needlessly.
pub const fn default_eval_interval() -> Duration {
    Duration::from_secs(30)
}
/// Prometheus' default `--rules.alert.resend-delay`.
pub const fn default_resend_delay() -> Duration {
    Duration::from_mins(1)
}
/// Loopback and the port reserved for burnwatch's exporter.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}
/// Default history file, relative to the config file's folder.
pub fn default_storage_path() -> PathBuf {
    PathBuf::from("data/burnwatch.sqlite")
}
/// 400 days: a postmortem written a year after the incident still finds its history.
pub const fn default_retention() -> Duration {
    Duration::from_days(400)
}
/// The shortest retention accepted: the history a page's timeline needs.
pub const MIN_RETENTION: Duration = Duration::from_days(1);
/// A day: Alertmanager forgot an undelivered alert hours ago (its `endsAt` passed), and a
/// resolve that arrives a day late tells the on-call nothing the timeline does not.
pub const fn default_outbox_max_age() -> Duration {
    Duration::from_days(1)
}
/// First retry after one second: a blip is retried quickly.
pub const fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}
/// Retries never wait more than a minute, so a page is at most one minute late after the
/// receiver comes back (the outbox is also woken by new notifications).
pub const fn default_max_backoff() -> Duration {
    Duration::from_mins(1)
}
/// Ten seconds of delivery on shutdown, well inside Kubernetes' 30s grace period.
pub const fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Config {
    /// Read and validate `file`, taking secrets from the process environment. Returns all
    /// problems (errors and warnings) when any is an error; warnings alone are returned in
    /// the second element.
    pub fn load(file: &Path) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            vec![Diagnostic {
                file: file.to_path_buf(),
                pos: Pos::new(1, 1),
                severity: crate::spec::DiagSeverity::Error,
                message: format!("cannot read configuration: {e}"),
            }]
        })?;
        Self::parse(file, &text, &|name| std::env::var(name).ok())
    }

    /// Validate `text` as if read from `file`; `env` looks up environment variables (tests
    /// pass their own).
    pub fn parse(
        file: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut diags = Diagnostics::new(file);
        let base = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let nodes = match yaml::parse(text, 0) {
            Ok(n) => n,
            Err(e) => {
                diags.error(e.pos, format!("invalid YAML: {}", e.message));
                return Err(diags.into_vec());
            }
        };
        let empty = Node {
            pos: Pos::new(1, 1),
            value: yaml::Value::Map(Vec::new()),
        };
        if nodes.len() > 1 {
            diags.error(
                nodes[1].pos,
                "the configuration must be a single YAML document",
            );
        }
        // An empty file is a valid configuration: every field has a default.
        let root = match nodes.first() {
            Some(n) if n.value == yaml::Value::Null => &empty,
            Some(n) => n,
            None => &empty,
        };
        let config = read_root(root, file, &base, env, &mut diags);
        let all = diags.into_vec();
        let has_errors = all
            .iter()
            .any(|d| d.severity == crate::spec::DiagSeverity::Error);
        match config {
            Some(c) if !has_errors => Ok((c, all)),
            _ => Err(all),
        }
    }

    /// The base URL for links into burnwatch's HTTP API (no trailing slash).
    pub fn external_url(&self) -> String {
        match &self.external_url {
            Some(u) => u.clone(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The link for a repository path such as `runbooks/db-connectivity.md#auth-failed`:
    /// absolute under [`Config::runbook_base_url`] when set, else the path itself.
    pub fn runbook_url(&self, path: &str) -> String {
        match &self.runbook_base_url {
            Some(base) => format!("{base}/{}", path.trim_start_matches('/')),
            None => path.to_string(),
        }
    }

    /// The spec load options this configuration asks for (period and window catalog).
    pub fn spec_options(&self) -> Result<crate::spec::LoadOptions, Vec<Diagnostic>> {
        let catalog = match &self.windows {
            Some(dir) => crate::spec::WindowCatalog::from_dir(dir)?,
            None => crate::spec::WindowCatalog::builtin(),
        };
        Ok(crate::spec::LoadOptions {
            period: self.period,
            catalog,
        })
    }
}

const ROOT_KEYS: &str = "specs, period, windows, eval_interval, resend_delay, listen, external_url, runbook_base_url, storage, api, outbox, notifiers, sources, probes";

fn read_root(
    root: &Node,
    file: &Path,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<Config> {
    let mut m = MapReader::new(root, diags, Mode::Strict)?;
    let specs = match m.node("specs") {
        Some(n) => read::paths(n, "specs", base, diags),
        None => vec![base.join("slo-specs")],
    };
    let period = m.duration("period", diags).unwrap_or_else(default_period);
    let windows = m.str("windows", diags).map(|w| base.join(w));
    let eval_interval = m
        .duration("eval_interval", diags)
        .unwrap_or_else(default_eval_interval);
    let resend_delay = m
        .duration("resend_delay", diags)
        .unwrap_or_else(default_resend_delay);
    let listen = match m.node("listen") {
        Some(n) => read::socket_addr(n, "listen", diags).unwrap_or_else(default_listen),
        None => default_listen(),
    };
    let external_url = m.node("external_url").and_then(|n| {
        read::http_url(n, "external_url", diags).map(|u| u.trim_end_matches('/').to_string())
    });
    let runbook_base_url = m.node("runbook_base_url").and_then(|n| {
        read::http_url(n, "runbook_base_url", diags).map(|u| u.trim_end_matches('/').to_string())
    });
    let storage = read_storage(m.node("storage"), base, diags);
    let api = read_api(m.node("api"), env, diags);
    let outbox = read_outbox(m.node("outbox"), diags);
    let notifiers = notifiers::read(m.node("notifiers"), env, diags);
    let sources = sources::read(m.node("sources"), base, diags);
    let probes = match m.seq("probes", diags) {
        Some(items) => items
            .iter()
            .map(|n| RawSection {
                kind: "probe".into(),
                pos: n.pos,
                node: n.clone(),
            })
            .collect(),
        None => Vec::new(),
    };
    let unknown_before = diags.error_count();
    m.finish(diags);
    if diags.error_count() > unknown_before {
        // Name the accepted keys once, so a typo is a one-look fix.
        diags.error(root.pos, format!("accepted top-level fields: {ROOT_KEYS}"));
    }
    Some(Config {
        file: file.to_path_buf(),
        specs,
        period,
        windows,
        eval_interval,
        resend_delay,
        listen,
        external_url,
        runbook_base_url,
        storage,
        api,
        outbox,
        notifiers,
        sources,
        probes,
    })
}

fn read_storage(node: Option<&Node>, base: &Path, diags: &mut Diagnostics) -> StorageConfig {
    let mut path = default_storage_path();
    let mut retention = default_retention();
    if let Some(node) = node
        && let Some(mut m) = MapReader::new(node, diags, Mode::Strict)
    {
        if let Some(p) = m.str("path", diags) {
            path = PathBuf::from(p);
        }
        if let Some(d) = m.duration("retention", diags) {
            if d < MIN_RETENTION {
                diags.error(
                    m.pos_of("retention"),
                    format!(
                        "`retention` ({d}) must be at least {MIN_RETENTION}: a page's timeline \
                         needs its history"
                    ),
                );
            } else {
                retention = d;
            }
        }
        m.finish(diags);
    }
    StorageConfig {
        path: base.join(path),
        retention,
    }
}

fn read_api(
    node: Option<&Node>,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> ApiConfig {
    let mut token_env = DEFAULT_API_TOKEN_ENV.to_string();
    if let Some(node) = node
        && let Some(mut m) = MapReader::new(node, diags, Mode::Strict)
    {
        if let Some(n) = m.node("token_env")
            && let Some(name) = read::env_name(n, "api.token_env", diags)
        {
            token_env = name;
        }
        m.finish(diags);
    }
    let token = Secret::from_env(env(&token_env));
    ApiConfig { token, token_env }
}

fn read_outbox(node: Option<&Node>, diags: &mut Diagnostics) -> OutboxConfig {
    let mut out = OutboxConfig::default();
    let Some(node) = node else { return out };
    let Some(mut m) = MapReader::new(node, diags, Mode::Strict) else {
        return out;
    };
    if let Some(d) = m.duration("initial_backoff", diags) {
        out.initial_backoff = d;
    }
    if let Some(d) = m.duration("max_backoff", diags) {
        out.max_backoff = d;
    }
    if let Some(d) = m.duration("shutdown_timeout", diags) {
        out.shutdown_timeout = d;
    }
    if let Some(d) = m.duration("max_age", diags) {
        out.max_age = d;
    }
    if out.max_age < out.max_backoff {
        diags.error(
            m.pos_of("max_age"),
            format!(
                "`max_age` ({}) must not be shorter than `max_backoff` ({}): a notification \
                 must get more than one retry",
                out.max_age, out.max_backoff
            ),
        );
    }
    if out.max_backoff < out.initial_backoff {
        diags.error(
            m.pos_of("max_backoff"),
            format!(
                "`max_backoff` ({}) must not be shorter than `initial_backoff` ({})",
                out.max_backoff, out.initial_backoff
            ),
        );
    }
    m.finish(diags);
    out
}

#[cfg(test)]
mod tests;
