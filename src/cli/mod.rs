//! The command line: argument parsing and exit codes. One file per command; each parses
//! its own arguments and returns an [`ExitCode`]. This is the only place that uses
//! `anyhow` and decides exit statuses (0 ok, 1 "unhealthy" where a command defines it,
//! 2 usage, config or input errors).

mod generate;
mod generate_dashboards;
mod history;
mod history_alerts;
mod otel;
mod probe;
mod replay;
mod report;
mod run;
mod timeline;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// burnwatch turns Sloth-format SLO specs into trustworthy pages, burn dashboards and
/// postmortem evidence.
#[derive(Debug, Parser)]
#[command(name = "burnwatch", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log format for diagnostics on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "BURNWATCH_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// Export traces over OTLP/HTTP (protobuf) to this OpenTelemetry collector, e.g.
    /// http://otel-collector:4318 (`/v1/traces` is appended).
    ///
    /// Spans: `evaluation` per daemon tick, `source.poll` per source and tick, one per API
    /// call (`cloudwatch.get_metric_data`, `prometheus.query_range`,
    /// `stepfunctions.list_executions`, `batch.list_jobs`, `rds.describe_db_instances`,
    /// `rds.describe_events`), `probe` per probe run with `probe.<step>` children (target and
    /// classification as attributes; never credentials). Without this flag, traces are
    /// exported when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
    /// OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` appended) is set, unless
    /// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none; otherwise nothing is exported.
    /// The service name is OTEL_SERVICE_NAME, default `burnwatch`. Spans still batched are
    /// flushed when the command ends (also after SIGTERM of `run`).
    #[arg(long, global = true, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check SLO specs (files or folders) and report every problem as FILE:LINE:COL.
    ///
    /// Accepts Sloth's three formats: `version: prometheus/v1`, the Kubernetes
    /// `PrometheusServiceLevel` CRD (sloth.slok.dev/v1) and OpenSLO `v1alpha`, with
    /// several documents per file. Exit 0 when valid (warnings are printed but do not
    /// fail), 2 when any problem is found.
    Validate(validate::Args),
    /// Active diagnostic probes (`probe db`: database connectivity, layer by layer).
    Probe(probe::Args),
    /// Read the history store: probe runs (and, with the daemon, alerts).
    History(history::Args),
    /// Generate artifacts from SLO specs (Prometheus rules, ...).
    #[command(subcommand)]
    Generate(generate::Target),
    /// Run the daemon: evaluate SLOs on schedule, page through Alertmanager and SNS, serve
    /// /metrics and the API. SIGTERM/SIGINT stop it gracefully.
    Run(run::Args),
    /// The incident timeline for a postmortem: alert transitions, notifications, probe
    /// classification changes (with ids), RDS events and the error budget consumed.
    Timeline(timeline::Args),
    /// The weekly SLO review: budget consumed per SLO, worst hours, alerts fired.
    Report(report::Args),
    /// Backtest: evaluate recorded data through the real evaluator and print every alert
    /// transition.
    ///
    /// Reads JSON Lines ({"ts","slo_id","good","total"} per SLO and minute), evaluates
    /// every --eval-interval from the first recorded timestamp to the end of the last
    /// recorded minute (or --until), and prints each page/ticket that fires or resolves,
    /// then a summary. --json prints one object per transition and a summary object.
    /// Exit 0 when replayed, 2 on bad specs or data (with FILE:LINE).
    Replay(replay::Args),
}

/// Parse the command line, run the command, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let otel = match init_logging(cli.log_format, cli.otlp_endpoint.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("burnwatch: error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Probe(args) => probe::run(args),
        Command::History(args) => history::run(args),
        Command::Generate(target) => generate::run(target),
        Command::Run(args) => run::run(args),
        Command::Timeline(args) => timeline::run(args),
        Command::Report(args) => report::run(args),
        Command::Replay(args) => replay::run(args),
    };
    // Flush the spans still batched before the process exits.
    if let Some(guard) = otel {
        guard.shutdown();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("burnwatch: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs to stderr (filter from `BURNWATCH_LOG`, default `info`) and, when configured,
/// spans to an OTLP collector (see [`otel`]). An unusable OTLP setting is an error (exit
/// 2); logging is set up first so the message is written either way.
fn init_logging(
    format: LogFormat,
    otlp_flag: Option<&str>,
) -> Result<Option<otel::OtelGuard>, String> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer, Registry};

    let target = otel::resolve(otlp_flag, |name| std::env::var(name).ok());
    let provider = match &target {
        Ok(Some(t)) => Some(otel::provider(t)),
        _ => None,
    }
    .transpose();
    let filter =
        EnvFilter::try_from_env("BURNWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    let traces = match &provider {
        Ok(Some(p)) => Some(
            tracing_opentelemetry::layer()
                .with_tracer(otel::tracer(p))
                // The module is in `code.module.name`; `target` is the probe target's.
                .with_target(false)
                .with_filter(EnvFilter::new(otel::TRACE_FILTER)),
        ),
        _ => None,
    };
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(traces)
        .try_init();
    target?;
    Ok(provider?.map(otel::OtelGuard::new))
}

