//! `burnwatch probe db`: one diagnostic run per target, printed and recorded in history.
//! Exit 0 when every target is healthy, 1 when any is not, 2 on usage or config errors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::probe::ProbeRun;
use crate::probe::db::{ProbeTarget, run_probe_outcome, target};
use crate::store::Store;

/// Arguments of `burnwatch probe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Debug, clap::Subcommand)]
enum Kind {
    /// Probe database connectivity layer by layer: DNS → TCP → TLS → auth → query →
    /// saturation → RDS status, stopping at the first broken layer.
    ///
    /// Prints which layer is broken, every step's duration and detail, and the runbook
    /// section to follow. Exit 0 healthy, 1 unhealthy, 2 usage or config error.
    Db(DbArgs),
}

/// Arguments of `burnwatch probe db`.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// Config file with a `probes:` list of targets.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "burnwatch.yaml",
        conflicts_with = "url"
    )]
    config: PathBuf,
    /// Probe only the target with this name.
    #[arg(long, value_name = "NAME", conflicts_with = "url")]
    target: Option<String>,
    /// Probe an ad-hoc target, libpq style:
    /// postgresql://USER@HOST:PORT/DB?sslmode=verify-full&sslrootcert=FILE
    /// (password from PGPASSWORD; sslmode disable|prefer|require|verify-ca|verify-full,
    /// default verify-full).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Print each run as the JSON document of the `probe --json` contract, one per line.
    #[arg(long)]
    json: bool,
    /// History store the runs are recorded in.
    #[arg(long, value_name = "PATH", default_value = "data/burnwatch.sqlite")]
    store: PathBuf,
}

/// Run the `probe` command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.kind {
        Kind::Db(a) => run_db(a),
    }
}

fn run_db(args: DbArgs) -> anyhow::Result<ExitCode> {
    let targets = match select_targets(&args) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let store = Store::open(&args.store)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcomes = runtime.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, t) in targets.into_iter().enumerate() {
            set.spawn(async move { (i, run_probe_outcome(&t).await) });
        }
        let mut out = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(r) = joined {
                out.push(r);
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out
    });
    // A name lookup stuck in getaddrinfo lives on a blocking thread the step already gave
    // up on; do not wait for it on the way out.
    runtime.shutdown_background();
    let mut all_healthy = true;
    for (_, outcome) in &outcomes {
        let run = &outcome.run;
        all_healthy &= run.healthy;
        store
            .insert_probe_run(run)
            .with_context(|| format!("cannot record probe run {}", run.id))?;
        store
            .insert_probe_rds_events(&outcome.rds_events)
            .context("cannot record RDS events")?;
        if args.json {
            println!("{}", run.to_json());
        } else {
            print!("{}", human(run));
        }
    }
    Ok(if all_healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The targets to probe, or the exit code after printing why there are none.
fn select_targets(args: &DbArgs) -> Result<Vec<ProbeTarget>, ExitCode> {
    if let Some(url) = &args.url {
        return ProbeTarget::from_url(url).map(|t| vec![t]).map_err(|e| {
            eprintln!("burnwatch: error: --url: {e}");
            ExitCode::from(2)
        });
    }
    let targets = target::load_file(&args.config).map_err(|diags| {
        for d in diags {
            eprintln!("{d}");
        }
        ExitCode::from(2)
    })?;
    match &args.target {
        None if targets.is_empty() => {
            eprintln!(
                "burnwatch: error: {}: `probes:` is empty",
                args.config.display()
            );
            Err(ExitCode::from(2))
        }
        None => Ok(targets),
        Some(name) => {
            let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            match targets.iter().find(|t| &t.name == name) {
                Some(t) => Ok(vec![t.clone()]),
                None => {
                    eprintln!(
                        "burnwatch: error: no target named `{name}` in {} (targets: {})",
                        args.config.display(),
                        names.join(", ")
                    );
                    Err(ExitCode::from(2))
                }
            }
        }
    }
}

/// The human-readable report of one run.
pub fn human(run: &ProbeRun) -> String {
    let mut out = String::new();
    let verdict = if run.healthy {
        "HEALTHY".to_string()
    } else {
        format!(
            "UNHEALTHY: {} (step {})",
            run.classification,
            run.failed_step.map_or("-", |s| s.as_str())
        )
    };
    out.push_str(&format!(
        "{}  {}  {}  id {}\n",
        run.target, run.started_at, verdict, run.id
    ));
    for s in &run.steps {
        out.push_str(&format!(
            "  {:<10} {:<4} {:>9.1}ms  {}\n",
            s.step.as_str(),
            if s.ok { "ok" } else { "FAIL" },
            s.ms,
            s.detail
        ));
    }
    out.push_str(&format!("  runbook: {}\n", run.runbook));
    out
}
