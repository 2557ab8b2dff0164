//! The `sources:` section: one entry per source kind, keyed by the kind.
//!
//! ```yaml
//! sources:
//!   replay: {file: incident.jsonl, loop: true}
//!   cloudwatch: {region: eu-west-1}
//! ```
//!
//! `replay` is typed here because the demo and tests need it before any live source
//! exists. The other kinds are owned by the source stage (`src/source/`): they are kept as
//! positioned YAML ([`RawSection`]) and parsed there, so their problems still come out as
//! `FILE:LINE:COL`. Adding a kind means adding its name to [`SOURCE_KINDS`] and a parser in
//! the source stage.

use std::path::{Path, PathBuf};

use crate::spec::diag::{Diagnostics, Pos};
use crate::spec::reader::{MapReader, Mode};
use crate::spec::yaml::{Node, Value};

/// Source kinds a configuration may name.
pub const SOURCE_KINDS: [&str; 6] = [
    "replay",
    "cloudwatch",
    "prometheus",
    "stepfunctions",
    "batch",
    "rds",
];

/// All configured sources.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Recorded data replayed as if live (`sources.replay`).
    pub replay: Option<ReplaySourceConfig>,
    /// Every other kind, in file order, for the source stage to parse.
    pub other: Vec<RawSection>,
}

impl Sources {
    /// The raw section of `kind`, if configured.
    pub fn raw(&self, kind: &str) -> Option<&RawSection> {
        self.other.iter().find(|s| s.kind == kind)
    }
    /// True when no source is configured at all.
    pub fn is_empty(&self) -> bool {
        self.replay.is_none() && self.other.is_empty()
    }
}

/// A configuration section another stage parses: its kind, position and YAML.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSection {
    /// The source kind (`cloudwatch`, ...) or `probe` for `probes:` items.
    pub kind: String,
    /// Where the section's value starts.
    pub pos: Pos,
    /// The section's value, with positions, for a [`MapReader`].
    pub node: Node,
}

/// `sources.replay`: recorded datapoints (the JSON Lines format of `run --record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySourceConfig {
    /// The recording, relative to the configuration file.
    pub file: PathBuf,
    /// Shift the recording so that it ends now and start over when it is exhausted, so a
    /// demo keeps burning. Default: false (play once).
    pub r#loop: bool,
}

pub(super) fn read(node: Option<&Node>, base: &Path, diags: &mut Diagnostics) -> Sources {
    let mut out = Sources::default();
    let Some(node) = node else { return out };
    let Value::Map(entries) = &node.value else {
        diags.error(
            node.pos,
            format!(
                "`sources` must be a mapping of source kind to its settings, found a {}",
                node.type_name()
            ),
        );
        return out;
    };
    for (key, value) in entries {
        match key.name.as_str() {
            "replay" => out.replay = read_replay(value, base, diags),
            kind if SOURCE_KINDS.contains(&kind) => {
                if value.value != Value::Null && !matches!(value.value, Value::Map(_)) {
                    diags.error(
                        value.pos,
                        format!(
                            "`sources.{kind}` must be a mapping, found a {}",
                            value.type_name()
                        ),
                    );
                    continue;
                }
                out.other.push(RawSection {
                    kind: kind.to_string(),
                    pos: value.pos,
                    node: value.clone(),
                });
            }
            other => diags.error(
                key.pos,
                format!(
                    "unknown source `{other}`; expected one of {}",
                    SOURCE_KINDS.join(", ")
                ),
            ),
        }
    }
    out
}

fn read_replay(node: &Node, base: &Path, diags: &mut Diagnostics) -> Option<ReplaySourceConfig> {
    let mut m = MapReader::new(node, diags, Mode::Strict)?;
    let file_pos = m.pos_of("file");
    let file = m
        .required_node("file", diags)
        .and_then(|n| match n.as_str() {
            Some(s) => Some(base.join(s)),
            None => {
                diags.error(
                    n.pos,
                    format!("`file` must be a path, found a {}", n.type_name()),
                );
                None
            }
        });
    let r#loop = m.bool("loop", diags).unwrap_or(false);
    m.finish(diags);
    let file = file?;
    if !file.is_file() {
        diags.error(
            file_pos,
            format!("replay file {} does not exist", file.display()),
        );
        return None;
    }
    Some(ReplaySourceConfig { file, r#loop })
}
