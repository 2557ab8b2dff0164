//! `burnwatch replay`: evaluate recorded data through the real window store and evaluator
//! and print every alert transition ("would this have paged during last Tuesday's
//! incident, and how fast?").

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat};

use super::{SpecOptions, parse_duration, print_diagnostics};
use crate::eval::{AlertKind, Change, EvalOptions, Evaluator, Transition, describe_pairs};
use crate::replay::{self, ReplayOptions, record};

/// Arguments of `burnwatch replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Spec files or folders defining the SLOs in the data.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    spec: Vec<PathBuf>,
    /// Recorded data, JSON Lines: {"ts","slo_id","good","total"} per SLO and minute
    /// (or {"ts","slo_id","error_ratio"} for raw SLIs).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Time between evaluations; evaluations sit on the epoch-aligned grid.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    eval_interval: crate::spec::Duration,
    /// Last evaluation time (RFC 3339); default: the end of the last recorded minute.
    #[arg(long, value_name = "TS", value_parser = parse_time)]
    until: Option<i64>,
    /// Minimum events in a pair's long window before it may fire.
    #[arg(long, default_value_t = crate::eval::DEFAULT_MIN_EVENTS)]
    min_events: u64,
    /// Time without any datapoint before an SLO raises the data-missing ticket; 0 disables.
    #[arg(long, default_value = "15m", value_parser = parse_duration_or_zero)]
    data_missing_after: crate::spec::Duration,
    /// One JSON object per transition, then a summary object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    spec_options: SpecOptions,
}

/// Run the replay and print transitions and a summary.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = args.spec_options.load_options()?;
    let loaded = crate::spec::load_paths(&args.spec, &options);
    if print_diagnostics(&loaded.diagnostics) {
        eprintln!("replay: the specs have errors; fix them first (see `burnwatch validate`)");
        return Ok(ExitCode::from(2));
    }
    let slos: Vec<_> = loaded.slos().cloned().collect();
    if slos.is_empty() {
        anyhow::bail!("no SLOs in {}", display_paths(&args.spec));
    }
    let interval = i64::try_from(args.eval_interval.as_secs()).unwrap_or(i64::MAX);
    if interval < 1 || !args.eval_interval.as_millis().is_multiple_of(1000) {
        anyhow::bail!("--eval-interval must be a whole number of seconds, at least 1s");
    }
    let missing = args.data_missing_after.as_secs();
    let mut evaluator = Evaluator::new(
        &slos,
        &options,
        EvalOptions {
            eval_interval_secs: interval,
            min_events: args.min_events,
            data_missing_after_secs: (missing > 0)
                .then(|| i64::try_from(missing).unwrap_or(i64::MAX)),
            ..EvalOptions::default()
        },
    )?;

    let file = std::fs::File::open(&args.data)
        .with_context(|| format!("cannot open {}", args.data.display()))?;
    let lines = record::read(BufReader::new(file)).map_err(|e| match e {
        record::ReadError::Line { line, message } => {
            anyhow::anyhow!("{}:{line}: {message}", args.data.display())
        }
        e => anyhow::anyhow!("{}: {e}", args.data.display()),
    })?;
    let report = replay::run(
        &mut evaluator,
        &slos,
        &lines,
        ReplayOptions {
            eval_interval: interval,
            until: args.until,
        },
    )
    .map_err(|e| match e {
        replay::ReplayError::Line { line, message } => {
            anyhow::anyhow!("{}:{line}: {message}", args.data.display())
        }
        e => anyhow::anyhow!("{}: {e}", args.data.display()),
    })?;

    let mut out = std::io::stdout().lock();
    let written = if args.json {
        write_json(&mut out, &report)
    } else {
        write_text(&mut out, &report, args.eval_interval)
    };
    // A closed pipe (`| head`) is not an error worth a message.
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS).map_err(Into::into),
    }
}

/// `--until` values.
fn parse_time(s: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .map_err(|e| format!("not an RFC 3339 time such as 2026-11-20T10:00:00Z: {e}"))
}

fn parse_duration_or_zero(s: &str) -> Result<crate::spec::Duration, String> {
    s.parse()
        .map_err(|e: crate::spec::duration::DurationError| e.to_string())
}

fn rfc3339(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `replay --json` contract: one object per transition, then the summary.
fn write_json(out: &mut impl Write, report: &replay::Report) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        ts: String,
        slo_id: &'a str,
        alert: &'a str,
        severity: &'a str,
        state: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Summary {
        summary: bool,
        slos: usize,
        evaluations: u64,
        pages: usize,
        tickets: usize,
    }
    for t in &report.transitions {
        let line = Line {
            ts: rfc3339(t.at),
            slo_id: &t.slo_id,
            alert: &t.alert,
            severity: t.severity.as_str(),
            state: state(t),
        };
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    }
    serde_json::to_writer(
        &mut *out,
        &Summary {
            summary: true,
            slos: report.slos,
            evaluations: report.evaluations,
            pages: report.pages,
            tickets: report.tickets,
        },
    )?;
    writeln!(out)
}

fn state(t: &Transition) -> &'static str {
    match t.change {
        Change::Fired => "firing",
        Change::Resolved => "resolved",
    }
}

/// Human output: one line per transition with the burn rates behind it, and for each
/// resolution how long the alert fired.
fn write_text(
    out: &mut impl Write,
    report: &replay::Report,
    interval: crate::spec::Duration,
) -> std::io::Result<()> {
    let mut fired_at: HashMap<(usize, AlertKind), i64> = HashMap::new();
    for t in &report.transitions {
        let detail = match (t.change, t.kind) {
            (Change::Fired, AlertKind::DataMissing) => "no SLI datapoints".to_string(),
            (Change::Resolved, _) => match fired_at.get(&(t.slo.0, t.kind)) {
                Some(&since) => format!(
                    "fired for {}",
                    crate::spec::Duration::from_secs(u64::try_from(t.at - since).unwrap_or(0))
                ),
                None => String::new(),
            },
            (Change::Fired, _) => describe_pairs(&t.pairs),
        };
        if t.change == Change::Fired {
            fired_at.insert((t.slo.0, t.kind), t.at);
        }
        writeln!(
            out,
            "{}  {:<6}  {:<8}  {}  {}  {}",
            rfc3339(t.at),
            t.severity.as_str(),
            state(t).to_uppercase(),
            t.slo_id,
            t.alert,
            detail
        )?;
    }
    match report.range {
        Some((from, to)) => writeln!(
            out,
            "replayed {} SLO{} from {} to {}: {} evaluation{} every {interval}; {} page{}, {} ticket{}",
            report.slos,
            plural(report.slos as u64),
            rfc3339(from),
            rfc3339(to),
            report.evaluations,
            plural(report.evaluations),
            report.pages,
            plural(report.pages as u64),
            report.tickets,
            plural(report.tickets as u64),
        ),
        None => writeln!(out, "replayed {} SLOs: no data to evaluate", report.slos),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
