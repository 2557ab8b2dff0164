//! Prometheus Operator output: one `monitoring.coreos.com/v1` `PrometheusRule` per spec
//! document, as Sloth writes for `PrometheusServiceLevel` specs.
//!
//! Sloth serialises the object through JSON (`k8s.io/apimachinery`'s YAML serializer), so
//! every mapping's keys come out sorted; metadata is the custom resource's, plus
//! `app.kubernetes.io/component: SLO` and `app.kubernetes.io/managed-by: sloth` (the
//! resource's own labels win). With `--k8s`, documents of the other formats are wrapped the
//! same way and named `slo-<file stem>` (`-<n>` for the n-th document of a file).

use std::collections::BTreeMap;

use crate::spec::SpecDocument;
use crate::spec::model::K8sMeta;

use super::yaml_out::Node;
use super::{Rule, RuleGroup};

/// One `PrometheusRule` object.
#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusRule {
    /// Name, namespace, labels and annotations (from the spec's custom resource).
    pub meta: K8sMeta,
    /// The rule groups of the document's SLOs.
    pub groups: Vec<RuleGroup>,
}

impl PrometheusRule {
    /// The object as a YAML tree, keys sorted as the JSON round trip leaves them.
    pub fn to_node(&self) -> Node {
        let mut labels: BTreeMap<String, String> = [
            ("app.kubernetes.io/component", "SLO"),
            ("app.kubernetes.io/managed-by", "sloth"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        labels.extend(self.meta.labels.clone());
        let mut meta = vec![
            ("labels".to_string(), Node::sorted_map(&labels)),
            ("name".to_string(), Node::str(&self.meta.name)),
        ];
        if !self.meta.annotations.is_empty() {
            meta.push((
                "annotations".to_string(),
                Node::sorted_map(&self.meta.annotations),
            ));
        }
        if let Some(ns) = &self.meta.namespace {
            meta.push(("namespace".to_string(), Node::str(ns)));
        }
        let groups = self
            .groups
            .iter()
            .map(|g| {
                Node::Map(vec![
                    ("name".into(), Node::str(&g.name)),
                    (
                        "rules".into(),
                        Node::Seq(g.rules.iter().map(rule_node).collect()),
                    ),
                ])
                .sort_keys()
            })
            .collect();
        Node::Map(vec![
            ("apiVersion".into(), Node::str("monitoring.coreos.com/v1")),
            ("kind".into(), Node::str("PrometheusRule")),
            ("metadata".into(), Node::Map(meta).sort_keys()),
            (
                "spec".into(),
                Node::Map(vec![("groups".into(), Node::Seq(groups))]),
            ),
        ])
        .sort_keys()
    }
}

fn rule_node(r: &Rule) -> Node {
    let mut m = Vec::new();
    if let Some(a) = &r.alert {
        m.push(("alert".to_string(), Node::str(a)));
    }
    if !r.annotations.is_empty() {
        m.push(("annotations".into(), Node::sorted_map(&r.annotations)));
    }
    m.push(("expr".into(), Node::str(&r.expr)));
    if let Some(f) = r.for_ {
        m.push(("for".into(), Node::str(f.to_string())));
    }
    if !r.labels.is_empty() {
        m.push(("labels".into(), Node::sorted_map(&r.labels)));
    }
    if let Some(rec) = &r.record {
        m.push(("record".into(), Node::str(rec)));
    }
    Node::Map(m).sort_keys()
}

/// Object names for wrapped documents (documents with their own metadata keep it).
pub fn object_names(docs: &[SpecDocument]) -> Vec<String> {
    let mut per_file: BTreeMap<&std::path::Path, usize> = BTreeMap::new();
    for d in docs {
        *per_file.entry(d.file.as_path()).or_default() += 1;
    }
    let mut seen: BTreeMap<&std::path::Path, usize> = BTreeMap::new();
    docs.iter()
        .map(|d| {
            let n = seen.entry(d.file.as_path()).or_default();
            *n += 1;
            if let Some(meta) = &d.k8s {
                return meta.name.clone();
            }
            let stem = d
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let base = format!("slo-{}", dns_name(&stem));
            if per_file.get(d.file.as_path()).copied().unwrap_or(0) > 1 {
                format!("{base}-{n}")
            } else {
                base
            }
        })
        .collect()
}

/// An RFC 1123 subdomain-safe version of `s` (lower case, `[a-z0-9.-]`, alphanumeric ends).
fn dns_name(s: &str) -> String {
    let mapped: String = s
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| c == '-' || c == '.');
    if trimmed.is_empty() {
        "rules".to_string()
    } else {
        trimmed.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_safe() {
        assert_eq!(dns_name("api"), "api");
        assert_eq!(dns_name("My_Specs v2"), "my-specs-v2");
        assert_eq!(dns_name("__"), "rules");
    }
}
