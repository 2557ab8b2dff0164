//! `burnwatch generate dashboards`: write Grafana dashboards for the specs' SLOs into a
//! folder, or (`--check`) verify that the folder holds exactly what would be written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::SpecOptions;

/// Arguments of `burnwatch generate dashboards`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Spec files or folders (folders are searched recursively for *.yaml and *.yml).
    #[arg(default_value = "slo-specs")]
    paths: Vec<PathBuf>,
    /// Folder to write the dashboards to (`<uid>.json`, one overview and one per service).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
    /// Write nothing; exit 1 when DIR's dashboards differ from what the specs generate
    /// (for CI: checked-in dashboards must be regenerated after a spec change).
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    spec: SpecOptions,
}

/// Load the specs, generate, then write or check. Exit 2 on bad specs, 1 when `--check`
/// finds differences.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = args.spec.load_options()?;
    let loaded = match super::load_valid_specs(
        &args.paths,
        &options,
        "no dashboards generated, errors in the specs",
    ) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let files = crate::dashboard::generate(loaded.slos(), &options)?;
    if args.check {
        return check(&args.out, &files);
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    for f in &files {
        let path = args.out.join(&f.file_name);
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == f.json);
        if !unchanged {
            std::fs::write(&path, &f.json)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!(
            "{} {} ({})",
            if unchanged { "unchanged" } else { "wrote" },
            path.display(),
            f.title
        );
    }
    for stale in stale_files(&args.out, &files)? {
        eprintln!(
            "warning: {} was not generated from these specs; delete it if its service is gone",
            stale.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `*.json` files in `dir` that are not among `files`.
fn stale_files(
    dir: &Path,
    files: &[crate::dashboard::DashboardFile],
) -> anyhow::Result<Vec<PathBuf>> {
    let generated: BTreeSet<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
    let mut stale = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.extension().is_some_and(|e| e == "json") && !generated.contains(name) {
            stale.push(path);
        }
    }
    stale.sort();
    Ok(stale)
}

fn check(dir: &Path, files: &[crate::dashboard::DashboardFile]) -> anyhow::Result<ExitCode> {
    let mut problems = Vec::new();
    for f in files {
        let path = dir.join(&f.file_name);
        match std::fs::read_to_string(&path) {
            Ok(old) if old == f.json => {}
            Ok(_) => problems.push(format!("{} is out of date", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!("{} is missing", path.display()))
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    if dir.is_dir() {
        for stale in stale_files(dir, files)? {
            problems.push(format!(
                "{} is not generated from these specs",
                stale.display()
            ));
        }
    }
    if problems.is_empty() {
        println!(
            "{} dashboard{} in {} are up to date",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        eprintln!("{p}");
    }
    eprintln!(
        "dashboards are out of date: run `burnwatch generate dashboards <specs> -o {}`",
        dir.display()
    );
    Ok(ExitCode::from(1))
}
