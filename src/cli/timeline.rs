//! `burnwatch timeline`: the incident timeline for a postmortem, from the history store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::probe::model::format_ts;
use crate::report::timeline::{self, Inputs};
use crate::store::Store;

/// Output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A Markdown table that pastes into a postmortem document as it is.
    Markdown,
    /// One JSON document (`from`, `to`, `entries`, `budget`).
    Json,
}

/// Arguments of `burnwatch timeline`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Start of the incident window, RFC 3339 (e.g. 2026-11-20T10:00:00Z).
    #[arg(long, value_name = "TS", value_parser = super::parse_ts)]
    from: DateTime<Utc>,
    /// End of the window (exclusive), RFC 3339.
    #[arg(long, value_name = "TS", value_parser = super::parse_ts)]
    to: DateTime<Utc>,
    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    format: Format,
    /// The daemon's configuration (for the store path and the external URL of probe
    /// permalinks). Default: ./burnwatch.yaml when present.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Print the timeline.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.from >= args.to {
        bail!("--from must be before --to");
    }
    let (path, api_base) = match super::store_and_url(args.config.as_deref()) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    if !path.exists() {
        bail!(
            "no history store at {} (burnwatch run and burnwatch probe db create it; check storage.path)",
            path.display()
        );
    }
    let store = Store::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let (from_s, to_s) = (format_ts(args.from), format_ts(args.to));
    let probes = store.list_probe_runs(&from_s, &to_s, None)?;
    // The state of each target just before the window, so only changes are listed.
    let mut probes_before = Vec::new();
    let lookback = format_ts(args.from - chrono::Duration::days(1));
    let earlier = store.list_probe_runs(&lookback, &from_s, None)?;
    for run in earlier.into_iter().rev() {
        if !probes_before
            .iter()
            .any(|r: &crate::probe::ProbeRun| r.target == run.target)
        {
            probes_before.push(run);
        }
    }
    let inputs = Inputs {
        transitions: store.alert_transitions(args.from, args.to)?,
        notifications: store.notifications(args.from, args.to)?,
        probes,
        probes_before,
        rds_events: store.rds_events_between(args.from, args.to)?,
        budget_before: store.slo_snapshots_before(args.from)?,
        budget_during: store.slo_snapshots(args.from, args.to)?,
    };
    let t = timeline::build(args.from, args.to, inputs, &api_base);
    match args.format {
        Format::Markdown => print!("{}", t.to_markdown()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&t)?),
    }
    Ok(ExitCode::SUCCESS)
}
