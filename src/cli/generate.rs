//! `burnwatch generate`: produce artifacts from SLO specs. `generate prometheus` writes
//! Sloth-compatible rule files; more targets (dashboards) are further subcommands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::{SpecOptions, parse_duration};
use crate::rules::{self, GenerateError};
use crate::spec::{Duration, Labels};

/// What to generate.
#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Sloth-compatible Prometheus recording and alerting rules (one rule file).
    ///
    /// For every SLO: Sloth v0.16's SLI recordings, metadata recordings and page/ticket
    /// multi-window multi-burn-rate alerts, byte-compatible with `sloth generate`.
    /// PrometheusServiceLevel specs (and every spec with --k8s) become Prometheus Operator
    /// `PrometheusRule` objects. burnwatch's AWS plugin SLIs are written over the series
    /// YACE exports (see the README); an SLI with no such form is an error unless
    /// --skip-unmapped is given. Exit 0 on success, 2 on invalid specs or generation errors.
    Prometheus(PrometheusArgs),
    /// Grafana dashboards: an overview of every SLO and one burn dashboard per service.
    ///
    /// Panels query the Sloth-named series burnwatch serves on /metrics (and Prometheus
    /// evaluating `generate prometheus` output records), so they work either way.
    /// `--check` compares with DIR instead of writing (exit 1 when out of date).
    Dashboards(super::generate_dashboards::Args),
}

/// Arguments of `burnwatch generate prometheus`.
#[derive(Debug, clap::Args)]
pub struct PrometheusArgs {
    /// Spec files or folders (folders are searched recursively for *.yaml and *.yml).
    #[arg(default_value = "slo-specs")]
    paths: Vec<PathBuf>,
    /// Write the rules to FILE instead of standard output (`-` is standard output).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    spec: SpecOptions,
    /// Extra label for every SLO's recording rules (repeatable), merged after the spec's
    /// labels as Sloth's --extra-labels does.
    #[arg(short = 'l', long = "extra-labels", value_name = "K=V", value_parser = parse_label)]
    extra_labels: Vec<(String, String)>,
    /// Emit Prometheus Operator PrometheusRule objects for every spec document.
    #[arg(long)]
    k8s: bool,
    /// Leave out the SLI and metadata recording rules (the alerts still use them).
    #[arg(long)]
    disable_recordings: bool,
    /// Leave out the alert rules.
    #[arg(long)]
    disable_alerts: bool,
    /// Record the period SLI as errors/total over the whole period instead of Sloth's mean of
    /// 5m ratios (exact under uneven traffic; one long-range query per SLO).
    #[arg(long)]
    exact_period: bool,
    /// Never record NaN or Inf: no traffic records no SLI sample instead of NaN, error ratios
    /// are capped at 1, and objective 100 gets no (infinite) burn-rate rules.
    #[arg(long)]
    nan_guard: bool,
    /// Add an `SLIDataMissing` ticket alert per SLO that fires when its SLI has no data.
    #[arg(long)]
    no_data_alerts: bool,
    /// How long the SLI must be missing before `SLIDataMissing` fires.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration, requires = "no_data_alerts")]
    no_data_for: Duration,
    /// Leave out SLOs whose plugin SLI has no PromQL form (with a warning naming each)
    /// instead of failing.
    #[arg(long)]
    skip_unmapped: bool,
    /// Version written in the header and the `sloth_version` label (default
    /// `burnwatch-<version>`); set it to match an existing Sloth deployment's output.
    #[arg(long, value_name = "TEXT")]
    sloth_version: Option<String>,
}

/// Run `burnwatch generate <target>`.
pub fn run(target: Target) -> anyhow::Result<ExitCode> {
    match target {
        Target::Prometheus(args) => prometheus(args),
        Target::Dashboards(args) => super::generate_dashboards::run(args),
    }
}

fn prometheus(args: PrometheusArgs) -> anyhow::Result<ExitCode> {
    let load = args.spec.load_options()?;
    let loaded =
        match super::load_valid_specs(&args.paths, &load, "generation failed, errors in the specs")
        {
            Ok(l) => l,
            Err(code) => return Ok(code),
        };
    let opts = rules::Options {
        default_period: load.period,
        catalog: load.catalog,
        extra_labels: args.extra_labels.into_iter().collect::<Labels>(),
        disable_recordings: args.disable_recordings,
        disable_alerts: args.disable_alerts,
        k8s: args.k8s,
        exact_period: args.exact_period,
        nan_guard: args.nan_guard,
        no_data_for: args.no_data_alerts.then_some(args.no_data_for),
        skip_unmapped: args.skip_unmapped,
        version: args.sloth_version.unwrap_or_else(rules::default_version),
    };
    let generated = match rules::generate(&loaded.documents, &opts) {
        Ok(g) => g,
        Err(errors) => {
            let mut unmapped = false;
            for e in &errors {
                unmapped |= matches!(e, GenerateError::Unmapped(_));
                eprintln!("{e}");
            }
            if unmapped {
                eprintln!(
                    "hint: pass --skip-unmapped to generate the other SLOs and leave these out \
                     (burnwatch itself still evaluates them)"
                );
            }
            return Ok(ExitCode::from(2));
        }
    };
    for s in &generated.skipped {
        eprintln!(
            "{}: warning: SLO {:?} left out of the Prometheus rules (--skip-unmapped): {}",
            s.source, s.slo_id, s.reason
        );
    }
    let text = rules::render(&generated);
    match args.out.as_deref() {
        None => write_stdout(&text)?,
        Some(p) if p == Path::new("-") => write_stdout(&text)?,
        Some(p) => write_file(p, &text)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// Write through a temporary file and rename, so a failed run never leaves half a rule file
/// for Prometheus to load.
fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}

/// clap value parser for `-l key=value`.
fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))?;
    if k.is_empty() || k == "__name__" {
        return Err(format!("{k:?} is not a usable label name"));
    }
    let legacy = k
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if !legacy {
        return Err(format!(
            "label name {k:?} must match [a-zA-Z_][a-zA-Z0-9_]*"
        ));
    }
    if v.is_empty() {
        return Err(format!("label {k:?} needs a value"));
    }
    Ok((k.to_string(), v.to_string()))
}
