//! `burnwatch report`: the weekly SLO review — budget consumed per SLO over the period,
//! the worst hours, and the alerts that fired — from the history store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::Utc;

use crate::report::review;
use crate::spec::Duration;
use crate::store::Store;

/// Arguments of `burnwatch report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How far back the review looks (ending now).
    #[arg(long, default_value = "30d", value_parser = super::parse_duration)]
    period: Duration,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    json: bool,
    /// The daemon's configuration (for the store path). Default: ./burnwatch.yaml when
    /// present, else data/burnwatch.sqlite.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Print the review.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (path, _) = match super::store_and_url(args.config.as_deref()) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    if !path.exists() {
        bail!(
            "no history store at {} (burnwatch run creates it; check storage.path)",
            path.display()
        );
    }
    let store = Store::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let to = Utc::now();
    let from = super::start_before(to, args.period);
    let r = review::build(
        from,
        to,
        &store.slo_snapshots(from, to)?,
        &store.alert_transitions(from, to)?,
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", r.to_markdown());
    }
    Ok(ExitCode::SUCCESS)
}
