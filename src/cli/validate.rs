//! `burnwatch validate`: load specs and report every problem.

use std::path::PathBuf;
use std::process::ExitCode;

use super::SpecOptions;

/// Arguments of `burnwatch validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Spec files or folders (folders are searched recursively for *.yaml and *.yml).
    #[arg(default_value = "slo-specs")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    spec: SpecOptions,
}

/// Validate and print a one-line summary (stdout) or the problems (stderr).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = args.spec.load_options()?;
    let loaded = match super::load_valid_specs(&args.paths, &options, "validation failed") {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let slos = loaded.slos().count();
    println!(
        "{slos} SLO{} in {} file{} are valid",
        if slos == 1 { "" } else { "s" },
        loaded.files,
        if loaded.files == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}
