//! A small YAML emitter that lays documents out exactly as Go's `gopkg.in/yaml.v2` (v2.4.0,
//! a port of libyaml) does, so generated rule files can be byte-identical to Sloth's.
//!
//! It supports what rule files need: block mappings, block sequences (indentless inside
//! mappings) and string scalars. The rules that matter for byte equality, all mirrored from
//! yaml.v2's `encode.go` and libyaml's `emitterc.go`:
//! - strings containing a line break are literal blocks (`|`, `|-`, `|+`);
//! - strings that would read back as another type (`"2"`, `"99.9"`, `"true"`, `""`,
//!   `"1:30"`, dates) are double-quoted;
//! - other strings are plain unless libyaml's scalar analysis forbids it (leading `#`, `{`,
//!   `'`, `: ` inside, leading/trailing space ...), then single-quoted, else double-quoted;
//! - plain and quoted scalars fold at the first space past column 80;
//! - mapping keys are sorted with yaml.v2's "natural" order (digit runs compare as numbers,
//!   non-letters before letters) when the caller asks for a sorted map.
//!
//! Not supported: keys longer than 128 characters, which libyaml writes as complex `? key`
//! entries (they are written as plain keys here; label names that long do not occur).

mod style;

use std::cmp::Ordering;

use style::{Style, is_break, is_printable, select_style};

/// A YAML value: strings, sequences and mappings (in the order given).
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A string scalar; its style is chosen as yaml.v2 would.
    Str(String),
    /// A block sequence.
    Seq(Vec<Node>),
    /// A block mapping, keys in the order given.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A string scalar.
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    /// A mapping from string pairs, keys sorted as yaml.v2 sorts a Go `map[string]string`.
    pub fn sorted_map<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Node {
        let mut v: Vec<(String, Node)> = pairs
            .into_iter()
            .map(|(k, v)| (k.clone(), Node::str(v.clone())))
            .collect();
        v.sort_by(|a, b| key_cmp(&a.0, &b.0));
        Node::Map(v)
    }

    /// Sort this mapping's keys (not recursively) in yaml.v2 order, as happens to every
    /// map that goes through `interface{}` (Kubernetes objects serialised via JSON).
    pub fn sort_keys(self) -> Node {
        match self {
            Node::Map(mut v) => {
                v.sort_by(|a, b| key_cmp(&a.0, &b.0));
                Node::Map(v)
            }
            other => other,
        }
    }
}

/// yaml.v2's key order for string keys (`sorter.go`, `keyList.Less`).
pub fn key_cmp(a: &str, b: &str) -> Ordering {
    if key_less(a, b) {
        Ordering::Less
    } else if key_less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .saturating_mul(10)
                .saturating_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .saturating_mul(10)
                .saturating_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Serialise a document the way `yaml.Marshal` does (no leading `---`, trailing newline).
pub fn to_string(doc: &Node) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
    };
    match doc {
        Node::Str(s) => e.scalar(s, 0, false),
        Node::Seq(items) if items.is_empty() => e.out.push_str("[]"),
        Node::Map(entries) if entries.is_empty() => e.out.push_str("{}"),
        Node::Seq(items) => e.sequence(items, 0),
        Node::Map(entries) => e.mapping(entries, 0),
    }
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    e.out
}

const BEST_WIDTH: usize = 80;
const BEST_INDENT: usize = 2;

