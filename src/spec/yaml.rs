//! The one place that knows the YAML library: text in, a tree of positioned nodes out.
//!
//! Spec loaders walk [`Node`]s by hand instead of deriving serde types, because a
//! validator must report *every* problem with the line and column of the offending
//! value (serde stops at the first error and forgets positions of values it accepted).
//! Swapping the YAML crate means rewriting only this file.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::diag::Pos;

/// A YAML value with the position where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the value starts (1-based line and column).
    pub pos: Pos,
    /// The value.
    pub value: Value,
}

/// The shapes a YAML value can take.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number (also `.inf`, `.nan`).
    Float(f64),
    /// A string (quoted or plain).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order; keys are kept as text with their positions.
    Map(Vec<(Key, Node)>),
}

/// A mapping key.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key as text (`1` and `true` keys become `"1"` and `"true"`).
    pub name: String,
    /// Where the key starts.
    pub pos: Pos,
}

/// A YAML syntax error with its position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// Where the parser gave up.
    pub pos: Pos,
    /// The parser's description.
    pub message: String,
}

impl Node {
    /// A short name of the value's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
    /// The type name with its article (`a string`, `an integer`, `null`), for messages.
    pub fn type_with_article(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
    /// The scalar as text, as a YAML-to-JSON-to-Go decoder would accept it for a string field
    /// (numbers and booleans are not strings there; only `Str` counts).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Parse every document of `text`, with positions relative to the whole text, offset by
/// `line_offset` lines (for callers that split multi-document files themselves).
pub fn parse(text: &str, line_offset: usize) -> Result<Vec<Node>, SyntaxError> {
    check_depth(text, line_offset)?;
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let (line, col) = (e.marker().line().max(1), e.marker().col());
        let message = e.info().to_string();
        if message.contains("tab") {
            // The parser reports tab errors at the scalar or token it was reading; the
            // offending character is the next tab.
            if let Some((tab_line, tab_col)) = next_tab(text, line) {
                return SyntaxError {
                    pos: Pos::new(tab_line + line_offset, tab_col + 1),
                    message: format!("{message} (indent YAML with spaces, not tabs)"),
                };
            }
        }
        let (line, col) = clamp_to_text(text, line, col);
        SyntaxError {
            pos: Pos::new(line + line_offset, col + 1),
            message,
        }
    })?;
    Ok(docs.iter().map(|d| convert(d, line_offset)).collect())
}

/// The parser reports errors found at the end of the input one line past the last line
/// when the text does not end in a newline; keep positions inside the text (1-based line,
/// 0-based char column).
fn clamp_to_text(text: &str, line: usize, col: usize) -> (usize, usize) {
    let lines: Vec<&str> = text.split('\n').collect();
    match lines.get(line - 1) {
        Some(l) => (line, col.min(l.trim_end_matches('\r').chars().count())),
        None => {
            let last = lines.last().map_or(0, |l| l.chars().count());
            (lines.len(), last)
        }
    }
}

/// Deepest indentation (in columns, counting `- ` and `? ` indicators) a document may use.
///
/// The YAML parser and the tree conversion recurse once per block nesting level, so a
/// document nested thousands of levels deep overflows the stack and aborts the process
/// (no panic to catch). Block nesting depth is bounded by the content column, and flow
/// nesting by the parser's own limit of 255, so this bound keeps parsing well inside even
/// a 2 MiB thread stack. No real spec comes close.
pub const MAX_INDENT: usize = 256;

fn check_depth(text: &str, line_offset: usize) -> Result<(), SyntaxError> {
    for (i, line) in text.lines().enumerate() {
        let column = content_column(line);
        if column > MAX_INDENT {
            return Err(SyntaxError {
                pos: Pos::new(i + 1 + line_offset, 1),
                message: format!(
                    "nesting too deep: this line's content starts after column {MAX_INDENT}; burnwatch does not read YAML nested this deep"
                ),
            });
        }
    }
    Ok(())
}

/// Column where a line's content starts, skipping indentation and block indicators
/// (`- `, `? `, `: `) that open a nested collection on the same line.
fn content_column(line: &str) -> usize {
    let chars: Vec<char> = line.chars().take(MAX_INDENT + 2).collect();
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        let indicator = i < chars.len() && matches!(chars[i], '-' | '?' | ':');
        let blank_after = chars.get(i + 1).is_none_or(|c| *c == ' ' || *c == '\t');
        if indicator && blank_after && i < chars.len() {
            i += 1;
        } else {
            return i;
        }
    }
}

/// The first tab on 1-based `line` or the two lines after it: (1-based line, 0-based
/// char column).
fn next_tab(text: &str, line: usize) -> Option<(usize, usize)> {
    text.lines()
        .enumerate()
        .skip(line - 1)
        .take(3)
        .find_map(|(i, l)| l.chars().position(|c| c == '\t').map(|c| (i + 1, c)))
}

