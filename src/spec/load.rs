//! Loading spec files: split documents, detect each document's format the way Sloth does,
//! and lower it into the [`model`](super::model), reporting every problem with its position.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

#[cfg(test)]
mod model_tests;
mod openslo;
mod openslo_v1;
#[cfg(test)]
mod openslo_v1_tests;
mod sloth;

use super::LoadOptions;
use super::diag::{Diagnostic, Diagnostics, Pos};
use super::model::{SourceRef, SpecDocument, SpecKind};
use super::reader::Mode;
use super::windows::WindowCatalog;
use super::yaml;

static PROM_V1_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^version: +['"]?prometheus/v1['"]?\r?\n? *$"#).expect("static regex")
});
static K8S_KIND_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^kind: +['"]?PrometheusServiceLevel['"]? *$"#).expect("static regex")
});
static K8S_API_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^apiVersion: +['"]?sloth.slok.dev/v1['"]? *$"#).expect("static regex")
});
static OSLO_KIND_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?m)^kind: +['"]?SLO['"]? *$"#).expect("static regex"));
static OSLO_API_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^apiVersion: +['"]?openslo/v1alpha['"]? *$"#).expect("static regex")
});
static OSLO_V1_API_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^apiVersion: +['"]?openslo/v1['"]? *$"#).expect("static regex")
});
static COMMENT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^#.*$").expect("static regex"));

/// Detect a document's format with Sloth's regexes (per document, in Sloth's order).
///
/// Carriage returns are removed first: Sloth's `kind`/`apiVersion` regexes end in ` *$`,
/// which never matches before `\r\n`, so Sloth cannot detect a Kubernetes or OpenSLO spec
/// saved with Windows line endings. A file's meaning does not depend on its line endings.
pub fn detect(text: &str) -> Option<SpecKind> {
    let text = text.replace('\r', "");
    let text = COMMENT_RE.replace_all(&text, "");
    if PROM_V1_RE.is_match(&text) {
        Some(SpecKind::PrometheusV1)
    } else if K8S_KIND_RE.is_match(&text) && K8S_API_RE.is_match(&text) {
        Some(SpecKind::K8sPrometheusServiceLevel)
    } else if OSLO_KIND_RE.is_match(&text) && OSLO_API_RE.is_match(&text) {
        Some(SpecKind::OpenSloV1Alpha)
    } else if OSLO_V1_API_RE.is_match(&text) {
        // burnwatch's own addition: Sloth reads no OpenSLO v1 (its #376).
        Some(SpecKind::OpenSloV1)
    } else {
        None
    }
}

/// Split a file into documents on lines starting with `---`, keeping each chunk's first
/// line number (1-based) so positions stay true to the file. Chunks with nothing but
/// blank and comment lines are dropped, as Sloth drops them.
pub fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.starts_with("---") {
            docs.push((start, std::mem::take(&mut current)));
            start = i + 2;
            // Keep the line count right: the separator line becomes an empty line.
            continue;
        }
        current.push_str(line);
    }
    docs.push((start, current));
    docs.into_iter()
        .filter(|(_, d)| {
            d.lines().any(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            })
        })
        .collect()
}

/// Load one file's text: all documents and all problems found. SLO periods of OpenSLO
/// documents are not checked against a window catalog (see [`load_text_with`]).
pub fn load_text(file: &Path, text: &str) -> (Vec<SpecDocument>, Vec<Diagnostic>) {
    load_text_inner(file, text, None)
}

/// [`load_text`], also checking that every period an OpenSLO document sets
/// (`timeWindows`) is in `options.catalog`, reported at the `count` that sets it.
pub fn load_text_with(
    file: &Path,
    text: &str,
    options: &LoadOptions,
) -> (Vec<SpecDocument>, Vec<Diagnostic>) {
    load_text_inner(file, text, Some(&options.catalog))
}

