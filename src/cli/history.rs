//! `burnwatch history`: what the history store remembers, for postmortems. Each kind of
//! record is a subcommand (`probes` here; `alerts` joins it with the daemon).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::probe::ProbeRun;
use crate::probe::model::format_ts;
use crate::spec::Duration;
use crate::store::Store;

/// Arguments of `burnwatch history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Probe runs, oldest first; `--json` prints each run's stored `probe --json`
    /// document verbatim, one per line.
    Probes(ProbesArgs),
    /// Alert transitions (firing, resolved) recorded by `burnwatch run`, oldest first.
    Alerts(super::history_alerts::Args),
}

/// The time range and store shared by history subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct RangeArgs {
    /// How far back from now (or from --to), as a Prometheus duration.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration, conflicts_with = "from")]
    since: Option<Duration>,
    /// Start of the range, RFC 3339 (e.g. 2026-11-20T10:00:00Z).
    #[arg(long, value_name = "TS", value_parser = super::parse_ts)]
    from: Option<DateTime<Utc>>,
    /// End of the range (exclusive), RFC 3339; default now.
    #[arg(long, value_name = "TS", value_parser = super::parse_ts)]
    to: Option<DateTime<Utc>>,
    /// History store to read.
    #[arg(long, value_name = "PATH", default_value = "data/burnwatch.sqlite")]
    store: PathBuf,
}

impl RangeArgs {
    /// `[from, to)` in the store's fixed-width text form. Default: the last 24 hours.
    pub fn range(&self) -> anyhow::Result<(String, String)> {
        let to = self.to.unwrap_or_else(Utc::now);
        let from = match (self.from, self.since) {
            (Some(f), _) => f,
            (None, Some(d)) => super::start_before(to, d),
            (None, None) => super::start_before(to, Duration::from_hours(24)),
        };
        if from >= to {
            bail!("--from must be before --to");
        }
        Ok((format_ts(from), format_ts(to)))
    }
}

/// Arguments of `burnwatch history probes`.
#[derive(Debug, clap::Args)]
pub struct ProbesArgs {
    #[command(flatten)]
    range: RangeArgs,
    /// Only runs of this target.
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// One run by id (the permalink a postmortem cites); ignores the time range.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Print JSON documents, one per line.
    #[arg(long)]
    json: bool,
}

/// Run the `history` command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Probes(a) => probes(a),
        What::Alerts(a) => super::history_alerts::run(a),
    }
}

fn probes(args: ProbesArgs) -> anyhow::Result<ExitCode> {
    if !args.range.store.exists() {
        bail!(
            "history store {} does not exist (record runs with `burnwatch probe db` or `burnwatch run`, or pass --store)",
            args.range.store.display()
        );
    }
    let store = Store::open(&args.range.store)?;
    let docs = match &args.id {
        Some(id) => match store.probe_run_json(id)? {
            Some(j) => vec![j],
            None => bail!(
                "no probe run with id {id} in {}",
                args.range.store.display()
            ),
        },
        None => {
            let (from, to) = args.range.range()?;
            store.list_probe_run_json(&from, &to, args.target.as_deref())?
        }
    };
    for doc in &docs {
        if args.json {
            println!("{doc}");
        } else {
            let run: ProbeRun = serde_json::from_str(doc)
                .with_context(|| "history store holds an unreadable probe run")?;
            println!(
                "{}  {}  {:<20} {:<28} {:<10} {}",
                run.started_at,
                run.id,
                run.target,
                run.classification.as_str(),
                run.failed_step.map_or("-", |s| s.as_str()),
                run.runbook
            );
        }
    }
    if !args.json && docs.is_empty() {
        eprintln!("no probe runs in the range");
    }
    Ok(ExitCode::SUCCESS)
}
