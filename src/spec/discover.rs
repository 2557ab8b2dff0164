//! Finding spec files: files are taken as given, folders are walked recursively for
//! `*.yaml` / `*.yml` (sorted, so output order is stable).

use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, Pos, Severity};

/// Expand `paths` into a sorted list of YAML files.
pub fn spec_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| io_diag(p, &e))?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(Diagnostic {
                file: p.clone(),
                pos: Pos::new(1, 1),
                severity: Severity::Error,
                message: "no such file or directory".into(),
            });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

fn io_diag(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic {
        file: path.to_path_buf(),
        pos: Pos::new(1, 1),
        severity: Severity::Error,
        message: format!("cannot read: {e}"),
    }
}
