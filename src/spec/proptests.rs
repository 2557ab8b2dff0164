//! The loader never panics: not on random bytes, not on arbitrary YAML shaped like a spec,
//! not on any prefix of a valid spec file, and every diagnostic points inside the file.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::diag::Diagnostic;
use super::load::load_text;
use super::{LoadOptions, load_paths};

fn good_fixtures() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate/good");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("good fixtures")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 11, "expected the good fixtures in {dir:?}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("fixture is UTF-8");
            (p, text)
        })
        .collect()
}

/// Every diagnostic is at a real line of `text` (or the line after its last newline) and
/// at a column no further right than that line's length plus one.
fn assert_positions_inside(text: &str, diags: &[Diagnostic]) {
    let lines: Vec<&str> = text.split('\n').collect();
    for d in diags {
        assert!(d.pos.line >= 1 && d.pos.col >= 1, "{d}");
        assert!(
            d.pos.line <= lines.len(),
            "{d} (text has {} lines)",
            lines.len()
        );
        let len = lines[d.pos.line - 1].chars().count();
        assert!(d.pos.col <= len + 1, "{d} (line has {len} characters)");
    }
}

#[test]
fn every_prefix_of_every_good_fixture_loads_without_panicking() {
    let fixtures = good_fixtures();
    for (path, text) in &fixtures {
        let (_, full) = load_text(path, text);
        assert!(
            full.iter()
                .all(|d| d.severity == super::DiagSeverity::Warning),
            "{path:?} should be valid: {full:?}"
        );
    }
    // About 18 000 loads: spread the fixtures over the available cores.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for chunk in fixtures.chunks(fixtures.len().div_ceil(threads)) {
            scope.spawn(move || {
                for (path, text) in chunk {
                    for end in (0..text.len()).filter(|i| text.is_char_boundary(*i)) {
                        let prefix = &text[..end];
                        let (_, diags) = load_text(path, prefix);
                        assert_positions_inside(prefix, &diags);
                    }
                }
            });
        }
    });
}

/// Words that steer generated documents into every branch of the loaders.
const KEYS: &[&str] = &[
    "version",
    "service",
    "labels",
    "slos",
    "name",
    "objective",
    "description",
    "sli",
    "events",
    "raw",
    "plugin",
    "id",
    "options",
    "error_query",
    "total_query",
    "error_ratio_query",
    "errorQuery",
    "totalQuery",
    "errorRatioQuery",
    "alerting",
    "annotations",
    "page_alert",
    "ticket_alert",
    "pageAlert",
    "ticketAlert",
    "disable",
    "slo_plugins",
    "sloPlugins",
    "plugins",
    "chain",
    "overridePrevious",
    "metadata",
    "spec",
    "objectives",
    "ratioMetrics",
    "good",
    "total",
    "source",
    "queryType",
    "query",
    "target",
    "timeWindows",
    "count",
    "unit",
    "__name__",
    "",
];

const STRINGS: &[&str] = &[
    "",
    "a",
    "lab-api",
    "prometheus/v1",
    "prometheus",
    "promql",
    "sloth",
    "Day",
    "month",
    "sum(rate(x[{{.window}}]))",
    "sum(rate(y[{{ .window }}]))",
    "sum(rate(x[{{.Window}}]))",
    "rate(x[{{.window}}]) + {{.other}}",
    "sum(rate(x[{{.window}}])",
    "{{.window}}",
    "burnwatch/cloudwatch/alb-availability/v1",
    "burnwatch/stepfunctions/latency/v1",
    "arn:aws:states:eu-west-1:1:stateMachine:x",
    "30m",
    "0s",
    "true",
    "\t",
    "é ✓",
];

#[derive(Clone, Debug)]
enum Gen {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Gen>),
    Map(Vec<(String, Gen)>),
}