struct Emitter {
    out: String,
    column: usize,
    /// The last character written was whitespace (libyaml `whitespace`).
    whitespace: bool,
    /// Only indentation has been written on the current line (libyaml `indention`).
    indention: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.indention = true;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, s: &str, need_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in s.chars() {
            self.put(c);
        }
        self.whitespace = false;
        self.indention = self.indention && is_indention;
    }

    /// A block mapping whose keys sit at `indent`.
    fn mapping(&mut self, entries: &[(String, Node)], indent: usize) {
        for (key, value) in entries {
            self.write_indent(indent);
            self.scalar(key, indent + BEST_INDENT, true);
            self.write_indicator(":", false, false);
            self.value(value, indent);
        }
    }

    /// The value of a mapping entry whose key sits at `indent`.
    fn value(&mut self, value: &Node, indent: usize) {
        match value {
            Node::Str(s) => self.scalar(s, indent + BEST_INDENT, false),
            Node::Map(entries) if entries.is_empty() => self.write_indicator("{}", true, false),
            Node::Seq(items) if items.is_empty() => self.write_indicator("[]", true, false),
            Node::Map(entries) => self.mapping(entries, indent + BEST_INDENT),
            // Sequences inside mappings are "indentless": dashes at the key's column.
            Node::Seq(items) => self.sequence(items, indent),
        }
    }

    /// A block sequence whose dashes sit at `indent`.
    fn sequence(&mut self, items: &[Node], indent: usize) {
        for item in items {
            self.write_indent(indent);
            self.write_indicator("-", true, true);
            match item {
                Node::Str(s) => self.scalar(s, indent + BEST_INDENT, false),
                Node::Map(entries) if entries.is_empty() => self.write_indicator("{}", true, false),
                Node::Seq(inner) if inner.is_empty() => self.write_indicator("[]", true, false),
                Node::Map(entries) => self.mapping(entries, indent + BEST_INDENT),
                Node::Seq(inner) => self.sequence(inner, indent + BEST_INDENT),
            }
        }
    }

    /// A scalar; `indent` is where continuation lines and block content go.
    fn scalar(&mut self, s: &str, indent: usize, simple_key: bool) {
        match select_style(s, simple_key) {
            Style::Plain => self.plain(s, indent, !simple_key),
            Style::Single => self.single_quoted(s, indent, !simple_key),
            Style::Double => self.double_quoted(s, indent, !simple_key),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write_indicator("'", true, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                    && !next_is_space
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.write_indicator("'", false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write_indicator("\"", true, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let v = c as u32;
                        let (letter, width) = if v <= 0xff {
                            ('x', 2)
                        } else if v <= 0xffff {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(letter);
                        for d in format!("{v:0width$X}").chars() {
                            self.put(d);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.write_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.write_indicator("|", true, false);
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.write_indicator(&BEST_INDENT.to_string(), false, false);
        }
        let chomp = match chars.as_slice() {
            [] => Some('-'),
            [.., last] if !is_break(*last) => Some('-'),
            [_] => Some('+'),
            [.., prev, _] if is_break(*prev) => Some('+'),
            _ => None,
        };
        if let Some(c) = chomp {
            self.write_indicator(&c.to_string(), false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if is_break(c) {
                // A CR LF pair is one break; libyaml writes it as one newline.
                if c == '\r' && chars.get(i + 1) == Some(&'\n') {
                    i += 1;
                }
                if c == '\n' || c == '\r' || c == '\u{85}' {
                    self.put_break();
                } else {
                    self.out.push(c);
                    self.column = 0;
                }
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                    breaks = false;
                }
                self.put(c);
                self.indention = false;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Node)]) -> Node {
        Node::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn scalar_styles_follow_yaml_v2() {
        let cases = [
            ("2", "\"2\""),
            ("99.9", "\"99.9\""),
            ("", "\"\""),
            ("true", "\"true\""),
            ("yes", "\"yes\""),
            ("1:30", "\"1:30\""),
            ("0x1F", "\"0x1F\""),
            ("1e3", "\"1e3\""),
            ("2024-01-02", "\"2024-01-02\""),
            ("#alerts-myteam", "'#alerts-myteam'"),
            ("{{$labels.x}} y", "'{{$labels.x}} y'"),
            ("it's: here", "'it''s: here'"),
            ("tab\there", "\"tab\\there\""),
            ("examplesgen.sh", "examplesgen.sh"),
            ("5m", "5m"),
            ("myorg/myservice", "myorg/myservice"),
            ("prometheus/v1", "prometheus/v1"),
            ("a #b", "'a #b'"),
            ("a#b", "a#b"),
        ];
        for (input, want) in cases {
            let got = to_string(&map(&[("k", Node::str(input))]));
            assert_eq!(got, format!("k: {want}\n"), "{input:?}");
        }
    }

    #[test]
    fn literal_blocks_and_indentless_sequences() {
        let doc = map(&[(
            "groups",
            Node::Seq(vec![map(&[
                ("name", Node::str("g")),
                (
                    "rules",
                    Node::Seq(vec![map(&[
                        ("record", Node::str("r")),
                        ("expr", Node::str("(a)\n/\n(b)\n")),
                    ])]),
                ),
                ("raw", Node::str("(x\ny)")),
            ])]),
        )]);
        assert_eq!(
            to_string(&doc),
            "groups:\n- name: g\n  rules:\n  - record: r\n    expr: |\n      (a)\n      /\n      (b)\n  raw: |-\n    (x\n    y)\n"
        );
    }

    #[test]
    fn plain_scalars_fold_past_column_80() {
        // Sloth's golden: the budget-remaining expression folds after `sloth_service="svc01",`.
        let expr = r#"1 - slo:period_burn_rate:ratio{sloth_id="svc01-slo1", sloth_service="svc01", sloth_slo="slo1"}"#;
        let doc = Node::Seq(vec![map(&[("expr", Node::str(expr))])]);
        let doc = map(&[("rules", doc)]);
        let doc = map(&[("g", Node::Seq(vec![doc]))]);
        assert_eq!(
            to_string(&doc),
            "g:\n- rules:\n  - expr: 1 - slo:period_burn_rate:ratio{sloth_id=\"svc01-slo1\", sloth_service=\"svc01\",\n      sloth_slo=\"slo1\"}\n"
        );
    }

    #[test]
    fn single_quoted_scalars_fold_too() {
        let s = "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.";
        let doc = map(&[("summary", Node::str(s))]);
        assert_eq!(
            to_string(&Node::Seq(vec![Node::Seq(vec![doc])])),
            "- - summary: '{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn\n      rate is over expected.'\n"
        );
    }

    #[test]
    fn keys_sort_like_yaml_v2() {
        let mut keys = vec![
            "b10",
            "b9",
            "a_x",
            "aX",
            "sloth_window",
            "sloth_id",
            "Z",
            "_a",
        ];
        keys.sort_by(|a, b| key_cmp(a, b));
        assert_eq!(
            keys,
            [
                "_a",
                "Z",
                "a_x",
                "aX",
                "b9",
                "b10",
                "sloth_id",
                "sloth_window"
            ]
        );
    }
}