fn load_text_inner(
    file: &Path,
    text: &str,
    catalog: Option<&WindowCatalog>,
) -> (Vec<SpecDocument>, Vec<Diagnostic>) {
    let mut diags = Diagnostics::new(file);
    let mut docs = Vec::new();
    let mut v1_docs = Vec::new();
    // A UTF-8 byte order mark (Windows editors write one) is an encoding marker, not
    // content; left in place it hides `version:` from the format detection.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let chunks = split_documents(text);
    if chunks.is_empty() {
        diags.error(
            Pos::new(1, 1),
            "spec is required: the file has no YAML document",
        );
    }
    for (line, chunk) in chunks {
        let Some(kind) = detect(&chunk) else {
            diags.error(
                Pos::new(first_content_line(&chunk, line), 1),
                "invalid spec, could not load with any of the supported spec types \
                 (version: prometheus/v1; apiVersion: sloth.slok.dev/v1 with kind: PrometheusServiceLevel; \
                 apiVersion: openslo/v1alpha with kind: SLO; apiVersion: openslo/v1)",
            );
            continue;
        };
        let nodes = match yaml::parse(&chunk, line - 1) {
            Ok(n) => n,
            Err(e) => {
                // Sloth's loader words it this way (sloth-compat.md §5).
                diags.error(
                    e.pos,
                    format!("could not unmarshall YAML spec correctly: {}", e.message),
                );
                continue;
            }
        };
        let Some(root) = nodes.first() else { continue };
        if kind == SpecKind::OpenSloV1 {
            // v1 objects refer to each other: lowered together once the file is read.
            v1_docs.push(openslo_v1::V1Doc {
                line,
                root: root.clone(),
            });
            continue;
        }
        let doc = match kind {
            SpecKind::PrometheusV1 => {
                sloth::lower(root, kind, &sloth::PROM_KEYS, Mode::Lenient, &mut diags)
            }
            SpecKind::K8sPrometheusServiceLevel => {
                sloth::lower(root, kind, &sloth::K8S_KEYS, Mode::Strict, &mut diags)
            }
            SpecKind::OpenSloV1Alpha => openslo::lower(root, catalog, &mut diags),
            SpecKind::OpenSloV1 => None,
        };
        if let Some(mut doc) = doc {
            doc.file = file.to_path_buf();
            doc.line = line;
            check_repeated_ids(&doc, &mut diags);
            docs.push(doc);
        }
    }
    if !v1_docs.is_empty() {
        for mut doc in openslo_v1::lower_file(&v1_docs, catalog, &mut diags) {
            doc.file = file.to_path_buf();
            check_repeated_ids(&doc, &mut diags);
            docs.push(doc);
        }
        // Documents in file order, whatever their format.
        docs.sort_by_key(|d| d.line);
    }
    (docs, diags.into_vec())
}

fn first_content_line(chunk: &str, start: usize) -> usize {
    chunk
        .lines()
        .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map_or(start, |i| start + i)
}

fn check_repeated_ids(doc: &SpecDocument, diags: &mut Diagnostics) {
    let mut seen: BTreeMap<&str, &SourceRef> = BTreeMap::new();
    for slo in &doc.slos {
        if let Some(first) = seen.get(slo.id.as_str()) {
            diags.error(
                slo.source.pos,
                format!(
                    "SLO ID {:?} is repeated (first defined at line {})",
                    slo.id, first.pos.line
                ),
            );
        } else {
            seen.insert(&slo.id, &slo.source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_like_sloth() {
        assert_eq!(
            detect("version: \"prometheus/v1\"\nservice: x\n"),
            Some(SpecKind::PrometheusV1)
        );
        assert_eq!(
            detect("apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n"),
            Some(SpecKind::K8sPrometheusServiceLevel)
        );
        assert_eq!(
            detect("apiVersion: openslo/v1alpha\nkind: SLO\n"),
            Some(SpecKind::OpenSloV1Alpha)
        );
        assert_eq!(detect("  version: prometheus/v1\n"), None);
        assert_eq!(detect("version: prometheus/v2\n"), None);
        // Quotes as Sloth's regexes allow them, and comments removed first.
        assert_eq!(
            detect("# version: nope\nversion: 'prometheus/v1'\n"),
            Some(SpecKind::PrometheusV1)
        );
        assert_eq!(
            detect("apiVersion: 'openslo/v1alpha'\nkind: \"SLO\"\n"),
            Some(SpecKind::OpenSloV1Alpha)
        );
        // Both markers are needed for the two-marker formats.
        assert_eq!(detect("kind: PrometheusServiceLevel\n"), None);
        assert_eq!(detect("apiVersion: openslo/v1alpha\nkind: SLOs\n"), None);
    }

    #[test]
    fn detects_windows_line_endings_for_every_format() {
        assert_eq!(
            detect("version: prometheus/v1\r\nservice: x\r\n"),
            Some(SpecKind::PrometheusV1)
        );
        assert_eq!(
            detect("apiVersion: sloth.slok.dev/v1\r\nkind: PrometheusServiceLevel\r\n"),
            Some(SpecKind::K8sPrometheusServiceLevel)
        );
        assert_eq!(
            detect("apiVersion: openslo/v1alpha\r\nkind: SLO\r\n"),
            Some(SpecKind::OpenSloV1Alpha)
        );
    }

    #[test]
    fn splits_documents_keeping_line_numbers() {
        let docs = split_documents("# header\n---\na: 1\n---\n\n# only comment\n---\nb: 2\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].0, 3);
        assert_eq!(docs[1].0, 8);
    }
}
