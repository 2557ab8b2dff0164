//! The command line: argument parsing and exit codes. One file per command; each parses
//! its own arguments and returns an [`ExitCode`]. This is the only place that uses
//! `anyhow` and decides exit statuses (0 ok, 1 "unhealthy" where a command defines it,
//! 2 usage, config or input errors).

mod replay;
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
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Replay(args) => replay::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("burnwatch: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("BURNWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
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