fn pos_of(node: &MarkedYaml<'_>, line_offset: usize) -> Pos {
    Pos::new(
        node.span.start.line() + line_offset,
        node.span.start.col() + 1,
    )
}

fn convert(node: &MarkedYaml<'_>, line_offset: usize) -> Node {
    let pos = pos_of(node, line_offset);
    let value = match &node.data {
        YamlData::Value(s) => scalar(s),
        YamlData::Representation(text, _, _) => Value::Str(text.to_string()),
        YamlData::Sequence(items) => {
            Value::Seq(items.iter().map(|n| convert(n, line_offset)).collect())
        }
        YamlData::Mapping(map) => Value::Map(
            map.iter()
                .map(|(k, v)| {
                    let name = match &k.data {
                        YamlData::Value(s) => scalar_text(s),
                        YamlData::Representation(text, _, _) => text.to_string(),
                        _ => String::from("<complex key>"),
                    };
                    (
                        Key {
                            name,
                            pos: pos_of(k, line_offset),
                        },
                        convert(v, line_offset),
                    )
                })
                .collect(),
        ),
        YamlData::Tagged(_, inner) => return convert(inner, line_offset),
        YamlData::Alias(_) | YamlData::BadValue => Value::Null,
    };
    Node { pos, value }
}

fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Int(*i),
        Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
        Scalar::String(s) => Value::Str(s.to_string()),
    }
}

fn scalar_text(s: &Scalar<'_>) -> String {
    match s {
        Scalar::Null => "null".into(),
        Scalar::Boolean(b) => b.to_string(),
        Scalar::Integer(i) => i.to_string(),
        Scalar::FloatingPoint(f) => f.into_inner().to_string(),
        Scalar::String(s) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_point_at_values() {
        let docs = parse("a: 1\nb:\n  c: \"x\"\n", 0).unwrap();
        let Value::Map(m) = &docs[0].value else {
            panic!("expected map")
        };
        assert_eq!(m[0].0.pos, Pos::new(1, 1));
        assert_eq!(m[0].1.pos, Pos::new(1, 4));
        let Value::Map(inner) = &m[1].1.value else {
            panic!("expected map")
        };
        assert_eq!(inner[0].1.pos, Pos::new(3, 6));
        assert_eq!(inner[0].1.value, Value::Str("x".into()));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // 5000 levels of block mappings overflow an 8 MiB stack inside the parser.
        let mut text = String::from("a:\n");
        for i in 1..5000 {
            text.push_str(&" ".repeat(i));
            text.push_str("a:\n");
        }
        let err = parse(&text, 0).unwrap_err();
        assert_eq!(err.pos, Pos::new(MAX_INDENT + 2, 1));
        let err = parse(&"- ".repeat(3000), 0).unwrap_err();
        assert_eq!(err.pos, Pos::new(1, 1));
        // The deepest accepted block nesting with the deepest flow nesting inside it
        // parses on a 2 MiB stack (the default for spawned and tokio worker threads).
        let mut text = String::new();
        for i in 0..MAX_INDENT / 2 - 1 {
            text.push_str(&"  ".repeat(i));
            text.push_str("- a:\n");
        }
        text.push_str(&"  ".repeat(MAX_INDENT / 2 - 1));
        text.push_str("- a: ");
        text.push_str(&"[".repeat(255));
        text.push_str(&"]".repeat(255));
        text.push('\n');
        let handle = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse(&text, 0).map(|d| d.len()))
            .unwrap();
        assert_eq!(handle.join().unwrap(), Ok(1));
    }

    #[test]
    fn errors_at_the_end_stay_inside_the_text() {
        // Without a trailing newline the parser reports line 3 of a 2-line text.
        let err = parse("a: 1\n0", 0).unwrap_err();
        assert_eq!(err.pos, Pos::new(2, 2), "{err:?}");
        let err = parse("a: 1\n0\n", 0).unwrap_err();
        assert!(err.pos.line <= 3, "{err:?}");
    }

    #[test]
    fn tab_errors_point_at_the_tab() {
        let err = parse("a:\n  b: c\n\td: e\n", 0).unwrap_err();
        assert_eq!(err.pos, Pos::new(3, 1), "{err:?}");
        assert!(err.message.ends_with("(indent YAML with spaces, not tabs)"));
        let err = parse("a:\n\t- b\n", 4).unwrap_err();
        assert_eq!(err.pos, Pos::new(6, 1), "{err:?}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: \"unterminated\nb: 2\n", 10).unwrap_err();
        assert!(err.pos.line > 10, "{err:?}");
    }
}
