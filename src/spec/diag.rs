//! Diagnostics: every problem found in a spec, with the file, line and column of the
//! offending value, so `burnwatch validate` can print `FILE:LINE:COL: message` lines that
//! editors and CI annotate directly.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based line and column in a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub col: usize,
}

impl Pos {
    /// A position; both numbers are 1-based.
    pub const fn new(line: usize, col: usize) -> Self {
        Pos { line, col }
    }
}

/// How bad a diagnostic is: errors make validation fail, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The spec is unusable as written.
    Error,
    /// Accepted (Sloth accepts it too), but probably not what the author meant.
    Warning,
}

/// One problem at one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// File the problem is in.
    pub file: PathBuf,
    /// Where in the file.
    pub pos: Pos,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {}{}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            level,
            self.message
        )
    }
}

/// Collects diagnostics for one file while it is read, so that all problems are reported,
/// not only the first.
#[derive(Debug, Default)]
pub struct Diagnostics {
    file: PathBuf,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection for `file`.
    pub fn new(file: &Path) -> Self {
        Diagnostics {
            file: file.to_path_buf(),
            items: Vec::new(),
        }
    }
    /// The file these diagnostics are about.
    pub fn file(&self) -> &Path {
        &self.file
    }
    /// Record an error at `pos`.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, Severity::Error, message.into());
    }
    /// Record a warning at `pos`.
    pub fn warning(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, Severity::Warning, message.into());
    }
    fn push(&mut self, pos: Pos, severity: Severity, message: String) {
        self.items.push(Diagnostic {
            file: self.file.clone(),
            pos,
            severity,
            message,
        });
    }
    /// Number of errors so far (warnings excluded).
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
    /// All diagnostics, sorted by position.
    pub fn into_vec(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| d.pos);
        self.items
    }
    /// Move all of `other`'s diagnostics into this collection.
    pub fn extend(&mut self, other: Vec<Diagnostic>) {
        self.items.extend(other);
    }
}
