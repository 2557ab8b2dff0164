//! Checks PromQL in dashboards against the exported-series contract: every vector
//! selector (found by walking promql-parser's AST, not by pattern matching) must name a
//! series burnwatch exports, match only labels that series has, and every grouping or
//! legend label must exist on some series of the query.

use std::collections::{BTreeMap, BTreeSet};

use burnwatch::dashboard::series::{ExtraLabels, Series};
use promql_parser::label::MatchOp;
use promql_parser::parser::{
    self, AggregateExpr, BinaryExpr, Expr, LabelModifier, VectorMatchCardinality, VectorSelector,
};
use promql_parser::util::{ExprVisitor, walk_expr};

/// What the AST walk collects.
#[derive(Default, Debug)]
pub struct Collected {
    /// (metric name if any, label names matched) per vector or matrix selector.
    pub selectors: Vec<(Option<String>, Vec<String>)>,
    /// Labels in `by`/`without`, `on`/`ignoring` and `group_left/right`.
    pub grouping: Vec<String>,
    /// Number literals (thresholds drawn as `vector(N)`).
    pub numbers: Vec<f64>,
}

impl ExprVisitor for Collected {
    type Error = std::convert::Infallible;
    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
        match expr {
            Expr::VectorSelector(vs) => self.selector(vs),
            Expr::MatrixSelector(ms) => self.selector(&ms.vs),
            Expr::Aggregate(AggregateExpr {
                modifier: Some(LabelModifier::Include(l) | LabelModifier::Exclude(l)),
                ..
            }) => self.grouping.extend(l.labels.iter().cloned()),
            Expr::Binary(BinaryExpr {
                modifier: Some(m), ..
            }) => {
                if let Some(LabelModifier::Include(l) | LabelModifier::Exclude(l)) = &m.matching {
                    self.grouping.extend(l.labels.iter().cloned());
                }
                if let VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) =
                    &m.card
                {
                    self.grouping.extend(l.labels.iter().cloned());
                }
            }
            Expr::NumberLiteral(n) => self.numbers.push(n.val),
            _ => {}
        }
        Ok(true)
    }
}

impl Collected {
    fn selector(&mut self, vs: &VectorSelector) {
        let mut name = vs.name.clone();
        let mut labels = Vec::new();
        let all = vs
            .matchers
            .matchers
            .iter()
            .chain(vs.matchers.or_matchers.iter().flatten());
        for m in all {
            if m.name == "__name__" {
                if matches!(m.op, MatchOp::Equal) {
                    name.get_or_insert_with(|| m.value.clone());
                } else {
                    // A regex on the name could match anything: report it as unnamed.
                    name = None;
                }
            } else {
                labels.push(m.name.clone());
            }
        }
        self.selectors.push((name, labels));
    }
}

/// Parse and walk `expr`.
pub fn collect(expr: &str) -> Result<Collected, String> {
    let ast = parser::parse(expr)?;
    let mut c = Collected::default();
    let Ok(_) = walk_expr(&mut c, &ast);
    Ok(c)
}

/// The contract a query is checked against.
pub struct Contract<'a> {
    /// Exported series by name.
    pub series: &'a BTreeMap<String, Series>,
    /// Union of the SLO labels of the specs (carried by series with `ExtraLabels::SloLabels`).
    pub slo_labels: &'a BTreeSet<String>,
}

impl Contract<'_> {
    fn allows(&self, s: &Series, label: &str) -> bool {
        s.labels.contains(&label)
            || match s.extra {
                ExtraLabels::None => false,
                ExtraLabels::SloLabels => self.slo_labels.contains(label),
                ExtraLabels::Any => true,
            }
    }

    /// Check one query (with its legend template, which may reference labels). Returns the
    /// series names used, or every problem found.
    pub fn check(&self, expr: &str, legend: &str) -> Result<BTreeSet<String>, Vec<String>> {
        let c = collect(expr).map_err(|e| vec![format!("does not parse: {e}: {expr}")])?;
        let mut problems = Vec::new();
        let mut used = BTreeSet::new();
        let mut known: Vec<&Series> = Vec::new();
        for (name, labels) in &c.selectors {
            let Some(name) = name else {
                problems.push(format!("selector without a fixed metric name in {expr}"));
                continue;
            };
            let Some(s) = self.series.get(name) else {
                problems.push(format!("{name} is not an exported series (in {expr})"));
                continue;
            };
            used.insert(name.clone());
            known.push(s);
            for l in labels {
                if !self.allows(s, l) {
                    problems.push(format!("{name} has no label {l:?} (in {expr})"));
                }
            }
        }
        let mut referenced: Vec<String> = c.grouping.clone();
        referenced.extend(legend_labels(legend));
        for l in referenced {
            if !known.iter().any(|s| self.allows(s, &l)) {
                problems.push(format!("label {l:?} is on no series of {expr}"));
            }
        }
        if problems.is_empty() {
            Ok(used)
        } else {
            Err(problems)
        }
    }
}

/// Labels referenced as `{{label}}` in a legend or annotation template.
pub fn legend_labels(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}
