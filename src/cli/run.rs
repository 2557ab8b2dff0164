//! `burnwatch run`: load the configuration and the specs, then run the daemon until
//! SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::print_diagnostics;
use crate::config::{Config, DEFAULT_FILE};

/// Arguments of `burnwatch run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file (see examples/demo/burnwatch.yaml for every field).
    #[arg(long, short, default_value = DEFAULT_FILE, value_name = "FILE")]
    pub config: PathBuf,
    /// Listen address of the HTTP server; overrides `listen` in the configuration.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Append every datapoint the live sources fetch to FILE (JSON Lines, created if
    /// missing), in the form `burnwatch replay --data FILE` and `sources.replay` read: an
    /// incident recorded in production replays through exactly the live code. CloudWatch
    /// data is recorded as raw datapoints, PromQL / Step Functions / Batch SLIs as SLO events.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// Validate everything up front (exit 2 with `FILE:LINE:COL: message` on any problem),
/// then run the daemon; exit 0 after a graceful stop.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = match Config::load(&args.config) {
        Ok((config, warnings)) => {
            print_diagnostics(&warnings);
            config
        }
        Err(diags) => {
            print_diagnostics(&diags);
            eprintln!("invalid configuration: {}", args.config.display());
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let options = match config.spec_options() {
        Ok(o) => o,
        Err(diags) => {
            print_diagnostics(&diags);
            return Ok(ExitCode::from(2));
        }
    };
    if let Err(msg) = options.catalog.require(options.period) {
        eprintln!(
            "{}: period {}: {msg}",
            config.file.display(),
            options.period
        );
        return Ok(ExitCode::from(2));
    }
    let loaded = match super::load_valid_specs(&config.specs, &options, "invalid SLO specs") {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let probes = match crate::pipeline::probes::parse(&config.file, &config.probes) {
        Ok(p) => p,
        Err(diags) => {
            print_diagnostics(&diags);
            eprintln!("invalid configuration: {}", args.config.display());
            return Ok(ExitCode::from(2));
        }
    };
    let live = match crate::source::settings::parse(&config.file, &config.sources.other, &|name| {
        std::env::var(name).ok()
    }) {
        Ok(l) => l,
        Err(diags) => {
            print_diagnostics(&diags);
            eprintln!("invalid configuration: {}", args.config.display());
            return Ok(ExitCode::from(2));
        }
    };
    let recorder = match &args.record {
        Some(path) => match crate::source::record::Recorder::open(path) {
            Ok(r) => {
                if live.is_empty() {
                    eprintln!(
                        "burnwatch: warning: --record {}: no live source is configured, nothing \
                         will be recorded (the replay source is not re-recorded)",
                        path.display()
                    );
                }
                Some(r)
            }
            Err(e) => {
                eprintln!("burnwatch: --record: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => None,
    };
    tracing::info!(
        config = %config.file.display(),
        slos = loaded.slos().count(),
        files = loaded.files,
        "configuration and specs loaded"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let shutdown =
            crate::daemon::shutdown_signal().context("cannot install signal handlers")?;
        crate::daemon::run(
            config,
            loaded.documents,
            options,
            Some(Box::new(
                crate::pipeline::Pipeline::new()
                    .with_sources(live, recorder)
                    .with_probes(probes),
            )),
            shutdown,
        )
        .await
        .context("burnwatch run")
    })?;
    Ok(ExitCode::SUCCESS)
}
