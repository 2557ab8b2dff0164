//! SLO specs in, domain model out.
//!
//! Reads Sloth's three formats (`prometheus/v1`, the `PrometheusServiceLevel` CRD and
//! OpenSLO `v1alpha`), validates them with every rule Sloth enforces plus a few of our own,
//! and lowers them to [`model::Slo`]. Alert-window catalogs ([`windows`]) live here too:
//! they are policy data read the same way.
//!
//! Architecture invariant: nothing here does network I/O or knows about Prometheus rule
//! output, sources or evaluation; later stages depend on this module, never the reverse.

pub mod budget;
pub mod diag;
pub mod discover;
pub mod duration;
pub mod load;
pub mod model;
pub mod plugins;
#[cfg(test)]
mod proptests;
pub mod reader;
pub mod validate;
pub mod windows;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use budget::{BudgetPolicy, BudgetingMethod, CalendarUnit, Period, PolicyError, PolicyState};
pub use diag::{Diagnostic, Pos, Severity as DiagSeverity};
pub use duration::Duration;
pub use model::{AlertSpec, Labels, Severity, Sli, Slo, SpecDocument, SpecKind};
pub use windows::{AlertWindows, BurnWindow, Tier, WindowCatalog};

/// Everything loaded from a set of paths.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Documents that loaded (possibly with warnings); documents with errors are still
    /// included when they could be lowered, so callers must check [`Loaded::has_errors`].
    pub documents: Vec<SpecDocument>,
    /// Every problem, errors and warnings, in file and position order.
    pub diagnostics: Vec<Diagnostic>,
    /// Number of files read.
    pub files: usize,
}

impl Loaded {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == diag::Severity::Error)
    }
    /// All SLOs of all documents.
    pub fn slos(&self) -> impl Iterator<Item = &Slo> {
        self.documents.iter().flat_map(|d| d.slos.iter())
    }
    /// Only the error diagnostics.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == diag::Severity::Error)
    }
}

/// Options that need more than the spec text to check.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The global SLO period (Sloth's `--default-slo-period`).
    pub period: Duration,
    /// The alert-window catalog; every SLO's period must be in it.
    pub catalog: WindowCatalog,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            period: Duration::from_days(30),
            catalog: WindowCatalog::builtin(),
        }
    }
}

/// Load files and folders, reporting duplicate SLO ids across documents and files, periods
/// that the window catalog does not cover, missing paths and folders without spec files.
pub fn load_paths(paths: &[PathBuf], options: &LoadOptions) -> Loaded {
    let mut loaded = Loaded::default();
    let mut files = Vec::new();
    for path in paths {
        match discover::spec_files(std::slice::from_ref(path)) {
            Ok(found) if found.is_empty() => loaded.diagnostics.push(Diagnostic {
                file: path.clone(),
                pos: Pos::new(1, 1),
                severity: diag::Severity::Error,
                message: "no spec files found: 0 slo specs have been discovered (looked for *.yaml and *.yml, recursively)".into(),
            }),
            Ok(found) => files.extend(found),
            Err(d) => loaded.diagnostics.push(d),
        }
    }
    files.dedup();
    loaded.files = files.len();
    for file in &files {
        match std::fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let (docs, diags) = load::load_text_with(file, &text, options);
                    loaded.documents.extend(docs);
                    loaded.diagnostics.extend(diags);
                }
                Err(e) => {
                    let pos = utf8_error_pos(e.as_bytes(), e.utf8_error().valid_up_to());
                    loaded.diagnostics.push(Diagnostic {
                        file: file.clone(),
                        pos,
                        severity: diag::Severity::Error,
                        message: "invalid UTF-8: spec files must be UTF-8 text".into(),
                    });
                }
            },
            Err(e) => loaded.diagnostics.push(Diagnostic {
                file: file.clone(),
                pos: Pos::new(1, 1),
                severity: diag::Severity::Error,
                message: format!("cannot read file: {e}"),
            }),
        }
    }
    check_across_files(&mut loaded, options);
    loaded
}

/// Line and column (in characters) of byte offset `at`, for a file that is valid UTF-8 up
/// to there.
fn utf8_error_pos(bytes: &[u8], at: usize) -> Pos {
    let valid = std::str::from_utf8(&bytes[..at.min(bytes.len())]).unwrap_or_default();
    let line = valid.matches('\n').count() + 1;
    let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Pos::new(line, col)
}

fn check_across_files(loaded: &mut Loaded, options: &LoadOptions) {
    // Sloth's `validate` checks ids across every document of every file; ids repeated
    // inside one document are reported by the loader already.
    let mut seen: BTreeMap<String, (usize, model::SourceRef)> = BTreeMap::new();
    let mut extra = Vec::new();
    for (doc_index, doc) in loaded.documents.iter().enumerate() {
        for slo in &doc.slos {
            match seen.get(&slo.id) {
                Some((first_doc, first)) if *first_doc != doc_index => {
                    extra.push(Diagnostic {
                        file: slo.source.file.clone(),
                        pos: slo.source.pos,
                        severity: diag::Severity::Error,
                        message: format!(
                            "SLO ID {:?} is repeated: also defined at {first}",
                            slo.id
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    seen.insert(slo.id.clone(), (doc_index, slo.source.clone()));
                }
            }
            // Periods set by the spec itself (OpenSLO) were checked, at their position,
            // by the loader.
            if slo.period.is_none()
                && let Err(msg) = options.catalog.require(options.period)
            {
                extra.push(Diagnostic {
                    file: slo.source.file.clone(),
                    pos: slo.source.pos,
                    severity: diag::Severity::Error,
                    message: format!("SLO {:?}: {msg}", slo.id),
                });
            }
        }
    }
    loaded.diagnostics.extend(extra);
    loaded
        .diagnostics
        .sort_by(|a, b| (&a.file, a.pos).cmp(&(&b.file, b.pos)));
}