/// Print diagnostics to stderr; returns true when any is an error.
pub(crate) fn print_diagnostics(diags: &[crate::spec::Diagnostic]) -> bool {
    let mut errors = false;
    for d in diags {
        eprintln!("{d}");
        errors |= d.severity == crate::spec::DiagSeverity::Error;
    }
    errors
}

/// Options shared by every command that reads specs.
#[derive(Debug, Clone, clap::Args)]
pub struct SpecOptions {
    /// SLO period for specs that do not set one (Sloth's --default-slo-period).
    #[arg(long, default_value = "30d", value_parser = parse_duration)]
    pub period: crate::spec::Duration,
    /// Folder of Sloth AlertWindows files; replaces the built-in 30d/28d catalog.
    #[arg(long, value_name = "DIR")]
    pub windows: Option<std::path::PathBuf>,
}

impl SpecOptions {
    /// The catalog and period, or an error naming the bad windows file.
    pub fn load_options(&self) -> anyhow::Result<crate::spec::LoadOptions> {
        let catalog = match &self.windows {
            Some(dir) => crate::spec::WindowCatalog::from_dir(dir).map_err(|diags| {
                let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("invalid alert windows:\n{}", lines.join("\n"))
            })?,
            None => crate::spec::WindowCatalog::builtin(),
        };
        catalog
            .require(self.period)
            .map_err(|m| anyhow::anyhow!("--period {}: {m}", self.period))?;
        Ok(crate::spec::LoadOptions {
            period: self.period,
            catalog,
        })
    }
}

/// clap value parser for Prometheus durations.
pub fn parse_duration(s: &str) -> Result<crate::spec::Duration, String> {
    crate::spec::Duration::parse_positive(s).map_err(|e| e.to_string())
}

/// The start of a range that reaches `span` back from `to`, clamped at the Unix epoch.
///
/// `--since` and `--period` accept any duration the parser does (up to 2^64 ms, some 584
/// million years), and chrono panics on a `DateTime - TimeDelta` that leaves its range of
/// ±262,143 years. The store holds nothing older than the epoch (every timestamp came from
/// the clock of a running burnwatch), and its fixed-width text form only has four-digit
/// years, so a span further back than that means "everything", not an error.
pub(crate) fn start_before(
    to: chrono::DateTime<chrono::Utc>,
    span: crate::spec::Duration,
) -> chrono::DateTime<chrono::Utc> {
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    i64::try_from(span.as_millis())
        .ok()
        .and_then(chrono::TimeDelta::try_milliseconds)
        .and_then(|d| to.checked_sub_signed(d))
        .map_or(epoch, |from| from.max(epoch))
}

/// clap value parser for RFC 3339 timestamps.
pub fn parse_ts(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            format!("{s:?} is not an RFC 3339 timestamp such as 2026-11-20T10:00:00Z: {e}")
        })
}

/// The history store a command reads: `storage.path` of `--config FILE`, else of
/// `./burnwatch.yaml` when it exists, else the default `data/burnwatch.sqlite`. A bad
/// config prints its diagnostics and yields exit code 2.
pub(crate) fn store_path(config: Option<&std::path::Path>) -> Result<std::path::PathBuf, ExitCode> {
    store_and_url(config).map(|(path, _)| path)
}

/// Like [`store_path`], plus the base URL of the daemon's API (for permalinks).
pub(crate) fn store_and_url(
    config: Option<&std::path::Path>,
) -> Result<(std::path::PathBuf, String), ExitCode> {
    let file = match config {
        Some(f) => f.to_path_buf(),
        None if std::path::Path::new(crate::config::DEFAULT_FILE).exists() => {
            std::path::PathBuf::from(crate::config::DEFAULT_FILE)
        }
        None => {
            return Ok((
                crate::config::default_storage_path(),
                "http://127.0.0.1:9464".to_string(),
            ));
        }
    };
    match crate::config::Config::load(&file) {
        Ok((c, _)) => {
            let url = c.external_url();
            Ok((c.storage.path, url))
        }
        Err(diags) => {
            print_diagnostics(&diags);
            Err(ExitCode::from(2))
        }
    }
}

/// Load specs and print their diagnostics. When any is an error, also print
/// `<what>: N error(s)` and return `Err(exit code 2)` for the caller to return.
pub(crate) fn load_valid_specs(
    paths: &[std::path::PathBuf],
    options: &crate::spec::LoadOptions,
    what: &str,
) -> Result<crate::spec::Loaded, ExitCode> {
    let loaded = crate::spec::load_paths(paths, options);
    if print_diagnostics(&loaded.diagnostics) {
        let n = loaded.errors().count();
        eprintln!("{what}: {n} error{}", if n == 1 { "" } else { "s" });
        return Err(ExitCode::from(2));
    }
    Ok(loaded)
}
