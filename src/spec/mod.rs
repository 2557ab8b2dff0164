//! SLO specs in, domain model out.
//!
//! Reads Sloth's three formats (`prometheus/v1`, the `PrometheusServiceLevel` CRD and
//! OpenSLO `v1alpha`), validates them with every rule Sloth enforces plus a few of our own,
//! and lowers them to [`model::Slo`]. Alert-window catalogs ([`windows`]) live here too:
//! they are policy data read the same way.
//!
//! Architecture invariant: nothing here does network I/O or knows about Prometheus rule
//! output, sources or evaluation; later stages depend on this module, never the reverse.

pub mod diag;
pub mod discover;
pub mod duration;
pub mod load;
pub mod model;
pub mod plugins;
pub mod reader;
pub mod validate;
pub mod windows;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// Load files and folders, reporting duplicate SLO ids across files and periods that the
/// window catalog does not cover.
pub fn load_paths(paths: &[PathBuf], options: &LoadOptions) -> Loaded {
    let files = match discover::spec_files(paths) {
        Ok(f) => f,
        Err(d) => {
            return Loaded {
                diagnostics: vec![d],
                ..Loaded::default()
            };
        }
    };
    let mut loaded = Loaded {
        files: files.len(),
        ..Loaded::default()
    };
    for file in &files {
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let (docs, diags) = load::load_text(file, &text);
                loaded.documents.extend(docs);
                loaded.diagnostics.extend(diags);
            }
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

fn check_across_files(loaded: &mut Loaded, options: &LoadOptions) {
    let mut seen: BTreeMap<String, model::SourceRef> = BTreeMap::new();
    let mut extra = Vec::new();
    for doc in &loaded.documents {
        for slo in &doc.slos {
            if let Some(first) = seen.get(&slo.id) {
                if first.file != slo.source.file {
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
            } else {
                seen.insert(slo.id.clone(), slo.source.clone());
            }
            let period = slo.period.unwrap_or(options.period);
            if let Err(msg) = options.catalog.require(period) {
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
