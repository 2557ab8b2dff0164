//! Typed, position-aware access to YAML mappings for the spec loaders.
//!
//! Every accessor records a diagnostic at the offending value and returns `None` instead of
//! failing, so one pass over a document reports all of its problems.

use super::diag::{Diagnostics, Pos};
use super::duration::Duration;
use super::model::Labels;
use super::yaml::{Key, Node, Value};

/// How a mapping treats keys it does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Unknown keys are errors; key names match exactly (Kubernetes CRDs, our own files).
    Strict,
    /// Unknown keys are warnings and key names match case-insensitively: Sloth decodes
    /// `prometheus/v1` through JSON, which ignores unknown keys and folds case.
    Lenient,
}

/// Reads one mapping, remembering which keys were used.
pub struct MapReader<'a> {
    node: &'a Node,
    entries: &'a [(Key, Node)],
    used: Vec<bool>,
    /// Keys the loader asked for, to suggest the right spelling of an unknown key.
    asked: Vec<String>,
    mode: Mode,
}

impl<'a> MapReader<'a> {
    /// A reader over `node`, or `None` (with an error) when it is not a mapping.
    pub fn new(node: &'a Node, diags: &mut Diagnostics, mode: Mode) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(MapReader {
                node,
                entries,
                used: vec![false; entries.len()],
                asked: Vec::new(),
                mode,
            }),
            _ => {
                diags.error(
                    node.pos,
                    format!("expected a mapping, found {}", node.type_with_article()),
                );
                None
            }
        }
    }

    /// Position of the mapping itself.
    pub fn pos(&self) -> Pos {
        self.node.pos
    }

    fn index_of(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| match self.mode {
            Mode::Strict => k.name == key,
            Mode::Lenient => k.name.eq_ignore_ascii_case(key),
        })
    }

    /// The value under `key`; `null` counts as absent.
    pub fn node(&mut self, key: &str) -> Option<&'a Node> {
        if !self.asked.iter().any(|k| k == key) {
            self.asked.push(key.to_string());
        }
        let i = self.index_of(key)?;
        self.used[i] = true;
        let node = &self.entries[i].1;
        (node.value != Value::Null).then_some(node)
    }

    /// Position of the value under `key`, or of the mapping when the key is absent.
    pub fn pos_of(&self, key: &str) -> Pos {
        self.index_of(key)
            .map_or(self.node.pos, |i| self.entries[i].1.pos)
    }

    /// The value under `key`, or an error at the mapping when it is missing.
    pub fn required_node(&mut self, key: &str, diags: &mut Diagnostics) -> Option<&'a Node> {
        let n = self.node(key);
        if n.is_none() {
            diags.error(self.node.pos, format!("missing required field `{key}`"));
        }
        n
    }

    /// A string value.
    pub fn str(&mut self, key: &str, diags: &mut Diagnostics) -> Option<String> {
        let n = self.node(key)?;
        match &n.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                diags.error(
                    n.pos,
                    format!("`{key}` must be a string, found {}", n.type_with_article()),
                );
                None
            }
        }
    }

    /// A number (integer or float).
    pub fn number(&mut self, key: &str, diags: &mut Diagnostics) -> Option<f64> {
        let n = self.node(key)?;
        match &n.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) if s.trim().parse::<f64>().is_ok() => {
                diags.error(
                    n.pos,
                    format!("`{key}` must be a number, not the string {s:?}; remove the quotes"),
                );
                None
            }
            _ => {
                diags.error(
                    n.pos,
                    format!("`{key}` must be a number, found {}", n.type_with_article()),
                );
                None
            }
        }
    }

    /// A boolean.
    pub fn bool(&mut self, key: &str, diags: &mut Diagnostics) -> Option<bool> {
        let n = self.node(key)?;
        match &n.value {
            Value::Bool(b) => Some(*b),
            _ => {
                diags.error(
                    n.pos,
                    format!(
                        "`{key}` must be true or false, found {}",
                        n.type_with_article()
                    ),
                );
                None
            }
        }
    }

    /// A positive Prometheus duration written as a string (`5m`).
    pub fn duration(&mut self, key: &str, diags: &mut Diagnostics) -> Option<Duration> {
        let n = self.node(key)?;
        let Value::Str(s) = &n.value else {
            diags.error(
                n.pos,
                format!(
                    "`{key}` must be a duration such as 5m or 30d, found {}",
                    n.type_with_article()
                ),
            );
            return None;
        };
        match Duration::parse_positive(s) {
            Ok(d) => Some(d),
            Err(e) => {
                diags.error(n.pos, format!("`{key}`: {e}"));
                None
            }
        }
    }

    /// A mapping of strings to strings (labels, annotations, plugin options). Non-string
    /// values are errors, as they are when Sloth decodes into `map[string]string`.
    pub fn string_map(&mut self, key: &str, diags: &mut Diagnostics) -> Labels {
        let mut out = Labels::new();
        let Some(n) = self.node(key) else {
            return out;
        };
        let Value::Map(entries) = &n.value else {
            diags.error(
                n.pos,
                format!(
                    "`{key}` must be a mapping of strings, found {}",
                    n.type_with_article()
                ),
            );
            return out;
        };
        for (k, v) in entries {
            match &v.value {
                Value::Str(s) => {
                    out.insert(k.name.clone(), s.clone());
                }
                Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                    diags.error(
                        v.pos,
                        format!("`{key}.{}` must be a string; quote the value", k.name),
                    );
                }
                _ => diags.error(
                    v.pos,
                    format!(
                        "`{key}.{}` must be a string, found {}",
                        k.name,
                        v.type_with_article()
                    ),
                ),
            }
        }
        out
    }

    /// Position of each entry of the string map under `key` (key position, value position).
    pub fn map_positions(&self, key: &str) -> Vec<(String, Pos, Pos)> {
        let Some(i) = self.index_of(key) else {
            return Vec::new();
        };
        match &self.entries[i].1.value {
            Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.name.clone(), k.pos, v.pos))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A list value.
    pub fn seq(&mut self, key: &str, diags: &mut Diagnostics) -> Option<&'a [Node]> {
        let n = self.node(key)?;
        match &n.value {
            Value::Seq(items) => Some(items),
            _ => {
                diags.error(
                    n.pos,
                    format!("`{key}` must be a list, found {}", n.type_with_article()),
                );
                None
            }
        }
    }

    /// Report keys nobody asked for: errors in strict mode, warnings in lenient mode, with
    /// a hint when the key is a known field spelled the other format's way (`page_alert` in
    /// a Kubernetes spec, `pageAlert` in a `prometheus/v1` spec).
    pub fn finish(self, diags: &mut Diagnostics) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let hint = self.spelling_hint(&k.name);
            match self.mode {
                Mode::Strict => diags.error(k.pos, format!("unknown field `{}`{hint}", k.name)),
                Mode::Lenient => diags.warning(
                    k.pos,
                    format!("unknown field `{}` is ignored{hint}", k.name),
                ),
            }
        }
    }

    fn spelling_hint(&self, name: &str) -> String {
        [to_snake(name), to_camel(name)]
            .into_iter()
            .find(|alt| alt != name && self.asked.iter().any(|a| a == alt))
            .map(|alt| format!(" (this format spells it `{alt}`)"))
            .unwrap_or_default()
    }
}

/// `pageAlert` → `page_alert`.
fn to_snake(name: &str) -> String {
    let mut snake = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

/// `page_alert` → `pageAlert`.
fn to_camel(name: &str) -> String {
    let mut camel = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            camel.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            camel.push(c);
        }
    }
    camel
}