fn gen_value() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        Just(Gen::Null),
        any::<bool>().prop_map(Gen::Bool),
        prop_oneof![Just(0i64), Just(100), Just(99), -5i64..200, any::<i64>()].prop_map(Gen::Int),
        prop_oneof![
            Just(99.9f64),
            Just(100.5),
            Just(0.999),
            Just(f64::NAN),
            Just(f64::INFINITY),
            -1.0f64..101.0,
        ]
        .prop_map(Gen::Float),
        prop_oneof![
            proptest::sample::select(STRINGS).prop_map(String::from),
            "\\PC{0,12}",
        ]
        .prop_map(Gen::Str),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Gen::Seq),
            proptest::collection::vec(
                (proptest::sample::select(KEYS).prop_map(String::from), inner),
                0..6
            )
            .prop_map(|entries| {
                // YAML mappings cannot repeat a key.
                let mut seen = std::collections::BTreeSet::new();
                Gen::Map(
                    entries
                        .into_iter()
                        .filter(|(k, _)| seen.insert(k.clone()))
                        .collect(),
                )
            }),
        ]
    })
}

fn scalar(v: &Gen) -> Option<String> {
    Some(match v {
        Gen::Null => "null".into(),
        Gen::Bool(b) => b.to_string(),
        Gen::Int(i) => i.to_string(),
        Gen::Float(f) if f.is_nan() => ".nan".into(),
        Gen::Float(f) if f.is_infinite() => ".inf".into(),
        Gen::Float(f) => format!("{f:?}"),
        // JSON strings are valid YAML double-quoted scalars.
        Gen::Str(s) => serde_json::to_string(s).unwrap_or_default(),
        Gen::Seq(items) if items.is_empty() => "[]".into(),
        Gen::Map(entries) if entries.is_empty() => "{}".into(),
        _ => return None,
    })
}

/// Block-style YAML for a mapping's entries at `indent`.
fn render_map(entries: &[(String, Gen)], indent: usize, out: &mut String) {
    for (k, v) in entries {
        out.push_str(&" ".repeat(indent));
        let plain = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            out.push_str(k);
        } else {
            out.push_str(&serde_json::to_string(k).unwrap_or_default());
        }
        out.push(':');
        render_value(v, indent, out);
    }
}

fn render_value(v: &Gen, indent: usize, out: &mut String) {
    if let Some(s) = scalar(v) {
        out.push(' ');
        out.push_str(&s);
        out.push('\n');
        return;
    }
    out.push('\n');
    match v {
        Gen::Map(entries) => render_map(entries, indent + 2, out),
        Gen::Seq(items) => {
            for item in items {
                out.push_str(&" ".repeat(indent + 2));
                out.push('-');
                match item {
                    Gen::Map(entries) if !entries.is_empty() => {
                        // First entry on the dash line, the rest aligned under it.
                        let mut inner = String::new();
                        render_map(entries, indent + 4, &mut inner);
                        out.push(' ');
                        out.push_str(inner.trim_start());
                    }
                    other => render_value(other, indent + 2, out),
                }
            }
        }
        _ => {}
    }
}

/// The documents of the good fixtures as trees, to be mutated into almost-valid specs that
/// reach the deep parts of the loaders.
fn good_trees() -> Vec<Gen> {
    good_fixtures()
        .iter()
        .flat_map(|(_, text)| {
            super::load::split_documents(text.trim_start_matches('\u{feff}'))
                .into_iter()
                .filter_map(|(_, doc)| super::yaml::parse(&doc, 0).ok())
                .flatten()
                .map(|n| to_gen(&n))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn to_gen(n: &super::yaml::Node) -> Gen {
    use super::yaml::Value;
    match &n.value {
        Value::Null => Gen::Null,
        Value::Bool(b) => Gen::Bool(*b),
        Value::Int(i) => Gen::Int(*i),
        Value::Float(f) => Gen::Float(*f),
        Value::Str(s) => Gen::Str(s.clone()),
        Value::Seq(items) => Gen::Seq(items.iter().map(to_gen).collect()),
        Value::Map(entries) => Gen::Map(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_gen(v)))
                .collect(),
        ),
    }
}

/// Apply one edit to the `target`-th node (pre-order): replace it, drop a child, or
/// null it. Returns true once applied.
fn mutate(g: &mut Gen, target: &mut usize, action: u8, replacement: &Gen) -> bool {
    if *target == 0 {
        match (action, &mut *g) {
            (0, _) => *g = replacement.clone(),
            (1, Gen::Map(entries)) if !entries.is_empty() => {
                entries.remove(replacement_index(replacement, entries.len()));
            }
            (1, Gen::Seq(items)) if !items.is_empty() => {
                items.remove(replacement_index(replacement, items.len()));
            }
            _ => *g = Gen::Null,
        }
        return true;
    }
    *target -= 1;
    match g {
        Gen::Map(entries) => entries
            .iter_mut()
            .any(|(_, v)| mutate(v, target, action, replacement)),
        Gen::Seq(items) => items
            .iter_mut()
            .any(|v| mutate(v, target, action, replacement)),
        _ => false,
    }
}

fn count_nodes(g: &Gen) -> usize {
    1 + match g {
        Gen::Map(entries) => entries.iter().map(|(_, v)| count_nodes(v)).sum(),
        Gen::Seq(items) => items.iter().map(count_nodes).sum(),
        _ => 0,
    }
}

fn replacement_index(g: &Gen, len: usize) -> usize {
    match g {
        Gen::Int(i) => i.unsigned_abs() as usize % len,
        _ => 0,
    }
}

const HEADERS: &[&str] = &[
    "version: \"prometheus/v1\"\n",
    "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n",
    "apiVersion: openslo/v1alpha\nkind: SLO\n",
    "apiVersion: openslo/v1\nkind: SLO\n",
    "apiVersion: openslo/v1\nkind: SLI\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_spec_shaped_yaml_never_panics(
        header in proptest::sample::select(HEADERS),
        body in proptest::collection::vec(
            (proptest::sample::select(KEYS).prop_map(String::from), gen_value()),
            0..8,
        ),
    ) {
        let mut seen = std::collections::BTreeSet::new();
        let body: Vec<(String, Gen)> = body
            .into_iter()
            .filter(|(k, _)| !["version", "apiVersion", "kind"].contains(&k.as_str()))
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect();
        let mut text = header.to_string();
        render_map(&body, 0, &mut text);
        let (_, diags) = load_text(Path::new("gen.yaml"), &text);
        assert_positions_inside(&text, &diags);
    }

    #[test]
    fn mutated_good_specs_never_panic(
        doc in 0usize..64,
        edits in proptest::collection::vec((0usize..400, 0u8..3, gen_value()), 1..5),
    ) {
        let trees = good_trees();
        let mut tree = trees[doc % trees.len()].clone();
        for (at, action, replacement) in &edits {
            let mut target = at % count_nodes(&tree);
            mutate(&mut tree, &mut target, *action, replacement);
        }
        let Gen::Map(entries) = &tree else {
            return Ok(());
        };
        let mut text = String::new();
        render_map(entries, 0, &mut text);
        let (_, diags) = load_text(Path::new("m.yaml"), &text);
        assert_positions_inside(&text, &diags);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        let (_, diags) = load_text(Path::new("r.yaml"), &text);
        assert_positions_inside(&text, &diags);
    }

    #[test]
    fn random_text_after_a_format_header_never_panics(
        header in proptest::sample::select(HEADERS),
        text in "[ -~\t\n]{0,300}",
    ) {
        let text = format!("{header}{text}");
        let (_, diags) = load_text(Path::new("r.yaml"), &text);
        assert_positions_inside(&text, &diags);
    }

    #[test]
    fn edited_good_fixtures_never_panic(
        file in 0usize..64,
        edits in proptest::collection::vec((0usize..200, 0u8..4, "[ -~\t]{0,12}"), 1..4),
    ) {
        let fixtures = good_fixtures();
        let (path, text) = &fixtures[file % fixtures.len()];
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        for (at, kind, junk) in edits {
            if lines.is_empty() {
                break;
            }
            let i = at % lines.len();
            match kind {
                0 => { lines.remove(i); }
                1 => { let l = lines[i].clone(); lines.insert(i, l); }
                2 => lines[i] = format!(" {}", lines[i]),
                _ => lines[i].push_str(&junk),
            }
        }
        let text = lines.join("\n");
        let (_, diags) = load_text(path, &text);
        assert_positions_inside(&text, &diags);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary bytes through the real file path (UTF-8 check, discovery, cross-file
    /// checks).
    #[test]
    fn random_bytes_in_a_file_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("spec.yaml");
        std::fs::write(&file, &bytes).expect("write");
        let loaded = load_paths(&[dir.path().to_path_buf()], &LoadOptions::default());
        prop_assert_eq!(loaded.files, 1);
        let text = String::from_utf8_lossy(&bytes);
        if std::str::from_utf8(&bytes).is_ok() {
            assert_positions_inside(&text, &loaded.diagnostics);
        } else {
            prop_assert!(loaded.has_errors());
        }
    }
}
